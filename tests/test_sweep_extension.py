"""figures.sweep_extension: an edge optimum gets one more grid step for every seed; an interior optimum, a diverged
next step or the limits stop it. No training: results are stand-ins carrying real RunConfigs."""

import math
from dataclasses import dataclass, replace

from figures.sweep_extension import curve_key, edge_extensions
from synthetic.config import ModelConfig, RunConfig
from theory.bridge import BaseHP


@dataclass
class Res:
    config: RunConfig
    loss: float


def runs(log2_etas, loss_of, seeds=(0, 1)):
    cfg = RunConfig(model=ModelConfig(width=8, depth=2))
    return [Res(replace(cfg, seed=s, base=replace(cfg.base, eta=2.0 ** e)), loss_of(e)) for e in log2_etas for s in seeds]


def extra(results, **kw):
    return sorted((math.log2(c.base.eta), c.seed) for c in edge_extensions(results, loss=lambda r: r.loss, **kw))


def test_an_edge_optimum_gets_one_more_step_for_every_seed():
    assert extra(runs([-8, -7, -6], lambda e: 2.0 ** e)) == [(-9.0, 0), (-9.0, 1)]
    assert extra(runs([-8, -6, -4], lambda e: 2.0 ** -e)) == [(-2.0, 0), (-2.0, 1)]


def test_an_interior_optimum_or_a_diverged_next_step_stops_the_extension():
    assert extra(runs([-8, -7, -6], lambda e: (e + 7) ** 2 + 1)) == []
    assert extra(runs([-9, -8, -7, -6], lambda e: math.nan if e == -9 else 2.0 ** e)) == []


def test_limits_and_short_curves_are_left_alone():
    assert extra(runs([-8, -7, -6], lambda e: 2.0 ** e), limits=(-8.0, 0.0)) == []
    assert extra(runs([-8, -7], lambda e: 2.0 ** e)) == []


def test_curves_are_told_apart_by_everything_but_eta_and_seed():
    a = runs([-8, -7, -6], lambda e: 2.0 ** e)
    b = [Res(replace(r.config, model=replace(r.config.model, width=16)), (math.log2(r.config.base.eta) + 7) ** 2 + 1)
         for r in a]
    assert curve_key(a[0].config) != curve_key(b[0].config) and curve_key(a[0].config) == curve_key(a[-1].config)
    new = edge_extensions(a + b, loss=lambda r: r.loss)
    assert {(c.model.width, math.log2(c.base.eta)) for c in new} == {(8, -9.0)}


def test_a_weight_decay_sweep_extends_lambda_and_keeps_eta():
    cfg = RunConfig(model=ModelConfig(width=8, depth=2), base=BaseHP(eta=1e-3, lam=0.1))
    res = [Res(replace(cfg, base=replace(cfg.base, lam=2.0 ** e)), 2.0 ** -e) for e in (-3, -2, -1)]
    new = edge_extensions(res, loss=lambda r: r.loss, knob="lam")
    assert [(c.base.eta, c.base.lam) for c in new] == [(1e-3, 1.0)]
