"""Smoke run of the engine-vs-plain-loop benchmark (`--quick`, one process, < 60 s on a 2-core CPU).

Not a timed test: it checks that both paths train the same runs to the same final losses (the plain loop is
torch.optim + nn.Module, an independent reference) and that the report carries every field the issue asks for.
"""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_engine", "--quick", "--device", "cpu",
                           "--threads", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    return proc, json.loads(out.read_text()) if out.exists() else None


def test_quick_run_succeeds_and_losses_agree(quick_run):
    proc, report = quick_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [g["grid"] for g in report["grids"]] == ["G1", "G2"]
    for g in report["grids"]:
        loss = g["losses"]
        assert loss["compared"] == g["runs"] > 0
        assert loss["agree"] == loss["compared"], loss
        assert loss["max_rel_diff"] <= loss["rtol"]


def test_report_fields(quick_run):
    proc, report = quick_run
    for key in ("date", "device", "device_name", "torch", "precision", "peak", "threads"):
        assert key in report
    assert report["device"] == "cpu" and report["peak"]["fp32"] is None
    assert "TF32 off" in report["precision"]
    from benchmarks.grids import QUICK
    from benchmarks.plain_loop import parameter_count
    for g in report["grids"]:
        flops = 6.0 * sum(parameter_count(r.model) for r in QUICK[g["grid"]].runs()) * g["spec"]["batch"] \
            * g["spec"]["steps"]
        assert math.isclose(g["flops"], flops, rel_tol=1e-12)
        assert g["engine_s"] > 0 and g["plain_s"] > 0
        assert math.isclose(g["ratio"], g["plain_s"] / g["engine_s"], rel_tol=1e-12)
        assert g["gemm_s"] > 0 and math.isclose(g["max_ratio"], g["plain_s"] / g["gemm_s"], rel_tol=1e-12)
        assert math.isclose(g["gemm_s"], sum(b["gemm_s"] for b in g["buckets_detail"]), rel_tol=1e-12)
        assert math.isclose(g["engine_tflops"], g["flops"] / g["engine_s"] / 1e12, rel_tol=1e-12)
        assert g["engine_peak_share"] is None
    for field in ("engine", "plain", "ratio", "matmuls alone", "TFLOP/s", "peak share unknown", "losses agree"):
        assert field in proc.stdout
    assert "precision: float32, TF32 off" in proc.stdout


def test_parameter_count_matches_the_engine_model():
    from benchmarks.plain_loop import parameter_count
    from synthetic.config import ModelConfig
    from synthetic.models import param_shapes

    for cfg in (ModelConfig(width=48, depth=3, k=3, d_in=7, d_out=5, bias=True, hidden_ratio=2.0),
                ModelConfig(width=32, depth=2)):
        expected = sum(math.prod(s) for s in param_shapes(cfg).values())
        assert parameter_count(cfg) == expected


def test_cuda_absent_is_one_line_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_engine", "--quick", "--device", "cuda"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "CUDA" in proc.stderr


@pytest.mark.parametrize("target", ["/proc/bench.json", "/sys/bench.json", "DIR"])
def test_unwritable_json_is_refused_before_any_benchmark(monkeypatch, capsys, tmp_path, target):
    from benchmarks import bench_engine

    def no_benchmark(*args, **kwargs):
        raise AssertionError("benchmark work started although --json cannot be written")

    monkeypatch.setattr(bench_engine, "run", no_benchmark)
    with pytest.raises(SystemExit) as exit_:
        bench_engine.main(["--quick", "--device", "cpu", "--json", str(tmp_path) if target == "DIR" else target])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--json" in err and "Traceback" not in err


def test_unwritable_json_in_a_real_process_is_one_line_exit_2():
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_engine", "--json", "/proc/bench.json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "cannot write /proc/bench.json" in proc.stderr


def test_help_states_each_default_once_and_never_none(capsys):
    from benchmarks.bench_engine import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = capsys.readouterr().out
    assert "(default: None)" not in text and "(default: all)" in text and "(default: 0.001)" in text
    for entry in re.split(r"\n(?=  -)", text.split("options:", 1)[1]):
        assert entry.lower().count("default") <= 1, entry


def test_plain_subsample_extrapolates_by_parameters():
    """A ragged bucket's runs differ in depth: the factor from timed runs to the bucket is a ratio of parameter counts
    (by hand: k = 2, d_in 32, d_out 8, width 16: 32·16 + 8·16 = 640 outside the blocks, 2·16² = 512 per block)."""
    from benchmarks.bench_engine import plain_scale
    from benchmarks.grids import QUICK
    from dataclasses import replace

    spec = replace(QUICK["G2"], widths=(16,), depths=(1, 2, 4))
    bucket = spec.runs()
    per_run = [640 + 512 * d for d in (1, 2, 4)]
    assert plain_scale(bucket, [0]) == sum(per_run) / per_run[0]
    assert plain_scale(bucket, [0, 2]) == sum(per_run) / (per_run[0] + per_run[2])
    assert plain_scale(bucket, [0, 1, 2]) == 1.0


def test_report_names_the_cpu_and_its_kernel_path(quick_run):
    proc, report = quick_run
    assert report["cpu"]["kernel_path"] in ("native", "avx2", "default", "custom")
    assert report["cpu"]["aten_isa"] and report["cpu"]["cpu"]
    assert f"kernel path {report['cpu']['kernel_path']}: ATen {report['cpu']['aten_isa']}" in proc.stdout


def test_chunk_sizes_runs_every_chunk_size_and_restores_nothing_it_should_not(monkeypatch, capsys):
    import synthetic.engine as engine
    from benchmarks import chunk_sizes

    monkeypatch.setattr(engine, "CPU_CHUNKS", True)   # main turns the engine's own chunking off; undone after
    assert chunk_sizes.main(["--grid", "G2", "--width", "16", "--steps", "2", "--chunks", "4", "1",
                             "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "G2 width 16: 4 runs" in out
    for k in (4, 1):
        (line,) = [s for s in out.splitlines() if s.startswith(f"chunks of {k:>3}")]
        assert len(re.findall(r"\d+\.\d{3}", line)) == 3   # best, then each of the 2 repeats


@pytest.mark.parametrize("argv", [["--widths", "0"], ["--steps=-1"], ["--workers", "0"], ["--json", "/proc/x/y.json"]])
def test_bench_ray_refuses_bad_input_before_training(argv, capsys):
    from benchmarks import bench_ray

    with pytest.raises(SystemExit) as exc:
        bench_ray.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and "error:" in err[0]
