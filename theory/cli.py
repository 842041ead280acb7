"""Command line: print a derived table as Markdown and write .md, .tex, .csv, .json; or move base HPs to a target.

    python -m theory --table 6 [--out results/tables]
    python -m theory --table all
    python -m theory --list
    python -m theory hparams --optimizer adamw --parameterization mup_k2 --width 2048 --depth 32 \
        --base-width 256 --base-depth 4 --lr 3e-3 --wd 0.1 [--format markdown|json] [--out FILE]

Also home of the small argparse helpers every CLI of the repository shares (OneLineParser, help defaults,
output-path checks).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from theory.bridge import BaseHP
from theory.errors import TheoryError
from theory.hparams import hparams_markdown, hparams_report
from theory.roles import PARAMETERIZATIONS
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


def output_dir_problem(folder: str | Path) -> str | None:
    """Why files could not be written into `folder`, or None (a file in its place, or no write access)."""
    folder = str(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        return f"cannot write to {folder}: it is a file, not a folder"
    problem = output_file_problem(os.path.join(folder, ".probe"))
    return problem.replace(os.path.join(folder, ".probe"), folder) if problem else None


class UsageError(TheoryError):
    """A command-line mistake: reported as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """The repository's argparse: DefaultsHelpFormatter unless told otherwise, and a bad argument (or a call to
    .error) is one line, never a usage dump. By default it raises UsageError for the caller to report (and exit 2);
    with raise_errors=False, for scripts that report nothing else, it prints "prog: error: message" to stderr and
    exits with status 2 itself."""

    def __init__(self, *args: object, raise_errors: bool = True, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.raise_errors = raise_errors
        # argparse reads "-1e-8" as an option (its negative-number pattern has no exponent), so "--eps -1e-8" failed
        # with "expected one argument" instead of reaching the value's own check
        self._negative_number_matcher = re.compile(r"^-(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")

    def error(self, message: str):  # type: ignore[override]
        message = " ".join(str(message).split())
        if self.raise_errors:
            raise UsageError(message)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


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
    """Derive table `name`, print Markdown, write the files; 0 on success, 2 on bad input (an output folder that
    cannot be written is refused before anything is printed)."""
    problem = output_dir_problem(out_dir)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
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


PLUGIN_HELP = ("import this module first (repeatable): a user's register_optimizer / register_rule / "
               "register_engine_optimizer calls")


def load_plugins(argv: Sequence[str]) -> list[str]:
    """Import every `--plugin MODULE` of a command line before it is parsed (so a registered optimizer is a valid
    choice) and return the line without them; UsageError when a module cannot be imported."""
    import importlib

    rest, modules, it = [], [], iter(argv)
    for arg in it:
        if arg == "--plugin":
            modules.append(next(it, ""))
        elif arg.startswith("--plugin="):
            modules.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    for module in modules:
        if not module:
            raise UsageError("--plugin needs a module path (python -m …'s form, e.g. mypkg.myrules)")
        try:
            importlib.import_module(module)
        except Exception as exc:  # the user's module: any error it raises is reported in one line
            raise UsageError(f"--plugin {module}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
    return rest


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        argv = load_plugins(argv)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if argv[:1] == ["hparams"]:
        return hparams_main(argv[1:])
    parser = OneLineParser(prog="python -m theory", description="Derived spectral-μP tables (Zheng et al.; Fan et al.)",
                           epilog="python -m theory hparams --help: per-layer HPs at a target width and depth")
    parser.add_argument("--table", help=f"one of {', '.join(TABLE_IDS)}, or all")
    parser.add_argument("--list", action="store_true", help="list the tables")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE", help=PLUGIN_HELP)
    try:
        args = parser.parse_args(argv)
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


def _hparams_parser() -> OneLineParser:
    b = BaseHP()
    p = OneLineParser(prog="python -m theory hparams",
                      description="Per-layer multiplier, init variance, learning rate, weight decay and ε at a target "
                                  "width and depth, from base HPs tuned at (base width, base depth) — theory.bridge's "
                                  "numbers, each with the derived table entry behind it.")
    p.add_argument("--optimizer", default="adamw", help="a registered optimizer: sgd, adamw, lion, sophia, muon, "
                                                        "muon_kimi, shampoo, soap, sso")
    p.add_argument("--parameterization", default="mup_k2", help=f"one of {', '.join(PARAMETERIZATIONS)}")
    p.add_argument("--width", type=int, required=True, help="target hidden width n")
    p.add_argument("--depth", type=int, required=True, help="target number of residual blocks L")
    p.add_argument("--k", type=int, default=None, help="maps per residual block (default: 1 for mup_k1, else 2)")
    p.add_argument("--base-width", type=int, default=b.n_base, help="width the base HPs were tuned at (n_base)")
    p.add_argument("--base-depth", type=int, default=b.L_base, help="depth the base HPs were tuned at (L_base)")
    p.add_argument("--lr", type=float, default=b.eta, help="η_base")
    p.add_argument("--wd", type=float, default=b.lam, help="λ_base (W ← W − η(A + λW))")
    p.add_argument("--multiplier", "--alpha", dest="alpha", type=float, default=b.alpha, help="α_base")
    p.add_argument("--init-var", "--sigma2", dest="sigma2", type=float, default=b.sigma2,
                   help="σ²_base: per-entry init variance of a hidden matrix at the base width")
    p.add_argument("--input-init-var", type=float, default=None,
                   help="the input layer's own base init variance (default: --init-var, divided by d_in for a dense "
                        "input)")
    p.add_argument("--eps", type=float, default=b.eps, help="ε_base (AdamW, Shampoo; SOAP takes its square root)")
    p.add_argument("--d-in", type=int, default=1, help="input dimension d_in (divides the dense input's init variance)")
    p.add_argument("--d-out", type=int, default=1, help="output dimension")
    p.add_argument("--input-kind", choices=("dense", "one_hot"), default="dense",
                   help="dense input (init σ²/d_in) or one-hot tokens (fan-in 1)")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown", help="output format")
    p.add_argument("--out", default=None, help="also write the output to this file")
    p.add_argument("--decoupled-wd", action="store_true",
                   help="also print each role's per-step decay η·λ (the lr-independent form of torch's AdamW λ)")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE", help=PLUGIN_HELP)
    return p


def hparams_main(argv: Sequence[str]) -> int:
    """`python -m theory hparams ...`: print the bridge's per-role numbers with their table entries; 0, or 2 on
    bad input (one line on stderr)."""
    try:
        a = _hparams_parser().parse_args(list(argv))
        problem = a.out is not None and output_file_problem(a.out)
        if problem:
            raise UsageError(f"--out: {problem}")
        base = BaseHP(alpha=a.alpha, sigma2=a.sigma2, eta=a.lr, lam=a.wd, eps=a.eps, n_base=a.base_width,
                      L_base=a.base_depth, sigma2_input=a.input_init_var)
        report = hparams_report(a.optimizer, a.parameterization, width=a.width, depth=a.depth, base=base, k=a.k,
                                d_in=a.d_in, d_out=a.d_out, input_kind=a.input_kind)
        text = (json.dumps(report, indent=2, ensure_ascii=False) + "\n" if a.format == "json"
                else hparams_markdown(report, decoupled_wd=a.decoupled_wd))
        if report["warning"]:
            print(f"warning: {report['warning']}", file=sys.stderr)
        if a.out is not None:
            Path(a.out).parent.mkdir(parents=True, exist_ok=True)
            Path(a.out).write_text(text, encoding="utf-8")
    except TheoryError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: cannot write {a.out}: {err.strerror or err}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0
