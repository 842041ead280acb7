"""Deciding learning-rate transfer from η sweeps: the optimum below grid resolution, the optimum's shift between
shapes and the transfer regret, each with a bootstrap interval over seeds.

A sweep is one shape's final losses on a grid of log₂ η (rows: seeds; NaN or inf: diverged). Its curve is the mean
log loss over seeds (a diverged seed makes the point +inf: worse than any finite loss).

- Optimum: parabolic interpolation of the curve through the best grid point and its two neighbours (the vertex of the
  parabola in log₂ η, which lies within half a grid step of the best point). A best point on the grid's edge, or next
  to a diverged point, is reported as such, at the grid point.
- Regret of carrying η*_base to a target shape: L_target(η*_base) / min L_target − 1, with L_target read off the same
  local parabolas (the one centred on the grid point nearest to η*_base). 0 when the rule transfers perfectly.
- Per seed: each seed's own optimum (`per_seed_optima`), from which figures.drift fits the drift rate of η* with
  shape and its t-interval over seeds: the verdicts use that (figures.claims), not the bootstrap below.
- Intervals (drawn in the figures, descriptive only): seeds resampled with replacement (B resamples, fixed RNG seed so a summary is reproducible); shapes run
  on the same seeds are resampled together (paired: seed s is the same task and data at every shape), others
  independently; the 2.5–97.5 % order statistics, a diverged resample counted as +inf. With 3–5 seeds this interval
  is coarse; it is the honest one (the seed is the replicate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Mapping

import numpy as np

Where = Literal["inside", "low_edge", "high_edge", "next_to_divergence", "all_diverged"]
N_BOOT = 2000
BOOT_SEED = 0


@dataclass(frozen=True)
class Sweep:
    """Final losses of one shape's η sweep: `x` the sorted log₂ η grid, `loss[seed, i]` (NaN/inf: diverged), and
    the seeds of the rows when known (sweeps of several shapes with the same seeds are resampled together)."""

    x: np.ndarray
    loss: np.ndarray
    seeds: tuple | None = None

    def __post_init__(self) -> None:
        x, loss = np.asarray(self.x, dtype=float), np.atleast_2d(np.asarray(self.loss, dtype=float))
        if x.ndim != 1 or loss.shape[1] != x.size or np.any(np.diff(x) <= 0):
            raise ValueError("a sweep needs a strictly increasing log2-eta grid and one loss column per grid point")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "loss", loss)

    def curve(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Mean log loss over the seeds (`rows` picks a resample); +inf where any of them diverged."""
        loss = self.loss if rows is None else self.loss[rows]
        logs = np.where(np.isfinite(loss) & (loss > 0), np.log(np.where(loss > 0, loss, 1.0)), np.inf)
        return logs.mean(axis=0)


@dataclass(frozen=True)
class Optimum:
    x: float
    where: Where

    @property
    def resolved(self) -> bool:
        """True when the optimum is bracketed by finite points (a sub-grid estimate)."""
        return self.where == "inside"


def _parabola(x3: np.ndarray, y3: np.ndarray) -> np.ndarray:
    """Coefficients (c2, c1, c0) of the parabola through three points."""
    return np.polyfit(x3, y3, 2)


def optimum(x: np.ndarray, m: np.ndarray) -> Optimum:
    """Sub-grid optimum of a curve `m` on grid `x` (see the module docstring)."""
    finite = np.isfinite(m)
    if not finite.any():
        return Optimum(math.nan, "all_diverged")
    i = int(np.argmin(np.where(finite, m, np.inf)))
    if i == 0:
        return Optimum(float(x[0]), "low_edge")
    if i == len(x) - 1:
        return Optimum(float(x[-1]), "high_edge")
    if not (finite[i - 1] and finite[i + 1]):
        return Optimum(float(x[i]), "next_to_divergence")
    c2, c1, _ = _parabola(x[i - 1:i + 2], m[i - 1:i + 2])
    if c2 <= 0:  # flat triple (equal values): the grid point itself
        return Optimum(float(x[i]), "inside")
    return Optimum(float(np.clip(-c1 / (2 * c2), x[i - 1], x[i + 1])), "inside")


def curve_at(x: np.ndarray, m: np.ndarray, at: float) -> float:
    """The curve read at log₂ η = `at` (inside the grid): the parabola through three consecutive finite grid points
    around `at` (the window centred on the nearest point when it is finite, else shifted away from the diverged side),
    linear between two finite neighbours when no such window exists, +inf when `at` lies beyond the last finite point
    on its side."""
    j = int(np.argmin(np.abs(x - at)))
    if math.isclose(x[j], at, abs_tol=1e-12):
        return float(m[j])
    finite = np.isfinite(m)
    i = int(np.searchsorted(x, at)) - 1
    if i < 0 or i + 1 >= len(x) or not (finite[i] and finite[i + 1]):
        return math.inf
    starts = [min(max(j, 1), len(x) - 2) - 1, i - 1, i]
    for a in starts:
        if 0 <= a and a + 3 <= len(x) and finite[a:a + 3].all() and x[a] <= at <= x[a + 2]:
            return float(np.polyval(_parabola(x[a:a + 3], m[a:a + 3]), at))
    w = (at - x[i]) / (x[i + 1] - x[i])
    return float((1 - w) * m[i] + w * m[i + 1])


def curve_min(x: np.ndarray, m: np.ndarray) -> float:
    """The curve's lowest value: its parabola's vertex value when the optimum is inside, else the best grid point."""
    o = optimum(x, m)
    if o.where == "all_diverged":
        return math.inf
    return min(curve_at(x, m, o.x), float(np.min(m[np.isfinite(m)])))


def regret(x: np.ndarray, m: np.ndarray, at: float) -> tuple[float, bool]:
    """(L(at)/min L − 1, clamped): regret of using log₂ η = `at` on this curve; `clamped` when `at` lies outside the
    grid and the edge value (a lower bound when the curve keeps rising) was used."""
    if not np.isfinite(at):
        return math.nan, False
    clamped = bool(at < x[0] or at > x[-1])
    value = curve_at(x, m, float(np.clip(at, x[0], x[-1])))
    best = curve_min(x, m)
    if not np.isfinite(best):
        return math.nan, clamped
    if not np.isfinite(value):
        return math.inf, clamped
    return float(max(math.exp(value - best) - 1.0, 0.0)), clamped


@dataclass(frozen=True)
class Interval:
    value: float
    lo: float
    hi: float

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "lo": self.lo, "hi": self.hi}


def _interval(point: float, draws: np.ndarray) -> Interval:
    """2.5–97.5 % order statistics of the bootstrap draws, +inf draws (a diverged resample) kept as the largest;
    NaN draws (nothing estimable) dropped, and no interval when they are most of the draws."""
    ok = np.sort(draws[~np.isnan(draws)]) if not math.isnan(point) else np.array([])
    if ok.size < 0.5 * draws.size or ok.size == 0:
        return Interval(point, math.nan, math.nan)
    lo = ok[int(math.floor(0.025 * (ok.size - 1)))]
    hi = ok[int(math.ceil(0.975 * (ok.size - 1)))]
    return Interval(point, float(lo), float(hi))


def _resamples(n_seeds: int, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    return rng.integers(0, n_seeds, size=(n_boot, n_seeds))


def transfer(base: Sweep, targets: Mapping[str, Sweep], *, n_boot: int = N_BOOT) -> dict[str, dict]:
    """For the base shape and every target shape (a target with the base's seeds is resampled with the same seed
    indices: seed s is the same task at every shape; the base itself, as a target, has shift and regret 0): the optimum (log₂ η*, interval, where), the shift from the base's
    optimum in octaves and the regret of carrying the base's optimum, with bootstrap intervals over seeds."""
    if "base" in targets:
        raise ValueError("'base' is the key of the base shape's own entry; label the targets otherwise")
    rng = np.random.default_rng(BOOT_SEED)
    b_rows = _resamples(base.loss.shape[0], rng, n_boot)
    b_point = optimum(base.x, base.curve())
    b_draws = np.array([optimum(base.x, base.curve(r)).x for r in b_rows])
    out: dict[str, dict] = {}
    for label, t in targets.items():
        paired = t is base or (t.seeds is not None and t.seeds == base.seeds)
        t_rows = b_rows if paired else _resamples(t.loss.shape[0], rng, n_boot)
        t_point = optimum(t.x, t.curve())
        t_curves = [t.curve(r) for r in t_rows]
        t_draws = np.array([optimum(t.x, c).x for c in t_curves])
        r_point, clamped = regret(t.x, t.curve(), b_point.x)
        r_draws = np.array([regret(t.x, c, bx)[0] for c, bx in zip(t_curves, b_draws)])
        out[label] = {
            "optimum": {**_interval(t_point.x, t_draws).as_dict(), "where": t_point.where},
            "shift": _interval(t_point.x - b_point.x, t_draws - b_draws).as_dict(),
            "regret": {**_interval(r_point, r_draws).as_dict(), "clamped": clamped,
                       "diverged": bool(np.isinf(r_point))},
            "best_loss": float(np.exp(curve_min(t.x, t.curve()))),
            "grid": [float(v) for v in t.x],
            "per_seed": per_seed_optima(t),
        }
    out["base"] = {"optimum": {**_interval(b_point.x, b_draws).as_dict(), "where": b_point.where}}
    return out


def per_seed_optima(s: Sweep) -> dict[str, dict]:
    """Each seed's own sub-grid optimum (its own log-loss row, diverged points +inf), keyed by the seed (by the row
    index when the seeds are unknown): the per-seed estimates a drift rate is fitted on (figures.drift)."""
    labels = s.seeds if s.seeds is not None else range(s.loss.shape[0])
    out = {}
    for i, seed in enumerate(labels):
        o = optimum(s.x, s.curve(np.array([i])))
        out[str(seed)] = {"x": float(o.x) if math.isfinite(o.x) else None, "where": o.where}
    return out
