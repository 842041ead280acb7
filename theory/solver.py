"""The solver: condition + width-μP init + optimizer update norm -> per-role HP exponents.

Pipeline per role: (a) init σ² and ‖W‖_R (random-matrix fact), (b) multipliers α from the initial
conditions, (c) target ‖ΔW‖_R from the update conditions, (d) lr = target/‖A‖_R (Δ1),
wd = ‖A‖_R/‖W‖_R (Δ2), eps by the optimizer's epsilon notion. Every solved value is checked against
every constraint of the condition (higher-order and O-bounds included).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from theory.conditions import Condition, Constraint, condition_for, norms
from theory.errors import TheoryError
from theory.optimizers import UpdateContext, epsilon_base_power, epsilon_scale, get_optimizer, registry_version
from theory.roles import BIAS_ROLES, HP, HPS, PARAMETERIZATIONS, ROLES, VECTOR_ROLES, Role
from theory.scales import Exponents, d0, dout, exponents, fixed_factor, n, solve_monomial, theta, theta_add, theta_min

ZERO: Exponents = (sp.Integer(0), sp.Integer(0))


def fan_dims(role: Role) -> tuple[sp.Expr, sp.Expr]:
    """(n_in, n_out) of a role's matrix; a bias is a fan-in-1 matrix; block widths n_l = Θ(n)."""
    one = sp.Integer(1)
    return {"input": (d0, n), "hidden": (n, n), "output": (n, dout), "input_bias": (one, n), "hidden_bias": (one, n),
            "block_norm": (one, n), "final_norm": (one, n), "output_bias": (one, dout)}[role]


Fans = tuple[sp.Expr, sp.Expr]


def init_std(role: Role, fans: Fans | None = None) -> sp.Expr:
    """σ_l: YSB width-μP (1/sqrt(n_in))·min(1, sqrt(n_out/n_in)) for l <= L; Θ(1) for the output
    (the paper's choice: its 1/n sits in the output multiplier) and for biases (Eq. 13). `fans` (default
    `fan_dims(role)`) for a map of another shape; where n_out/n_in is Θ(1) the min is kept exactly (a Θ(1) factor)."""
    if role in ("output",) + BIAS_ROLES:
        return sp.Integer(1)
    n_in, n_out = fans or fan_dims(role)
    ratio = n_out / n_in
    factor = sp.Min(1, sp.sqrt(ratio)) if exponents(ratio) == ZERO else theta_min(sp.Integer(1), sp.sqrt(ratio))
    return factor / sp.sqrt(n_in)


def init_norm(role: Role, fans: Fans | None = None) -> sp.Expr:
    """‖W‖_R at init: sqrt(n_in/n_out)·σ·(sqrt(n_in) + sqrt(n_out)); a bias vector has ‖b‖_R = σ_b; a norm's gain
    (all ones) ‖diag g‖_R = 1, and an O(1) bound saturated for the biases of theory.roles.VECTOR_ROLES."""
    if role in VECTOR_ROLES:
        return sp.Integer(1)
    sigma = init_std(role, fans)
    if role in BIAS_ROLES:
        return sigma
    n_in, n_out = fans or fan_dims(role)
    return sp.sqrt(n_in / n_out) * sigma * theta_add(sp.sqrt(n_in), sp.sqrt(n_out))


@dataclass(frozen=True)
class Entry:
    """One table entry: HP = base^base_power · r_n^a · r_L^b, times a Θ(1) factor (1/d0 for the dense input init).
    base_power is 1 except for a root ε notion (theory.optimizers.epsilon_base_power)."""

    exps: Exponents
    fixed: sp.Expr = sp.Integer(1)
    base_power: sp.Rational = sp.Integer(1)


@dataclass(frozen=True)
class DerivedTable:
    """All entries of one (optimizer, parameterization, k); a missing key = not applicable."""

    optimizer: str
    parameterization: str
    k: int
    items: tuple[tuple[tuple[HP, Role], Entry], ...]

    @property
    def entries(self) -> dict[tuple[HP, Role], Entry]:
        return dict(self.items)

    def get(self, hp: HP, role: Role) -> Entry | None:
        return self.entries.get((hp, role))

    @property
    def roles(self) -> tuple[Role, ...]:
        present = {r for (_, r), _ in self.items}
        return tuple(r for r in ROLES if r in present)


@dataclass(frozen=True)
class RoleScales:
    """Solved Θ-scales of one matrix (or bias) of a role."""

    role: Role
    alpha: sp.Expr
    init_var: sp.Expr | None
    norm: sp.Expr
    target: sp.Expr
    other_norms: sp.Expr


def _solve(c: Constraint, unknown: sp.Symbol, known: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
    """Solve lhs = rhs for one unknown; an O-bound is saturated (the paper's choice, e.g. α_l = 1/sqrt L)."""
    return theta(solve_monomial(c.lhs.subs(known), unknown, c.rhs))


def _pick(cond: Condition, role: Role, order: int, unknown: sp.Symbol) -> Constraint:
    for c in cond.select(role, order):
        if c.lhs.has(unknown):
            return c
    raise TheoryError(f"{cond.name}: no order-{order} {role} constraint for {unknown}")


def verify(cond: Condition, values: dict[sp.Symbol, sp.Expr]) -> None:
    """Raise unless every Θ constraint holds exactly in exponents and every O constraint holds."""
    for c in cond.constraints:
        lhs = exponents(c.lhs.subs(values))
        rhs = exponents(c.rhs)
        ok = lhs == rhs if c.relation == "Theta" else (lhs[0] <= rhs[0] and lhs[1] <= rhs[1])
        if not ok:
            raise TheoryError(f"{cond.name}: constraint {c.name} fails: {lhs} vs {c.relation}{rhs}")


def solve_scales(cond: Condition) -> dict[Role, tuple[RoleScales, ...]]:
    """(a)-(c) of the pipeline: init, multipliers, target update norms, per role (one per map/bias)."""
    N = norms(cond.k)
    known: dict[sp.Symbol, sp.Expr] = {N.W_in: init_norm("input"), N.W_out: init_norm("output")}
    known.update({w: init_norm("hidden") for w in N.W_hid})
    known.update({N.b_in: init_norm("input_bias")})
    known.update({b: init_norm("hidden_bias") for b in N.b_hid})
    for alpha, role in ((N.alpha_in, "input"), (N.alpha_out, "output"), (N.alpha_hid, "hidden")):
        known[alpha] = _solve(_pick(cond, role, 0, alpha), alpha, known)
    for d, role in ((N.dW_in, "input"), (N.dW_out, "output")):
        known[d] = _solve(_pick(cond, role, 1, d), d, known)
    for d in N.dW_hid:
        known[d] = _solve(_pick(cond, "hidden", 1, d), d, known)
    if cond.biases:
        known[N.db_in] = _solve(_pick(cond, "input_bias", 1, N.db_in), N.db_in, known)
        for d in N.db_hid:
            c = next(c for c in cond.select("hidden_bias", 1) if c.lhs.has(d) and not c.lhs.free_symbols & set(N.dW_hid))
            known[d] = _solve(c, d, known)
    if cond.vectors:
        known.update({N.g_blk: init_norm("block_norm"), N.g_fin: init_norm("final_norm"),
                      N.b_out: init_norm("output_bias")})
        for d, role in ((N.dg_blk, "block_norm"), (N.dg_fin, "final_norm"), (N.db_out, "output_bias")):
            c = next(c for c in cond.select(role, 1) if c.lhs.has(d) and not c.lhs.free_symbols & set(N.dW_hid))
            known[d] = _solve(c, d, known)
    verify(cond, known)

    def prod(symbols: list[sp.Symbol]) -> sp.Expr:
        return sp.Mul(*[known[s] for s in symbols])

    k = cond.k
    out: dict[Role, tuple[RoleScales, ...]] = {
        "input": (RoleScales("input", known[N.alpha_in], init_std("input") ** 2, known[N.W_in], known[N.dW_in], sp.Integer(1)),),
        "output": (RoleScales("output", known[N.alpha_out], init_std("output") ** 2, known[N.W_out], known[N.dW_out], sp.Integer(1)),),
        "hidden": tuple(RoleScales("hidden", known[N.alpha_hid], init_std("hidden") ** 2, known[N.W_hid[i]],
                                   known[N.dW_hid[i]], prod([w for m, w in enumerate(N.W_hid) if m != i]))
                        for i in range(k)),
    }
    if cond.biases:
        out["input_bias"] = (RoleScales("input_bias", known[N.alpha_in], init_std("input_bias") ** 2,
                                        known[N.b_in], known[N.db_in], sp.Integer(1)),)
        out["hidden_bias"] = tuple(RoleScales("hidden_bias", known[N.alpha_hid], init_std("hidden_bias") ** 2,
                                              known[N.b_hid[i]], known[N.db_hid[i]], prod(list(N.W_hid[i + 1:])))
                                   for i in range(k))
    if cond.vectors:
        out["block_norm"] = (RoleScales("block_norm", known[N.alpha_hid], None, known[N.g_blk], known[N.dg_blk],
                                        prod(list(N.W_hid))),)
        out["final_norm"] = (RoleScales("final_norm", known[N.alpha_out], None, known[N.g_fin], known[N.dg_fin],
                                        known[N.W_out]),)
        out["output_bias"] = (RoleScales("output_bias", sp.Integer(1), None, known[N.b_out], known[N.db_out],
                                         sp.Integer(1)),)
    return out


def sgd_gradient_norm(role: Role, alpha: sp.Expr, other_norms: sp.Expr, fans: Fans | None = None) -> sp.Expr:
    """‖∇_W L‖_R = α · Π_{m≠i}‖W^(m)‖_R · n_in/n_out (backprop; tight by Claims F.1/F.2); `fans` as `init_std`."""
    n_in, n_out = fans or fan_dims(role)
    return alpha * other_norms * n_in / n_out


def _role_entries(s: RoleScales, opt: str, parameterization: str, k: int) -> dict[HP, Entry]:
    spec = get_optimizer(opt)
    n_in, n_out = fan_dims(s.role)
    ctx = UpdateContext(s.role, n_in, n_out, s.alpha, s.other_norms,
                        sgd_gradient_norm(s.role, s.alpha, s.other_norms), k, parameterization)
    a_norm = sp.sympify(spec.update_norm(ctx))
    found: dict[HP, Entry] = {} if s.init_var is None else {
        "multiplier": Entry(exponents(s.alpha)),
        "init_var": Entry(exponents(s.init_var), fixed_factor(s.init_var)),
    }
    found.update({"lr": Entry(exponents(s.target / a_norm)), "wd": Entry(exponents(a_norm / s.norm))})
    eps = epsilon_scale(spec, ctx)
    if eps is not None:
        found["eps"] = Entry(exponents(eps), base_power=epsilon_base_power(spec))
    return found


def _check_parameterization(parameterization: str, k: int) -> None:
    if parameterization not in PARAMETERIZATIONS:
        raise TheoryError(f"unknown parameterization {parameterization!r}; known: {', '.join(PARAMETERIZATIONS)}")
    if not isinstance(k, int) or k < 1:
        raise TheoryError(f"block depth k must be an integer >= 1, got {k!r}")


@lru_cache(maxsize=256)
def _derive(optimizer: str, parameterization: str, k: int, version: int) -> DerivedTable:
    spec = get_optimizer(optimizer)
    cond = condition_for("mup_k2" if parameterization == "sp" else parameterization, k, biases=spec.biases,
                         vectors=spec.biases)
    result: dict[tuple[HP, Role], Entry] = {}
    for role, scales in solve_scales(cond).items():
        per_map = [_role_entries(s, optimizer, parameterization, k) for s in scales]
        if any(m != per_map[0] for m in per_map[1:]):
            raise TheoryError(f"{optimizer}: the maps of role {role} get different rules")
        for hp, entry in per_map[0].items():
            if parameterization == "sp":
                entry = Entry(ZERO, entry.fixed if hp == "init_var" else sp.Integer(1), entry.base_power)
            result[(hp, role)] = entry
    order = {(hp, r): i for i, (hp, r) in enumerate((hp, r) for hp in HPS for r in ROLES)}
    return DerivedTable(optimizer, parameterization, k, tuple(sorted(result.items(), key=lambda kv: order[kv[0]])))


def derive_table(optimizer: str, parameterization: str, k: int = 2) -> DerivedTable:
    """The derived (HP, role) -> exponents table; SP = every HP at its base (exponents 0)."""
    _check_parameterization(parameterization, k)
    get_optimizer(optimizer)
    return _derive(optimizer, parameterization, k, registry_version())
