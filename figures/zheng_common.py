"""Small helpers shared by the Zheng et al. figure modules: reading one number out of a run's records, grouping runs,
and log-log slopes with confidence intervals (synthetic.fit)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from synthetic.fit import FitError, loglog_fit, seed_t_interval


def value(result, quantity: str, layer: str, step: int | None = None, index: int = 0) -> float:
    """One measured number of a run (the last recorded step when `step` is None); NaN if absent (e.g. diverged)."""
    best_step, best = -1, math.nan
    for r in result.records:
        if r.quantity == quantity and r.layer == layer and r.index == index:
            if step is None:
                if r.step > best_step:
                    best_step, best = r.step, r.value
            elif r.step == step:
                return float(r.value)
    return float(best)


def series(result, quantity: str, layer: str) -> dict[int, float]:
    """step -> value of one quantity at one layer."""
    return {r.step: float(r.value) for r in result.records if r.quantity == quantity and r.layer == layer and r.index == 0}


def group(results: Iterable, key: Callable[[Any], Hashable]) -> dict[Hashable, list]:
    out: dict[Hashable, list] = defaultdict(list)
    for res in results:
        out[key(res)].append(res)
    return dict(out)


def final_loss(result, quantity: str = "test_loss") -> float:
    """Final (test) loss; NaN if the run diverged at any step."""
    if result.diverged_at is not None:
        return math.nan
    return value(result, quantity, "model")


def slope(xs: Sequence[float], ys: Sequence[float], seeds: Sequence[Any] | None = None) -> dict[str, float]:
    """Log-log slope with a 95% CI (the per-seed t-interval when there are several seeds, else the OLS t-interval),
    its standard error and degrees of freedom (so figures.claims can form the interval at its own level); NaNs when
    the fit is impossible (e.g. every point diverged)."""
    try:
        f = loglog_fit(xs, ys, groups=seeds)
    except FitError:
        return {"slope": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0, "se": math.nan, "df": math.nan}
    df = f.n_groups - 1 if f.method == "seed_t" else f.n - 2
    se = (f.ci_high - f.ci_low) / 2 / float(stats.t.ppf(0.975, df))
    out = {"slope": f.slope, "ci_low": f.ci_low, "ci_high": f.ci_high, "n": f.n, "se": se, "df": df,
           "n_seeds": f.n_groups, "method": f.method}
    if f.per_group:
        out["per_seed"] = dict(f.per_group)
    return out


def fmt_slope(s: dict[str, float]) -> str:
    if not np.isfinite(s["slope"]):
        return "n/a"
    return f"{s['slope']:+.3f} [{s['ci_low']:+.3f}, {s['ci_high']:+.3f}]"


def inverse_depth_fit(depths: Sequence[float], sq_norms: Sequence[float], seeds: Sequence[Any]) -> dict[str, float]:
    """Fit ‖h_L‖²_R = A + c/L by least squares in 1/L, per seed; c and A with the 95% t-interval over the per-seed
    estimates (the seed is the replicate). Under α ∝ 1/L the random part of the residual sum at init adds c/L to
    ‖h0‖²_R, so A ≈ ‖h0‖²_R and c > 0 make a k ≥ 2 coordinate check fall with depth before any training."""
    per: dict[Any, list[tuple[float, float]]] = defaultdict(list)
    for L, y, s in zip(depths, sq_norms, seeds):
        if np.isfinite(y):
            per[s].append((1.0 / L, y))
    fits = []
    for pts in per.values():
        if len({p[0] for p in pts}) >= 2:
            x, y = np.array(pts).T
            c, a = np.polyfit(x, y, 1)
            fits.append((c, a))
    if len(fits) < 2:
        return {"c": math.nan, "c_lo": math.nan, "c_hi": math.nan, "A": math.nan, "A_lo": math.nan, "A_hi": math.nan,
                "n_seeds": len(fits)}
    out: dict[str, float] = {"n_seeds": len(fits)}
    for j, name in enumerate(("c", "A")):
        m, lo, hi = seed_t_interval([f[j] for f in fits])
        out.update({name: m, f"{name}_lo": lo, f"{name}_hi": hi})
    return out
