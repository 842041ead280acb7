"""synthetic.models: the packed block layout of ragged buckets, and the hidden-weight gradients `_BlockLinear` writes
straight into the optimizer's buffer (equal bit for bit to autograd's where the engine uses them)."""

from __future__ import annotations

import pytest
import torch
from theory.bridge import BaseHP

from synthetic.config import ModelConfig, OptimConfig, RunConfig
from synthetic import models
from synthetic.engine import build, per_run_loss
from synthetic.groups import Group
from synthetic.models import DIRECT_MIN_ELEMENTS, BlockLayout


def test_block_layout_rows_by_hand():
    lay = BlockLayout((4, 2, 2, 1))
    assert lay.active == (4, 3, 1, 1)
    assert lay.start == (0, 4, 7, 8)
    assert lay.P == 9 == sum(lay.active)
    assert lay.row_runs() == [0, 1, 2, 3, 0, 1, 2, 0, 0]
    assert [lay.row(0, l) for l in range(4)] == [0, 4, 7, 8]
    assert lay.row(2, 1) == 6 and lay.row(3, 0) == 3
    with pytest.raises(IndexError):
        lay.row(3, 1)
    assert lay.depth_groups() == [(0, 1, 4), (1, 3, 2), (3, 4, 1)]
    assert lay.rows_of(1, 3, 2) == [1, 5, 2, 6]
    assert BlockLayout((3, 3)).active == (2, 2, 2)
    for bad in ((1, 2), (2, 0), ()):
        with pytest.raises(ValueError):
            BlockLayout(bad)


def test_packed_init_is_each_runs_own_draw():
    """A run's blocks in a ragged bucket hold exactly the init it draws alone."""
    runs = [RunConfig(model=ModelConfig(width=8, depth=d, d_out=2, bias=False), optim=OptimConfig(name="adamw"),
                      seed=s, base=BaseHP(sigma2=2.0, n_base=1, L_base=1)) for d, s in ((3, 5), (2, 6), (1, 7))]
    model, _ = build(runs, torch.device("cpu"))
    for m, run in enumerate(runs):
        alone, _ = build([run], torch.device("cpu"))
        for l in range(run.model.depth):
            for g in ("hidden.1", "hidden.2"):
                assert torch.equal(model.block(model.params, g, m, l), alone.block(alone.params, g, 0, l))
        assert torch.equal(model.unpacked(model.params, "hidden.1", m, m + 1, run.model.depth),
                           alone.unpacked(alone.params, "hidden.1"))


@pytest.mark.parametrize("threads", [1, 2])
def test_packed_init_equals_the_plain_loops_draw_on_any_thread_count(threads, monkeypatch):
    """Every group of every run in a ragged float32 bucket (biases drawn too) equals benchmarks.plain_loop's own
    implementation of the init convention, whether the runs are drawn one after another or on two threads."""
    from benchmarks.plain_loop import PlainResidualMLP, plain_hparams

    monkeypatch.setattr(models, "PARALLEL_INIT_MIN_NUMBERS", 0)     # the thread pool even for this small bucket

    runs = [RunConfig(model=ModelConfig(width=8, depth=d, k=2, d_out=2, bias=True), optim=OptimConfig(name="adamw"),
                      seed=s, bias_init_zero=False, base=BaseHP(sigma2=2.0, n_base=1, L_base=1))
            for d, s in ((3, 5), (3, 9), (2, 6), (1, 7))]
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model, _ = build(runs, torch.device("cpu"))
    finally:
        torch.set_num_threads(before)
    for m, run in enumerate(runs):
        hp = plain_hparams(run)
        plain = PlainResidualMLP(run.model, hp)
        plain.init_from_seed(run.seed, hp, bias_init_zero=False)
        assert torch.equal(model.params["input"][m], plain.input.weight.detach())
        assert torch.equal(model.params["input_bias"][m], plain.input.bias.detach())
        assert torch.equal(model.params["output"][m], plain.output.weight.detach())
        for l, block in enumerate(plain.blocks):
            for i, layer in enumerate(block, start=1):
                assert torch.equal(model.block(model.params, f"hidden.{i}", m, l), layer.weight.detach())
                assert torch.equal(model.block(model.params, f"hidden_bias.{i}", m, l), layer.bias.detach())


@pytest.mark.golden
@pytest.mark.parametrize("M, B, o, i", [(3, 16, 32, 16), (5, 128, 128, 32), (1, 128, 64, 64), (2, 17, 33, 65)])
def test_block_linear_backward_writes_gzT_u(M, B, o, i):
    """On every kernel path: `_BlockLinear`'s backward writes gzᵀu, as torch.bmm computes it into a fresh tensor, bit
    for bit into its rows of the buffer, leaves the other rows alone, returns gz W as the input's gradient, and agrees
    with autograd's (uᵀgz)ᵀ to float32 rounding (the two may round differently: MKL's AVX2 path on an Intel Xeon)."""
    g = torch.Generator().manual_seed(M * B + o)
    u = torch.randn(M, B, i, generator=g, requires_grad=True)
    gz = torch.randn(M, B, o, generator=g)
    w_all = torch.randn(M + 2, o, i, generator=g)
    buf = torch.full((M + 2, o, i), 7.0)
    z = models._BlockLinear.apply(u, w_all, None, 1, M, buf.narrow(0, 1, M))
    (gu,) = torch.autograd.grad(z, [u], gz)
    w = w_all[1:M + 1].clone().requires_grad_(True)
    (autograd,) = torch.autograd.grad(torch.bmm(u.detach(), w.transpose(1, 2)), [w], gz)
    assert torch.equal(buf[1:M + 1], torch.bmm(gz.transpose(1, 2), u.detach()).contiguous())
    assert torch.equal(buf[0], torch.full((o, i), 7.0)) and torch.equal(buf[M + 1], torch.full((o, i), 7.0))
    assert torch.equal(gu, torch.bmm(gz, w_all[1:M + 1]))
    torch.testing.assert_close(buf[1:M + 1], autograd, rtol=1e-5, atol=1e-5 * float(autograd.abs().max()))


@pytest.mark.golden
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bias", [False, True])
def test_buffered_gradients_equal_autograd(bias, dtype):
    """On every kernel path: model.gradients with the grad buffers equals torch.autograd.grad on the unbuffered model
    on a ragged bucket, every group bit for bit, except in float32 the hidden weights (width 128 =
    DIRECT_MIN_ELEMENTS), whose gradient is gzᵀu (`test_block_linear_backward_writes_gzT_u`): equal to float32
    rounding. float64 keeps autograd's product."""
    runs = [RunConfig(model=ModelConfig(width=128, depth=d, d_out=3, bias=bias, norm="rms"),
                      optim=OptimConfig(name="adamw"), seed=s, batch_size=8, dtype=dtype,
                      base=BaseHP(sigma2=2.0, n_base=1, L_base=1)) for d, s in ((3, 0), (2, 1), (2, 2))]
    assert 128 * 128 == DIRECT_MIN_ELEMENTS
    plain, _ = build(runs, torch.device("cpu"))
    buffered, _ = build(runs, torch.device("cpu"))
    buffered.reuse_grad_buffers()
    t = getattr(torch, dtype)
    x = torch.randn(3, 8, 32, generator=torch.Generator().manual_seed(0), dtype=t)
    y = torch.randn(3, 8, 3, generator=torch.Generator().manual_seed(1), dtype=t)
    names = list(plain.params)
    ref = torch.autograd.grad(per_run_loss("mse", plain.forward(plain.params, x)[0], y).sum(),
                              [plain.params[g] for g in names])
    got = buffered.gradients(per_run_loss("mse", buffered.forward(buffered.params, x)[0], y).sum(), names)
    assert buffered._direct_grads == (dtype == "float32")
    hidden = [g for g in names if Group.of(g).stacked_over_blocks and not Group.of(g).is_bias]
    assert len(hidden) == runs[0].model.k
    for g, a, b in zip(names, ref, got):
        if dtype == "float32" and g in hidden:
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5 * float(a.abs().max()), msg=g)
        else:
            assert torch.equal(a, b), g
