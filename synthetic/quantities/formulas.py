"""The pure formulas of the measurements, on stacked tensors (a leading run dimension M, hidden groups [M, L, …]).

Conventions (Zheng et al. §2.1): vector RMS norm ‖v‖_R = ‖v‖_2 / sqrt(dim v); features are measured per sample and
then averaged over the samples of the step's batch, a ratio of feature norms is formed per sample first and then
averaged (samples where the denominator is 0 are skipped); ‖W‖_R = sqrt(fan_in / fan_out) · σ_max(W) (the RMS→RMS
operator norm); entry RMS ‖W‖_F / sqrt(#entries). synthetic.measure re-exports every name here.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from synthetic.runwise import matmul, reduce_per_run


def finite(x: Tensor) -> Tensor:
    """x with non-finite entries set to 0 (so a diverged run cannot make a decomposition fail)."""
    return torch.where(torch.isfinite(x), x, torch.zeros((), dtype=x.dtype, device=x.device))


def vec_rms(v: Tensor) -> Tensor:
    """‖v‖_R = ‖v‖_2 / sqrt(dim) over the last dimension."""
    return torch.linalg.vector_norm(v, dim=-1) / math.sqrt(v.shape[-1])


def entry_rms(w: Tensor, matrix: bool = True) -> Tensor:
    """Entry RMS over the last two dims (matrices) or the last dim (biases)."""
    dims = (-2, -1) if matrix else (-1,)
    n = w.shape[-1] * (w.shape[-2] if matrix else 1)
    return torch.linalg.vector_norm(w, dim=dims) / math.sqrt(n)


def sigma_max(w: Tensor) -> Tensor:
    """Exact largest singular value of each matrix in the last two dims."""
    return torch.linalg.matrix_norm(finite(w), ord=2)


def singular_values(w: Tensor) -> Tensor:
    """All singular values, descending, of each matrix in the last two dims."""
    return torch.linalg.svdvals(finite(w))


def op_norm_R(w: Tensor) -> Tensor:
    """‖W‖_R = sqrt(fan_in / fan_out) σ_max(W) for W [..., fan_out, fan_in]."""
    return math.sqrt(w.shape[-1] / w.shape[-2]) * sigma_max(w)


def sample_mean(ratio: Tensor) -> Tensor:
    """Mean over the sample dimension (last), skipping NaN (0/0) samples (a lone run's as in a bucket:
    `synthetic.runwise.reduce_per_run`)."""
    return reduce_per_run(lambda r: torch.nanmean(r, dim=-1), ratio)


def feature_rms(h: Tensor) -> Tensor:
    """Mean over samples of ‖h_b‖_R for h [..., B, d]."""
    return reduce_per_run(lambda r: r.mean(-1), vec_rms(h))


def g1_ratio_feature(h: Tensor, h_next: Tensor) -> Tensor:
    """Mean over samples of ‖h+Δh‖_R / (‖h‖_R + ‖Δh‖_R), with h+Δh = h_next."""
    return sample_mean(vec_rms(h_next) / (vec_rms(h) + vec_rms(h_next - h)))


def g1_ratio_weight(w: Tensor, w_next: Tensor) -> Tensor:
    """‖W+ΔW‖_R / (‖W‖_R + ‖ΔW‖_R), with W+ΔW = w_next."""
    return op_norm_R(w_next) / (op_norm_R(w) + op_norm_R(w_next - w))


def rel_update_weight(w: Tensor, w_next: Tensor) -> Tensor:
    """‖ΔW‖_R / ‖W‖_R, with ΔW = w_next − w: the size of the update that `g1_ratio_weight` tests."""
    return op_norm_R(w_next - w) / op_norm_R(w)


def rel_update_feature(h: Tensor, h_next: Tensor) -> Tensor:
    """Mean over samples of ‖Δh_b‖_R / ‖h_b‖_R, with h+Δh = h_next: the size of the update `g1_ratio_feature` tests.
    Samples with h_b = 0 (a ReLU output that is all zero) are skipped, like the 0/0 samples of the other ratios."""
    den = vec_rms(h)
    return sample_mean(torch.where(den > 0, vec_rms(h_next - h) / den, torch.full_like(den, math.nan)))


def gain(w: Tensor, u: Tensor) -> Tensor:
    """Mean over samples of ‖W u_b‖_R / ‖u_b‖_R; w [..., out, in], u [..., B, in]."""
    return sample_mean(vec_rms(matmul(u, w.mT)) / vec_rms(u))


def activation_ratio(z: Tensor, o: Tensor) -> Tensor:
    """Mean over samples of ‖φ(z_b)‖_R / ‖z_b‖_R, with o = φ(z)."""
    return sample_mean(vec_rms(o) / vec_rms(z))


def g3_alignment(u: Tensor, delta: Tensor) -> Tensor:
    """Assumption G.3 for a linear map z = W u + b with per-sample pre-activation gradients `delta`.

    With per-sample gradient g_i = B δ_i u_iᵀ (δ = ∂(batch-mean loss)/∂z, rows δ_i) and batch gradient
    G = Σ_j δ_j u_jᵀ, the SGD updates are ΔW^(i) = −η g_i and ΔW = −η G, and the ratio is
    mean_i ‖(1/B) ΔW^(i) u_i‖_R / ‖ΔW u_i‖_R = mean_i ‖δ_i‖ ‖u_i‖² / ‖Σ_j δ_j (u_j·u_i)‖ (η cancels).
    This is exact for SGD without momentum or weight decay; for other optimizers it is the same gradient ratio."""
    gram = matmul(u, u.mT)
    num = torch.linalg.vector_norm(delta, dim=-1) * torch.diagonal(gram, dim1=-2, dim2=-1)
    den = torch.linalg.vector_norm(matmul(gram, delta), dim=-1)
    return sample_mean(num / den)


def claim_e1(ws: Sequence[Tensor], u: Tensor) -> Tensor:
    """Mean over samples of ‖W_k⋯W_1 u_b‖_R / (∏_i ‖W_i‖_R · ‖u_b‖_R); ws in application order."""
    v = u
    denom = vec_rms(u)
    for w in ws:
        v = matmul(v, w.mT)
        denom = denom * op_norm_R(w).unsqueeze(-1)
    return sample_mean(vec_rms(v) / denom)


def claim_e2(dw: Tensor, u: Tensor) -> Tensor:
    """Mean over samples of ‖ΔW u_b‖_R / (‖ΔW‖_R ‖u_b‖_R)."""
    return sample_mean(vec_rms(matmul(u, dw.mT)) / (op_norm_R(dw).unsqueeze(-1) * vec_rms(u)))


class PowerIteration:
    """Batched power iteration on W [..., out, in] with persistent warm-started right vectors.

    Each `step(w)` does one iteration (two batched matvecs) and returns ‖Wᵀ W v‖ / ‖W v‖ for the unit v before the
    iteration, an estimate that lies between ‖W v‖ and σ_max and is exact once v is the top right singular vector."""

    def __init__(self, v0: Tensor) -> None:
        self.v = v0 / torch.linalg.vector_norm(v0, dim=-1, keepdim=True)

    @torch.no_grad()
    def step(self, w: Tensor) -> Tensor:
        v = self.v
        single = math.prod(w.shape[:-2]) == 1
        if single:  # torch's CPU matmul rounds a lone matrix-vector product differently from a batch of them; a
            # run's numbers must not depend on its bucket, so one matrix goes through the batched kernel (as
            # models._linear does)
            w, v = w.expand(2, *w.shape), v.expand(2, *v.shape)
        tiny = torch.finfo(w.dtype).tiny
        u = (w @ v.unsqueeze(-1)).squeeze(-1)
        wu = (w.mT @ u.unsqueeze(-1)).squeeze(-1)
        nu = torch.linalg.vector_norm(u, dim=-1)
        nwu = torch.linalg.vector_norm(wu, dim=-1)
        v = wu / nwu.clamp_min(tiny).unsqueeze(-1)
        est = nwu / nu.clamp_min(tiny)
        if single:
            v, est = v[0], est[0]
        self.v = v
        return est
