"""Engine vs plain loop on the same grid, in one process: wall time, ratio, achieved TFLOP/s, share of peak, and a
check that both paths reach the same final losses.

    python -m benchmarks.bench_engine --quick                     # seconds on a CPU (the CI smoke run)
    python -m benchmarks.bench_engine --grid all --device cuda    # the issue's grids on a GPU

Both timings include what each path does per run in practice: building the model from theory.bridge's numbers, the
per-run init draws, generating every data batch on the device, and training. The engine trains a bucket (runs of one
shape) as one stacked model; the plain loop trains one nn.Module with one torch.optim optimizer per run, one run
after another. FLOPs are counted as 6 · parameters · batch · steps (forward + backward of the matmuls).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import sys
from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

import torch

from benchmarks.gemm_floor import gemm_floor_s
from benchmarks.grids import GridSpec, select_spec
from benchmarks.kernel_paths import describe
from benchmarks.hardware import Peak, device_name, peak_for, set_precision, synchronize, timed
from benchmarks.plain_loop import parameter_count, train_plain
from synthetic.config import RunConfig
from synthetic.engine import RunResult, forget_chunk_sizes, found_chunk_size, train_bucket
from synthetic import heap
from synthetic.errors import SyntheticError
from synthetic.grid import bucketize
from synthetic.provenance import command_line
from synthetic.version import ENGINE_VERSION
from synthetic.device import resolve_device
from theory.cli import OneLineParser, output_file_problem

GRIDS = ("G1", "G2")
DEFAULT_RTOL = 1e-3
GPU_TARGETS = {"G1": 30.0, "G2": 8.0}  # engine / plain speed-up on one H100, float32, TF32 off
PEAK_TARGET_SHARE, PEAK_TARGET_BUCKET = 0.40, ("G1", 1024)


@dataclass
class BucketTiming:
    """One bucket (one width; its runs' depths, a ragged bucket when several): engine and plain-loop wall time; plain
    time extrapolated when subsampled."""

    width: int
    depths: tuple[int, ...]
    runs: int
    params: int
    """Parameters of all its runs together."""
    flops: float
    engine_s: float = math.inf
    engine_cpu_s: float = math.inf
    plain_runs_timed: int = 0
    plain_timed_s: float = math.inf
    plain_timed_cpu_s: float = math.inf
    plain_s: float = math.inf
    plain_cpu_s: float = math.inf
    ratio: float = math.nan
    engine_tflops: float = math.nan
    plain_tflops: float = math.nan
    engine_peak_share: float | None = None
    cpu_chunks: list[int | None] = field(default_factory=list)
    """Per engine timing, the CPU chunk size its search kept (synthetic.engine.found_chunk_size; None: no search:
    trained whole, or in the L2 rule's chunks below synthetic.engine.MIN_TIMED_STEPS steps)."""
    gemm_s: float = math.nan
    """The bucket's matmuls alone (benchmarks.gemm_floor): an estimate of the least time any engine could take."""
    max_ratio: float = math.nan
    """plain_s / gemm_s: the largest ratio any engine could reach on this bucket."""


@dataclass
class LossCheck:
    """Final training loss of each run trained by both paths, compared with a relative tolerance."""

    rtol: float
    compared: int = 0
    agree: int = 0
    both_diverged: int = 0
    max_rel_diff: float = 0.0
    worst: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.agree == self.compared


def final_engine_loss(result: RunResult) -> float:
    losses = [r for r in result.records if r.quantity == "loss" and r.layer == "model"]
    if result.diverged_at is not None or not losses:
        return math.nan
    return max(losses, key=lambda r: r.step).value


def compare(engine_loss: float, plain_loss: float, check: LossCheck, run: RunConfig) -> None:
    check.compared += 1
    if not math.isfinite(engine_loss) or not math.isfinite(plain_loss):
        same = not math.isfinite(engine_loss) and not math.isfinite(plain_loss)
        check.both_diverged += same
        check.agree += same
        rel = 0.0 if same else math.inf
    else:
        rel = abs(engine_loss - plain_loss) / max(abs(engine_loss), abs(plain_loss), 1e-30)
        check.agree += rel <= check.rtol
    check.max_rel_diff = max(check.max_rel_diff, rel)
    if rel > check.rtol and len(check.worst) < 5:
        check.worst.append({"width": run.model.width, "depth": run.model.depth, "eta": run.base.eta,
                                "lam": run.base.lam, "seed": run.seed, "engine": engine_loss, "plain": plain_loss})


UPDATES = {"tiled": {}, "compiled": {"fused": True}, "one_pass": {"one_pass": True}}
"""The engine's update paths and the OptimConfig fields that choose them: the eager tiled passes (default), one
compiled kernel per rule (`--compile`), torch's fused AdamW per run (`--one-pass`, synthetic.one_pass)."""
UPDATE_NOTES = {"tiled": "off", "compiled": "fused update (OptimConfig.fused, torch.compile)",
                "one_pass": "one-pass AdamW (OptimConfig.one_pass, torch's fused kernel)"}


def engine_call(bucket: Sequence[RunConfig], device: torch.device, update: str) -> list[RunResult]:
    """The engine on a bucket, each call searching its CPU chunk size afresh (synthetic.engine.train_in_chunks), so
    every timing includes that search; `update`: a key of UPDATES."""
    forget_chunk_sizes()
    if UPDATES[update]:
        bucket = [replace(r, optim=replace(r.optim, **UPDATES[update])) for r in bucket]
    return train_bucket(bucket, device)


def plain_subset(bucket: Sequence[RunConfig], limit: int | None) -> list[int]:
    """Indices of the runs the plain loop trains: all, or `limit` spread evenly over the bucket."""
    n = len(bucket)
    if limit is None or limit >= n:
        return list(range(n))
    return sorted({round(i * (n - 1) / max(limit - 1, 1)) for i in range(limit)})


def plain_scale(bucket: Sequence[RunConfig], subset: Sequence[int]) -> float:
    """Factor from the timed plain runs to the whole bucket: parameters of all runs over those of the timed ones (a
    run's time is proportional to its parameters at fixed batch and steps; runs of a ragged bucket differ in depth)."""
    return (sum(parameter_count(r.model) for r in bucket)
            / sum(parameter_count(bucket[i].model) for i in subset))


def warm_up(buckets: list[list[RunConfig]], device: torch.device, update: str) -> None:
    """Pay one-time costs (thread pools, CUDA context, cuBLAS handles, bridge caches) before any timing."""
    small = [replace(r, steps=2) for r in buckets[0][:2]]
    engine_call(small, device, update)
    train_plain(small[0], device)
    synchronize(device)


def bench_grid(spec: GridSpec, device: torch.device, peak: Peak, *, repeats: int, plain_limit: int | None,
               rtol: float, update: str, log) -> dict:
    runs = spec.runs()
    buckets = bucketize(runs)
    warm_up(buckets, device, update)
    rows: list[BucketTiming] = []
    check = LossCheck(rtol)
    for bucket in buckets:
        m = bucket[0].model
        params = sum(parameter_count(r.model) for r in bucket)
        row = BucketTiming(width=m.width, depths=tuple(sorted({r.model.depth for r in bucket})), runs=len(bucket),
                           params=params, flops=6.0 * params * spec.batch * spec.steps)
        subset = plain_subset(bucket, plain_limit)
        row.plain_runs_timed = len(subset)
        for _ in range(repeats):  # interleaved, best of `repeats` for each path
            results, seconds, cpu = timed(lambda: engine_call(bucket, device, update), device)
            row.engine_s, row.engine_cpu_s = min(row.engine_s, seconds), min(row.engine_cpu_s, cpu)
            row.cpu_chunks.append(found_chunk_size(bucket[0]))
            plain, seconds, cpu = timed(lambda: [train_plain(bucket[i], device) for i in subset], device)
            row.plain_timed_s, row.plain_timed_cpu_s = min(row.plain_timed_s, seconds), min(row.plain_timed_cpu_s, cpu)
        for i, p in zip(subset, plain):
            compare(final_engine_loss(results[i]), float(p.losses[-1]), check, bucket[i])
        row.gemm_s = gemm_floor_s(bucket, device)
        scale = plain_scale(bucket, subset)
        row.plain_s = row.plain_timed_s * scale
        row.plain_cpu_s = row.plain_timed_cpu_s * scale
        row.ratio = row.plain_s / row.engine_s
        row.max_ratio = row.plain_s / row.gemm_s
        row.engine_tflops = row.flops / row.engine_s / 1e12
        row.plain_tflops = row.flops / row.plain_s / 1e12
        if peak.fp32:
            row.engine_peak_share = row.engine_tflops / peak.fp32
        rows.append(row)
        depths = ",".join(map(str, row.depths))
        log(f"  {spec.name} width {m.width:5d} depths {depths:>12} runs {len(bucket):3d}: engine {row.engine_s:8.3f} s, "
            f"plain {row.plain_s:8.3f} s{'*' if len(subset) < len(bucket) else ' '} ratio {row.ratio:6.2f}x "
            f"(matmuls alone {row.gemm_s:7.3f} s: at most {row.max_ratio:5.2f}x), "
            f"engine {row.engine_tflops:7.4f} TFLOP/s" + (f" ({100 * row.engine_peak_share:.1f}% of fp32 peak)"
                                                           if row.engine_peak_share is not None else "")
            + ("" if row.cpu_chunks == [None] * repeats else
               f", CPU chunks of {'/'.join('-' if k is None else str(k) for k in row.cpu_chunks)}"))
    engine_s = sum(r.engine_s for r in rows)
    plain_s = sum(r.plain_s for r in rows)
    engine_cpu_s = sum(r.engine_cpu_s for r in rows)
    plain_cpu_s = sum(r.plain_cpu_s for r in rows)
    flops = sum(r.flops for r in rows)
    return {
        "grid": spec.name, "spec": asdict(spec), "runs": len(runs), "buckets": len(buckets),
        "engine_s": engine_s, "plain_s": plain_s, "ratio": plain_s / engine_s,
        "gemm_s": sum(r.gemm_s for r in rows), "max_ratio": plain_s / sum(r.gemm_s for r in rows),
        "engine_cpu_s": engine_cpu_s, "plain_cpu_s": plain_cpu_s, "cpu_ratio": plain_cpu_s / engine_cpu_s,
        "plain_extrapolated": any(r.plain_runs_timed < r.runs for r in rows),
        "plain_runs_timed": sum(r.plain_runs_timed for r in rows),
        "flops": flops, "engine_tflops": flops / engine_s / 1e12, "plain_tflops": flops / plain_s / 1e12,
        "engine_peak_share": (flops / engine_s / 1e12 / peak.fp32) if peak.fp32 else None,
        "losses": {**asdict(check), "ok": check.ok},
        "buckets_detail": [asdict(r) for r in rows],
    }


def verdicts(result: dict, device: torch.device, tf32: bool) -> list[str]:
    """The issue's targets, as lines saying met / not met (GPU targets only judged on CUDA with TF32 off)."""
    name, lines = result["grid"], []
    if device.type == "cpu":
        lines.append(f"target (CPU): engine never slower than the plain loop -> "
                     f"{'met' if result['ratio'] >= 1.0 else 'NOT met'} (ratio {result['ratio']:.2f}x)")
        return lines
    suffix = "" if not tf32 else " [not comparable: target is for TF32 off]"
    goal = GPU_TARGETS[name]
    lines.append(f"target (H100): ratio >= {goal:.0f}x -> {'met' if result['ratio'] >= goal else 'NOT met'} "
                 f"({result['ratio']:.1f}x){suffix}")
    if name == PEAK_TARGET_BUCKET[0]:
        row = next((b for b in result["buckets_detail"] if b["width"] == PEAK_TARGET_BUCKET[1]), None)
        if row is not None and row["engine_peak_share"] is not None:
            share = row["engine_peak_share"]
            lines.append(f"target (H100): width-{PEAK_TARGET_BUCKET[1]} bucket >= {100 * PEAK_TARGET_SHARE:.0f}% of "
                         f"fp32 peak -> {'met' if share >= PEAK_TARGET_SHARE else 'NOT met'} "
                         f"({100 * share:.1f}%){suffix}")
    return lines


def summary_line(result: dict) -> str:
    share = result["engine_peak_share"]
    loss = result["losses"]
    return (f"{result['grid']}: runs {result['runs']} in {result['buckets']} buckets | "
            f"engine {result['engine_s']:.3f} s | plain {result['plain_s']:.3f} s"
            f"{' (extrapolated from ' + str(result['plain_runs_timed']) + ' runs)' if result['plain_extrapolated'] else ''}"
            f" | ratio {result['ratio']:.2f}x (matmuls alone {result['gemm_s']:.3f} s: at most "
            f"{result['max_ratio']:.2f}x) (process CPU time: engine {result['engine_cpu_s']:.3f} s, plain "
            f"{result['plain_cpu_s']:.3f} s, ratio {result['cpu_ratio']:.2f}x) | engine {result['engine_tflops']:.4f} TFLOP/s | "
            f"plain {result['plain_tflops']:.4f} TFLOP/s | peak share "
            f"{'unknown' if share is None else f'{100 * share:.1f}%'} | losses agree "
            f"{loss['agree']}/{loss['compared']} (max rel diff {loss['max_rel_diff']:.2e}, rtol {loss['rtol']:g})")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = OneLineParser(prog="python -m benchmarks.bench_engine", description=__doc__.split("\n\n")[0],
                      raise_errors=False)
    p.add_argument("--grid", default="all", choices=("G1", "G2", "all"), help="grid(s) to time")
    p.add_argument("--device", default="auto", help="device to time on: auto, cpu, cuda or cuda:N")
    p.add_argument("--quick", action="store_true", help="small CPU version of each grid (seconds)")
    p.add_argument("--steps", type=int, help="override the number of training steps")
    p.add_argument("--widths", type=int, nargs="+", help="override the widths")
    p.add_argument("--depths", type=int, nargs="+", help="override the depths")
    path = p.add_mutually_exclusive_group()
    path.add_argument("--compile", action="store_true",
                      help="the engine with its fused update (OptimConfig.fused: one torch.compile kernel per rule)")
    path.add_argument("--one-pass", action="store_true",
                      help="the engine with its one-pass AdamW (OptimConfig.one_pass: torch's fused kernel, eager)")
    p.add_argument("--system-malloc", action="store_true",
                   help="leave the C library's malloc thresholds as they are (the engine's default raises them on a "
                        "CPU: synthetic.heap), for both paths")
    p.add_argument("--tf32", action="store_true", help="allow TF32 matmuls (off by default)")
    p.add_argument("--peak-tflops", type=float, help="fp32 peak of this device in TFLOP/s (needed on CPU)")
    p.add_argument("--plain-subsample", type=int, metavar="N",
                   help="time the plain loop on at most N runs per bucket and extrapolate by parameter count")
    p.add_argument("--repeats", type=int, default=1, help="time each bucket this many times, keep the best")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help="relative tolerance on final losses")
    p.add_argument("--json", metavar="OUT", help="write every number to this JSON file")
    args = p.parse_args(argv)
    for name in ("steps", "plain_subsample", "repeats", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1 (got {value})")
    for name in ("widths", "depths"):
        if any(v < 1 for v in getattr(args, name) or ()):
            p.error(f"--{name} must all be >= 1")
    if args.peak_tflops is not None and not args.peak_tflops > 0:
        p.error("--peak-tflops must be > 0")
    if not args.rtol > 0:
        p.error("--rtol must be > 0")
    problem = args.json is not None and output_file_problem(args.json)
    if problem:
        p.error(f"--json: {problem}")
    return args


def run(args: argparse.Namespace, log=print) -> dict:
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    precision = set_precision(args.tf32)
    heap.enabled(not getattr(args, "system_malloc", False))
    kept = heap.keep_freed_memory() if device.type == "cpu" else None
    peak = peak_for(device, args.peak_tflops)
    update = "compiled" if args.compile else "one_pass" if getattr(args, "one_pass", False) else "tiled"
    header = {
        "date": datetime.date.today().isoformat(), "device": str(device), "device_name": device_name(device),
        "torch": torch.__version__, "python": sys.version.split()[0], "threads": torch.get_num_threads(),
        "precision": precision,
        "engine_precision_note": "synthetic.engine.train_bucket runs under full_precision() (TF32 off) whatever "
                                 "--tf32 says" if args.tf32 else None,
        "peak": asdict(peak), "quick": args.quick,
        "compile": UPDATE_NOTES["compiled"] if update == "compiled" else "off", "update": UPDATE_NOTES[update],
        "cpu": describe() if device.type == "cpu" else None, "freed_memory_kept_in_heap": kept,
        "load_avg_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "engine_version": ENGINE_VERSION, "command": command_line(),
    }
    log(f"device: {header['device_name']} ({device}), torch {header['torch']}, {header['threads']} threads, "
        f"date {header['date']}")
    log(f"precision: {precision}" + (f" ({header['engine_precision_note']})" if header["engine_precision_note"] else ""))
    log(f"fp32 peak: {'unknown' if peak.fp32 is None else f'{peak.fp32:g} TFLOP/s'} ({peak.name}); "
        f"update: {header['update']}"
        + ("" if kept is None else f"; freed memory kept in the heap: {'yes' if kept else 'no'}"))
    results = []
    for name in (GRIDS if args.grid == "all" else (args.grid,)):
        spec = select_spec(name, args.quick, args.steps, args.widths, args.depths)
        log(f"{name}: widths {list(spec.widths)} depths {list(spec.depths)} batch {spec.batch} steps {spec.steps}, "
            f"{len(spec.etas) * len(spec.lams) * len(spec.seeds)} runs per shape")
        result = bench_grid(spec, device, peak, repeats=args.repeats, plain_limit=args.plain_subsample,
                            rtol=args.rtol, update=update, log=log)
        log(summary_line(result))
        if result["plain_extrapolated"]:
            log("  (* plain-loop time extrapolated from the subsample by parameter count; losses compared on those runs only)")
        for line in verdicts(result, device, args.tf32):
            log("  " + line)
        results.append(result)
    header["load_avg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    report = {**header, "grids": results}
    if args.json:
        parent = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(parent, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2, default=str)
        log(f"wrote {args.json}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run(args)
    except (SyntheticError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if all(g["losses"]["ok"] for g in report["grids"]) else 1


if __name__ == "__main__":
    sys.exit(main())
