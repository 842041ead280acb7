"""Which verdicts two galleries disagree on: the same catalogue regenerated on two machines (or kernel paths, or engine
versions), compared claim by claim for the first run, its fresh-seed rerun and its second-kernel-path run.

    git archive REV figures/gallery/summaries | tar -x -C /tmp/before
    python -m figures.verdict_diff /tmp/before/figures/gallery/summaries figures/gallery/summaries

A change between holds and fails is a **flip**; a change to or from undecided is **borderline** (the README's words).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from figures.claims import Estimate, Verdict, fmt

RUNS = (("", "first run"), ("rerun", "fresh seeds"), ("kernel", "second kernel path"))
"""The summary folders of a gallery (relative to it) and what each holds."""


@dataclass(frozen=True)
class Judged:
    """One claim's verdict and estimate, as a summary records them."""

    verdict: Verdict
    estimate: Estimate | None

    def text(self) -> str:
        return self.verdict.value + (f" ({fmt(self.estimate)})" if self.estimate is not None else "")


def verdicts(gallery: Path) -> dict[tuple[str, str], Judged]:
    """(run, claim key) → Judged for every claim of every summary in the gallery's folders."""
    if not gallery.is_dir():
        raise ValueError(f"{gallery} is not a folder of summaries")
    out: dict[tuple[str, str], Judged] = {}
    for sub, run in RUNS:
        folder = gallery / sub if sub else gallery
        for path in sorted(folder.glob("summary_*.json")):
            try:
                for c in json.loads(path.read_text()).get("claims") or []:
                    est = Estimate.from_dict(c["estimate"]) if c.get("estimate") else None
                    out[(run, c["key"])] = Judged(Verdict(c["verdict"]), est)
            except (json.JSONDecodeError, KeyError, AttributeError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}: not a summary with claims ({type(exc).__name__}: {exc})") from None
    return out


def change(before: Verdict, after: Verdict) -> str:
    """'same', 'flip' (holds ↔ fails) or 'borderline' (to or from anything else, such as undecided)."""
    if before == after:
        return "same"
    return "flip" if before.decided and after.decided else "borderline"


def diff(before: dict[tuple[str, str], Judged], after: dict[tuple[str, str], Judged]) -> list[tuple]:
    """(run, key, before, after, change) for each claim whose verdict differs or that only one gallery has."""
    rows = []
    order = {run: i for i, (_, run) in enumerate(RUNS)}
    for run, key in sorted(before.keys() | after.keys(), key=lambda k: (order[k[0]], k[1])):
        b, a = before.get((run, key)), after.get((run, key))
        if b is None or a is None:
            rows.append((run, key, b, a, "only in one"))
        elif b.verdict != a.verdict:
            rows.append((run, key, b, a, change(b.verdict, a.verdict)))
    return rows


def markdown(rows: list[tuple], n_before: int, n_after: int) -> str:
    """The differing claims as a markdown table, with a count line."""
    flips = sum(r[4] == "flip" for r in rows)
    border = sum(r[4] == "borderline" for r in rows)
    head = (f"{n_after} claim verdicts compared with {n_before}: {flips} flip between holds and fails, {border} move "
            f"to or from undecided, {sum(r[4] == 'only in one' for r in rows)} are in one gallery only.\n")
    if not rows:
        return head
    lines = ["| run | claim | before | after | change |", "|---|---|---|---|---|"]
    lines += [f"| {run} | `{key}` | {b.text() if b else '—'} | {a.text() if a else '—'} | {kind} |"
              for run, key, b, a, kind in rows]
    return head + "\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m figures.verdict_diff", description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="a gallery's summaries folder (summary_<id>.json, rerun/, kernel/)")
    parser.add_argument("after", type=Path, help="the other gallery's summaries folder")
    args = parser.parse_args(argv)
    try:
        before, after = verdicts(args.before), verdicts(args.after)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown(diff(before, after), len(before), len(after)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
