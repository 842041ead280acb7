"""Θ-scales as SymPy monomials in width n and depth L, and the exponent algebra on them.

A Θ-quantity is a monomial c·n^a·L^b·d0^x·dout^y with positive symbols; the fixed dims d0, dout (and
constants) are Θ(1), so its scale is the exponent pair (a, b).
"""

from __future__ import annotations

from typing import Literal

import sympy as sp

from theory.errors import TheoryError

n, L = sp.symbols("n L", positive=True)
d0, dout = sp.symbols("d0 dout", positive=True)
FIXED_DIMS: tuple[sp.Symbol, ...] = (d0, dout)

Exponents = tuple[sp.Rational, sp.Rational]
SumKind = Literal["independent", "coherent", "fixed_depth"]


def exponents(expr: sp.Expr) -> Exponents:
    """(a, b) with expr = Θ(n^a L^b): coefficients of log n and log L in expand_log(log expr)."""
    expr = sp.sympify(expr)
    logged = sp.expand(sp.expand_log(sp.log(expr), force=True))
    a = logged.coeff(sp.log(n))
    b = logged.coeff(sp.log(L))
    rest = sp.expand(logged - a * sp.log(n) - b * sp.log(L))
    if not (a.is_Rational and b.is_Rational) or rest.has(n) or rest.has(L):
        raise TheoryError(f"not a monomial in n and L: {expr}")
    return sp.Rational(a), sp.Rational(b)


def monomial(a: sp.Expr | int, b: sp.Expr | int = 0) -> sp.Expr:
    """n^a · L^b."""
    return n ** sp.Rational(a) * L ** sp.Rational(b)


def theta(expr: sp.Expr) -> sp.Expr:
    """The bare scale of expr: constants and fixed dims dropped."""
    return monomial(*exponents(expr))


def fixed_factor(expr: sp.Expr) -> sp.Expr:
    """expr / theta(expr): the Θ(1) factor (constants, d0, dout) a scale carries."""
    return sp.powsimp(sp.simplify(expr / theta(expr)), force=True)


def _dominates(x: Exponents, y: Exponents) -> bool:
    return x[0] >= y[0] and x[1] >= y[1]


def theta_add(*terms: sp.Expr) -> sp.Expr:
    """Θ(t1 + t2 + ...): the dominant term (kept with its fixed factors); n and L both grow."""
    terms = tuple(sp.sympify(t) for t in terms)
    best = terms[0]
    for term in terms[1:]:
        e_best, e_term = exponents(best), exponents(term)
        if _dominates(e_best, e_term):
            continue
        if _dominates(e_term, e_best):
            best = term
        else:
            raise TheoryError(f"scales {best} and {term} are not comparable as n, L grow")
    return best


def theta_max(*terms: sp.Expr) -> sp.Expr:
    """Θ(max(...)) = Θ(sum of positive terms)."""
    return theta_add(*terms)


def theta_min(*terms: sp.Expr) -> sp.Expr:
    """Θ(min(...)): the dominated term, i.e. the inverse of the dominant inverse."""
    return 1 / theta_add(*[1 / sp.sympify(t) for t in terms])


def layer_sum(term: sp.Expr, kind: SumKind) -> sp.Expr:
    """Θ of a sum over the L residual blocks of equal terms of scale `term`.

    independent (zero-mean init summands, root-sum-square): sqrt(L)·term;
    coherent (aligned update terms, Claims F.1/F.2): L·term; fixed_depth (L = Θ(1)): term.
    """
    factor = {"independent": sp.sqrt(L), "coherent": L, "fixed_depth": sp.Integer(1)}[kind]
    return term * factor


def per_layer_scale(kind: SumKind) -> sp.Expr:
    """The per-block scale L^b whose layer_sum is Θ(1): solves exponent(layer_sum(L^b)) = 0 for b."""
    b = sp.Symbol("b", real=True)
    total_b = exponents(layer_sum(L ** b, kind).subs(b, 0))[1] + b
    (solution,) = sp.solve(sp.Eq(total_b, 0), b)
    return L ** solution


def solve_monomial(expr: sp.Expr, unknown: sp.Symbol, target: sp.Expr) -> sp.Expr:
    """The positive monomial value of `unknown` with expr = target (expr is a monomial in unknown)."""
    power = sp.expand_power_base(sp.sympify(expr), force=True).as_powers_dict().get(unknown, 0)
    if power == 0:
        raise TheoryError(f"{unknown} does not appear in {expr}")
    rest = sp.simplify(expr / unknown ** power)
    if rest.has(unknown):
        raise TheoryError(f"{expr} is not a monomial in {unknown}")
    return sp.powsimp(sp.simplify((target / rest) ** sp.Rational(1, power)), force=True)
