"""Fan et al. (AdamW weight-decay steady state) figures wd1–wd4: runs, analysis (the numbers), and plots.

- wd1: sublayer gain over training and final singular spectra for Fan's six (η, λ) points (plus λ×4, λ×1/4 and a
  3×3 factorial η × λ grid, so η and λ vary independently) at one width; slope of log σ1 against log(η/λ) (expected
  0.5), the joint law σ1 ∝ η^a λ^−b fitted by per-seed least squares of log σ1 on (log η, log λ) (is a = b rejected?),
  normalized spectra.
- wd2: σ1 against width at one fixed (η, λ) for every layer (`sp` = every HP at its base value): α with a per-seed
  t-interval.
- wd3: μP (η2 ∝ 1/d) with λ2 ∝ d^e for the `theory.wd_rules` rules (μP fixed λ, Fan's √d, constant ηλ), the rule
  built from the α̂ measured in wd2 (½-law: e = 2α̂ − 1) and the joint law's σ1-invariant rule e* = (â·a + α̂)/b̂
  (â, b̂ from wd1); σ1's width exponent, out of sample, against both predictions: the ½-law ½(a − e) + α̂ and the
  joint law â·a − b̂·e + α̂ (per-seed t-intervals).
- wd4: zero-shot transfer of η_base and λ_base from the proxy width d0: final test loss against each multiplier per
  width, for the joint law's flat rule, Fan's λ ∝ √d and fixed λ; sub-grid optima, shifts and regrets with
  seed-bootstrap intervals (figures.transfer_metric); a sweep with an edge optimum is extended (sweep_extension).

Headline matrices: `PRIMARY` (W_up of blocks 2..L); W_down, block 1, the input map and weight RMS are reported beside
them. Every run is a `RunConfig` built in `figures.wd_setup` (numbers from theory; the vector-like choice is
`wd_setup.VECTOR_LIKE`). `analyze_*` return the headline numbers (used by the CI regression checks), `plot_*` draw them,
`FIGURES` is the registry's spec dict (`python paper_repro.py --figure wd1` etc. draws them). wd3/wd4 read α̂ from
wd2's runs and â, b̂ from wd1's runs in the cache (trained first if missing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from figures import wd_setup as ws
from figures.registry import FigureContext, FigureOutput, FigureSpec
from figures.sweep_extension import next_point
from figures.sweep_panels import summarise
from figures.transfer_metric import Sweep, transfer
from synthetic.fit import FitError, MultiFit, loglog_fit, loglog_fit_multi, seed_t_interval

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

WD3_RULES: tuple[str, ...] = ("mup_fixed", "fan_paper", "constant_eta_lambda", "fan_measured", "joint_invariant")
"""The last one needs the joint law (â, b̂ from wd1): `wd3_runs(scale, α̂)` without it builds the first four."""
WD3_LABELS = {"mup_fixed": "λ₂ const (μP fixed λ)", "fan_paper": "λ₂ ∝ √d (Fan, α=0.75)",
              "constant_eta_lambda": "λ₂ ∝ d (constant ηλ)", "fan_measured": "λ₂ ∝ d^(2α̂−1) (measured α̂)",
              "joint_invariant": "λ₂ ∝ d^e* (joint law, e* = (â·a+α̂)/b̂)"}
WD3_COLORS = {"mup_fixed": "#d62728", "fan_paper": "#2ca02c", "constant_eta_lambda": "#9467bd",
              "fan_measured": "#1f77b4", "joint_invariant": "#ff7f0e"}
FLAT_UNDER_JOINT = "joint_invariant"
"""The rule the joint law predicts to keep σ1 flat (its e* solves â·a − b̂·e + α̂ = 0)."""
FLAT_TOL = 0.1
WD4_RULES: tuple[str, ...] = ("joint_invariant", "fan_paper", "mup_fixed")
"""wd4's rules: the one the joint law predicts flat, Fan's λ ∝ √d (with μP's η ∝ 1/d: λ₂ ∝ d^0.5), and fixed λ."""


# ---------------------------------------------------------------- runs


def _ctx_cache(ctx: FigureContext | None) -> Path | None:
    """Where wd3/wd4 find wd2's runs for α̂: the context's cache dir if it has one, else the registry's default."""
    from figures.registry import default_cache_dir

    cache = getattr(ctx, "cache_dir", None) if ctx is not None else None
    return Path(cache) if cache else default_cache_dir(Path("results/figures"))


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


def rule_e(rule: str, alpha_hat: float | None, law: "Law | None" = None) -> float:
    """λ2's width exponent e for a wd3/wd4 rule, from theory.wd_rules (Fan's rule: e = a + α/p with p = 1/2; the joint
    law's invariant rule: e* = (â·a + α̂)/b̂ with `law`'s fitted â, b̂, α̂)."""
    if rule == "joint_invariant":
        if law is None or not law.joint:
            raise ValueError("the joint_invariant rule needs the joint law fitted on wd1 (law.a, law.b)")
        return law.e_star
    if rule == "fan_paper":
        return ws.rule_exponent("fan", alpha=ALPHA_PAPER, p=P_PAPER)
    if rule == "fan_measured":
        return ws.rule_exponent("fan", alpha=alpha_hat, p=P_PAPER)
    return ws.rule_exponent(rule)


def _mup_steps(s: ws.FanSetting, es: Sequence[float], widths: Sequence[int], mults: float = 1.0) -> int:
    """Steps for the slowest run of a μP grid: smallest κ = η2 λ2 ∝ (d/d0)^(a + e) times the smallest multiplier."""
    a_b, _ = ws.bridge_hidden_exponents()
    kappa = min(s.eta * s.lam * mults * (w / s.d0) ** (a_b + e) for e in es for w in widths)
    return ws.steps_for(s, kappa)


def wd3_rules(law: "Law | None") -> tuple[str, ...]:
    """WD3_RULES, less the joint law's invariant rule when no joint law was fitted."""
    return tuple(r for r in WD3_RULES if r != "joint_invariant" or (law is not None and law.joint))


def wd3_plan(scale: str, alpha_hat: float, law: "Law | None" = None) -> list[tuple[str, float, object]]:
    """(rule, e, config) of every wd3 run: each rule's λ2 ∝ d^e at every width and seed (at d0 the rules share one
    config). Steps give the slowest run of the whole grid `steps_per_tau` timescales."""
    s = ws.setting(scale)
    es = {r: rule_e(r, alpha_hat, law) for r in wd3_rules(law)}
    steps = _mup_steps(s, list(es.values()), s.widths)
    return [(r, es[r], ws.run_config(s, width=w, seed=seed, steps=steps, base=ws.base_hp(s, width=w, e=es[r])))
            for r in es for w in s.widths for seed in s.seeds]


def wd3_runs(scale: str, alpha_hat: float, law: "Law | None" = None) -> list:
    return [c for _, _, c in wd3_plan(scale, alpha_hat, law)]


def _seedless(config) -> str:
    """A config's identity apart from its seed (what a fresh-seed rerun keeps)."""
    return replace(config, seed=0).canonical_json()


def wd4_rules(law: "Law | None") -> tuple[str, ...]:
    """WD4_RULES, less the joint law's invariant rule when no joint law was fitted."""
    return tuple(r for r in WD4_RULES if r != "joint_invariant" or (law is not None and law.joint))


def wd4_plan(scale: str, law: "Law") -> list[tuple[dict, object]]:
    """(labels, config) of every planned wd4 run: per rule and transfer width, an η_base sweep at λ multiplier 1 and
    a λ_base sweep at η multiplier 1 (labels: rule, width, sweep, eta_mult, lam_mult). A sweep whose optimum sits on
    its grid's edge is extended beyond the plan (`extend_wd4`); its runs keep the plan's steps."""
    s = ws.setting(scale)
    es = {r: rule_e(r, law.alpha.slope, law) for r in wd4_rules(law)}
    per_tau = replace(s, steps_per_tau=s.transfer_steps_per_tau or s.steps_per_tau)
    steps = _mup_steps(per_tau, list(es.values()), s.transfer_widths, mults=min(min(s.eta_grid), min(s.lam_grid)))
    plan = []
    for r in es:
        for w in s.transfer_widths:
            points = [("eta", m, 1.0) for m in s.eta_grid] + [("lam", 1.0, m) for m in s.lam_grid if m != 1.0]
            for sweep, em, lm in points:
                for seed in s.wd4_seeds:
                    plan.append(({"rule": r, "width": w, "sweep": sweep, "eta_mult": em, "lam_mult": lm},
                                 ws.run_config(s, width=w, seed=seed, steps=steps,
                                               base=ws.base_hp(s, width=w, e=es[r], eta_mult=em, lam_mult=lm))))
    return plan


def wd4_runs(scale: str, law: "Law") -> list:
    """Per transfer width and rule: an η_base sweep at λ multiplier 1 and a λ_base sweep at η multiplier 1."""
    return [c for _, c in wd4_plan(scale, law)]


def _wd4_loss(res) -> float:
    return ws.final_value(res.records, "test_loss", ("model",)) if res.diverged_at is None else math.nan


def extend_wd4(results, scale: str, law: "Law") -> list:
    """One more multiplier (×2 or ×½) beyond the edge of every rule's η or λ sweep whose optimum sits there
    (sweep_extension.next_point), for all the sweep's seeds, on the rule's own lattice of multipliers."""
    anchors = _wd4_anchors(scale, law)
    new: dict[str, object] = {}
    for (rule, width, knob), (members, sweep) in wd4_sweeps(results, scale, law).items():
        x_new = next_point(sweep, step=1.0, limits=(-12.0, 12.0))
        if x_new is None:
            continue
        anchor = anchors[(rule, width)]
        value = getattr(anchor.base, knob) * 2.0 ** x_new
        for seed in sorted({r.config.seed for r in members}):
            cfg = replace(anchor, seed=seed, base=replace(anchor.base, **{knob: value}))
            new.setdefault(cfg.canonical_json(), cfg)
    return list(new.values())


# ---------------------------------------------------------------- analysis


@dataclass(frozen=True)
class Fit:
    slope: float
    lo: float
    hi: float
    n: int

    @staticmethod
    def of(x, y, groups=None) -> "Fit":
        try:
            f = loglog_fit(x, y, groups=groups)
        except FitError:
            return Fit(math.nan, math.nan, math.nan, 0)
        return Fit(f.slope, f.ci_low, f.ci_high, f.n)

    @staticmethod
    def of_seeds(values, n: int = 0) -> "Fit":
        """Mean and per-seed t-interval of per-seed estimates (synthetic.fit.seed_t_interval)."""
        try:
            m, lo, hi = seed_t_interval(values)
        except FitError:
            return Fit(math.nan, math.nan, math.nan, 0)
        return Fit(m, lo, hi, n)

    def text(self, digits: int = 2) -> str:
        return f"{self.slope:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"

    def as_dict(self) -> dict:
        return {"value": self.slope, "ci_low": self.lo, "ci_high": self.hi, "n": self.n}


@dataclass(frozen=True)
class JointFit:
    """σ1 ∝ η^a λ^−b fitted jointly: per seed, least squares of log y on (log η2, log λ2); a, b, a − b are the seed
    means with per-seed t-intervals (`synthetic.fit.loglog_fit_multi`). `a_equals_b_rejected`: a − b's interval
    excludes 0."""

    a: Fit
    b: Fit
    diff: Fit
    per_seed: dict

    @staticmethod
    def of(eta, lam, y, seeds) -> "JointFit":
        try:
            m: MultiFit = loglog_fit_multi({"eta": eta, "lam": lam}, y, seeds)
        except FitError:
            nan = Fit(math.nan, math.nan, math.nan, 0)
            return JointFit(nan, nan, nan, {})
        per = {s: (c["eta"], -c["lam"]) for s, c in m.per_seed.items()}
        return JointFit(Fit.of_seeds([a for a, _ in per.values()], m.n), Fit.of_seeds([b for _, b in per.values()], m.n),
                        Fit.of_seeds([a - b for a, b in per.values()], m.n), per)

    @property
    def a_equals_b_rejected(self) -> bool:
        return bool(math.isfinite(self.diff.lo) and not self.diff.lo <= 0.0 <= self.diff.hi)

    def as_dict(self) -> dict:
        return {"a": self.a.as_dict(), "b": self.b.as_dict(), "a_minus_b": self.diff.as_dict(),
                "a_equals_b_rejected": self.a_equals_b_rejected, "seeds": len(self.per_seed)}


@dataclass(frozen=True)
class Law:
    """The fitted steady-state law σ1 ∝ η^a λ^−b d^α of the headline matrices: α̂ from wd2 (width at fixed η, λ), â, b̂
    from wd1's joint fit (η and λ at fixed width); without â, b̂ only the ½-law (a = b = 1/2) is available.
    `per_seed`: (seed, α_s, a_s, b_s) for the seeds both figures share, for per-seed intervals of predictions."""

    alpha: Fit
    a: Fit | None = None
    b: Fit | None = None
    per_seed: tuple = ()

    @property
    def joint(self) -> bool:
        return self.a is not None and self.b is not None and all(map(math.isfinite, (self.a.slope, self.b.slope)))

    @property
    def e_star(self) -> float:
        """λ2's width exponent that the joint law predicts keeps σ1 flat under μP (theory.wd_rules)."""
        return ws.invariant_rule_exponent(alpha=self.alpha.slope, p_eta=self.a.slope, p_lam=self.b.slope)

    def predicted(self, e: float, form: str) -> Fit:
        """σ1's width exponent under λ2 ∝ d^e: form "joint" (â·a − b̂·e + α̂) or "half" (½(a − e) + α̂), at the
        fitted means, with the per-seed t-interval of the per-seed predictions."""
        def one(alpha, a, b):
            if form == "half":
                return ws.predicted_sigma1_exponent(e, alpha=alpha, p=P_PAPER)
            return ws.predicted_sigma1_exponent_joint(e, alpha=alpha, p_eta=a, p_lam=b)

        if form == "joint" and not self.joint:
            return Fit(math.nan, math.nan, math.nan, 0)
        value = one(self.alpha.slope, *((self.a.slope, self.b.slope) if form == "joint" else (None, None)))
        per = [one(al, a, b) for _, al, a, b in self.per_seed if form == "half" or (a is not None and b is not None)]
        iv = Fit.of_seeds(per)
        return Fit(value, iv.lo, iv.hi, len(per))

    def as_dict(self) -> dict:
        out = {"alpha": self.alpha.as_dict()}
        if self.joint:
            out.update(a=self.a.as_dict(), b=self.b.as_dict(), e_star=self.e_star)
        return out


def fitted_law(wd1_analysis: dict | None, wd2_analysis: dict) -> Law:
    """The Law from wd1's and wd2's analyses (wd1 None: the ½-law only)."""
    alpha_seed = wd2_analysis.get("alpha_per_seed", {})
    if wd1_analysis is None:
        return Law(wd2_analysis["alpha"], per_seed=tuple((s, al, None, None) for s, al in sorted(alpha_seed.items())))
    j: JointFit = wd1_analysis["joint"][f"sigma1_{PRIMARY}"]
    per = tuple((s, alpha_seed[s], *j.per_seed[s]) for s in sorted(set(alpha_seed) & set(j.per_seed)))
    return Law(wd2_analysis["alpha"], j.a, j.b, per)


def scalars(res) -> dict:
    """Steady-window scalars of one run: σ1, gain, weight RMS per FFN type and over both, input-map σ1, test loss."""
    types = ws.type_layers(res.config.model.depth)
    both = tuple(n for v in types.values() for n in v)
    out = {"sigma1": ws.final_value(res.records, "sigma1", both),
           "sigma1_input": ws.final_value(res.records, "sigma1", (ws.NORMED_LAYER,)),
           "gain": ws.final_value(res.records, "gain", both), "w_rms": ws.final_value(res.records, "w_rms", both),
           "test_loss": ws.final_value(res.records, "test_loss", ("model",)), "diverged_at": res.diverged_at}
    for t, names in types.items():
        for q in ("sigma1", "gain", "w_rms"):
            out[f"{q}_{t}"] = ws.final_value(res.records, q, names)
        out[f"sigma1_{t}_inner"] = ws.final_value(res.records, "sigma1", ws.inner_layers(res.config.model.depth, t))
    return out


def _steady_rows(results) -> tuple[list[dict], dict]:
    rows = [ws.steady(r) for r in results]
    tsc = [r["timescales"] for r in rows]
    summary = {"timescales_min": float(min(tsc)), "timescales_max": float(max(tsc)),
               "steady_ok": int(sum(r["ok"] for r in rows)), "runs": len(rows),
               "sigma1_rel_change_max": float(np.nanmax([r.get("sigma1_rel_change", math.nan) for r in rows]))}
    return rows, summary


WD1_FIT_KEYS = ("sigma1", "sigma1_W_up", "sigma1_W_down", "sigma1_W_up_inner", "sigma1_W_down_inner", "gain_W_up",
                "w_rms_W_up", "w_rms_W_down", "sigma1_input")


def analyze_wd1(results, scale: str) -> dict:
    """Per run: its (η, λ) point read from its config, η/λ (hidden), final σ1, gain, weight RMS, spectra; the slope
    fits against η/λ, the joint fits σ1 ∝ η^a λ^−b against (η2, λ2), and the spectrum-shape spread."""
    runs = []
    steady_rows, steady_sum = _steady_rows(results)
    for i, res in enumerate(results):
        eta2, lam2 = ws.hidden_eta_lam(res.config)
        label, em, lm = wd1_point(res.config, scale)
        prim = ws.inner_layers(res.config.model.depth, "W_up")
        spec = np.mean([ws.final_spectrum(res.records, l) for l in prim], axis=0)
        runs.append({"label": label, "eta_mult": em, "lam_mult": lm, "seed": res.config.seed, "eta2": eta2,
                     "lam2": lam2, "ratio": eta2 / lam2, **scalars(res),
                     "gain_series": ws.series(res.records, "gain", prim),
                     "spectrum": spec, **{f"steady_{k}": v for k, v in steady_rows[i].items()}})
    ratio = [r["ratio"] for r in runs]
    seeds = [r["seed"] for r in runs]
    fits = {key: Fit.of(ratio, [r[key] for r in runs], seeds) for key in WD1_FIT_KEYS}
    eta, lam = [r["eta2"] for r in runs], [r["lam2"] for r in runs]
    joint = {key: JointFit.of(eta, lam, [r[key] for r in runs], seeds) for key in WD1_FIT_KEYS}
    # spectrum shape: max |log(σ_i/σ1) − log(base σ_i/σ1)| over i ≤ 0.8·rank, per seed, over Fan's six runs
    spread = {0.8: 0.0, 0.5: 0.0}
    for seed in set(seeds):
        mine = [r for r in runs if r["seed"] == seed]
        (base_run,) = [r for r in mine if r["label"] == "base"]
        base = base_run["spectrum"] / base_run["spectrum"][0]
        for frac in spread:
            k = max(1, int(frac * base.size))
            for r in (r for r in mine if r["label"] in FAN_SIX):
                dev = np.abs(np.log(r["spectrum"][:k] / r["spectrum"][0]) - np.log(base[:k]))
                spread[frac] = max(spread[frac], float(np.max(dev)))
    matched = [r[f"sigma1_{PRIMARY}"] for r in runs if r["eta_mult"] == r["lam_mult"]]
    return {"runs": runs, "fits": fits, "joint": joint, "spectrum_log_spread": spread[0.8],
            "spectrum_log_spread_half": spread[0.5],
            "steady": steady_sum,
            "matched_sigma1_spread": float(np.max(matched) / np.min(matched))}


def analyze_wd2(results) -> dict:
    rows = []
    steady_rows, steady_sum = _steady_rows(results)
    for i, res in enumerate(results):
        rows.append({"width": res.config.model.width, "seed": res.config.seed, **scalars(res),
                     **{f"steady_{k}": v for k, v in steady_rows[i].items()}})
    w = [r["width"] for r in rows]
    g = [r["seed"] for r in rows]
    fits = {key: Fit.of(w, [r[key] for r in rows], g)
            for key in ("sigma1", "sigma1_W_up", "sigma1_W_down", "sigma1_W_up_inner", "sigma1_W_down_inner",
                        "w_rms_W_up", "w_rms_W_down", "gain_W_up")}
    alpha_per_seed = {}
    for seed in sorted(set(g)):
        mine = [r for r in rows if r["seed"] == seed]
        try:
            alpha_per_seed[seed] = loglog_fit([r["width"] for r in mine], [r[f"sigma1_{PRIMARY}"] for r in mine]).slope
        except FitError:
            pass
    return {"rows": rows, "fits": fits, "alpha": fits[f"sigma1_{PRIMARY}"], "alpha_per_seed": alpha_per_seed,
            "steady": steady_sum}


def measured_alpha(scale: str, *, device: str = "auto", cache_dir: Path | None = None, progress: bool = False,
                   results=None) -> tuple[float, dict]:
    """α̂ from wd2's runs at their default seeds (trained or read from the cache). A fresh-seed rerun of wd3/wd4
    (`--seed-offset`) keeps this α̂, so it tests the same rules (the same λ₂ exponents) on fresh seeds; wd2's own
    rerun reports the α̂ of the fresh seeds."""
    if results is None:
        from synthetic.grid import run_grid

        results = run_grid(wd2_runs(scale), cache_dir=cache_dir, device=device, progress=progress)
    a = analyze_wd2(results)
    return a["alpha"].slope, a


def measured_law(scale: str, *, device: str = "auto", cache_dir: Path | None = None, progress: bool = False,
                 wd1_results=None, wd2_results=None) -> tuple[Law, dict, dict]:
    """(Law, wd1 analysis, wd2 analysis): α̂ from wd2 and (â, b̂) from wd1, at their default seeds (trained or read
    from the cache), as wd3 uses them."""
    from synthetic.grid import run_grid

    if wd1_results is None:
        wd1_results = run_grid(wd1_runs(scale), cache_dir=cache_dir, device=device, progress=progress)
    a2 = measured_alpha(scale, device=device, cache_dir=cache_dir, progress=progress, results=wd2_results)[1]
    a1 = analyze_wd1(wd1_results, scale)
    return fitted_law(a1, a2), a1, a2


def analyze_wd3(results, law: Law, scale: str) -> dict:
    """Per rule (a run's rule read from its config: the rule whose planned config it equals, seed aside): σ1's width
    exponent with its per-seed interval, beside the ½-law's and the joint law's out-of-sample predictions."""
    alpha_hat = law.alpha.slope
    plan = wd3_plan(scale, alpha_hat, law)
    rules = list(dict.fromkeys(r for r, _, _ in plan))
    es = {r: e for r, e, _ in plan}
    members: dict[str, set] = {}
    for r, _, c in plan:
        members.setdefault(r, set()).add(_seedless(c))
    s_ws = sorted({r.config.model.width for r in results})
    steady_rows, steady_sum = _steady_rows(results)
    unique = {}
    for res, st in zip(results, steady_rows):
        unique.setdefault((_seedless(res.config), res.config.seed), (res, st))
    stray = [k for k in unique if not any(k[0] in m for m in members.values())]
    if stray:
        raise ValueError(f"wd3: {len(stray)} run(s) match no rule of the plan (α̂ = {alpha_hat:.4f}); were they built "
                         f"with another α̂ or law?")
    rows, fits = [], {}
    for rule in rules:
        e = es[rule]
        for (key, _), (res, st) in unique.items():
            if key not in members[rule]:
                continue
            eta2, lam2 = ws.hidden_eta_lam(res.config)
            rows.append({"rule": rule, "e": e, "width": res.config.model.width, "seed": res.config.seed,
                         "eta2": eta2, "lam2": lam2, **scalars(res), **{f"steady_{kk}": v for kk, v in st.items()}})
        mine = [r for r in rows if r["rule"] == rule]
        wsd, seeds = [r["width"] for r in mine], [r["seed"] for r in mine]
        fits[rule] = {"e": e, "sigma1": Fit.of(wsd, [r[f"sigma1_{PRIMARY}"] for r in mine], seeds),
                      **{f"{q}_{t}": Fit.of(wsd, [r[f"{q}_{t}"] for r in mine], seeds)
                         for q in ("sigma1", "gain") for t in TYPES},
                      **{f"sigma1_{t}_inner": Fit.of(wsd, [r[f"sigma1_{t}_inner"] for r in mine], seeds)
                         for t in TYPES},
                      "predicted": ws.predicted_sigma1_exponent(e, alpha=alpha_hat, p=P_PAPER),
                      "predicted_half": law.predicted(e, "half"), "predicted_joint": law.predicted(e, "joint")}
        m = fits[rule]["sigma1"].slope
        fits[rule]["error_half"] = m - fits[rule]["predicted_half"].slope
        fits[rule]["error_joint"] = m - fits[rule]["predicted_joint"].slope
        fits[rule]["flat_under_joint"] = rule == FLAT_UNDER_JOINT
    # the law's own p in this family: exponent = α + p(a − e) ⇒ slope of exponent against e is −p
    e_arr = np.array([fits[r]["e"] for r in rules])
    ex = np.array([fits[r]["sigma1"].slope for r in rules])
    ok = np.isfinite(ex)
    p_fam = float(-np.polyfit(e_arr[ok], ex[ok], 1)[0]) if np.unique(e_arr[ok]).size >= 2 else math.nan
    return {"rows": rows, "fits": fits, "rules": rules, "law": law, "alpha_hat": alpha_hat, "alpha_fit": law.alpha,
            "widths": s_ws, "p_family": p_fam, "steady": steady_sum}


def _wd4_anchors(scale: str, law: "Law") -> dict[tuple[str, int], object]:
    """(rule, width) -> that rule's run at multipliers (1, 1) (first seed): the point both of its sweeps pass through."""
    out = {}
    for labels, cfg in wd4_plan(scale, law):
        if labels["eta_mult"] == 1.0 and labels["lam_mult"] == 1.0:
            out.setdefault((labels["rule"], labels["width"]), cfg)
    return out


def wd4_sweeps(results, scale: str, law: "Law") -> dict[tuple[str, int, str], tuple[list, Sweep]]:
    """(rule, width, knob) -> (member results, Sweep over log₂ of the multiplier). A sweep's members are the runs
    equal to the rule's (1, 1) run in everything but the swept base value and the seed (sweep_extension.curve_key)
    whose multiplier is a power of two: labels come from the configs, never from positions, and extended points join
    their sweep. (A rule changes only λ's reference, so at one width the λ sweeps of all rules are one family of
    configs; the power-of-two lattice keeps each rule's own points.)"""
    from figures.sweep_extension import curve_key

    by_key: dict[tuple[str, object], list] = {}
    for res in results:
        for knob in ("eta", "lam"):
            by_key.setdefault((knob, curve_key(res.config, knob)), []).append(res)
    out = {}
    for (rule, width), anchor in _wd4_anchors(scale, law).items():
        for knob in ("eta", "lam"):
            members = by_key.get((knob, curve_key(anchor, knob)), [])
            if not members:
                continue
            ref = getattr(anchor.base, knob)
            x_of = {id(r): math.log2(getattr(r.config.base, knob) / ref) for r in members}
            members = [r for r in members if abs(x_of[id(r)] - round(x_of[id(r)])) < 1e-6]
            xs = sorted({round(x_of[id(r)]) for r in members})
            seeds = sorted({r.config.seed for r in members})
            table = np.full((len(seeds), len(xs)), np.inf)
            for r in members:
                table[seeds.index(r.config.seed), xs.index(round(x_of[id(r)]))] = _wd4_loss(r)
            out[(rule, width, knob)] = (members, Sweep(np.array(xs, dtype=float), table))
    return out


def analyze_wd4(results, scale: str, law: "Law") -> dict:
    """Per rule and swept knob (η or λ multiplier): the sub-grid optimum at every transfer width, its shift from the
    proxy width d0 and the regret of carrying the proxy's optimum, with seed-bootstrap intervals
    (figures.transfer_metric); rows per run and sweep (a run at d0 belongs to every rule's sweeps)."""
    s = ws.setting(scale)
    steady_rows, steady_sum = _steady_rows(results)
    steady = {id(r): st for r, st in zip(results, steady_rows)}
    sweeps = wd4_sweeps(results, scale, law)
    rows = []
    for (rule, width, knob), (members, sweep) in sweeps.items():
        for res in members:
            eta2, lam2 = ws.hidden_eta_lam(res.config)
            rows.append({"rule": rule, "width": width, "sweep": knob, "seed": res.config.seed, "eta2": eta2,
                         "lam2": lam2, "test_loss": _wd4_loss(res), "diverged_at": res.diverged_at,
                         "sigma1": scalars(res)[f"sigma1_{PRIMARY}"],
                         **{f"steady_{k}": v for k, v in steady[id(res)].items()}})
    transfer_by = {}
    for rule in wd4_rules(law):
        for knob in ("eta", "lam"):
            curves = {w: sweeps[(rule, w, knob)][1] for w in s.transfer_widths if (rule, w, knob) in sweeps}
            base = s.transfer_widths[0]
            if base in curves:
                an = transfer(curves[base], {str(w): c for w, c in curves.items()})
                transfer_by[(rule, knob)] = {"analysis": an, "summary": summarise(an, base), "curves": curves}
    return {"rows": rows, "transfer": transfer_by, "alpha_hat": law.alpha.slope, "steady": steady_sum,
            "rules": wd4_rules(law), "e": {r: rule_e(r, law.alpha.slope, law) for r in wd4_rules(law)}}


# ---------------------------------------------------------------- plots

RATIO_COLORS = {0.25: "#8c564b", 0.5: "#d62728", 1.0: "#1f77b4", 2.0: "#2ca02c", 4.0: "#ff7f0e"}
ETA_STYLES = {4.0: ":", 2.0: "--", 1.0: "-", 0.5: "-."}


def _ratio_key(em: float, lm: float) -> float:
    return em / lm


def _steady_note(st: dict) -> str:
    return (f"{st['timescales_min']:.0f}–{st['timescales_max']:.0f} timescales 1/(η₂λ₂); "
            f"steady (σ₁ within 15% over last 10%): {st['steady_ok']}/{st['runs']}")


def plot_wd1(ctx: FigureContext, results) -> FigureOutput:
    from figures.plotting import log2_axis, new_figure, note

    a = analyze_wd1(results, ctx.scale)
    s = ws.setting(ctx.scale)
    fig, axes = new_figure(1, 5, panel_w=3.7, panel_h=3.2,
                           title=f"wd1 (Fan Fig. 1 analogue): AdamW steady state, width {s.wd1_width}, depth "
                                 f"{s.depth}, pre-norm ReLU FFN; {PRIMARY_LABEL} averaged; {_steady_note(a['steady'])}")
    ax_g, ax_s, ax_n, ax_r, ax_j = axes[0]
    seed0 = min(r["seed"] for r in a["runs"])
    shown = sorted((r for r in a["runs"] if r["seed"] == seed0 and r["label"] in FAN_SIX),
                   key=lambda r: FAN_SIX.index(r["label"]))
    for r in shown:
        c = RATIO_COLORS.get(_ratio_key(r["eta_mult"], r["lam_mult"]), "0.3")
        ls = ETA_STYLES.get(r["eta_mult"], "-") if r["eta_mult"] == r["lam_mult"] else "-"
        lbl = f"{r['label']} (η/λ ×{r['ratio'] / shown[0]['ratio']:g}, ηλ ×{r['eta_mult'] * r['lam_mult']:g})"
        t, g = r["gain_series"]
        ax_g.plot(t, g, color=c, linestyle=ls, label=lbl)
        sp = r["spectrum"]
        idx = np.arange(1, sp.size + 1)
        ax_s.plot(idx, sp, color=c, linestyle=ls, label=lbl)
        ax_n.plot(idx, sp / sp[0], color=c, linestyle=ls, label=lbl)
    ax_g.set(xscale="log", yscale="log", xlabel="training step", ylabel="sublayer gain ‖Wx‖_rms / ‖x‖_rms",
             title=f"(a) gain over training (seed {seed0})")
    ax_s.set(xscale="log", yscale="log", xlabel="index i", ylabel="singular value σ_i (final)",
             title="(b) final singular spectra")
    ax_s.legend(loc="lower left", fontsize=6)
    ax_n.set(xscale="log", yscale="log", xlabel="index i", ylabel="σ_i / σ₁", title="(c) normalized spectra")
    note(ax_n, f"max |Δ log(σ_i/σ₁)| vs base:\ni ≤ rank/2: {a['spectrum_log_spread_half']:.2f}\n"
               f"i ≤ 0.8·rank: {a['spectrum_log_spread']:.2f} (digest: ≲ 0.1)", loc="lower left")
    # (d) every scale relative to its geometric mean, against η/λ relative to base, with the slope-0.5 reference
    base_ratio = next(r["ratio"] for r in a["runs"] if r["label"] == "base")
    rat = np.array([r["ratio"] for r in a["runs"]]) / base_ratio
    jitter = {"sigma1_W_up_inner": 0.94, "sigma1_W_down_inner": 0.98, "w_rms_W_up": 1.02, "sigma1_input": 1.06}
    for key, color, marker, name in (("sigma1_W_up_inner", "#1f77b4", "o", "σ₁ W_up (blocks 2..L)"),
                                     ("sigma1_W_down_inner", "#ff7f0e", "v", "σ₁ W_down (blocks 2..L)"),
                                     ("w_rms_W_up", "#2ca02c", "s", "entry RMS of W_up"),
                                     ("sigma1_input", "#7f7f7f", "^", "σ₁ input map")):
        y = np.array([r[key] for r in a["runs"]])
        y = y / np.exp(np.mean(np.log(y)))
        f = a["fits"][key]
        ax_r.scatter(rat * jitter[key], y, color=color, marker=marker, s=14, alpha=0.8,
                     label=f"{name}: {f.text()}")
        xs = np.geomspace(rat.min(), rat.max(), 20)
        ax_r.plot(xs, np.exp(f.slope * (np.log(xs) - np.mean(np.log(rat)))), color=color, linewidth=1)
    xs = np.geomspace(rat.min(), rat.max(), 20)
    ax_r.plot(xs, np.exp(0.5 * (np.log(xs) - np.mean(np.log(rat)))), color="black", linestyle="--", linewidth=1.2,
              label="expected slope 0.5 (√(η/λ))")
    log2_axis(ax_r, "x")
    ax_r.set(yscale="log", xlabel="η₂/λ₂ relative to base", ylabel="value / geometric mean over runs",
             title="(d) steady-state scale vs η/λ: fitted slopes [95% CI]")
    ax_r.legend(loc="upper left", fontsize=6)
    # (e) the joint law: measured σ1 against the per-seed fit exp(c_s) η^a_s λ^−b_s, every run, coloured by λ multiplier
    j: JointFit = a["joint"][f"sigma1_{PRIMARY}"]
    lam_colors = dict(zip(sorted({r["lam_mult"] for r in a["runs"]}), ("#8c564b", "#d62728", "#1f77b4", "#2ca02c",
                                                                     "#ff7f0e", "#7f7f7f")))
    for lm, color in lam_colors.items():
        mine = [r for r in a["runs"] if r["lam_mult"] == lm]
        ax_j.scatter([r["eta_mult"] for r in mine], [r[f"sigma1_{PRIMARY}"] for r in mine], color=color, s=12,
                     alpha=0.8, label=f"λ×{lm:g}")
        if np.isfinite(j.a.slope):
            ems = np.array(sorted({r["eta_mult"] for r in mine}))
            c = np.mean([np.log(r[f"sigma1_{PRIMARY}"]) - j.a.slope * np.log(r["eta_mult"])
                         + j.b.slope * np.log(r["lam_mult"]) for r in a["runs"]])
            ax_j.plot(ems, np.exp(c) * ems ** j.a.slope * lm ** -j.b.slope, color=color, linewidth=1)
    log2_axis(ax_j, "x")
    verdict = "rejected" if j.a_equals_b_rejected else "not rejected"
    ax_j.set(yscale="log", xlabel="η multiplier", ylabel=f"σ₁ ({PRIMARY_LABEL})",
             title=f"(e) joint fit σ₁ ∝ η^a λ^−b (lines: seed-mean fit)")
    note(ax_j, f"a = {j.a.text()}\nb = {j.b.text()}\na − b = {j.diff.text()}: a = b {verdict}", loc="lower right")
    ax_j.legend(loc="upper left", fontsize=6)
    _tidy(fig)
    rows = []
    for r in a["runs"]:
        base = {k: v for k, v in r.items() if k not in ("gain_series", "spectrum")}
        rows.append({**base, "kind": "final"})
        t, g = r["gain_series"]
        rows += [{"label": r["label"], "seed": r["seed"], "kind": "gain_series", "step": int(tt), "value": float(gg)}
                 for tt, gg in zip(t, g)]
        rows += [{"label": r["label"], "seed": r["seed"], "kind": "spectrum", "index": i + 1, "value": float(v)}
                 for i, v in enumerate(r["spectrum"])]
    summary = {**{f"slope_{k}_vs_eta_over_lambda": f.as_dict() for k, f in a["fits"].items()},
               "slope_input_sigma1_vs_eta_over_lambda": a["fits"]["sigma1_input"].as_dict(),
               "spectrum_log_spread": a["spectrum_log_spread"],
               "spectrum_log_spread_half_rank": a["spectrum_log_spread_half"], "matched_ratio_sigma1_max_over_min":
               a["matched_sigma1_spread"], "steady": a["steady"], "vector_like": ws.vector_like_note(),
               **{f"joint_{k}": j.as_dict() for k, j in a["joint"].items()},
               "joint_quantity": PRIMARY_LABEL}
    return FigureOutput(fig, rows, summary)


def _tidy(fig) -> None:
    """tight_layout without matplotlib's layout-engine warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()


def _ref_slope(ax, x, y0, slope, label, style):
    xs = np.array([min(x), max(x)], dtype=float)
    ax.plot(xs, y0 * (xs / xs[0]) ** slope, color="0.4", linestyle=style, linewidth=1, label=label)


def plot_wd2(ctx: FigureContext, results) -> FigureOutput:
    from figures.plotting import line_with_band, log2_axis, new_figure

    a = analyze_wd2(results)
    s = ws.setting(ctx.scale)
    widths = sorted({r["width"] for r in a["rows"]})
    fig, axes = new_figure(1, 3, panel_w=3.7, panel_h=3.1,
                           title=f"wd2: steady-state σ₁ vs width at fixed (η, λ) = ({s.eta:g}, {s.lam:g}) for every "
                                 f"layer; {len(s.seeds)} seeds, 95% bands; {_steady_note(a['steady'])}")
    ax1, ax2, ax3 = axes[0]
    colors = {"W_up": "#1f77b4", "W_down": "#ff7f0e"}
    for t in TYPES:
        per = [[r[f"sigma1_{t}_inner"] for r in a["rows"] if r["width"] == w] for w in widths]
        f = a["fits"][f"sigma1_{t}_inner"]
        line_with_band(ax1, widths, per, label=f"{t} (blocks 2..L): α = {f.text()}", color=colors[t])
    f = a["alpha"]
    m0 = np.mean([r[f"sigma1_{PRIMARY}"] for r in a["rows"] if r["width"] == widths[0]])
    _ref_slope(ax1, widths, m0, 0.5, "slope 0.5 (random bulk)", ":")
    _ref_slope(ax1, widths, m0, ALPHA_PAPER, "slope 0.75 (Fan, LLaMA)", "--")
    log2_axis(ax1, "x")
    ax1.set(yscale="log", xlabel="width d", ylabel="σ₁ (final, steady window)",
            title=f"(a) σ₁ ∝ d^α; α̂ ({PRIMARY_LABEL}) = {f.text()}")
    ax1.legend(fontsize=6.5, loc="upper left")
    for t in TYPES:
        per = [[r[f"w_rms_{t}"] for r in a["rows"] if r["width"] == w] for w in widths]
        line_with_band(ax2, widths, per, label=f"{t}: slope {a['fits'][f'w_rms_{t}'].text()}", color=colors[t])
    ax2.axhline(np.mean(per[0]), color="0.4", linestyle="--", linewidth=1, label="pure-noise prediction: flat")
    log2_axis(ax2, "x")
    ax2.set(yscale="log", xlabel="width d", ylabel="entry RMS of W", title="(b) weight RMS (bulk)")
    ax2.legend(fontsize=6.5)
    per = [[r["gain_W_up"] for r in a["rows"] if r["width"] == w] for w in widths]
    line_with_band(ax3, widths, per, label=f"W_up gain: slope {a['fits']['gain_W_up'].text()}", color="#9467bd")
    log2_axis(ax3, "x")
    ax3.set(yscale="log", xlabel="width d", ylabel="sublayer gain", title="(c) sublayer gain")
    ax3.legend(fontsize=6.5)
    _tidy(fig)
    summary = {"alpha": f.as_dict(), "alpha_quantity": PRIMARY_LABEL,
               **{f"alpha_{k}": v.as_dict() for k, v in a["fits"].items()},
               **{f"w_rms_width_exponent_{t}": a["fits"][f"w_rms_{t}"].as_dict() for t in TYPES},
               "alpha_paper": ALPHA_PAPER, "steady": a["steady"]}
    return FigureOutput(fig, a["rows"], summary)


def plot_wd3(ctx: FigureContext, results, law: Law) -> FigureOutput:
    from figures.plotting import log2_axis, new_figure, note

    alpha_fit: Fit = law.alpha
    a = analyze_wd3(results, law, ctx.scale)
    widths = a["widths"]
    joint_text = (f"; joint law â = {law.a.text()}, b̂ = {law.b.text()} (wd1), e* = {law.e_star:.2f}" if law.joint
                  else "")
    fig, axes = new_figure(1, 2, panel_w=4.3, panel_h=3.3,
                           title=f"wd3: weight-decay rules under μP η₂ ∝ 1/d (α̂ = {alpha_fit.text()} from wd2"
                                 f"{joint_text});\n{_steady_note(a['steady'])}")
    ax1, ax2 = axes[0]
    for rule in a["rules"]:
        mine = [r for r in a["rows"] if r["rule"] == rule]
        means = np.array([np.mean([r[f"sigma1_{PRIMARY}"] for r in mine if r["width"] == w]) for w in widths])
        f = a["fits"][rule]["sigma1"]
        ax1.plot(widths, means / means[0], marker="o", color=WD3_COLORS[rule],
                 label=f"{WD3_LABELS[rule]} (e={a['fits'][rule]['e']:.2f}): {f.text()}")
        for r in mine:
            ax1.scatter([r["width"]], [r[f"sigma1_{PRIMARY}"] / means[0]], color=WD3_COLORS[rule], s=8, alpha=0.5)
    ax1.axhline(1.0, color="black", linestyle="--", linewidth=1, label="invariant (exponent 0)")
    log2_axis(ax1, "x")
    ax1.set(yscale="log", xlabel="width d", ylabel="σ₁(d) / σ₁(d₀)  (seed mean; dots: seeds)",
            title="(a) steady-state σ₁ across width per rule")
    ax1.legend(fontsize=6, loc="upper left")
    es = np.linspace(-0.2, 1.2, 50)
    pred = np.array([ws.predicted_sigma1_exponent(e, alpha=alpha_fit.slope, p=P_PAPER) for e in es])
    ax2.plot(es, pred, color="black", label="predicted −1/2 + α̂ − e/2")
    if np.isfinite(alpha_fit.lo):
        lo = [ws.predicted_sigma1_exponent(e, alpha=alpha_fit.lo, p=P_PAPER) for e in es]
        hi = [ws.predicted_sigma1_exponent(e, alpha=alpha_fit.hi, p=P_PAPER) for e in es]
        ax2.fill_between(es, lo, hi, color="0.5", alpha=0.2, linewidth=0, label="α̂ 95% CI")
    ax2.plot(es, [ws.predicted_sigma1_exponent(e, alpha=ALPHA_PAPER, p=P_PAPER) for e in es], color="0.5",
             linestyle=":", label="paper's α = 0.75")
    if law.joint:
        ax2.plot(es, [law.predicted(e, "joint").slope for e in es], color="#ff7f0e", linestyle="--",
                 label="joint law â·a − b̂·e + α̂ (wd1+wd2)")
    ax2.axhline(0.0, color="0.3", linestyle="--", linewidth=0.8)
    ax2.axhspan(-0.1, 0.1, color="#1f77b4", alpha=0.07, label="|exponent| ≤ 0.1")
    for rule in a["rules"]:
        f = a["fits"][rule]["sigma1"]
        e = a["fits"][rule]["e"]
        ax2.errorbar([e], [f.slope], yerr=[[f.slope - f.lo], [f.hi - f.slope]], color=WD3_COLORS[rule], marker="o",
                     capsize=3, linestyle="none", label=WD3_LABELS[rule])
    ax2.set(xlabel="rule exponent e (λ₂ ∝ d^e)", ylabel="measured width exponent of σ₁",
            title="(b) σ₁ exponent vs rule")
    law_b = f"; joint law: b̂ = {law.b.slope:.2f}" if law.joint else ""
    note(ax2, f"fitted −dexp/de = {a['p_family']:.2f} (½-law: 0.5{law_b})", loc="lower left")
    ax2.legend(fontsize=6, loc="upper right")
    _tidy(fig)
    def rule_summary(r: str) -> dict:
        f = a["fits"][r]
        return {**f["sigma1"].as_dict(), "e": f["e"], "predicted": f["predicted"],
                "predicted_half": f["predicted_half"].as_dict(), "predicted_joint": f["predicted_joint"].as_dict(),
                "error_half": f["error_half"], "error_joint": f["error_joint"],
                "flat_under_joint": f["flat_under_joint"]}

    summary = {"alpha_hat": alpha_fit.as_dict(), "p_family": a["p_family"], "steady": a["steady"],
               "vector_like": ws.vector_like_note(), "law": law.as_dict(),
               **{f"sigma1_exponent_{r}": rule_summary(r) for r in a["rules"]}}
    return FigureOutput(fig, a["rows"], summary)


def plot_wd4(ctx: FigureContext, results, law: "Law") -> FigureOutput:
    from figures.plotting import new_figure
    from figures.sweep_panels import draw_sweep

    a = analyze_wd4(results, ctx.scale, law)
    s = ws.setting(ctx.scale)
    rules = a["rules"]
    fig, axes = new_figure(len(rules), 2, panel_w=4.8, panel_h=3.1,
                           title=f"wd4: zero-shot transfer of η_base and λ_base from d₀ = {s.d0} to "
                                 f"d = {', '.join(map(str, s.transfer_widths[1:]))}, μP η₂ ∝ 1/d, λ₂ ∝ d^e per rule; "
                                 f"{len(s.wd4_seeds)} seeds\n{_steady_note(a['steady'])}")
    for i, rule in enumerate(rules):
        for j, (knob, xl) in enumerate((("eta", "η_base"), ("lam", "λ_base"))):
            t = a["transfer"].get((rule, knob))
            if t is None:
                continue
            ax = axes[i, j]
            draw_sweep(ax, t["curves"], t["analysis"], symbol="d", ylabel="final test loss (clean labels)",
                       title=f"{WD3_LABELS[rule]} (e = {a['e'][rule]:.2f}): {xl} sweep")
            ax.set_xlabel(f"log₂ {xl} multiplier")
            sm = t["summary"]
            ws_, wr = sm["worst_shift"], sm["worst_regret"]
            from figures.plotting import note

            note(ax, f"shift {ws_['value']:+.2f} [{ws_['lo']:+.2f}, {ws_['hi']:+.2f}] oct at d={ws_['shape']}\n"
                     f"regret {100 * wr['value']:.1f}% [{100 * wr['lo']:.1f}, {100 * wr['hi']:.1f}]", loc="upper left")
    _tidy(fig)
    summary = {"alpha_hat": a["alpha_hat"], "steady": a["steady"], "rules": list(rules), "e": a["e"],
               "d0": s.d0, "transfer_widths": list(s.transfer_widths), "seeds": list(s.wd4_seeds),
               **{f"transfer.{r}.{k}": t["analysis"] for (r, k), t in a["transfer"].items()},
               **{f"transfer_summary.{r}.{k}": t["summary"] for (r, k), t in a["transfer"].items()}}
    return FigureOutput(fig, a["rows"], summary)


# ---------------------------------------------------------------- specs


def _law_for(ctx: FigureContext) -> Law:
    return measured_law(ctx.scale, device=ctx.device, cache_dir=_ctx_cache(ctx))[0]


def _build_wd3(ctx: FigureContext) -> list:
    law = _law_for(ctx)
    return wd3_runs(ctx.scale, law.alpha.slope, law)


def _plot_wd3(ctx: FigureContext, results) -> FigureOutput:
    return plot_wd3(ctx, results, _law_for(ctx))


def _build_wd4(ctx: FigureContext) -> list:
    return wd4_runs(ctx.scale, _law_for(ctx))


def _plot_wd4(ctx: FigureContext, results) -> FigureOutput:
    return plot_wd4(ctx, results, _law_for(ctx))


FIGURES: dict[str, FigureSpec] = {
    "wd1": FigureSpec("wd1", "Fan Fig. 1 analogue: sublayer gain over training and final spectra for six (η, λ); "
                             "σ1 ∝ (η/λ)^0.5", lambda ctx: wd1_runs(ctx.scale), plot_wd1),
    "wd2": FigureSpec("wd2", "σ1 vs width at fixed (η, λ): fitted α with a per-seed t-interval",
                      lambda ctx: wd2_runs(ctx.scale), plot_wd2),
    "wd3": FigureSpec("wd3", "WD rules under μP η2 ∝ 1/d: σ1 width exponent vs the predicted −1/2 + α − e/2",
                      _build_wd3, _plot_wd3),
    "wd4": FigureSpec("wd4", "zero-shot transfer of η_base and λ_base with sub-grid optima and regret: the joint "
                             "law's flat rule, Fan's √d and fixed λ", _build_wd4, _plot_wd4,
                      lambda ctx, results: extend_wd4(results, ctx.scale, _law_for(ctx))),
}
