"""`lion`: c = β1 m + (1−β1) g; W ← W(1 − ηλ) − η sign(c); m ← β2 m + (1−β2) g."""

from __future__ import annotations

import torch
from torch import Tensor

from synthetic.rules.base import Rule, col, flat, register_rule, zero_dead_


def _lion_kernel(p: Tensor, g: Tensor, m: Tensor, lr: Tensor, decay: Tensor, dead: Tensor, b1: Tensor,
                 b2: Tensor) -> None:
    u = torch.lerp(m, g, 1 - b1).sign()
    m.lerp_(g, 1 - b2)
    p.mul_(decay).sub_(torch.where(dead, torch.zeros_like(u), u) * lr)


class Lion(Rule):
    name = "lion"
    element_local = True

    def init_state(self, p: Tensor, cfg) -> dict[str, Tensor]:
        return {"m": torch.zeros_like(p, memory_format=torch.contiguous_format).detach()}

    def step(self, opt, name, p, g, decay, dead, lr) -> None:
        b1, b2 = opt.rule_cfg(self.name).betas
        grp = opt.groups[name]
        neg_lr = -col(lr)
        for (rs, cs), pt, gt, m in zip(grp.tiles, grp.p, grp.views(g), grp.state["m"]):
            u = torch.lerp(m, gt, 1 - b1, out=opt._u(pt)).sign_()
            m.lerp_(gt, 1 - b2)
            if decay is not None:
                pt.mul_(decay[rs])
            zero_dead_(u, None if dead is None else dead[rs])
            pt.addcmul_(u, neg_lr[rs])

    fused_kernel = staticmethod(_lion_kernel)

    def fused_args(self, opt, name, p, g, decay, dead, lr) -> tuple:
        b1, b2 = opt.rule_cfg(self.name).betas
        rows = p.shape[0]
        return (flat(p), flat(g, written=False), flat(opt.state[name]["m"]), opt.column(name, lr, rows, 0.0),
                opt.column(name, decay, rows, 1.0), opt.column(name, dead, rows, False), opt.scalar(b1), opt.scalar(b2))


register_rule(Lion())
