"""The committed gallery's verdicts are today's code's: every summary's claims, judged again by its figure's declared
claims (figures.registry.claims_of) on the summary as committed, give the same verdicts, estimates and intervals.
A change to a criterion, a tolerance or an interval method that would move a committed row fails here until the
gallery is regenerated."""

from __future__ import annotations

import json
import math

import pytest

from figures.regenerate import GALLERY
from figures.registry import claims_of, get_spec

SUMMARIES = sorted((GALLERY / "summaries").rglob("summary_*.json"))


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def test_the_gallery_has_summaries():
    assert len(SUMMARIES) > 40


@pytest.mark.parametrize("path", SUMMARIES, ids=lambda p: str(p.relative_to(GALLERY / "summaries")))
def test_committed_claims_are_what_the_code_derives(path):
    summary = json.loads(path.read_text())
    spec = get_spec(path.stem.removeprefix("summary_"))
    committed = summary.get("claims")
    if spec.claims is None:
        assert committed is None
        return
    derived = claims_of(spec, summary)
    assert [c["key"] for c in derived] == [c["key"] for c in committed]
    for old, new in zip(committed, derived):
        assert new["verdict"] == old["verdict"], old["key"]
        assert new["conditions"] == old["conditions"], old["key"]
        for e_old, e_new in zip([old["estimate"]] + old["parts"], [new["estimate"]] + new["parts"]):
            assert {k for k in e_new if not _close(e_old.get(k), e_new[k])} == set(), old["key"]
