"""Stacked optimizers vs torch.optim step for step (float64), and Muon's Newton–Schulz direction vs an exact SVD."""

from __future__ import annotations

import math

import pytest
import torch

from synthetic.groups import Group
import torch.nn.functional as F
from theory.bridge import BaseHP, layer_hparams

from synthetic.config import ModelConfig, OptimConfig, RunConfig
from synthetic.engine import build, per_run_loss
from synthetic.optim import NS_CUBIC, NS_QUINTIC, KIMI_SCALE, newton_schulz
from test_engine_support import data_for

MODEL = ModelConfig(width=6, depth=2, k=2, d_in=4, d_out=2, activation="gelu", act_after_input=True, norm="rms",
                    bias=True, hidden_ratio=1.5)


def reference_forward(p: dict, hp: dict, x: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """One run, plain per-layer loops (independent of the stacked bmm forward)."""
    act = F.gelu
    h = hp["input"].multiplier * act(x @ p["W0"].T + p["b0"])
    for l in range(cfg.depth):
        u = h / torch.sqrt(h.pow(2).mean(-1, keepdim=True) + torch.finfo(h.dtype).eps)
        for i in range(cfg.k):
            u = u @ p[f"W{l}_{i}"].T + p[f"b{l}_{i}"]
            if i < cfg.k - 1:
                u = act(u)
        h = h + hp["hidden"].multiplier * u
    return hp["output"].multiplier * (h @ p["Wout"].T)


def torch_reference(run: RunConfig, init: dict, m: int, steps: int, data, opt_name: str, scheduler=None):
    """Train run m with torch.optim and per-role param groups holding the bridge's lr / wd / eps; `scheduler`
    (optimizer -> torch.optim.lr_scheduler object) is stepped after every optimizer step."""
    hp = layer_hparams(opt_name, run.parameterization, width=run.model.width, depth=run.model.depth, k=run.model.k,
                       d_in=run.model.d_in, d_out=run.model.d_out, base=run.base,
                       roles=["input", "hidden", "output", "input_bias", "hidden_bias"])
    p, roles = {}, {}
    p["W0"], roles["W0"] = init["input"][m].clone(), "input"
    p["b0"], roles["b0"] = init["input_bias"][m].clone(), "input_bias"
    for l in range(run.model.depth):
        for i in range(run.model.k):
            p[f"W{l}_{i}"], roles[f"W{l}_{i}"] = init[f"hidden.{i + 1}"][m, l].clone(), "hidden"
            p[f"b{l}_{i}"], roles[f"b{l}_{i}"] = init[f"hidden_bias.{i + 1}"][m, l].clone(), "hidden_bias"
    p["Wout"], roles["Wout"] = init["output"][m].clone(), "output"
    params = {k: torch.nn.Parameter(v) for k, v in p.items()}
    groups = []
    for role in ("input", "hidden", "output", "input_bias", "hidden_bias"):
        g = {"params": [params[k] for k in params if roles[k] == role], "lr": hp[role].lr,
             "weight_decay": hp[role].wd}
        if opt_name == "adamw":
            g["eps"] = hp[role].eps
        groups.append(g)
    o = run.optim
    if opt_name == "sgd":
        opt = torch.optim.SGD(groups, lr=1.0, momentum=o.momentum, nesterov=o.nesterov)
    else:
        opt = torch.optim.AdamW(groups, lr=1.0, betas=o.betas)
    sched = None if scheduler is None else scheduler(opt)
    for t in range(steps):
        x, y = data.train_batch(t)
        opt.zero_grad()
        out = reference_forward(params, hp, x[m], run.model)
        F.mse_loss(out, y[m]).backward()
        opt.step()
        if sched is not None:
            sched.step()
    return params


@pytest.mark.parametrize("opt_name,momentum,nesterov,one_pass", [("sgd", 0.0, False, False), ("sgd", 0.9, False, False),
                                                                 ("sgd", 0.9, True, False), ("adamw", 0.0, False, False),
                                                                 ("adamw", 0.0, False, True)])
@pytest.mark.engine_device
def test_stacked_optimizer_equals_torch_optim(opt_name, momentum, nesterov, one_pass, engine_device):
    """The stacked step on `engine_device` against torch.optim on the CPU, float64 (AdamW also by its one-pass
    update, OptimConfig.one_pass, against torch.optim's default per-tensor AdamW)."""
    bases = [BaseHP(eta=0.01, lam=0.1, n_base=4, L_base=1), BaseHP(eta=0.005, lam=0.0, eps=1e-6, sigma2=0.15),
             BaseHP(eta=0.02, lam=0.3, alpha=0.5, n_base=3, L_base=2)]
    params = ["mup_k2", "sp", "mup_k1"]
    runs = [RunConfig(model=MODEL, optim=OptimConfig(name=opt_name, momentum=momentum, nesterov=nesterov,
                                                     one_pass=one_pass),
                      parameterization=pz, base=b, loss="mse", steps=20, batch_size=5, seed=s, dtype="float64",
                      bias_init_zero=False)
            for s, (b, pz) in enumerate(zip(bases, params))]
    data = data_for(runs)
    model, opt = build(runs, torch.device(engine_device))
    init = {g: p.cpu() for g, p in initial_params(model).items()}
    names = list(model.params)
    for t in range(20):
        x, y = (v.to(engine_device) for v in data.train_batch(t))
        loss = per_run_loss("mse", model.forward(model.params, x)[0], y)
        grads = torch.autograd.grad(loss.sum(), [model.params[g] for g in names])
        opt.step(dict(zip(names, grads)))
    for m, run in enumerate(runs):
        ref = torch_reference(run, init, m, 20, data, opt_name)
        stacked = stacked_params(model, m)
        for key, ref_p in ref.items():
            assert not torch.equal(ref_p.detach(), init_value(init, key, m)), key  # it did train
            assert torch.isfinite(ref_p).all(), (m, key)
            diff = (stacked[key].detach().cpu() - ref_p.detach()).abs().max().item()
            assert diff < 1e-12, (m, key, diff)


def stacked_params(model, m: int) -> dict:
    """Run m's parameters of a stacked model under the reference's names."""
    stacked = {"W0": model.params["input"][m], "b0": model.params["input_bias"][m], "Wout": model.params["output"][m]}
    for l in range(MODEL.depth):
        for i in range(MODEL.k):
            stacked[f"W{l}_{i}"] = model.block(model.params, f"hidden.{i + 1}", m, l)
            stacked[f"b{l}_{i}"] = model.block(model.params, f"hidden_bias.{i + 1}", m, l)
    return stacked


def initial_params(model) -> dict:
    """A copy of a stacked model's parameters with the packed hidden groups as [M, L, …]."""
    return {g: (model.unpacked(model.params, g) if Group.of(g).stacked_over_blocks else p.detach().clone())
            for g, p in model.params.items()}


def init_value(init, key, m):
    if key == "W0":
        return init["input"][m]
    if key == "b0":
        return init["input_bias"][m]
    if key == "Wout":
        return init["output"][m]
    l, i = key[1:].split("_")
    return init[("hidden." if key[0] == "W" else "hidden_bias.") + str(int(i) + 1)][m, int(l)]


def exact_polar(g: torch.Tensor) -> torch.Tensor:
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    return u @ vh


def test_newton_schulz_cubic_converges_to_polar_factor():
    """Documented tolerance: 60 cubic steps on well-conditioned matrices reach U Vᵀ to 1e-10 (float64)."""
    g = torch.randn(3, 2, 12, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for mat in (g, g.mT):  # tall and wide
        torch.testing.assert_close(newton_schulz(mat, 60, NS_CUBIC), exact_polar(mat), rtol=0, atol=1e-10)


def _one_step(runs):
    """Build a bucket, take one optimizer step on its first batch; returns (net, opt, weights before, gradients)."""
    data = data_for(runs)
    net, opt = build(runs, torch.device("cpu"))
    before = {g: p.detach().clone() for g, p in net.params.items()}
    x, y = data.train_batch(0)
    names = list(net.params)
    grads = dict(zip(names, torch.autograd.grad(per_run_loss("mse", net.forward(net.params, x)[0], y).sum(),
                                                [net.params[g] for g in names])))
    opt.step(grads)
    return net, opt, before, grads


def test_newton_schulz_quintic_band():
    """Documented band: 5 default quintic steps keep U and V (error ≤ 1e-6 after dividing out singular values) and
    put every singular value in [0.65, 1.2] for inputs with σ_min/σ_max ≥ 0.05."""
    gen = torch.Generator().manual_seed(1)
    g = torch.randn(64, 24, 16, generator=gen, dtype=torch.float64)
    s = torch.linalg.svdvals(g)
    assert (s[:, -1] / s[:, 0]).min() >= 0.05
    x = newton_schulz(g, 5, NS_QUINTIC)
    sx = torch.linalg.svdvals(x)
    assert sx.min() >= 0.65 and sx.max() <= 1.2
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    # same singular vectors: Uᵀ X V is diagonal
    core = u.mT @ x @ vh.mT
    off = core - torch.diag_embed(torch.diagonal(core, dim1=-2, dim2=-1))
    assert off.abs().max() < 1e-6


@pytest.mark.parametrize("name", ["muon", "muon_kimi"])
def test_muon_step_is_lr_times_ns_direction(name):
    """The step is exactly W ← W − η·s·NS(G) (s = 1 or 0.2·sqrt(max(n_in, n_out))); for full-rank gradients (the output map
    here; the others have rank ≤ d_out or ≤ d_in in a deep linear net) NS(G) has exactly G's singular vectors and singular values in the quintic band."""
    model = ModelConfig(width=8, depth=2, k=2, d_in=4, d_out=2, activation="identity")
    runs = [RunConfig(model=model, optim=OptimConfig(name=name, ns_steps=40),
                      base=BaseHP(eta=0.01 * (s + 1), n_base=8, L_base=2), steps=1, batch_size=16, seed=s,
                      dtype="float64") for s in range(2)]
    net, opt, before, grads = _one_step(runs)
    names = list(net.params)
    for g in names:
        w = net.params[g].detach()
        scale = KIMI_SCALE * math.sqrt(max(w.shape[-2:])) if name == "muon_kimi" else 1.0
        expect = before[g] - opt.lr[g] * scale * newton_schulz(grads[g], 40)
        torch.testing.assert_close(w, expect, rtol=0, atol=1e-13)
    for g in ("output",):
        direction = newton_schulz(grads[g], 40)
        core = exact_polar(grads[g]).mT @ direction  # = V diag(s') Vᵀ when the singular vectors agree
        torch.testing.assert_close(core, core.mT, rtol=0, atol=1e-12)
        ev = torch.linalg.eigvalsh(core)[..., -min(direction.shape[-2:]):]
        assert ev.min() > 0.65 and ev.max() < 1.2, g


def test_lion_first_step_is_sign():
    model = ModelConfig(width=6, depth=1, k=2, d_in=3, d_out=1)
    runs = [RunConfig(model=model, optim=OptimConfig(name="lion"), base=BaseHP(eta=0.01, lam=0.5), steps=1,
                      batch_size=4, seed=0, dtype="float64")]
    net, opt, before, grads = _one_step(runs)
    names = list(net.params)
    for g in names:
        lr, wd = opt.lr[g], opt.wd[g]
        expect = before[g] * (1 - lr * wd) - lr * torch.sign(grads[g])
        torch.testing.assert_close(net.params[g].detach(), expect, rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("rule", ["sgd", "adamw", "lion", "muon"])
def test_tiled_update_and_frozen_run(rule, dtype, monkeypatch):
    """The CPU tiling changes nothing (tiles of 7 elements, one row each, where AdamW takes the step size as a host
    scalar and skips a decay of exactly 1, vs one tile of every row); a frozen run with NaN gradients keeps its
    weights bit-for-bit and the other runs get exactly the update they get when every run is alive."""
    import synthetic.optim as optim

    gen = torch.Generator().manual_seed(3)
    M, shape = 3, (2, 5, 4)
    p0 = torch.randn(M, *shape, generator=gen, dtype=torch.float64).to(dtype)
    grads = [torch.randn(M, *shape, generator=gen, dtype=torch.float64).to(dtype) for _ in range(3)]
    hps = {"w": {"lr": [0.1, 0.01, 0.05], "wd": [0.1, 0.0, 0.3], "eps": [1e-8, 1e-6, 1e-8]}}
    cfg = OptimConfig(name=rule, momentum=0.9 if rule in ("sgd", "muon") else 0.0, nesterov=rule == "sgd")

    def run(tile_bytes, alive=None, poison=False):
        monkeypatch.setattr(optim, "CPU_TILE_BYTES", tile_bytes)
        p = p0.clone()
        opt = optim.StackedOptimizer({"w": p}, {"w": rule}, hps, cfg)
        for g in grads:
            g = g.clone()
            if poison:
                g[1] = float("nan")
            opt.step({"w": g}, alive)
        return p

    whole = run(1 << 30)
    assert not torch.equal(whole, p0)
    assert torch.equal(run(7 * 8), whole)
    monkeypatch.setattr(optim, "CPU_HOST_SCALARS", False)
    assert torch.equal(run(7 * 8), whole)
    monkeypatch.setattr(optim, "CPU_HOST_SCALARS", True)
    assert torch.equal(run(None), whole)   # None: the GPU code path, no CPU tiling
    alive = torch.tensor([True, False, True])
    for tile in (7 * 8, 1 << 30, None):
        frozen = run(tile, alive, poison=True)
        assert torch.equal(frozen[1], p0[1])
        assert torch.equal(frozen[0], whole[0]) and torch.equal(frozen[2], whole[2])


def test_tiles_end_where_the_row_factors_change():
    from synthetic.optim import _tiles

    rows = lambda tiles: [(t[0].start, t[0].stop) for t in tiles]  # noqa: E731
    assert rows(_tiles(6, 4, 12)) == [(0, 3), (3, 6)]
    assert rows(_tiles(6, 4, 12, keys=[1, 1, 2, 2, 2, 3])) == [(0, 2), (2, 5), (5, 6)]
    assert rows(_tiles(2, 4, 100, keys=[1, 2])) == [(0, 1), (1, 2)]
    assert _tiles(2, 8, 4, keys=[1, 2]) == [(slice(0, 1), slice(0, 4)), (slice(0, 1), slice(4, 8)),
                                           (slice(1, 2), slice(0, 4)), (slice(1, 2), slice(4, 8))]


@pytest.mark.parametrize("lrs, wds", [([0.1, 0.1, 0.05], [0.1, 0.1, 0.0]), ([0.1, 0.01, 0.05], [0.0, 0.0, 0.0])])
def test_adamw_tiles_split_at_row_factors_give_the_same_numbers(lrs, wds, monkeypatch):
    """Tiles that end where (lr, wd) changes take AdamW's scalar-step path, and its skipped decay of exactly 1; the
    weights equal those of one tile over every row (the per-row column path), bit for bit, with and without a
    per-run schedule factor (which makes the columns new each step, so the cached check is not used)."""
    import synthetic.optim as optim

    gen = torch.Generator().manual_seed(5)
    M, shape = 3, (4, 5)
    p0 = torch.randn(M, *shape, generator=gen)
    grads = [torch.randn(M, *shape, generator=gen) for _ in range(3)]
    hps = {"w": {"lr": lrs, "wd": wds, "eps": [1e-8] * 3}}

    def run(split_bytes, scale):
        monkeypatch.setattr(optim, "CPU_TILE_BYTES", 1 << 20)
        monkeypatch.setattr(optim, "SPLIT_AT_FACTORS_MIN_ROW_BYTES", split_bytes)
        p = p0.clone()
        opt = optim.StackedOptimizer({"w": p}, {"w": "adamw"}, hps, OptimConfig(name="adamw"))
        for g in grads:
            opt.step({"w": g.clone()}, None, scale)
        return p, opt.groups["w"].tiles

    for scale in (None, torch.tensor([1.0, 0.5, 0.5])):
        whole, tiles = run(1 << 40, scale)
        split, split_tiles = run(0, scale)
        assert len(tiles) == 1 and len(split_tiles) == (2 if lrs[0] == lrs[1] else 3)
        assert not torch.equal(whole, p0) and torch.equal(split, whole)


@pytest.mark.parametrize("split_into", [True, False])
def test_reused_hidden_grad_buffers_give_the_same_gradients(split_into, monkeypatch):
    """The packed hidden groups split by `models._SplitInto` (gradient written into the reused buffer) or, below
    `SPLIT_INTO_MIN_BYTES`, by autograd's own split: the same gradients as without buffers, bit for bit."""
    import synthetic.models as models

    monkeypatch.setattr(models, "SPLIT_INTO_MIN_BYTES", 0 if split_into else 1 << 40)
    runs = [RunConfig(model=MODEL, optim=OptimConfig(name="adamw"), base=BaseHP(eta=0.01), steps=1, batch_size=5,
                      seed=s, dtype="float64") for s in range(2)]
    x, y = data_for(runs).train_batch(0)
    model, _ = build(runs, torch.device("cpu"))
    names = list(model.params)

    def grads():
        loss = per_run_loss("mse", model.forward(model.params, x)[0], y).sum()
        return torch.autograd.grad(loss, [model.params[n] for n in names])

    plain = [g.clone() for g in grads()]
    model.reuse_grad_buffers()
    for _ in range(2):
        got = grads()
        for n, a, b in zip(names, got, plain):
            assert torch.equal(a, b)
            if n in model.grad_buffers:
                assert (a.data_ptr() == model.grad_buffers[n].data_ptr()) == split_into, n


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("rule,momentum,nesterov", [("sgd", 0.0, False), ("sgd", 0.9, True), ("adamw", 0.0, False),
                                                    ("lion", 0.0, False)])
def test_small_groups_updated_together_give_the_same_numbers(rule, momentum, nesterov, dtype, monkeypatch):
    """On a CPU the small groups of an element-local rule are updated as one concatenated group (`optim._Flat`); every
    weight and state element equals the group-by-group update bit for bit, with per-run lr / wd / eps, a packed group
    whose rows belong to different runs, groups with and without decay, a schedule and a frozen run with NaN
    gradients."""
    import synthetic.optim as optim

    gen = torch.Generator().manual_seed(5)
    M, row_runs = 3, [0, 1, 2, 0, 1, 0]  # a ragged packed group: depths 3, 2, 1
    shapes = {"input": (M, 5, 3), "hidden.1": (len(row_runs), 4, 5), "output": (M, 2, 4), "input_bias": (M, 5),
              "hidden_bias.1": (len(row_runs), 4)}
    p0 = {g: torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for g, s in shapes.items()}
    grads = [{g: torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for g, s in shapes.items()}
             for _ in range(4)]
    hps = {g: {"lr": [0.1, 0.01, 0.05], "wd": [0.0, 0.0, 0.0] if "bias" in g else [0.1, 0.0, 0.3],
               "eps": [1e-8, 1e-6, 1e-3]} for g in shapes}
    rows = {g: row_runs for g in shapes if g.startswith("hidden")}
    cfg = OptimConfig(name=rule, momentum=momentum, nesterov=nesterov)
    lr_scale = torch.tensor([0.5, 1.0, 0.25], dtype=dtype)
    default = optim.FLAT_MAX_BYTES

    def run(flat_bytes, alive=None):
        monkeypatch.setattr(optim, "FLAT_MAX_BYTES", flat_bytes)
        p = {g: t.clone() for g, t in p0.items()}
        opt = optim.StackedOptimizer(p, {g: rule for g in p}, hps, cfg, rows)
        for t, g in enumerate(grads):
            g = {k: v.clone() for k, v in g.items()}
            if alive is not None:
                for k, v in g.items():
                    v[[i for i, m in enumerate(row_runs if k in rows else range(M)) if m == 1]] = float("nan")
            opt.step(g, alive, lr_scale if t % 2 else None)
        return p, opt

    alive = torch.tensor([True, False, True])
    for a in (None, alive):
        ref, ref_opt = run(0, a)
        got, opt = run(default, a)
        assert not ref_opt.flats
        assert sorted(len(fl.members) for fl in opt.flats) == [2, 3]  # weights (decay) and biases (none) apart
        for g in shapes:
            assert torch.equal(got[g], ref[g]), g
            for k, s in ref_opt.state[g].items():  # a frozen run's state holds NaNs
                torch.testing.assert_close(opt.state[g][k], s, rtol=0, atol=0, equal_nan=True)
    frozen, _ = run(default, alive)
    assert torch.equal(frozen["input"][1], p0["input"][1])
    assert torch.equal(frozen["hidden.1"][[1, 4]], p0["hidden.1"][[1, 4]])
