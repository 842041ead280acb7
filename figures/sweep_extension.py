"""Auto-extension of η sweeps whose optimum sits on the grid's edge.

A figure's `extend(ctx, results)` returns the runs still to train; `figures.registry.run_figure` trains them and asks
again, until nothing is missing or `MAX_ROUNDS` rounds have run. `edge_extensions` is the rule the sweep figures
use: a curve (runs equal in everything but η and seed) whose best mean log loss lies on the lowest or highest η gets
one more grid step beyond that edge, for all its seeds, until the optimum is bracketed, the new point diverges
(the optimum then sits next to the stability edge, reported as such), or `LIMITS` is reached.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from typing import Literal

import numpy as np

from figures.transfer_metric import Sweep

MAX_ROUNDS = 6
LIMITS = (-24.0, 4.0)
"""Bounds on log₂ η_base beyond which a sweep is never extended."""


Knob = Literal["eta", "lam"]
"""The BaseHP field a sweep varies: the base learning rate or the base weight decay."""


def curve_key(config, knob: Knob = "eta") -> Hashable:
    """What identifies a sweep curve: the run's config with the swept base value and the seed taken out."""
    return replace(config, seed=0, base=replace(config.base, **{knob: 1.0}))


def sweep_of(results: Sequence, loss: Callable[[object], float], knob: Knob = "eta",
             x_of: Callable[[object], float] | None = None) -> Sweep:
    """The Sweep of one curve's results over log₂ of the swept base value, or over `x_of(result)` when given (seeds
    as rows; missing cells count as diverged)."""
    if x_of is None:
        def x_of(r) -> float:
            return math.log2(getattr(r.config.base, knob))

    xs = sorted({x_of(r) for r in results})
    seeds = sorted({r.config.seed for r in results})
    table = np.full((len(seeds), len(xs)), np.nan)
    for r in results:
        table[seeds.index(r.config.seed), xs.index(x_of(r))] = loss(r)
    table[np.isnan(table)] = np.inf
    return Sweep(np.array(xs), table, tuple(seeds))


def next_point(sweep: Sweep, *, step: float | None = None, limits: tuple[float, float] = LIMITS) -> float | None:
    """The log₂ value one step (default: the grid's smallest spacing) beyond the edge holding a sweep's optimum, or
    None when the optimum is inside, every point diverged, the sweep has fewer than three points, or the new value
    would leave `limits`."""
    if sweep.x.size < 3:
        return None
    m = sweep.curve()
    if not np.isfinite(m).any():
        return None
    i = int(np.argmin(np.where(np.isfinite(m), m, np.inf)))
    if i not in (0, sweep.x.size - 1):
        return None
    step = float(np.min(np.diff(sweep.x))) if step is None else step
    x_new = float(sweep.x[i] + (step if i else -step))
    return x_new if limits[0] <= x_new <= limits[1] else None


def edge_extensions(results: Sequence, *, loss: Callable[[object], float], limits: tuple[float, float] = LIMITS,
                    knob: Knob = "eta") -> list:
    """Runs one grid step (the curve's smallest spacing in log₂ of the swept value) beyond the edge of every curve
    whose optimum lies on that edge (curves of fewer than three values are left alone)."""
    curves: dict[Hashable, list] = {}
    for r in results:
        curves.setdefault(curve_key(r.config, knob), []).append(r)
    new = []
    for members in curves.values():
        x_new = next_point(sweep_of(members, loss, knob), limits=limits)
        if x_new is None:
            continue
        template = members[0].config
        for seed in sorted({r.config.seed for r in members}):
            new.append(replace(template, seed=seed, base=replace(template.base, **{knob: 2.0 ** x_new})))
    return new
