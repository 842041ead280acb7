"""synthetic.rules.sophia vs Sophia written from its definition (Liu et al. 2023, Algorithm 3 with the GNB
estimator), one run and one parameter at a time: m ← β1 m + (1−β1) g; every k steps h ← β2 h + (1−β2)·N·ĝ², ĝ the
gradient at labels ŷ ~ N(f(x), 1/2) drawn from the run's own generator; W ← W(1−ηλ) − η·clip(m / max(ρh, ε), 1)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from synthetic.config import OptimConfig
from synthetic.rules import sophia
from rules_reference import compare, hp_table


def sophia_ref(st, w, g, lr, wd, eps, t, cfg):
    b1, b2 = cfg.betas
    st["m"] = b1 * st.get("m", torch.zeros_like(g)) + (1 - b1) * g
    if "h_hat" in st:
        st["h"] = b2 * st.get("h", torch.zeros_like(g)) + (1 - b2) * st.pop("h_hat")
    ratio = st["m"] / torch.maximum(cfg.rho * st["h"], torch.tensor(sophia.CLIP_EPS, dtype=g.dtype))
    return w * (1 - lr * wd) - lr * torch.clamp(ratio, -1.0, 1.0)


def gnb_hook(every: int):
    gens = {}

    def hook(run, t, out, p, state):
        if t % every:
            return
        if t == 0:
            gens[run.seed] = torch.Generator().manual_seed(run.seed + sophia.GNB_SEED_OFFSET)
        y_hat = out.detach() + math.sqrt(0.5) * torch.randn(out.shape, generator=gens[run.seed], dtype=out.dtype)
        g_hat = torch.autograd.grad(F.mse_loss(out, y_hat), list(p.values()))
        for (k, _), gh in zip(p.items(), g_hat):
            state[k]["h_hat"] = out.numel() * gh * gh
    return hook


@pytest.mark.parametrize("betas, rho, every", [((0.965, 0.99), 0.05, 3), ((0.9, 0.5), 0.2, 4), ((0.965, 0.99), 0.05, 10)])
def test_sophia_matches_reference(betas, rho, every):
    so = lambda run: hp_table("sophia", run)  # noqa: E731
    rules = {r: (sophia_ref, so) for r in ("input", "hidden", "output", "input_bias", "hidden_bias")}
    cfg = OptimConfig(name="sophia", betas=betas, rho=rho, hessian_every=every)
    worst = compare("sophia", cfg, rules, steps=12, hessian_hook=gnb_hook(every))
    print(f"sophia {betas}: max |engine - reference| = {worst:.3g}")


def test_sophia_trains_in_a_bucket_and_runs_are_independent():
    from synthetic.config import DataConfig, ModelConfig, RunConfig
    from synthetic.engine import train_bucket
    from theory.bridge import BaseHP

    def run(seed, eta):
        return RunConfig(model=ModelConfig(width=8, depth=2, k=2, d_in=4, d_out=2, bias=True),
                         optim=OptimConfig(name="sophia", betas=(0.965, 0.99)), base=BaseHP(eta=eta, n_base=8, L_base=2),
                         steps=12, batch_size=4, seed=seed, dtype="float64", loss=loss,
                         data=DataConfig(kind="teacher_regression" if loss == "mse" else "teacher_classification"))

    for loss in ("mse", "ce"):
        both = train_bucket([run(0, 1e-2), run(1, 3e-2)])
        alone = train_bucket([run(1, 3e-2)])
        assert [r.value for r in both[1].records] == [r.value for r in alone[0].records]
        losses = [r.value for r in both[0].records if r.quantity == "loss"]
        assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
