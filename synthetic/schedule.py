"""Learning-rate schedules: a factor s_t per run and step that multiplies every group's learning rate at step t.

`ScheduleConfig()` is a constant learning rate (s_t = 1). A linear warmup over `warmup_steps` steps rises from
`warmup_start` to 1 (torch's `LinearLR(start_factor=warmup_start, total_iters=warmup_steps)`); `decay="cosine"` then
falls to `floor` over the remaining steps (torch's `CosineAnnealingLR(T_max=steps − warmup_steps,
eta_min=floor·lr)`), the warmup + cosine of Zheng et al.'s App. E. Weight decay follows the scheduled rate, as in
torch's AdamW (W ← W·(1 − η_t·λ)). The engine holds the factors as one [steps + 1, M] tensor on the device and reads
row t in the step, so runs of one bucket may have different schedules and nothing synchronises with the host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import torch

from synthetic.errors import ConfigError

Decay = Literal["constant", "cosine"]


@dataclass(frozen=True)
class ScheduleConfig:
    """Linear warmup from `warmup_start` over `warmup_steps` steps, then constant or cosine decay to `floor`."""

    warmup_steps: int = 0
    warmup_start: float = 0.0
    decay: Decay = "constant"
    floor: float = 0.0

    @property
    def is_constant(self) -> bool:
        return self.warmup_steps == 0 and self.decay == "constant"

    def validate(self, steps: int) -> None:
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be an integer >= 0 (got {self.warmup_steps!r})")
        if self.warmup_steps > steps:
            raise ConfigError(f"warmup_steps ({self.warmup_steps}) exceeds the run's steps ({steps})")
        if not 0.0 <= self.warmup_start <= 1.0:
            raise ConfigError(f"warmup_start must be in [0, 1] (got {self.warmup_start!r})")
        if self.decay not in ("constant", "cosine"):
            raise ConfigError(f"unknown decay {self.decay!r}; expected constant or cosine")
        if not 0.0 <= self.floor <= 1.0:
            raise ConfigError(f"floor must be in [0, 1] (got {self.floor!r})")

    def factor(self, t: int, steps: int) -> float:
        """s_t for step t = 0 … steps (the closed forms of torch's LinearLR and CosineAnnealingLR)."""
        w = self.warmup_steps
        if t < w:
            return self.warmup_start + (1.0 - self.warmup_start) * t / w
        if self.decay == "constant" or steps == w:
            return 1.0
        progress = min(t - w, steps - w) / (steps - w)
        return self.floor + (1.0 - self.floor) * (1.0 + math.cos(math.pi * progress)) / 2.0


def factor_table(schedules: Sequence[ScheduleConfig], steps: int, n_iter: int, device: torch.device,
                 dtype: torch.dtype) -> torch.Tensor | None:
    """[n_iter, M] factors of a bucket's runs, or None when every run has a constant learning rate. The extra step
    t = steps, run only to measure ΔW and Δh at T, uses the last training step's factor (a cosine's factor at T is
    the floor, often 0, which would make every update measured at T zero)."""
    if all(s.is_constant for s in schedules):
        return None
    rows = [[s.factor(min(t, steps - 1), steps) for s in schedules] for t in range(n_iter)]
    return torch.tensor(rows, dtype=dtype, device=device)
