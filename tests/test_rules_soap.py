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
