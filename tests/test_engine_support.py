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


def assert_only_frozen_run_unchanged(runs, frozen: int, steps: int = 3) -> None:
    """Build `runs` (a bucket, deepest first), take `steps` optimizer steps with run `frozen` not alive, and check row
    by row that exactly that run's weights kept their bits."""
    from synthetic.engine import build, per_run_loss

    model, opt = build(runs, torch.device("cpu"))
    data = data_for(runs)
    names = list(model.params)
    alive = torch.tensor([m != frozen for m in range(len(runs))])
    before = {g: p.detach().clone() for g, p in model.params.items()}
    for t in range(steps):
        x, y = data.train_batch(t)
        loss = per_run_loss(runs[0].loss, model.forward(model.params, x)[0], y)
        grads = torch.autograd.grad(loss.sum(), [model.params[g] for g in names])
        opt.step(dict(zip(names, grads)), alive)
    run_of = {g: (opt.row_index[g].tolist() if g in opt.row_index else list(range(len(runs)))) for g in names}
    for g in names:
        for row, m in enumerate(run_of[g]):
            assert torch.equal(model.params[g][row], before[g][row]) == (m == frozen), (g, row, m)
