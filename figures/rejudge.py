"""Judge a gallery's summaries again with today's claims code, training nothing.

    python -m figures.rejudge [--summaries DIR] [--check]
    python paper_repro.py --readme --render          # then render the README and docs from them

A claim is a function of its summary's data (figures.registry.claims_of), so a change to a claim's wording, its
conditions or its detail reaches the committed gallery without retraining. A change that moves a verdict does not: at
an earlier look of the seed schedule it could have started (or spared) another look, so that figure is regenerated
instead (`python paper_repro.py --readme --only ID`), and this command then writes nothing and exits 1.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from figures.regenerate import GALLERY
from figures.registry import UnknownFigureError, claims_of, get_spec


ROUND_OFF = 1e-9
"""Relative difference under which two numbers of a summary are the same: numpy's least squares (OpenBLAS, whose
kernels are picked by the CPU at run time) and its SIMD loops round differently on another CPU, so claims judged
again there differ in their last bits (the committed wd4 summary on a Zen 4, judged on a Zen 3)."""


def same_to_round_off(a: object, b: object) -> bool:
    """Whether two JSON values are equal, their floats to ROUND_OFF."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_to_round_off(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same_to_round_off, a, b))
    if isinstance(a, float) and isinstance(b, (int, float)) or isinstance(b, float) and isinstance(a, (int, float)):
        return math.isclose(a, b, rel_tol=ROUND_OFF, abs_tol=1e-12)
    return a == b


def rejudged(path: Path) -> tuple[dict, list[str]]:
    """The summary at `path` with its claims derived again, and the claims whose verdict that moves ("key: a → b")."""
    summary = json.loads(path.read_text())
    spec = get_spec(path.stem.removeprefix("summary_"))
    if spec.claims is None:
        return summary, []
    new = claims_of(spec, summary)
    old = {c["key"]: c["verdict"] for c in summary.get("claims") or []}
    moved = [f"{c['key']}: {old.get(c['key'], 'absent')} → {c['verdict']}" for c in new
             if old.get(c["key"]) != c["verdict"]]
    moved += [f"{k}: {v} → absent" for k, v in old.items() if k not in {c["key"] for c in new}]
    return {**summary, "claims": new}, moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m figures.rejudge", description=__doc__.split("\n\n")[0])
    parser.add_argument("--summaries", type=Path, default=GALLERY / "summaries",
                        help="a gallery's summaries folder (summary_<id>.json, rerun/, kernel/)")
    parser.add_argument("--check", action="store_true", help="say what would change; write nothing")
    args = parser.parse_args(argv)
    paths = sorted(args.summaries.rglob("summary_*.json")) if args.summaries.is_dir() else []
    if not paths:
        print(f"error: no summary_*.json under {args.summaries}", file=sys.stderr)
        return 2
    try:
        results = [(p, *rejudged(p)) for p in paths]
    except (UnknownFigureError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    moved = [f"{p.relative_to(args.summaries)}: {m}" for p, _, ms in results for m in ms]
    if moved:
        print("error: verdicts would move (regenerate these figures): " + "; ".join(moved), file=sys.stderr)
        return 1
    changed = [p for p, s, _ in results if not same_to_round_off(s, json.loads(p.read_text()))]
    for p, s, _ in results:
        if p in changed and not args.check:
            p.write_text(json.dumps(s, indent=1, sort_keys=True) + "\n")   # as figures.plotting writes it
    verb = "would change" if args.check else "rewritten"
    print(f"{len(paths)} summaries judged again, no verdict moves; {len(changed)} {verb}: "
          + (", ".join(str(p.relative_to(args.summaries)) for p in changed) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
