"""Element-wise functions whose CPU kernels round by position, applied run by run.

torch's CPU kernel of some element-wise functions (`sigmoid`, `binary_cross_entropy_with_logits`) computes the first
elements of a tensor in SIMD blocks and its remainder in scalar code, which rounds otherwise; on a stacked [M, …]
tensor which of a run's elements fall in that remainder depends on the runs before it, so a run's numbers would depend
on its bucket (docs/engine.md, "Bucket independence"). On a CPU `run_by_run` calls the function on each run's slice,
which is the tensor it sees when it trains alone; on other devices (no such remainder, and a kernel launch per run
would cost) on the stacked tensor. Imports nothing of synthetic, so the engine and the rules can both use it.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def run_by_run(fn: Callable[..., Tensor], *stacked: Tensor) -> Tensor:
    """fn over tensors stacked along dim 0 (one row per run): one call per run on a CPU, one call elsewhere."""
    if stacked[0].device.type != "cpu":
        return fn(*stacked)
    return torch.stack([fn(*rows) for rows in zip(*stacked)])
