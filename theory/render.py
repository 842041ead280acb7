"""Render a derived entry in the paper's ratio form, as text ("η_base·√r_n (SP: η_base)") and LaTeX."""

from __future__ import annotations

import sympy as sp

from theory.roles import HP
from theory.scales import Exponents, d0, dout

BASE_TEXT: dict[str, str] = {"multiplier": "α_base", "init_var": "σ²_base", "lr": "η_base", "wd": "λ_base",
                             "eps": "ε_base"}
BASE_SYMBOL: dict[str, sp.Symbol] = {
    "multiplier": sp.Symbol(r"\alpha_{\mathrm{base}}", positive=True),
    "init_var": sp.Symbol(r"\sigma^2_{\mathrm{base}}", positive=True),
    "lr": sp.Symbol(r"\eta_{\mathrm{base}}", positive=True),
    "wd": sp.Symbol(r"\lambda_{\mathrm{base}}", positive=True),
    "eps": sp.Symbol(r"\varepsilon_{\mathrm{base}}", positive=True),
}
r_n, r_L = sp.symbols("r_n r_L", positive=True)
FACTOR_NAME = {r_n: "r_n", r_L: "r_L", d0: "d0", dout: "d_out", "n": "n", "L": "L"}
_SUPERSCRIPT = {2: "²", 3: "³"}


def factor_text(name: str, e: sp.Rational) -> str:
    """name^e for e > 0: r_n, √r_n, r_n², r_n^(3/2)."""
    if e == 1:
        return name
    if e == sp.Rational(1, 2):
        return f"√{name}"
    if e in _SUPERSCRIPT:
        return f"{name}{_SUPERSCRIPT[int(e)]}"
    return f"{name}^({e})"


def ratio_text(base: str, powers: list[tuple[str, sp.Rational]]) -> str:
    """base·num1·num2/(den1·den2) from (name, exponent) pairs; base "1" prints as 1/x when alone."""
    num = [factor_text(nm, e) for nm, e in powers if e > 0]
    den = [factor_text(nm, -e) for nm, e in powers if e < 0]
    text = "·".join(([] if base == "1" and num else [base]) + num)
    if den:
        text += "/" + (den[0] if len(den) == 1 else "(" + "·".join(den) + ")")
    return text


def _fixed_powers(fixed: sp.Expr) -> list[tuple[str, sp.Rational]]:
    powers = sp.expand_power_base(sp.sympify(fixed), force=True).as_powers_dict()
    return [(FACTOR_NAME.get(s, str(s)), sp.Rational(e)) for s, e in powers.items() if s != 1 and s.is_Symbol]


def base_text(hp: HP, base_power: sp.Rational = sp.Integer(1)) -> str:
    """'ε_base', or '√ε_base' for an entry with base power ½."""
    return BASE_TEXT[hp] if base_power == 1 else factor_text(BASE_TEXT[hp], sp.Rational(base_power))


def value_text(hp: HP, exps: Exponents, fixed: sp.Expr = sp.Integer(1), base_power: sp.Rational = sp.Integer(1)) -> str:
    """One value; a factor 1/d0 is shown as 'σ²_base/d0 or σ²_base' (dense or one-hot input)."""
    scale = [("r_n", exps[0]), ("r_L", exps[1])]
    text = ratio_text(base_text(hp, base_power), scale + _fixed_powers(fixed))
    if sp.sympify(fixed).has(d0):
        text += " or " + value_text(hp, exps, sp.sympify(fixed).subs(d0, 1), base_power)
    return text


def entry_text(hp: HP, mup: Exponents, sp_exps: Exponents, fixed: sp.Expr = sp.Integer(1),
               base_power: sp.Rational = sp.Integer(1)) -> str:
    """μP value, with the SP value in parentheses only where it differs."""
    text = value_text(hp, mup, fixed, base_power)
    if tuple(sp_exps) != tuple(mup):
        text += f" (SP: {value_text(hp, sp_exps, fixed, base_power)})"
    return text


def value_expr(hp: HP, exps: Exponents, fixed: sp.Expr = sp.Integer(1),
               base_power: sp.Rational = sp.Integer(1)) -> sp.Expr:
    """base^base_power · r_n^a · r_L^b · fixed as a SymPy expression."""
    return BASE_SYMBOL[hp] ** base_power * r_n ** exps[0] * r_L ** exps[1] * sp.sympify(fixed)


def entry_latex(hp: HP, mup: Exponents, sp_exps: Exponents, fixed: sp.Expr = sp.Integer(1),
                base_power: sp.Rational = sp.Integer(1)) -> str:
    """LaTeX of the entry (sympy.latex of each value)."""
    def one(exps: Exponents) -> str:
        text = sp.latex(value_expr(hp, exps, fixed, base_power))
        if sp.sympify(fixed).has(d0):
            text += r" \text{ or } " + sp.latex(value_expr(hp, exps, sp.sympify(fixed).subs(d0, 1), base_power))
        return text
    text = one(mup)
    if tuple(sp_exps) != tuple(mup):
        text += r" \; (\text{SP: } " + one(sp_exps) + ")"
    return text


def scale_text(expr: sp.Expr, relation: str = "Theta") -> str:
    """Θ(1/L), O(1/√L) from a monomial in n, L."""
    from theory.scales import exponents  # local: render is otherwise independent of the algebra
    a, b = exponents(expr)
    inner = ratio_text("1", [("n", a), ("L", b)])
    return f"{'Θ' if relation == 'Theta' else 'O'}({inner})"
