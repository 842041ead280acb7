"""Learning-rate transfer as a drift rate: how fast the optimal log₂ η moves with log₂ of the shape.

Per seed: the seed's own sub-grid optimum at every shape of a sweep (figures.transfer_metric.per_seed_optima), then
the least-squares slope of log₂ η*_s against log₂ width (or depth), in octaves per doubling. The rate is the mean of
the per-seed slopes with their t-interval (figures.claims.Estimate.of_seeds: the seed is the replicate; its coverage
at the seed counts used is measured in tests/test_drift.py). A rule transfers when its rate is near 0: a drift r
moves the optimum by r·log₂(16) = 4r octaves over a 16× extrapolation.

Two parameterizations run on the same seeds (same task, data and teacher per seed) are compared by the paired
per-seed contrast |r_other,s| − |r_rule,s|: the mean absolute drift of one minus the other's, positive when the rule
drifts less.

A per-seed optimum that is not bracketed (on the grid's edge, next to a diverged point) is still used at its grid
point, and reported as censored. Its true position lies beyond the edge (or, next to a diverged point, on either
side), so it moves that seed's least-squares rate one way: by δ·(x_i − x̄)/Σ(x − x̄)² for a shift δ of the point at
x_i. `Drift.toward` counts the censored optima that could bring a seed's rate nearer 0 (the distance is unknown, so
one that moves a rate toward 0 may also carry it past 0). A claim that a rate is small cannot be decided in its
favour on any censored optimum; one that a rate is large (it drifts) not on one that could bring it nearer 0
(figures.transfer_claims).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from figures.claims import Estimate


EDGE_SIDE = {"low_edge": (-1,), "high_edge": (1,), "next_to_divergence": (-1, 1)}
"""Which way a censored optimum's true position may lie from its grid point (−1 lower, +1 higher)."""


@dataclass(frozen=True)
class Drift:
    """Per-seed drift rates (octaves per doubling) of one sweep over shapes, how many per-seed optima were not
    bracketed, and of those how many could bring their seed's rate nearer 0 (`toward`; an optimum next to a diverged
    point may lie on either side and counts, one at the shapes' mean log moves no rate and does not)."""

    per_seed: dict[str, float]
    censored: int
    shapes: tuple[int, ...]
    toward: int = 0

    @property
    def estimate(self) -> Estimate:
        return Estimate.of_seeds(list(self.per_seed.values()))


def per_seed_rates(analysis: Mapping[str, Mapping]) -> Drift:
    """The drift of one transfer analysis (figures.transfer_metric.transfer's output, as stored in a summary: shape
    label -> entry with `per_seed`); seeds missing at some shape use the shapes they have (≥ 2)."""
    shapes = sorted(int(k) for k, v in analysis.items() if k != "base" and "per_seed" in v)
    points: dict[str, list[tuple[float, float, str]]] = {}
    censored = 0
    for shape in shapes:
        for seed, o in analysis[str(shape)]["per_seed"].items():
            if o.get("x") is None:
                continue
            censored += o.get("where") != "inside"
            points.setdefault(seed, []).append((math.log2(shape), float(o["x"]), str(o.get("where", "inside"))))
    rates, toward = {}, 0
    for seed, pts in points.items():
        x = np.array([p[0] for p in pts])
        if len(set(x)) < 2:
            continue
        rate = float(np.polyfit(x, np.array([p[1] for p in pts]), 1)[0])
        rates[seed] = rate
        for xi, _, where in pts:
            moves = {side * np.sign(xi - x.mean()) for side in EDGE_SIDE.get(where, ())} - {0}
            toward += any(m == -np.sign(rate) or rate == 0 for m in moves)
    return Drift(rates, censored, tuple(shapes), toward)


def contrast(rule: Drift, other: Drift) -> Estimate:
    """Paired per-seed |r_other| − |r_rule| over the seeds both have (positive: the rule drifts less)."""
    seeds = sorted(set(rule.per_seed) & set(other.per_seed))
    return Estimate.of_seeds([abs(other.per_seed[s]) - abs(rule.per_seed[s]) for s in seeds], method="paired_t")


def span_doublings(shapes: tuple[int, ...]) -> float:
    """log₂ of the largest over the smallest shape: how many doublings the rate is measured over."""
    return math.log2(max(shapes) / min(shapes)) if len(shapes) >= 2 else math.nan
