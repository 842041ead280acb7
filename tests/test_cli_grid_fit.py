"""`python -m synthetic`: bad input gives one line and exit 2; a tiny grid end to end, then a fit of its records."""

import csv
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import synthetic.cli as cli
from synthetic.cli import build_parser, grid_runs, main
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
    columns = [c for c in table if c != "diverged_at"]  # an outcome column, written by newer grid.py versions
    assert columns[:8] == ["run_id", "width", "depth", "lr", "wd", "seed", "parameterization", "optimizer"]
    assert columns[8:] == ["step", "layer", "quantity", "index", "value"]
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
    assert len(lines) == 3 and lines[1].startswith("lr=0.01: slope") and "per-seed t, 2 seeds" in text
    # the printed slope is the OLS slope of the last-step loss against width
    last = (table["step"] == 3) & (table["lr"] == 1e-2)
    want = loglog_fit(table["width"][last], table["value"][last]).slope
    assert f"slope {want:+.4f}" in lines[1]

    assert main(["fit", "--records", out, "--quantity", "sigma1"]) == 2
    assert "no records for quantity 'sigma1'" in capsys.readouterr().err


def _no_training(*args, **kwargs):
    raise AssertionError("training started although the command line should have been refused")


SMALL = ["grid", "--widths", "8", "--depths", "1", "--lrs", "1e-3", "--seeds", "0", "--steps", "2", "--device", "cpu"]


@pytest.mark.parametrize("args, message", [
    (["--noise", "nan"], "--noise must be a finite number >= 0"),
    (["--noise", "-0.1"], "--noise must be a finite number >= 0"),
    (["--data", "teacher_classification", "--noise", "1.5"], "flip probability"),
    (["--data", "teacher_classification", "--noise", "nan"], "flip probability"),
    (["--lrs", "inf"], "--lrs must be finite non-negative"),
    (["--lrs", "1e-3", "nan"], "--lrs must be finite non-negative"),
    (["--wds", "inf"], "--wds must be finite non-negative"),
    (["--alpha", "0"], "--alpha must be a finite number > 0"),
    (["--alpha", "-1"], "--alpha must be a finite number > 0"),
    (["--alpha", "inf"], "--alpha must be a finite number > 0"),
    (["--sigma2", "inf"], "--sigma2 must be a finite number > 0"),
    (["--d-in", "32", "--data", "two_class_standin"], "--d-in 32 contradicts it"),
    (["--d-in", "16", "--data", "cifar10"], "--d-in 16 contradicts it"),
    (["--no-cache", "--cache", "somewhere"], "--no-cache and --cache contradict"),
    (["--measure-at", "0", "3"], "--measure-at steps must be in 0..2"),
    (["--measure", "h_rms", "--measure-at", "-1"], "--measure-at steps must be in 0..2"),
    (["--out", "/proc/records.csv"], "--out: cannot write /proc/records.csv"),
    (["--out", "/sys/records.csv"], "--out: cannot write /sys/records.csv"),
    (["--out", "/"], "--out: output path / is a folder"),
    (["--decay", "cosine", "--lr-floor", "2"], "floor must be in [0, 1]"),
    (["--warmup-steps", "5"], "warmup_steps (5) exceeds the run's steps (2)"),
    (["--warmup-start", "nan", "--warmup-steps", "1"], "warmup_start must be in [0, 1]"),
    (["--steps", "-1"], "--steps must be >= 0"),
    (["--seeds", "100000000000000000000000000"], "--seeds must be integers in 0..2^62 − 1"),
    (["--seeds", "9223372036854775808"], "--seeds must be integers in 0..2^62 − 1"),
    (["--seeds", "-1"], "--seeds must be integers in 0..2^62 − 1"),
    (["--seeds", "0", "0", "1"], "--seeds repeats 0"),
    (["--widths", "8", "8"], "--widths repeats 8"),
    (["--lr-floor", "0.1"], "with --decay constant it would be ignored"),
    (["--retries", "-1"], "--retries only apply to --executor ray"),
    (["--cpus-per-bucket", "0", "--address", "x:1"], "--address, --cpus-per-bucket only apply to --executor ray"),
])
def test_nonsense_grid_input_is_refused_before_training(monkeypatch, capsys, args, message):
    monkeypatch.setattr(cli, "run_grid", _no_training)
    assert main([*SMALL, *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err, err


def test_existing_folder_as_out_is_refused_before_training(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cli, "run_grid", _no_training)
    assert main([*SMALL, "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_unwritable_out_in_a_real_process_is_one_line_exit_2():
    p = run_module(*SMALL, "--out", "/proc/records.csv")
    assert p.returncode == 2 and p.stdout == "" and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


def test_output_file_problem_accepts_a_creatable_folder_without_creating_it(tmp_path):
    from theory.cli import output_file_problem

    target = tmp_path / "new" / "deeper" / "records.csv"
    assert output_file_problem(str(target)) is None and not (tmp_path / "new").exists()
    assert os.listdir(tmp_path) == []
    (tmp_path / "file").write_text("x")
    assert "not a folder" in output_file_problem(str(tmp_path / "file" / "records.csv"))
    assert output_file_problem(str(tmp_path / "file")) is None and (tmp_path / "file").read_text() == "x"
    assert "names no file" in output_file_problem("")


def test_image_data_gets_3072_inputs_unless_told_otherwise():
    def d_in(*args):
        return grid_runs(build_parser().parse_args([*SMALL, *args]))[0].model.d_in

    assert d_in("--data", "two_class_standin") == 3072
    assert d_in("--data", "cifar10", "--d-in", "3072") == 3072
    assert d_in() == 32 and d_in("--d-in", "7") == 7


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_interrupt_message_without_cache_says_runs_are_lost(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cli, "run_grid", _interrupt)
    assert main([*SMALL, "--no-cache", "--out", str(tmp_path / "r.csv")]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lost" in err and "are cached" not in err


def test_interrupt_message_with_cache_names_the_cache(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cli, "run_grid", _interrupt)
    cache = str(tmp_path / "cache")
    assert main([*SMALL, "--cache", cache, "--out", str(tmp_path / "r.csv")]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"finished buckets are cached in {cache}" in err


def _records_csv(path, lr_values):
    """A records CSV whose lr groups follow `lr_values` (lr -> loss per width; NaN = diverged)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run_id", "width", "depth", "lr", "wd", "seed", "parameterization", "optimizer", "step", "layer",
                    "quantity", "index", "value"])
        for lr, loss in lr_values.items():
            for seed in (0, 1):
                for width in (8, 16, 32):
                    w.writerow([f"{lr}-{seed}-{width}", width, 1, lr, 0.0, seed, "mup_k2", "adamw", 3, "model",
                                "loss", 0, repr(loss(width))])
    return str(path)


def test_fit_reports_unfittable_groups_after_the_fitted_ones(tmp_path, capsys):
    path = _records_csv(tmp_path / "r.csv", {0.01: lambda w: w ** -0.5, 10.0: lambda w: float("nan")})
    assert main(["fit", "--records", path, "--n-boot", "50"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert err == "" and lines[1].startswith("lr=0.01: slope -0.5000")
    assert lines[2] == "not fitted (1):" and lines[3].startswith("lr=10.0: a log-log fit needs at least 3")


@pytest.mark.parametrize("text, message", [("", "is empty (no header)"),
                                           ("run_id,width,seed,step,layer,quantity,index,value\n",
                                            "has a header and no records")])
def test_fit_on_an_empty_records_file_is_one_line_exit_2(tmp_path, capsys, text, message):
    path = tmp_path / "r.csv"
    path.write_text(text)
    assert main(["fit", "--records", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err


def test_a_file_as_cache_is_refused_before_training(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cli, "run_grid", _no_training)
    (tmp_path / "afile").write_text("")
    assert main([*SMALL, "--cache", str(tmp_path / "afile")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "is a file, not a folder" in err


def test_fit_with_no_fittable_group_is_one_line_exit_2(tmp_path, capsys):
    path = _records_csv(tmp_path / "r.csv", {10.0: lambda w: float("nan"), 30.0: lambda w: float("inf")})
    assert main(["fit", "--records", path, "--n-boot", "50"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "no group could be fitted" in err and "lr=30.0" in err


def test_fit_leaves_diverged_runs_out_and_says_how_many(tmp_path, capsys):
    """Issue 21: a diverged run's last recorded loss (finite, huge) is not a result; without the `diverged_at`
    column the fit over lr reads 1e14-scale losses as data."""
    path = tmp_path / "r.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run_id", "width", "depth", "lr", "wd", "seed", "parameterization", "optimizer", "diverged_at",
                    "step", "layer", "quantity", "index", "value"])
        for lr, diverged in ((0.01, -1), (0.1, -1), (1.0, -1), (10.0, 3), (100.0, 2)):
            for seed in (0, 1):
                loss = 1e14 * lr if diverged >= 0 else (0.5 + 0.01 * seed) * lr ** -0.25
                w.writerow([f"{lr}-{seed}", 8, 1, lr, 0.0, seed, "sgd", "sgd", diverged, 3, "model", "loss", 0,
                            repr(loss)])
    assert main(["fit", "--records", str(path), "--over", "lr", "--n-boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "slope -0.2500" in out and out.strip().endswith("left out 4 diverged run(s): their last recorded values "
                                                          "are not results")


def help_entries(text):
    """The help text of each option, one string per option (wrapped lines joined)."""
    return [" ".join(e.split()) for e in re.split(r"\n(?=  -)", text.split("options:", 1)[1])]


@pytest.mark.parametrize("command", [[], ["grid"], ["fit"]])
def test_help_states_each_default_once_and_never_none(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "(default: None)" not in text and "default: False" not in text
    for entry in help_entries(text):
        assert entry.lower().count("default") <= 1, entry
        assert not entry.startswith("--records") or "default" not in entry
    if command == ["grid"]:
        assert "(default: 64 128 256)" in text and "(default: .cache/runs)" in text


def test_grid_schedule_options_reach_every_run():
    args = build_parser().parse_args([*SMALL, "--steps", "10", "--warmup-steps", "3", "--warmup-start", "0.1",
                                      "--decay", "cosine", "--lr-floor", "0.05"])
    runs = grid_runs(args)
    s = runs[0].schedule
    assert (s.warmup_steps, s.warmup_start, s.decay, s.floor) == (3, 0.1, "cosine", 0.05)
    assert s.factor(0, 10) == pytest.approx(0.1) and s.factor(10, 10) == pytest.approx(0.05)


def test_grid_sets_classes_input_variance_and_measured_layers(tmp_path):
    """--n-classes (default --d-out under ce), --sigma2-input and --measure-layers reach the run configs."""
    base = ["grid", "--widths", "8", "--depths", "2", "--lrs", "1e-2", "--seeds", "0", "--steps", "3"]
    a = build_parser().parse_args([*base, "--data", "teacher_classification", "--loss", "ce", "--d-out", "4"])
    assert grid_runs(a)[0].data.n_classes == 4
    a = build_parser().parse_args([*base, "--sigma2-input", "0.5", "--measure", "h_rms", "--measure-layers", "model",
                                   "h2"])
    (run,) = grid_runs(a)
    assert run.base.sigma2_input == 0.5 and run.measure_layers == ("model", "h2")
    for bad in (["--n-classes", "3"], ["--sigma2-input", "-1"], ["--eps", "-1e-8"]):
        done = subprocess.run([sys.executable, "-m", "synthetic", *base, *bad, "--out", str(tmp_path / "r.csv")],
                              capture_output=True, text=True)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, (bad, done.stderr)
