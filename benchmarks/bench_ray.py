"""The Ray executor against the in-process executor on one grid, in one process: same runs, same results, wall times.

    python -m benchmarks.bench_ray [--widths 64 128 256 512] [--depths 2 4 8 16] [--steps 100] [--workers 2]

The grid is G2's width × depth design (benchmarks.grids; AdamW, batch 128, one run per shape, no cache). The
in-process executor runs with `--workers` torch threads and with one; the Ray executor on a local instance of
`--workers` CPUs, one torch thread per task. Ray's start (instance and worker processes importing torch) is timed
apart, by a warm-up grid, and left out of its grid time. Records must be equal bit for bit.
"""

from __future__ import annotations

import json
import sys
import time

import torch

from benchmarks.grids import select_spec
from synthetic.executors import RayOptions, import_ray
from synthetic.grid import run_grid
from synthetic.provenance import command_line
from synthetic.version import ENGINE_VERSION
from synthetic.errors import ConfigError
from theory.cli import OneLineParser, output_file_problem


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _values(results) -> list:
    return [[tuple(r) for r in res.records] for res in results]


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m benchmarks.bench_ray", description=__doc__.split("\n")[0], raise_errors=False)
    p.add_argument("--widths", type=int, nargs="+", default=[64, 128, 256, 512])
    p.add_argument("--depths", type=int, nargs="+", default=[2, 4, 8, 16])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray instance and in-process threads")
    p.add_argument("--json", default=None, help="write the numbers to this JSON file")
    args = p.parse_args(argv)
    for name, values in (("--widths", args.widths), ("--depths", args.depths), ("--steps", [args.steps]),
                         ("--workers", [args.workers])):
        if min(values) < 1:
            p.error(f"{name} must be at least 1 (got {' '.join(map(str, values))})")
    if args.json is not None and (problem := output_file_problem(args.json)):
        p.error(f"--json: {problem}")
    try:
        ray = import_ray()
    except ConfigError as exc:
        p.error(str(exc))
    runs = select_spec("G2", False, args.steps, args.widths, args.depths).runs()
    print(f"{len(runs)} runs: widths {args.widths} × depths {args.depths}, {args.steps} steps, AdamW, batch 128")

    report = {"engine_version": ENGINE_VERSION, "torch": torch.__version__, "command": command_line(),
              "runs": len(runs)}
    for threads in sorted({args.workers, 1}, reverse=True):
        torch.set_num_threads(threads)
        here, t = _timed(lambda: run_grid(runs, cache_dir=None, device="cpu", progress=False))
        report[f"in_process_{threads}_threads_s"] = round(t, 2)
        print(f"in-process, {threads} thread(s): {t:.1f} s")

    _, t_start = _timed(lambda: ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False))
    options = RayOptions(cpus_per_bucket=1)
    _, t_warm = _timed(lambda: run_grid(runs[: args.workers], cache_dir=None, device="cpu", progress=False,
                                        executor="ray", ray=options, max_bucket=1))
    there, t = _timed(lambda: run_grid(runs, cache_dir=None, device="cpu", progress=False, executor="ray", ray=options))
    ray.shutdown()
    same = _values(there) == _values(here)
    report.update(ray_start_s=round(t_start, 2), ray_warmup_s=round(t_warm, 2), ray_s=round(t, 2),
                  ray_workers=args.workers, results_identical=same)
    best_here = report[f"in_process_{args.workers}_threads_s"]
    print(f"ray, {args.workers} workers × 1 thread: {t:.1f} s (start {t_start:.1f} s, warm-up {t_warm:.1f} s); "
          f"in-process {args.workers} threads / ray = {best_here / t:.2f}×; results identical: {same}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
