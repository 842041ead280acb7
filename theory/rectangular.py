"""Hidden maps that are not square: fan-in e_in·n and fan-out e_out·n with e_in, e_out = Θ(1) (an FFN's up projection
n → r·n has e_out = r, its down projection e_in = r; attention's q, k, v, o maps with heads·d_head = n are square).

The spectral conditions bound RMS→RMS operator norms, which do not see the shape: the block multiplier, the target
‖ΔW‖_R and the norms of the other maps are the square map's (theory.solver.solve_scales). The shape enters through
the init (YSB: σ = min(1, √(n_out/n_in))/√n_in), the update norm ‖A‖_R of the optimizer and the raw gradient's
‖∇W‖_R. `rectangular_entries` derives each entry with those fans: its exponents in r_n, r_L and its Θ(1) factor in
e_in, e_out. The exponents equal the square hidden role's for every optimizer (tests/test_theory_rectangular.py), so
theory.bridge's "hidden" numbers serve any such map; the Θ(1) factors (e.g. Adam's lr ∝ 1/e_in, mup's 1/fan_in) are
what a base value tuned at the base shape already holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from theory.conditions import condition_for
from theory.optimizers import UpdateContext, epsilon_scale, get_optimizer
from theory.roles import HP
from theory.scales import Exponents, exponents, fixed_factor, n
from theory.solver import derive_table, init_norm, init_std, sgd_gradient_norm, solve_scales

e_in, e_out = sp.symbols("e_in e_out", positive=True)
"""A map's fan-in and fan-out in units of the width n (Θ(1) constants)."""


@dataclass(frozen=True)
class RectEntry:
    """One entry of a rectangular hidden map: exponents in (r_n, r_L) and the Θ(1) factor in e_in, e_out."""

    exps: Exponents
    factor: sp.Expr


def _split(expr: sp.Expr) -> RectEntry:
    return RectEntry(exponents(expr), sp.simplify(fixed_factor(expr)))


def rectangular_entries(optimizer: str, parameterization: str, k: int = 2) -> dict[HP, RectEntry]:
    """multiplier, init_var, lr, wd (and ε where the optimizer has one) of a hidden map with fans (e_in·n, e_out·n)."""
    derive_table(optimizer, parameterization, k)  # validates the names and k
    cond = condition_for("mup_k2" if parameterization == "sp" else parameterization, k, biases=False)
    square = solve_scales(cond)["hidden"][0]
    fans = (e_in * n, e_out * n)
    sigma = init_std("hidden", fans)
    norm = init_norm("hidden", fans)
    grad = sgd_gradient_norm("hidden", square.alpha, square.other_norms, fans)
    ctx = UpdateContext("hidden", *fans, square.alpha, square.other_norms, grad, k, parameterization)
    spec = get_optimizer(optimizer)
    a_norm = sp.sympify(spec.update_norm(ctx))
    out: dict[HP, RectEntry] = {"multiplier": _split(square.alpha), "init_var": _split(sigma ** 2),
                                "lr": _split(square.target / a_norm), "wd": _split(a_norm / norm)}
    eps = epsilon_scale(spec, ctx)
    if eps is not None:
        out["eps"] = _split(eps)
    if parameterization == "sp":
        out = {hp: RectEntry((sp.Integer(0), sp.Integer(0)), e.factor) for hp, e in out.items()}
    return out
