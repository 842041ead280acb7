"""The one-pass AdamW update (`OptimConfig.one_pass`, synthetic.one_pass) against the eager, tiled update it replaces:
the same training to float64 round-off (schedules, hybrids, frozen runs included), a run's bits independent of its
bucket, one call per run and (lr, wd, ε), and one ConfigError line for what it cannot do. Its agreement with
torch.optim's per-tensor AdamW is in tests/test_optim_reference.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from theory.bridge import BaseHP

import synthetic.one_pass as one_pass
from synthetic.config import ModelConfig, OptimConfig, RunConfig, ScheduleConfig
from synthetic.engine import build, run_id, train_bucket
from synthetic.errors import ConfigError
from test_engine_support import assert_only_frozen_run_unchanged


def bucket(opt: str = "adamw", dtype: str = "float64", schedule: ScheduleConfig | None = None,
           **optim) -> list[RunConfig]:
    kw = {} if schedule is None else {"schedule": schedule}
    return [RunConfig(model=ModelConfig(width=16, depth=d, d_out=3, bias=True),
                      optim=OptimConfig(name=opt, **optim), steps=15, batch_size=8, seed=s, dtype=dtype,
                      base=BaseHP(sigma2=2.0, eta=3e-3 * f, lam=0.1, n_base=1, L_base=1), measure_at=(0, 7, 15),
                      measurements=("loss", "w_rms"), **kw)
            for d, s, f in ((3, 1, 0.5), (2, 0, 1.0), (2, 2, 2.0))]


def one_passed(runs: list[RunConfig]) -> list[RunConfig]:
    return [replace(r, optim=replace(r.optim, one_pass=True)) for r in runs]


def values(res) -> list[float]:
    return [r.value for r in res.records]


@pytest.mark.parametrize("opt, schedule", [("adamw", None), ("muon_kimi_adamw", None),
                                           ("adamw", ScheduleConfig(warmup_steps=5, warmup_start=0.1,
                                                                    decay="cosine", floor=0.1))])
def test_one_pass_trains_like_the_tiled_update(opt, schedule):
    tiled = train_bucket(bucket(opt, schedule=schedule))
    fused = train_bucket(one_passed(bucket(opt, schedule=schedule)))
    for e, f in zip(tiled, fused):
        assert e.diverged_at is None and f.diverged_at is None
        assert values(f) == pytest.approx(values(e), rel=1e-10, abs=1e-12)
        assert e.run_id != f.run_id
    assert values(tiled[1]) != values(tiled[2])  # the runs differ: agreement is not agreement of one run


def test_a_run_has_the_same_bits_alone_and_in_a_bucket():
    runs = one_passed(bucket(dtype="float32"))
    together = train_bucket(runs)
    for r, res in zip(runs, together):
        assert values(train_bucket([r])[0]) == values(res)


def test_a_frozen_run_is_left_unchanged():
    assert_only_frozen_run_unchanged(one_passed(bucket()), frozen=1)


def test_one_call_per_run_and_learning_rate():
    """μP gives the hidden role its own lr and wd: at least two calls per run, one per distinct (lr, wd, ε), the
    hidden call holding every block of both hidden groups."""
    runs = one_passed(bucket())
    model, opt = build(runs, torch.device("cpu"))
    (plan,) = opt.one_pass
    runs_of_calls = [c.run for c in plan.calls]
    assert runs_of_calls == sorted(runs_of_calls) and set(runs_of_calls) == {0, 1, 2}
    for m in range(3):
        keys = [(c.lr, c.wd, c.eps) for c in plan.calls if c.run == m]
        assert len(keys) == len(set(keys)) >= 2
    for c in plan.calls:
        groups = {g for g, _ in c.rows}
        hidden = any(g.startswith("hidden") for g in groups)
        assert all(g.startswith("hidden") for g in groups) == hidden
        if groups == {"hidden.1", "hidden.2"}:
            assert len(c.rows) == 2 * runs[c.run].model.depth
        assert all(p.is_contiguous() for p in c.params)


def test_a_strided_gradient_is_read_as_its_values():
    """torch's fused kernel walks memory in order; a transposed gradient must update as its contiguous copy does."""
    p = torch.randn(2, 8, 8, dtype=torch.float64)
    g = torch.randn(2, 8, 8, dtype=torch.float64).transpose(1, 2)
    hps = {"w": {"lr": [0.1, 0.2], "wd": [0.0, 0.1], "eps": [1e-8, 1e-8]}}
    from synthetic.rules import get_rule

    class Opt:
        t_tensor = torch.ones((), dtype=torch.float64)

        def rule_cfg(self, rule):
            return OptimConfig(betas=(0.9, 0.95))

    out = []
    for grad in (g, g.contiguous()):
        q = p.clone()
        state = {"w": {"m": torch.zeros_like(q), "v": torch.zeros_like(q)}}
        one_pass.OnePassPlan(get_rule("adamw"), ["w"], {"w": q}, state, hps, {}, 2).step(Opt(), {"w": grad}, None, None)
        out.append(q)
    assert not torch.equal(out[0], p)
    assert torch.equal(out[0], out[1])


def test_default_run_ids_do_not_mention_one_pass():
    run = bucket()[0]
    assert "one_pass" not in run.canonical_json()
    assert run_id(run) == run_id(replace(run, optim=replace(run.optim, one_pass=False)))
    assert run_id(run) != run_id(one_passed([run])[0])


@pytest.mark.parametrize("optim, message", [({"name": "sgd", "one_pass": True}, "no rule of 'sgd' has a one-pass"),
                                            ({"name": "adamw", "one_pass": True, "fused": True}, "choose one")])
def test_what_it_cannot_do_is_one_config_error(optim, message):
    run = replace(bucket()[0], optim=OptimConfig(**optim))
    with pytest.raises(ConfigError, match=message):
        run.validate()


def test_an_old_torch_is_one_config_error(monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.3.1+cpu")
    with pytest.raises(ConfigError, match=r"needs torch >= 2\.4"):
        train_bucket(one_passed(bucket())[:1])
