"""The claims of an η (or λ) sweep over shapes, read off a figure's summary: the rule's drift rate holds near 0, the
reference's drift rate lies outside that band, and the rule drifts less than the reference (a paired contrast).
The worst optimum shift and regret stay beside them as secondary numbers, with no verdict read off them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from figures.claims import Above, Claim, Outside, Within, fmt, tolerance
from figures.drift import Drift, contrast, per_seed_rates, span_doublings

DRIFT_TOL = tolerance("DRIFT", 0.15, "0.15 octave per doubling moves η* by at most 0.6 octave over a 16× extrapolation, "
                            "within one step of the sweeps' octave grid")
PARAM_NAMES = {"sp": "SP", "mup_k1": "μP k=1 rule", "mup_k2": "μP k≥2 rule", "mup_fixed": "μP, fixed λ",
               "fan_paper": "Fan's λ ∝ √d"}


def _rate(d: Drift) -> str:
    text = f"{fmt(d.estimate)} oct/doubling ({d.estimate.n} seeds"
    return text + (f", {d.censored} per-seed optima not bracketed)" if d.censored else ")")


def _secondary(s: Mapping[str, Any], key: str, symbol: str) -> str:
    """Worst shift and worst regret (points only: secondary, no interval)."""
    t = s.get(key) or {}
    if not t:
        return "base shape not run"
    ws, wr = t["worst_shift"], t["worst_regret"]
    shift = ws.get("value")
    regret = wr.get("value")
    shift_txt = f"{shift:+.2f} oct" if shift is not None and math.isfinite(shift) else "n/a"
    if regret is None or not math.isfinite(regret):
        regret_txt = "diverged" if wr.get("diverged") else "n/a"
    else:
        regret_txt = ("≥ " if wr.get("clamped") else "") + f"{100 * regret:.1f}%"
    return f"worst shift {shift_txt} at {symbol}={ws['shape']}, worst regret {regret_txt} at {symbol}={wr['shape']}"


def drift_claims(s: Mapping[str, Any], *, key: str, label: str, rule: str, other: str, axis: str,
                 analysis_key: str = "transfer.{param}.{axis}", summary_key: str = "transfer_summary.{param}.{axis}",
                 knob: str = "η", other_expected: str = "drifts (paper)", over: str | None = None,
                 other_transfers: bool = False, with_contrast: bool = True) -> list[Claim]:
    """Three claims of one sweep family (keys and summary entries formatted with `rule`/`other` and `axis`; the
    shapes are `over`, default `axis`): `rule` transfers (drift within ±DRIFT_TOL, and every per-seed optimum
    bracketed), `other` drifts (its rate outside the band; within it when `other_transfers`), and `rule` drifts less
    than `other` (paired contrast above 0, unless not `with_contrast`). A verdict that a censored optimum could
    overturn is not given (figures.drift: `toward`): a rate judged small needs every optimum bracketed (a true
    optimum may lie any distance beyond its edge, so even one that first moves a rate toward 0 can carry it past),
    a rate judged large none that could bring it nearer 0; the contrast holds only where the rule's rate is judged
    small and the other's large in that sense, and fails only where the reverse is."""
    keys_axis, axis = axis, over or axis
    symbol = {"width": "n", "depth": "L"}.get(axis, axis)
    d_rule = per_seed_rates(s[analysis_key.format(param=rule, axis=keys_axis)])
    d_other = per_seed_rates(s[analysis_key.format(param=other, axis=keys_axis)])
    span = span_doublings(d_rule.shapes)
    names = {p: PARAM_NAMES.get(p, p) for p in (rule, other)}
    detail = (f"{names[other]}: {_rate(d_other)}; over {span:.0f} doublings of "
              f"{axis}; secondary: {names[rule]} "
              f"{_secondary(s, summary_key.format(param=rule, axis=keys_axis), symbol)}; {names[other]} "
              f"{_secondary(s, summary_key.format(param=other, axis=keys_axis), symbol)}")
    small_rule, large_rule = _small(d_rule, names[rule]), _large(d_rule, names[rule])
    small_other, large_other = _small(d_other, names[other]), _large(d_other, names[other])
    out = [Claim(f"{key}.{rule}.drift", f"{label}: {names[rule]}'s {knob}* drift over {axis} (octaves per doubling)",
                 Within(0.0, DRIFT_TOL), d_rule.estimate, detail, conditions=small_rule, fail_conditions=large_rule)]
    if other_transfers:
        out.append(Claim(f"{key}.{other}.drift", f"{label}: {names[other]}'s {knob}* drift over {axis} (octaves per "
                                                 f"doubling)", Within(0.0, DRIFT_TOL), d_other.estimate,
                         f"{names[other]}: {_rate(d_other)}", expected_note=other_expected,
                         conditions=small_other, fail_conditions=large_other))
    else:
        out.append(Claim(f"{key}.{other}.drift", f"{label}: {names[other]}'s {knob}* drifts over {axis}",
                         Outside(0.0, DRIFT_TOL), d_other.estimate, f"{names[other]}: {_rate(d_other)}",
                         expected_note=other_expected, conditions=large_other, fail_conditions=small_other))
    if with_contrast:
        out.append(Claim(f"{key}.contrast", f"{label}: {names[rule]} drifts less than {names[other]} over {axis} "
                                            f"(paired per seed: |rate {names[other]}| − |rate {names[rule]}|)",
                         Above(0.0), contrast(d_rule, d_other), f"over {span:.0f} doublings of {axis}",
                         conditions=small_rule + _toward(d_other, names[other]),
                         fail_conditions=_toward(d_rule, names[rule]) + small_other))
    return out


def _small(d: Drift, name: str) -> tuple[str, ...]:
    """What keeps "the rate is small" from being decided in its favour: any optimum not bracketed."""
    return (f"{d.censored} per-seed optima of {name} not bracketed",) if d.censored else ()


def _large(d: Drift, name: str) -> tuple[str, ...]:
    """What keeps "the rate is large" from being decided in its favour: optima whose true position could bring a
    seed's rate nearer 0."""
    return _toward(d, name)


def _toward(d: Drift, name: str) -> tuple[str, ...]:
    return (f"{d.toward} per-seed optima of {name} not bracketed on the side that could bring its rate nearer 0",) \
        if d.toward else ()
