"""docs/theory.md "Adding an optimizer", end to end: Signum (sign of momentum, Bernstein et al. 2018), which the paper does
not treat, is registered in theory (its update norm), its table derived, an engine rule registered, trained in a
bucket and coordinate-checked in width — all inside this test, with both registrations undone afterwards."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from theory.bridge import BaseHP, layer_hparams
from theory.optimizers import optimizer_names, register_optimizer, unregister_optimizer

from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from synthetic.engine import train_bucket
from synthetic.rules import Rule, engine_optimizer_names, registered, rule_names


# --- the engine half: one rule, stacked over the runs of a bucket ------------------------------------------------
class Signum(Rule):
    """m ← β1 m + (1 − β1) g;  W ← W (1 − ηλ) − η sign(m)."""

    name = "signum"

    def init_state(self, p, cfg):
        return {"m": torch.zeros_like(p, memory_format=torch.contiguous_format)}

    def step(self, opt, name, p, g, decay, dead, lr):
        m = opt.state[name]["m"]
        m.lerp_(g, 1 - opt.cfg.betas[0])
        u = torch.sign(m)
        if dead is not None:                                  # a frozen run must not move
            u.masked_fill_(dead.view(-1, *([1] * (u.ndim - 1))), 0)
        if decay is not None:
            p.mul_(decay.view(-1, *([1] * (p.ndim - 1))))
        p.sub_(u * lr)                                        # lr is [M, 1, …]: one learning rate per run


@contextlib.contextmanager
def signum_registered():
    # --- the theory half: ‖sign(G)‖_R for a low-rank gradient is n_in (like Lion); no ε ----------------------------
    register_optimizer("signum", update_norm=lambda ctx: ctx.n_in, biases=True, epsilon=None, display="Signum")
    try:
        with registered(rules=(Signum(),), engine=(("signum", "signum", None),)):
            yield
    finally:
        unregister_optimizer("signum")


def runs_for(width: int, param: str, seed: int) -> RunConfig:
    return RunConfig(model=ModelConfig(width=width, depth=2, k=2, d_in=32, d_out=1, activation="relu", norm="rms"),
                     optim=OptimConfig(name="signum", betas=(0.9, 0.95)), parameterization=param,
                     base=BaseHP(sigma2=2.0 ** -6, sigma2_input=1.0, eta=2.0 ** -7, n_base=32, L_base=2),
                     data=DataConfig(kind="teacher_regression"), steps=10, batch_size=8, seed=seed,
                     dtype="float64", measure_at=(1, 2, 5, 10), measurements=("loss", "h_rms"),
                     measure_layers=("h2",))


def test_signum_end_to_end():
    with signum_registered():
        # the derived table: Signum's update norm is Lion's, so are its rules (Table 6)
        for param in ("mup_k2", "mup_k1", "sp"):
            kw = dict(width=256, depth=8, k=2, d_in=32, d_out=1, base=BaseHP(n_base=32, L_base=2))
            assert layer_hparams("signum", param, **kw) == layer_hparams("lion", param, **kw)
        hid = layer_hparams("signum", "mup_k2", width=256, depth=2, k=2, d_in=32, d_out=1,
                            base=BaseHP(eta=1.0, n_base=32, L_base=2))["hidden"]
        assert hid.lr == 32 / 256                                    # η_base / r_n

        # trained in one bucket; the rule's step is W ← W − η sign(m) for every run at once
        widths, params, seeds = (32, 64, 128), ("mup_k2", "sp"), (0, 1)
        results = {}
        for width in widths:
            bucket = [runs_for(width, p, s) for p in params for s in seeds]
            for run, res in zip(bucket, train_bucket(bucket)):
                assert res.diverged_at is None
                results[(width, run.parameterization, run.seed)] = res

        # coordinate check: ‖h_L‖_R (geometric mean over steps 1, 2, 5, 10) vs width
        def level(res):
            vals = [r.value for r in res.records if r.quantity == "h_rms" and r.layer == "h2" and r.step > 0]
            return float(np.exp(np.mean(np.log(vals))))

        slopes = {}
        for p in params:
            xs = [w for w in widths for s in seeds]
            ys = [level(results[(w, p, s)]) for w in widths for s in seeds]
            slopes[p] = np.polyfit(np.log(xs), np.log(ys), 1)[0]
        print(f"Signum ‖h_L‖_R width slopes: {slopes}")
        assert abs(slopes["mup_k2"]) < 0.1, slopes
        assert slopes["sp"] > 0.25, slopes
    # registration undone: nobody else sees Signum
    assert "signum" not in optimizer_names() and "signum" not in rule_names()
    assert "signum" not in engine_optimizer_names()
