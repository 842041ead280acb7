"""The paper's algebra checked in SymPy, the Θ-sum derivation, Fan's rule, and the optimizer registry."""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from theory import checks, register_optimizer, unregister_optimizer
from theory.bridge import BaseHP, layer_hparams
from theory.conditions import condition_3_1, condition_b1, condition_b2, condition_b3, width_condition
from theory.scales import L, exponents, layer_sum, n, per_layer_scale, theta_add
from theory.solver import derive_table
from theory.wd_rules import PAPER_POINT, alpha, fan_wd_exponent, wd_rule


def test_layer_sums_give_paper_rhs() -> None:
    assert per_layer_scale("independent") == 1 / sp.sqrt(L)
    assert per_layer_scale("coherent") == 1 / L
    assert exponents(layer_sum(L ** sp.Rational(-1, 2), "independent")) == (0, 0)
    assert exponents(theta_add(sp.sqrt(sp.Symbol("d0", positive=True)), sp.sqrt(n))) == (sp.Rational(1, 2), 0)


def test_conditions_have_the_paper_constraints() -> None:
    c = condition_3_1()
    assert {x.name for x in c.constraints} == {"C1.1a", "C1.1b", "C1.2", "C2.1a", "C2.1b", "C2.2a", "C2.2b", "C2.3"}
    assert c.get("C1.2").rhs == 1 / L and c.get("C2.3").rhs == 1 / L
    (init,) = condition_b1().select("hidden", 0)
    assert init.relation == "O" and init.rhs == 1 / sp.sqrt(L)
    assert len([x for x in condition_b2(5).constraints if x.role == "hidden" and x.order >= 1]) == 2 ** 5 - 1
    b3 = condition_b3()
    assert any(x.relation == "O" and x.role == "hidden_bias" for x in b3.constraints)
    assert all(x.rhs == 1 for x in width_condition().constraints)


def test_algebra_checks_pass() -> None:
    assert checks.c12_follows_from_c22_c23()
    assert checks.higher_orders_automatic_symbolic()
    assert checks.higher_orders_automatic_enumerated()
    assert checks.k1_leaves_alpha_bounded()
    assert checks.k2_forces_alpha_one_over_L()


def test_c12_check_can_fail() -> None:
    c = condition_3_1()
    bad = replace(c, constraints=tuple(replace(x, rhs=1 / L ** 2) if x.name == "C2.3" else x for x in c.constraints))
    assert not checks.c12_follows_from_c22_c23(bad)
    bad_lhs = replace(c, constraints=tuple(replace(x, lhs=x.lhs * sorted(x.lhs.free_symbols, key=str)[-1]) if x.name == "C2.3" else x
                                          for x in c.constraints))
    assert not checks.c12_follows_from_c22_c23(bad_lhs)


def test_fan_rule_general_and_paper_numbers() -> None:
    assert sp.simplify(fan_wd_exponent(-1, sp.Rational(1, 2), alpha) - (2 * alpha - 1)) == 0
    assert fan_wd_exponent(-1, sp.Rational(1, 2), sp.Rational(3, 4)) == sp.Rational(1, 2)
    got = {name: wd_rule(name).at(PAPER_POINT) for name in ("mup_fixed", "fan", "constant_eta_lambda")}
    assert [got[x].sigma1 for x in ("mup_fixed", "fan", "constant_eta_lambda")] == [sp.Rational(1, 4), 0, sp.Rational(-1, 4)]
    assert [got[x].kappa for x in ("mup_fixed", "fan", "constant_eta_lambda")] == [-1, sp.Rational(-1, 2), 0]
    assert [got[x].angular for x in ("mup_fixed", "fan", "constant_eta_lambda")] == [sp.Rational(-1, 2), sp.Rational(-1, 4), 0]
    assert [got[x].wd for x in ("mup_fixed", "fan", "constant_eta_lambda")] == [0, sp.Rational(1, 2), 1]
    assert fan_wd_exponent(-1, sp.Rational(1, 2), sp.Rational(1, 2)) == 0   # α = 0.5: constant λ
    assert fan_wd_exponent(-1, sp.Rational(1, 2), 1) == 1                   # α = 1: λ ∝ d


def test_registered_toy_optimizer_gets_its_implied_table() -> None:
    register_optimizer("toy_sq", update_norm=lambda ctx: ctx.n_in ** 2, biases=False)
    try:
        k2 = derive_table("toy_sq", "mup_k2", 2)
        assert k2.get("lr", "hidden").exps == (-2, 0)          # target Θ(1) / n²
        assert k2.get("wd", "hidden").exps == (2, 0)           # n² / ‖W‖ = n²
        assert k2.get("lr", "output").exps == (-1, 0)          # target n / n²
        assert k2.get("wd", "output").exps == (1, 0)           # n² / n
        assert k2.get("lr", "input").exps == (0, 0)            # d0² is Θ(1)
        assert k2.get("eps", "hidden") is None and k2.get("lr", "hidden_bias") is None
        assert derive_table("toy_sq", "mup_k1", 1).get("lr", "hidden").exps == (-2, sp.Rational(-1, 2))
        h = layer_hparams("toy_sq", "mup_k2", width=512, depth=4, k=2, d_in=3, d_out=1, base=BaseHP())
        assert h["hidden"].lr == 1e-3 / 4
        register_optimizer("toy_sq", update_norm=lambda ctx: ctx.n_in ** 3, biases=False)
        assert derive_table("toy_sq", "mup_k2", 2).get("lr", "hidden").exps == (-3, 0)   # no stale cache
    finally:
        unregister_optimizer("toy_sq")
    assert "toy_sq" not in __import__("theory").optimizer_names()
