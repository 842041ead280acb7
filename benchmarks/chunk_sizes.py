"""How fast one benchmark bucket trains when cut into chunks of k consecutive runs (synthetic.cpu_cache's choice).

    python -m benchmarks.chunk_sizes --grid G1 --width 512 --steps 5 --chunks 32 4 1 --repeats 4
    python -m benchmarks.chunk_sizes --grid G2 --width 512 --steps 30 --chunks 4 2 1 --repeats 4

Trains the grid's bucket at one width (G1: 32 runs at depth 8; G2: one run per depth) with the engine's own chunking
off, once per chunk size and repeat, the chunk sizes interleaved so a drift of the machine's speed hits each alike,
and prints process CPU seconds per chunk size (every repeat, and the best). The numbers trained are the same for any
chunk size (runs are bucket-independent); only the time moves. Also prints the L2 rule's chunk size and the sizes the
engine's own search times.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from typing import Sequence

import torch

import synthetic.engine as engine
from benchmarks.grids import FULL
from benchmarks.kernel_paths import describe_line
from synthetic.cpu_cache import chunk_candidates, runs_per_chunk
from theory.cli import OneLineParser


def main(argv: Sequence[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m benchmarks.chunk_sizes", description=__doc__.splitlines()[0],
                       raise_errors=False)
    ap.add_argument("--grid", choices=("G1", "G2"), default="G1")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--chunks", type=int, nargs="+", default=[32, 8, 2, 1])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if min(args.chunks) < 1 or args.width < 1 or args.steps < 1 or args.repeats < 1 or args.threads < 1:
        ap.error("--width, --steps, --chunks, --repeats and --threads must be positive")
    torch.set_num_threads(args.threads)
    spec = replace(FULL[args.grid], widths=(args.width,), steps=args.steps)
    if args.grid == "G2":
        spec = replace(spec, depths=(2, 4, 8, 16))
    runs = sorted(spec.runs(), key=lambda r: -r.model.depth)
    print(describe_line())
    print(f"{args.grid} width {args.width}: {len(runs)} runs, batch {spec.batch}, {args.steps} steps; "
          f"the L2 rule alone "
          f"gives chunks of {runs_per_chunk(spec.batch, args.width, 4) or len(runs)} (the engine times sizes "
          f"{', '.join(map(str, chunk_candidates(len(runs))))}: synthetic.engine.train_in_chunks)")
    engine.CPU_CHUNKS = False
    engine.train_bucket(runs[:1])  # warm-up
    seconds: dict[int, list[float]] = {k: [] for k in args.chunks}
    for _ in range(args.repeats):
        for k in args.chunks:
            start = time.process_time()
            for i in range(0, len(runs), k):
                engine.train_bucket(runs[i:i + k])
            seconds[k].append(time.process_time() - start)
    for k, ts in seconds.items():
        print(f"chunks of {k:>3}: best {min(ts):7.3f} s  (" + ", ".join(f"{t:.3f}" for t in ts) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
