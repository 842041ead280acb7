"""Where the time goes: torch.profiler tables of the engine and the plain loop on one bucket of the benchmark grids.

    python -m benchmarks.profile_paths --width 64 --depth 4 --runs 1 --steps 50 --threads 1
    python -m benchmarks.profile_paths --width 512 --depth 2 4 8 16 --steps 10 --threads 1   # a ragged bucket

Prints, for each path, wall time, operator count per training step and the top operators by self CPU time, so a
slow path can be pinned to launch/dispatch overhead (many small ops) or to compute (a few large matmuls).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from typing import Sequence

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.grids import FULL
from benchmarks.hardware import set_precision, synchronize
from benchmarks.plain_loop import train_plain
from synthetic.device import resolve_device
from synthetic.engine import train_bucket
from synthetic.errors import SyntheticError
from theory.cli import OneLineParser


def profile_call(label: str, fn, device: torch.device, steps: int, top: int) -> dict:
    fn()  # warm-up
    synchronize(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        fn()
        synchronize(device)
    wall = time.perf_counter() - start
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total_ops = sum(e.count for e in events)
    self_us = sum(e.self_cpu_time_total for e in events)
    print(f"== {label}: {wall:.3f} s under the profiler, {total_ops} aten ops ({total_ops / steps:.0f} per step), "
          f"aten self CPU {self_us / 1e6:.3f} s")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))
    return {"wall_s": wall, "aten_ops": total_ops, "ops_per_step": total_ops / steps, "aten_self_s": self_us / 1e6}


def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineParser(prog="python -m benchmarks.profile_paths", description=__doc__.split("\n\n")[0],
                      raise_errors=False)
    p.add_argument("--grid", default="G2", choices=("G1", "G2"), help="grid whose run settings are used")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, nargs="+", default=[4], help="depth(s); several make one ragged bucket")
    p.add_argument("--runs", type=int, default=1, help="runs per depth (learning rates of the grid, cycled)")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--threads", type=int)
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--top", type=int, default=12)
    args = p.parse_args(argv)
    if min(args.width, *args.depth, args.runs, args.steps, args.top) < 1:
        p.error("--width, --depth, --runs, --steps and --top must be >= 1")
    try:
        device = resolve_device(args.device)
    except SyntheticError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    set_precision(False)
    runs = []
    for depth in args.depth:
        spec = replace(FULL[args.grid], widths=(args.width,), depths=(depth,), steps=args.steps,
                       batch=args.batch or FULL[args.grid].batch)
        mine = (spec.runs() * args.runs)[: args.runs]
        runs += [replace(r, seed=i) if i >= len(spec.runs()) else r for i, r in enumerate(mine)]
    print(f"width {args.width} depths {args.depth} runs {len(runs)} steps {args.steps} batch {spec.batch}, "
          f"{torch.get_num_threads()} threads, {device}")
    engine = profile_call("engine (one stacked bucket)", lambda: train_bucket(runs, device), device, args.steps,
                          args.top)
    plain = profile_call("plain loop (one run after another)", lambda: [train_plain(r, device) for r in runs], device,
                         args.steps * len(runs), args.top)
    print(f"engine/plain aten ops: {engine['aten_ops']}/{plain['aten_ops']}; wall {engine['wall_s']:.3f}/"
          f"{plain['wall_s']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
