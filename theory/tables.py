"""Table specs (structure only: optimizers, parameterization, rows, columns) and their derivation.

The entries come from solver.derive_table; nothing here holds a scaling rule. Tables 2 and 8 group the
paper's optimizers by comparing their derived tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

from theory import checks
from theory.conditions import Constraint, condition_3_1, condition_b1
from theory.errors import TheoryError
from theory.optimizers import get_optimizer, optimizer_names
from theory.render import entry_latex, entry_text, scale_text
from theory.roles import HP, Role
from theory.scales import exponents
from theory.solver import DerivedTable, derive_table
from theory.wd_rules import PAPER_POINT, WD_RULE_LABELS, WD_RULES, wd_rule


@dataclass(frozen=True)
class Column:
    """A table column; extra roles share the column and must get the same rules (e.g. input bias)."""

    label: str
    roles: tuple[Role, ...]


@dataclass(frozen=True)
class Row:
    """A table row; `optimizer` names the one optimizer an epsilon row belongs to."""

    hp: HP
    label: str
    optimizer: str | None = None


@dataclass(frozen=True)
class TableSpec:
    id: str
    title: str
    kind: Literal["hp", "overview"]
    parameterization: str
    k: int
    optimizers: tuple[str, ...] = ()
    rows: tuple[Row, ...] = ()
    columns: tuple[Column, ...] = ()
    members: tuple[str, ...] = ()   # overview: the tables whose families it lists


@dataclass(frozen=True)
class RenderedTable:
    """A table ready for output: Markdown/CSV text cells, LaTeX cells, JSON payload."""

    id: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    latex_rows: tuple[tuple[str, ...], ...]
    payload: dict[str, Any] = field(hash=False, compare=False)
    notes: tuple[str, ...] = ()


_W3 = (Column("Input weights", ("input",)), Column("Hidden weights", ("hidden",)), Column("Output weights", ("output",)))
_W4 = (Column("Input weights & biases", ("input", "input_bias")), Column("Hidden weights", ("hidden",)),
       Column("Output weights", ("output",)), Column("Hidden biases", ("hidden_bias",)))
_BASE = (Row("multiplier", "Block multiplier"), Row("init_var", "Init variance"), Row("lr", "Learning rate"))
_WD = _BASE + (Row("wd", "Weight decay"),)


def _specs() -> dict[str, TableSpec]:
    specs: dict[str, TableSpec] = {
        "1": TableSpec("1", "Muon-Kimi, Condition 3.1 (k = 2), no weight decay", "hp", "mup_k2", 2,
                       ("muon_kimi",), _BASE, _W3),
    }
    for first, param, k, cond in (("2", "mup_k2", 2, "Condition 3.1 (k = 2)"), ("8", "mup_k1", 1, "Condition B.1 (k = 1)")):
        i = int(first)
        ids = tuple(str(i + j) for j in range(1, 6))
        specs[first] = TableSpec(first, f"Overview, {cond}: optimizer families sharing rules", "overview", param, k,
                                 members=ids)
        for tid, opts, rows, cols in zip(ids, (
                ("muon_kimi",), ("muon", "shampoo", "soap"), ("sgd",), ("adamw", "lion", "sophia"), ("sso",)), (
                _WD, _WD + (Row("eps", "Shampoo ε", "shampoo"),), _WD, _WD + (Row("eps", "AdamW ε", "adamw"),), _WD), (
                _W3, _W3, _W4, _W4, _W3)):
            names = " / ".join(get_optimizer(o).display for o in opts)
            specs[tid] = TableSpec(tid, f"{names} with weight decay, {cond}", "hp", param, k, opts, rows, cols)
    return specs


TABLE_SPECS: dict[str, TableSpec] = _specs()
NAMED_TABLES = ("wd-rules", "residual")
TABLE_IDS: tuple[str, ...] = tuple(TABLE_SPECS) + NAMED_TABLES


def _exps_json(exps: tuple[sp.Rational, sp.Rational]) -> dict[str, str]:
    return {"r_n": str(exps[0]), "r_L": str(exps[1])}


def _cell(spec: TableSpec, row: Row, col: Column) -> tuple[str, str, dict[str, Any]]:
    """Text, LaTeX and JSON of one cell; checks that every optimizer and role sharing it agree."""
    opts = (row.optimizer,) if row.optimizer else spec.optimizers
    found: list[tuple[Any, Any]] = []
    for opt in opts:
        mup, sp_ = derive_table(opt, spec.parameterization, spec.k), derive_table(opt, "sp", spec.k)
        for role in col.roles:
            m, s = mup.get(row.hp, role), sp_.get(row.hp, role)
            if m is None or s is None:
                raise TheoryError(f"table {spec.id}: {opt} has no {row.hp} for {role}")
            found.append((m.exps, s.exps, m.base_power))
    if any(f != found[0] for f in found[1:]):
        raise TheoryError(f"table {spec.id}: {row.label} differs across {', '.join(opts)} / {', '.join(col.roles)}")
    entry = derive_table(opts[0], spec.parameterization, spec.k).get(row.hp, col.roles[0])
    sp_entry = derive_table(opts[0], "sp", spec.k).get(row.hp, col.roles[0])
    assert entry is not None and sp_entry is not None
    mup_table = derive_table(opts[0], spec.parameterization, spec.k)
    js = {role: {"mup": _exps_json(entry.exps), "sp": _exps_json(sp_entry.exps),
                 "fixed": str(mup_table.entries[(row.hp, role)].fixed)} for role in col.roles}
    return (entry_text(row.hp, entry.exps, sp_entry.exps, entry.fixed, entry.base_power),
            entry_latex(row.hp, entry.exps, sp_entry.exps, entry.fixed, entry.base_power), js)


def _hp_table(spec: TableSpec) -> RenderedTable:
    rows, latex_rows, entries = [], [], {}
    for row in spec.rows:
        cells = [_cell(spec, row, col) for col in spec.columns]
        rows.append((row.label,) + tuple(c[0] for c in cells))
        latex_rows.append((row.label,) + tuple(c[1] for c in cells))
        entries[row.hp] = {role: js for c in cells for role, js in c[2].items()}
        if row.optimizer:
            entries[row.hp]["optimizer"] = row.optimizer
    payload = {"table": spec.id, "title": spec.title, "optimizers": list(spec.optimizers),
               "parameterization": spec.parameterization, "k": spec.k, "entries": entries}
    return RenderedTable(spec.id, spec.title, ("",) + tuple(c.label for c in spec.columns), tuple(rows),
                         tuple(latex_rows), payload)


def families(parameterization: str, k: int) -> list[tuple[str, ...]]:
    """The paper's optimizers grouped by identical derived multiplier/init/lr/wd rules (eps ignored)."""
    groups: dict[Any, list[str]] = {}
    for opt in optimizer_names(paper_only=True):
        t: DerivedTable = derive_table(opt, parameterization, k)
        key = tuple((hp, role, e.exps) for (hp, role), e in t.items if hp != "eps")
        groups.setdefault(key, []).append(opt)
    return [tuple(g) for g in groups.values()]


def _overview(spec: TableSpec) -> RenderedTable:
    rows, grouping = [], {}
    for fam in families(spec.parameterization, spec.k):
        match = [m for m in spec.members if set(TABLE_SPECS[m].optimizers) == set(fam)]
        if len(match) != 1:
            raise TheoryError(f"table {spec.id}: derived family {fam} matches no table")
        label = " / ".join(get_optimizer(o).display for o in fam)
        rows.append((label, match[0]))
        grouping[match[0]] = list(fam)
    rows.sort(key=lambda r: int(r[1]))
    payload = {"table": spec.id, "title": spec.title, "parameterization": spec.parameterization, "k": spec.k,
               "families": dict(sorted(grouping.items(), key=lambda kv: int(kv[0])))}
    return RenderedTable(spec.id, spec.title, ("family", "table"), tuple(rows), tuple(rows), payload)


_NORM_TEXT = {"alpha": "α", "dW": "‖ΔW", "W": "‖W", "db": "‖Δb", "b": "‖b"}


def constraint_text(c: Constraint, k: int) -> str:
    """α_l·‖ΔW_l^(2)‖_R·‖W_l^(1)‖_R = Θ(1/L)."""
    parts = []
    for sym in sorted(c.lhs.free_symbols, key=lambda s: (not s.name.startswith("alpha"), s.name[-1], s.name)):
        name = sym.name
        if name.startswith("alpha"):
            parts.append("α_l")
            continue
        stem, idx = name.rstrip("0123456789"), name[len(name.rstrip("0123456789")):]
        base = _NORM_TEXT[stem[:-2]] if stem.endswith("_l") else _NORM_TEXT[stem]
        parts.append(f"{base}_l{'' if k == 1 else f'^({idx})'}‖_R")
    return "·".join(parts) + f" = {scale_text(c.rhs, c.relation)}"


def _residual() -> RenderedTable:
    results = checks.run_all()
    rows, payload_rows = [], []
    for label, cond, name in (("k = 1", condition_b1(), "Depth-μP-style"),
                              (f"k ≥ 2 (checked k = 2..{checks.KMAX})", condition_3_1(), "CompleteP-style")):
        (init,) = cond.select("hidden", 0)
        updates = [c for c in cond.select("hidden") if c.order >= 1]
        rel, alpha = checks.hidden_alpha(cond)
        how = "chosen: saturates the O-bound" if rel == "O" else "forced"
        alpha_text = f"{scale_text(alpha)} ({how})"
        update_text = "; ".join(constraint_text(c, cond.k) for c in updates)
        rows.append((label, constraint_text(init, cond.k), update_text, alpha_text, name))
        payload_rows.append({"block_depth": label, "init_condition": rows[-1][1], "update_condition": update_text,
                             "alpha_l": {"relation": rel, "exponents": _exps_json(exponents(alpha)), "how": how},
                             "name": name, "condition": cond.name})
    payload = {"table": "residual", "title": "Residual multiplier: k = 1 vs k ≥ 2", "rows": payload_rows,
               "checks": results}
    notes = tuple(f"check passed: {name}" for name in results)
    return RenderedTable("residual", payload["title"],
                         ("block depth", "init condition (hidden)", "update condition (hidden)",
                          "α_l under width-μP init", "name"), tuple(rows), tuple(rows), payload, notes)


def _wd_rules() -> RenderedTable:
    rows, payload_rows = [], []
    for name in WD_RULES:
        general = wd_rule(name)
        at = general.at(PAPER_POINT)
        cells = tuple(str(x).replace("alpha", "α") for x in (general.wd, general.sigma1, general.kappa, general.angular))
        nums = tuple(str(x) for x in (at.wd, at.sigma1, at.kappa, at.angular))
        rows.append((WD_RULE_LABELS[name],) + cells + nums)
        payload_rows.append({"rule": name, "general": dict(zip(("wd", "sigma1", "kappa", "angular"), cells)),
                             "paper_point": dict(zip(("wd", "sigma1", "kappa", "angular"), nums))})
    header = ("rule", "λ₂ ∝ d^e: e", "σ₁ exp.", "κ = ηλ exp.", "angular exp.",
              "e*", "σ₁ exp.*", "κ exp.*", "angular exp.*")
    note = ("σ₁ ∝ (η/λ)^p·d^α, η₂ ∝ d^a, λ₂ ∝ d^e; * at a = -1, p = 1/2, α = 3/4 (Fan et al.); "
            "Fan's rule solves σ₁ exponent = 0: e = a + α/p")
    payload = {"table": "wd-rules", "title": "Weight-decay scaling rules", "point": {str(k): str(v) for k, v in PAPER_POINT.items()},
               "rows": payload_rows}
    return RenderedTable("wd-rules", payload["title"], header, tuple(rows), tuple(rows), payload, (note,))


def build_table(table_id: str) -> RenderedTable:
    """Derive and render one table by id ("1".."13", "wd-rules", "residual")."""
    table_id = str(table_id).strip()
    if table_id == "wd-rules":
        return _wd_rules()
    if table_id == "residual":
        return _residual()
    spec = TABLE_SPECS.get(table_id)
    if spec is None:
        raise TheoryError(f"unknown table {table_id!r}; known: {', '.join(TABLE_IDS)}")
    return _overview(spec) if spec.kind == "overview" else _hp_table(spec)


def table_title(table_id: str) -> str:
    if table_id in TABLE_SPECS:
        return TABLE_SPECS[table_id].title
    return {"wd-rules": "Weight-decay scaling rules (Fan vs constant ηλ vs μP fixed λ)",
            "residual": "Residual multiplier: k = 1 vs k ≥ 2"}[table_id]
