"""Memory and time of a grid, estimated before anything trains, so a grid that cannot fit is refused in one line
instead of failing in the allocator (or running for days without a word).

Memory: the largest bucket's tensors at once. Per run, `STATE_COPIES` copies of its parameters (weights, gradient,
the update's scratch, up to two optimizer states and the CPU's tile scratch), the activations autograd keeps
(`ACTIVATION_COPIES` [batch, width] tensors per map: its input, pre-activation and output, and their gradients), one
data batch and the per-step loss buffer. It is an upper-side estimate of the engine's own tensors (the allocator and
the Python process come on top), compared with the device's memory: the CPU's physical memory, or what CUDA reports
free. Time: 6 · parameters · batch · steps floating-point operations per run, reported when a grid needs more than
`WARN_TFLOP`; no speed is assumed.
"""

from __future__ import annotations

import os
from typing import Sequence

import torch

from synthetic.config import RunConfig
from synthetic.errors import ConfigError

STATE_COPIES = 7
ACTIVATION_COPIES = 6
WARN_TFLOP = 1000.0
"""A grid above this many TFLOP gets a warning line with its size (about an hour at 0.3 TFLOP/s)."""


def run_bytes(run: RunConfig) -> int:
    """Bytes of one run's tensors during training (see the module docstring)."""
    m, item = run.model, getattr(torch, run.dtype).itemsize
    maps = m.depth * m.k + 2
    activations = ACTIVATION_COPIES * run.batch_size * max(m.width, m.hidden_width, m.d_in, m.d_out) * maps
    data = run.batch_size * (m.d_in + m.d_out)
    loss_buffer = run.steps + 1
    return item * (STATE_COPIES * m.n_params + activations + data + loss_buffer)


def available_bytes(device: torch.device) -> int | None:
    """Memory the device offers: physical memory on a CPU, free memory on CUDA; None where unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_fits(buckets: Sequence[Sequence[RunConfig]], device: torch.device) -> None:
    """ConfigError naming the largest bucket when its estimated memory exceeds the device's (on a CPU a bucket trains
    in chunks, synthetic.engine.train_in_chunks: the largest chunk it may choose is what must fit)."""
    from synthetic.engine import largest_cpu_chunk

    ordered = [sorted(b, key=lambda r: -r.model.depth) for b in buckets if b]
    parts = [b[i:i + k] for b in ordered for k in [largest_cpu_chunk(b, device)] for i in range(0, len(b), k)]
    if not parts:
        return
    need, bucket = max(((sum(run_bytes(r) for r in b), b) for b in parts), key=lambda x: x[0])
    have = available_bytes(device)
    if have is not None and need > have:
        r = bucket[0]
        raise ConfigError(f"a bucket of {len(bucket)} runs at width {r.model.width}, depth up to "
                          f"{max(x.model.depth for x in bucket)}, batch {r.batch_size} and {r.steps} steps needs about "
                          f"{_gib(need)}; this {device.type} has {_gib(have)} (fewer runs per bucket with "
                          f"--max-bucket, or smaller shapes)")


def grid_tflop(runs: Sequence[RunConfig]) -> float:
    """6 · parameters · batch · steps over every run, in TFLOP."""
    return sum(6.0 * r.model.n_params * r.batch_size * r.steps for r in runs) / 1e12


def size_warning(runs: Sequence[RunConfig]) -> str | None:
    """One line when the grid needs more than WARN_TFLOP."""
    tflop = grid_tflop(runs)
    if tflop <= WARN_TFLOP:
        return None
    return (f"warning: {len(runs)} runs need about {tflop:,.0f} TFLOP of training (6 · parameters · batch · steps); "
            f"at 0.1–0.3 TFLOP/s (a CPU core to a few) that is {tflop / 0.3 / 3600:,.1f}–{tflop / 0.1 / 3600:,.1f} h")
