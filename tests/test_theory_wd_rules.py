"""theory.wd_rules: the steady-state law σ1 ∝ η^p_eta λ^(−p_lam) d^α in general form, exact SymPy values; the ½-law
(p_eta = p_lam = p) is its special case and reproduces Fan's e = a + α/p."""

from __future__ import annotations

import pytest
import sympy as sp

from theory.errors import TheoryError
from theory.wd_rules import (HALF_LAW, PAPER_POINT, WD_RULES, a, alpha, fan_wd_exponent, invariant_wd_exponent,
                             joint_wd_rule, p, p_eta, p_lam, sigma1_exponent, sigma1_exponent_general, wd_rule)

e = sp.Symbol("e", real=True)


def test_general_sigma1_exponent_and_invariant_rule_are_the_closed_forms():
    assert sp.expand(sigma1_exponent_general(e) - (p_eta * a - p_lam * e + alpha)) == 0
    assert sp.simplify(invariant_wd_exponent() - (p_eta * a + alpha) / p_lam) == 0
    # the invariant rule really zeroes the exponent
    assert sp.simplify(sigma1_exponent_general(invariant_wd_exponent())) == 0


def test_equal_powers_reproduce_the_half_law():
    assert sp.expand(sigma1_exponent_general(e).subs(HALF_LAW) - sigma1_exponent(e)) == 0
    assert sp.simplify(invariant_wd_exponent(a, p, p, alpha) - fan_wd_exponent()) == 0
    assert sp.simplify(fan_wd_exponent() - (a + alpha / p)) == 0          # Fan's e = a_η + α/p
    for name in WD_RULES:
        half, joint = wd_rule(name), joint_wd_rule(name, a, p, p, alpha)
        for field in ("wd", "sigma1", "kappa", "angular"):
            assert sp.simplify(getattr(half, field) - getattr(joint, field)) == 0, (name, field)


def test_paper_point_numbers_in_both_forms():
    joint_point = {**PAPER_POINT, p_eta: sp.Rational(1, 2), p_lam: sp.Rational(1, 2)}
    for name, wd, s1 in (("mup_fixed", 0, sp.Rational(1, 4)), ("fan", sp.Rational(1, 2), 0),
                         ("constant_eta_lambda", 1, sp.Rational(-1, 4))):
        assert wd_rule(name).at(PAPER_POINT).wd == wd and wd_rule(name).at(PAPER_POINT).sigma1 == s1
        assert joint_wd_rule(name).at(joint_point).wd == wd and joint_wd_rule(name).at(joint_point).sigma1 == s1


def test_unequal_powers_give_their_own_rule():
    """p_eta = 2/5, p_lam = 3/5, α = 3/4, μP a = −1: e* = (−2/5 + 3/4)/(3/5) = 7/12; μP fixed λ gives
    σ1 ∝ d^(−2/5 + 3/4) = d^(7/20); constant ηλ (e = 1) gives d^(−2/5 − 3/5 + 3/4) = d^(−1/4)."""
    pt = dict(a_=-1, p_eta_=sp.Rational(2, 5), p_lam_=sp.Rational(3, 5), alpha_=sp.Rational(3, 4))
    assert invariant_wd_exponent(**pt) == sp.Rational(7, 12)
    assert joint_wd_rule("fan", **pt).wd == sp.Rational(7, 12) and joint_wd_rule("fan", **pt).sigma1 == 0
    assert joint_wd_rule("mup_fixed", **pt).sigma1 == sp.Rational(7, 20)
    assert joint_wd_rule("constant_eta_lambda", **pt).sigma1 == sp.Rational(-1, 4)
    assert joint_wd_rule("constant_eta_lambda", **pt).kappa == 0
    assert sigma1_exponent_general(sp.Rational(1, 2), **pt) == sp.Rational(1, 20)


def test_no_invariant_rule_when_sigma1_ignores_lambda():
    with pytest.raises(TheoryError):
        invariant_wd_exponent(-1, sp.Rational(1, 2), 0, sp.Rational(3, 4))
    with pytest.raises(TheoryError):
        joint_wd_rule("nope")
