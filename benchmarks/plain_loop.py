"""The reference a researcher would write: one nn.Module and one torch.optim optimizer per run, runs one after another.

Same network as synthetic.models (Zheng et al. Eq. 2 / Eq. 28 with general k, optional pre-norm and biases), same
per-role multipliers, init variances, lr, wd and eps from `theory.bridge.layer_hparams`, the same init draws (the
documented convention of synthetic.models: one CPU generator per run seeded with the run seed, float64 normals drawn
group by group, then cast) and the same data batches (`synthetic.data`, which makes batch t a pure function of
(seed, t)). The optimizer is torch.optim itself, so this path shares no training code with the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from synthetic.config import ModelConfig, RunConfig
from synthetic.data import make_data_source
from theory.bridge import LayerHP, layer_hparams
from theory.roles import BIAS_ROLES, WEIGHT_ROLES
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def plain_hparams(run: RunConfig) -> dict[str, LayerHP]:
    """Every role's numbers for one run, straight from the bridge (only single-rule optimizers are supported here)."""
    if run.optim.name not in ("adamw", "sgd"):
        raise ValueError(f"the plain loop supports adamw and sgd (got {run.optim.name!r})")
    m = run.model
    roles = WEIGHT_ROLES + (BIAS_ROLES if m.bias else ())
    return layer_hparams(run.optim.name, run.parameterization, width=m.width, depth=m.depth, k=m.k, d_in=m.d_in,
                         d_out=m.d_out, base=run.base, input_kind=m.input_kind, roles=roles)


def parameter_count(m: ModelConfig) -> int:
    """Trainable numbers of one run (`ModelConfig.n_params`)."""
    return m.n_params


class PlainResidualMLP(nn.Module):
    """h0 = α0 φ_in(W0 x + b0); h_l = h_{l-1} + α_l φ_br(W_l^(k) φ(… W_l^(1) norm(h_{l-1}) …)); out = α_{L+1} W_{L+1} h_L."""

    def __init__(self, m: ModelConfig, hp: dict[str, LayerHP]) -> None:
        super().__init__()
        self.cfg = m
        self.alpha_in, self.alpha_hidden, self.alpha_out = (hp[r].multiplier for r in WEIGHT_ROLES)
        dims = [m.width] + [m.hidden_width] * (m.k - 1) + [m.width]
        self.input = nn.Linear(m.d_in, m.width, bias=m.bias)
        self.blocks = nn.ModuleList(
            nn.ModuleList(nn.Linear(dims[i], dims[i + 1], bias=m.bias) for i in range(m.k)) for _ in range(m.depth))
        self.output = nn.Linear(m.width, m.d_out, bias=False)
        self.act = {"identity": nn.Identity(), "relu": nn.ReLU(), "gelu": nn.GELU()}[m.activation]

    def norm(self, h: Tensor) -> Tensor:
        if self.cfg.norm == "rms":
            return F.rms_norm(h, (h.shape[-1],))
        if self.cfg.norm == "layer":
            return F.layer_norm(h, (h.shape[-1],))
        return h

    def forward(self, x: Tensor) -> Tensor:
        m = self.cfg
        z = self.input(x)
        h = self.alpha_in * (self.act(z) if m.act_after_input else z)
        for block in self.blocks:
            u = self.norm(h)
            for i, layer in enumerate(block):
                u = layer(u)
                if i < m.k - 1 or m.act_after_branch:
                    u = self.act(u)
            h = h + self.alpha_hidden * u
        return self.alpha_out * self.output(h)

    @torch.no_grad()
    def init_from_seed(self, seed: int, hp: dict[str, LayerHP], bias_init_zero: bool = True) -> None:
        """The engine's documented init convention: input, hidden map 1..k (all blocks in one [L, out, in] draw),
        output, then biases; each N(0, σ²_role) in float64 from one CPU generator seeded with `seed`."""
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        m = self.cfg

        def draw(shape: tuple[int, ...], role: str) -> Tensor:
            return torch.randn(shape, generator=gen, dtype=torch.float64) * math.sqrt(float(hp[role].init_var))

        self.input.weight.copy_(draw(tuple(self.input.weight.shape), "input"))
        for i in range(m.k):
            shape = (m.depth, *self.blocks[0][i].weight.shape)
            stack = draw(shape, "hidden")
            for l, block in enumerate(self.blocks):
                block[i].weight.copy_(stack[l])
        self.output.weight.copy_(draw(tuple(self.output.weight.shape), "output"))
        if m.bias:
            biases = [("input_bias", [self.input])] + [
                ("hidden_bias", [block[i] for block in self.blocks]) for i in range(m.k)]
            for role, layers in biases:
                if bias_init_zero:
                    for layer in layers:
                        layer.bias.zero_()
                    continue
                stack = draw((len(layers), layers[0].bias.shape[0]), role)
                for j, layer in enumerate(layers):
                    layer.bias.copy_(stack[j])


def make_optimizer(model: PlainResidualMLP, run: RunConfig, hp: dict[str, LayerHP]) -> torch.optim.Optimizer:
    """One torch.optim optimizer, one parameter group per role with that role's lr / wd / eps."""
    m = run.model
    groups: dict[str, list[Tensor]] = {"input": [model.input.weight], "output": [model.output.weight],
                                       "hidden": [layer.weight for block in model.blocks for layer in block]}
    if m.bias:
        groups["input_bias"] = [model.input.bias]
        groups["hidden_bias"] = [layer.bias for block in model.blocks for layer in block]
    o = run.optim
    if o.name == "adamw":
        return torch.optim.AdamW([{"params": ps, "lr": hp[r].lr, "weight_decay": hp[r].wd, "eps": hp[r].eps}
                                  for r, ps in groups.items()], betas=o.betas)
    return torch.optim.SGD([{"params": ps, "lr": hp[r].lr, "weight_decay": hp[r].wd} for r, ps in groups.items()],
                           momentum=o.momentum, nesterov=o.nesterov)


def loss_fn(kind: str, out: Tensor, y: Tensor) -> Tensor:
    if kind == "mse":
        return F.mse_loss(out, y)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(out, y)
    return F.cross_entropy(out, y)


@dataclass(frozen=True)
class PlainResult:
    """Training-batch loss of every step (losses[t] = loss of batch t, before update t+1) of one run."""

    run: RunConfig
    losses: Tensor


def train_plain(run: RunConfig, device: torch.device) -> PlainResult:
    """Train one run the plain way; the per-step losses stay on the device until the run ends."""
    dtype = TORCH_DTYPES[run.dtype]
    hp = plain_hparams(run)
    model = PlainResidualMLP(run.model, hp)
    model.init_from_seed(run.seed, hp, run.bias_init_zero)
    model.to(device=device, dtype=dtype)
    opt = make_optimizer(model, run, hp)
    m = run.model
    data = make_data_source(run.data, d_in=m.d_in, d_out=m.d_out, loss=run.loss, batch_size=run.batch_size,
                            seeds=[run.seed], device=device, dtype=dtype)
    losses = torch.empty(run.steps, device=device, dtype=dtype)
    for t in range(run.steps):
        x, y = data.train_batch(t)
        loss = loss_fn(run.loss, model(x[0]), y[0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses[t] = loss.detach()
    return PlainResult(run, losses.cpu())
