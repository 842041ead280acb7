"""Operations on stacks of runs that give each run the bits it gets alone, whatever its bucket.

Two kinds of torch CPU kernel would let a run's numbers depend on its companions (docs/engine.md, "Bucket
independence"):

- Element-wise functions that round by position (`sigmoid`, `binary_cross_entropy_with_logits`, `pow` with a
  fractional exponent, float64 GELU) compute a tensor's first elements in SIMD blocks and its remainder in scalar
  code; which of a run's elements fall in that remainder depends on the runs before it. `run_by_run` calls such a
  function on each run's slice, the tensor the run sees alone.
- A lone matrix product (a stack of one) goes to another kernel than a stack when it is a matrix-vector product, and
  at more than one thread is split between the threads within the matrix, where a stack is split matrix by matrix.
  `matmul`, `baddbmm` and `bmm_into` send a lone matrix through a stack of two copies; `reduce_per_run` does the
  same for a lone run's sum at more than one thread, which torch splits between the threads.

Both act on a CPU only (elsewhere the stacked call is one kernel launch). Imports nothing of synthetic, so the engine,
the rules and the measured quantities can all use it.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor


CPU_RUNWISE = True
"""On a CPU, `run_by_run` goes run by run and a lone product through a stack of two. False: the calls a GPU makes
(tests/test_engine_ops.py counts a GPU's operations on a CPU)."""


def _on_cpu(x: Tensor) -> bool:
    return CPU_RUNWISE and x.device.type == "cpu"


def run_by_run(fn: Callable[..., Tensor], *stacked: Tensor) -> Tensor:
    """fn over tensors stacked along dim 0 (one row per run): one call per run on a CPU, one call elsewhere."""
    if not _on_cpu(stacked[0]):
        return fn(*stacked)
    return torch.stack([fn(*rows) for rows in zip(*stacked)])


def _lone_rounds_otherwise(a: Tensor, b: Tensor) -> bool:
    """Whether a @ b is one matrix (leading dims all of size one) that torch's CPU kernels would compute otherwise
    than the same matrix inside a stack: a matrix-vector product (a unit dimension) at any thread count, which goes to
    another kernel, and any product at more than one thread, where a stack is split between threads matrix by matrix
    and a lone matrix within itself, which sums in another order (docs/engine.md, "Bucket independence"). Tested at
    two threads; at four or more a stack of two can itself round otherwise than a stack of 40 (float64, 256 and 512
    wide), a limit this does not remove."""
    if a.dim() < 3 or a.shape[0] != 1 or b.dim() != a.dim() or not _on_cpu(a):
        return False
    if math.prod(a.shape[:-2]) != 1 or math.prod(b.shape[:-2]) != 1:
        return False
    return torch.get_num_threads() > 1 or 1 in (a.shape[-2], a.shape[-1], b.shape[-1])


def reduce_per_run(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """fn(x) for a reduction of each run's slice of the stacked x to one value per run (a loss), such that a run alone
    gets the bits it gets in a bucket: at more than one thread torch splits a lone output's sum (from 32768 elements
    on) between the threads, and a stack's sums output by output, so a lone run goes through a stack of two. x has
    the runs first and at least one more dimension."""
    if x.dim() > 1 and x.shape[0] == 1 and _on_cpu(x) and torch.get_num_threads() > 1:
        return _as_pair(fn, x)
    return fn(x)


def _as_pair(fn: Callable[..., Tensor], *xs: Tensor) -> Tensor:
    """fn on a stack of two copies of each lone x, first copy of the result: the kernel a stack of runs gets."""
    return fn(*(x.expand(2, *x.shape[1:]) for x in xs))[:1]


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """a @ b over stacks of matrices [..., n, k] @ [..., k, m] whose leading dims index runs (and blocks), such that a
    run alone gets the bits it gets in any bucket: a lone matrix that torch would send elsewhere goes through a stack
    of two copies (the second copy's gradient is exactly zero, so autograd's gradients are unchanged)."""
    if _lone_rounds_otherwise(a, b):
        return _as_pair(torch.matmul, a, b)
    return torch.bmm(a, b) if a.dim() == 3 and b.dim() == 3 else a @ b


def baddbmm(c: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """c + a @ b for stacks [M, n, k] @ [M, k, m] (c broadcast against [M, n, m]), a lone run as in `matmul`."""
    return _as_pair(torch.baddbmm, c, a, b) if _lone_rounds_otherwise(a, b) else torch.baddbmm(c, a, b)


def bmm_into(out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """a @ b for stacks [M, n, k] @ [M, k, m] written into `out`, a lone run as in `matmul`."""
    if _lone_rounds_otherwise(a, b):
        return out.copy_(_as_pair(torch.bmm, a, b))
    return torch.bmm(a, b, out=out)
