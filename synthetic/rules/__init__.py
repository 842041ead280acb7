"""Registered update rules (one module per family) and the engine optimizers built from them (role -> rule name).

See synthetic.rules.base for the `Rule` protocol, `register_rule` and `register_engine_optimizer`."""

from __future__ import annotations

from synthetic.rules.base import (ALL_ROLES, BIAS_ROLES, WEIGHT_ROLES, Rule, col, engine_optimizer_names, get_rule,
                                  register_engine_optimizer, register_rule, registered, role_rules, rule_names,
                                  unregister_engine_optimizer, unregister_rule)
from synthetic.rules import adamw, lion, muon, sgd, shampoo, soap, sophia, sso  # noqa: F401  (registers the rules)

# Engine optimizers: a rule name per role. A matrix rule does not train biases (the paper): AdamW does.
register_engine_optimizer("sgd", "sgd")
register_engine_optimizer("adamw", "adamw")
register_engine_optimizer("lion", "lion")
register_engine_optimizer("muon", "muon", biases="adamw")
register_engine_optimizer("muon_kimi", "muon_kimi", biases="adamw")
register_engine_optimizer("muon_kimi_adamw", {**{r: "adamw" for r in ALL_ROLES}, "hidden": "muon_kimi"})
register_engine_optimizer("muon_adamw", {**{r: "adamw" for r in ALL_ROLES}, "hidden": "muon"})
register_engine_optimizer("shampoo", "shampoo", biases="adamw")
register_engine_optimizer("shampoo_adamw", {**{r: "adamw" for r in ALL_ROLES}, "hidden": "shampoo"})
register_engine_optimizer("soap", "soap", biases="adamw")
register_engine_optimizer("sso", "sso", biases="adamw")
register_engine_optimizer("sophia", "sophia")

__all__ = ["ALL_ROLES", "BIAS_ROLES", "WEIGHT_ROLES", "Rule", "col", "engine_optimizer_names", "get_rule",
           "register_engine_optimizer", "register_rule", "registered", "role_rules", "rule_names",
           "unregister_engine_optimizer", "unregister_rule"]
