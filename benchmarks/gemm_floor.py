"""The matmul floor of a bucket: the time its training steps would take if they did nothing but their matmuls.

A training step of a bucket does three batched matmuls per weight matrix (forward, gradient of the input, gradient
of the weight; two for the input layer, whose input needs no gradient), over the runs that have that matrix (block l
of a ragged bucket: its first M_l runs, synthetic.models.BlockLayout). `gemm_floor_s` times those `bmm` calls, with
the bucket's shapes (contiguous operands), in isolation and back to back, and multiplies by the number of steps.

The operands are one set per distinct shape, reused by every call of that shape, so they are as warm in the cache as
they can be: the floor is the optimistic one (on the G2 CPU grid, distinct cold operands for every call measured
19.6 s against this 17.5 s). The engine makes these calls and more, so `plain_s / gemm_floor_s` estimates from above
the speed-up it can reach over the plain loop on that bucket with this BLAS: where the plain loop is itself close to
the floor, no stacking can beat it by much.
"""

from __future__ import annotations

import time
from typing import Sequence

import torch

from benchmarks.hardware import synchronize
from synthetic.config import RunConfig
from synthetic.models import BlockLayout


def step_matmul_shapes(bucket: Sequence[RunConfig]) -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """(a, b) shapes of every `bmm(a, b)` one training step of the bucket needs."""
    m = bucket[0].model
    B, n, nh = bucket[0].batch_size, m.width, m.hidden_width
    M = len(bucket)
    shapes = [((M, B, m.d_in), (M, m.d_in, n)), ((M, n, B), (M, B, m.d_in))]  # input: forward, weight gradient
    layout = BlockLayout(tuple(sorted((r.model.depth for r in bucket), reverse=True)))
    for active in layout.active:
        for i in range(m.k):
            fan_in, fan_out = (n if i == 0 else nh), (n if i == m.k - 1 else nh)
            shapes += [((active, B, fan_in), (active, fan_in, fan_out)),    # forward
                       ((active, B, fan_out), (active, fan_out, fan_in)),   # gradient of the input
                       ((active, fan_out, B), (active, B, fan_in))]         # gradient of the weight
    shapes += [((M, B, n), (M, n, m.d_out)), ((M, B, m.d_out), (M, m.d_out, n)), ((M, m.d_out, B), (M, B, n))]
    return shapes


def gemm_floor_s(bucket: Sequence[RunConfig], device: torch.device, repeats: int = 3) -> float:
    """Seconds of `bucket[0].steps` steps' matmuls alone (the best of `repeats` timings of one step's, × steps)."""
    dtype = {"float32": torch.float32, "float64": torch.float64}[bucket[0].dtype]
    shapes = step_matmul_shapes(bucket)
    gen = torch.Generator(device=device).manual_seed(0)
    draw = lambda shape: torch.randn(shape, generator=gen, dtype=dtype, device=device)  # noqa: E731
    operands = {}  # one set per distinct shape pair: a deep ragged bucket repeats few shapes many times
    for a, b in dict.fromkeys(shapes):
        operands[a, b] = (draw(a), draw(b), torch.empty(a[0], a[1], b[2], dtype=dtype, device=device))
    calls = [operands[a, b] for a, b in shapes]
    best = float("inf")
    for _ in range(repeats + 1):  # the first pass warms the BLAS up
        synchronize(device)
        start = time.perf_counter()
        for a, b, out in calls:
            torch.bmm(a, b, out=out)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best * bucket[0].steps
