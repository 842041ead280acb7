"""Fan et al. figures wd1–wd4: the runs (what each figure trains) and the rules they test. Every run is a `RunConfig`
built in `figures.wd_setup` (numbers from theory). Labels of a run are read from its config by the analysis
(`figures.wd_analysis`), never from its position."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Sequence

from figures import wd_setup as ws

P_PAPER = 0.5
ALPHA_PAPER = 0.75
TYPES = tuple(ws.HIDDEN_TYPES)
PRIMARY = "W_up_inner"
"""The matrices the headline numbers use: the FFN up-projections W_up of blocks 2..L. They read a normalized,
full-rank residual stream (block 1 reads norm(W0 x), rank ≤ d_in) and are free along the ReLU rescaling symmetry
(W_up, W_down) -> (c W_up, W_down / c). There is no final norm before the readout (`wd_setup`), so W_down (which writes
into the residual stream the readout reads) and the input map are not scale-invariant; W_down, block 1 and all-block
averages are always reported beside W_up."""
PRIMARY_LABEL = "W_up, blocks 2..L"

WD1_POINTS: tuple[tuple[str, float, float], ...] = (
    ("base", 1.0, 1.0), ("η×4, λ×4", 4.0, 4.0), ("η×2, λ×2", 2.0, 2.0), ("η×0.5, λ×0.5", 0.5, 0.5),
    ("λ×2", 1.0, 2.0), ("λ×0.5", 1.0, 0.5), ("λ×4", 1.0, 4.0), ("λ×0.25", 1.0, 0.25),
    ("η×2", 2.0, 1.0), ("η×0.5", 0.5, 1.0), ("η×2, λ×0.5", 2.0, 0.5), ("η×0.5, λ×2", 0.5, 2.0),
)
"""Fan's Fig. 1 six runs, λ×4 and λ×1/4 (digest §10.3 E1) to widen the η/λ range of the slope fit, and η×2, η×0.5,
(η×2, λ×0.5), (η×0.5, λ×2), which complete the 3×3 factorial {0.5, 1, 2}² of η and λ multipliers: η and λ vary
independently, so the joint fit of σ1 ∝ η^a λ^−b separates a from b. The slowest point (ηλ ×1/4) is unchanged, so are
the steps. Analysis reads a run's point from its config (`wd1_point`), never from its position."""
FAN_SIX = ("base", "η×4, λ×4", "η×2, λ×2", "η×0.5, λ×0.5", "λ×2", "λ×0.5")
"""Labels of Fan's Fig. 1 six runs (the curves panel (a)–(c) draw and the spectrum-shape spread uses)."""

WD3_RULES: tuple[str, ...] = ("mup_fixed", "e_quarter", "fan_paper", "e_three_quarters", "constant_eta_lambda")
"""wd3's rules λ₂ ∝ d^e, fixed before any data: e = 0, ¼, ½, ¾, 1 (μP fixed λ, Fan's √d and constant ηλ from
theory.wd_rules, and the two grid points between). No rule is built from an estimate (α̂, â, b̂), so every machine
trains the same runs; the fitted laws' predictions for each rule, and the e they predict keeps σ₁ flat, are read off
afterwards (figures.wd_verdicts)."""
GRID_E = {"e_quarter": 0.25, "e_three_quarters": 0.75}
"""The rules of WD3_RULES that theory does not name: their exponents."""
WD3_LABELS = {"mup_fixed": "λ₂ const (μP fixed λ)", "e_quarter": "λ₂ ∝ d^¼", "fan_paper": "λ₂ ∝ √d (Fan, α=0.75)",
              "e_three_quarters": "λ₂ ∝ d^¾", "constant_eta_lambda": "λ₂ ∝ d (constant ηλ)"}
WD3_COLORS = {"mup_fixed": "#d62728", "e_quarter": "#8c564b", "fan_paper": "#2ca02c", "e_three_quarters": "#1f77b4",
              "constant_eta_lambda": "#9467bd"}
FLAT_TOL = 0.1
WD4_RULES: tuple[str, ...] = ("fan_paper", "mup_fixed")
"""wd4's rules, fixed before any data: Fan's λ ∝ √d (with μP's η ∝ 1/d: λ₂ ∝ d^0.5) and fixed λ."""


# ---------------------------------------------------------------- runs


def wd1_runs(scale: str) -> list:
    """Fan's (η, λ) points at width `wd1_width` (every role's η and the decayed hidden role's λ scaled, as a global
    sweep; the vector-like roles keep λ1 = 0), all seeds; steps give the slowest point (smallest ηλ) `steps_per_tau`
    timescales."""
    s = ws.setting(scale)
    slowest = min(em * lm for _, em, lm in WD1_POINTS) * s.eta * s.lam
    steps = ws.steps_for(s, slowest)
    at = replace(s, d0=s.wd1_width)
    return [ws.run_config(s, width=s.wd1_width, seed=seed, steps=steps,
                          base=ws.base_hp(at, width=s.wd1_width, eta_mult=em, lam_mult=lm))
            for _, em, lm in WD1_POINTS for seed in s.seeds]


def wd1_point(config, scale: str) -> tuple[str, float, float]:
    """(label, η multiplier, λ multiplier) of a wd1 run, read from its config (`base.eta`, `base.lam` against the
    scale's η_b, λ_b; a fresh-seed rerun only moves the seed); raises ValueError for a run that is no wd1 point."""
    s = ws.setting(scale)
    em, lm = config.base.eta / s.eta, config.base.lam / s.lam
    for label, e, l in WD1_POINTS:
        if math.isclose(em, e, rel_tol=1e-9) and math.isclose(lm, l, rel_tol=1e-9):
            return label, e, l
    raise ValueError(f"run with η_base {config.base.eta:g}, λ_base {config.base.lam:g} is no wd1 point at scale {scale}")


def wd2_runs(scale: str) -> list:
    """σ1 against width at one (η, λ) for every layer: the `sp` parameterization (every HP at its base value)."""
    s = ws.setting(scale)
    steps = ws.steps_for(s, s.eta * s.lam)
    return [ws.run_config(s, width=w, seed=seed, steps=steps, parameterization="sp",
                          base=ws.base_hp(s, width=s.d0))
            for w in s.widths for seed in s.seeds]


def rule_e(rule: str) -> float:
    """λ2's width exponent e for a wd3/wd4 rule: theory.wd_rules' (Fan's rule: e = a + α/p with the paper's α = 0.75,
    p = 1/2), or the grid point of GRID_E."""
    if rule in GRID_E:
        return GRID_E[rule]
    if rule == "fan_paper":
        return ws.rule_exponent("fan", alpha=ALPHA_PAPER, p=P_PAPER)
    return ws.rule_exponent(rule)


def mup_steps(s: ws.FanSetting, es: Sequence[float], widths: Sequence[int], mults: float = 1.0) -> int:
    """Steps for the slowest run of a μP grid: smallest κ = η2 λ2 ∝ (d/d0)^(a + e) times the smallest multiplier."""
    a_b, _ = ws.bridge_hidden_exponents()
    kappa = min(s.eta * s.lam * mults * (w / s.d0) ** (a_b + e) for e in es for w in widths)
    return ws.steps_for(s, kappa)


def wd3_plan(scale: str) -> list[tuple[str, float, object]]:
    """(rule, e, config) of every wd3 run: each rule's λ2 ∝ d^e at every width and seed (at d0 the rules share one
    config). Steps give the slowest run of the whole grid `steps_per_tau` timescales."""
    s = ws.setting(scale)
    es = {r: rule_e(r) for r in WD3_RULES}
    steps = mup_steps(s, list(es.values()), s.widths)
    return [(r, es[r], ws.run_config(s, width=w, seed=seed, steps=steps, base=ws.base_hp(s, width=w, e=es[r])))
            for r in es for w in s.widths for seed in s.seeds]


def wd3_runs(scale: str) -> list:
    return [c for _, _, c in wd3_plan(scale)]


def _seedless(config) -> str:
    """A config's identity apart from its seed (what a fresh-seed rerun keeps)."""
    return replace(config, seed=0).canonical_json()


def wd4_plan(scale: str) -> list[tuple[dict, object]]:
    """(labels, config) of every planned wd4 run: per rule and transfer width, an η_base sweep at λ multiplier 1 and
    a λ_base sweep at η multiplier 1 (labels: rule, width, sweep, eta_mult, lam_mult). A sweep whose optimum sits on
    its grid's edge is extended beyond the plan (`extend_wd4`); its runs keep the plan's steps."""
    s = ws.setting(scale)
    es = {r: rule_e(r) for r in WD4_RULES}
    per_tau = replace(s, steps_per_tau=s.transfer_steps_per_tau or s.steps_per_tau)
    steps = mup_steps(per_tau, list(es.values()), s.transfer_widths, mults=min(min(s.eta_grid), min(s.lam_grid)))
    plan = []
    for r in es:
        for w in s.transfer_widths:
            points = [("eta", m, 1.0) for m in s.eta_grid] + [("lam", 1.0, m) for m in s.lam_grid if m != 1.0]
            for sweep, em, lm in points:
                for seed in s.wd4_seeds:
                    plan.append(({"rule": r, "width": w, "sweep": sweep, "eta_mult": em, "lam_mult": lm},
                                 ws.run_config(s, width=w, seed=seed, steps=steps, transfer=True,
                                               base=ws.base_hp(s, width=w, e=es[r], eta_mult=em, lam_mult=lm))))
    return plan


def wd4_runs(scale: str) -> list:
    """Per transfer width and rule: an η_base sweep at λ multiplier 1 and a λ_base sweep at η multiplier 1."""
    return [c for _, c in wd4_plan(scale)]
