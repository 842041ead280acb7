"""The README's results table, built from the figures' summary JSONs (never typed in).

    python -m figures.results_table [--figures figures/gallery/summaries] [--rerun figures/gallery/summaries/rerun]

One row per claim of the papers: the expectation (paper or theory), the measured value with its 95% interval, the same
measurement on fresh seeds (the rerun, `paper_repro.py --figure ID --seed-offset N`) and whether the rerun's estimates
lie inside the first run's intervals, the scale, and the verdict by the stated criterion. A verdict that differs between
the two runs is reported as borderline. A row whose summary was written by an engine version other than the current
one is marked stale; a figure not run, or a summary that cannot be read, gives a row that says so.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from figures.catalogue import COORD_OPTIMIZERS
from synthetic.version import ENGINE_VERSION
from theory.cli import OneLineParser

Summary = dict[str, Any]
HEADER = ("| claim | expected | measured (95% CI) | fresh-seed rerun (95% CI) | rerun inside first CI | scale | holds |\n"
          "|---|---|---|---|---|---|---|\n")


@dataclass(frozen=True)
class Estimate:
    """One fitted number with its interval (lo/hi None when the summary has no interval)."""

    value: float
    lo: float | None = None
    hi: float | None = None

    def contains(self, x: float) -> bool | None:
        if self.lo is None or self.hi is None:
            return None
        return self.lo <= x <= self.hi


@dataclass(frozen=True)
class Claim:
    """One claim measured on one summary: its text, the measured text, the verdict and the fitted estimates."""

    claim: str
    expected: str
    measured: str
    verdict: str
    estimates: tuple[Estimate, ...] = ()


def _est(d: dict[str, Any]) -> Estimate:
    v = d.get("slope", d.get("value"))
    v = math.nan if v is None else float(v)
    lo, hi = d.get("ci_low", d.get("lo")), d.get("ci_high", d.get("hi"))
    if lo is None or hi is None or not all(map(math.isfinite, (lo, hi))):
        return Estimate(v)
    return Estimate(float(v), float(lo), float(hi))


def _fit(d: dict[str, Any]) -> str:
    """'slope [lo, hi]' from a fit dict with slope/value and ci_low/ci_high (or lo/hi)."""
    e = _est(d)
    if not math.isfinite(e.value):
        return "n/a"
    if e.lo is None:
        return f"{e.value:+.3f}"
    return f"{e.value:+.3f} [{e.lo:+.3f}, {e.hi:+.3f}]"


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _at_T(fits: dict[str, Any]) -> int:
    return max(int(k.split(".t")[-1]) for k in fits if k.startswith("input.t"))


def _panels(fits: dict[str, Any], t: int, key: str = "mean", fmt: str = ".3f") -> str:
    names = {"input": "input", "last.1": "map 1", "last.2": "map 2"}
    return ", ".join(f"{names[p]} {fits[f'{p}.t{t}'][key]:{fmt}}" for p in names)


def _informative(sizes: dict[str, Any], level: tuple[float, float]) -> str:
    """Per panel, the ratio floor (1 − r)/(1 + r) that the triangle inequality sets for the largest update size r
    measured (any t), and whether a ratio ≥ the level is therefore forced (uninformative) or could fail (informative)."""
    names = {"input": "input", "last.1": "map 1", "last.2": "map 2"}
    floors, forced, free = [], [], []
    for p, name in names.items():
        rs = [f["max"] for k, f in sizes.items() if k.startswith(f"{p}.t") and f["max"] is not None]
        r = max(rs) if rs and all(map(math.isfinite, rs)) else math.nan
        floor = (1 - r) / (1 + r) if math.isfinite(r) else math.nan
        floors.append(f"{name} {floor:.4f}")
        (forced if floor >= level[0] else free).append(name)
    out = f"triangle-inequality floor (1−r)/(1+r) at the largest r: {', '.join(floors)} vs level {level[0]:g}"
    if forced:
        out += f": near 1 uninformative at {', '.join(forced)}"
    if free:
        out += f"{';' if forced else ':'} informative at {', '.join(free)}"
    return out


def _assumption(s: Summary, fig_id: str, claim: str, expected: str, level: tuple[float, float] | None) -> list[Claim]:
    fits = s["fits"]
    last = _at_T(fits)
    means = {p: fits[f"{p}.t{last}"]["mean"] for p in ("input", "last.1", "last.2")}
    slope = s["max_abs_slope"]
    ok = slope < 0.1 and (level is None or all(level[0] <= m <= level[1] for m in means.values()))
    measured = (f"max \\|slope vs L\\| {slope:.3f}; at t = T: input {means['input']:.3f}, "
                f"map 1 {means['last.1']:.3f}, map 2 {means['last.2']:.3f}")
    if fig_id in UPDATES and "size_fits" in s and level is not None:
        size_label, _, _ = UPDATES[fig_id]
        measured += (f"; single-step update {size_label} at t = T: {_panels(s['size_fits'], last, fmt='.1e')}; "
                     + _informative(s["size_fits"], level))
    out = [Claim(f"Fig. {fig_id}: {claim}", expected, measured, _yes(ok))]
    if fig_id in UPDATES and "cum_fits" in s and level is not None:
        out.append(_cumulative(s, fig_id, level))
    return out


def _cumulative(s: Summary, fig_id: str, level: tuple[float, float]) -> Claim:
    """The G.1 ratio for the cumulative update (W_t − W_0, h_t − h_0): depth slopes at T with their CIs, levels, and
    the update's size. Judged on flatness in L alone (Assumption G.1 is a Θ statement): an update as large as W_0 need
    not keep the ratio near 1 without any cancellation (an orthogonal one of equal norm gives ≈ 1/√2)."""
    size_label, delta, ratio = UPDATES[fig_id]
    fits, sizes = s["cum_fits"], s["cum_size_fits"]
    last = _at_T(fits)
    at_T = {p: fits[f"{p}.t{last}"] for p in ("input", "last.1", "last.2")}
    slope = s["cum_max_abs_slope"]
    ok = slope is not None and slope < 0.1
    measured = (f"slope vs L at t = T: input {_fit(at_T['input'])}, map 1 {_fit(at_T['last.1'])}, "
                f"map 2 {_fit(at_T['last.2'])}; max \\|slope\\| (T/2, T) {slope:.3f}; "
                f"at t = T: {_panels(fits, last)}; update {size_label} at t = T: {_panels(sizes, last, fmt='.1e')}; "
                + _informative(sizes, level))
    return Claim(f"Fig. {fig_id}: cumulative update {delta}: {ratio} flat in L (t = T/2, T)",
                 "flat (\\|slope\\| < 0.1); ≈ 1 only while the update is small", measured, _yes(ok),
                 tuple(_est(f) for f in at_T.values()))


ASSUMPTIONS = {
    "3": ("‖W+ΔW‖_R/(‖W‖_R+‖ΔW‖_R) flat in L, near 1 (Assumption G.1)", "flat, ≈ 1", (0.9, 1.0)),
    "4": ("‖h+Δh‖_R/(‖h‖_R+‖Δh‖_R) flat in L, near 1 (Assumption G.1)", "flat, ≈ 1", (0.85, 1.0)),
    "5": ("‖φ(Wh)‖_R/‖Wh‖_R flat in L (Assumption G.2)", "flat (≈ 1/√2 for ReLU, not from the paper)", None),
    "6": ("per-sample vs batch update alignment flat in L (Assumption G.3)", "flat", None),
}
UPDATES = {
    "3": ("‖ΔW‖_R/‖W‖_R", "ΔW = W_t − W_0", "‖W_t‖_R/(‖W_0‖_R+‖W_t−W_0‖_R)"),
    "4": ("‖Δh‖_R/‖h‖_R", "Δh = h(x; W_t) − h(x; W_0)", "‖h_t‖_R/(‖h_0‖_R+‖h_t−h_0‖_R)"),
}
"""Figs 3–4: (update-size label, cumulative update, cumulative ratio). A summary written before the update sizes were
measured has no `size_fits` / `cum_fits`: its rows are the single-step ratio alone, as before."""


def _claims_e1(s: Summary) -> list[Claim]:
    out = []
    for r, label in (("ratio1", "n_l = n"), ("ratio4", "n_l = 4n")):
        f = s[r]
        out.append(Claim(f"Claim E.1 at init, {label}: ratio flat in width",
                         f"slope 0 (Θ(1)); Gaussian limit {f['expected_limit']:.4f}",
                         f"slope {_fit(f)}; {f['mean_at_max_width']:.4f} at the widest", _yes(abs(f["slope"]) < 0.05),
                         (_est(f),)))
    return out


def _claims_e2(s: Summary) -> list[Claim]:
    dev = s["gd_batch1_max_abs_dev_from_1"]
    out = [Claim("Claim E.2: ‖ΔW₂W₁h‖_R/(‖ΔW₂‖_R‖W₁h‖_R) after a batch-1 GD step", "exactly 1",
                 f"max \\|ratio − 1\\| = {dev:.1e}", _yes(dev < 1e-3))]
    for name in ("GD, batch B", "AdamW, batch 1", "AdamW, batch B"):
        key = next((k for k in s if k.startswith(name) and k.endswith("step0")), None)
        if key:
            out.append(Claim(f"Claim E.2 for {name} (first step)", "below 1 (how far it moves)",
                             f"{s[key]['mean']:.3f}, slope vs width {_fit(s[key])}", "shown", (_est(s[key]),)))
    return out


def _claims_coord(opt: str) -> Callable[[Summary], list[Claim]]:
    def claims(s: Summary) -> list[Claim]:
        f = s["fits"]
        mup = {(p, ax): f[f"{p}.h_rms.{ax}.gmean"] for p in ("mup_k1", "mup_k2") for ax in ("width", "depth")}
        sp = {ax: f[f"sp.h_rms.{ax}.gmean"] for ax in ("width", "depth")}
        worst = max(abs(_num(v["slope"])) for v in mup.values())
        measured = "; ".join(f"{p[4:]} {ax} {_fit(v)}" for (p, ax), v in mup.items())
        measured += f"; SP width {_fit(sp['width'])}, depth {_fit(sp['depth'])}"
        late = sorted(int(k.rsplit(".step", 1)[1]) for k in f if k.startswith("mup_k2.h_rms.depth.step"))
        if late and late[-1] > 10:
            measured += (f"; k2 at step {late[-1]}: width {_fit(f[f'mup_k2.h_rms.width.step{late[-1]}'])}, "
                         f"depth {_fit(f[f'mup_k2.h_rms.depth.step{late[-1]}'])}")
        if "mup_k2.init_fit" in f:
            measured += f"; k2 at init {_init_fit(f['mup_k2.init_fit'])}"
        ok = worst < 0.1 and min(_num(v["slope"]) for v in sp.values()) > 0.1
        return [Claim(f"coord-{opt}: ‖h_L‖_R slopes, μP (k=1 and k≥2 rules) vs SP",
                      "μP \\|slope\\| < 0.1; SP clearly positive", measured, _yes(ok),
                      tuple(_est(v) for v in (*mup.values(), *sp.values())))]
    return claims


def _num(x: Any) -> float:
    """A summary number; None (JSON's spelling of a non-finite one) reads as NaN and shows as "n/a"."""
    return math.nan if x is None else float(x)


def _transfer_verdict(t: dict[str, Any]) -> str:
    """μP's η transfer: holds when every target shape's optimum shift interval lies within ±1 octave of the base's
    (and every optimum is bracketed: sweep_panels.summarise), fails when some interval lies wholly beyond it, and is
    undecided otherwise (intervals too wide, an optimum on a grid edge, or the base shape not run)."""
    if not t:
        return "undecided"
    if _num(t["shift_upper"]) <= 1.0:
        return "yes"
    if _num(t["shift_lower"]) > 1.0:
        return "**no**"
    return "undecided"


def _iv(d: dict[str, Any], digits: int = 2) -> str:
    if not math.isfinite(_num(d["value"])):
        return "n/a"
    if d.get("lo") is None or not math.isfinite(_num(d["lo"])):
        return f"{_num(d['value']):+.{digits}f}"
    return f"{_num(d['value']):+.{digits}f} [{_num(d['lo']):+.{digits}f}, {_num(d['hi']):+.{digits}f}]"


def _regret(d: dict[str, Any]) -> str:
    v = _num(d["value"])
    if not math.isfinite(v):
        return "diverged" if d.get("diverged") else "n/a"
    text = f"{100 * v:.1f}%"
    if d.get("lo") is not None and math.isfinite(_num(d["lo"])):
        text += f" [{100 * _num(d['lo']):.1f}, {100 * _num(d['hi']):.1f}]"
    return ("≥ " if d.get("clamped") else "") + text


def _transfer_text(t: dict[str, Any], symbol: str) -> str:
    """Worst optimum shift (octaves) and worst regret over the target shapes, with intervals."""
    if not t:
        return "base shape not run"
    ws, wr = t["worst_shift"], t["worst_regret"]
    bracket = "" if t["all_bracketed"] else ", an optimum not bracketed"
    return (f"shift {_iv(ws)} oct at {symbol}={ws['shape']}, regret {_regret(wr)} at {symbol}={wr['shape']}"
            f"{bracket}")


def _shift_estimates(s: Summary, key: str) -> tuple[Estimate, ...]:
    """The optimum shift of every target shape (base excluded), for the rerun-inside check."""
    an = s[key]
    base = an.get("base", {}).get("shape")
    out = []
    for shape, v in an.items():
        if shape in ("base", base):
            continue
        sh = v["shift"]
        ok = sh.get("lo") is not None and math.isfinite(_num(sh["lo"]))
        out.append(Estimate(_num(sh["value"]), _num(sh["lo"]) if ok else None, _num(sh["hi"]) if ok else None))
    return tuple(out)


def _transfer_claim(s: Summary, claim: str, expected: str, mup: str, other: str, axis: str) -> Claim:
    symbol = "n" if axis == "width" else "L"
    tm, to = s[f"transfer_summary.{mup}.{axis}"], s[f"transfer_summary.{other}.{axis}"]
    widest = max(_num(tm.get("widest_optimum_interval")), _num(to.get("widest_optimum_interval")))
    name = {"sp": "SP", "mup_k1": "k=1 rule", "mup_k2": "k≥2 rule"}
    measured = (f"{name[mup]}: {_transfer_text(tm, symbol)}; {name[other]}: {_transfer_text(to, symbol)}; "
                + (f"widest optimum interval {widest:.2f} oct" if math.isfinite(widest) else "no optimum interval"))
    am, ao = s[f"transfer.{mup}.{axis}"], s[f"transfer.{other}.{axis}"]
    largest = max((k for k in am if k != "base"), key=int, default=None)
    if largest is not None and "best_loss" in am[largest] and largest in ao:
        measured += (f"; best loss at {symbol}={largest}: {name[mup]} {_num(am[largest]['best_loss']):.3g}, "
                     f"{name[other]} {_num(ao[largest]['best_loss']):.3g}")
    return Claim(claim, expected, measured, _transfer_verdict(tm),
                 _shift_estimates(s, f"transfer.{mup}.{axis}") + _shift_estimates(s, f"transfer.{other}.{axis}"))


def _init_fit(f: dict[str, Any]) -> str:
    return (f"‖h_L‖² = {_num(f['A']):.3g} + c/L, c = {_num(f['c']):.3g} [{_num(f['c_lo']):.3g}, {_num(f['c_hi']):.3g}] "
            f"(‖h0‖² = {_num(f['h0_sq_mean']):.3g})")


def _last_coord_step(s: Summary) -> int:
    return max(int(k.rsplit(".step", 1)[1]) for k in s if k.startswith("coord.mup_k2.depth.step"))


def _claims_fig1(s: Summary) -> list[Claim]:
    mw, md = s["coord.mup_k2.width.step10"], s["coord.mup_k2.depth.step10"]
    pw, pd = s["coord.sp.width.step10"], s["coord.sp.depth.step10"]
    T = _last_coord_step(s)
    lw, ld = s[f"coord.mup_k2.width.step{T}"], s[f"coord.mup_k2.depth.step{T}"]
    expected = "μP: every optimum within ±1 octave of the base's (95% interval); SP shown beside"
    return [
        Claim("Fig. 1 (a,b): ‖h_L‖_R at step 10, pre-norm, Muon-Kimi-AdamW", "μP flat, SP grows",
              f"μP width {_fit(mw)}, depth {_fit(md)}; SP width {_fit(pw)}, depth {_fit(pd)}; μP at step {T}: "
              f"width {_fit(lw)}, depth {_fit(ld)}; μP at init {_init_fit(s['coord_init_fit.mup_k2'])}",
              _yes(max(abs(mw["slope"]), abs(md["slope"])) < 0.1 and min(pw["slope"], pd["slope"]) > 0.1),
              tuple(_est(v) for v in (mw, md, pw, pd))),
        _transfer_claim(s, "Fig. 1 (c): η_base transfer across widths (sub-grid optimum, regret)", expected,
                        "mup_k2", "sp", "width"),
        _transfer_claim(s, "Fig. 1 (d): η_base transfer across depths (sub-grid optimum, regret)", expected,
                        "mup_k2", "sp", "depth"),
    ]


def _claims_fig2(s: Summary) -> list[Claim]:
    sp, mup = s["coord.sp.depth.step10"], s["coord.mup_k2.depth.step10"]
    return [Claim("Fig. 2: no normalization, ‖h_L‖_R vs depth at step 10", "SP grows with L, μP flat",
                  f"SP {_fit(sp)}, μP {_fit(mup)}; μP at init {_init_fit(s['coord_init_fit.mup_k2'])}",
                  _yes(sp["slope"] > 0.1 and abs(mup["slope"]) < 0.1), (_est(sp), _est(mup))),
            _transfer_claim(s, "Fig. 2: no normalization, η_base transfer across depths",
                            "μP: every optimum within ±1 octave of the base's (95% interval); SP shown beside",
                            "mup_k2", "sp", "depth")]


def _claims_depth_k(s: Summary) -> list[Claim]:
    labels = {"adamw": "AdamW", "muon_kimi_adamw": "Muon-Kimi-AdamW"}
    return [_depth_k_claim(s, o, labels.get(o, o)) for o in s["optimizers"]]


def _depth_k_claim(s: Summary, opt: str, label: str) -> Claim:
    """One optimizer's rows of the depth-k summary (`transfer.<opt>.<param>.depth`), read as a Fig. 1 sweep."""
    flat = {k.replace(f".{opt}.", ".", 1): v for k, v in s.items() if f".{opt}." in k}
    return _transfer_claim(flat, f"depth-k: η_base transfer over depth, k≥2 vs k=1 rule, {label}",
                           "k≥2: every optimum within ±1 octave (95% interval); k=1 shown beside (paper: drifts to "
                           "larger η, v2 Fig. 2)",
                           "mup_k2", "mup_k1", "depth")


V2_OPTIMIZERS = {"v2-shampoo": ("Shampoo-AdamW", "6"), "v2-sophia": ("Sophia", "8")}
"""The v2 optimizer figures (figures.zheng_v2_optimizers): id -> (optimizer label, the paper's figure); the labels are
the module's own (checked by tests/test_zheng_v2_optimizers.py; this module imports no figure module)."""


def _claims_v2(fig_id: str) -> Callable[[Summary], list[Claim]]:
    """The v2 Shampoo-AdamW / Sophia figures: μP's η transfer over width and over depth, SP beside, read as
    Fig. 1 (c, d)."""
    label, paper_fig = V2_OPTIMIZERS[fig_id]
    expected = f"μP: every optimum within ±1 octave of the base's (95% interval); SP shown beside (v2 Fig. {paper_fig})"

    def claims(s: Summary) -> list[Claim]:
        return [_transfer_claim(s, f"{fig_id}: η_base transfer across {axis}s, {label} (sub-grid optimum, regret)",
                                expected, "mup_k2", "sp", axis) for axis in ("width", "depth")]
    return claims


def _claims_wd1(s: Summary) -> list[Claim]:
    f, g = s["slope_sigma1_W_up_inner_vs_eta_over_lambda"], s["slope_w_rms_W_up_vs_eta_over_lambda"]
    ratio = s["matched_ratio_sigma1_max_over_min"]
    return [
        Claim("wd1: σ₁ ∝ (η/λ)^p at steady state (W_up, blocks 2..L)", "p = 0.5 ± 0.1", f"p = {_fit(f)}",
              _yes(abs(f["value"] - 0.5) <= 0.1), (_est(f),)),
        Claim("wd1: weight RMS ∝ (η/λ)^p (W_up)", "p = 0.5 ± 0.1", f"p = {_fit(g)}", _yes(abs(g["value"] - 0.5) <= 0.1),
              (_est(g),)),
        Claim("wd1: matched η/λ runs overlap", "σ₁ within ±15%", f"max/min σ₁ = {ratio:.2f}", _yes(ratio <= 1.3)),
    ] + _claims_wd1_joint(s)


JOINT_KEY = "joint_sigma1_W_up_inner"


def _claims_wd1_joint(s: Summary) -> list[Claim]:
    """The joint fit σ₁ ∝ η^a λ^−b over wd1's factorial (η, λ) grid; absent from summaries written before it existed."""
    if JOINT_KEY not in s:
        return []
    j = s[JOINT_KEY]
    rejected = bool(j["a_equals_b_rejected"])
    return [Claim("wd1: joint fit σ₁ ∝ η^a λ^−b, η and λ varied independently (W_up, blocks 2..L)",
                  "a = b (the ½-law's form; both 0.5)",
                  f"a = {_fit(j['a'])}, b = {_fit(j['b'])}; a − b = {_fit(j['a_minus_b'])}: a = b "
                  + ("**rejected**" if rejected else "not rejected"),
                  _yes(not rejected), (_est(j["a"]), _est(j["b"])))]


def _claims_wd2(s: Summary) -> list[Claim]:
    return [Claim("wd2: σ₁ ∝ d^α at fixed (η, λ)", "α ≈ 0.75 in the paper's LLaMA runs (setting-dependent)",
                  f"α̂ = {_fit(s['alpha'])}", "measured", (_est(s["alpha"]),))]


def _claims_wd3(s: Summary) -> list[Claim]:
    out = []
    for key in sorted(k for k in s if k.startswith("sigma1_exponent_")):
        f = s[key]
        rule = key.removeprefix("sigma1_exponent_")
        v = f.get("slope", f.get("value"))
        ok = abs(v - f["predicted"]) < 0.1 if rule != "fan_measured" else abs(v) < 0.1
        out.append(Claim(f"wd3: σ₁ width exponent under λ₂ ∝ d^e ({rule})",
                         f"{f['predicted']:+.2f} (−½ + α̂ − e/2, e = {f['e']:.2f})"
                         + ("; flat" if rule == "fan_measured" else ""), _fit(f), _yes(ok), (_est(f),)))
    return out + _claims_wd3_joint(s)


def _claims_wd3_joint(s: Summary) -> list[Claim]:
    """Out of sample: per rule, the joint law's prediction (â, b̂ from wd1, α̂ from wd2) beside the ½-law's, and
    each one's error against the measured exponent; the verdict is the joint law's (|error| < 0.1, as above). Absent
    from summaries written before the joint law existed."""
    out = []
    for key in sorted(k for k in s if k.startswith("sigma1_exponent_")):
        f = s[key]
        if "predicted_joint" not in f:
            continue
        rule = key.removeprefix("sigma1_exponent_")
        pj, ph = f["predicted_joint"], f["predicted_half"]
        ej, eh = f["error_joint"], f["error_half"]
        flat = "; joint law predicts flat (e*)" if f.get("flat_under_joint") else ""
        out.append(Claim(f"wd3 out of sample ({rule}): joint law vs ½-law prediction of σ₁'s width exponent",
                         f"e = {f['e']:.2f}: joint {_fit(pj)}; ½-law {_fit(ph)}{flat}",
                         f"{_fit(f)}; error joint {ej:+.3f}, ½-law {eh:+.3f}",
                         _yes(math.isfinite(ej) and abs(ej) < 0.1), (_est(f),)))
    return out


WD4_LABELS = {"joint_invariant": "joint law's flat rule λ₂ ∝ d^e*", "fan_paper": "Fan's λ₂ ∝ √d",
              "mup_fixed": "μP, fixed λ", "fan_measured": "measured-α rule"}


def _claims_wd4(s: Summary) -> list[Claim]:
    """Per rule: zero-shot transfer of the η and λ multipliers from d0, each by the transfer verdict."""
    out = []
    for rule in s["rules"]:
        parts, verdicts, estimates = [], [], ()
        for knob, name in (("eta", "η"), ("lam", "λ")):
            t = s.get(f"transfer_summary.{rule}.{knob}", {})
            parts.append(f"{name}: {_transfer_text(t, 'd')}")
            verdicts.append(_transfer_verdict(t))
            if t:
                estimates += _shift_estimates(s, f"transfer.{rule}.{knob}")
        verdict = ("**no**" if "**no**" in verdicts else "undecided" if "undecided" in verdicts else "yes")
        out.append(Claim(f"wd4: zero-shot transfer of η_base and λ_base, {WD4_LABELS.get(rule, rule)} "
                         f"(e = {s['e'][rule]:.2f})", "both optima within ±1 octave of d0's (95% interval)",
                         "; ".join(parts), verdict, estimates))
    return out


CLAIMS: dict[str, Callable[[Summary], list[Claim]]] = {
    **{fid: (lambda s, fid=fid: _assumption(s, fid, *ASSUMPTIONS[fid])) for fid in ASSUMPTIONS},
    "e1": _claims_e1, "e2": _claims_e2, "1": _claims_fig1, "2": _claims_fig2, "depth-k": _claims_depth_k,
    **{fid: _claims_v2(fid) for fid in V2_OPTIMIZERS},
    **{f"coord-{o}": _claims_coord(o) for o in COORD_OPTIMIZERS},
    "wd1": _claims_wd1, "wd2": _claims_wd2, "wd3": _claims_wd3, "wd4": _claims_wd4,
}
"""Figure id -> the claims its summary measures, in the table's order."""


def summary_path(root: Path, fig_id: str) -> Path:
    """`<root>/summary_<id>.json` (the committed gallery layout) or `<root>/<id>/summary_<id>.json` (results/)."""
    flat = root / f"summary_{fig_id}.json"
    return flat if flat.exists() else root / fig_id / f"summary_{fig_id}.json"


def load(root: Path | None, fig_id: str) -> Summary | str | None:
    """The summary, None when absent, or a one-line reason when it cannot be read."""
    if root is None:
        return None
    path = summary_path(root, fig_id)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"unreadable summary {path.name} ({type(exc).__name__})"
    return data if isinstance(data, dict) else f"malformed summary {path.name} (not an object)"


def _claims(s: Summary | str | None, fig_id: str) -> list[Claim] | str | None:
    if s is None or isinstance(s, str):
        return s
    try:
        return CLAIMS[fig_id](s)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"malformed summary_{fig_id}.json ({type(exc).__name__}: {exc})"


def engine_of(s: Summary) -> str:
    prov = s.get("provenance") if isinstance(s, dict) else None
    return str(prov.get("engine_version", "unknown")) if isinstance(prov, dict) else "unknown"


def _seeds(s: Summary) -> set:
    prov = s.get("provenance")
    return set(prov.get("seeds") or []) if isinstance(prov, dict) else set()


def comparable(first: Summary, rerun: Summary) -> bool:
    """A rerun is comparable when it has the first run's scale and none of its seeds."""
    return first.get("scale") == rerun.get("scale") and not (_seeds(first) & _seeds(rerun))


def _inside(first: Claim, rerun: Claim) -> str:
    pairs = [(e, r) for e, r in zip(first.estimates, rerun.estimates) if e.contains(r.value) is not None]
    if not pairs:
        return "—"
    n_in = sum(bool(e.contains(r.value)) for e, r in pairs)
    if len(pairs) == 1:
        return _yes(n_in == 1)
    return f"{n_in}/{len(pairs)}" if n_in == len(pairs) else f"**{n_in}/{len(pairs)}**"


def _verdict(first: str, rerun: str | None) -> str:
    if rerun is None or rerun == first:
        return first
    if {first, rerun} <= {"yes", "**no**"}:
        return "borderline"
    return first


def rows(root: Path, rerun_root: Path | None = None) -> Iterator[tuple[str, ...]]:
    """Every row of the table: (claim, expected, measured, rerun, inside, scale, holds)."""
    for fig_id, claims_of in CLAIMS.items():
        first_summary, rerun_summary = load(root, fig_id), load(rerun_root, fig_id)
        first, rerun = _claims(first_summary, fig_id), _claims(rerun_summary, fig_id)
        if not isinstance(first, list):
            yield (f"{fig_id}", "", first or "not run", "", "", "", "")
            continue
        if isinstance(rerun, list) and not comparable(first_summary, rerun_summary):
            rerun = "rerun not comparable (other scale, or shared seeds)"
        scale = str(first_summary.get("scale", ""))
        stale = [v for v in {engine_of(first_summary), *([engine_of(rerun_summary)] if isinstance(rerun, list) else [])}
                 if v != ENGINE_VERSION]
        by_claim = {c.claim: c for c in rerun} if isinstance(rerun, list) else {}
        for c in first:
            r = by_claim.get(c.claim)
            rerun_text = r.measured if r else (rerun if isinstance(rerun, str) else "not rerun")
            verdict = _verdict(c.verdict, r.verdict if r else None)
            if stale:
                verdict += f" (**stale**: {', '.join(sorted(stale))})"
            yield (c.claim, c.expected, c.measured, rerun_text, _inside(c, r) if r else "—", scale, verdict)


def markdown(root: Path, rerun_root: Path | None = None) -> str:
    return HEADER + "".join("| " + " | ".join(row) + " |\n" for row in rows(root, rerun_root))


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m figures.results_table", description=__doc__.split("\n")[0],
                           raise_errors=False)
    parser.add_argument("--figures", default="figures/gallery/summaries",
                        help="folder holding summary_<id>.json or <id>/summary_<id>.json")
    parser.add_argument("--rerun", default=None,
                        help="the same for the fresh-seed rerun (default: <figures>/rerun when it exists)")
    args = parser.parse_args(argv)
    root = Path(args.figures)
    if not root.is_dir():
        print(f"error: no summaries folder {root} (run python paper_repro.py --figure all first)", file=sys.stderr)
        return 2
    rerun = Path(args.rerun) if args.rerun else root / "rerun"
    sys.stdout.write(markdown(root, rerun if rerun.is_dir() else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
