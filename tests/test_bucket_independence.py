"""A run's numbers do not depend on its bucket companions: trained alone or with others, bit for bit on a CPU, to
round-off on CUDA (conftest.CUDA_ROUNDOFF_RTOL).

Before `synthetic.models._linear` kept a lone run on the batched kernel, a run trained alone differed from the same
run in a bucket in the last bits (torch's CPU bmm sends a single matrix-vector product, d_out = 1 or batch 1, to
another kernel), and in float32 with ReLU such a difference could flip a pre-activation near zero and grow to 1e-3.
At two threads every lone product did (`synthetic.runwise.matmul` now sends it through a stack of two).
"""

from __future__ import annotations

import itertools

import pytest
import torch
from theory.bridge import BaseHP

from synthetic.config import ModelConfig, OptimConfig, RunConfig
from synthetic.engine import train_bucket
from conftest import same_numbers_check, torch_threads

MEASURED = ("loss", "test_loss", "h_rms", "dh_rms", "sigma1", "spectrum", "dw_rms", "g1_weight")
ETAS = {"adamw": (1e-3, 1e-2), "sgd": (0.01, 0.05), "muon_kimi_adamw": (1e-3, 1e-2)}


def bucket(opt: str, dtype: str, batch: int = 32, d_out: int = 1) -> list[RunConfig]:
    """Four runs differing in base lr and seed, in the absolute-n convention of `python -m synthetic grid`; the
    larger lr is one where float32 rounding differences used to cascade."""
    model = ModelConfig(width=64, depth=4, d_out=d_out)
    return [RunConfig(model=model, optim=OptimConfig(name=opt), steps=30, batch_size=batch, seed=seed, dtype=dtype,
                      base=BaseHP(sigma2=2.0, eta=eta, n_base=1, L_base=1), measure_at=(0, 15, 30),
                      measurements=MEASURED)
            for eta, seed in itertools.product(ETAS[opt], (0, 1))]


def values(result) -> list[tuple]:
    return [(r.step, r.layer, r.quantity, r.index, r.value) for r in result.records]


def check_same(same_numbers, a, b, dtype: str, what: str) -> None:
    """The same records: keys exactly, values by `same_numbers` (bit for bit on a CPU)."""
    assert [v[:-1] for v in values(a)] == [v[:-1] for v in values(b)], what
    eigh = a.config.optim.name in EIGH_RULES
    same_numbers([v[-1] for v in values(a)], [v[-1] for v in values(b)], dtype, what, eigh=eigh)


EIGH_RULES = ("shampoo_adamw", "shampoo", "soap")
"""Rules whose step decomposes a preconditioner with torch.linalg.eigh (conftest.CUDA_EIGH_RTOL)."""


@pytest.mark.parametrize("opt, dtype, batch, d_out", [
    ("adamw", "float32", 32, 1), ("sgd", "float32", 32, 1), ("muon_kimi_adamw", "float32", 32, 1),
    ("adamw", "float64", 32, 1), ("sgd", "float32", 1, 1), ("adamw", "float32", 16, 8),
])
@pytest.mark.engine_device
def test_run_alone_equals_the_same_run_in_any_bucket(opt, dtype, batch, d_out, engine_device, same_numbers):
    runs = bucket(opt, dtype, batch, d_out)
    together = train_bucket(runs, engine_device)
    pair = train_bucket([runs[3], runs[1]], engine_device)
    for i, run in enumerate(runs):
        alone = train_bucket([run], engine_device)[0]
        check_same(same_numbers, alone, together[i], dtype, f"run {i} alone differs from run {i} in a bucket of four")
    check_same(same_numbers, pair[0], together[3], dtype, "run 3 in a pair")
    check_same(same_numbers, pair[1], together[1], dtype, "run 1 in a pair")
    assert values(together[0]) != values(together[1])   # companions really differ: the comparison is not vacuous


RAGGED_MEASURED = MEASURED + ("sigma1_pi", "g3_alignment", "gain", "claim_e1", "claim_e2", "dw_cum_rms",
                              "g1_weight_cum", "g1_feature_cum", "dh_rel", "w_op")


@pytest.mark.parametrize("opt, norm, dtype", [("adamw", "none", "float32"), ("sgd", "none", "float32"),
                                              ("muon_kimi_adamw", "rms", "float32"), ("shampoo_adamw", "none", "float32"),
                                              ("sophia", "none", "float32"), ("adamw", "rms", "float32"),
                                              ("adamw", "layer", "float64"), ("sgd", "rms", "float64")])
@pytest.mark.engine_device
def test_run_in_a_ragged_depth_bucket_equals_the_run_alone(opt, norm, dtype, engine_device, same_numbers):
    """Runs of one width and depths 1, 2, 4 (given in mixed order) train as one ragged bucket; every record equals
    the run's own single-run training bit for bit, records come back in the order the runs were given."""
    eta = {"sgd": 0.05, "sophia": 1e-3}.get(opt, 3e-3)
    runs = [RunConfig(model=ModelConfig(width=32, depth=d, d_out=4, bias=True, norm=norm, final_norm=norm != "none"),
                      optim=OptimConfig(name=opt), dtype=dtype,
                      steps=12, batch_size=16, seed=s, base=BaseHP(sigma2=2.0, eta=eta * f, n_base=1, L_base=1),
                      measure_at=(0, 6, 12), measurements=RAGGED_MEASURED)
            for d, s, f in ((2, 0, 1.0), (4, 1, 1.0), (1, 2, 2.0), (4, 3, 0.5), (2, 4, 1.0))]
    assert len({r.bucket_key() for r in runs}) == 1
    together = train_bucket(runs, engine_device)
    for run, res in zip(runs, together):
        assert res.config == run
        alone = train_bucket([run], engine_device)[0]
        check_same(same_numbers, alone, res, dtype,
                   f"depth {run.model.depth} seed {run.seed} differs in the ragged bucket")
        layers = {r.layer for r in res.records}
        assert f"block{run.model.depth}.1" in layers and f"block{run.model.depth + 1}.1" not in layers


@pytest.fixture
def two_threads():
    with torch_threads(2):
        yield


@pytest.mark.parametrize("opt, width, batch, depths, measured, d_out", [
    ("adamw", 32, 7, (2,), ("loss",), 1), ("adamw", 64, 7, (1, 2, 3), RAGGED_MEASURED, 1),
    ("sgd", 256, 7, (1,), MEASURED, 1), ("muon_kimi_adamw", 128, 7, (1, 3), ("loss",), 1),
    ("shampoo", 64, 32, (2,), ("loss",), 1), ("soap", 32, 7, (1, 2), ("loss",), 1), ("lion", 64, 7, (2,), ("loss",), 1),
    ("adamw", 16, 1024, (1,), ("loss",), 128),
])
def test_at_two_threads_a_run_alone_equals_the_run_in_a_bucket(two_threads, opt, width, batch, depths, measured,
                                                               d_out):
    """At two threads torch's CPU bmm splits a lone matrix between the threads and a stack matrix by matrix, which
    sum in other orders: before the fixes of 2026-12-05 (`synthetic.runwise`) every case here differed alone and in a
    bucket of eight on the Zen 4, the first at step 0 or 1 (Shampoo's through its inverse root's `pow`). Batch 7, ragged depths (a deep block with one
    run left), depth 1 (lone optimizer groups), d_out 1; and a loss of 1024 × 128 elements, whose sum torch split
    between the threads for a lone run (`synthetic.runwise.reduce_per_run`)."""
    runs = [RunConfig(model=ModelConfig(width=width, depth=depths[s % len(depths)], d_in=8, d_out=d_out),
                      optim=OptimConfig(name=opt), steps=6, batch_size=batch, seed=s,
                      base=BaseHP(sigma2=2.0, eta=1e-2, n_base=1, L_base=1), measure_at=(0, 3, 6),
                      measurements=measured) for s in range(8)]
    together = train_bucket(runs, "cpu")
    for i in range(3):
        alone = train_bucket([runs[i]], "cpu")[0]
        assert [repr(v) for v in values(alone)] == [repr(v) for v in values(together[i])], i


def test_the_comparison_is_exact_on_a_cpu_and_to_round_off_on_cuda():
    one_ulp = [1.0, 1.0 + 2.0 ** -23, float("nan"), 0.0]
    seen = {}
    same_numbers_check("cuda", seen.__setitem__)([1.0, 1.0, float("nan"), 0.0], one_ulp, "float32")
    assert seen["max_rel_diff"] == 2.0 ** -23 / (1.0 + 2.0 ** -23)
    with pytest.raises(AssertionError):
        same_numbers_check("cuda")([1.0], [1.0 + 2e-3], "float32")      # past float32's 1e-3
    with pytest.raises(AssertionError):
        same_numbers_check("cuda")([1.0], [1.0 + 1e-8], "float64")      # past float64's 1e-9
    same_numbers_check("cuda")([1.0], [1.0 + 2e-2], "float32", eigh=True)   # an eigensolver's tolerance
    with pytest.raises(AssertionError):
        same_numbers_check("cuda")([1.0], [1.0 + 5e-2], "float32", eigh=True)
    with pytest.raises(AssertionError):
        same_numbers_check("cuda")([1.0], [1.0 + 2e-2], "float64", eigh=True)   # float32's allowance only
    for inf in (float("inf"), float("-inf")):
        with pytest.raises(AssertionError):
            same_numbers_check("cuda")([1.0], [inf], "float32")
    same_numbers_check("cuda")([float("inf")], [float("inf")], "float32")
    seen = {}
    with pytest.raises(AssertionError):
        same_numbers_check("cuda", seen.__setitem__)([1.0, 1.0, 1.0], [1.0 + 2e-3, 1.0 + 4e-3, 1.0], "float32")
    assert abs(seen["max_rel_diff"] - 4e-3 / (1.0 + 4e-3)) < 1e-15     # the worst, recorded before failing
    with pytest.raises(AssertionError):
        same_numbers_check("cpu")([1.0], [1.0 + 2.0 ** -52], "float64")  # a CPU asks for bits
