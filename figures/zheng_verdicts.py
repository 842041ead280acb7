"""The declared claims of the Zheng et al. figures, read off their summaries (figures.claims): flatness of the
assumption ratios and coordinate checks, Claims E.1 and E.2, and η transfer as a drift rate (figures.transfer_claims).
Each figure module passes its function here to its `FigureSpec.claims`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from figures.claims import Above, Claim, Estimate, Shown, Within, fmt, tolerance, weakest
from figures.transfer_claims import DRIFT_TOL, drift_claims

Summary = Mapping[str, Any]

FLAT = tolerance("FLAT", 0.1, "a log-log slope of 0.1 is 1.07× per doubling, 1.3× over 16×: Θ(1) at the grids' range")
"""What "flat" (Θ(1)) means for a log-log slope against width or depth; "grows" is a slope above it."""
EXACT = tolerance("EXACT", 1e-3, "an identity; float32 round-off over one step is far below 1e-3")
PANELS = {"input": "input", "last.1": "map 1", "last.2": "map 2"}

__all__ = ["FLAT", "EXACT", "DRIFT_TOL", "assumption_claims", "e1_claims", "e2_claims", "coord_claims",
           "fig1_claims", "fig2_claims", "depth_k_claims", "v2_claims"]


def _flat(key: str, text: str, fits: list[Mapping], detail: str, note: str = "") -> Claim:
    """Every fit's slope within ±FLAT (a conjunction; the part shown is the one reaching farthest)."""
    parts = tuple(Estimate.of_fit(f) for f in fits)
    crit = Within(0.0, FLAT)
    return Claim(key, text, crit, weakest(parts, crit), detail, expected_note=note, parts=parts)


def _grows(key: str, text: str, fits: list[Mapping], detail: str, note: str = "") -> Claim:
    """Every fit's slope above FLAT (a conjunction; the part shown is the one with the lowest bound)."""
    parts = tuple(Estimate.of_fit(f) for f in fits)
    crit = Above(FLAT.value, FLAT)
    return Claim(key, text, crit, weakest(parts, crit), detail, expected_note=note, parts=parts)


def paired_slope_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> Estimate | None:
    """Slope a − slope b as a paired contrast: per seed the difference of that seed's two slopes (same data stream
    and init draws), then the t-interval over the seeds both fits have; None where a fit kept no per-seed slopes."""
    pa, pb = a.get("per_seed"), b.get("per_seed")
    if not pa or not pb:
        return None
    return Estimate.of_seeds([pa[s] - pb[s] for s in pa if s in pb], method="paired_t")


def _exceeds(key: str, text: str, parts: list[Estimate], detail: str, note: str = "") -> Claim:
    """Every paired difference above FLAT (a conjunction; the part shown is the one with the lowest bound)."""
    crit = Above(FLAT.value, FLAT)
    return Claim(key, text, crit, weakest(parts, crit), detail, expected_note=note, parts=tuple(parts))


def _at_T(fits: Mapping[str, Any]) -> int:
    return max(int(k.split(".t")[-1]) for k in fits if k.startswith("input.t"))


def _levels(fits: Mapping[str, Any], t: int, key: str = "mean", fmt_: str = ".3f") -> str:
    return ", ".join(f"{name} {fits[f'{p}.t{t}'][key]:{fmt_}}" for p, name in PANELS.items())


def _slopes(fits: Mapping[str, Any], t: int) -> str:
    return ", ".join(f"{name} {fmt(Estimate.of_fit(fits[f'{p}.t{t}']))}" for p, name in PANELS.items())


def _informative(sizes: Mapping[str, Any], level: float) -> str:
    """Per panel, the ratio floor (1 − r)/(1 + r) that the triangle inequality sets for the largest update size r:
    a ratio near 1 is forced (uninformative) where the floor is above the level."""
    floors, forced = [], []
    for p, name in PANELS.items():
        rs = [f["max"] for k, f in sizes.items() if k.startswith(f"{p}.t") and f["max"] is not None]
        r = max(rs) if rs and all(map(math.isfinite, rs)) else math.nan
        floor = (1 - r) / (1 + r) if math.isfinite(r) else math.nan
        floors.append(f"{name} {floor:.4f}")
        if floor >= level:
            forced.append(name)
    out = f"triangle-inequality floor at the largest update: {', '.join(floors)}"
    return out + (f" (≈ 1 forced at {', '.join(forced)})" if forced else "")


ASSUMPTIONS = {
    "3": ("‖W+ΔW‖_R/(‖W‖_R+‖ΔW‖_R) flat in L (Assumption G.1)", "paper: Θ(1), ≈ 1"),
    "4": ("‖h+Δh‖_R/(‖h‖_R+‖Δh‖_R) flat in L (Assumption G.1)", "paper: Θ(1), ≈ 1"),
    "5": ("‖φ(Wh)‖_R/‖Wh‖_R flat in L (Assumption G.2)", "paper: Θ(1) (≈ 1/√2 for ReLU, not from the paper)"),
    "6": ("per-sample vs batch update alignment flat in L (Assumption G.3)", "paper: Θ(1)"),
}
UPDATES = {"3": ("‖ΔW‖_R/‖W‖_R", "ΔW = W_t − W_0"), "4": ("‖Δh‖_R/‖h‖_R", "Δh = h(x; W_t) − h(x; W_0)")}


def assumption_claims(fig_id: str) -> Callable[[Summary], list[Claim]]:
    text, note = ASSUMPTIONS[fig_id]

    def claims(s: Summary) -> list[Claim]:
        fits, level = s["fits"], s.get("level")
        T = _at_T(fits)
        detail = f"slopes at t = T: {_slopes(fits, T)}; ratio at t = T: {_levels(fits, T)}"
        if fig_id in UPDATES and "size_fits" in s and level is not None:
            detail += (f"; single-step update {UPDATES[fig_id][0]} at T: {_levels(s['size_fits'], T, fmt_='.1e')}; "
                       + _informative(s["size_fits"], level))
        out = [_flat(f"{fig_id}.flat", f"Fig. {fig_id}: {text}, slope vs L at t = T (every panel)",
                     [fits[f"{p}.t{T}"] for p in PANELS], detail, note)]
        if fig_id in UPDATES and "cum_fits" in s and level is not None:
            cum = s["cum_fits"]
            Tc = _at_T(cum)
            cdetail = (f"slopes at t = T: {_slopes(cum, Tc)}; ratio at t = T: {_levels(cum, Tc)}; update "
                       f"{UPDATES[fig_id][0]} at T: {_levels(s['cum_size_fits'], Tc, fmt_='.1e')}; "
                       + _informative(s["cum_size_fits"], level))
            out.append(_flat(f"{fig_id}.cumulative_flat",
                             f"Fig. {fig_id}: cumulative update {UPDATES[fig_id][1]}: ratio flat in L at t = T",
                             [cum[f"{p}.t{Tc}"] for p in PANELS], cdetail,
                             "≈ 1 only while the update is small (Θ statement)"))
        return out
    return claims


def e1_claims(s: Summary) -> list[Claim]:
    out = []
    for r, label in (("ratio1", "n_l = n"), ("ratio4", "n_l = 4n")):
        f = s[r]
        out.append(_flat(f"e1.{r}", f"Claim E.1 at init, {label}: ratio flat in width", [f],
                         f"{f['mean_at_max_width']:.4f} at the widest",
                         f"Gaussian limit {f['expected_limit']:.4f}"))
    return out


def e2_claims(s: Summary) -> list[Claim]:
    dev = s["gd_batch1_max_abs_dev_from_1"]
    out = [Claim("e2.gd_batch1", "Claim E.2: ‖ΔW₂W₁h‖_R/(‖ΔW₂‖_R‖W₁h‖_R) − 1 after a batch-1 GD step (max |·|)",
                 Within(0.0, EXACT), Estimate.exact(dev), f"max |ratio − 1| = {dev:.1e}", "paper: exactly 1")]
    for name in ("GD, batch B", "AdamW, batch 1", "AdamW, batch B"):
        key = next((k for k in s if k.startswith(name) and k.endswith("step0")), None)
        if key:
            e = Estimate.of_fit(s[key])
            out.append(Claim(f"e2.{name}", f"Claim E.2 for {name} (first step): slope of the ratio vs width",
                             Shown("below 1: how far it moves"), e, f"ratio {s[key]['mean']:.3f}"))
    return out


def _seeded(fits: Mapping[str, Any], n_seeds: int) -> dict[str, Any]:
    """Fits with their seed count: a summary written before the fits carried `n_seeds` states it once, as its seed
    list (every fit of a coordinate check is a per-seed t-interval over those seeds)."""
    return {k: ({"n_seeds": n_seeds, **v} if isinstance(v, dict) else v) for k, v in fits.items()}


def coord_claims(opt: str) -> Callable[[Summary], list[Claim]]:
    def claims(s: Summary) -> list[Claim]:
        f = _seeded(s["fits"], len(s.get("seeds") or ()))
        mup = {(p, ax): f[f"{p}.h_rms.{ax}.gmean"] for p in ("mup_k1", "mup_k2") for ax in ("width", "depth")}
        sp = {ax: f[f"sp.h_rms.{ax}.gmean"] for ax in ("width", "depth")}
        detail = "; ".join(f"{p[4:]} {ax} {fmt(Estimate.of_fit(v))}" for (p, ax), v in mup.items())
        late = sorted(int(k.rsplit(".step", 1)[1]) for k in f if k.startswith("mup_k2.h_rms.depth.step"))
        if late and late[-1] > 10:
            detail += (f"; k2 at step {late[-1]}: width {fmt(Estimate.of_fit(f[f'mup_k2.h_rms.width.step{late[-1]}']))}"
                       f", depth {fmt(Estimate.of_fit(f[f'mup_k2.h_rms.depth.step{late[-1]}']))}")
        sp_detail = f"SP width {fmt(Estimate.of_fit(sp['width']))}, depth {fmt(Estimate.of_fit(sp['depth']))}"
        out = [_flat(f"coord-{opt}.mup_flat", f"coord-{opt}: μP ‖h_L‖_R flat in width and depth (k=1 and k≥2 rules, "
                                              f"geometric mean over steps)", list(mup.values()), detail),
               _grows(f"coord-{opt}.sp_grows", f"coord-{opt}: SP ‖h_L‖_R grows with width and depth",
                      list(sp.values()), sp_detail, "paper: SP grows")]
        contrasts = {(p, ax): paired_slope_difference(sp[ax], mup[(p, ax)]) for (p, ax) in mup}
        if all(c is not None for c in contrasts.values()):
            out.append(_exceeds(
                f"coord-{opt}.sp_vs_mup", f"coord-{opt}: SP's ‖h_L‖_R slope exceeds μP's (paired per seed; k=1 and "
                                          f"k≥2 rules, width and depth)", list(contrasts.values()),
                "SP − μP: " + "; ".join(f"{p[4:]} {ax} {fmt(e)}" for (p, ax), e in contrasts.items()),
                "paper: SP grows, μP flat"))
        return out
    return claims


def _init_fit(f: Mapping[str, Any]) -> str:
    return (f"‖h_L‖² = {f['A']:.3g} + c/L at init, c = {f['c']:.3g} [{f['c_lo']:.3g}, {f['c_hi']:.3g}] "
            f"(‖h0‖² = {f['h0_sq_mean']:.3g})")


def _last_coord_step(s: Summary) -> int:
    return max(int(k.rsplit(".step", 1)[1]) for k in s if k.startswith("coord.mup_k2.depth.step"))


def fig1_claims(s: Summary) -> list[Claim]:
    T = _last_coord_step(s)
    mup = [s["coord.mup_k2.width.step10"], s["coord.mup_k2.depth.step10"]]
    sp = [s["coord.sp.width.step10"], s["coord.sp.depth.step10"]]
    detail = (f"μP width {fmt(Estimate.of_fit(mup[0]))}, depth {fmt(Estimate.of_fit(mup[1]))}; at step {T}: width "
              f"{fmt(Estimate.of_fit(s[f'coord.mup_k2.width.step{T}']))}, depth "
              f"{fmt(Estimate.of_fit(s[f'coord.mup_k2.depth.step{T}']))}; {_init_fit(s['coord_init_fit.mup_k2'])}")
    return [_flat("1.coord_mup", "Fig. 1 (a,b): μP ‖h_L‖_R flat in width and depth at step 10 (Muon-Kimi-AdamW, "
                                 "pre-norm)", mup, detail),
            _grows("1.coord_sp", "Fig. 1 (a,b): SP ‖h_L‖_R grows with width and depth at step 10", sp,
                   f"SP width {fmt(Estimate.of_fit(sp[0]))}, depth {fmt(Estimate.of_fit(sp[1]))}", "paper: SP grows"),
            *drift_claims(s, key="1.width", label="Fig. 1 (c)", rule="mup_k2", other="sp", axis="width"),
            *drift_claims(s, key="1.depth", label="Fig. 1 (d)", rule="mup_k2", other="sp", axis="depth",
                          other_expected="paper: SP with a pre-norm may transfer in depth too (Takeaway 3)")]


def fig2_claims(s: Summary) -> list[Claim]:
    mup, sp = s["coord.mup_k2.depth.step10"], s["coord.sp.depth.step10"]
    return [_flat("2.coord_mup", "Fig. 2: no normalization, μP ‖h_L‖_R flat in depth at step 10", [mup],
                  _init_fit(s["coord_init_fit.mup_k2"])),
            _grows("2.coord_sp", "Fig. 2: no normalization, SP ‖h_L‖_R grows with depth at step 10", [sp], "",
                   "paper: SP grows"),
            *drift_claims(s, key="2.depth", label="Fig. 2 (no normalization)", rule="mup_k2", other="sp",
                          axis="depth")]


DEPTH_K_LABELS = {"adamw": "AdamW", "muon_kimi_adamw": "Muon-Kimi-AdamW"}


def depth_k_claims(s: Summary) -> list[Claim]:
    out = []
    for opt in s["optimizers"]:
        out += drift_claims(s, key=f"depth-k.{opt}", label=f"depth-k, {DEPTH_K_LABELS.get(opt, opt)}",
                            rule="mup_k2", other="mup_k1", axis="depth",
                            analysis_key=f"transfer.{opt}.{{param}}.{{axis}}",
                            summary_key=f"transfer_summary.{opt}.{{param}}.{{axis}}",
                            other_expected="paper: the k=1 rule drifts to larger η (v2 Fig. 2)")
    return out


def v2_claims(fig_id: str, label: str) -> Callable[[Summary], list[Claim]]:
    def claims(s: Summary) -> list[Claim]:
        return [c for axis in ("width", "depth")
                for c in drift_claims(s, key=f"{fig_id}.{axis}", label=f"{fig_id} ({label})", rule="mup_k2",
                                      other="sp", axis=axis)]
    return claims
