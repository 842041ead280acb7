"""synthetic.rules.soap vs SOAP written from its definition (Vyas et al. 2024), one matrix at a time: Adam run in the
eigenbasis of Shampoo's (EMA) preconditioners and rotated back; ε = sqrt(Shampoo's ε) from the bridge."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from synthetic.config import OptimConfig
from rules_reference import adamw_ref, compare, hp_table


def soap_ref(st, w, g, lr, wd, eps, t, cfg):
    b1, b2 = cfg.betas
    st["L"] = b2 * st.get("L", torch.zeros(g.shape[0], g.shape[0], dtype=g.dtype)) + (1 - b2) * g @ g.T
    st["R"] = b2 * st.get("R", torch.zeros(g.shape[1], g.shape[1], dtype=g.dtype)) + (1 - b2) * g.T @ g
    ql, qr = torch.linalg.eigh(st["L"])[1], torch.linalg.eigh(st["R"])[1]
    st["m"] = b1 * st.get("m", torch.zeros_like(g)) + (1 - b1) * g
    g_rot = ql.T @ g @ qr
    st["v"] = b2 * st.get("v", torch.zeros_like(g)) + (1 - b2) * g_rot ** 2
    m_hat = (ql.T @ st["m"] @ qr) / (1 - b1 ** t)
    n_rot = m_hat / (torch.sqrt(st["v"] / (1 - b2 ** t)) + eps)
    return w * (1 - lr * wd) - lr * (ql @ n_rot @ qr.T)


def soap_table(run):
    own, sh = hp_table("soap", run), hp_table("shampoo", run)
    return {r: replace(own[r], eps=math.sqrt(sh[r].eps)) for r in own}


@pytest.mark.parametrize("betas", [(0.9, 0.95), (0.0, 0.0)])
def test_soap_matches_reference(betas):
    ad = lambda run: hp_table("adamw", run)  # noqa: E731
    rules = {"input": (soap_ref, soap_table), "hidden": (soap_ref, soap_table), "output": (soap_ref, soap_table),
             "input_bias": (adamw_ref, ad), "hidden_bias": (adamw_ref, ad)}
    worst = compare("soap", OptimConfig(name="soap", betas=betas), rules, tol=1e-9)
    print(f"soap {betas}: max |engine - reference| = {worst:.3g}")


def _same(a, b) -> bool:
    """Records equal field by field, NaN equal to NaN (a diverged run's later values)."""
    return len(a) == len(b) and all(x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))
                                    for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def test_diverging_runs_never_fail_the_bucket():
    """Found on this bucket: a run diverging under SOAP leaves a finite preconditioner (entries near 1e35) that
    LAPACK's eigh cannot decompose, which failed the whole batched `eigh` and the bucket with it. Every run is now
    trained to the end, its divergence recorded, each exactly as when trained alone. The η = 10 runs diverge at once
    on every kernel path; the others diverge from step 3 to 9, or (depth 1, η = 0.01, on an Intel Xeon's SSE4.2 path)
    not within the 10 steps, which is why only the first are required to."""
    from theory.bridge import BaseHP
    from synthetic.config import DataConfig, ModelConfig, RunConfig
    from synthetic.engine import train_bucket

    def run(depth, eta, lam, seed):
        return RunConfig(model=ModelConfig(width=96, depth=depth, k=2, d_in=8, d_out=3),
                         optim=OptimConfig(name="soap"), base=BaseHP(eta=eta, lam=lam, sigma2=2.0, n_base=8, L_base=2),
                         data=DataConfig(kind="teacher_regression"), steps=10, batch_size=8, seed=seed,
                         dtype="float32", measure_at=(0, 5, 10), measurements=("loss", "w_rms"))

    runs = [run(d, eta, lam, s) for d, s in ((2, 0), (1, 1)) for eta, lam in ((0.01, 0.0), (0.03, 0.1), (10.0, 0.1))]
    together = train_bucket(runs)
    assert all(r.diverged_at is not None and r.diverged_at <= 2 for r in together[2::3])
    for r, res in zip(runs, together):
        alone = train_bucket([r])[0]
        assert alone.diverged_at == res.diverged_at and _same(alone.records, res.records)


def test_eigh_fallback_decomposes_each_matrix_alone(monkeypatch):
    """When the batched eigh fails, each matrix is decomposed alone: the healthy ones exactly as in a batch, the
    failing one in float64, or as the zero matrix when that fails too."""
    import synthetic.rules.shampoo as shampoo

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(4, 5, 3, generator=gen)
    mats = a @ a.mT
    mats[1, 0, 0] = 777.0  # the matrix the fake LAPACK cannot decompose in float32
    mats[1, :, 0] = mats[1, 0, :]
    real = torch.linalg.eigh

    def fake(m):
        if m.dtype == torch.float32 and (m[..., 0, 0] == 777.0).any():
            raise torch.linalg.LinAlgError("fake failure")
        return real(m)

    monkeypatch.setattr(torch.linalg, "eigh", fake)
    lam, q = shampoo._eigh(mats.view(2, 2, 5, 5))
    lam, q = lam.view(4, 5), q.view(4, 5, 5)
    healthy = real(mats[[0, 2, 3]])
    assert torch.equal(lam[[0, 2, 3]], healthy[0]) and torch.equal(q[[0, 2, 3]], healthy[1])
    l64, q64 = real(mats[1].double())
    assert torch.equal(lam[1], l64.float()) and torch.equal(q[1], q64.float())

    monkeypatch.setattr(torch.linalg, "eigh", lambda m: (_ for _ in ()).throw(torch.linalg.LinAlgError("always")))
    lam, q = shampoo._eigh(mats)
    assert torch.equal(lam, torch.zeros(4, 5)) and torch.equal(q, torch.eye(5).expand(4, 5, 5))
