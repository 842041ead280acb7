"""Do wd3's runs, each trained only to its own EMA timescales, measure the σ₁ width exponents of the shared steps?

wd3 trains every run the steps of its slowest (λ₂ const at the largest width: `steps_per_tau` EMA timescales
1/(η₂λ₂) there, up to 8 times as many, the width ratio, for the others), which makes it the catalogue's longest
figure. A run's first T steps do not depend on how long it trains (a fresh batch every step from the seed's stream, a
constant learning rate; tests/test_wd3_timescales.py checks it record for record), so one training answers the
question: wd3's plan is trained with each run's own steady window measured too, and every run is read twice
(`readout`), over the last 10% of its own timescales and of the shared steps (wd3's readout). Per rule and seed, the
difference of the two width exponents; its seed t-interval, on the schedule of looks, says whether the cheaper plan
measures the same thing (`SAME`, at `TOLERANCE`).

    python -m figures.wd3_timescales [--scale default] [--threads N] [--cache DIR] [--look 2]

The outcome and the choice it led to are in docs/decisions.md ("wd3's steps").
"""

from __future__ import annotations

import sys
from dataclasses import replace

from figures import wd_setup as ws
from figures.claims import LOOKS, Estimate, Tolerance, Within, fmt
from figures.pilot_cli import parse_pilot, pilot_parser
from figures.registry import LOOK_SEED_STRIDE
from figures.wd_analysis import _per_seed_exponents, scalars
from figures.wd_runs import FLAT_TOL, PRIMARY, wd3_plan
from synthetic.engine import RunResult, run_id

TRAINING_LOSS = "loss"
"""The one quantity the engine records at every step rather than at the measurement steps."""
TOLERANCE = Tolerance("WD3_TIMESCALES", FLAT_TOL / 2,
                      "half of wd3's exponent tolerance (figures.wd_runs.FLAT_TOL): a difference the cheaper plan may "
                      "make without moving a wd3 verdict by more than half its band")
SAME = Within(0.0, TOLERANCE)
"""The criterion, on each rule's paired difference of exponents (own steps minus shared): holds when the whole
interval lies within ±TOLERANCE (the cheaper plan measures the same thing), fails when wholly outside."""


def own_steps(config, scale: str) -> int:
    """The steps giving this run alone `steps_per_tau` EMA timescales (figures.wd_setup.steps_for at its own κ)."""
    eta2, lam2 = ws.hidden_eta_lam(config)
    return ws.steps_for(ws.setting(scale), eta2 * lam2)


def own_measure_at(config, scale: str) -> tuple[int, ...]:
    """The measurement steps a run trained to its own steps would have."""
    return ws.measure_steps(own_steps(config, scale), ws.setting(scale).n_measure)


def with_own_window(config, scale: str):
    """A planned run, measured also at the steps its own-timescales counterpart would measure."""
    return replace(config, measure_at=tuple(sorted(set(config.measure_at) | set(own_measure_at(config, scale)))))


def readout(result: RunResult, steps: int, measure_at: tuple[int, ...]) -> RunResult:
    """The run as if it had trained `steps` steps measured at `measure_at`: its training loss up to `steps` (recorded
    every step) and its measurements at `measure_at`."""
    keep = set(measure_at)
    diverged = result.diverged_at if result.diverged_at is not None and result.diverged_at <= steps else None
    config = replace(result.config, steps=steps, measure_at=measure_at)
    return replace(result, config=config, run_id=run_id(config), diverged_at=diverged,
                   records=[r for r in result.records
                            if r.step <= steps and (r.step in keep or r.quantity == TRAINING_LOSS)])


def exponents(plan, results, scale: str) -> dict[str, dict[str, dict[int, float]]]:
    """rule -> {"own", "shared"} -> seed -> σ₁'s width exponent (PRIMARY matrices), per seed."""
    out: dict[str, dict[str, dict[int, float]]] = {}
    for how in ("own", "shared"):
        rows = []
        for (rule, _, cfg), res in zip(plan, results):
            if how == "own":
                res = readout(res, own_steps(cfg, scale), own_measure_at(cfg, scale))
            else:
                res = readout(res, cfg.steps, cfg.measure_at)
            rows.append({"rule": rule, "width": cfg.model.width, "seed": cfg.seed, **scalars(res)})
        for rule in dict.fromkeys(r for r, _, _ in plan):
            out.setdefault(rule, {})[how] = _per_seed_exponents([r for r in rows if r["rule"] == rule])
    return out


def differences(exps: dict[str, dict[str, dict[int, float]]]) -> dict[str, Estimate]:
    """rule -> the paired (same seed) difference own − shared, with its seed t-interval."""
    return {rule: Estimate.of_seeds([d["own"][s] - d["shared"][s] for s in sorted(set(d["own"]) & set(d["shared"]))])
            for rule, d in exps.items()}


def cost(plan, scale: str) -> tuple[int, int]:
    """(steps the shared plan trains, steps the own-timescales plan would), summed over distinct runs."""
    distinct = {cfg.canonical_json(): cfg for _, _, cfg in plan}.values()
    return sum(c.steps for c in distinct), sum(own_steps(c, scale) for c in distinct)


def main(argv: list[str] | None = None) -> int:
    p = pilot_parser("python -m figures.wd3_timescales", __doc__)
    p.add_argument("--look", type=int, default=1, choices=LOOKS,
                   help="the look of the sequential schedule (figures.claims.LOOKS): at look k, k copies of the plan's "
                        "seeds (figures.registry.figure_runs)")
    a = parse_pilot(p, argv)
    from synthetic.grid import run_grid

    plan = [(rule, e, replace(cfg, seed=cfg.seed + i * LOOK_SEED_STRIDE))
            for i in range(a.look) for rule, e, cfg in wd3_plan(a.scale)]
    results = run_grid([with_own_window(cfg, a.scale) for _, _, cfg in plan], cache_dir=a.cache, progress=True)
    exps = exponents(plan, results, a.scale)
    shared_steps, own = cost(plan, a.scale)
    n_seeds = len({c.seed for _, _, c in plan})
    print(f"wd3 at scale {a.scale}, look {a.look} ({n_seeds} seeds): {plan[0][2].steps} shared steps; σ₁'s width "
          f"exponent ({PRIMARY}) read over the last 10% of each run's own {ws.setting(a.scale).steps_per_tau:g} "
          f"timescales / of the shared steps")
    print("| rule | own timescales | shared steps | own − shared (paired, per seed) | "
          f"same within ±{TOLERANCE.value:g} |")
    print("|---|---|---|---|---|")
    diffs = differences(exps)
    for rule, d in exps.items():
        own_e, shared_e = (Estimate.of_seeds(list(d[h].values())) for h in ("own", "shared"))
        print(f"| {rule} | {fmt(own_e)} | {fmt(shared_e)} | {fmt(diffs[rule], 4)} | {SAME.judge(diffs[rule]).value} |")
    print(f"steps over distinct runs: {shared_steps} shared, {own} own ({own / shared_steps:.2f} of the shared; "
          "steps, not time: runs of other steps train in buckets of their own)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
