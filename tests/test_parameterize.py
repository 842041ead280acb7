"""synthetic.parameterize: the rules as torch.optim groups, init and multipliers for any nn.Module. The reference:
the engine's own residual network written as a plain nn.Module, trained with `param_groups` and torch.optim.AdamW,
equals the engine's run of the same configuration in float64."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from synthetic.config import ModelConfig, OptimConfig, RunConfig
from synthetic.data import make_data_source
from synthetic.engine import build, train_bucket
from synthetic.errors import ConfigError
from synthetic.parameterize import Shape, hparams, initialize, k_mismatch, param_groups, scale_outputs
from theory.bridge import BaseHP, layer_hparams

ROLES = {"input.weight": "input", "output.weight": "output", "blocks.*.weight": "hidden"}


class Residual(nn.Module):
    """h0 = W0 x; h_l = h_{l-1} + branch_l(h_{l-1}), branch = W2 relu(W1 h); out = W h_L (no multipliers inside:
    `scale_outputs` puts them on the input map, every branch and the readout)."""

    def __init__(self, width: int, depth: int, d_in: int, d_out: int) -> None:
        super().__init__()
        self.input = nn.Linear(d_in, width, bias=False)
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(width, width, bias=False), nn.ReLU(),
                                                  nn.Linear(width, width, bias=False)) for _ in range(depth))
        self.output = nn.Linear(width, d_out, bias=False)

    def forward(self, x):
        h = self.input(x)
        for block in self.blocks:
            h = h + block(h)
        return self.output(h)


@pytest.mark.parametrize("parameterization", ["sp", "mup_k1", "mup_k2"])
def test_param_groups_with_torch_adamw_equal_the_engine(parameterization):
    m = ModelConfig(width=16, depth=3, k=2, d_in=8, d_out=2)
    base = BaseHP(eta=2e-2, lam=0.1, eps=1e-6, n_base=4, L_base=1)
    run = RunConfig(model=m, optim=OptimConfig(name="adamw"), parameterization=parameterization, base=base,
                    steps=6, batch_size=8, seed=3, dtype="float64")
    engine_loss = [r.value for r in train_bucket([run])[0].records if r.quantity == "loss"]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # mup_k1 on k = 2 blocks warns (tested below)
        hp = hparams("adamw", parameterization, Shape(m.width, m.depth, m.k, m.d_in, m.d_out), base, biases=False)
    assert hp == layer_hparams("adamw", parameterization, width=16, depth=3, k=2, d_in=8, d_out=2, base=base,
                               roles=("input", "hidden", "output"))
    net = Residual(m.width, m.depth, m.d_in, m.d_out).double()
    stacked, _ = build([run], torch.device("cpu"))
    with torch.no_grad():                          # the engine's init draws, copied
        net.input.weight.copy_(stacked.params["input"][0])
        net.output.weight.copy_(stacked.params["output"][0])
        for l, block in enumerate(net.blocks):
            block[0].weight.copy_(stacked.block(stacked.params, "hidden.1", 0, l))
            block[2].weight.copy_(stacked.block(stacked.params, "hidden.2", 0, l))
    scale_outputs({"input": [net.input], "hidden": list(net.blocks), "output": [net.output]}, hp)
    groups = param_groups(net, ROLES, hp)
    assert sorted(g["name"] for g in groups) == ["hidden", "input", "output"]
    opt = torch.optim.AdamW(groups, betas=run.optim.betas)
    data = make_data_source(run.data, d_in=m.d_in, d_out=m.d_out, loss="mse", batch_size=run.batch_size,
                            seeds=[run.seed], device=torch.device("cpu"), dtype=torch.float64)
    plain_loss = []
    for t in range(run.steps):
        x, y = data.train_batch(t)
        loss = F.mse_loss(net(x[0]), y[0])
        opt.zero_grad()
        loss.backward()
        opt.step()
        plain_loss.append(loss.item())
    assert plain_loss[-1] != plain_loss[0]
    torch.testing.assert_close(torch.tensor(plain_loss), torch.tensor(engine_loss[: run.steps]), rtol=1e-12, atol=0)


def test_a_parameter_without_a_role_is_named_and_init_follows_the_roles():
    net = Residual(8, 2, 4, 1)
    with pytest.raises(ConfigError, match="'output.weight' has no role"):
        param_groups(net, {"input.*": "input", "blocks.*": "hidden"}, {})
    with pytest.raises(ConfigError, match="unknown role 'embedding'"):
        param_groups(net, lambda name: "embedding", {})
    hp = hparams("adamw", "mup_k2", Shape(width=4096, depth=2, k=2, d_in=4, d_out=1), BaseHP())
    big = Residual(4096, 1, 4, 1)
    initialize(big, ROLES, hp, torch.Generator().manual_seed(0))
    var = big.blocks[0][0].weight.double().var().item()
    assert abs(var / hp["hidden"].init_var - 1) < 0.01      # 16.8M draws: the variance to ±1%


def test_a_depth_rule_for_another_block_depth_warns():
    assert k_mismatch("mup_k2", 2) is None and k_mismatch("mup_k2", 3) is None and k_mismatch("mup_k1", 1) is None
    assert "with k = 2" in k_mismatch("mup_k1", 2) and "with k = 1" in k_mismatch("mup_k2", 1)
    with pytest.warns(UserWarning, match="derived for k = 1 blocks"):
        hparams("adamw", "mup_k1", Shape(width=64, depth=4, k=2))


class PreNormFFN(nn.Module):
    """Pre-LayerNorm residual FFN (up n → 4n, down 4n → n), a final LayerNorm and a readout with a bias."""

    def __init__(self, width: int, depth: int, d_in: int, d_out: int) -> None:
        super().__init__()
        self.input = nn.Linear(d_in, width, bias=False)
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 4 * width, bias=False),
                                                  nn.ReLU(), nn.Linear(4 * width, width, bias=False))
                                    for _ in range(depth))
        self.final = nn.LayerNorm(width)
        self.output = nn.Linear(width, d_out)

    def forward(self, x):
        h = self.input(x)
        for block in self.blocks:
            h = h + block(h)
        return self.output(self.final(h))


FFN_ROLES = {"input.weight": "input", "blocks.*.0.*": "block_norm", "blocks.*.weight": "hidden",
             "final.*": "final_norm", "output.weight": "output", "output.bias": "output_bias"}


def test_norms_readout_bias_and_rectangular_maps_get_their_derived_groups():
    """AdamW, mup_k1 (α = ½): CompleteP's Table 1 puts the blocks' LN gains at η·(L/L_base)^(α−1) and the final LN
    at η; mup leaves a readout bias's lr alone; the up/down projections are hidden maps (η·m_N^-1·m_L^(α−1))."""
    base = BaseHP(eta=1e-3, lam=0.1, n_base=16, L_base=2)
    shape = Shape(width=64, depth=8, k=1, d_in=4, d_out=2)
    hp = hparams("adamw", "mup_k1", shape, base)
    net = PreNormFFN(64, 8, 4, 2)
    groups = {g["name"]: g for g in param_groups(net, FFN_ROLES, hp)}
    assert groups["block_norm"]["lr"] == pytest.approx(1e-3 * (8 / 2) ** -0.5, rel=1e-15)
    assert groups["final_norm"]["lr"] == groups["output_bias"]["lr"] == 1e-3
    assert groups["hidden"]["lr"] == pytest.approx(1e-3 / (64 / 16) * (8 / 2) ** -0.5, rel=1e-15)
    assert len(groups["block_norm"]["params"]) == 2 * 8 and len(groups["hidden"]["params"]) == 2 * 8
    initialize(net, FFN_ROLES, hp, torch.Generator().manual_seed(0))
    assert torch.equal(net.blocks[3][0].weight, torch.ones(64)) and torch.equal(net.final.bias, torch.zeros(64))
    opt = torch.optim.AdamW(list(groups.values()))
    net(torch.randn(5, 4)).square().mean().backward()
    opt.step()
    assert not torch.equal(net.final.weight, torch.ones(64))
