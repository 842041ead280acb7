"""The derived rules for any `nn.Module`: torch.optim parameter groups, the init, and the multipliers.

    from synthetic.parameterize import Shape, hparams, param_groups, initialize, scale_outputs
    shape = Shape(width=512, depth=16, k=2, d_in=32, d_out=10)
    hp = hparams("adamw", "mup_k2", shape, base)              # role -> LayerHP (theory.bridge.layer_hparams)
    initialize(model, roles, hp, generator)                   # every parameter ~ N(0, its role's init variance)
    scale_outputs({"input": [model.embed], "hidden": list(model.branches), "output": [model.head]}, hp)
    opt = torch.optim.AdamW(param_groups(model, roles, hp), betas=(0.9, 0.999))

`roles` assigns each parameter a role of theory.roles (input, hidden, output, input_bias, hidden_bias; block_norm for
a norm's gain and bias at the start of a residual branch, final_norm before the readout, output_bias): a mapping
from parameter-name glob patterns to roles (the first matching pattern wins), or a callable name -> role. A parameter
without a role is an error naming it. The multipliers act where the paper puts them, on the output of a map or of a
residual branch (α_l multiplies the whole branch φ(W_2 φ(W_1 h)), not each matrix), so `scale_outputs` takes the
modules whose outputs they multiply. Every number comes from theory.bridge; nothing is typed here. Weight decay is
torch's (`weight_decay` multiplied by the group's lr in AdamW), the convention of the bridge's tables.

A non-square hidden map (an FFN's up and down projections with a fixed expansion ratio, attention's maps) takes the
"hidden" role: theory.rectangular derives its entries, whose exponents equal the square map's; their Θ(1) factors in
the expansion ratio are what the base values, tuned at the base shape, hold. The attention logit scale (1/d_head) is
out of scope: the conditions bound linear maps, not the q·k product.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Callable, Iterable, Mapping, Union

import torch
from torch import nn

from synthetic.errors import ConfigError
from theory.bridge import BaseHP, LayerHP, layer_hparams
from theory.hparams import k_mismatch
from theory.roles import BIAS_ROLES, NON_MATRIX_ROLES, VECTOR_ROLES, WEIGHT_ROLES

Roles = Union[Mapping[str, str], Callable[[str], "str | None"]]


@dataclass(frozen=True)
class Shape:
    """The target network's shape as the bridge reads it."""

    width: int
    depth: int
    k: int = 2
    d_in: int = 32
    d_out: int = 1


def hparams(optimizer: str, parameterization: str, shape: Shape, base: BaseHP = BaseHP(),
            biases: bool = True) -> dict[str, LayerHP]:
    """Every role's multiplier, init variance, lr, wd and eps at `shape` (theory.bridge.layer_hparams); warns when
    the parameterization's depth rule was derived for another block depth."""
    problem = k_mismatch(parameterization, shape.k)
    if problem:
        warnings.warn(problem, stacklevel=2)
    roles = WEIGHT_ROLES + (NON_MATRIX_ROLES if biases else ())
    return layer_hparams(optimizer, parameterization, width=shape.width, depth=shape.depth, k=shape.k,
                         d_in=shape.d_in, d_out=shape.d_out, base=base, roles=roles)


def role_of(roles: Roles, name: str) -> str | None:
    if callable(roles):
        return roles(name)
    return next((role for pattern, role in roles.items() if fnmatchcase(name, pattern)), None)


def assign_roles(model: nn.Module, roles: Roles) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """role -> [(name, parameter)] for every trainable parameter; ConfigError naming a parameter without a role or
    with an unknown one."""
    known = set(WEIGHT_ROLES + NON_MATRIX_ROLES)
    out: dict[str, list[tuple[str, nn.Parameter]]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        role = role_of(roles, name)
        if role is None:
            raise ConfigError(f"parameter {name!r} has no role (roles: {', '.join(sorted(known))})")
        if role not in known:
            raise ConfigError(f"parameter {name!r}: unknown role {role!r} (roles: {', '.join(sorted(known))})")
        out.setdefault(role, []).append((name, p))
    return out


def param_groups(model: nn.Module, roles: Roles, hp: Mapping[str, LayerHP], *, eps: bool = True) -> list[dict]:
    """torch.optim parameter groups, one per role: params, lr, weight_decay (torch's convention), eps (`eps=False`
    for optimizers without one, SGD) and the role as `name`."""
    groups = []
    for role, members in assign_roles(model, roles).items():
        if role not in hp:
            raise ConfigError(f"no hyperparameters for role {role!r} (parameters {members[0][0]}, …)")
        h = hp[role]
        group = {"params": [p for _, p in members], "lr": h.lr, "weight_decay": h.wd, "name": role}
        if eps:
            group["eps"] = h.eps
        groups.append(group)
    return groups


@torch.no_grad()
def initialize(model: nn.Module, roles: Roles, hp: Mapping[str, LayerHP], generator: torch.Generator | None = None,
               zero_biases: bool = True) -> None:
    """Every parameter ~ N(0, its role's init variance) (biases zero unless `zero_biases=False`); a norm's gain and
    bias and the readout's bias (theory.roles.VECTOR_ROLES) keep the module's own init (ones, zeros)."""
    for role, members in assign_roles(model, roles).items():
        if role in VECTOR_ROLES:
            continue
        for _, p in members:
            if role in BIAS_ROLES and zero_biases:
                p.zero_()
            else:
                draw = torch.randn(p.shape, generator=generator, dtype=torch.float64)
                p.copy_(draw * math.sqrt(float(hp[role].init_var)))


def scale_outputs(modules: Mapping[str, Iterable[nn.Module]], hp: Mapping[str, LayerHP]) -> list:
    """Multiply each listed module's output by its role's multiplier (a forward hook); returns the hook handles
    (`handle.remove()` undoes one)."""
    handles = []
    for role, mods in modules.items():
        alpha = float(hp[role].multiplier)
        for module in mods:
            handles.append(module.register_forward_hook(lambda mod, args, out, a=alpha: out * a))
    return handles
