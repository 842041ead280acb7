"""The bridge as a report: per role, each number of theory.bridge.layer_hparams with the table entry behind it.

`hparams_report(...)` returns a JSON-ready dict; `hparams_markdown(report)` renders it. Each value carries the
derived entry that produced it (base · r_n^a · r_L^b, times its Θ(1) factor; SOAP's ε has base power ½) and, where the paper has one, the table
and column that print that entry. Nothing here holds a rule: exponents come from theory.solver.derive_table and the
table/column reference from theory.tables.TABLE_SPECS.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import sympy as sp

from theory.bridge import BaseHP, layer_hparams
from theory.errors import TheoryError
from theory.optimizers import get_optimizer
from theory.render import BASE_TEXT, factor_text, ratio_text
from theory.roles import BIAS_ROLES, HP, HPS, ROLES, Role
from theory.scales import Exponents, d0, dout
from theory.solver import Entry, derive_table
from theory.tables import TABLE_SPECS

HP_NAMES: dict[str, str] = {"multiplier": "multiplier", "init_var": "init variance", "lr": "learning rate",
                            "wd": "weight decay", "eps": "ε"}
_BASE_FIELD: dict[str, str] = {"multiplier": "alpha", "init_var": "sigma2", "lr": "eta", "wd": "lam", "eps": "eps"}


def default_k(parameterization: str) -> int:
    """The block depth a parameterization is stated for: 1 for mup_k1, else 2."""
    return 1 if parameterization == "mup_k1" else 2


def k_mismatch(parameterization: str, k: int) -> str | None:
    """A warning when a depth rule and the block depth disagree: mup_k1 is derived for k = 1 blocks (branch multiplier
    ∝ 1/√L), mup_k2 for k ≥ 2 (∝ 1/L). u-μP applies the 1/√L rule to k = 2 blocks: this is the choice it names."""
    if parameterization == "mup_k1" and k != 1:
        return (f"mup_k1 is the depth rule derived for k = 1 blocks (branch multiplier ∝ 1/√L); with k = {k} the "
                f"spectral conditions of the blocks are not what it guarantees (mup_k2 is derived for k ≥ 2)")
    if parameterization == "mup_k2" and k == 1:
        return ("mup_k2 is the depth rule derived for k ≥ 2 blocks (branch multiplier ∝ 1/L); with k = 1 it damps "
                "the branches more than the conditions need (mup_k1 is derived for k = 1)")
    return None


def check_base(base: BaseHP) -> None:
    """Base values a bridge can scale: finite, multiplier and init variances > 0, lr, wd, ε >= 0."""
    for name, value, positive in (("multiplier", base.alpha, True), ("init variance", base.sigma2, True),
                                  ("input init variance", base.sigma2_input, True), ("lr", base.eta, False),
                                  ("weight decay", base.lam, False), ("eps", base.eps, False)):
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
                or value < 0 or (positive and value == 0):
            raise TheoryError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")


def table_reference(optimizer: str, parameterization: str, k: int, hp: HP, role: Role) -> tuple[str, str] | None:
    """(table id, column label) of the paper table printing this entry, or None (mup_width, a registered optimizer
    of one's own, ...). SP entries are the parenthesized values of the μP table at the same k; for k > 2 the k = 2
    table is named where the entry derived at k equals the one at k = 2."""
    param = ("mup_k2" if k >= 2 else "mup_k1") if parameterization == "sp" else parameterization
    table_k = k
    if param == "mup_k2" and k > 2:  # the k = 2 table stands for every k >= 2 where the derived entries agree
        here, at2 = derive_table(optimizer, parameterization, k), derive_table(optimizer, parameterization, 2)
        if here.get(hp, role) != at2.get(hp, role):
            return None
        table_k = 2
    specs = sorted((s for s in TABLE_SPECS.values() if s.kind == "hp" and optimizer in s.optimizers
                    and s.parameterization == param and s.k == table_k), key=lambda s: -len(s.rows))
    for spec in specs:
        if not any(r.hp == hp and r.optimizer in (None, optimizer) for r in spec.rows):
            continue
        for col in spec.columns:
            if role in col.roles:
                return spec.id, col.label
    return None


def _power(name: str, e: sp.Rational) -> str:
    return f"{name}^{e}" if e.q == 1 else f"{name}^({e})"


def _fixed_powers(fixed: sp.Expr) -> list[tuple[str, sp.Rational]]:
    """The Θ(1) factor's symbols and exponents (d0 -> d_in), e.g. 1/d0 -> [("d_in", -1)]."""
    powers = sp.expand_power_base(sp.sympify(fixed), force=True).as_powers_dict()
    return [({d0: "d_in", dout: "d_out"}.get(s, str(s)), sp.Rational(e)) for s, e in powers.items()
            if s != 1 and s.is_Symbol]


def rule_text(base_text: str, exps: Exponents, fixed: sp.Expr, base_power: sp.Rational = sp.Integer(1)) -> str:
    """'η_base · r_n^-1 · r_L^0', with the Θ(1) factor (· d_in^-1 for a dense input's init variance); a base power
    other than 1 as 'ε_base^(1/2)'."""
    parts = [base_text if base_power == 1 else _power(base_text, sp.Rational(base_power)),
             _power("r_n", exps[0]), _power("r_L", exps[1])]
    return " · ".join(parts + [_power(name, e) for name, e in _fixed_powers(fixed)])


def hparams_report(optimizer: str, parameterization: str, *, width: int, depth: int, base: BaseHP,
                   k: int | None = None, d_in: int = 1, d_out: int = 1, input_kind: str = "dense") -> dict[str, Any]:
    """Every role's multiplier, init variance, lr, wd and ε from theory.bridge, each with its entry and table."""
    check_base(base)
    k = default_k(parameterization) if k is None else k
    values = layer_hparams(optimizer, parameterization, width=width, depth=depth, k=k, d_in=d_in, d_out=d_out,
                           base=base, input_kind=input_kind)
    table = derive_table(optimizer, parameterization, k)
    roles: dict[str, Any] = {}
    for role in (r for r in ROLES if r in values):
        per_hp: dict[str, Any] = {}
        for hp in HPS:
            entry: Entry | None = table.get(hp, role)
            value = getattr(values[role], hp)
            if entry is None:
                per_hp[hp] = {"value": None, "rule": None, "paper_form": None, "table": None, "column": None}
                continue
            base_value = base.sigma2_input if (hp, role) == ("init_var", "input") and base.sigma2_input is not None \
                else getattr(base, _BASE_FIELD[hp])
            base_text = "σ²_input" if (hp, role) == ("init_var", "input") and base.sigma2_input is not None \
                else BASE_TEXT[hp]
            ref = table_reference(optimizer, parameterization, k, hp, role)
            fixed = entry.fixed.subs(d0, 1) if input_kind == "one_hot" else entry.fixed
            per_hp[hp] = {
                "value": value, "base": base_value,
                "exponents": {"r_n": str(entry.exps[0]), "r_L": str(entry.exps[1])}, "fixed": str(fixed),
                "base_power": str(entry.base_power),
                "rule": rule_text(base_text, entry.exps, fixed, entry.base_power),
                "paper_form": ratio_text(base_text if entry.base_power == 1
                                         else factor_text(base_text, sp.Rational(entry.base_power)),
                                         [("r_n", entry.exps[0]), ("r_L", entry.exps[1])] + _fixed_powers(fixed)),
                "table": None if ref is None else ref[0], "column": None if ref is None else ref[1],
            }
        lr, wd = per_hp.get("lr", {}).get("value"), per_hp.get("wd", {}).get("value")
        per_hp["decoupled_wd"] = {"value": None if lr is None or wd is None else lr * wd,
                                  "rule": "η·λ: the fraction of the weight removed per step (torch's AdamW λ times "
                                          "its lr), the lr-independent form (u-μP's, an independent decay)"}
        roles[role] = per_hp
    return {
        "optimizer": optimizer, "parameterization": parameterization, "k": k, "width": width, "depth": depth,
        "d_in": d_in, "d_out": d_out, "input_kind": input_kind,
        "r_n": width / base.n_base, "r_L": depth / base.L_base,
        "base": asdict(base), "biases": get_optimizer(optimizer).biases and any(r in roles for r in BIAS_ROLES),
        "roles": roles, "warning": k_mismatch(parameterization, k),
    }


def _source(cell: dict[str, Any], parameterization: str) -> str:
    if cell["table"] is None:
        return "derived (no paper table)"
    return f"Table {cell['table']}{' (SP value)' if parameterization == 'sp' else ''}, {cell['column'].lower()}"


def hparams_markdown(report: dict[str, Any], decoupled_wd: bool = False) -> str:
    """The report as Markdown: a header line, then one table row per (role, HP); values at full precision (repr).
    `decoupled_wd`: also the per-step decay η·λ of each role (the lr-independent form of the weight decay)."""
    b = report["base"]
    lines = [f"**{report['optimizer']}, {report['parameterization']} (k = {report['k']}): width {report['width']}, "
             f"depth {report['depth']} from base width {b['n_base']}, depth {b['L_base']}** "
             f"(r_n = {report['r_n']:g}, r_L = {report['r_L']:g}; d_in = {report['d_in']}, {report['input_kind']} "
             "input)", "",
             "| role | HP | value | rule | paper form | table entry |", "|---|---|---|---|---|---|"]
    for role, per_hp in report["roles"].items():
        for hp, cell in per_hp.items():
            if hp == "decoupled_wd":
                if decoupled_wd and cell["value"] is not None:
                    lines.append(f"| {role} | decay per step | {cell['value']!r} | η·λ (lr-independent form) | | |")
                continue
            if cell["value"] is None:
                lines.append(f"| {role} | {HP_NAMES[hp]} | — | not applicable | | |")
                continue
            lines.append(f"| {role} | {HP_NAMES[hp]} | {cell['value']!r} | {cell['rule']} | {cell['paper_form']} "
                         f"| {_source(cell, report['parameterization'])} |")
    return "\n".join(lines) + "\n"
