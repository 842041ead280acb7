"""Optimizer registry: each optimizer is its update-norm map ‖A‖_R (A = direction without lr and wd).

The solver turns ‖A‖_R into lr (rule Δ1: η = target ‖ΔW‖_R / ‖A‖_R), wd (rule Δ2: λ = ‖A‖_R / ‖W‖_R)
and eps (by the optimizer's epsilon notion). Adding an optimizer is one `register_optimizer` call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Union, get_args

import sympy as sp

from theory.errors import TheoryError
from theory.roles import Role
from theory.scales import theta_max

EpsilonNotion = Literal["gradient_entry", "preconditioner", "preconditioner_root"]


@dataclass(frozen=True)
class UpdateContext:
    """What an update-norm map may use, for one layer role (all Θ-monomials in n, L, d0, dout)."""

    role: Role
    n_in: sp.Expr
    n_out: sp.Expr
    alpha: sp.Expr            # the layer's block multiplier α
    other_norms: sp.Expr      # product of ‖W‖_R of the other maps the gradient passes through
    grad_norm: sp.Expr        # ‖∇_W L‖_R of the raw (SGD) gradient
    k: int
    parameterization: str


UpdateNorm = Callable[[UpdateContext], sp.Expr]
Epsilon = Union[EpsilonNotion, UpdateNorm, None]


@dataclass(frozen=True)
class OptimizerSpec:
    """A registered optimizer: update-norm map, whether it trains biases, its epsilon notion."""

    name: str
    update_norm: UpdateNorm
    biases: bool
    epsilon: Epsilon
    display: str
    paper: bool


_REGISTRY: dict[str, OptimizerSpec] = {}
_VERSION = [0]


def registry_version() -> int:
    """Bumped on every (un)registration, so derived-table caches never serve a stale optimizer."""
    return _VERSION[0]


def register_optimizer(name: str, update_norm: UpdateNorm, *, biases: bool = True, epsilon: Epsilon = None,
                       display: str | None = None, paper: bool = False) -> OptimizerSpec:
    """Register (or replace) an optimizer; its tables are then derived like the paper's.

    update_norm(ctx) -> ‖A‖_R as a monomial; epsilon: None, "gradient_entry" (ε matches a gradient
    entry, Adam-like), "preconditioner" (ε matches ‖G‖_2², Shampoo-like), "preconditioner_root" (the square root
    of a preconditioner ε, SOAP-like; see `epsilon_base_power`) or a map ctx -> ε scale.
    """
    if not name or not isinstance(name, str):
        raise TheoryError("optimizer name must be a non-empty string")
    if epsilon is not None and not callable(epsilon) and epsilon not in get_args(EpsilonNotion):
        raise TheoryError(f"unknown epsilon notion {epsilon!r}")
    spec = OptimizerSpec(name, update_norm, biases, epsilon, display or name, paper)
    _REGISTRY[name] = spec
    _VERSION[0] += 1
    return spec


def unregister_optimizer(name: str) -> None:
    """Remove an optimizer (tests use it to clean up)."""
    if _REGISTRY.pop(name, None) is not None:
        _VERSION[0] += 1


def get_optimizer(name: str) -> OptimizerSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise TheoryError(f"unknown optimizer {name!r}; known: {', '.join(optimizer_names())}") from None


def optimizer_names(paper_only: bool = False) -> tuple[str, ...]:
    return tuple(s.name for s in _REGISTRY.values() if s.paper or not paper_only)


def epsilon_scale(spec: OptimizerSpec, ctx: UpdateContext) -> sp.Expr | None:
    """The ε scale: what ε must match so it neither dominates nor vanishes."""
    if spec.epsilon is None:
        return None
    if spec.epsilon == "gradient_entry":
        return ctx.grad_norm / ctx.n_in                                   # per-entry RMS of a rank-1 gradient
    if spec.epsilon == "preconditioner":
        return (sp.sqrt(ctx.n_out / ctx.n_in) * ctx.grad_norm) ** 2       # ‖GGᵀ‖_2 = ‖G‖_2²
    if spec.epsilon == "preconditioner_root":
        return sp.sqrt(ctx.n_out / ctx.n_in) * ctx.grad_norm              # ‖G‖_2 = sqrt(‖GGᵀ‖_2)
    return spec.epsilon(ctx)


def epsilon_base_power(spec: OptimizerSpec) -> sp.Rational:
    """The power of ε_base in the ε entry: 1, except ½ for "preconditioner_root". SOAP adds ε to √v, v the second
    moment of the gradient rotated into the eigenbasis of Shampoo's preconditioners (entries of the scale of their
    eigenvalues ‖G‖_2²), so its ε is the square root of a preconditioner ε, base included: one ε_base, stated in
    the preconditioner's units, serves the Shampoo family of Tables 4 and 10 (ε = (ε_base · ‖G‖_2² scale)^½)."""
    return sp.Rational(1, 2) if spec.epsilon == "preconditioner_root" else sp.Integer(1)


def _sgd(ctx: UpdateContext) -> sp.Expr:
    return ctx.grad_norm


def _sign(ctx: UpdateContext) -> sp.Expr:
    """sign of a low-rank gradient (or Sophia's all-ones bound): sqrt(n_in/n_out)·‖sign‖_F = n_in."""
    return sp.sqrt(ctx.n_in / ctx.n_out) * sp.sqrt(ctx.n_in * ctx.n_out)


def _orthogonal(ctx: UpdateContext) -> sp.Expr:
    """U Vᵀ: spectral norm 1, so ‖A‖_R = sqrt(n_in/n_out)."""
    return sp.sqrt(ctx.n_in / ctx.n_out)


def _muon_kimi(ctx: UpdateContext) -> sp.Expr:
    """0.2·sqrt(max(n_in, n_out))·U Vᵀ (constant dropped)."""
    return sp.sqrt(theta_max(ctx.n_in, ctx.n_out)) * _orthogonal(ctx)


def _sso(ctx: UpdateContext) -> sp.Expr:
    """R·Φ with R = sqrt(n_out/n_in), ‖Φ‖_2 = 1."""
    return sp.Integer(1)


def _register_paper_optimizers() -> None:
    for name, fn, biases, eps, display in (
        ("sgd", _sgd, True, None, "SGD"),
        ("adamw", _sign, True, "gradient_entry", "AdamW"),
        ("lion", _sign, True, None, "Lion"),
        ("sophia", _sign, True, None, "Sophia"),
        ("muon", _orthogonal, False, None, "Muon"),
        ("muon_kimi", _muon_kimi, False, None, "Muon-Kimi"),
        ("shampoo", _orthogonal, False, "preconditioner", "Shampoo"),
        ("soap", _orthogonal, False, "preconditioner_root", "SOAP"),
        ("sso", _sso, False, None, "SSO"),
    ):
        register_optimizer(name, fn, biases=biases, epsilon=eps, display=display, paper=True)


_register_paper_optimizers()
