"""The CLI end to end: files written, JSON contents, and one-line errors without tracebacks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from theory.cli import main, run_table
from theory.tables import TABLE_IDS

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "theory", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_table_6_subprocess_writes_all_formats(tmp_path: Path) -> None:
    proc = _run("--table", "6", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "η_base/r_n (SP: η_base)" in proc.stdout and "wrote" in proc.stdout
    for suffix in ("md", "tex", "csv", "json"):
        assert (tmp_path / f"table_6.{suffix}").stat().st_size > 0
    data = json.loads((tmp_path / "table_6.json").read_text(encoding="utf-8"))
    assert data["optimizers"] == ["adamw", "lion", "sophia"] and data["parameterization"] == "mup_k2"
    assert data["entries"]["lr"]["hidden"] == {"mup": {"r_n": "-1", "r_L": "0"}, "sp": {"r_n": "0", "r_L": "0"}, "fixed": "1"}
    assert data["entries"]["eps"]["hidden_bias"]["mup"] == {"r_n": "-1", "r_L": "-1"}
    assert "\\frac" in (tmp_path / "table_6.tex").read_text(encoding="utf-8")


def test_every_table_id_runs_in_process(tmp_path: Path, capsys) -> None:
    for tid in TABLE_IDS:
        assert run_table(tid, tmp_path) == 0, tid
    out = capsys.readouterr().out
    assert "CompleteP-style" in out and "Fan et al." in out
    assert json.loads((tmp_path / "table_residual.json").read_text(encoding="utf-8"))["rows"][1]["alpha_l"]["how"] == "forced"
    assert main(["--list"]) == 0


def test_bad_input_one_line_no_traceback(tmp_path: Path) -> None:
    for args in (("--table", "99"), ("--bogus",), (), ("--table", "6", "--out", "/proc/nope")):
        proc = _run(*args, *(() if "--out" in args else ("--out", str(tmp_path))))
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    proc = subprocess.run([sys.executable, "-c",
                           "from theory.bridge import layer_hparams, BaseHP\n"
                           "layer_hparams('nope', 'mup_k2', width=8, depth=2, k=2, d_in=1, d_out=1, base=BaseHP())"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "unknown optimizer 'nope'" in proc.stderr.strip().splitlines()[-1]


def test_table_all_writes_every_table(tmp_path: Path) -> None:
    proc = _run("--table", "all", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for tid in TABLE_IDS:
        assert (tmp_path / f"table_{tid}.json").stat().st_size > 0, tid
    assert proc.stdout.count("wrote ") == len(TABLE_IDS)


def test_help_states_each_default_once_and_never_none(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "(default: None)" not in text and "(default: results/tables)" in text
    for entry in re.split(r"\n(?=  -)", text.split("options:", 1)[1]):
        assert entry.lower().count("default") <= 1, entry
