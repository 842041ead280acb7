"""synthetic.rules: the registry (names come from it, engine optimizers are role maps, registration undoable) and the
frozen-run contract for the matrix rules (a diverged run with NaN gradients keeps its weights, the others are
unaffected)."""

from __future__ import annotations

import pytest
import torch

from synthetic.config import ModelConfig, OptimConfig, RunConfig
from synthetic.errors import ConfigError
from synthetic.optim import StackedOptimizer
from synthetic.rules import engine_optimizer_names, registered, role_rules, rule_names
from synthetic.rules.sgd import SGD


def test_names_come_from_the_registry():
    assert {"sgd", "adamw", "lion", "muon", "muon_kimi", "shampoo", "soap", "sso"} <= set(rule_names())
    assert {"muon_kimi_adamw", "muon_adamw", "shampoo_adamw", "shampoo", "soap", "sso"} <= set(engine_optimizer_names())
    assert role_rules("shampoo_adamw") == {"input": "adamw", "hidden": "shampoo", "output": "adamw",
                                           "input_bias": "adamw", "hidden_bias": "adamw"}
    assert role_rules("soap")["hidden_bias"] == "adamw"
    with pytest.raises(ConfigError, match="unknown optimizer 'nope'"):
        RunConfig(model=ModelConfig(width=4, depth=1), optim=OptimConfig(name="nope")).validate()


def test_registration_is_undone():
    class Plain(SGD):
        name = "plain_sgd_test"
        theory = "sgd"

    with registered((Plain(),), (("plain_sgd_test", "plain_sgd_test", None),)):
        assert "plain_sgd_test" in rule_names() and "plain_sgd_test" in engine_optimizer_names()
        RunConfig(model=ModelConfig(width=4, depth=1), optim=OptimConfig(name="plain_sgd_test")).validate()
    assert "plain_sgd_test" not in rule_names() and "plain_sgd_test" not in engine_optimizer_names()


@pytest.mark.parametrize("rule", ["shampoo", "soap", "sso"])
def test_frozen_run_keeps_weights(rule):
    gen = torch.Generator().manual_seed(3)
    M, shape = 3, (2, 5, 4)
    p0 = torch.randn(M, *shape, generator=gen, dtype=torch.float64)
    grads = [torch.randn(M, *shape, generator=gen, dtype=torch.float64) for _ in range(3)]
    hps = {"w": {"lr": [0.1, 0.01, 0.05], "wd": [0.1, 0.0, 0.3], "eps": [1e-8, 1e-6, 1e-8]}}
    cfg = OptimConfig(name=rule, momentum=0.9 if rule == "sso" else 0.0)

    def run(alive=None, poison=False):
        p = p0.clone()
        opt = StackedOptimizer({"w": p}, {"w": rule}, hps, cfg)
        for g in grads:
            g = g.clone()
            if poison:
                g[1] = float("nan")
            opt.step({"w": g}, alive)
        return p

    whole = run()
    assert not torch.equal(whole, p0)
    frozen = run(torch.tensor([True, False, True]), poison=True)
    assert torch.equal(frozen[1], p0[1])
    assert torch.equal(frozen[0], whole[0]) and torch.equal(frozen[2], whole[2])


def test_rule_identity_of_package_rules_and_of_subclasses_outside_it():
    """A package rule enters run ids by the version it declares (Muon 2), or not at all (AdamW); a rule outside the
    package by its own declared version, else by its source, even when it subclasses a versioned package rule (it
    must not inherit Muon's "2": an edit of it would then keep serving the old cached numbers)."""
    from synthetic.rules import get_rule
    from synthetic.rules.base import rule_identity
    from synthetic.rules.muon import Muon

    assert rule_identity(get_rule("muon")) == "v2" and rule_identity(get_rule("sso")) == "v2"
    assert rule_identity(get_rule("adamw")) is None

    class MyMuon(Muon):
        name = "my_muon"

    class MyVersionedMuon(Muon):
        name = "my_versioned_muon"
        version = "7"

    assert rule_identity(MyMuon()).startswith("src") and rule_identity(MyVersionedMuon()) == "v7"
    instance = MyMuon()
    instance.version = "9"
    assert rule_identity(instance) == "v9"
