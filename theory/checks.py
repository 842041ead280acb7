"""SymPy checks of the paper's algebra on the conditions (each returns True/False; `run_all` raises).

Work in log-exponents: each unknown norm X becomes a symbol x_X = log X, so a Θ constraint is a
linear equation Σ pow·x = log(rhs).
"""

from __future__ import annotations

import sympy as sp

from theory.conditions import Condition, Constraint, condition_3_1, condition_b1, condition_b2, norms
from theory.errors import TheoryError
from theory.scales import L, exponents, solve_monomial

KMAX = 8


def _x(sym: sp.Symbol) -> sp.Symbol:
    return sp.Symbol(f"x_{sym.name}", real=True)


def log_equation(c: Constraint) -> sp.Expr:
    """log(lhs) - log(rhs) with log X -> x_X; zero iff the Θ constraint holds."""
    logged = sp.expand(sp.expand_log(sp.log(c.lhs), force=True) - sp.expand_log(sp.log(c.rhs), force=True))
    return sp.expand(logged.subs({sp.log(s): _x(s) for s in c.lhs.free_symbols}))


def c12_follows_from_c22_c23(cond: Condition | None = None) -> bool:
    """(C1.2) from (C2.2a), (C2.2b), (C2.3): solve C2.2 for the update exponents, C2.3 then fixes α;
    True iff C1.2's residual then simplifies to 0 identically (for any ‖W‖ exponents)."""
    cond = cond or condition_3_1()
    N = norms(2)
    xa, xd1, xd2 = _x(N.alpha_hid), _x(N.dW_hid[0]), _x(N.dW_hid[1])
    upd = sp.solve([log_equation(cond.get("C2.2a")), log_equation(cond.get("C2.2b"))], [xd1, xd2], dict=True)
    if len(upd) != 1:
        return False
    alpha = sp.solve(log_equation(cond.get("C2.3")).subs(upd[0]), xa)
    if len(alpha) != 1:
        return False
    diff = sp.simplify(log_equation(cond.get("C1.2")).subs(upd[0]).subs(xa, alpha[0]))
    return diff == 0


def higher_orders_automatic_symbolic() -> bool:
    """For symbolic k, j: with P = Σ_i w_i, s_S = Σ_{i∈S} w_i, first order dW_i = c - α - P + w_i,
    the j-th term α + Σ_S dW_i + (P - s_S) equals c once α + P = c (initial condition)."""
    k, j = sp.symbols("k j", positive=True, integer=True)
    alpha, P, s_S, c = sp.symbols("alpha P s_S c", real=True)
    sum_dW_S = j * (c - alpha - P) + s_S
    term = alpha + sum_dW_S + (P - s_S)
    return sp.simplify(term.subs(alpha, c - P) - c) == 0


def higher_orders_automatic_enumerated(kmax: int = KMAX) -> bool:
    """Condition B.2 for k = 2..kmax: solve α from the initial and dW_i from the first-order
    constraints; every j-th order constraint (all subsets S, |S| >= 2) then holds identically."""
    for k in range(2, kmax + 1):
        cond, N = condition_b2(k), norms(k)
        sol: dict[sp.Symbol, sp.Expr] = {}
        (init,) = cond.select("hidden", 0)
        for i, d in enumerate(N.dW_hid):
            (first,) = [c for c in cond.select("hidden", 1) if c.lhs.has(d)]
            sol[_x(d)] = sp.solve(log_equation(first), _x(d))[0]
        x_alpha = sp.solve(log_equation(init), _x(N.alpha_hid))[0]
        higher = [c for c in cond.select("hidden") if c.order >= 2]
        if len(higher) != 2 ** k - k - 1:
            return False
        for c in higher:
            if sp.expand(log_equation(c).subs(sol).subs(_x(N.alpha_hid), x_alpha)) != 0:
                return False
    return True


def admissible_alpha(cond: Condition, alpha: sp.Expr) -> bool:
    """Is hidden α_l = alpha admissible under width-μP init (‖W‖_R = Θ(1))? Solve each ‖ΔW^(i)‖
    from its first-order constraint, then test every hidden constraint."""
    N = norms(cond.k)
    vals: dict[sp.Symbol, sp.Expr] = {w: sp.Integer(1) for w in N.W_hid}
    vals[N.alpha_hid] = alpha
    for d in N.dW_hid:
        (first,) = [c for c in cond.select("hidden", 1) if c.lhs.has(d)]
        vals[d] = solve_monomial(first.lhs.subs(vals), d, first.rhs)
    for c in cond.select("hidden"):
        lhs, rhs = exponents(c.lhs.subs(vals)), exponents(c.rhs)
        if not (lhs == rhs if c.relation == "Theta" else all(x <= y for x, y in zip(lhs, rhs))):
            return False
    return True


def hidden_alpha(cond: Condition) -> tuple[str, sp.Expr]:
    """(relation, scale) the hidden initial condition gives α_l under ‖W‖_R = Θ(1)."""
    N = norms(cond.k)
    (init,) = cond.select("hidden", 0)
    value = solve_monomial(init.lhs.subs({w: 1 for w in N.W_hid}), N.alpha_hid, init.rhs)
    return init.relation, value


def k1_leaves_alpha_bounded() -> bool:
    """k = 1: α_l = O(1/sqrt L) only; 1/sqrt L (the paper's choice, saturating) and 1/L are both
    admissible, Θ(1) is not."""
    cond = condition_b1()
    rel, bound = hidden_alpha(cond)
    return (rel == "O" and exponents(bound) == (0, sp.Rational(-1, 2))
            and admissible_alpha(cond, bound) and admissible_alpha(cond, 1 / L)
            and not admissible_alpha(cond, sp.Integer(1)))


def k2_forces_alpha_one_over_L(kmax: int = KMAX) -> bool:
    """k >= 2: α_l = Θ(1/L) is forced: 1/L is admissible, 1/sqrt L and 1/L² are not."""
    for k in range(2, kmax + 1):
        cond = condition_b2(k)
        rel, value = hidden_alpha(cond)
        if rel != "Theta" or exponents(value) != (0, -1):
            return False
        if not admissible_alpha(cond, 1 / L) or admissible_alpha(cond, L ** sp.Rational(-1, 2)) \
                or admissible_alpha(cond, L ** -2):
            return False
    return True


CHECKS = {
    "C1.2 follows from C2.2 and C2.3": c12_follows_from_c22_c23,
    "j-th order terms automatic (symbolic k, j)": higher_orders_automatic_symbolic,
    f"j-th order terms automatic (all subsets, k = 2..{KMAX})": higher_orders_automatic_enumerated,
    "k = 1 leaves alpha_l = O(1/sqrt L)": k1_leaves_alpha_bounded,
    "k >= 2 forces alpha_l = Theta(1/L)": k2_forces_alpha_one_over_L,
}


def run_all() -> dict[str, bool]:
    """Run every check; raise TheoryError naming the first that fails."""
    results = {name: bool(fn()) for name, fn in CHECKS.items()}
    failed = [name for name, ok in results.items() if not ok]
    if failed:
        raise TheoryError(f"algebra check failed: {failed[0]}")
    return results
