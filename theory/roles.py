"""Layer roles, hyperparameter names and parameterizations: the shared vocabulary (ARCHITECTURE.md)."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["input", "hidden", "output", "input_bias", "hidden_bias"]
HP = Literal["multiplier", "init_var", "lr", "wd", "eps"]
Parameterization = Literal["sp", "mup_width", "mup_k1", "mup_k2"]

ROLES: tuple[Role, ...] = get_args(Role)
WEIGHT_ROLES: tuple[Role, ...] = ("input", "hidden", "output")
BIAS_ROLES: tuple[Role, ...] = ("input_bias", "hidden_bias")
HPS: tuple[HP, ...] = get_args(HP)
PARAMETERIZATIONS: tuple[Parameterization, ...] = get_args(Parameterization)
