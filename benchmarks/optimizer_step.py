"""One `StackedOptimizer.step` on each bucket of a benchmark grid, with small groups updated together (`optim._Flat`)
up to each given size, in one process, the best of `--repeats` timings of 20 steps.

    python -m benchmarks.optimizer_step --quick --threads 1 --flat-bytes 0 262144 1048576

0 is the group-by-group update. Every variant computes the same numbers (tests/test_optim_reference.py); this only
measures where joining groups pays (`optim.FLAT_MAX_BYTES`).
"""

from __future__ import annotations

import sys
import time
from typing import Sequence

import torch

import synthetic.optim as optim
from benchmarks.grids import select_spec
from synthetic.engine import build
from synthetic.errors import SyntheticError
from synthetic.grid import bucketize
from theory.cli import OneLineParser


def step_ms(bucket, flat_bytes: int, repeats: int, steps: int = 20) -> tuple[float, int]:
    """Best per-step milliseconds of the bucket's optimizer with `FLAT_MAX_BYTES = flat_bytes`, and its `_Flat`s."""
    saved = optim.FLAT_MAX_BYTES
    optim.FLAT_MAX_BYTES = flat_bytes
    try:
        model, opt = build(sorted(bucket, key=lambda r: -r.model.depth), torch.device("cpu"))
    finally:
        optim.FLAT_MAX_BYTES = saved
    gen = torch.Generator().manual_seed(0)
    grads = {n: torch.randn(p.shape, generator=gen, dtype=p.dtype) * 1e-3 for n, p in model.params.items()}
    alive = torch.ones(len(bucket), dtype=torch.bool)
    for _ in range(3):
        opt.step(grads, alive)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            opt.step(grads, alive)
        best = min(best, (time.perf_counter() - start) / steps * 1e3)
    return best, len(opt.flats)


def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineParser(prog="python -m benchmarks.optimizer_step", description=__doc__.split("\n\n")[0],
                      raise_errors=False)
    p.add_argument("--grid", nargs="+", default=["G1", "G2"], choices=("G1", "G2"), help="grids (BENCHMARKS.md)")
    p.add_argument("--quick", action="store_true", help="the quick grids")
    p.add_argument("--flat-bytes", type=int, nargs="+", default=[0, optim.FLAT_MAX_BYTES or 0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int)
    args = p.parse_args(argv)
    if args.repeats < 1 or any(b < 0 for b in args.flat_bytes) or (args.threads is not None and args.threads < 1):
        print("error: --repeats and --threads must be >= 1 and --flat-bytes >= 0", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        for name in args.grid:
            for bucket in bucketize(select_spec(name, args.quick, None, None).runs()):
                cells = []
                for b in args.flat_bytes:
                    ms, n = step_ms(bucket, b, args.repeats)
                    cells.append(f"{b} B: {ms:.3f} ms ({n} joined)")
                print(f"{name} width {bucket[0].model.width:5d} runs {len(bucket):3d}: " + " | ".join(cells))
    except SyntheticError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
