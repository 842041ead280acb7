"""Every code reference in the documents exists: relative links and their section anchors, dotted names of the
project's modules (`synthetic.engine.train_bucket`), repository paths (`figures/claims.py`), and every `--option` of a
`python -m …` or `python paper_repro.py` command, checked against that command's own `--help`."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import re
import runpy
import subprocess
import sys
import warnings
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "ARCHITECTURE.md", ROOT / "BENCHMARKS.md", *(ROOT / "docs").glob("*.md")])
PACKAGES = ("synthetic", "theory", "figures", "benchmarks")
OUTPUT_DIRS = ("results/",)
"""Paths the commands write (not in the repository)."""

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
SPAN = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(rf"\b((?:{'|'.join(PACKAGES)})(?:\.[A-Za-z_]\w*)+)")
PATH = re.compile(rf"^((?:{'|'.join(PACKAGES)}|tests|docs|\.ci)/[\w./-]*|[\w-]+\.(?:py|md|toml))$")
COMMAND = re.compile(r"python (-m [\w.]+|paper_repro\.py)((?: +[^\s|;&)]+)*)")


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def _anchors(path: Path) -> set[str]:
    return {_slug(m[1]) for m in re.finditer(r"^#{1,6} (.+)$", path.read_text(), re.M)}


def _code(text: str) -> list[str]:
    """Inline code spans, and the lines of indented and fenced code blocks."""
    spans = SPAN.findall(text)
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced or line.startswith("    "):
            spans.append(line.strip())
    return spans


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        try:
            obj = importlib.import_module(name)
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _help_text(argv: tuple[str, ...]) -> str:
    """What `python argv… --help` prints: the project's commands run in this process (runpy, as `python -m` or
    `python script` would, without paying an interpreter and a torch import each), others in a subprocess."""
    if argv[0] == "-m" and argv[1].split(".")[0] not in PACKAGES + ("examples",):
        done = subprocess.run([sys.executable, *argv, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        return done.stdout
    target = argv[1] if argv[0] == "-m" else str(ROOT / argv[0])
    rest = list(argv[2:] if argv[0] == "-m" else argv[1:])
    out = io.StringIO()
    saved = sys.argv
    sys.argv = [target, *rest, "--help"]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", "'.*' found in sys.modules", RuntimeWarning)  # already imported: rerun
            if argv[0] == "-m":
                runpy.run_module(target, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(target, run_name="__main__")
    except SystemExit:
        pass
    finally:
        sys.argv = saved
    return out.getvalue()


@lru_cache(maxsize=None)
def _options(argv: tuple[str, ...]) -> frozenset[str]:
    return frozenset(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", _help_text(argv)))


def _command_argv(head: str, rest: str) -> tuple[tuple[str, ...], list[str]]:
    """(the argv whose --help lists the options, the options used) of one command in a document."""
    argv = ["paper_repro.py"] if head == "paper_repro.py" else ["-m", head.removeprefix("-m ")]
    tokens = rest.split()
    if argv[-1] in ("synthetic", "theory") and tokens and re.fullmatch(r"[a-z]+", tokens[0]):
        argv.append(tokens[0])
    return tuple(argv), [t.split("=")[0] for t in tokens if re.fullmatch(r"--[a-z][\w-]*(=\S*)?", t)]


def _references():
    for doc in DOCUMENTS:
        text = doc.read_text()
        for target in LINK.findall(text):
            if not re.match(r"[a-z]+:", target):
                yield doc, "link", target
        for span in _code(text):
            for dotted in DOTTED.findall(span):
                yield doc, "name", dotted
            if PATH.match(span) and not span.startswith(OUTPUT_DIRS) and not re.search(r"[A-Z]{2}|<|…|\*", span):
                yield doc, "path", span
            for head, rest in COMMAND.findall(span):
                yield doc, "command", (head, rest)


def _problem(doc: Path, kind: str, ref) -> str | None:
    if kind == "link":
        path, _, anchor = ref.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        if not target.exists():
            return f"link to a missing file {ref}"
        if anchor and target.suffix == ".md" and anchor not in _anchors(target):
            return f"link to a missing section {ref}"
    elif kind == "name" and not _resolves(ref):
        return f"no such module or attribute {ref}"
    elif kind == "path" and not (ROOT / ref).exists():
        return f"no such path {ref}"
    elif kind == "command":
        head, rest = ref
        argv, used = _command_argv(head, rest)
        if head.startswith("-m ") and importlib.util.find_spec(argv[1]) is None:
            return f"no module {argv[1]}"
        missing = sorted(set(used) - _options(argv))
        if missing:
            return f"`python {' '.join(argv)}` has no option {', '.join(missing)}"
    return None


def test_the_documents_reference_only_what_exists():
    problems = sorted({f"{doc.relative_to(ROOT)}: {p}" for doc, kind, ref in _references()
                       if (p := _problem(doc, kind, ref))})
    assert not problems, "\n".join(problems)


def test_the_checker_catches_a_missing_name_path_option_and_anchor(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("# Title\n")
    assert _problem(doc, "name", "synthetic.engine.no_such_function")
    assert _problem(doc, "name", "synthetic.engine.train_bucket") is None
    assert _problem(doc, "path", "figures/no_such.py") and _problem(doc, "path", "figures/claims.py") is None
    assert _problem(doc, "link", "#title") is None and _problem(doc, "link", "#nothing")
    assert _problem(doc, "command", ("paper_repro.py", " --figure 3 --no-such-flag"))
    assert _problem(doc, "command", ("-m synthetic", " grid --widths 8 --steps 3")) is None


@pytest.mark.parametrize("heading, slug", [("CI regression checks", "ci-regression-checks"),
                                           ("theory/: derived scaling tables", "theory-derived-scaling-tables"),
                                           ("Adding an engine rule", "adding-an-engine-rule")])
def test_slug(heading, slug):
    assert _slug(heading) == slug
