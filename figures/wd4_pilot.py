"""wd4's pilot: where does the test loss depend on λ? A grid of (η, λ) multipliers at the proxy width d0 only, with
wd4's own steps, model and data, printed as a table of mean final test loss per point with its seed standard error.

Why: zero-shot λ transfer can only be tested where the loss has an optimum in λ that the seeds resolve. The pilot
reads nothing at the transfer widths, so choosing wd4's base (η_b, λ_b) from it cannot favour a rule: it is the
"tune at the proxy" step of μTransfer, declared (docs/decisions.md) and run by

    python -m figures.wd4_pilot [--scale default] [--threads N]

`lam_resolution` per η: (largest − smallest mean loss over the λ grid) / (largest standard error of a point's paired
difference from the η's best point, over seeds: the seeds are different tasks, so the comparison within a seed is
what a sweep's optimum reads), the number the choice reads: the base is the η whose λ curve has the largest
resolution, at the λ of its minimum when that minimum is inside the grid.

    python -m figures.wd4_pilot --timescales WIDTH

asks another question, of wd4's own plan: every run trains the steps of the slowest (its smallest η·λ multiplier),
16 times the timescales the largest multipliers need. Would training each run only to its own timescales read the
same optima? It trains wd4's runs at WIDTH and prints each sweep's optimum read both ways (docs/decisions.md).
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace

import numpy as np

from figures import wd_setup as ws
from figures.pilot_cli import parse_pilot, pilot_parser
from figures.wd_analysis import wd4_loss
from figures.wd_runs import WD4_RULES, mup_steps, rule_e

ETA_MULTS = tuple(2.0 ** k for k in (0, -2, -4))
LAM_SHIFTS = tuple(2.0 ** k for k in (-6, -4, -2, 0, 2, 4, 6, 8))
"""λ multiplier = shift / η multiplier: each η is paired with λ grids around the same ηλ, so every point has the
plan's number of EMA timescales or more (the steps stay wd4's)."""


def pilot_runs(scale: str, seeds: tuple[int, ...], n_train: int | None = None,
               noise: float | None = None) -> tuple[list, list[tuple[float, float]]]:
    """wd4's runs at d0 on the (η, λ) grid, with wd4's data unless `n_train` (a finite training set) or `noise`
    (the teacher's label noise) say otherwise."""
    s = ws.setting(scale)
    es = [rule_e(r) for r in WD4_RULES]
    per_tau = replace(s, steps_per_tau=s.transfer_steps_per_tau or s.steps_per_tau)
    steps = mup_steps(per_tau, es, s.transfer_widths, mults=min(min(s.eta_grid), min(s.lam_grid)))
    points = [(em, shift / em) for em in ETA_MULTS for shift in LAM_SHIFTS]
    runs = [ws.tiled(ws.run_config(s, width=s.d0, seed=seed, steps=steps, transfer=True,
                                   base=ws.base_hp(s, width=s.d0, eta_mult=em, lam_mult=lm)))
            for em, lm in points for seed in seeds]
    runs = [replace(r, data=replace(r.data, n_train=r.data.n_train if n_train is None else n_train,
                                    noise=r.data.noise if noise is None else noise)) for r in runs]
    return runs, points


def table(results, points: list[tuple[float, float]], n_seeds: int) -> list[dict]:
    """Per point: mean final test loss over seeds, its standard error, and `paired_se`: the standard error of the
    per-seed difference from the same η's best point (NaN for the best point itself)."""
    loss = {pt: np.array([wd4_loss(r) for r in results[i * n_seeds:(i + 1) * n_seeds]])
            for i, pt in enumerate(points)}
    rows = []
    for em in dict.fromkeys(e for e, _ in points):
        mine = [pt for pt in points if pt[0] == em]
        best = min(mine, key=lambda pt: np.nanmean(loss[pt]))
        for pt in mine:
            v = loss[pt]
            ok = v[np.isfinite(v)]
            d = (v - loss[best])[np.isfinite(v - loss[best])]
            rows.append({"eta_mult": em, "lam_mult": pt[1], "mean": float(ok.mean()) if ok.size else math.nan,
                         "se": float(ok.std(ddof=1) / math.sqrt(ok.size)) if ok.size > 1 else math.nan,
                         "paired_se": float(d.std(ddof=1) / math.sqrt(d.size)) if pt != best and d.size > 1
                         else math.nan, "diverged": int(v.size - ok.size)})
    return rows


def loss_at(records, step: float) -> tuple[int, float]:
    """(step, test loss) at the first measured step at or after `step` (the last measured step if none is)."""
    steps, vals = ws.series(records, "test_loss", ("model",))
    k = min(int(np.searchsorted(steps, step)), len(steps) - 1)
    return int(steps[k]), float(vals[k])


def timescale_rows(plan, results, per_tau: float) -> list[dict]:
    """Per planned wd4 run: its sweep, multiplier, the step where `per_tau` of its own EMA timescales 1/(η2 λ2) end,
    the test loss measured there, and its final test loss (wd4_loss, what wd4 reads at the plan's shared steps)."""
    rows = []
    for (labels, cfg), res in zip(plan, results):
        eta2, lam2 = ws.hidden_eta_lam(cfg)
        at, early = loss_at(res.records, per_tau / (eta2 * lam2))
        rows.append({"rule": labels["rule"], "sweep": labels["sweep"], "seed": cfg.seed, "config": cfg,
                     "mult": labels["eta_mult" if labels["sweep"] == "eta" else "lam_mult"], "own_step": at,
                     "own_loss": early, "final_loss": wd4_loss(res)})
    return rows


def timescale_argmins(rows: list[dict]) -> list[dict]:
    """Per distinct sweep and seed (rules whose runs coincide, as at d0, counted once): the multiplier of least
    test loss read at each run's own timescales and at the shared steps."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["rule"], r["sweep"], r["seed"]), []).append(r)
    out, seen = [], set()
    for (rule, sweep, seed), members in groups.items():
        ident = (sweep, seed, tuple(sorted(m["config"].canonical_json() for m in members)))
        if ident in seen:
            continue
        seen.add(ident)
        pick = lambda key: members[int(np.nanargmin([m[key] for m in members]))]["mult"]  # noqa: E731
        out.append({"rule": rule, "sweep": sweep, "seed": seed, "own": pick("own_loss"), "shared": pick("final_loss"),
                    "members": members})
    return out


def timescale_check(scale: str, width: int, cache: str) -> int:
    """Would training each wd4 run only to its own timescales (far fewer steps for the larger multipliers) read the
    same optima as the plan's shared steps? Trains (or reads) wd4's planned runs at `width` and prints both readouts."""
    from figures.wd_runs import wd4_plan
    from synthetic.grid import run_grid

    s = ws.setting(scale)
    per_tau = s.transfer_steps_per_tau or s.steps_per_tau
    plan = [(labels, ws.tiled(cfg)) for labels, cfg in wd4_plan(scale) if labels["width"] == width]
    if not plan:
        print(f"error: wd4 plans no run at width {width} (its widths: {list(s.transfer_widths)})", file=sys.stderr)
        return 2
    results = run_grid([cfg for _, cfg in plan], cache_dir=cache, progress=True)
    picks = timescale_argmins(timescale_rows(plan, results, per_tau))
    print(f"wd4 at width {width}, {plan[0][1].steps} shared steps; test loss read at each run's own {per_tau:g} "
          f"timescales (the first measured step from there) / at the shared steps (mean of the last 10%):")
    for g in picks:
        points = " ".join(f"{m['mult']:g}: {m['own_loss']:.4f} (step {m['own_step']}) / {m['final_loss']:.4f}"
                          for m in g["members"])
        print(f"- {g['rule']} {g['sweep']} seed {g['seed']}: best {g['own']:g} / {g['shared']:g}; {points}")
    same = sum(g["own"] == g["shared"] for g in picks)
    print(f"the two readouts pick the same multiplier in {same} of {len(picks)} distinct sweeps")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = pilot_parser("python -m figures.wd4_pilot", __doc__)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--n-train", type=int, default=None, help="a finite training set (default: wd4's)")
    p.add_argument("--noise", type=float, default=None, help="the teacher's label noise (default: wd4's)")
    p.add_argument("--timescales", type=int, metavar="WIDTH",
                   help="instead: wd4's planned runs at WIDTH, their optima read at each run's own timescales and at "
                        "the shared steps (timescale_check)")
    a = parse_pilot(p, argv)
    from synthetic.grid import run_grid

    if a.timescales is not None:
        return timescale_check(a.scale, a.timescales, a.cache)
    seeds = tuple(range(a.seeds))
    runs, points = pilot_runs(a.scale, seeds, a.n_train, a.noise)
    results = run_grid(runs, cache_dir=a.cache, progress=True)
    rows = table(results, points, len(seeds))
    print(f"wd4 pilot at d0 = {ws.setting(a.scale).d0}, {runs[0].steps} steps, {len(seeds)} seeds, "
          f"{'a fresh batch every step' if a.n_train is None else f'{a.n_train} training points'}, "
          f"label noise {runs[0].data.noise:g} "
          f"(η_b = {ws.setting(a.scale).eta:g}, λ_b = {ws.setting(a.scale).lam:g})")
    print("| η mult | λ mult | ηλ mult | test loss (mean ± se) | se of the paired difference from the η's best | diverged |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['eta_mult']:g} | {r['lam_mult']:g} | {r['eta_mult'] * r['lam_mult']:g} | "
              f"{r['mean']:.4f} ± {r['se']:.4f} | {r['paired_se']:.4f} | {r['diverged']} |")
    for em in ETA_MULTS:
        mine = [r for r in rows if r["eta_mult"] == em and math.isfinite(r["mean"])]
        if len(mine) >= 2:
            spread = max(r["mean"] for r in mine) - min(r["mean"] for r in mine)
            noise = max(r["paired_se"] for r in mine if math.isfinite(r["paired_se"]))
            best = min(mine, key=lambda r: r["mean"])
            edge = "inside" if min(x["lam_mult"] for x in mine) < best["lam_mult"] < max(x["lam_mult"] for x in mine) \
                else "on the grid's edge"
            print(f"η mult {em:g}: lam_resolution {spread / noise:.1f} (range {spread:.4f}, largest paired se "
                  f"{noise:.4f}); best λ mult {best['lam_mult']:g} ({edge}), loss {best['mean']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
