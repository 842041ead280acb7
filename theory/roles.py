"""Layer roles, hyperparameter names and parameterizations: the shared vocabulary (ARCHITECTURE.md)."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["input", "hidden", "output", "input_bias", "hidden_bias", "block_norm", "final_norm", "output_bias"]
HP = Literal["multiplier", "init_var", "lr", "wd", "eps"]
Parameterization = Literal["sp", "mup_width", "mup_k1", "mup_k2"]

ROLES: tuple[Role, ...] = get_args(Role)
WEIGHT_ROLES: tuple[Role, ...] = ("input", "hidden", "output")
BIAS_ROLES: tuple[Role, ...] = ("input_bias", "hidden_bias")
"""The biases of the engine's network (Condition B.3)."""
VECTOR_ROLES: tuple[Role, ...] = ("block_norm", "final_norm", "output_bias")
"""Vectors a user's model has and the engine's network does not: a norm's gain and bias at the start of each residual
branch (pre-norm; the gain is a diagonal map, its update acts like a bias there), the final norm's gain and bias
before the readout, and the readout's bias (added after the output multiplier, mup's convention). They have no init
variance or multiplier of their own (gains start at 1, biases at 0); theory.conditions derives their lr, wd and ε."""
NON_MATRIX_ROLES: tuple[Role, ...] = BIAS_ROLES + VECTOR_ROLES
"""Trained by an elementwise optimizer: a matrix optimizer (Muon, Shampoo, …) does not apply to them."""
HPS: tuple[HP, ...] = get_args(HP)
PARAMETERIZATIONS: tuple[Parameterization, ...] = get_args(Parameterization)
