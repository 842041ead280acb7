"""Fan et al. figures wd1–wd4: the analysis (the numbers behind each figure and its summary): steady-state fits, the
joint law σ1 ∝ η^a λ^-b d^α, wd3's out-of-sample predictions and wd4's transfer metric."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import stats

from figures import wd_setup as ws
from figures.sweep_extension import next_point, sweep_of
from figures.sweep_panels import summarise
from figures.transfer_metric import Sweep, transfer
from figures.wd_runs import (FAN_SIX, P_PAPER, PRIMARY, TYPES, WD4_RULES, _seedless, rule_e, wd1_point, wd1_runs,
                             wd2_runs, wd3_plan, wd4_plan)
from synthetic.fit import FitError, MultiFit, loglog_fit, loglog_fit_multi, seed_t_interval


@dataclass(frozen=True)
class Fit:
    """An estimate with its 95% t-interval, and the standard error and degrees of freedom behind it (so that
    figures.claims can form the interval at its own level and difference two estimates)."""

    slope: float
    lo: float
    hi: float
    n: int
    se: float = math.nan
    df: float = math.nan
    n_seeds: int = 0

    @staticmethod
    def of(x, y, groups=None) -> "Fit":
        try:
            f = loglog_fit(x, y, groups=groups)
        except FitError:
            return Fit(math.nan, math.nan, math.nan, 0)
        df = f.n_groups - 1 if f.method == "seed_t" else f.n - 2
        return Fit(f.slope, f.ci_low, f.ci_high, f.n, (f.ci_high - f.ci_low) / 2 / float(stats.t.ppf(0.975, df)), df,
                   f.n_groups if f.method == "seed_t" else 1)

    @staticmethod
    def of_seeds(values, n: int = 0) -> "Fit":
        """Mean and per-seed t-interval of per-seed estimates (synthetic.fit.seed_t_interval)."""
        try:
            m, lo, hi = seed_t_interval(values)
        except FitError:
            return Fit(math.nan, math.nan, math.nan, 0)
        k = int(np.isfinite(np.asarray(values, dtype=float)).sum())
        return Fit(m, lo, hi, n, (hi - lo) / 2 / float(stats.t.ppf(0.975, k - 1)), k - 1, k)

    def text(self, digits: int = 2) -> str:
        return f"{self.slope:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"

    def as_dict(self) -> dict:
        return {"value": self.slope, "ci_low": self.lo, "ci_high": self.hi, "n": self.n, "se": self.se,
                "df": self.df, "n_seeds": self.n_seeds}


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
    plan = wd3_plan(scale)
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
        raise ValueError(f"wd3: {len(stray)} run(s) match no rule of the plan")
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
        fits[rule]["per_seed"] = _per_seed_exponents(mine)
    # the law's own p in this family: exponent = α + p(a − e) ⇒ slope of exponent against e is −p
    e_arr = np.array([fits[r]["e"] for r in rules])
    ex = np.array([fits[r]["sigma1"].slope for r in rules])
    ok = np.isfinite(ex)
    p_fam = float(-np.polyfit(e_arr[ok], ex[ok], 1)[0]) if np.unique(e_arr[ok]).size >= 2 else math.nan
    return {"rows": rows, "fits": fits, "rules": rules, "law": law, "alpha_hat": alpha_hat, "alpha_fit": law.alpha,
            "widths": s_ws, "p_family": p_fam, "p_family_per_seed": _p_family_per_seed(fits, rules),
            "steady": steady_sum}


def _per_seed_exponents(rows: list[dict]) -> dict[int, float]:
    """seed -> σ1's width exponent fitted on that seed's runs alone."""
    out = {}
    for seed in sorted({r["seed"] for r in rows}):
        mine = [r for r in rows if r["seed"] == seed]
        try:
            out[seed] = loglog_fit([r["width"] for r in mine], [r[f"sigma1_{PRIMARY}"] for r in mine]).slope
        except FitError:
            pass
    return out


def _p_family_per_seed(fits: dict, rules: list[str]) -> dict[int, float]:
    """seed -> −d(exponent)/de over the rules: the slope with which σ1's width exponent falls as λ2's exponent e
    rises, per seed (a separable law σ1 ∝ η^a λ^−b d^α predicts b, whatever the width)."""
    out = {}
    seeds = set.intersection(*(set(fits[r]["per_seed"]) for r in rules)) if rules else set()
    for seed in sorted(seeds):
        e = np.array([fits[r]["e"] for r in rules])
        ex = np.array([fits[r]["per_seed"][seed] for r in rules])
        if np.isfinite(ex).all() and np.unique(e).size >= 2:
            out[seed] = float(-np.polyfit(e, ex, 1)[0])
    return out


def _wd4_anchors(scale: str) -> dict[tuple[str, int], object]:
    """(rule, width) -> that rule's run at multipliers (1, 1) (first seed): the point both of its sweeps pass through."""
    out = {}
    for labels, cfg in wd4_plan(scale):
        if labels["eta_mult"] == 1.0 and labels["lam_mult"] == 1.0:
            out.setdefault((labels["rule"], labels["width"]), cfg)
    return out


def wd4_sweeps(results, scale: str) -> dict[tuple[str, int, str], tuple[list, Sweep]]:
    """(rule, width, knob) -> (member results, Sweep over log₂ of the multiplier). A sweep's members are the runs
    equal to the rule's (1, 1) run in everything but the swept base value and the seed (sweep_extension.curve_key)
    whose multiplier is a power of two: labels come from the configs, never from positions, and extended points join
    their sweep. (A rule changes only λ's reference, so at one width the λ sweeps of all rules are one family of
    configs; the power-of-two lattice keeps each rule's own points. Where two rules' λ lattices coincide, at d0 or at
    a width where their references differ by a power of two, the shared runs belong to both, and are written as rows
    of both.)"""
    from figures.sweep_extension import curve_key

    by_key: dict[tuple[str, object], list] = {}
    for res in results:
        for knob in ("eta", "lam"):
            by_key.setdefault((knob, curve_key(res.config, knob)), []).append(res)
    out = {}
    for (rule, width), anchor in _wd4_anchors(scale).items():
        for knob in ("eta", "lam"):
            members = by_key.get((knob, curve_key(anchor, knob)), [])
            if not members:
                continue
            ref = getattr(anchor.base, knob)
            x_of = {id(r): math.log2(getattr(r.config.base, knob) / ref) for r in members}
            members = [r for r in members if abs(x_of[id(r)] - round(x_of[id(r)])) < 1e-6]
            out[(rule, width, knob)] = (members, sweep_of(members, wd4_loss, x_of=lambda r: float(round(x_of[id(r)]))))
    return out


def analyze_wd4(results, scale: str) -> dict:
    """Per rule and swept knob (η or λ multiplier): the sub-grid optimum at every transfer width, its shift from the
    proxy width d0 and the regret of carrying the proxy's optimum, with seed-bootstrap intervals
    (figures.transfer_metric); rows per run and sweep (a run at d0 belongs to every rule's sweeps)."""
    s = ws.setting(scale)
    steady_rows, steady_sum = _steady_rows(results)
    steady = {id(r): st for r, st in zip(results, steady_rows)}
    sweeps = wd4_sweeps(results, scale)
    rows = []
    for (rule, width, knob), (members, sweep) in sweeps.items():
        for res in members:
            eta2, lam2 = ws.hidden_eta_lam(res.config)
            rows.append({"rule": rule, "width": width, "sweep": knob, "seed": res.config.seed, "eta2": eta2,
                         "lam2": lam2, "test_loss": wd4_loss(res), "diverged_at": res.diverged_at,
                         "sigma1": scalars(res)[f"sigma1_{PRIMARY}"],
                         **{f"steady_{k}": v for k, v in steady[id(res)].items()}})
    transfer_by = {}
    for rule in WD4_RULES:
        for knob in ("eta", "lam"):
            curves = {w: sweeps[(rule, w, knob)][1] for w in s.transfer_widths if (rule, w, knob) in sweeps}
            base = s.transfer_widths[0]
            if base in curves:
                an = transfer(curves[base], {str(w): c for w, c in curves.items()})
                an["base"]["shape"] = str(base)
                transfer_by[(rule, knob)] = {"analysis": an, "summary": summarise(an, base), "curves": curves}
    return {"rows": rows, "transfer": transfer_by, "steady": steady_sum, "rules": WD4_RULES,
            "e": {r: rule_e(r) for r in WD4_RULES}}


def wd4_loss(res) -> float:
    """A wd4 run's final test loss; NaN for a diverged run (so it never wins a sweep)."""
    return ws.final_value(res.records, "test_loss", ("model",)) if res.diverged_at is None else math.nan


def extend_wd4(results, scale: str) -> list:
    """One more multiplier (×2 or ×½) beyond the edge of every rule's η or λ sweep whose optimum sits there
    (sweep_extension.next_point), for all the sweep's seeds, on the rule's own lattice of multipliers."""
    anchors = _wd4_anchors(scale)
    new: dict[str, object] = {}
    for (rule, width, knob), (members, sweep) in wd4_sweeps(results, scale).items():
        x_new = next_point(sweep, step=1.0, limits=(-12.0, 12.0))
        if x_new is None:
            continue
        anchor = anchors[(rule, width)]
        value = getattr(anchor.base, knob) * 2.0 ** x_new
        for seed in sorted({r.config.seed for r in members}):
            cfg = replace(anchor, seed=seed, base=replace(anchor.base, **{knob: value}))
            new.setdefault(cfg.canonical_json(), cfg)
    return list(new.values())
