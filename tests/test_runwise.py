"""synthetic.runwise: a run's slice of a stacked operation gets the bits it gets alone.

`matmul`, `baddbmm` and `bmm_into` against the same matrix inside a stack of 40 (torch's own bmm, the reference), at
one and two torch threads: a lone matrix-vector product goes to another kernel at any thread count, and at two
threads a lone matrix is split between the threads within itself (measured on an AMD EPYC Zen 4, 2026-12-05: the
[7×8]·[8×32] and [7×32]·[32×32] products of a batch-7 run). `run_by_run` against the function on each slice.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import torch_threads
from synthetic import runwise

SHAPES = [(7, 8, 32), (7, 32, 32), (16, 32, 1), (1, 64, 64), (32, 64, 64), (7, 64, 256), (8, 256, 256)]
"""(n, k, m) of products a run makes: batch-7 forward maps, a matrix-vector head (d_out 1), batch 1, and larger."""


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    with torch_threads(request.param) as n:
        yield n


def stack(n: int, k: int, m: int, dtype=torch.float32, runs: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(n * 10_000 + k * 100 + m)
    return (torch.randn(runs, n, k, generator=g, dtype=dtype), torch.randn(runs, k, m, generator=g, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n, k, m", SHAPES)
def test_a_lone_product_equals_the_same_matrix_in_a_stack(threads, n, k, m, dtype):
    a, b = stack(n, k, m, dtype)
    in_stack = torch.bmm(a, b)
    c = torch.randn(40, 1, m, dtype=dtype)
    with_bias = torch.baddbmm(c, a, b)
    for i in (0, 1, 39):
        assert torch.equal(runwise.matmul(a[i:i + 1], b[i:i + 1]), in_stack[i:i + 1]), (i, threads)
        assert torch.equal(runwise.baddbmm(c[i:i + 1], a[i:i + 1], b[i:i + 1]), with_bias[i:i + 1]), (i, threads)
        out = torch.empty(1, n, m, dtype=dtype)
        assert runwise.bmm_into(out, a[i:i + 1], b[i:i + 1]) is out
        assert torch.equal(out, in_stack[i:i + 1]), (i, threads)


def test_stacks_and_other_devices_take_torchs_own_product(threads):
    a, b = stack(7, 8, 32, runs=3)
    assert torch.equal(runwise.matmul(a, b), a @ b)
    four = a[:1].unsqueeze(1).expand(1, 2, 7, 8), b[:1].unsqueeze(1).expand(1, 2, 8, 32)
    assert torch.equal(runwise.matmul(*four), four[0] @ four[1])
    assert not runwise._lone_rounds_otherwise(a.to("meta"), b.to("meta"))


def test_two_dimensional_products_are_left_alone():
    a, b = torch.randn(7, 8), torch.randn(8, 1)
    assert not runwise._lone_rounds_otherwise(a, b)
    assert torch.equal(runwise.matmul(a, b), a @ b)


@pytest.mark.parametrize("n, k, m", [(7, 8, 32), (16, 32, 1), (7, 64, 256)])
def test_gradients_through_the_pair_equal_those_of_the_run_in_a_stack(threads, n, k, m):
    """The second copy's gradient is exactly zero, so the lone run's gradients are the stacked run's, bit for bit."""
    a, b = stack(n, k, m)
    gz = torch.randn(40, n, m, generator=torch.Generator().manual_seed(3))
    a_all, b_all = a.clone().requires_grad_(), b.clone().requires_grad_()
    (torch.bmm(a_all, b_all) * gz).sum().backward()
    a1, b1 = a[:1].clone().requires_grad_(), b[:1].clone().requires_grad_()
    (runwise.matmul(a1, b1) * gz[:1]).sum().backward()
    assert torch.equal(a1.grad, a_all.grad[:1]) and torch.equal(b1.grad, b_all.grad[:1])


@pytest.mark.parametrize("fn", [F.gelu, torch.sigmoid, lambda x: x.pow(-0.25)], ids=["gelu", "sigmoid", "pow"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_run_by_run_gives_each_slice_its_own_result(fn, dtype):
    x = torch.rand(40, 7, 33, dtype=dtype, generator=torch.Generator().manual_seed(0)) + 0.5
    together = runwise.run_by_run(fn, x)
    for i in (0, 1, 17, 39):
        assert torch.equal(together[i], fn(x[i])), i
        assert torch.equal(runwise.run_by_run(fn, x[i:i + 1])[0], together[i]), i


def test_run_by_run_gelu_has_the_slices_gradients():
    x = torch.randn(12, 7, 33, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).requires_grad_()
    runwise.run_by_run(F.gelu, x).sum().backward()
    for i in (0, 5, 11):
        xi = x[i].detach().clone().requires_grad_()
        F.gelu(xi).sum().backward()
        assert torch.equal(x.grad[i], xi.grad), i


def test_off_a_cpu_run_by_run_is_one_call_on_the_stack():
    """The `meta` device stands in for a GPU: one call on the whole stack, no per-run calls."""
    calls = []

    def fn(x):
        calls.append(tuple(x.shape))
        return x * 2

    out = runwise.run_by_run(fn, torch.empty(5, 3, 4, device="meta"))
    assert calls == [(5, 3, 4)] and out.shape == (5, 3, 4) and out.device.type == "meta"
    calls.clear()
    runwise.run_by_run(fn, torch.ones(5, 3, 4))
    assert calls == [(3, 4)] * 5


def test_a_lone_runs_loss_sum_equals_its_sum_in_a_stack(threads):
    """At two threads torch splits a single output's sum of 32768 or more elements between the threads, and a stack's
    sums output by output (measured: a [1024 × 128] mean differs alone and in a stack of 4)."""
    x = torch.randn(4, 1024, 128, generator=torch.Generator().manual_seed(0))
    mean = lambda t: t.square().mean(dim=(1, 2))  # noqa: E731
    stacked = mean(x)
    for i in range(4):
        assert torch.equal(runwise.reduce_per_run(mean, x[i:i + 1]), stacked[i:i + 1]), (i, threads)


def test_operands_of_different_ranks_are_left_to_torch():
    a, b = torch.randn(1, 7, 8), torch.randn(1, 1, 8, 5)
    assert runwise.matmul(a, b).shape == (a @ b).shape == (1, 1, 7, 5)


def test_a_one_dimensional_stack_is_reduced_as_it_is(threads):
    x = torch.tensor([2.0])
    assert torch.equal(runwise.reduce_per_run(lambda t: t.mean(-1), x), torch.tensor(2.0))
