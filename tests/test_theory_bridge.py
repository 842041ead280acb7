"""Numeric bridge against closed forms: value = base × r_n^a × r_L^b (× 1/d_in for dense input init)."""

from __future__ import annotations

import math

import pytest

from theory.roles import VECTOR_ROLES
from theory.bridge import BaseHP, layer_hparams
from theory.errors import TheoryError

BASE = BaseHP(alpha=1.5, sigma2=0.5, eta=3e-3, lam=0.1, eps=1e-8, n_base=64, L_base=2)


def test_adamw_k2_at_4x_width_8x_depth() -> None:
    h = layer_hparams("adamw", "mup_k2", width=256, depth=16, k=2, d_in=10, d_out=3, base=BASE)
    assert h["hidden"].lr == BASE.eta / 4
    assert h["hidden"].multiplier == BASE.alpha / 8
    assert h["hidden"].wd == BASE.lam * 4
    assert h["hidden"].eps == BASE.eps / 32
    assert h["hidden"].init_var == BASE.sigma2 / 4
    assert h["output"].multiplier == BASE.alpha / 4
    assert h["output"].lr == BASE.eta and h["output"].init_var == BASE.sigma2
    assert h["input"].init_var == BASE.sigma2 / 10 and h["input"].eps == BASE.eps / 4
    assert h["input_bias"].lr == BASE.eta and h["input_bias"].init_var == BASE.sigma2
    assert h["hidden_bias"].lr == BASE.eta and h["hidden_bias"].eps == BASE.eps / 32


def test_sgd_k2_fig3_setting() -> None:
    base = BaseHP(alpha=1.0, sigma2=2.0, eta=1e-3, lam=0.0, n_base=1, L_base=1)
    h = layer_hparams("sgd", "mup_k2", width=256, depth=16, k=2, d_in=3072, d_out=1, base=base)
    assert h["input"].lr == 1e-3 * 256
    assert h["hidden"].lr == 1e-3 * 16
    assert h["output"].lr == 1e-3 * 256
    assert h["hidden_bias"].lr == 1e-3 * 256 * 16
    assert h["output"].multiplier == 1 / 256
    assert h["hidden"].multiplier == 1 / 16
    assert h["input"].init_var == 2 / 3072
    assert h["hidden"].init_var == 2 / 256
    assert all(v.eps is None for v in h.values())


def test_muon_k1_square_roots() -> None:
    h = layer_hparams("muon", "mup_k1", width=256, depth=8, k=1, d_in=5, d_out=2, base=BASE)
    assert set(h) == {"input", "hidden", "output"}
    assert h["hidden"].lr == BASE.eta / 2
    assert h["hidden"].multiplier == BASE.alpha / 2
    assert h["input"].lr == BASE.eta * 2 and h["output"].lr == BASE.eta * 2
    assert h["input"].wd == BASE.lam / 2 and h["hidden"].wd == BASE.lam
    h = layer_hparams("muon_kimi", "mup_k1", width=128, depth=6, k=1, d_in=5, d_out=2, base=BASE)
    assert math.isclose(h["hidden"].lr, BASE.eta / math.sqrt(2 * 3), rel_tol=1e-15)
    assert math.isclose(h["hidden"].wd, BASE.lam * math.sqrt(2), rel_tol=1e-15)


def test_soap_eps_is_the_square_root_of_shampoos() -> None:
    """SOAP's ε row has base power ½: at 4× width, 4× depth, k = 2, the hidden ε is √ε_base/r_L and the input and
    output ε √(ε_base/r_n); at every size it is bit for bit √ of Shampoo's ε (what the engine used to take itself)."""
    h = layer_hparams("soap", "mup_k2", width=256, depth=8, k=2, d_in=5, d_out=2, base=BASE)
    assert math.isclose(h["hidden"].eps, math.sqrt(BASE.eps) / 4, rel_tol=1e-15)
    assert math.isclose(h["input"].eps, math.sqrt(BASE.eps / 4), rel_tol=1e-15) and h["output"].eps == h["input"].eps
    for param, k in (("mup_k2", 2), ("mup_k2", 3), ("mup_k1", 1), ("mup_width", 2), ("sp", 2)):
        for width, depth in ((64, 2), (96, 3), (1000, 7), (4096, 64)):
            kw = dict(width=width, depth=depth, k=k, d_in=5, d_out=2, base=BASE)
            soap, shampoo = layer_hparams("soap", param, **kw), layer_hparams("shampoo", param, **kw)
            assert set(soap) == set(shampoo) == {"input", "hidden", "output"}
            for role in soap:
                assert soap[role].eps == math.sqrt(shampoo[role].eps), (param, k, width, depth, role)
                assert (soap[role].lr, soap[role].wd) == (shampoo[role].lr, shampoo[role].wd)


def test_sp_is_base_everywhere_and_one_hot_input() -> None:
    h = layer_hparams("adamw", "sp", width=1024, depth=32, k=2, d_in=50, d_out=50, base=BASE, input_kind="one_hot")
    for role, v in h.items():
        assert (v.lr, v.wd, v.eps) == (BASE.eta, BASE.lam, BASE.eps), role
        if role in VECTOR_ROLES:  # a gain starts at 1 and a bias at 0; they sit inside a branch's multiplier
            assert (v.multiplier, v.init_var) == (None, None), role
        else:
            assert (v.multiplier, v.init_var) == (BASE.alpha, BASE.sigma2), role
    dense = layer_hparams("adamw", "sp", width=1024, depth=32, k=2, d_in=50, d_out=50, base=BASE)
    assert dense["input"].init_var == BASE.sigma2 / 50


def test_width_only_mup_ignores_depth() -> None:
    h = layer_hparams("sgd", "mup_width", width=128, depth=64, k=2, d_in=4, d_out=1, base=BASE)
    assert h["hidden"].multiplier == BASE.alpha and h["hidden"].lr == BASE.eta
    assert h["input"].lr == BASE.eta * 2 and h["output"].multiplier == BASE.alpha / 2


def test_roles_subset() -> None:
    h = layer_hparams("adamw", "mup_k2", width=64, depth=2, k=3, d_in=4, d_out=1, base=BASE, roles=["hidden"])
    assert list(h) == ["hidden"] and h["hidden"].lr == BASE.eta


@pytest.mark.parametrize("kwargs,match", [
    (dict(optimizer="nope"), "unknown optimizer"),
    (dict(parameterization="mup_k9"), "unknown parameterization"),
    (dict(k=0), "k must be"),
    (dict(width=0), "width must be"),
    (dict(depth=-1), "depth must be"),
    (dict(optimizer="muon", roles=["hidden_bias"]), "does not apply"),
])
def test_bad_input_raises_one_line(kwargs: dict, match: str) -> None:
    args = dict(optimizer="adamw", parameterization="mup_k2", width=64, depth=4, k=2, d_in=3, d_out=1, base=BASE)
    args.update(kwargs)
    opt, param = args.pop("optimizer"), args.pop("parameterization")
    with pytest.raises(TheoryError, match=match) as err:
        layer_hparams(opt, param, **args)
    assert "\n" not in str(err.value)


def test_sigma2_input_sets_only_the_input_init_base():
    """A separate base for the input init changes that one number (σ²_in/d_in) and nothing else."""
    shared = BaseHP(sigma2=2.0 ** -6, n_base=32, L_base=2)
    split = BaseHP(sigma2=2.0 ** -6, n_base=32, L_base=2, sigma2_input=1.0)
    a = layer_hparams("adamw", "mup_k2", width=128, depth=8, k=2, d_in=32, d_out=1, base=shared)
    b = layer_hparams("adamw", "mup_k2", width=128, depth=8, k=2, d_in=32, d_out=1, base=split)
    assert a["input"].init_var == 2.0 ** -6 / 32 and b["input"].init_var == 1.0 / 32
    assert b["hidden"].init_var == a["hidden"].init_var == 2.0 ** -6 * 32 / 128
    for role in a:
        if role != "input":
            assert a[role] == b[role]
