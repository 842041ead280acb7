"""Numeric bridge: derived exponents -> per-layer numbers for the engine (the only source of HPs).

value = base × r_n^a × r_L^b with r_n = width/n_base, r_L = depth/L_base; the input init variance
also carries its Θ(1) factor 1/d_in (dense input; fan-in 1 for one-hot). An entry with base power ½ (SOAP's ε,
theory.optimizers.epsilon_base_power) is √(base × r_n^2a × r_L^2b).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Sequence

import sympy as sp

from theory.errors import TheoryError
from theory.optimizers import get_optimizer, registry_version
from theory.roles import NON_MATRIX_ROLES, ROLES, Role
from theory.scales import d0, dout
from theory.solver import DerivedTable, derive_table


@dataclass(frozen=True)
class BaseHP:
    """Base hyperparameters, tuned at (n_base, L_base).

    sigma2 is the per-entry variance of a hidden matrix at the base width (default: He init at n_base = 256);
    the dense-input init is sigma2/d_in and the output init sigma2, as in the paper's tables. The absolute-n
    convention of the paper's Figs 3-6 (hidden variance 2/n, input 2/d_in) is BaseHP(sigma2=2, n_base=1, L_base=1).
    sigma2_input (None: sigma2) is the input layer's own base value, for a base model whose input init is tuned apart
    from its hidden init (e.g. a Θ(1) h0 with a small hidden init); its scaling exponents are still theory's.
    """

    alpha: float = 1.0
    sigma2: float = 2.0 / 256
    eta: float = 1e-3
    lam: float = 0.0
    eps: float = 1e-8
    n_base: int = 256
    L_base: int = 4
    sigma2_input: float | None = None


@dataclass(frozen=True)
class LayerHP:
    """The numbers one layer role trains with."""

    multiplier: float
    init_var: float
    lr: float
    wd: float
    eps: float | None


def _ratio_factor(r_n: Fraction, r_L: Fraction, exps: tuple[sp.Rational, sp.Rational]) -> float:
    """r_n^a · r_L^b, exact where the exponents are integers, else via one float power per factor."""
    a, b = (Fraction(int(x.p), int(x.q)) for x in exps)
    exact, approx = Fraction(1), 1.0
    for r, e in ((r_n, a), (r_L, b)):
        if e.denominator == 1:
            exact *= r ** int(e)
        elif e.denominator == 2:
            exact *= r ** math.floor(e)
            approx *= math.sqrt(r)
        else:
            approx *= float(r) ** float(e)
    return float(exact) * approx if approx != 1.0 else float(exact)


def _base_times_ratio(b: float, r_n: Fraction, r_L: Fraction, entry) -> float:
    """base^p · r_n^a · r_L^b of an entry with base power p. p = ½ is one correctly rounded square root of
    base · r_n^2a · r_L^2b, so a root ε is bit for bit the root of the preconditioner ε it comes from."""
    if entry.base_power == 1:
        return b * _ratio_factor(r_n, r_L, entry.exps)
    if entry.base_power == sp.Rational(1, 2):
        return math.sqrt(b * _ratio_factor(r_n, r_L, tuple(2 * e for e in entry.exps)))
    return b ** float(entry.base_power) * _ratio_factor(r_n, r_L, entry.exps)


def _check(width: int, depth: int, k: int, d_in: int, d_out: int, input_kind: str, base: BaseHP) -> None:
    for name, value in (("width", width), ("depth", depth), ("d_in", d_in), ("d_out", d_out),
                        ("n_base", base.n_base), ("L_base", base.L_base)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise TheoryError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(k, int) or k < 1:
        raise TheoryError(f"block depth k must be an integer >= 1, got {k!r}")
    if input_kind not in ("dense", "one_hot"):
        raise TheoryError(f"input_kind must be 'dense' or 'one_hot', got {input_kind!r}")


def layer_hparams(optimizer: str, parameterization: str, *, width: int, depth: int, k: int,
                  d_in: int, d_out: int, base: BaseHP, input_kind: str = "dense",
                  roles: Sequence[Role] | None = None) -> dict[Role, LayerHP]:
    """Per-role multiplier, init variance, lr, wd and eps for a net of this width/depth/k."""
    _check(width, depth, k, d_in, d_out, input_kind, base)
    key_roles = None if roles is None else tuple(roles)
    return dict(_layer_hparams(optimizer, parameterization, width, depth, k, d_in, d_out, base, input_kind, key_roles,
                               registry_version()))


@lru_cache(maxsize=4096)
def _layer_hparams(optimizer: str, parameterization: str, width: int, depth: int, k: int, d_in: int, d_out: int,
                   base: BaseHP, input_kind: str, roles: tuple[Role, ...] | None,
                   version: int) -> dict[Role, LayerHP]:
    spec = get_optimizer(optimizer)
    table: DerivedTable = derive_table(optimizer, parameterization, k)
    if roles is None:
        roles = tuple(r for r in ROLES if spec.biases or r not in NON_MATRIX_ROLES)
    r_n, r_L = Fraction(width, base.n_base), Fraction(depth, base.L_base)
    dims = {d0: d_in if input_kind == "dense" else 1, dout: d_out}
    bases = {"multiplier": base.alpha, "init_var": base.sigma2, "lr": base.eta, "wd": base.lam, "eps": base.eps}
    out: dict[Role, LayerHP] = {}
    for role in roles:
        if role not in ROLES:
            raise TheoryError(f"unknown role {role!r}; known: {', '.join(ROLES)}")
        if table.get("lr", role) is None:
            raise TheoryError(f"optimizer {optimizer!r} does not apply to {role} (a matrix optimizer; train biases with AdamW)")
        values: dict[str, float | None] = {}
        for hp, b in bases.items():
            entry = table.get(hp, role)  # type: ignore[arg-type]
            if entry is None:
                values[hp] = None
                continue
            if hp == "init_var" and role == "input" and base.sigma2_input is not None:
                b = base.sigma2_input
            value = _base_times_ratio(b, r_n, r_L, entry)
            if entry.fixed != 1:
                value *= float(entry.fixed.subs(dims))
            values[hp] = value
        out[role] = LayerHP(**values)  # type: ignore[arg-type]
    return out
