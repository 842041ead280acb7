"""Command line: print a derived table as Markdown and write .md, .tex, .csv, .json.

    python -m theory --table 6 [--out results/tables]
    python -m theory --list
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Sequence

from theory.errors import TheoryError
from theory.tables import TABLE_IDS, RenderedTable, build_table, table_title

DEFAULT_OUT = Path("results/tables")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise TheoryError(message)


def markdown(t: RenderedTable) -> str:
    lines = [f"**Table {t.id}: {t.title}**", "", "| " + " | ".join(t.header) + " |",
             "|" + "---|" * len(t.header)]
    lines += ["| " + " | ".join(row) + " |" for row in t.rows]
    lines += [""] + [f"- {note}" for note in t.notes] if t.notes else []
    return "\n".join(lines) + "\n"


def latex(t: RenderedTable) -> str:
    def cell(x: str, math: bool) -> str:
        return f"${x}$" if math and x else x.replace("&", r"\&")
    math_cols = t.id not in ("wd-rules", "residual") and t.header != ("family", "table")
    lines = [f"% Table {t.id}: {t.title} (derived by theory/)", r"\begin{tabular}{" + "l" * len(t.header) + "}",
             r"\hline", " & ".join(cell(h, False) for h in t.header) + r" \\", r"\hline"]
    for row in t.latex_rows:
        lines.append(" & ".join([cell(row[0], False)] + [cell(x, math_cols) for x in row[1:]]) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_table(t: RenderedTable, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"table_{t.id}"
    paths = [stem.with_suffix(s) for s in (".md", ".tex", ".csv", ".json")]
    paths[0].write_text(markdown(t), encoding="utf-8")
    paths[1].write_text(latex(t), encoding="utf-8")
    with paths[2].open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(t.header)
        writer.writerows(t.rows)
    paths[3].write_text(json.dumps(t.payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return paths


def run_table(name: str, out_dir: str | Path = DEFAULT_OUT) -> int:
    """Derive table `name`, print Markdown, write the files; 0 on success, 2 on bad input."""
    try:
        t = build_table(str(name))
        print(markdown(t))
        paths = write_table(t, Path(out_dir))
    except TheoryError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: cannot write to {out_dir}: {err.strerror or err}", file=sys.stderr)
        return 2
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m theory", description="Derived spectral-μP tables (Zheng et al.; Fan et al.)")
    parser.add_argument("--table", help=f"one of {', '.join(TABLE_IDS)}")
    parser.add_argument("--list", action="store_true", help="list the tables")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default results/tables)")
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        if not args.list and args.table is None:
            raise TheoryError("give --table ID or --list")
    except TheoryError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.list:
        for tid in TABLE_IDS:
            print(f"{tid}\t{table_title(tid)}")
        return 0
    return run_table(args.table, args.out)
