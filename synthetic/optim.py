"""Stacked optimizers: one update rule per parameter group, hyperparameters per run as broadcastable [M,1,…] tensors.

Rules (ARCHITECTURE convention ΔW = −η(A + λW) unless PyTorch's own convention is stated):

- `sgd`: PyTorch SGD — d = g + λW; heavy ball b ← μ b + d (b_1 = d); Nesterov d ← d + μ b, else d ← b; W ← W − η d.
- `adamw`: PyTorch AdamW — W ← W(1 − ηλ); m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
  W ← W − η m̂ / (sqrt(v̂) + ε) with bias corrections m̂ = m/(1−β1^t), sqrt(v̂) = sqrt(v)/sqrt(1−β2^t).
- `lion`: c = β1 m + (1−β1) g; W ← W(1 − ηλ) − η sign(c); m ← β2 m + (1−β2) g.
- `muon`: PyTorch Muon momentum b ← μ b + (1−μ) g, Nesterov u = (1−μ) g + μ b else u = b (u = g when μ = 0);
  A = NS(u) ≈ U Vᵀ by batched Newton–Schulz; W ← W(1 − ηλ) − η A.
- `muon_kimi`: as `muon` with A = 0.2 · sqrt(max(n_in, n_out)) · NS(u).

Engine optimizers map roles to rules (`ROLE_RULES`); biases under a pure matrix optimizer use AdamW with the bridge's
AdamW rules, and the hybrid `muon_kimi_adamw` asks the bridge for "muon_kimi" (hidden) and "adamw" (the rest).
A run frozen by the engine (`alive` false) keeps its weights bit-for-bit; its optimizer state is its own and never
touches another run. `step()` does no host synchronisation.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor
from theory.bridge import LayerHP, layer_hparams
from theory.errors import TheoryError

from synthetic.config import OptimConfig, RunConfig
from synthetic.errors import ConfigError

NS_QUINTIC = (3.4445, -4.7750, 2.0315)
"""Keller Jordan's quintic Newton–Schulz coefficients (also torch.optim.Muon's default): fast, not convergent to U Vᵀ;
after 5 steps the singular values of the result lie in a band around 1 (see tests/test_optim_muon.py)."""
NS_CUBIC = (1.5, -0.5, 0.0)
"""The classical cubic Newton–Schulz iteration X ← 1.5 X − 0.5 X Xᵀ X: converges to U Vᵀ (slowly for small σ)."""
KIMI_SCALE = 0.2

WEIGHT_ROLES = ("input", "hidden", "output")
BIAS_ROLES = ("input_bias", "hidden_bias")


def role_rules(optimizer: str) -> dict[str, str]:
    """Update rule (and bridge optimizer name) per role for an engine optimizer."""
    if optimizer in ("sgd", "adamw", "lion"):
        return {r: optimizer for r in WEIGHT_ROLES + BIAS_ROLES}
    if optimizer in ("muon", "muon_kimi"):
        return {**{r: optimizer for r in WEIGHT_ROLES}, **{r: "adamw" for r in BIAS_ROLES}}
    if optimizer == "muon_kimi_adamw":
        return {"input": "adamw", "hidden": "muon_kimi", "output": "adamw", "input_bias": "adamw",
                "hidden_bias": "adamw"}
    raise ConfigError(f"unknown optimizer {optimizer!r}")


def run_hparams(run: RunConfig) -> dict[str, LayerHP]:
    """Every role's LayerHP for one run, from theory.bridge (the only source of these numbers)."""
    m = run.model
    roles = WEIGHT_ROLES + (BIAS_ROLES if m.bias else ())
    rules = role_rules(run.optim.name)
    out: dict[str, LayerHP] = {}
    for rule in sorted(set(rules[r] for r in roles)):
        wanted = [r for r in roles if rules[r] == rule]
        try:
            hps = layer_hparams(rule, run.parameterization, width=m.width, depth=m.depth, k=m.k, d_in=m.d_in,
                                d_out=m.d_out, base=run.base, input_kind=m.input_kind, roles=wanted)
        except TheoryError as e:
            raise ConfigError(str(e)) from None
        out.update({r: hps[r] for r in wanted})
    return out


def newton_schulz(g: Tensor, steps: int, coefficients: tuple[float, float, float] = NS_QUINTIC) -> Tensor:
    """Batched orthogonalisation of the last two dims: X ← aX + (b XXᵀ + c (XXᵀ)²) X after X = G/‖G‖_F.

    Works on the wide orientation (transposes tall matrices), so the Gram matrix is the smaller one. A zero matrix
    stays zero; non-finite entries stay inside their own matrix."""
    a, b, c = coefficients
    transpose = g.shape[-2] > g.shape[-1]
    x = g.mT if transpose else g
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp_min(torch.finfo(g.dtype).tiny)
    for _ in range(steps):
        gram = x @ x.mT
        poly = b * gram + c * (gram @ gram) if c != 0.0 else b * gram
        x = a * x + poly @ x
    return x.mT if transpose else x


def _per_run(values: Sequence[float], like: Tensor) -> Tensor:
    t = torch.tensor([float(v) for v in values], dtype=like.dtype, device=like.device)
    return t.view(-1, *([1] * (like.ndim - 1)))


class StackedOptimizer:
    """Updates a dict of stacked parameters in place; `hps[group] = {"lr", "wd", "eps"}` per-run value lists."""

    def __init__(self, params: dict[str, Tensor], rules: dict[str, str], hps: dict[str, dict[str, Sequence[float]]],
                 cfg: OptimConfig) -> None:
        self.params, self.rules, self.cfg = params, rules, cfg
        self.t = 0
        self.lr, self.wd, self.eps = {}, {}, {}
        self.state: dict[str, dict[str, Tensor]] = {}
        for name, p in params.items():
            rule = rules[name]
            self.lr[name] = _per_run(hps[name]["lr"], p)
            self.wd[name] = _per_run(hps[name]["wd"], p)
            if rule == "adamw":
                eps = hps[name]["eps"]
                if any(e is None for e in eps):
                    raise ConfigError(f"AdamW group {name!r} needs an epsilon from the bridge")
                self.eps[name] = _per_run(eps, p)
            zeros = lambda: torch.zeros_like(p, memory_format=torch.contiguous_format).detach()  # noqa: E731
            if rule == "adamw":
                self.state[name] = {"m": zeros(), "v": zeros()}
            elif rule == "lion" or (rule in ("sgd", "muon", "muon_kimi") and cfg.momentum > 0):
                self.state[name] = {"m": zeros()}
            else:
                self.state[name] = {}

    @torch.no_grad()
    def step(self, grads: dict[str, Tensor], alive: Tensor | None = None) -> None:
        """One update of every group; runs with `alive[m] == False` keep their weights unchanged."""
        self.t += 1
        for name, p in self.params.items():
            new = getattr(self, "_" + self.rules[name])(name, p.detach(), grads[name].detach())
            if alive is None:
                p.copy_(new)
            else:
                p.copy_(torch.where(alive.view(-1, *([1] * (p.ndim - 1))), new, p))

    def _sgd(self, name: str, p: Tensor, g: Tensor) -> Tensor:
        mu = self.cfg.momentum
        d = g + self.wd[name] * p
        if mu > 0:
            buf = self.state[name]["m"]
            buf.mul_(mu).add_(d)
            d = d + mu * buf if self.cfg.nesterov else buf
        return p - self.lr[name] * d

    def _adamw(self, name: str, p: Tensor, g: Tensor) -> Tensor:
        b1, b2 = self.cfg.betas
        st = self.state[name]
        lr = self.lr[name]
        st["m"].lerp_(g, 1 - b1)
        st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
        bc1 = 1 - b1 ** self.t
        bc2_sqrt = math.sqrt(1 - b2 ** self.t)
        denom = (st["v"].sqrt() / bc2_sqrt).add_(self.eps[name])
        return p * (1 - lr * self.wd[name]) - (lr / bc1) * st["m"] / denom

    def _lion(self, name: str, p: Tensor, g: Tensor) -> Tensor:
        b1, b2 = self.cfg.betas
        m = self.state[name]["m"]
        c = m.lerp(g, 1 - b1)
        m.lerp_(g, 1 - b2)
        lr = self.lr[name]
        return p * (1 - lr * self.wd[name]) - lr * torch.sign(c)

    def _muon_direction(self, name: str, g: Tensor) -> Tensor:
        mu = self.cfg.momentum
        u = g
        if mu > 0:
            buf = self.state[name]["m"]
            buf.lerp_(g, 1 - mu)
            u = g.lerp(buf, mu) if self.cfg.nesterov else buf
        return newton_schulz(u, self.cfg.ns_steps)

    def _muon(self, name: str, p: Tensor, g: Tensor) -> Tensor:
        lr = self.lr[name]
        return p * (1 - lr * self.wd[name]) - lr * self._muon_direction(name, g)

    def _muon_kimi(self, name: str, p: Tensor, g: Tensor) -> Tensor:
        lr = self.lr[name]
        scale = KIMI_SCALE * math.sqrt(max(p.shape[-2], p.shape[-1]))
        return p * (1 - lr * self.wd[name]) - (lr * scale) * self._muon_direction(name, g)
