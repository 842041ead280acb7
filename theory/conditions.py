"""Spectral μP conditions as SymPy constraints over RMS→RMS operator norms (Zheng et al. §2-3, App. B).

Every norm is an unknown positive symbol (α_l, ‖W‖_R, ‖ΔW‖_R, ‖b‖_R, ‖Δb‖_R). A constraint says
lhs = Θ(rhs) or lhs = O(rhs). The per-block right-hand sides are derived, not typed: a sum over the L
blocks of equal terms must be Θ(1); init terms add as independent vectors (root-sum-square), update
terms coherently (scales.per_layer_scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import sympy as sp

from theory.errors import TheoryError
from theory.roles import Role
from theory.scales import SumKind, per_layer_scale

Relation = Literal["Theta", "O"]
Style = Literal["width", "depth_mup", "completep"]


def _sym(name: str) -> sp.Symbol:
    return sp.Symbol(name, positive=True)


@dataclass(frozen=True)
class Norms:
    """The unknown norms of a residual net whose blocks hold k maps (and k biases)."""

    k: int
    alpha_in: sp.Symbol
    alpha_hid: sp.Symbol
    alpha_out: sp.Symbol
    W_in: sp.Symbol
    W_hid: tuple[sp.Symbol, ...]
    W_out: sp.Symbol
    dW_in: sp.Symbol
    dW_hid: tuple[sp.Symbol, ...]
    dW_out: sp.Symbol
    b_in: sp.Symbol
    b_hid: tuple[sp.Symbol, ...]
    db_in: sp.Symbol
    db_hid: tuple[sp.Symbol, ...]
    g_blk: sp.Symbol
    dg_blk: sp.Symbol
    g_fin: sp.Symbol
    dg_fin: sp.Symbol
    b_out: sp.Symbol
    db_out: sp.Symbol


def norms(k: int) -> Norms:
    """Symbols for block depth k (hidden maps and biases indexed 1..k, applied in that order)."""
    if k < 1:
        raise TheoryError(f"block depth k must be >= 1, got {k}")
    idx = range(1, k + 1)
    return Norms(
        k=k,
        alpha_in=_sym("alpha_0"), alpha_hid=_sym("alpha_l"), alpha_out=_sym("alpha_out"),
        W_in=_sym("W_0"), W_hid=tuple(_sym(f"W_l{i}") for i in idx), W_out=_sym("W_out"),
        dW_in=_sym("dW_0"), dW_hid=tuple(_sym(f"dW_l{i}") for i in idx), dW_out=_sym("dW_out"),
        b_in=_sym("b_0"), b_hid=tuple(_sym(f"b_l{i}") for i in idx),
        db_in=_sym("db_0"), db_hid=tuple(_sym(f"db_l{i}") for i in idx),
        g_blk=_sym("g_l"), dg_blk=_sym("dg_l"), g_fin=_sym("g_f"), dg_fin=_sym("dg_f"),
        b_out=_sym("b_out"), db_out=_sym("db_out"),
    )


@dataclass(frozen=True)
class Constraint:
    """lhs = relation(rhs); `order` 0 = initial condition, j >= 1 = j-th order update term."""

    name: str
    lhs: sp.Expr
    relation: Relation
    rhs: sp.Expr
    role: Role
    order: int

    def residual(self, values: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
        """log(lhs/rhs) after substitution, expanded: 0 iff a Θ constraint holds exactly."""
        ratio = self.lhs.subs(values) / self.rhs
        return sp.expand(sp.expand_log(sp.log(ratio), force=True))


@dataclass(frozen=True)
class Condition:
    """A named set of constraints for one network structure (block depth k)."""

    name: str
    style: Style
    k: int
    biases: bool
    constraints: tuple[Constraint, ...]
    vectors: bool = False

    def get(self, name: str) -> Constraint:
        for c in self.constraints:
            if c.name == name:
                return c
        raise TheoryError(f"condition {self.name} has no constraint {name}")

    def select(self, role: Role, order: int | None = None) -> tuple[Constraint, ...]:
        return tuple(c for c in self.constraints if c.role == role and (order is None or c.order == order))


def _block_rhs(style: Style, kind: SumKind) -> sp.Expr:
    return per_layer_scale("fixed_depth" if style == "width" else kind)


def _k2_name(S: frozenset[int], k: int, style: Style) -> str | None:
    """The paper's labels of Condition 3.1 (k = 2)."""
    if k != 2 or style != "completep":
        return None
    return {frozenset({2}): "C2.2a", frozenset({1}): "C2.2b", frozenset({1, 2}): "C2.3"}[S]


def residual_condition(k: int, style: Style, biases: bool = False, vectors: bool = False) -> Condition:
    """Constraints for a residual net with k maps per block.

    style "completep": Condition B.2 (= 3.1 for k = 2): hidden init Θ (coherent, forced by the
    higher-order terms), every order 1..k of update terms Θ(1/L).
    style "depth_mup": Condition B.1 generalised: hidden init only O(RSS bound), first-order updates only.
    style "width": YSB Eq. 1 with depth fixed: every term Θ(1).
    biases: Condition B.3 terms (bias i enters after map i, so it meets maps i+1..k).
    vectors: the same terms for the vectors of theory.roles.VECTOR_ROLES (derived here; the paper has none).
    """
    N = norms(k)
    init_rhs_hidden = _block_rhs(style, "coherent" if style == "completep" else "independent")
    init_rel_hidden: Relation = "O" if style == "depth_mup" else "Theta"
    upd_rhs = _block_rhs(style, "coherent")
    one = sp.Integer(1)
    a = N.alpha_hid
    prefix = {"width": "YSB", "depth_mup": "B1", "completep": "B2"}[style]
    p = "C" if (k == 2 and style == "completep") else f"{prefix}."
    cs: list[Constraint] = [
        Constraint(f"{p}1.1a" if p == "C" else f"{p}init.input", N.alpha_in * N.W_in, "Theta", one, "input", 0),
        Constraint(f"{p}1.1b" if p == "C" else f"{p}init.output", N.alpha_out * N.W_out, "Theta", one, "output", 0),
        Constraint("C1.2" if p == "C" else f"{p}init.hidden", a * sp.Mul(*N.W_hid), init_rel_hidden,
                   init_rhs_hidden, "hidden", 0),
        Constraint(f"{p}2.1a" if p == "C" else f"{p}update.input", N.alpha_in * N.dW_in, "Theta", one, "input", 1),
        Constraint(f"{p}2.1b" if p == "C" else f"{p}update.output", N.alpha_out * N.dW_out, "Theta", one, "output", 1),
    ]
    max_order = 1 if style == "depth_mup" else k
    for j in range(1, max_order + 1):
        for S in combinations(range(1, k + 1), j):
            fs = frozenset(S)
            lhs = a * sp.Mul(*[(N.dW_hid if i in fs else N.W_hid)[i - 1] for i in range(1, k + 1)])
            name = _k2_name(fs, k, style) or f"{prefix}.update.hidden.S={sorted(fs)}"
            cs.append(Constraint(name, lhs, "Theta", upd_rhs, "hidden", j))
    if biases:
        cs += _bias_constraints(N, style, init_rhs_hidden, upd_rhs, "YSB" if style == "width" else "B3")
    if vectors:
        cs += _vector_constraints(N, style, init_rhs_hidden, upd_rhs)
    name = {"width": "YSB Eq. 1 (depth fixed)", "depth_mup": "Condition B.1",
            "completep": "Condition 3.1" if k == 2 else "Condition B.2"}[style]
    if biases:
        name += " + B.3 (biases)"
    if vectors:
        name += " + norms and output bias"
    return Condition(name, style, k, biases, tuple(cs), vectors)


def _bias_constraints(N: Norms, style: Style, init_rhs_hidden: sp.Expr, upd_rhs: sp.Expr,
                      prefix: str) -> list[Constraint]:
    """Condition B.3, for bias i of a block: it is multiplied by α_l and the maps after it."""
    k, a, one = N.k, N.alpha_hid, sp.Integer(1)
    rss = _block_rhs(style, "independent")
    cs = [
        Constraint(f"{prefix}.init.input_bias", N.alpha_in * N.b_in, "Theta", one, "input_bias", 0),
        Constraint(f"{prefix}.update.input_bias", N.alpha_in * N.db_in, "Theta", one, "input_bias", 1),
    ]
    for i in range(1, k + 1):
        after = list(range(i + 1, k + 1))
        w_after = sp.Mul(*[N.W_hid[m - 1] for m in after])
        last = i == k
        cs.append(Constraint(f"{prefix}.init.hidden_bias{i}", a * w_after * N.b_hid[i - 1],
                             "O" if last else "Theta", rss if last else init_rhs_hidden, "hidden_bias", 0))
        cs.append(Constraint(f"{prefix}.update.hidden_bias{i}", a * w_after * N.db_hid[i - 1],
                             "Theta", upd_rhs, "hidden_bias", 1))
        if style == "depth_mup":
            continue
        for j in range(1, len(after) + 1):
            for S in combinations(after, j):
                dw = sp.Mul(*[(N.dW_hid if m in S else N.W_hid)[m - 1] for m in after])
                for bias, tag in ((N.b_hid[i - 1], "b"), (N.db_hid[i - 1], "db")):
                    cs.append(Constraint(f"{prefix}.update.hidden_bias{i}.{tag}.S={list(S)}", a * dw * bias,
                                         "Theta", upd_rhs, "hidden_bias", j + (tag == "db")))
    return cs


def _vector_constraints(N: Norms, style: Style, init_rhs_hidden: sp.Expr, upd_rhs: sp.Expr) -> list[Constraint]:
    """The terms of theory.roles.VECTOR_ROLES, written like B.3's (the paper states none of them).

    block_norm: a pre-norm gain g (a diagonal map, ‖diag g‖_R = max|g_i|) or bias at the start of a residual branch is
    met by α_l and all k maps, so it is a bias at position 0 of the block: its init term is C1.2's term times ‖g‖ and
    each of its update terms (every subset S of maps updated with it, order |S| + 1) is Θ(1/L) like the maps'.
    final_norm: a gain or bias before the readout, met by α_out·W_out: its update terms are Θ(1) like the output's.
    output_bias: added to the output after the readout's multiplier: ‖b‖_R = O(1), ‖Δb‖_R = Θ(1).
    """
    a, one = N.alpha_hid, sp.Integer(1)
    prefix = "V"
    cs = [Constraint(f"{prefix}.init.block_norm", a * sp.Mul(*N.W_hid) * N.g_blk, "O" if style == "depth_mup"
                     else "Theta", init_rhs_hidden, "block_norm", 0)]
    max_order = 0 if style == "depth_mup" else N.k
    for j in range(0, max_order + 1):
        for S in combinations(range(1, N.k + 1), j):
            maps = sp.Mul(*[(N.dW_hid if m in S else N.W_hid)[m - 1] for m in range(1, N.k + 1)])
            cs.append(Constraint(f"{prefix}.update.block_norm.S={list(S)}", a * maps * N.dg_blk, "Theta", upd_rhs,
                                 "block_norm", j + 1))
    cs += [Constraint(f"{prefix}.init.final_norm", N.alpha_out * N.W_out * N.g_fin, "Theta", one, "final_norm", 0),
           Constraint(f"{prefix}.update.final_norm", N.alpha_out * N.W_out * N.dg_fin, "Theta", one, "final_norm", 1)]
    if style != "depth_mup":
        cs.append(Constraint(f"{prefix}.update.final_norm.S=[out]", N.alpha_out * N.dW_out * N.dg_fin, "Theta", one,
                             "final_norm", 2))
    cs += [Constraint(f"{prefix}.init.output_bias", N.b_out, "O", one, "output_bias", 0),
           Constraint(f"{prefix}.update.output_bias", N.db_out, "Theta", one, "output_bias", 1)]
    return cs


def width_condition(k: int = 2, biases: bool = False) -> Condition:
    """YSB's width-only spectral condition (Eq. 1), depth held fixed."""
    return residual_condition(k, "width", biases)


def condition_3_1() -> Condition:
    """Condition 3.1 (k = 2): C1.1, C1.2, C2.1, C2.2, C2.3."""
    return residual_condition(2, "completep")


def condition_b1() -> Condition:
    """Condition B.1 (k = 1, Depth-μP style)."""
    return residual_condition(1, "depth_mup")


def condition_b2(k: int) -> Condition:
    """Condition B.2 (any fixed k >= 2; includes the j-th order terms for every subset S)."""
    if k < 2:
        raise TheoryError(f"Condition B.2 needs k >= 2, got {k}")
    return residual_condition(k, "completep")


def condition_b3() -> Condition:
    """Condition B.3 (k = 2 with biases)."""
    return residual_condition(2, "completep", biases=True)


def condition_for(parameterization: str, k: int, biases: bool = True, vectors: bool = False) -> Condition:
    """The condition a μP parameterization imposes on a net with block depth k (with the vector roles' terms)."""
    style: Style = {"mup_width": "width", "mup_k1": "depth_mup", "mup_k2": "completep"}.get(parameterization)  # type: ignore[assignment]
    if style is None:
        raise TheoryError(f"no spectral condition for parameterization {parameterization!r}")
    return residual_condition(k, style, biases, vectors)
