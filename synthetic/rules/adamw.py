"""`adamw`: PyTorch AdamW — W ← W(1 − ηλ); m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
W ← W − η m̂ / (sqrt(v̂) + ε) with bias corrections m̂ = m/(1−β1^t), sqrt(v̂) = sqrt(v)/sqrt(1−β2^t)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from synthetic.rules.base import Rule, col, flat, register_rule, zero_dead_


def _adamw_kernel(p: Tensor, g: Tensor, m: Tensor, v: Tensor, lr: Tensor, eps: Tensor, decay: Tensor, dead: Tensor,
                  b1: Tensor, b2: Tensor, c1: Tensor, c2: Tensor) -> None:
    """One pass of the update, with c2 = sqrt(1−β2^t), c1 = c2/(1−β1^t) (`bias_corrections`): η·c1·m / (sqrt(v) +
    ε·c2) is η·m̂ / (sqrt(v̂) + ε)."""
    m.lerp_(g, 1 - b1)
    v.mul_(b2).addcmul_(g, g * (1 - b2))
    u = m * (lr * c1) / (torch.sqrt(v) + eps * c2)
    p.mul_(decay).sub_(torch.where(dead, torch.zeros_like(u), u))


def bias_corrections(opt, b1: float, b2: float) -> tuple[Tensor, Tensor]:
    """(sqrt(1−β2^t)/(1−β1^t), sqrt(1−β2^t)) as 0-d device tensors from the optimizer's device step count, computed
    once per step (outside the compiled kernel, which would otherwise recompute them for every element)."""
    key = ("adamw_bias_corrections", opt.t, b1, b2)
    cached = opt.per_step.get(key)
    if cached is None:
        c2 = torch.sqrt(1 - opt.scalar(b2) ** opt.t_tensor)
        cached = (c2 / (1 - opt.scalar(b1) ** opt.t_tensor), c2)
        opt.per_step.clear()
        opt.per_step[key] = cached
    return cached


class AdamW(Rule):
    name = "adamw"
    element_local = True
    needs_eps = True
    scratch = 2

    def init_state(self, p: Tensor, cfg) -> dict[str, Tensor]:
        z = lambda: torch.zeros_like(p, memory_format=torch.contiguous_format).detach()  # noqa: E731
        return {"m": z(), "v": z()}

    def step(self, opt, name, p, g, decay, dead, lr) -> None:
        b1, b2 = opt.rule_cfg(self.name).betas
        grp = opt.groups[name]
        eps = col(opt.eps[name])
        step = col(lr) / (1 - b1 ** opt.t)
        bc2_sqrt = math.sqrt(1 - b2 ** opt.t)
        same_lr = opt.uniform_tiles(name, lr)    # rows of one lr have one step size
        no_decay = opt.uniform_tiles(name, decay, 1.0)
        step_2d = step.reshape(-1)
        for i, ((rs, cs), pt, gt, m, v) in enumerate(zip(grp.tiles, grp.p, grp.views(g), grp.state["m"],
                                                         grp.state["v"])):
            denom, u = opt._u(pt), opt._u(pt, 1)
            if decay is not None and not (no_decay is not None and no_decay[i]):
                pt.mul_(decay[rs])           # (a row without weight decay multiplies by exactly 1: skipped)
            m.lerp_(gt, 1 - b1)
            v.mul_(b2).addcmul_(gt, gt, value=1 - b2)
            torch.sqrt(v, out=denom).div_(bc2_sqrt).add_(eps[rs])
            if dead is None and same_lr is not None and same_lr[i]:
                s = step_2d[rs.start].item()
                pt.addcdiv_(m, denom, value=-s)   # p + (−s·m)/denom: the bits of p − (m·s)/denom
                continue
            torch.mul(m, step[rs], out=u)
            if dead is None:
                pt.addcdiv_(u, denom, value=-1)  # p + (−u)/denom: the same bits as p − u/denom, one pass less
            else:
                zero_dead_(u.div_(denom), dead[rs])
                pt.sub_(u)

    def one_pass_step(self, opt, params, grads, state, lr, wd, eps, skip) -> None:
        """torch's fused AdamW (the kernel of `torch.optim.AdamW(fused=True)`): the formulas above in one pass, with
        the optimizer's step count shared by every tensor."""
        b1, b2 = opt.rule_cfg(self.name).betas
        torch._fused_adamw_(params, grads, state["m"], state["v"], [], [opt.t_tensor] * len(params), lr=lr,
                            beta1=b1, beta2=b2, weight_decay=wd, eps=eps, amsgrad=False, maximize=False,
                            found_inf=skip)

    fused_kernel = staticmethod(_adamw_kernel)

    def fused_args(self, opt, name, p, g, decay, dead, lr) -> tuple:
        b1, b2 = opt.rule_cfg(self.name).betas
        st, rows = opt.state[name], p.shape[0]
        return (flat(p), flat(g, written=False), flat(st["m"]), flat(st["v"]), opt.column(name, lr, rows, 1.0),
                opt.column(name, opt.eps[name], rows, 1.0), opt.column(name, decay, rows, 1.0),
                opt.column(name, dead, rows, False),
                opt.scalar(b1), opt.scalar(b2), *bias_corrections(opt, b1, b2))


register_rule(AdamW())
