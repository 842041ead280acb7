"""synthetic.config: the optimizer's rule settings (Sophia's ρ and Hessian interval, a hybrid's per-rule constants)
are part of a run's identity, absent from it at their defaults (old run ids stay), and checked in one line."""

from __future__ import annotations

import pytest

from synthetic.config import ModelConfig, OptimConfig, RuleSettings, RunConfig
from synthetic.engine import run_id
from synthetic.errors import ConfigError


def _run(optim: OptimConfig) -> RunConfig:
    return RunConfig(model=ModelConfig(width=8, depth=2, k=2, d_in=4, d_out=1), optim=optim, steps=3)


def test_defaults_leave_the_canonical_json_unchanged():
    d = _run(OptimConfig(name="sophia")).to_dict()
    assert not {"rho", "hessian_every", "rule_settings"} & set(d["optim"])


def test_each_setting_enters_the_run_id_and_round_trips():
    base = _run(OptimConfig(name="shampoo_adamw", betas=(0.95, 0.95)))
    hybrid = _run(OptimConfig(name="shampoo_adamw", betas=(0.95, 0.95),
                              rule_settings=(RuleSettings("adamw", betas=(0.9, 0.95), lr_factor=2.0),)))
    ids = {run_id(base), run_id(hybrid), run_id(_run(OptimConfig(name="sophia"))),
           run_id(_run(OptimConfig(name="sophia", rho=0.1))), run_id(_run(OptimConfig(name="sophia", hessian_every=5)))}
    assert len(ids) == 5
    assert RunConfig.from_dict(hybrid.to_dict()) == hybrid
    assert hybrid.optim.for_rule("adamw").betas == (0.9, 0.95) and hybrid.optim.for_rule("shampoo").betas == (0.95, 0.95)
    assert hybrid.optim.factors("adamw") == (2.0, 1.0) and hybrid.optim.factors("shampoo") == (1.0, 1.0)


@pytest.mark.parametrize("optim, message", [
    (OptimConfig(name="sophia", rho=0.0), "rho must be"),
    (OptimConfig(name="sophia", hessian_every=0), "hessian_every must be"),
    (OptimConfig(name="muon_kimi_adamw", rule_settings=(RuleSettings("shampoo"),)), "does not use"),
    (OptimConfig(name="shampoo_adamw", rule_settings=(RuleSettings("adamw", betas=(0.9, 1.0)),)), "betas of rule"),
    (OptimConfig(name="shampoo_adamw", rule_settings=(RuleSettings("adamw", lr_factor=-1.0),)), "lr_factor"),
])
def test_bad_settings_are_one_line_errors(optim, message):
    with pytest.raises(ConfigError, match=message):
        _run(optim).validate()
