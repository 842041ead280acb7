"""figures.verdict_diff: claims compared across two galleries, flips told apart from moves to or from undecided."""

import json

from scipy import stats

from figures import verdict_diff
from figures.claims import LEVEL


def _summary(folder, fid, verdicts):
    folder.mkdir(parents=True, exist_ok=True)
    claims = [{"key": k, "verdict": v, "estimate": {"value": 0.5, "se": 0.1, "df": 4.0, "n": 5}}
              for k, v in verdicts.items()]
    (folder / f"summary_{fid}.json").write_text(json.dumps({"claims": claims}))


def test_flips_borderlines_and_missing_claims_are_told_apart(tmp_path, capsys):
    before, after = tmp_path / "a", tmp_path / "b"
    _summary(before, "x", {"x.same": "holds", "x.flip": "holds", "x.border": "fails", "x.gone": "holds"})
    _summary(after, "x", {"x.same": "holds", "x.flip": "fails", "x.border": "undecided"})
    _summary(before / "rerun", "x", {"x.flip": "fails"})
    _summary(after / "rerun", "x", {"x.flip": "holds"})
    rows = verdict_diff.diff(verdict_diff.verdicts(before), verdict_diff.verdicts(after))
    assert [(r[0], r[1], r[4]) for r in rows] == [
        ("first run", "x.border", "borderline"), ("first run", "x.flip", "flip"), ("first run", "x.gone", "only in one"),
        ("fresh seeds", "x.flip", "flip")]
    assert verdict_diff.main([str(before), str(after)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("4 claim verdicts compared with 5: 2 flip between holds and fails, 1 move to or from "
                          "undecided, 1 are in one gallery only.")
    half = stats.t.ppf(1 - (1 - LEVEL) / 2, 4.0) * 0.1                      # two-sided, 5 seeds
    est = f"+0.500 [{0.5 - half:+.3f}, {0.5 + half:+.3f}]"
    assert f"| first run | `x.flip` | holds ({est}) | fails ({est}) | flip |" in out


def test_the_same_gallery_has_no_differences(tmp_path, capsys):
    _summary(tmp_path, "x", {"x.a": "holds", "x.b": "undecided"})
    assert verdict_diff.main([str(tmp_path), str(tmp_path)]) == 0
    assert capsys.readouterr().out == ("2 claim verdicts compared with 2: 0 flip between holds and fails, 0 move to "
                                       "or from undecided, 0 are in one gallery only.\n")


def test_bad_input_is_one_error_line(tmp_path, capsys):
    (tmp_path / "summary_x.json").write_text("{not json")
    assert verdict_diff.main([str(tmp_path), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "summary_x.json" in err
