"""`shampoo`: Shampoo (Gupta et al. 2018) on every matrix of a bucket at once, explicit roots by eigendecomposition.

For a gradient G [n_out, n_in] (leading run / depth dimensions batched):

    L ← β2 L + G Gᵀ,   R ← β2 R + Gᵀ G                       (L_0 = R_0 = 0; β2 = OptimConfig.betas[1])
    D = (L + ε I)^{-1/4} G (R + ε I)^{-1/4}                   (roots from torch.linalg.eigh, eigenvalues clamped at 0)
    m ← β1 m + (1 − β1) D,  A = m  (β1 = betas[0]; A = D when β1 = 0)
    W ← W (1 − ηλ) − η A

Choices where the papers are silent (README "Decisions where the papers are silent"): the 1/4 root on both sides
(two-sided Shampoo of order 2, the form whose ε = 0, no-momentum step is U Vᵀ, App. C.9); ε added to the
eigenvalues (ε I inside the root) with ε per run from the bridge's Shampoo ε row (it matches ‖G‖_2², Table 4);
preconditioner refreshed every step (App. E: precondition frequency 1); momentum on the preconditioned direction; no
grafting. Non-finite entries of L or R (a diverged run, frozen by the engine) are zeroed before `eigh`, and a matrix
LAPACK cannot decompose is decomposed alone (`_eigh`), so one run can never make the batched decomposition fail.
"""

from __future__ import annotations

import torch
from torch import Tensor

from synthetic.rules.base import Rule, register_rule
from synthetic.runwise import matmul, run_by_run
from synthetic.rules.muon import apply_direction

ROOT = 4


def _finite(x: Tensor) -> Tensor:
    return torch.where(torch.isfinite(x), x, torch.zeros((), dtype=x.dtype, device=x.device))


def _eigh(mat: Tensor) -> tuple[Tensor, Tensor]:
    """`torch.linalg.eigh` of a batch, robust to an element LAPACK cannot decompose. A run diverging under SOAP left
    a finite preconditioner (entries near 1e35, float32) on which `eigh` fails to converge, at any scale, and the
    whole batch, so the whole bucket, failed with it. Then each element is decomposed alone (on a CPU the same call
    per matrix as in the batch), a failing one again in float64, and, failing that too, replaced by the zero matrix
    (eigenvalues 0, eigenvectors I). The batch that decomposes, every healthy run's case, takes the first line alone."""
    try:
        return torch.linalg.eigh(mat)
    except torch.linalg.LinAlgError:
        pass
    lams, qs = [], []
    for m in mat.reshape(-1, *mat.shape[-2:]):
        try:
            lam, q = torch.linalg.eigh(m)
        except torch.linalg.LinAlgError:
            try:
                lam, q = (t.to(m.dtype) for t in torch.linalg.eigh(m.double()))
            except torch.linalg.LinAlgError:
                lam, q = m.new_zeros(m.shape[-1]), torch.eye(m.shape[-1], dtype=m.dtype, device=m.device)
        lams.append(lam)
        qs.append(q)
    return torch.stack(lams).reshape(mat.shape[:-1]), torch.stack(qs).reshape(mat.shape)


def eig_floor(mat: Tensor) -> tuple[Tensor, Tensor]:
    """Eigenvalues clamped at 0 and eigenvectors of a batch of symmetric matrices (non-finite entries zeroed)."""
    lam, q = _eigh(_finite(mat))
    return lam.clamp_min(0), q


def inv_root(mat: Tensor, eps: Tensor, root: int = ROOT) -> Tensor:
    """(mat + ε I)^{-1/root} for a batch of symmetric PSD matrices; `eps` broadcastable against the eigenvalues."""
    lam, q = eig_floor(mat)
    d = run_by_run(lambda x: x.pow(-1.0 / root), lam + eps)
    return matmul(q * d.unsqueeze(-2), q.mT)


def eps_for(opt, name: str, ndim: int) -> Tensor:
    """The group's per-run ε shaped [M, 1, …] with `ndim` dimensions (for eigenvalue batches)."""
    e = opt.eps[name]
    return e.reshape(e.shape[0], *([1] * (ndim - 1)))


class Shampoo(Rule):
    name = "shampoo"
    version = "2"
    """2: a lone run's matrix products go through the batched kernel (`synthetic.runwise.matmul`) and the inverse
    root's `pow` is taken run by run, so a run's numbers no longer depend on its bucket (docs/engine.md, "Bucket
    independence")."""
    needs_eps = True
    elementwise = False

    def init_state(self, p: Tensor, cfg) -> dict[str, Tensor]:
        n_out, n_in = p.shape[-2], p.shape[-1]
        lead = p.shape[:-2]
        st = {"L": p.new_zeros(*lead, n_out, n_out), "R": p.new_zeros(*lead, n_in, n_in)}
        if cfg.betas[0] > 0:
            st["m"] = torch.zeros_like(p, memory_format=torch.contiguous_format)
        return st

    def step(self, opt, name, p, g, decay, dead, lr) -> None:
        b1, b2 = opt.rule_cfg(self.name).betas
        st = opt.state[name]
        st["L"].mul_(b2).add_(matmul(g, g.mT))
        st["R"].mul_(b2).add_(matmul(g.mT, g))
        eps = eps_for(opt, name, g.ndim - 1)
        d = matmul(matmul(inv_root(st["L"], eps), g), inv_root(st["R"], eps))
        if "m" in st:
            st["m"].lerp_(d, 1 - b1)
            d = st["m"].clone()
        apply_direction(opt, name, d.contiguous(), 1.0, decay, dead, lr)


register_rule(Shampoo())
