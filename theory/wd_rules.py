"""Fan et al.'s weight-decay scaling rule in general form, beside the constant-ηλ and μP fixed-λ rules.

Steady state, general form: σ1 ∝ η^p_eta · λ^(−p_lam) · d^α (the law's powers of η and λ are the symbols `p_eta`,
`p_lam`; the brief's "a, b"). The ½-law σ1 ∝ (η/λ)^p d^α is the case p_eta = p_lam = p (Fan et al.: p = 1/2).

The width rules are η2 ∝ d^a (`a`: the learning rate's width exponent, −1 under μP) and λ2 ∝ d^e. Then

* σ1 ∝ d^(p_eta·a − p_lam·e + α)                      (`sigma1_exponent_general`; ½-law: p(a − e) + α)
* σ1 is width-invariant for e* = (p_eta·a + α)/p_lam   (`invariant_wd_exponent`; ½-law: Fan's e = a + α/p)
* the per-step decay κ = ηλ ∝ d^(a+e); the angular update per step √(ηλ) ∝ d^((a+e)/2).

All symbolic; `wd_rule` (½-law) and `joint_wd_rule` (general law) give each registered rule's exponents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sympy as sp

from theory.errors import TheoryError

a, p, alpha = sp.symbols("a p alpha", real=True)
"""a: width exponent of the hidden learning rate η2 ∝ d^a; p: the ½-law's power of η/λ; α: σ1's width exponent at
fixed (η, λ)."""
p_eta, p_lam = sp.symbols("p_eta p_lam", real=True)
"""The general law's powers: σ1 ∝ η^p_eta λ^(−p_lam) d^α (p_eta = p_lam = p is the ½-law's form)."""
WdRuleName = Literal["fan", "constant_eta_lambda", "mup_fixed"]
WD_RULES: tuple[WdRuleName, ...] = ("mup_fixed", "fan", "constant_eta_lambda")
WD_RULE_LABELS = {"mup_fixed": "μP, fixed λ", "fan": "Fan et al. (σ1 invariant)",
                  "constant_eta_lambda": "constant ηλ (fixed EMA timescale)"}
PAPER_POINT = {a: sp.Integer(-1), p: sp.Rational(1, 2), alpha: sp.Rational(3, 4)}
HALF_LAW = {p_eta: p, p_lam: p}
"""Substitution that turns the general law into the ½-law's form."""


def sigma1_exponent_general(e: sp.Expr, a_: sp.Expr = a, p_eta_: sp.Expr = p_eta, p_lam_: sp.Expr = p_lam,
                            alpha_: sp.Expr = alpha) -> sp.Expr:
    """Exponent of the steady-state σ1 in d under σ1 ∝ η^p_eta λ^(−p_lam) d^α, η2 ∝ d^a, λ2 ∝ d^e:
    p_eta·a − p_lam·e + α."""
    return sp.sympify(p_eta_) * a_ - sp.sympify(p_lam_) * e + alpha_


def sigma1_exponent(e: sp.Expr, a_: sp.Expr = a, p_: sp.Expr = p, alpha_: sp.Expr = alpha) -> sp.Expr:
    """Exponent of the steady-state top singular value σ1 in d under the ½-law: p(a − e) + α."""
    return sp.sympify(p_) * (a_ - e) + alpha_


def invariant_wd_exponent(a_: sp.Expr = a, p_eta_: sp.Expr = p_eta, p_lam_: sp.Expr = p_lam,
                          alpha_: sp.Expr = alpha) -> sp.Expr:
    """e* with σ1 width-invariant under the general law: solve p_eta·a − p_lam·e + α = 0, i.e.
    e* = (p_eta·a + α)/p_lam."""
    e = sp.Symbol("e", real=True)
    solutions = sp.solve(sp.Eq(sigma1_exponent_general(e, a_, p_eta_, p_lam_, alpha_), 0), e)
    if len(solutions) != 1:
        raise TheoryError(f"no unique width-invariant weight-decay exponent for p_lam = {p_lam_} (σ1 does not depend "
                          f"on λ)")
    return sp.simplify(solutions[0])


def fan_wd_exponent(a_: sp.Expr = a, p_: sp.Expr = p, alpha_: sp.Expr = alpha) -> sp.Expr:
    """e with σ1 width-invariant under the ½-law: solve p(a - e) + α = 0, i.e. e = a + α/p."""
    e = sp.Symbol("e", real=True)
    (solution,) = sp.solve(sp.Eq(sigma1_exponent(e, a_, p_, alpha_), 0), e)
    return sp.simplify(solution)


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


def _rule_wd_exponent(name: str, a_: sp.Expr, invariant: sp.Expr | None) -> sp.Expr:
    if name == "fan":
        return invariant
    if name == "constant_eta_lambda":
        return sp.solve(sp.Eq(kappa_exponent(sp.Symbol("e"), a_), 0), sp.Symbol("e"))[0]
    if name == "mup_fixed":
        return sp.Integer(0)
    raise TheoryError(f"unknown weight-decay rule {name!r}; known: {', '.join(WD_RULES)}")


def wd_rule(name: str, a_: sp.Expr = a, p_: sp.Expr = p, alpha_: sp.Expr = alpha) -> WdRule:
    """λ2 ∝ d^e under the ½-law for: "fan" (e = a + α/p), "constant_eta_lambda" (e = -a), "mup_fixed" (e = 0)."""
    if name not in WD_RULES:
        raise TheoryError(f"unknown weight-decay rule {name!r}; known: {', '.join(WD_RULES)}")
    e = sp.sympify(_rule_wd_exponent(name, a_, fan_wd_exponent(a_, p_, alpha_) if name == "fan" else None))
    return WdRule(name, e, sp.simplify(sigma1_exponent(e, a_, p_, alpha_)),
                  sp.simplify(kappa_exponent(e, a_)), sp.simplify(angular_exponent(e, a_)))


def joint_wd_rule(name: str, a_: sp.Expr = a, p_eta_: sp.Expr = p_eta, p_lam_: sp.Expr = p_lam,
                  alpha_: sp.Expr = alpha) -> WdRule:
    """λ2 ∝ d^e under the general law σ1 ∝ η^p_eta λ^(−p_lam) d^α for: "fan" (the σ1-invariant rule,
    e* = (p_eta·a + α)/p_lam), "constant_eta_lambda" (e = −a), "mup_fixed" (e = 0); with its predicted σ1 exponent
    p_eta·a − p_lam·e + α. With p_eta = p_lam = p it equals `wd_rule`."""
    if name not in WD_RULES:
        raise TheoryError(f"unknown weight-decay rule {name!r}; known: {', '.join(WD_RULES)}")
    inv = invariant_wd_exponent(a_, p_eta_, p_lam_, alpha_) if name == "fan" else None
    e = sp.sympify(_rule_wd_exponent(name, a_, inv))
    return WdRule(name, e, sp.simplify(sigma1_exponent_general(e, a_, p_eta_, p_lam_, alpha_)),
                  sp.simplify(kappa_exponent(e, a_)), sp.simplify(angular_exponent(e, a_)))
