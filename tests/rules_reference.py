"""Shared harness of tests/test_rules_*.py: a bucket trained by the engine vs an independent per-model float64
implementation (one run, one matrix at a time, plain loops), compared after every step."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from theory.bridge import BaseHP, layer_hparams

from synthetic.config import OptimConfig, RunConfig
from synthetic.engine import build, per_run_loss
from test_engine_support import data_for
from test_optim_reference import MODEL, init_value, initial_params, reference_forward, stacked_params

ROLES = ["input", "hidden", "output", "input_bias", "hidden_bias"]
BASES = [BaseHP(eta=0.01, lam=0.1, eps=1e-6, n_base=4, L_base=1), BaseHP(eta=0.005, lam=0.0, eps=1e-4, sigma2=0.15),
         BaseHP(eta=0.02, lam=0.3, alpha=0.5, eps=1e-5, n_base=3, L_base=2)]
PARAMS = ["mup_k2", "sp", "mup_k1"]

Update = Callable[[dict, torch.Tensor, torch.Tensor, float, float, float, int, OptimConfig], torch.Tensor]


def role_of(key: str) -> str:
    return {"W0": "input", "b0": "input_bias", "Wout": "output"}.get(key, "hidden" if key[0] == "W" else "hidden_bias")


def adamw_ref(st: dict, w, g, lr, wd, eps, t, cfg: OptimConfig):
    """AdamW (Loshchilov & Hutter) with PyTorch's bias corrections, written out."""
    b1, b2 = cfg.betas
    st["m"] = b1 * st.get("m", torch.zeros_like(g)) + (1 - b1) * g
    st["v"] = b2 * st.get("v", torch.zeros_like(g)) + (1 - b2) * g * g
    mhat = st["m"] / (1 - b1 ** t)
    return w * (1 - lr * wd) - lr * mhat / (torch.sqrt(st["v"] / (1 - b2 ** t)) + eps)


def hp_table(theory_name: str, run: RunConfig) -> dict:
    m = run.model
    return layer_hparams(theory_name, run.parameterization, width=m.width, depth=m.depth, k=m.k, d_in=m.d_in,
                         d_out=m.d_out, base=run.base, roles=None)


def compare(engine_name: str, cfg: OptimConfig, rules: dict[str, tuple[Update, dict]], steps: int = 8,
            tol: float = 1e-10, hessian_hook=None) -> float:
    """Train 3 runs (mixed parameterizations and bases) in one float64 bucket and each run alone with the reference
    updates `rules[role] = (update, hp by role)`; returns the largest |engine − reference| over all steps."""
    runs = [RunConfig(model=MODEL, optim=cfg, parameterization=pz, base=b, loss="mse", steps=steps, batch_size=5,
                      seed=s, dtype="float64", bias_init_zero=False)
            for s, (b, pz) in enumerate(zip(BASES, PARAMS))]
    data = data_for(runs)
    model, opt = build(runs, torch.device("cpu"))
    init = initial_params(model)
    names = list(model.params)
    engine_hist, gens = [], None
    for t in range(steps):
        x, y = data.train_batch(t)
        out_e = model.forward(model.params, x)[0]
        loss = per_run_loss("mse", out_e, y)
        leaves = [model.params[g] for g in names]
        hessian = opt.hessian_due(t)
        grads = torch.autograd.grad(loss.sum(), leaves, retain_graph=hessian)
        if hessian:
            from synthetic.engine import _gnb_hessian
            from synthetic.rules.sophia import gnb_generators

            if gens is None:
                gens = gnb_generators([r.seed for r in runs], torch.device("cpu"))
            _gnb_hessian("mse", opt, model, names, out_e, gens, t)
        opt.step(dict(zip(names, grads)))
        engine_hist.append({m: {k: v.detach().clone() for k, v in stacked_params(model, m).items()}
                            for m in range(len(runs))})
    worst = 0.0
    for m, run in enumerate(runs):
        fwd_hp = hp_table("adamw", run)  # multipliers are shared by every table (width-μP + α_l)
        p = {k: init_value(init, k, m).clone().requires_grad_(True) for k in stacked_params(model, m)}
        state = {k: {} for k in p}
        for t in range(steps):
            x, y = data.train_batch(t)
            out = reference_forward(p, fwd_hp, x[m], run.model)
            loss = F.mse_loss(out, y[m])
            gs = torch.autograd.grad(loss, list(p.values()), retain_graph=hessian_hook is not None)
            if hessian_hook is not None:
                hessian_hook(run, t, out, p, state)
            with torch.no_grad():
                new = {}
                for (k, w), g in zip(p.items(), gs):
                    update, table = rules[role_of(k)]
                    hp = table(run)[role_of(k)]
                    new[k] = update(state[k], w.detach(), g, hp.lr, hp.wd, hp.eps, t + 1, cfg)
            p = {k: v.requires_grad_(True) for k, v in new.items()}
            for k, v in p.items():
                assert torch.isfinite(v).all(), (m, k, t)
                worst = max(worst, (engine_hist[t][m][k] - v.detach()).abs().max().item())
        assert any(not torch.equal(p[k].detach(), init_value(init, k, m)) for k in p)
    assert worst < tol, worst
    return worst
