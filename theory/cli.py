"""Command line: print a derived table as Markdown and write .md, .tex, .csv, .json.

    python -m theory --table 6 [--out results/tables]
    python -m theory --table all
    python -m theory --list

Also home of the small argparse helpers every CLI of the repository shares (help defaults, output-path checks).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from theory.errors import TheoryError
from theory.tables import TABLE_IDS, RenderedTable, build_table, table_title

DEFAULT_OUT = Path("results/tables")


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to an option's help only when it informs: not for a required option, a None, False or
    empty default, or a help text that already states its default (argparse's own formatter doubles those)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or action.required or _says_nothing(action.default) \
                or "default" in text.lower():
            return text
        return f"{text} (default: {_as_typed(action.default)})".lstrip()


def _says_nothing(default: object) -> bool:
    return default is None or default is False or default is argparse.SUPPRESS \
        or (isinstance(default, (list, tuple)) and not default)


def _as_typed(default: object) -> str:
    """A default as one would type it on the command line (lists space-separated), escaped for argparse's %."""
    text = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
    return text.replace("%", "%%")


def output_file_problem(path: str) -> str | None:
    """Why the file `path` could not be written, or None: checked up front, so that a command refuses a bad output
    path before hours of work rather than after. A missing folder counts as writable when it could be created under
    its nearest existing ancestor; an existing file is opened for appending only, so its contents stay."""
    if os.path.isdir(path):
        return f"output path {path} is a folder"
    if not path or path.endswith(("/", os.sep)):
        return f"output path {path!r} names no file"
    try:
        if os.path.exists(path):
            open(path, "a").close()
            return None
        folder = os.path.dirname(os.path.abspath(path))
        while not os.path.exists(folder):
            folder = os.path.dirname(folder)
        if not os.path.isdir(folder):
            return f"cannot write {path}: {folder} is not a folder"
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        return f"cannot write {path}: {err.strerror or err}"
    return None


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
    parser = _Parser(prog="python -m theory", description="Derived spectral-μP tables (Zheng et al.; Fan et al.)",
                     formatter_class=DefaultsHelpFormatter)
    parser.add_argument("--table", help=f"one of {', '.join(TABLE_IDS)}, or all")
    parser.add_argument("--list", action="store_true", help="list the tables")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder")
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
    return run_tables(args.table, args.out)


def run_tables(name: str, out_dir: str | Path = DEFAULT_OUT) -> int:
    """`run_table` for one id, or for every id in TABLE_IDS when `name` is "all"; stops at the first failure."""
    for tid in TABLE_IDS if name == "all" else (name,):
        status = run_table(tid, out_dir)
        if status:
            return status
    return 0
