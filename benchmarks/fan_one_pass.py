"""The Fan figures' update, tiled against one-pass, on the runs of one wd4 look: the same configs trained twice, no
cache, in this process, at one thread unless told otherwise (docs/results.md, "The Fan figures on the one-pass AdamW").

    python -m benchmarks.fan_one_pass [--seed-offset 1000] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

from benchmarks.kernel_paths import describe


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fan_one_pass", description=__doc__.splitlines()[0])
    p.add_argument("--seed-offset", type=int, default=1000, help="shift the plan's seeds (default: the rerun's)")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    if a.threads < 1:
        p.error("--threads must be at least 1")
    import torch

    from figures.wd_runs import wd4_plan
    from synthetic.grid import run_grid

    torch.set_num_threads(a.threads)
    print(describe())
    runs = [replace(c, seed=c.seed + a.seed_offset) for _, c in wd4_plan("default")]
    for one_pass in (False, True):
        configs = [replace(c, optim=replace(c.optim, one_pass=one_pass)) for c in runs]
        t0 = time.perf_counter()
        run_grid(configs, cache_dir=None, device="cpu", progress=False)
        print(f"{'one-pass' if one_pass else 'tiled'}: {len(configs)} runs, {time.perf_counter() - t0:.1f} s",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
