"""Known limit of bucket independence, shown rather than hidden: torch's CPU kernels of some element-wise functions
(`pow` with a fractional exponent, GELU in float64 or tanh-approximated, `sigmoid`) compute a tensor's first elements
in SIMD blocks and its remainder in scalar code, which rounds differently. On a stacked tensor, which of a run's
elements fall in that remainder depends on the runs before it, unless each run's slice is a whole number of SIMD blocks
(32 float32 or 16 float64 elements on AVX512). The catalogue's shapes are (widths and batches multiples of 32, and
`benchmarks.cache_recheck` found its runs identical alone and in their buckets, bce apart, which is fixed:
tests/test_loss_bucket_independence.py); a user's odd shapes need not be. These strict xfails reproduce the two cases
measured on 2026-12-05 (12 of 12 runs differing alone and in a bucket of 40); the fix is to keep those functions'
inputs in whole SIMD blocks per run, not done yet. On the `default` kernel path Shampoo's case holds, float64 GELU's
does not (its vector kernel, generic there, still computes otherwise than its scalar one, presumably)."""

from __future__ import annotations

import pytest
import torch
from theory.bridge import BaseHP

from synthetic import engine
from synthetic.config import ModelConfig, OptimConfig, RunConfig
from synthetic.engine import train_bucket

SIMD = torch.backends.cpu.get_cpu_capability() != "DEFAULT"


def runs(opt: str, activation: str, width: int, dtype: str) -> list[RunConfig]:
    return [RunConfig(model=ModelConfig(width=width, depth=2, d_in=8, d_out=1, activation=activation),
                      optim=OptimConfig(name=opt), steps=10, batch_size=7, seed=seed, dtype=dtype,
                      base=BaseHP(sigma2=2.0, eta=1e-2, n_base=1, L_base=1), measure_at=(10,),
                      measurements=("loss",))
            for seed in range(40)]


@pytest.fixture
def one_thread():
    """One torch thread (bucket independence is promised per thread count, and at two threads runs of batch 7 differ
    alone and in a bucket for another reason: docs/engine.md, "Bucket independence")."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def values(result) -> list[tuple]:
    return [(r.step, r.layer, r.quantity, r.index, repr(r.value)) for r in result.records]


@pytest.mark.parametrize("opt, activation, width, dtype", [
    ("adamw", "gelu", 32, "float64"),
    ("sgd", "gelu", 30, "float32"),
    pytest.param("shampoo", "relu", 32, "float32", marks=pytest.mark.xfail(
        SIMD, strict=True, reason="Shampoo's inverse root (pow) of a 1×1 and an 8×8 factor's eigenvalues")),
    pytest.param("adamw", "gelu", 33, "float64", marks=pytest.mark.xfail(
        strict=True, reason="float64 GELU on 7 × 33 elements a run (on the default path too)")),
])
def test_first_runs_of_a_bucket_of_40_equal_the_runs_alone(monkeypatch, one_thread, opt, activation, width, dtype):
    monkeypatch.setattr(engine, "CPU_CHUNKS", False)
    bucket = runs(opt, activation, width, dtype)
    together = train_bucket(bucket, "cpu")
    alone = [train_bucket([r], "cpu")[0] for r in bucket[:6]]
    assert [values(a) for a in alone] == [values(t) for t in together[:6]]
