"""`sgd`: PyTorch SGD — d = g + λW; heavy ball b ← μ b + d (b_1 = d); Nesterov d ← d + μ b, else d ← b; W ← W − η d."""

from __future__ import annotations

import torch
from torch import Tensor

from synthetic.rules.base import Rule, col, flat, register_rule, zero_dead_


def _sgd_kernel(p: Tensor, g: Tensor, buf: Tensor | None, lr: Tensor, wd: Tensor, dead: Tensor, mu: Tensor,
                nesterov: bool) -> None:
    d = g + p * wd
    if buf is not None:
        buf.mul_(mu).add_(d)
        d = d + mu * buf if nesterov else buf
    p.sub_(torch.where(dead, torch.zeros_like(d), d) * lr)


class SGD(Rule):
    name = "sgd"
    element_local = True

    def init_state(self, p: Tensor, cfg) -> dict[str, Tensor]:
        return {"m": torch.zeros_like(p, memory_format=torch.contiguous_format).detach()} if cfg.momentum > 0 else {}

    def step(self, opt, name, p, g, decay, dead, lr) -> None:
        mu, nesterov = opt.rule_cfg(self.name).momentum, opt.rule_cfg(self.name).nesterov
        grp = opt.groups[name]
        wd = col(opt.wd[name]) if opt.decay[name] is not None else None
        neg_lr = -col(lr)
        bufs = grp.state["m"] if mu > 0 else None
        for j, ((rs, cs), pt, gt) in enumerate(zip(grp.tiles, grp.p, grp.views(g))):
            u = opt._u(pt)
            d = gt
            if wd is not None:
                d = torch.addcmul(gt, pt, wd[rs], out=u)
            if bufs is not None:
                buf = bufs[j]
                buf.mul_(mu).add_(d)
                if nesterov:
                    d = d.add_(buf, alpha=mu) if d is u else torch.add(d, buf, alpha=mu, out=u)
                else:
                    d = buf
            if dead is not None:
                if d is gt:
                    d = u.copy_(gt)
                zero_dead_(d, dead[rs])
            pt.addcmul_(d, neg_lr[rs])

    fused_kernel = staticmethod(_sgd_kernel)

    def fused_args(self, opt, name, p, g, decay, dead, lr) -> tuple:
        rows = p.shape[0]
        wd = opt.column(name, opt.wd[name] if opt.decay[name] is not None else None, rows, 0.0)
        buf = flat(opt.state[name]["m"]) if opt.rule_cfg(self.name).momentum > 0 else None
        return (flat(p), flat(g, written=False), buf, opt.column(name, lr, rows, 0.0), wd,
                opt.column(name, dead, rows, False),
                opt.scalar(opt.rule_cfg(self.name).momentum), opt.rule_cfg(self.name).nesterov)


register_rule(SGD())
