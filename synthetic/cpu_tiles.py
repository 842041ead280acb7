"""The tile size of the element-wise optimizer update on this CPU, measured once per process.

On a CPU the stacked optimizer updates a large group tile by tile (`synthetic.optim`), so that its ~10 passes over
weights, gradient, state and scratch reuse the cache. Which tile is best depends on the machine: small tiles keep the
six tensors of an AdamW pass in L2 but cost a Python dispatch per op and tile; large tiles stream from L3, which is
fast on an AMD EPYC with 32 MiB of L3 (1 MiB tiles best there: one AdamW step on [32, 8, 256, 256] took 44.6 ms with
256 KiB tiles and 36.6 ms with 1 MiB) and slower on an Intel Xeon, where a plain loop's 256 KiB matrices stay in its
2 MiB L2 (issue 22: the engine's update took 2.5 s where the plain loop's took 1.6 s). `tile_bytes()` times the AdamW
pass sequence on a fixed 8 MiB group at each of `CANDIDATES` and keeps the fastest. Tiling never changes a number
(tests/test_optim_reference.py), so the choice only moves time.
"""

from __future__ import annotations

import time
from functools import lru_cache

import torch

CANDIDATES = (128 * 1024, 256 * 1024, 512 * 1024, 1024 * 1024)
"""Tile sizes tried, bytes per tensor."""
GROUP_BYTES = 8 * 1024 * 1024
"""Bytes per tensor of the measured group: larger than L2 and than every candidate, small enough to take ~0.2 s."""
REPEATS = 5


def _adamw_passes(p, g, m, v, d, u, col, tiles) -> None:
    """The element-wise passes of `synthetic.rules.adamw.AdamW.step` over each tile (factors are per-row columns)."""
    for rs, cs in tiles:
        pt, gt, mt, vt, dt, ut, c = p[rs, cs], g[rs, cs], m[rs, cs], v[rs, cs], d[rs, cs], u[rs, cs], col[rs]
        pt.mul_(c)
        mt.lerp_(gt, 0.1)
        vt.mul_(0.999).addcmul_(gt, gt, value=0.001)
        torch.sqrt(vt, out=dt).div_(0.5).add_(c)
        torch.mul(mt, c, out=ut).div_(dt)
        pt.sub_(ut)


def measure(candidates=CANDIDATES, group_bytes: int = GROUP_BYTES, repeats: int = REPEATS) -> dict[int, float]:
    """Seconds of one pass sequence over the group at each candidate tile (best of `repeats`), at the process's
    thread count."""
    from synthetic.optim import _tiles

    rows = 8
    cols = group_bytes // 4 // rows
    gen = torch.Generator().manual_seed(0)
    p, g, m = (torch.randn(rows, cols, generator=gen) for _ in range(3))
    v, d, u = torch.rand(rows, cols, generator=gen), torch.empty(rows, cols), torch.empty(rows, cols)
    col = torch.full((rows, 1), 0.999)
    plans = {tile: _tiles(rows, cols, tile // 4) for tile in candidates}
    for tiles in plans.values():
        _adamw_passes(p, g, m, v, d, u, col, tiles)
    out = {tile: float("inf") for tile in candidates}
    for _ in range(repeats):  # candidates interleaved, so a drift of the machine's speed hits each alike
        for tile, tiles in plans.items():
            start = time.perf_counter()
            _adamw_passes(p, g, m, v, d, u, col, tiles)
            out[tile] = min(out[tile], time.perf_counter() - start)
    return out


@lru_cache(maxsize=1)
def tile_bytes() -> int:
    """The fastest candidate tile on this CPU, measured at the first call of the process."""
    times = measure()
    return min(times, key=times.get)
