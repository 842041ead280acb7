"""`soap`: SOAP (Vyas et al. 2024) — Adam in the eigenbasis of Shampoo's preconditioners, rotated back.

For a gradient G [n_out, n_in] (leading run / depth dimensions batched), step t:

    L ← β2 L + (1 − β2) G Gᵀ,  R ← β2 R + (1 − β2) Gᵀ G;  Q_L, Q_R = eigenvectors of L, R (torch.linalg.eigh)
    m ← β1 m + (1 − β1) G                                     (first moment kept in the original basis)
    G' = Q_Lᵀ G Q_R,  v ← β2 v + (1 − β2) G'²                  (second moment kept in the rotated basis)
    N' = (Q_Lᵀ m Q_R / (1 − β1^t)) / (sqrt(v) / sqrt(1 − β2^t) + ε)
    A = Q_L N' Q_Rᵀ,  W ← W (1 − ηλ) − η A

Choices where the papers are silent (README): the eigenbasis is refreshed every step (frequency 1, as App. E's
Shampoo) and from the preconditioners *including* this step's gradient (so that with β1 = β2 = 0 the step is the
sign of the rotated gradient, i.e. U Vᵀ, App. C.10); eigenvectors straight from `eigh` (no QR power iteration).
lr, wd and ε per run from the bridge's SOAP table (Table 4; the paper has no SOAP ε row, theory derives it: a rotated
entry is a singular value of G, of the scale ‖G‖_2 whose square Shampoo's ε matches, so ε = √(Shampoo's ε) —
theory.optimizers.epsilon_base_power).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from synthetic.rules.base import Rule, register_rule
from synthetic.rules.muon import apply_direction
from synthetic.rules.shampoo import eig_floor, eps_for
from synthetic.runwise import matmul


class SOAP(Rule):
    name = "soap"
    version = "2"
    """2: a lone run's matrix products go through the batched kernel (`synthetic.runwise.matmul`), so its numbers
    no longer depend on its bucket (docs/engine.md, "Bucket independence")."""
    needs_eps = True
    elementwise = False

    def init_state(self, p: Tensor, cfg) -> dict[str, Tensor]:
        n_out, n_in = p.shape[-2], p.shape[-1]
        lead = p.shape[:-2]
        z = lambda: torch.zeros_like(p, memory_format=torch.contiguous_format)  # noqa: E731
        return {"L": p.new_zeros(*lead, n_out, n_out), "R": p.new_zeros(*lead, n_in, n_in), "m": z(), "v": z()}

    def step(self, opt, name, p, g, decay, dead, lr) -> None:
        b1, b2 = opt.rule_cfg(self.name).betas
        st = opt.state[name]
        st["L"].mul_(b2).add_(matmul(g, g.mT), alpha=1 - b2)
        st["R"].mul_(b2).add_(matmul(g.mT, g), alpha=1 - b2)
        ql, qr = eig_floor(st["L"])[1], eig_floor(st["R"])[1]
        st["m"].lerp_(g, 1 - b1)
        gr = matmul(matmul(ql.mT, g), qr)
        st["v"].mul_(b2).addcmul_(gr, gr, value=1 - b2)
        mr = matmul(matmul(ql.mT, st["m"]), qr) / (1 - b1 ** opt.t)
        denom = st["v"].sqrt() / math.sqrt(1 - b2 ** opt.t) + eps_for(opt, name, g.ndim)
        a = matmul(matmul(ql, mr / denom), qr.mT)
        apply_direction(opt, name, a.contiguous(), 1.0, decay, dead, lr)


register_rule(SOAP())
