"""Fan et al.'s weight-decay scaling rule in general form, beside the constant-ηλ and μP fixed-λ rules.

Steady state: σ1 ∝ (η/λ)^p · d^α. With η2 ∝ d^a and λ2 ∝ d^e, σ1 ∝ d^(p(a-e)+α); the per-step
decay κ = ηλ ∝ d^(a+e); the angular update per step √(ηλ) ∝ d^((a+e)/2). All symbolic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sympy as sp

from theory.errors import TheoryError

a, p, alpha = sp.symbols("a p alpha", real=True)
WdRuleName = Literal["fan", "constant_eta_lambda", "mup_fixed"]
WD_RULES: tuple[WdRuleName, ...] = ("mup_fixed", "fan", "constant_eta_lambda")
WD_RULE_LABELS = {"mup_fixed": "μP, fixed λ", "fan": "Fan et al. (σ1 invariant)",
                  "constant_eta_lambda": "constant ηλ (fixed EMA timescale)"}
PAPER_POINT = {a: sp.Integer(-1), p: sp.Rational(1, 2), alpha: sp.Rational(3, 4)}


def fan_wd_exponent(a_: sp.Expr = a, p_: sp.Expr = p, alpha_: sp.Expr = alpha) -> sp.Expr:
    """e with σ1 width-invariant: solve p(a - e) + α = 0, i.e. e = a + α/p."""
    e = sp.Symbol("e", real=True)
    (solution,) = sp.solve(sp.Eq(sigma1_exponent(e, a_, p_, alpha_), 0), e)
    return sp.simplify(solution)


def sigma1_exponent(e: sp.Expr, a_: sp.Expr = a, p_: sp.Expr = p, alpha_: sp.Expr = alpha) -> sp.Expr:
    """Exponent of the steady-state top singular value σ1 in d: p(a - e) + α."""
    return p_ * (a_ - e) + alpha_


def kappa_exponent(e: sp.Expr, a_: sp.Expr = a) -> sp.Expr:
    """Exponent of the per-step decay κ = ηλ (its inverse is the EMA timescale)."""
    return a_ + e


def angular_exponent(e: sp.Expr, a_: sp.Expr = a) -> sp.Expr:
    """Exponent of the angular update per step, √(ηλ) (Kosson et al.)."""
    return (a_ + e) / 2


@dataclass(frozen=True)
class WdRule:
    """One rule's λ2 exponent and its predicted σ1, κ, angular exponents (symbolic)."""

    name: WdRuleName
    wd: sp.Expr
    sigma1: sp.Expr
    kappa: sp.Expr
    angular: sp.Expr

    def at(self, values: dict[sp.Symbol, sp.Expr]) -> "WdRule":
        """The rule with numbers substituted (e.g. PAPER_POINT)."""
        return WdRule(self.name, *(sp.nsimplify(x.subs(values)) for x in (self.wd, self.sigma1, self.kappa, self.angular)))


def wd_rule(name: str, a_: sp.Expr = a, p_: sp.Expr = p, alpha_: sp.Expr = alpha) -> WdRule:
    """λ2 ∝ d^e for: "fan" (e = a + α/p), "constant_eta_lambda" (e = -a), "mup_fixed" (e = 0)."""
    if name == "fan":
        e = fan_wd_exponent(a_, p_, alpha_)
    elif name == "constant_eta_lambda":
        e = sp.solve(sp.Eq(kappa_exponent(sp.Symbol("e"), a_), 0), sp.Symbol("e"))[0]
    elif name == "mup_fixed":
        e = sp.Integer(0)
    else:
        raise TheoryError(f"unknown weight-decay rule {name!r}; known: {', '.join(WD_RULES)}")
    e = sp.sympify(e)
    return WdRule(name, e, sp.simplify(sigma1_exponent(e, a_, p_, alpha_)),
                  sp.simplify(kappa_exponent(e, a_)), sp.simplify(angular_exponent(e, a_)))
