"""`muon` and `muon_kimi` (they share the batched Newton–Schulz orthogonalisation).

- `muon`: PyTorch Muon momentum b ← μ b + (1−μ) g, Nesterov u = (1−μ) g + μ b else u = b (u = g when μ = 0);
  A = NS(u) ≈ U Vᵀ by batched Newton–Schulz; W ← W(1 − ηλ) − η A.
- `muon_kimi`: as `muon` with A = 0.2 · sqrt(max(n_in, n_out)) · NS(u).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from synthetic.rules.base import Rule, col, register_rule, zero_dead_
from synthetic.runwise import matmul

NS_QUINTIC = (3.4445, -4.7750, 2.0315)
"""Keller Jordan's quintic Newton–Schulz coefficients (also torch.optim.Muon's default): fast, not convergent to U Vᵀ;
after 5 steps the singular values of the result lie in a band around 1 (tests/test_optim_reference.py, `test_newton_schulz_quintic_band`)."""
NS_CUBIC = (1.5, -0.5, 0.0)
"""The classical cubic Newton–Schulz iteration X ← 1.5 X − 0.5 X Xᵀ X: converges to U Vᵀ (slowly for small σ)."""
KIMI_SCALE = 0.2


def newton_schulz(g: Tensor, steps: int, coefficients: tuple[float, float, float] = NS_QUINTIC) -> Tensor:
    """Batched orthogonalisation of the last two dims: X ← aX + (b XXᵀ + c (XXᵀ)²) X after X = G/‖G‖_F.

    Works on the wide orientation (transposes tall matrices), so the Gram matrix is the smaller one. A zero matrix
    stays zero; non-finite entries stay inside their own matrix."""
    a, b, c = coefficients
    transpose = g.shape[-2] > g.shape[-1]
    x = g.mT if transpose else g
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp_min(torch.finfo(g.dtype).tiny)
    for _ in range(steps):
        gram = matmul(x, x.mT)
        poly = b * gram + c * matmul(gram, gram) if c != 0.0 else b * gram
        x = a * x + matmul(poly, x)
    return x.mT if transpose else x


def apply_direction(opt, name: str, direction: Tensor, scale: float, decay: Tensor | None, dead: Tensor | None,
                    lr: Tensor) -> None:
    """W ← W·decay − η·scale·A for a freshly computed direction A (owned here, so it is masked in place)."""
    grp = opt.groups[name]
    neg_lr = col(lr) * -scale
    for (rs, cs), pt, a in zip(grp.tiles, grp.p, grp.views(direction)):
        if decay is not None:
            pt.mul_(decay[rs])
        zero_dead_(a, None if dead is None else dead[rs])
        pt.addcmul_(a, neg_lr[rs])


class Muon(Rule):
    name = "muon"
    version = "2"
    """2: a lone run's matrix products go through the batched kernel (`synthetic.runwise.matmul`), so its numbers
    no longer depend on its bucket (docs/engine.md, "Bucket independence")."""
    elementwise = False

    def init_state(self, p: Tensor, cfg) -> dict[str, Tensor]:
        return {"m": torch.zeros_like(p, memory_format=torch.contiguous_format).detach()} if cfg.momentum > 0 else {}

    def direction(self, opt, name: str, g: Tensor) -> Tensor:
        mu = opt.rule_cfg(self.name).momentum
        u = g
        if mu > 0:
            buf = opt.state[name]["m"]
            buf.lerp_(g, 1 - mu)
            u = g.lerp(buf, mu) if opt.rule_cfg(self.name).nesterov else buf
        return newton_schulz(u, opt.rule_cfg(self.name).ns_steps)

    def scale(self, p: Tensor) -> float:
        return 1.0

    def step(self, opt, name, p, g, decay, dead, lr) -> None:
        apply_direction(opt, name, self.direction(opt, name, g), self.scale(p), decay, dead, lr)


class MuonKimi(Muon):
    name = "muon_kimi"

    def scale(self, p: Tensor) -> float:
        return KIMI_SCALE * math.sqrt(max(p.shape[-2], p.shape[-1]))


register_rule(Muon())
register_rule(MuonKimi())
