"""The vector roles (theory.roles.VECTOR_ROLES: pre-norm gain/bias in a branch, final norm, readout bias), derived by
theory.solver, against facts transcribed from CompleteP (Dey et al. 2025, Table 1: AdamW LN gain lr η·m_L^(α−1) in the
blocks, η for the final LN), mup 1.0.0 (vector-like parameters: MuAdam leaves the lr, MuSGD multiplies it by the
width multiplier; a readout bias has no infinite dimension and is left alone) and Fan et al. 2025 (vector-like
gains: η₁ = Θ_d(1))."""

from __future__ import annotations

import pytest
import sympy as sp

from theory.bridge import BaseHP, layer_hparams
from theory.conditions import condition_for
from theory.hparams import hparams_report
from theory.roles import VECTOR_ROLES
from theory.solver import derive_table

HALF = sp.Rational(1, 2)


def _lr(opt: str, param: str, role: str, k: int = 2) -> tuple:
    return derive_table(opt, param, k).get("lr", role).exps


@pytest.mark.parametrize("param, k, depth_exp", [("mup_k2", 2, 0), ("mup_k1", 1, -HALF)])
def test_completep_table_1_adamw_norm_gains(param, k, depth_exp):
    """α = 1 is mup_k2, α = ½ is mup_k1: m_L^(α−1) = r_L^0 and r_L^-½; the width exponent is μP's 0."""
    assert _lr("adamw", param, "block_norm", k) == (0, depth_exp)
    assert _lr("adamw", param, "final_norm", k) == (0, 0)


@pytest.mark.parametrize("opt", ["adamw", "lion", "sophia"])
def test_mup_and_fan_vector_like_lr_is_width_free_for_adaptive_optimizers(opt):
    for role in VECTOR_ROLES:
        assert _lr(opt, "mup_width", role)[0] == 0, role


def test_mup_sgd_vector_like_lr_grows_with_width_and_readout_bias_is_left_alone():
    assert _lr("sgd", "mup_width", "block_norm")[0] == 1
    assert _lr("sgd", "mup_width", "final_norm")[0] == 1
    assert _lr("sgd", "mup_width", "output_bias") == (0, 0)
    assert _lr("adamw", "mup_k2", "output_bias") == (0, 0)


def test_a_block_norm_scales_like_the_bias_at_the_start_of_a_branch():
    """It meets α_l and every map of the branch; the last hidden bias meets α_l alone, the same scale in μP."""
    for opt in ("adamw", "sgd", "lion"):
        for param, k in (("mup_k1", 1), ("mup_k2", 2), ("mup_k2", 3), ("mup_width", 2)):
            t = derive_table(opt, param, k)
            for hp in ("lr", "wd"):
                assert t.get(hp, "block_norm") == t.get(hp, "hidden_bias"), (opt, param, k, hp)


def test_every_higher_order_term_holds_and_matrix_optimizers_have_no_vector_roles():
    cond = condition_for("mup_k2", 3, vectors=True)
    assert len(cond.select("block_norm")) == 1 + 8      # init + one update term per subset of the 3 maps
    assert derive_table("muon", "mup_k2").get("lr", "block_norm") is None
    hp = layer_hparams("adamw", "mup_k2", width=1024, depth=16, k=2, d_in=8, d_out=2,
                       base=BaseHP(eta=1e-3, n_base=256, L_base=4))
    assert hp["block_norm"].lr == hp["final_norm"].lr == hp["output_bias"].lr == 1e-3
    assert hp["block_norm"].multiplier is None and hp["block_norm"].init_var is None


def test_hparams_report_says_these_rules_have_no_paper_table():
    r = hparams_report("adamw", "mup_k1", width=512, depth=16, base=BaseHP(eta=1e-3, n_base=256, L_base=4))
    cell = r["roles"]["block_norm"]["lr"]
    assert cell["table"] is None and cell["rule"] == "η_base · r_n^0 · r_L^(-1/2)"
    assert cell["value"] == pytest.approx(1e-3 / 2)
    assert r["roles"]["block_norm"]["multiplier"]["value"] is None
