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
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace

import numpy as np

from figures import wd_setup as ws
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
    runs = [ws.run_config(s, width=s.d0, seed=seed, steps=steps, transfer=True,
                          base=ws.base_hp(s, width=s.d0, eta_mult=em, lam_mult=lm))
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="default", choices=("smoke", "default", "paper"))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cache", default="results/cache")
    p.add_argument("--n-train", type=int, default=None, help="a finite training set (default: wd4's)")
    p.add_argument("--noise", type=float, default=None, help="the teacher's label noise (default: wd4's)")
    a = p.parse_args(argv)
    import torch

    from synthetic.grid import run_grid

    if a.threads:
        torch.set_num_threads(a.threads)
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
