"""synthetic.rules.sso vs the SSO update of App. C.11 written out per matrix: A = sqrt(n_out/n_in)·Φ, Φ the
Newton–Schulz msign of Muon's momentum (an independent per-matrix quintic iteration here)."""

from __future__ import annotations

import math

import pytest
import torch

from synthetic.config import OptimConfig
from synthetic.rules.muon import NS_QUINTIC
from rules_reference import adamw_ref, compare, hp_table


def msign(u: torch.Tensor, steps: int) -> torch.Tensor:
    a, b, c = NS_QUINTIC
    x = u / u.norm()
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x.T if tall else x


def sso_ref(st, w, g, lr, wd, eps, t, cfg):
    mu = cfg.momentum
    u = g
    if mu > 0:
        st["b"] = mu * st.get("b", torch.zeros_like(g)) + (1 - mu) * g
        u = (1 - mu) * g + mu * st["b"] if cfg.nesterov else st["b"]
    radius = math.sqrt(g.shape[0] / g.shape[1])
    return w * (1 - lr * wd) - lr * radius * msign(u, cfg.ns_steps)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.95, True)])
def test_sso_matches_reference(momentum, nesterov):
    so, ad = (lambda run: hp_table("sso", run)), (lambda run: hp_table("adamw", run))
    rules = {"input": (sso_ref, so), "hidden": (sso_ref, so), "output": (sso_ref, so),
             "input_bias": (adamw_ref, ad), "hidden_bias": (adamw_ref, ad)}
    worst = compare("sso", OptimConfig(name="sso", momentum=momentum, nesterov=nesterov), rules)
    print(f"sso μ={momentum}: max |engine - reference| = {worst:.3g}")
