"""synthetic.rules.shampoo vs Shampoo written from its definition (Gupta et al. 2018), one matrix at a time:
L ← β2 L + G Gᵀ, R ← β2 R + Gᵀ G, D = (L + εI)^{-1/4} G (R + εI)^{-1/4} by explicit eigendecompositions."""

from __future__ import annotations

import pytest
import torch

from dataclasses import replace

from synthetic.config import OptimConfig, RuleSettings
from rules_reference import adamw_ref, compare, hp_table


def root(mat: torch.Tensor, eps: float, p: int = 4) -> torch.Tensor:
    lam, q = torch.linalg.eigh(mat)
    return q @ torch.diag((lam.clamp_min(0) + eps) ** (-1.0 / p)) @ q.T


def shampoo_ref(st, w, g, lr, wd, eps, t, cfg):
    b1, b2 = cfg.betas
    st["L"] = b2 * st.get("L", torch.zeros(g.shape[0], g.shape[0], dtype=g.dtype)) + g @ g.T
    st["R"] = b2 * st.get("R", torch.zeros(g.shape[1], g.shape[1], dtype=g.dtype)) + g.T @ g
    d = root(st["L"], eps) @ g @ root(st["R"], eps)
    if b1 > 0:
        st["m"] = b1 * st.get("m", torch.zeros_like(g)) + (1 - b1) * d
        d = st["m"]
    return w * (1 - lr * wd) - lr * d


@pytest.mark.parametrize("engine,betas", [("shampoo", (0.95, 0.95)), ("shampoo", (0.0, 0.9)),
                                          ("shampoo_adamw", (0.9, 0.99))])
def test_shampoo_matches_reference(engine, betas):
    sh = lambda run: hp_table("shampoo", run)  # noqa: E731
    ad = lambda run: hp_table("adamw", run)  # noqa: E731
    rules = {"input": (shampoo_ref, sh), "hidden": (shampoo_ref, sh), "output": (shampoo_ref, sh),
             "input_bias": (adamw_ref, ad), "hidden_bias": (adamw_ref, ad)}
    if engine == "shampoo_adamw":
        rules.update(input=(adamw_ref, ad), output=(adamw_ref, ad))
    worst = compare(engine, OptimConfig(name=engine, betas=betas), rules)
    print(f"{engine} {betas}: max |engine - reference| = {worst:.3g}")


def test_a_hybrids_adamw_part_has_its_own_betas_lr_and_eps():
    """App. E's Shampoo-AdamW: the AdamW part at 2·η and β = (0.9, 0.95), Shampoo at β = (0.95, 0.95); the reference is
    AdamW from its definition with those values, Shampoo with the run's."""
    def adamw_part(st, w, g, lr, wd, eps, t, cfg):
        return adamw_ref(st, w, g, 2.0 * lr, wd, 0.5 * eps, t, replace(cfg, betas=(0.9, 0.95)))

    sh = lambda run: hp_table("shampoo", run)  # noqa: E731
    ad = lambda run: hp_table("adamw", run)  # noqa: E731
    rules = {role: (adamw_part, ad) for role in ("input", "output", "input_bias", "hidden_bias")}
    rules["hidden"] = (shampoo_ref, sh)
    cfg = OptimConfig(name="shampoo_adamw", betas=(0.95, 0.95),
                      rule_settings=(RuleSettings("adamw", betas=(0.9, 0.95), lr_factor=2.0, eps_factor=0.5),))
    compare("shampoo_adamw", cfg, rules)


def test_shampoo_first_step_without_momentum_is_polar_factor():
    """ε → 0, β1 = 0: the first step's direction is U Vᵀ (App. C.9)."""
    g = torch.randn(3, 6, 4, dtype=torch.float64)
    from synthetic.rules.shampoo import inv_root

    d = inv_root(g @ g.mT, torch.tensor(1e-30, dtype=g.dtype)) @ g @ inv_root(g.mT @ g, torch.tensor(1e-30, dtype=g.dtype))
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    torch.testing.assert_close(d, u @ vh, rtol=0, atol=1e-6)
