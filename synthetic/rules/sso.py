"""`sso`: the Spectral Sphere Optimizer as the paper's App. C.11 uses it: A = R·Φ with R = sqrt(n_out/n_in) and
Φ = msign(u), ‖Φ‖_2 = 1, so ‖A‖_R = 1 (Eq. 24).

u is Muon's momentum (b ← μ b + (1−μ) g, Nesterov optional; u = g when μ = 0) and Φ its batched Newton–Schulz
orthogonalisation (as `muon`); W ← W (1 − ηλ) − η R Φ.

Choices where the papers are silent (README): the radius R = sqrt(n_out/n_in) exactly (constant 1); Φ from the same
quintic Newton–Schulz as Muon (OptimConfig.ns_steps); no retraction of W onto the spectral sphere (the paper's
analysis uses only the update A = RΦ and decoupled weight decay).
"""

from __future__ import annotations

import math

from torch import Tensor

from synthetic.rules.base import register_rule
from synthetic.rules.muon import Muon


class SSO(Muon):
    name = "sso"

    def scale(self, p: Tensor) -> float:
        return math.sqrt(p.shape[-2] / p.shape[-1])


register_rule(SSO())
