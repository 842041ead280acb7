"""synthetic.estimate: a grid's memory and size, before training: closed forms, the refusal and the warning."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import synthetic.estimate as est
from synthetic.config import ModelConfig, RunConfig
from synthetic.errors import ConfigError


def test_n_params_and_run_bytes_are_the_closed_forms():
    m = ModelConfig(width=16, depth=3, k=2, d_in=4, d_out=2, bias=True)
    assert m.n_params == 4 * 16 + 3 * 2 * 16 * 16 + 16 * 2 + 16 + 3 * 2 * 16
    run = RunConfig(model=m, steps=10, batch_size=8, dtype="float64")
    acts = est.ACTIVATION_COPIES * 8 * 16 * (3 * 2 + 2)
    assert est.run_bytes(run) == 8 * (est.STATE_COPIES * m.n_params + acts + 8 * (4 + 2) + 11)


def test_a_bucket_larger_than_the_memory_is_refused_naming_its_shape(monkeypatch):
    runs = [RunConfig(model=ModelConfig(width=64, depth=2), seed=s) for s in range(4)]
    need = sum(est.run_bytes(r) for r in runs)
    monkeypatch.setattr(est, "available_bytes", lambda device: need)
    monkeypatch.setattr("synthetic.engine.CPU_CHUNKS", False)
    est.check_fits([runs], torch.device("cpu"))                     # exactly fits
    monkeypatch.setattr(est, "available_bytes", lambda device: need - 1)
    with pytest.raises(ConfigError, match="a bucket of 4 runs at width 64"):
        est.check_fits([runs], torch.device("cpu"))
    monkeypatch.setattr("synthetic.engine.CPU_CHUNKS", True)
    monkeypatch.setattr("synthetic.engine.runs_per_chunk", lambda *a: 2)   # chunks of 2 train one after the other
    est.check_fits([runs], torch.device("cpu"))


def test_size_warning_above_the_threshold_only():
    small = [RunConfig(model=ModelConfig(width=8, depth=1), steps=10)]
    assert est.size_warning(small) is None
    run = small[0]
    big = [RunConfig(model=run.model, steps=int(est.WARN_TFLOP * 1e12 / (6 * run.model.n_params * run.batch_size)) + 1)]
    assert est.grid_tflop(big) > est.WARN_TFLOP and "TFLOP" in est.size_warning(big)


@pytest.mark.parametrize("args", [["--widths", "100000", "--depths", "2"], ["--steps", "1000000000000"],
                                  ["--batch", "1000000000"]])
def test_grid_refuses_what_cannot_fit_in_one_line(args, tmp_path):
    done = subprocess.run([sys.executable, "-m", "synthetic", "grid", *args, "--lrs", "1e-2", "--seeds", "0",
                           "--no-cache", "--out", str(tmp_path / "r.csv"), "--progress", "never"],
                          capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "needs about" in lines[0], done.stderr
