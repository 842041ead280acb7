"""The fused update (`OptimConfig.fused`: one compiled kernel per group) against the eager, tiled rules it replaces:
the same training to float64 round-off, frozen runs frozen, its own run ids; a missing compiler is one ConfigError."""

from __future__ import annotations

from dataclasses import replace

import pytest
from theory.bridge import BaseHP

import synthetic.rules.base as rules_base
from synthetic.config import ModelConfig, OptimConfig, RunConfig
from synthetic.engine import run_id, train_bucket
from synthetic.errors import ConfigError
from test_engine_support import assert_only_frozen_run_unchanged


def bucket(opt: str, **optim) -> list[RunConfig]:
    eta = {"sgd": 0.05, "lion": 1e-4}.get(opt, 3e-3)
    return [RunConfig(model=ModelConfig(width=16, depth=d, d_out=3, bias=True),
                      optim=OptimConfig(name=opt, **optim), steps=15, batch_size=8, seed=s, dtype="float64",
                      base=BaseHP(sigma2=2.0, eta=eta * f, lam=0.1, n_base=1, L_base=1), measure_at=(0, 15),
                      measurements=("loss", "w_rms"))
            for d, s, f in ((2, 0, 1.0), (3, 1, 0.5), (2, 2, 2.0))]


def values(res) -> list[float]:
    return [r.value for r in res.records]


@pytest.mark.parametrize("opt, optim", [("adamw", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "nesterov": True}),
                                        ("sgd", {}), ("lion", {"betas": (0.9, 0.99)}), ("muon_kimi_adamw", {})])
def test_fused_update_trains_like_the_eager_update(opt, optim):
    eager = train_bucket(bucket(opt, **optim))
    fused = train_bucket([replace(r, optim=replace(r.optim, fused=True)) for r in bucket(opt, **optim)])
    for e, f in zip(eager, fused):
        assert e.diverged_at is None and f.diverged_at is None
        assert values(f) == pytest.approx(values(e), rel=1e-10, abs=1e-12)
        assert e.run_id != f.run_id
    assert values(eager[0]) != values(eager[2])


def test_fused_update_leaves_a_frozen_run_unchanged():
    runs = sorted((replace(r, optim=replace(r.optim, fused=True)) for r in bucket("adamw")), key=lambda r: -r.model.depth)
    assert_only_frozen_run_unchanged(runs, frozen=1)   # build takes a bucket deepest first


def test_default_run_ids_do_not_mention_fused():
    run = bucket("adamw")[0]
    assert "fused" not in run.canonical_json()
    assert "fused" in replace(run, optim=replace(run.optim, fused=True)).canonical_json()
    assert run_id(run) == run_id(replace(run, optim=replace(run.optim, fused=False)))


def test_no_compiler_is_one_config_error(monkeypatch):
    monkeypatch.setattr(rules_base, "_COMPILER_OK", False)
    runs = [replace(r, optim=replace(r.optim, fused=True)) for r in bucket("adamw")]
    with pytest.raises(ConfigError, match="optim.fused needs torch.compile"):
        train_bucket(runs)


def test_fused_runs_are_bucket_independent_and_survive_many_specialisations():
    """A fused run alone (a group of one row) equals the same run in a bucket bit for bit, and a process that trains
    fused buckets of both dtypes, with and without biases, of 1, 2 and 5 runs keeps compiling (no recompile-limit
    failure)."""
    for dtype in ("float32", "float64"):
        for bias in (False, True):
            runs = [RunConfig(model=ModelConfig(width=8, depth=2, d_out=2, bias=bias),
                              optim=OptimConfig(name=opt, fused=True, momentum=0.9 if opt == "sgd" else 0.0),
                              steps=3, batch_size=4, seed=s, dtype=dtype, base=BaseHP(eta=1e-2 * (s + 1), lam=0.1))
                     for s in range(5) for opt in ("adamw", "sgd")]
            for opt in ("adamw", "sgd"):
                mine = [r for r in runs if r.optim.name == opt]
                together = train_bucket(mine)
                pair = train_bucket(mine[:2])
                alone = train_bucket(mine[:1])
                assert values(alone[0]) == values(pair[0]) == values(together[0]), (dtype, bias, opt)
