"""`python -m synthetic`: bad input gives one line and exit 2; a tiny grid end to end, then a fit of its records."""

import os
import subprocess
import sys

import numpy as np
import pytest

from synthetic.cli import main
from synthetic.fit import loglog_fit
from synthetic.grid import read_csv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["grid", "--widths", "8", "16", "32", "--depths", "1", "--lrs", "1e-2", "3e-2", "--seeds", "0", "1",
        "--steps", "4", "--batch", "8", "--d-in", "4", "--device", "cpu", "--dtype", "float64", "--progress", "never"]


def run_module(*args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "synthetic", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)


def test_bad_input_in_a_real_process_is_one_line_exit_2():
    p = run_module("grid", "--widths", "0", "--device", "cpu")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "width must be a positive integer" in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("args, message", [
    (["grid", "--optimizer", "adamx"], "unknown optimizer 'adamx'"),
    (["grid", "--k", "0"], "k must be an integer >= 1"),
    (["grid", "--depths", "-1"], "depth must be a positive integer"),
    (["grid", "--parameterization", "mup"], "unknown parameterization"),
    (["grid", "--widths", "x"], "invalid int value"),
    (["grid", "--device", "tpu"], "unknown device"),
    (["fit", "--records", "/no/such/records.csv"], "records file not found"),
    (["fit"], "required: --records"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_one_line(capsys, args, message):
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err and "Traceback" not in err


def test_cuda_absent_is_one_line(capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    assert main(["grid", "--device", "cuda", "--widths", "8", "--depths", "1", "--lrs", "1e-3", "--seeds", "0",
                 "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CUDA is not available" in err


def test_tiny_grid_end_to_end_then_fit(tmp_path, capsys):
    out, cache = str(tmp_path / "records.csv"), str(tmp_path / "cache")
    assert main([*TINY, "--cache", cache, "--out", out]) == 0
    assert "12 runs" in capsys.readouterr().out
    table = read_csv(out)
    assert list(table)[:8] == ["run_id", "width", "depth", "lr", "wd", "seed", "parameterization", "optimizer"]
    assert list(table)[8:] == ["step", "layer", "quantity", "index", "value"]
    assert len(table["value"]) == 12 * 4 and set(table["quantity"]) == {"loss"}
    assert set(table["width"].tolist()) == {8, 16, 32} and set(table["optimizer"]) == {"adamw"}
    assert len(os.listdir(os.path.join(cache, os.listdir(cache)[0]))) == 12

    # a second invocation reads every run from the cache and writes the same records
    out2 = str(tmp_path / "again.csv")
    assert main([*TINY, "--cache", cache, "--out", out2]) == 0
    capsys.readouterr()
    assert open(out).read() == open(out2).read()

    assert main(["fit", "--records", out, "--quantity", "loss", "--over", "width", "--groupby", "lr",
                 "--n-boot", "200"]) == 0
    text = capsys.readouterr().out
    lines = text.strip().splitlines()
    assert lines[0] == "exponent of loss vs width (95% CI)"
    assert len(lines) == 3 and lines[1].startswith("lr=0.01: slope") and "per-seed bootstrap, 2 seeds" in text
    # the printed slope is the OLS slope of the last-step loss against width
    last = (table["step"] == 3) & (table["lr"] == 1e-2)
    want = loglog_fit(table["width"][last], table["value"][last]).slope
    assert f"slope {want:+.4f}" in lines[1]

    assert main(["fit", "--records", out, "--quantity", "sigma1"]) == 2
    assert "no records for quantity 'sigma1'" in capsys.readouterr().err
