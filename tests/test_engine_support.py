"""Shared helpers for the engine/optim/measure tests (no tests here): a seeded in-memory data source."""

from __future__ import annotations

from typing import Sequence

import torch


class SeededData:
    """Per-seed Gaussian inputs and a fixed tanh target; batch t of a seed is a pure function of (seed, t)."""

    def __init__(self, seeds: Sequence[int], d_in: int, d_out: int, batch: int, dtype=torch.float64,
                 loss: str = "mse", n_test: int = 16, fixed: bool = False, device: str = "cpu") -> None:
        self.seeds, self.d_in, self.d_out, self.batch = list(seeds), d_in, d_out, batch
        self.dtype, self.loss, self.n_test, self.fixed, self.device = dtype, loss, n_test, fixed, device

    def _draw(self, seed: int, stream: int, n: int):
        g = torch.Generator().manual_seed(seed * 1_000_003 + stream)
        x = torch.randn(n, self.d_in, generator=g, dtype=torch.float64)
        t = torch.tanh(x[:, : self.d_out] + x[:, -self.d_out:])
        if self.loss == "mse":
            y = t
        elif self.loss == "bce":
            y = (t > 0).to(torch.float64)
        else:
            y = (x[:, 0] > 0).long()
        return x.to(self.dtype), (y.to(self.dtype) if self.loss != "ce" else y)

    def train_batch(self, step: int):
        xs, ys = zip(*[self._draw(s, 0 if self.fixed else step + 1, self.batch) for s in self.seeds])
        return torch.stack(xs).to(self.device), torch.stack(ys).to(self.device)

    def test_set(self):
        xs, ys = zip(*[self._draw(s, 10**7, self.n_test) for s in self.seeds])
        return torch.stack(xs).to(self.device), torch.stack(ys).to(self.device)


def data_for(runs, **kw) -> SeededData:
    r = runs[0]
    return SeededData([x.seed for x in runs], r.model.d_in, r.model.d_out, r.batch_size,
                      dtype=torch.float64 if r.dtype == "float64" else torch.float32, loss=r.loss, **kw)
