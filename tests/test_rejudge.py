"""figures.rejudge: a gallery's claims derived again from its summaries; text that changed is rewritten, a verdict
that would move stops it (exit 1, nothing written)."""

from __future__ import annotations

import json
import shutil

from figures.regenerate import GALLERY
from figures.rejudge import main, same_to_round_off

SUMMARY = GALLERY / "summaries" / "summary_wd4.json"


def _copy(tmp_path):
    (tmp_path / "rerun").mkdir()
    shutil.copyfile(SUMMARY, tmp_path / SUMMARY.name)
    return tmp_path / SUMMARY.name


def test_committed_claims_need_no_rewrite(tmp_path, capsys):
    _copy(tmp_path)
    assert main(["--summaries", str(tmp_path), "--check"]) == 0
    assert "0 would change" in capsys.readouterr().out


def test_stale_wording_is_rewritten(tmp_path):
    path = _copy(tmp_path)
    s = json.loads(path.read_text())
    s["claims"][0]["detail"] = "stale"
    path.write_text(json.dumps(s))
    assert main(["--summaries", str(tmp_path)]) == 0
    assert same_to_round_off(json.loads(path.read_text()), json.loads(SUMMARY.read_text()))
    assert json.loads(path.read_text())["claims"][0]["detail"] != "stale"


def test_a_moving_verdict_writes_nothing(tmp_path, capsys):
    path = _copy(tmp_path)
    s = json.loads(path.read_text())
    s["claims"][0]["verdict"] = "holds" if s["claims"][0]["verdict"] != "holds" else "fails"
    s["claims"][0]["detail"] = "stale"
    path.write_text(json.dumps(s))
    before = path.read_text()
    assert main(["--summaries", str(tmp_path)]) == 1
    assert path.read_text() == before
    err = capsys.readouterr().err
    assert err.startswith("error: verdicts would move") and "\n" not in err.strip()


def test_no_summaries_is_one_error_line(tmp_path, capsys):
    assert main(["--summaries", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_round_off_is_not_a_change():
    """numpy rounds differently on another CPU (figures.rejudge.ROUND_OFF): a last-bit difference is not a rewrite, a
    1e-6 one is."""
    a = {"estimate": {"value": 0.3107869533139537, "n": 6, "lo": None}, "parts": [1.0, "x"]}
    assert same_to_round_off(a, {"estimate": {"value": 0.3107869533139536, "n": 6, "lo": None}, "parts": [1, "x"]})
    off = {"estimate": {"value": 0.3107879533139537, "n": 6, "lo": None}, "parts": [1.0, "x"]}   # 3e-6 relative
    assert not same_to_round_off(a, off)
    assert not same_to_round_off(a, {"estimate": {"value": 0.3107869533139537, "n": 6}, "parts": [1.0, "x"]})
    assert not same_to_round_off(a, {**a, "parts": [1.0]})
