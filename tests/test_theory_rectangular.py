"""theory.rectangular: a non-square hidden map's entries; exponents equal the square map's, Θ(1) factors equal mup's
fan rules (mup 1.0.0: MuAdam divides a matrix's lr by its fan-in multiplier, MuSGD multiplies by fan-out/fan-in)."""

from __future__ import annotations

import pytest
import sympy as sp

from theory.optimizers import optimizer_names
from theory.rectangular import e_in, e_out, rectangular_entries
from theory.solver import derive_table

CASES = [(o, p) for o in optimizer_names(paper_only=True) for p in ("sp", "mup_width", "mup_k1", "mup_k2")]


@pytest.mark.parametrize("optimizer, parameterization", CASES)
def test_exponents_equal_the_square_hidden_maps(optimizer, parameterization):
    k = 1 if parameterization == "mup_k1" else 2
    square = derive_table(optimizer, parameterization, k)
    rect = rectangular_entries(optimizer, parameterization, k)
    assert set(rect) == {hp for (hp, role) in square.entries if role == "hidden"}
    for hp, entry in rect.items():
        assert entry.exps == square.get(hp, "hidden").exps, hp
        assert sp.simplify(entry.factor.subs({e_in: 1, e_out: 1})) == 1, hp


def test_fan_factors_match_mups_rules_and_the_spectral_init():
    adam, sgd = rectangular_entries("adamw", "mup_width"), rectangular_entries("sgd", "mup_width")
    assert sp.simplify(adam["lr"].factor - 1 / e_in) == 0                      # MuAdam: lr / fan_in
    assert sp.simplify(sgd["lr"].factor - e_out / e_in) == 0                   # MuSGD: lr · fan_out / fan_in
    up = {e_in: 1, e_out: 4}
    down = {e_in: 4, e_out: 1}
    init = adam["init_var"].factor
    assert init.subs(up) == 1 and init.subs(down) == sp.Rational(1, 16)       # YSB: σ² = min(1, n_out/n_in)/n_in
    muon = rectangular_entries("muon", "mup_k2")
    assert sp.simplify(muon["lr"].factor - sp.sqrt(e_out / e_in)) == 0         # Muon's √(fan_out/fan_in) shape factor
