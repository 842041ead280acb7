"""A run's loss and its gradient must not depend on the runs stacked beside it (the engine's bucket independence,
tests/test_bucket_independence.py, at the level of `engine.per_run_loss`).

Found 2026-12-05 by `python -m benchmarks.cache_recheck` on the catalogue's Figs 3–6 runs (SGD, bce, batch 200):
torch's CPU kernel of `binary_cross_entropy_with_logits` computes the elements of a vector's width in SIMD and the rest
of the tensor in scalar code, which rounds its exp/log differently, and which elements of a run fall in the scalar
tail depends on how many runs precede it. So a bce run's numbers depend on its bucket and chunk (in the last bits,
growing over training). On the `default` kernel path (no SIMD: every element takes the scalar code) stacked and
alone agree, which supports that reading. Fixing it changes bce runs' numbers: an engine-version bump and a
regeneration of the figures that train with bce, not done yet; the test is a strict xfail on the SIMD paths until
then."""

from __future__ import annotations

import pytest
import torch

from synthetic.engine import per_run_loss

RUNS, BATCH = 64, 200
SIMD = torch.backends.cpu.get_cpu_capability() != "DEFAULT"


def targets(kind: str, g: torch.Generator) -> torch.Tensor:
    if kind == "bce":
        return (torch.rand(RUNS, BATCH, 1, generator=g) > 0.5).float()
    return torch.randn(RUNS, BATCH, 1, generator=g)


@pytest.mark.parametrize("kind", [
    "mse",
    pytest.param("bce", marks=pytest.mark.xfail(SIMD, strict=True,
                                                     reason="SIMD body vs scalar tail (module docstring)")),
])
def test_each_runs_loss_and_gradient_are_those_it_has_alone(kind):
    g = torch.Generator().manual_seed(0)
    out = (3 * torch.randn(RUNS, BATCH, 1, generator=g, dtype=torch.float32)).requires_grad_()
    y = targets(kind, g)
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
