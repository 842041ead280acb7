"""synthetic.models: the packed block layout of ragged buckets, and the hidden-weight gradients `_BlockLinear` writes
straight into the optimizer's buffer (equal bit for bit to autograd's where the engine uses them)."""

from __future__ import annotations

import pytest
import torch
from theory.bridge import BaseHP

from synthetic.config import ModelConfig, OptimConfig, RunConfig
from synthetic import models
from synthetic.engine import build, per_run_loss
from synthetic.models import DIRECT_PROBE_SHAPES, DIRECT_WEIGHT_GRAD_DTYPES, BlockLayout, direct_weight_grad_ok


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
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_direct_weight_gradient_is_used_only_where_it_rounds_like_autograd(dtype):
    """On every kernel path: `direct_weight_grad_ok` is True exactly when gzᵀu equals autograd's (uᵀgz)ᵀ bit for bit
    on every probe shape (false for float64, which always keeps autograd's product)."""
    same = []
    for M, B, o, i in DIRECT_PROBE_SHAPES:
        g = torch.Generator().manual_seed(M * B + o + 1)      # other data than the probe's own
        u = torch.randn(M, B, i, generator=g, dtype=dtype)
        gz = torch.randn(M, B, o, generator=g, dtype=dtype)
        w = torch.randn(M, o, i, generator=g, dtype=dtype, requires_grad=True)
        (autograd,) = torch.autograd.grad(torch.bmm(u, w.transpose(1, 2)), [w], gz)
        same.append(torch.equal(torch.bmm(gz.transpose(1, 2), u), autograd))
    assert direct_weight_grad_ok(dtype, "cpu") == (dtype in DIRECT_WEIGHT_GRAD_DTYPES and all(same))


@pytest.mark.golden
@pytest.mark.parametrize("bias", [False, True])
def test_buffered_gradients_equal_autograd(bias):
    """On every kernel path: model.gradients with the grad buffers (direct hidden-weight gradients in float32 where
    they round like autograd's, width 128 = DIRECT_MIN_ELEMENTS) equals torch.autograd.grad on the unbuffered model,
    every group, bit for bit, on a ragged bucket."""
    runs = [RunConfig(model=ModelConfig(width=128, depth=d, d_out=3, bias=bias, norm="rms"),
                      optim=OptimConfig(name="adamw"), seed=s, batch_size=8,
                      base=BaseHP(sigma2=2.0, n_base=1, L_base=1)) for d, s in ((3, 0), (2, 1), (2, 2))]
    plain, _ = build(runs, torch.device("cpu"))
    buffered, _ = build(runs, torch.device("cpu"))
    buffered.reuse_grad_buffers()
    x = torch.randn(3, 8, 32, generator=torch.Generator().manual_seed(0))
    y = torch.randn(3, 8, 3, generator=torch.Generator().manual_seed(1))
    names = list(plain.params)
    ref = torch.autograd.grad(per_run_loss("mse", plain.forward(plain.params, x)[0], y).sum(),
                              [plain.params[g] for g in names])
    got = buffered.gradients(per_run_loss("mse", buffered.forward(buffered.params, x)[0], y).sum(), names)
    assert buffered._direct_grads == direct_weight_grad_ok(torch.float32, "cpu")   # the direct path where it may be
    for g, a, b in zip(names, ref, got):
        assert torch.equal(a, b), g
