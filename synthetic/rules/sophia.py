"""`sophia`: Sophia (Liu et al. 2023) with the Gauss–Newton–Bartlett (GNB) Hessian-diagonal estimator.

    m ← β1 m + (1 − β1) g                                   (every step)
    h ← β2 h + (1 − β2) ĥ                                   (every k steps, from step 0; h_0 = 0)
    W ← W (1 − ηλ) − η · clip(m / max(ρ h, ε), −1, 1)

ĥ = N · ĝ ⊙ ĝ with ĝ the gradient of the run's loss at labels ŷ sampled from the model's own predictive distribution
(`gnb_targets`), N the number of loss terms the loss averages (B·d_out for "mse" and "bce", B for "ce"): E[N ĝ²] is
the diagonal of the loss's Gauss–Newton matrix. The engine computes ĝ with one extra backward pass on the step's
forward graph when `opt.hessian_due(t)`, and hands ĥ to `StackedOptimizer.set_hessian` before the step.

Choices where the papers are silent (README): GNB rather than Hutchinson — it needs only a first-order backward (no
Hessian-vector products, so no double backward through the stacked kernels), is PSD by construction (no negative
curvature to clip), and is the estimator of Liu et al.'s main results; ρ = 0.05, β = (0.965, 0.99) and k = 10 from
App. E, as settings of the run (OptimConfig.rho, .betas, .hessian_every: part of its id); ε = 1e-15 only a division
guard (as Liu et al.'s code; the paper gives Sophia no ε row, Table 6); "mse" is the Gaussian likelihood
exp(−(y − f)²) (noise variance 1/2 per output); labels sampled with one generator per run (seeded by the run's seed),
so a run's numbers do not depend on its bucket.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from synthetic.rules.base import Rule, register_rule, zero_dead_
from synthetic.runwise import run_by_run

CLIP_EPS = 1e-15
GNB_SEED_OFFSET = 0x50F1A


def gnb_generators(seeds, device) -> list[torch.Generator]:
    return [torch.Generator(device=device).manual_seed(int(s) + GNB_SEED_OFFSET) for s in seeds]


def gnb_targets(loss: str, out: Tensor, gens: list[torch.Generator]) -> tuple[Tensor, int]:
    """Labels ŷ [M, B, …] sampled from each run's predictive distribution at `out` [M, B, d_out] (detached), and N."""
    out = out.detach()
    M, B, d = out.shape
    if loss == "mse":
        noise = torch.stack([torch.randn(B, d, generator=g, dtype=out.dtype, device=out.device) for g in gens])
        return out + math.sqrt(0.5) * noise, B * d
    u = torch.stack([torch.rand(B, d, generator=g, dtype=out.dtype, device=out.device) for g in gens])
    if loss == "bce":
        return (u < run_by_run(torch.sigmoid, out)).to(out.dtype), B * d
    gumbel = -torch.log(-torch.log(u.clamp_min(torch.finfo(out.dtype).tiny)))
    return torch.argmax(out + gumbel, dim=-1), B


class Sophia(Rule):
    name = "sophia"
    uses_hessian = True

    def init_state(self, p: Tensor, cfg) -> dict[str, Tensor]:
        z = lambda: torch.zeros_like(p, memory_format=torch.contiguous_format)  # noqa: E731
        return {"m": z(), "h": z()}

    def update_hessian(self, opt, name: str, h_hat: Tensor) -> None:
        b2 = opt.rule_cfg(self.name).betas[1]
        opt.state[name]["h"].lerp_(h_hat, 1 - b2)

    def step(self, opt, name, p, g, decay, dead, lr) -> None:
        cfg = opt.rule_cfg(self.name)
        st = opt.state[name]
        st["m"].lerp_(g, 1 - cfg.betas[0])
        u = (st["m"] / (cfg.rho * st["h"]).clamp_min(CLIP_EPS)).clamp_(-1.0, 1.0)
        shape = (-1,) + (1,) * (p.ndim - 1)
        zero_dead_(u, None if dead is None else dead.view(shape))
        if decay is not None:
            p.mul_(decay.view(shape))
        p.addcmul_(u, lr, value=-1.0)


register_rule(Sophia())
