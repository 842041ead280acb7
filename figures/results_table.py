"""The README's results table, rendered from the claims the figures wrote into their summaries (never typed in).

    python -m figures.results_table [--figures figures/gallery/summaries] [--rerun figures/gallery/summaries/rerun]

A generic renderer: one row per claim of `summary["claims"]` (figures.claims: declared by each figure's
`FigureSpec.claims`), in catalogue order. It knows no figure's keys. Each row shows the claim, what is expected (the
criterion and its tolerance), the estimate with its interval and the seeds it rests on, the same claim on fresh
seeds (`paper_repro.py --figure ID --seed-offset N`), the Welch interval on the difference between the two (the
reruns agree when it contains 0), and the verdict: the shared verdict when both runs agree, "borderline" when they
differ (holds vs fails, or either one undecided while the other is decided). A row whose summary was written by an
engine version other than the current one is marked stale; a figure not run, or a summary that cannot be read or has
no claims, gives a row that says so.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from figures.claims import LEVEL, Estimate, Verdict, fmt, rerun_verdict
from synthetic.version import ENGINE_VERSION
from theory.cli import OneLineParser

Summary = dict[str, Any]
COLUMNS = ("claim", "expected", f"measured ({100 * LEVEL:.1f}% interval)", "seeds", "fresh-seed rerun",
           f"rerun − first (Welch {100 * LEVEL:.1f}%)")
KERNEL_COLUMN = "second CPU kernel path, first seeds"
VERDICT_TEXT = {"holds": "holds", "fails": "**fails**", "undecided": "undecided", "shown": "shown",
                "borderline": "**borderline**"}


def summary_path(root: Path, fig_id: str) -> Path:
    """`<root>/summary_<id>.json` (the committed gallery layout) or `<root>/<id>/summary_<id>.json` (results/)."""
    flat = root / f"summary_{fig_id}.json"
    return flat if flat.exists() else root / fig_id / f"summary_{fig_id}.json"


def load(root: Path | None, fig_id: str) -> Summary | str | None:
    """The summary, None when absent, or a one-line reason when it cannot be read."""
    if root is None:
        return None
    path = summary_path(root, fig_id)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"unreadable summary {path.name} ({type(exc).__name__})"
    return data if isinstance(data, dict) else f"malformed summary {path.name} (not an object)"


def _claims(s: Summary | str | None, fig_id: str) -> list[Mapping[str, Any]] | str | None:
    if s is None or isinstance(s, str):
        return s
    claims = s.get("claims")
    if not isinstance(claims, list):
        return f"summary_{fig_id}.json has no claims (written before the claims protocol: rerun the figure)"
    if not all(isinstance(c, dict) and {"key", "claim", "expected", "estimate", "verdict"} <= set(c) for c in claims):
        return f"malformed claims in summary_{fig_id}.json"
    return claims


def engine_of(s: Summary) -> str:
    prov = s.get("provenance") if isinstance(s, dict) else None
    return str(prov.get("engine_version", "unknown")) if isinstance(prov, dict) else "unknown"


def _seeds(s: Summary) -> set:
    prov = s.get("provenance")
    return set(prov.get("seeds") or []) if isinstance(prov, dict) else set()


def comparable(first: Summary, rerun: Summary) -> bool:
    """A rerun is comparable when it has the first run's scale and none of its seeds."""
    return first.get("scale") == rerun.get("scale") and not (_seeds(first) & _seeds(rerun))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _measured(c: Mapping[str, Any]) -> str:
    text = fmt(Estimate.from_dict(c["estimate"]))
    if c.get("detail"):
        text += f"; {c['detail']}"
    if c.get("conditions"):
        text += "; cannot hold: " + ", ".join(c["conditions"])
    if c.get("fail_conditions"):
        text += "; cannot fail: " + ", ".join(c["fail_conditions"])
    return text


def _n(c: Mapping[str, Any], s: Summary) -> str:
    n = int(c["estimate"].get("n") or 0)
    look = s.get("look", 1)
    if c["estimate"].get("method") in ("exact", "none") or n == 0:
        return "—"
    other = int(c["estimate"].get("n_other") or 0)
    return f"{n}" + (f" + {other} (other experiment)" if other else "") + (f" (look {look})" if look and look > 1
                                                                           else "")


def _difference(first: Mapping[str, Any], rerun: Mapping[str, Any]) -> str:
    """The Welch interval on rerun − first, and whether it contains 0."""
    d = Estimate.from_dict(rerun["estimate"]).minus(Estimate.from_dict(first["estimate"]))
    lo, hi = d.interval()
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "—"
    agree = lo <= 0.0 <= hi
    return f"{fmt(d)}: " + ("agree" if agree else "**differ**")


def header(kernel: bool) -> str:
    cols = COLUMNS + ((KERNEL_COLUMN,) if kernel else ()) + ("verdict",)
    return "| " + " | ".join(cols) + " |\n" + "|---" * len(cols) + "|\n"


def rows(root: Path, rerun_root: Path | None = None, fig_ids: Sequence[str] | None = None,
         kernel_root: Path | None = None, compact: bool = False) -> Iterator[tuple[str, ...]]:
    """Every row of the table: (claim, expected, measured, seeds, rerun, rerun − first[, kernel path], verdict), for
    `fig_ids` (default: the catalogue, figures.registry.figure_ids). With `kernel_root` (the same figures on the same
    seeds under another CPU kernel path), that run's estimate and verdict sit in their own column and count in the
    verdict like the rerun's."""
    if fig_ids is None:
        from figures.registry import figure_ids

        fig_ids = figure_ids()
    for fig_id in fig_ids:
        first_summary, rerun_summary = load(root, fig_id), load(rerun_root, fig_id)
        first, rerun = _claims(first_summary, fig_id), _claims(rerun_summary, fig_id)
        kernel_summary = load(kernel_root, fig_id)
        kernel = _claims(kernel_summary, fig_id)
        kernel_by_key = {c["key"]: c for c in kernel} if isinstance(kernel, list) else {}
        blank = ("",) * ((5 if compact else len(COLUMNS)) - 3 + (kernel_root is not None) + 1)
        if not isinstance(first, list):
            yield (fig_id, "", first or "not run", *blank)
            continue
        if isinstance(rerun, list) and not comparable(first_summary, rerun_summary):
            rerun = "rerun not comparable (other scale, or shared seeds)"
        stale = sorted({v for v in {engine_of(first_summary),
                                    *([engine_of(rerun_summary)] if isinstance(rerun, list) else [])}
                        if v != ENGINE_VERSION})
        by_key = {c["key"]: c for c in rerun} if isinstance(rerun, list) else {}
        for c in first:
            r = by_key.get(c["key"])
            rerun_text = fmt(Estimate.from_dict(r["estimate"])) if r else (rerun if isinstance(rerun, str)
                                                                            else "not rerun")
            if r:
                rerun_text += f" ({_n(r, rerun_summary)} seeds)" if _n(r, rerun_summary) != "—" else ""
            k = kernel_by_key.get(c["key"])
            others = [(name, Verdict(x["verdict"])) for name, x in (("rerun", r), ("kernel path", k)) if x]
            verdict = Verdict(c["verdict"]).value
            for _, v in others:
                verdict = verdict if rerun_verdict(Verdict(c["verdict"]), v) != "borderline" else "borderline"
            text = VERDICT_TEXT[verdict]
            if verdict == "borderline":
                text += f" ({c['verdict']}, " + ", ".join(f"{name} {v.value}" for name, v in others) + ")"
            if stale:
                text += f" (**stale**: {', '.join(stale)})"
            measured = fmt(Estimate.from_dict(c["estimate"])) if compact else _measured(c)
            cells = [c["claim"], c["expected"], measured, _n(c, first_summary), rerun_text]
            if not compact:
                cells.append(_difference(c, r) if r else "—")
            if kernel_root is not None:
                cells.append(f"{fmt(Estimate.from_dict(k['estimate']))}: {k['verdict']}" if k else "—")
            yield (*cells, text)


FRONT_COLUMNS = ("claim", "verdict", f"estimate ({100 * LEVEL:.1f}% interval)", "seeds")
"""The front page's table (README): one short line per judged claim; the rerun and kernel path count in the verdict
(borderline), their numbers are in the full table."""


def markdown(root: Path, rerun_root: Path | None = None, fig_ids: Sequence[str] | None = None,
             kernel_root: Path | None = None, compact: bool = False) -> str:
    """The full table, or with `compact` the front page's: FRONT_COLUMNS, claims without a verdict ("shown") left
    out."""
    if compact:
        out = "| " + " | ".join(FRONT_COLUMNS) + " |\n" + "|---" * len(FRONT_COLUMNS) + "|\n"
        for row in rows(root, rerun_root, fig_ids, kernel_root, compact=True):
            if row[-1] != VERDICT_TEXT["shown"]:
                out += "| " + " | ".join(_cell(x) for x in (row[0], row[-1], row[2], row[3])) + " |\n"
        return out
    out = header(kernel_root is not None)
    for row in rows(root, rerun_root, fig_ids, kernel_root):
        out += "| " + " | ".join(_cell(x) for x in row) + " |\n"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m figures.results_table", description=__doc__.split("\n")[0],
                           raise_errors=False)
    parser.add_argument("--figures", default="figures/gallery/summaries",
                        help="folder holding summary_<id>.json or <id>/summary_<id>.json")
    parser.add_argument("--rerun", default=None,
                        help="the same for the fresh-seed rerun (default: <figures>/rerun when it exists)")
    parser.add_argument("--kernel", default=None,
                        help="the same for the run under a second CPU kernel path (default: <figures>/kernel when it "
                             "exists)")
    args = parser.parse_args(argv)
    root = Path(args.figures)
    if not root.is_dir():
        print(f"error: no summaries folder {root} (run python paper_repro.py --figure all first)", file=sys.stderr)
        return 2
    rerun = Path(args.rerun) if args.rerun else root / "rerun"
    kernel = Path(args.kernel) if args.kernel else root / "kernel"
    sys.stdout.write(markdown(root, rerun if rerun.is_dir() else None, kernel_root=kernel if kernel.is_dir() else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
