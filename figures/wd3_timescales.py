"""Do wd3's runs, trained to fewer steps, measure the σ₁ width exponents of the shared steps?

wd3 trains every run the steps of its slowest (λ₂ const at the largest width: `steps_per_tau` EMA timescales
1/(η₂λ₂) there, up to 8 times as many, the width ratio, for the others), which makes it the catalogue's longest
figure. Two cheaper plans (`PLANS`): `own`, each run only its own `steps_per_tau` timescales; `rule`, each rule the
steps of its own slowest run (so a rule's runs still share steps and buckets, and every run keeps at least
`steps_per_tau` timescales). A run's first T steps do not depend on how long it trains (a fresh batch every step from
the seed's stream, a constant learning rate; tests/test_wd3_timescales.py checks it record for record), so one
training answers the question: wd3's plan is trained with the cheaper plan's steady window measured too, and every run
is read twice (`readout`), over the last 10% of the cheaper plan's steps and of the shared steps (wd3's readout). Per
rule and seed, the difference of the two width exponents; its seed t-interval, on the schedule of looks, says whether
the cheaper plan measures the same thing (`SAME`, at `TOLERANCE`). Under `rule`, a rule whose slowest run is the
grid's slowest keeps the shared steps: its difference is zero by construction, and its runs are not trained.

    python -m figures.wd3_timescales [--plan own|rule] [--scale default] [--threads N] [--cache DIR] [--look 2]

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


PLANS = ("own", "rule")
"""The cheaper plans: each run its own timescales, or each rule the steps of its slowest run."""


def shared_plan(scale: str) -> list[tuple[str, float, object]]:
    """wd3's plan with every run at the steps of the grid's slowest run (λ₂ const at the largest width) and the tiled
    update (`wd_setup.tiled`): the plan as this study measured it, the reference both cheaper plans are read against."""
    plan = wd3_plan(scale)
    steps = max(c.steps for _, _, c in plan)
    at = ws.measure_steps(steps, ws.setting(scale).n_measure)
    return [(r, e, ws.tiled(replace(c, steps=steps, measure_at=at))) for r, e, c in plan]


def own_steps(config, scale: str) -> int:
    """The steps giving this run alone `steps_per_tau` EMA timescales (figures.wd_setup.steps_for at its own κ)."""
    eta2, lam2 = ws.hidden_eta_lam(config)
    return ws.steps_for(ws.setting(scale), eta2 * lam2)


def rule_steps(plan, scale: str) -> dict[str, int]:
    """rule -> the steps of its slowest run: `steps_per_tau` timescales for it, at least as many for the others."""
    out: dict[str, int] = {}
    for rule, _, cfg in plan:
        out[rule] = max(out.get(rule, 0), own_steps(cfg, scale))
    return out


def cheaper_steps(kind: str, rule: str, config, scale: str, by_rule: dict[str, int]) -> int:
    """The steps a run trains under the cheaper plan `kind` (`PLANS`); `by_rule` from `rule_steps`."""
    return own_steps(config, scale) if kind == "own" else by_rule[rule]


def measure_at_for(steps: int, scale: str) -> tuple[int, ...]:
    """The measurement steps of a run trained to `steps` (figures.wd_setup.measure_steps)."""
    return ws.measure_steps(steps, ws.setting(scale).n_measure)


def own_measure_at(config, scale: str) -> tuple[int, ...]:
    """The measurement steps a run trained to its own steps would have."""
    return measure_at_for(own_steps(config, scale), scale)


def with_window(config, steps: int, scale: str):
    """A planned run, measured also at the steps its counterpart trained to `steps` would measure."""
    return replace(config, measure_at=tuple(sorted(set(config.measure_at) | set(measure_at_for(steps, scale)))))


def with_own_window(config, scale: str):
    """A planned run, measured also at the steps its own-timescales counterpart would measure."""
    return with_window(config, own_steps(config, scale), scale)


def readout(result: RunResult, steps: int, measure_at: tuple[int, ...]) -> RunResult:
    """The run as if it had trained `steps` steps measured at `measure_at`: its training loss up to `steps` (recorded
    every step) and its measurements at `measure_at`."""
    keep = set(measure_at)
    diverged = result.diverged_at if result.diverged_at is not None and result.diverged_at <= steps else None
    config = replace(result.config, steps=steps, measure_at=measure_at)
    return replace(result, config=config, run_id=run_id(config), diverged_at=diverged,
                   records=[r for r in result.records
                            if r.step <= steps and (r.step in keep or r.quantity == TRAINING_LOSS)])


def exponents(plan, results, scale: str, kind: str = "own",
              by_rule: dict[str, int] | None = None) -> dict[str, dict[str, dict[int, float]]]:
    """rule -> {"own", "shared"} -> seed -> σ₁'s width exponent (PRIMARY matrices), per seed; "own" is the cheaper
    plan `kind`'s readout (`by_rule`: `rule_steps` of the whole plan, needed for `kind` "rule")."""
    by_rule = by_rule if by_rule is not None else rule_steps(plan, scale)
    out: dict[str, dict[str, dict[int, float]]] = {}
    for how in ("own", "shared"):
        rows = []
        for (rule, _, cfg), res in zip(plan, results):
            if how == "own":
                steps = cheaper_steps(kind, rule, cfg, scale, by_rule)
                res = readout(res, steps, measure_at_for(steps, scale))
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


def cost(plan, scale: str, kind: str = "own", by_rule: dict[str, int] | None = None) -> tuple[int, int]:
    """(steps the shared plan trains, steps the cheaper plan `kind` would), each summed over its distinct runs (at d0
    the rules share a config under the shared steps, not under `rule`, where their steps differ); `by_rule` as in
    `exponents`."""
    by_rule = by_rule if by_rule is not None else rule_steps(plan, scale)
    shared = {cfg.canonical_json(): cfg.steps for _, _, cfg in plan}
    cheaper = {}
    for rule, _, cfg in plan:
        c = replace(cfg, steps=cheaper_steps(kind, rule, cfg, scale, by_rule))
        cheaper[c.canonical_json()] = c.steps
    return sum(shared.values()), sum(cheaper.values())


def main(argv: list[str] | None = None) -> int:
    p = pilot_parser("python -m figures.wd3_timescales", __doc__)
    p.add_argument("--look", type=int, default=1, choices=LOOKS,
                   help="the look of the sequential schedule (figures.claims.LOOKS): at look k, k copies of the plan's "
                        "seeds (figures.registry.figure_runs)")
    p.add_argument("--plan", default="own", choices=PLANS,
                   help="the cheaper plan: each run its own timescales (own), or each rule the steps of its slowest "
                        "run (rule)")
    a = parse_pilot(p, argv)
    from synthetic.grid import run_grid

    full = [(rule, e, replace(cfg, seed=cfg.seed + i * LOOK_SEED_STRIDE))
            for i in range(a.look) for rule, e, cfg in shared_plan(a.scale)]
    by_rule = rule_steps(full, a.scale)
    plan = full if a.plan == "own" else [(r, e, c) for r, e, c in full if by_rule[r] < c.steps]
    windows = [with_window(cfg, cheaper_steps(a.plan, r, cfg, a.scale, by_rule), a.scale) for r, _, cfg in plan]
    results = run_grid(windows, cache_dir=a.cache, progress=True)
    exps = exponents(plan, results, a.scale, a.plan, by_rule)
    shared_steps, cheaper = cost(full, a.scale, a.plan, by_rule)
    n_seeds = len({c.seed for _, _, c in full})
    tau = f"{ws.setting(a.scale).steps_per_tau:g}"
    what = (f"each run's own {tau} timescales" if a.plan == "own"
            else f"each rule's steps ({tau} timescales for its slowest run: "
                 + ", ".join(f"{r} {s}" for r, s in by_rule.items()) + ")")
    print(f"wd3 at scale {a.scale}, look {a.look} ({n_seeds} seeds): {full[0][2].steps} shared steps; σ₁'s width "
          f"exponent ({PRIMARY}) read over the last 10% of {what} / of the shared steps")
    print(f"| rule | {a.plan} steps | shared steps | {a.plan} − shared (paired, per seed) | "
          f"same within ±{TOLERANCE.value:g} |")
    print("|---|---|---|---|---|")
    diffs = differences(exps)
    for rule in by_rule:
        if rule not in exps:
            print(f"| {rule} | the shared steps | the shared steps | 0 (the same runs; not trained) | holds |")
            continue
        own_e, shared_e = (Estimate.of_seeds(list(exps[rule][h].values())) for h in ("own", "shared"))
        print(f"| {rule} | {fmt(own_e)} | {fmt(shared_e)} | {fmt(diffs[rule], 4)} | {SAME.judge(diffs[rule]).value} |")
    print(f"steps over distinct runs: {shared_steps} shared, {cheaper} {a.plan} ({cheaper / shared_steps:.2f} of the "
          "shared; steps, not time: runs of other steps train in buckets of their own)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
