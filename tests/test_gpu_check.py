"""benchmarks.gpu_check: its smoke path on the CPU (the script a lent GPU runs must not rot), what the full plan
holds, and a spent budget."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import gpu_check


def test_smoke_path_runs_every_part_and_reports_it(tmp_path):
    assert gpu_check.main(["--smoke", "--device", "cpu", "--out", str(tmp_path), "--budget-s", "300"]) == 0
    rep = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [p["name"] for p in rep["parts"]] == ["tests", "bench G1 eager", "bench G2 eager", "profile G2",
                                                 "graph probe", "figure e1 smoke", "figure 3 smoke"]
    assert all(p["status"] == "ok" for p in rep["parts"])
    assert "[100%]" in rep["parts"][0]["output_tail"]           # pytest -q ran the selected device tests
    for part in rep["parts"][1:3]:
        (grid,) = part["result"]
        assert part["result"][grid]["losses_ok"] and part["result"][grid]["ratio"] > 0
    assert "aten::" in rep["parts"][3]["output_tail"]           # the profiler's table of operators
    probe = rep["parts"][4]["result"]                              # the CUDA-graph probe: on a CPU, the eager way only
    assert set(probe) == {"G1 width 16", "G2 width 16"} and all(b["eager_ms"] > 0 and "graph" not in b
                                                                  for b in probe.values())
    assert (tmp_path / "tests.xml").exists()
    assert rep["verdicts"]["3"] and all(c["device"] for c in rep["verdicts"]["3"].values())
    md = (tmp_path / "gpu_check.md").read_text()
    for text in ("torch", "fp32 peak", "| tests | ok", "bench G1 eager", "share of fp32 peak", "verdicts equal",
                 "**graph probe**"):
        assert text in md, text


def test_the_full_plan_has_every_item_of_the_check(tmp_path):
    names = [p.name for p in gpu_check.plan("cuda", False, tmp_path)]
    assert names == ["tests", "bench G1 eager", "bench G1 compiled", "bench G2 eager", "bench G2 compiled",
                     "profile G1", "profile G2", "graph probe", "figure 1 default", "figure 3 paper"]
    plan = {p.name: p for p in gpu_check.plan("cuda", False, tmp_path)}
    assert plan["tests"].env == {"SYNTHETIC_TEST_DEVICE": "cuda"} and "engine_device" in plan["tests"].argv
    assert "--compile" in plan["bench G1 compiled"].argv and "--quick" not in plan["bench G1 eager"].argv
    assert abs(sum(p.share for p in plan.values()) - 1.0) < 1e-9
    short = gpu_check.plan("cuda", False, tmp_path, bench_steps=100)
    assert all(p.argv[p.argv.index("--steps") + 1] == "100" for p in short if p.name.startswith("bench"))


def test_parts_selects_and_an_unknown_part_is_one_line(tmp_path):
    assert gpu_check.main(["--smoke", "--device", "cpu", "--out", str(tmp_path), "--parts", "bench-G1-eager"]) == 0
    rep = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [p["name"] for p in rep["parts"]] == ["bench G1 eager"] and rep["verdicts"] == {}
    done = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--smoke", "--device", "cpu", "--out",
                           str(tmp_path), "--parts", "bench-G3"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 2 and "unknown bench-G3" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    with pytest.raises(SystemExit) as exit_:
        gpu_check.main(["--smoke", "--device", "cpu", "--out", str(tmp_path), "--bench-steps", "5"])
    assert exit_.value.code == 2


def test_relative_out_is_the_callers_folder_and_an_old_tests_xml_is_not_reported(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel").mkdir()
    (tmp_path / "rel" / "tests.xml").write_text("an earlier run's")
    assert gpu_check.main(["--smoke", "--device", "cpu", "--out", "rel", "--parts", "bench-G1-eager"]) == 0
    rep = json.loads((tmp_path / "rel" / "gpu_check.json").read_text())
    assert rep["parts"][0]["result"]["G1"]["ratio"] > 0     # read back from rel/, though the part ran in ROOT
    assert not (tmp_path / "rel" / "tests.xml").exists()


def test_a_spent_budget_skips_the_rest_and_still_writes_the_report(tmp_path):
    stale = {"grids": [{"grid": "G1", "ratio": 99.0}]}          # an earlier call's numbers in the same folder
    for name in ("bench_G1_eager.json", "graph_probe.json"):
        (tmp_path / name).write_text(json.dumps(stale))
    assert gpu_check.main(["--smoke", "--device", "cpu", "--out", str(tmp_path), "--budget-s", "0.5"]) == 1
    rep = json.loads((tmp_path / "gpu_check.json").read_text())
    assert all(p["status"] == "skipped: budget spent" and p["result"] is None for p in rep["parts"])
    assert not (tmp_path / "bench_G1_eager.json").exists() and not (tmp_path / "graph_probe.json").exists()
    assert (tmp_path / "gpu_check.md").exists()


def test_an_absent_cuda_is_one_line():
    import torch

    if torch.cuda.is_available():
        return
    done = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--device", "cuda", "--out",
                           str(Path("/tmp") / "gpu_check_absent")], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
