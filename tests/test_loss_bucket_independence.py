"""A run's loss and its gradient do not depend on the runs stacked beside it (the engine's bucket independence,
tests/test_bucket_independence.py, at the level of `engine.per_run_loss` and Sophia's sampled targets).

Found 2026-12-05 by `python -m benchmarks.cache_recheck` on the catalogue's Figs 3–6 runs (SGD, bce, batch 200):
torch's CPU kernel of `binary_cross_entropy_with_logits` (and of `sigmoid`) computes the elements of a vector's width
in SIMD and the rest of the tensor in scalar code, which rounds differently, so where a run's elements fell in the
stacked tensor, after how many runs, changed its numbers in the last bits (7 of 64 runs here before the fix). bce is
now computed run by run (`synthetic.version.LOSS_VERSIONS`)."""

from __future__ import annotations

import pytest
import torch

from synthetic.engine import per_run_loss
from synthetic.rules.sophia import gnb_generators, gnb_targets

RUNS = 64


def targets(kind: str, batch: int, d_out: int, g: torch.Generator) -> torch.Tensor:
    if kind == "bce":
        return (torch.rand(RUNS, batch, d_out, generator=g) > 0.5).float()
    if kind == "ce":
        return torch.randint(0, d_out, (RUNS, batch), generator=g)
    return torch.randn(RUNS, batch, d_out, generator=g)


@pytest.mark.parametrize("kind, d_out", [("mse", 1), ("bce", 1), ("ce", 3), ("ce", 10)])
@pytest.mark.parametrize("batch", [200, 33, 7])
def test_each_runs_loss_and_gradient_are_those_it_has_alone(kind, d_out, batch):
    g = torch.Generator().manual_seed(0)
    out = (3 * torch.randn(RUNS, batch, d_out, generator=g, dtype=torch.float32)).requires_grad_()
    y = targets(kind, batch, d_out, g)
    stacked = per_run_loss(kind, out, y)
    (grad,) = torch.autograd.grad(stacked.sum(), out)
    differ = []
    for i in range(RUNS):
        alone_out = out[i:i + 1].detach().clone().requires_grad_()
        alone = per_run_loss(kind, alone_out, y[i:i + 1])
        (alone_grad,) = torch.autograd.grad(alone.sum(), alone_out)
        if not (torch.equal(alone[0], stacked[i]) and torch.equal(alone_grad[0], grad[i])):
            differ.append(i)
    assert not differ, f"{len(differ)} of {RUNS} runs differ alone and stacked"


@pytest.mark.parametrize("kind, d_out", [("mse", 1), ("bce", 1), ("ce", 3)])
def test_sophias_sampled_targets_of_each_run_are_those_it_has_alone(kind, d_out):
    out = 3 * torch.randn(RUNS, 33, d_out, generator=torch.Generator().manual_seed(1))
    seeds = list(range(RUNS))
    stacked, n = gnb_targets(kind, out, gnb_generators(seeds, out.device))
    for i in range(RUNS):
        alone, n_alone = gnb_targets(kind, out[i:i + 1], gnb_generators(seeds[i:i + 1], out.device))
        assert n_alone == n and torch.equal(alone[0], stacked[i]), i
