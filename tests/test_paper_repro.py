"""paper_repro.py: the catalogue lists every table and figure; bad input is one line and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "paper_repro.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_list_names_every_table_and_catalogue_figure(tmp_path):
    out = _run("--list", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.startswith("  ")}
    tables = {str(i) for i in range(1, 14)} | {"wd-rules", "residual"}
    figures = {"3", "4", "5", "6", "1", "2", "e1", "e2", "wd1", "wd2", "wd3", "wd4"}
    coords = {f"coord-{o}" for o in ("sgd", "adamw", "muon", "muon_kimi", "lion", "muon_kimi_adamw")}
    assert tables | figures | coords <= listed


def test_table_writes_all_formats_and_matches_theory_cli(tmp_path):
    out = _run("--table", "5", "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "η_base·r_L (SP: η_base)" in out.stdout  # Table 5: hidden SGD learning rate ∝ r_L
    for ext in ("md", "tex", "csv", "json"):
        assert (tmp_path / "r" / "tables" / f"table_5.{ext}").stat().st_size > 0


@pytest.mark.parametrize("args, needle", [
    (("--figure", "99"), "unknown figure"),
    (("--table", "0"), "unknown table"),
    (("--figure", "3", "--scale", "huge"), "invalid choice"),
    (("--figure", "3", "--device", "cuda", "--scale", "smoke"), "cuda"),
    (("--figure", "3", "--data", "cifar10"), "--data-dir"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, needle):
    if "cuda" in args:
        torch = pytest.importorskip("torch")
        if torch.cuda.is_available():
            pytest.skip("CUDA present")
    out = _run(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle.lower() in lines[0].lower(), out.stderr
