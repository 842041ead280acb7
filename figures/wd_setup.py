"""The Fan et al. (AdamW weight-decay steady state) setting: run configs, the λ rules, and steady-state readouts.

Setting (digest §10–§11): pre-norm residual FFN (`ModelConfig(norm="rms")`, k = 2, ReLU), AdamW, a fresh batch every step from a low-rank Gaussian teacher with label noise (`teacher_regression`), MSE.
Every lr, wd, init and multiplier comes from `theory.bridge` through `RunConfig(parameterization, BaseHP)`; the weight-decay rules λ2 ∝ d^e
come from `theory.wd_rules`; nothing here types a learning rate or a decay into a layer.

How λ2 ∝ d^e is realised: the bridge's μP AdamW table (`mup_width`) already scales the hidden (matrix-like) role as
η2 ∝ d^a_b, λ2 ∝ d^e_b (read from `theory.solver.derive_table`: a_b = −1, e_b = +1). A rule with exponents (a, e) is
the BaseHP η_base·r^(a − a_b), λ_base·r^(e − e_b), r = d/d0, so that the hidden role gets exactly η2 = η_b (d/d0)^a
and λ2 = λ_b (d/d0)^e.

Fan's recipe (digest §10.1), as the engine expresses it: λ1 = 0 for the vector-like parameters (input map from the
fixed d_in, readout to the fixed d_out) as the weight-decay mask `RunConfig(decay_roles=("hidden",))`: the hidden
(matrix-like) maps get the bridge's λ2, the others λ = 0. η1 stays fixed: μP's input/output lr exponent is 0 and the
rules only move λ_base by width, so η1 = η_b at every width (`VECTOR_LIKE`). In wd1 (one width) the (η, λ)
multipliers scale every role's η and the hidden role's λ.

No final norm before the readout: the engine has one (`ModelConfig(final_norm=True)`), but measured at default scale
it lowers wd1's σ1-vs-η/λ slope (W_up, blocks 2..L, 20 timescales): final norm + λ1 = 0 gives 0.28, final norm alone
0.29, λ1 = 0 alone 0.46 (expected 0.5); so the figures use λ1 = 0 alone, the setting closest to the law here.
The hidden-role λ2 is what the regression checks test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Sequence

import numpy as np

from figures.scales import dtype_for, pick
from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from synthetic.records import Record
from theory.bridge import BaseHP

HIDDEN_TYPES = {"W_up": 1, "W_down": 2}
"""Fan's FFN matrix types and their map index i in `block{l}.{i}` (averaged over the blocks l = 1..L, as Fan's Fig. 1)."""
NORMED_LAYER = "input"
"""The input map. Its output h0 is read by the blocks through their pre-norms, but also, through the residual stream,
by the readout, which has no final norm here: it is not scale-invariant (its σ1 is reported beside the FFN maps)."""
QUANTITIES = ("sigma1", "spectrum", "w_rms", "gain", "test_loss")
VECTOR_LIKE = "eta1_fixed_lambda1_zero"
DECAY_ROLES = ("hidden",)
"""Roles that get weight decay (the matrix-like FFN maps); the vector-like input map and readout get λ1 = 0."""


def vector_like_note() -> str:
    """What the runs do (`run_config`): decay mask `DECAY_ROLES`, and `ModelConfig.final_norm` left False, so the
    readout reads h_L directly (synthetic/models.py: norm_f is the identity without `final_norm`)."""
    return ("vector-like (input, readout): η1 = η_base fixed, λ1 = 0 (decay_roles = hidden); "
            "no final norm: the readout reads h_L un-normalized (pre-norm RMSNorm inside each block only)")


@dataclass(frozen=True)
class FanSetting:
    """One scale's numbers: model, data, base (η2, λ2) at the proxy width d0, steps, seeds."""

    d0: int
    depth: int
    widths: tuple[int, ...]
    wd1_width: int
    seeds: tuple[int, ...]
    eta: float
    lam: float
    steps_per_tau: float
    d_in: int = 16
    d_out: int = 1
    teacher_rank: int = 4
    noise: float = 2.0
    batch_size: int = 16
    activation: str = "relu"
    betas: tuple[float, float] = (0.9, 0.95)
    dtype: str = "float64"
    n_measure: int = 24
    transfer_widths: tuple[int, ...] = ()
    eta_grid: tuple[float, ...] = ()
    lam_grid: tuple[float, ...] = ()
    transfer_steps_per_tau: float | None = None
    """Timescales for wd4's transfer sweeps (None: `steps_per_tau`); they read test losses, not the steady-state law."""
    transfer_seeds: tuple[int, ...] = ()
    """Seeds of wd4's sweeps (empty: `seeds`): 3 at the default scale, the fewest for which the seed bootstrap of
    an optimum has more than a handful of distinct resamples (the runs are long: many EMA timescales each)."""
    transfer_n_train: int | None = None
    """wd4's training set (None: a fresh batch every step, as wd1–wd3)."""
    transfer_noise: float | None = None
    """wd4's label noise (None: `noise`). With a fresh batch every step weight decay has nothing to regularize and
    the test loss only grows with λ; wd4's data is chosen by `python -m figures.wd4_pilot` at d0 (docs/decisions.md)
    so that the loss has a resolved optimum in λ inside the grid, the precondition of a λ-transfer test."""

    @property
    def wd4_seeds(self) -> tuple[int, ...]:
        return self.transfer_seeds or self.seeds

    @property
    def tau(self) -> float:
        """EMA timescale 1/(η2 λ2) at the proxy width, in steps."""
        return 1.0 / (self.eta * self.lam)


def setting(scale: str) -> FanSetting:
    """The grid per scale. η_b, λ_b are the proxy-width hidden (η2, λ2); σ² = 1/d0 (init variance 1/d0 at d0).

    5 / 8 / 10 timescales 1/(η2 λ2) at smoke / default / paper scale (the digest's minimum is 5). With the final norm
    on, 5 were not enough (σ1 still drifting at smoke scale); with λ1 = 0 alone they are (the checks below hold)."""
    grid = tuple(2.0 ** k for k in range(-3, 4))
    small = tuple(2.0 ** k for k in range(-2, 3))
    tiny = (0.5, 1.0, 2.0)
    return pick(
        scale,
        smoke=FanSetting(d0=16, depth=4, widths=(16, 32, 64), wd1_width=32, seeds=(0, 1), eta=1e-2, lam=1.0,
                         steps_per_tau=5.0, transfer_widths=(16, 32), eta_grid=tiny, lam_grid=tiny, n_measure=16,
                         transfer_steps_per_tau=5.0),
        default=FanSetting(d0=32, depth=4, widths=(32, 64, 128, 256), wd1_width=64, seeds=(0, 1, 2, 3, 4), eta=1e-2, lam=1.0,
                           steps_per_tau=8.0, transfer_widths=(32, 128), eta_grid=small, lam_grid=small,
                           dtype=dtype_for("default"), transfer_steps_per_tau=8.0, transfer_seeds=(0, 1, 2),
                           transfer_n_train=1024, transfer_noise=0.5),
        paper=FanSetting(d0=64, depth=4, widths=(64, 128, 256, 512, 1024, 2048), wd1_width=512, seeds=(0, 1, 2), eta=1e-2,
                         lam=1.0, steps_per_tau=10.0, transfer_widths=(64, 256, 1024), eta_grid=grid, lam_grid=grid,
                         dtype=dtype_for("paper"), n_measure=40, transfer_steps_per_tau=10.0),
    )


@lru_cache(maxsize=None)
def bridge_hidden_exponents(parameterization: str = "mup_width") -> tuple[float, float]:
    """(a_b, e_b): the width exponents of the hidden role's lr and wd in the bridge's AdamW table."""
    from theory.solver import derive_table

    t = derive_table("adamw", parameterization, 2)
    return float(t.get("lr", "hidden").exps[0]), float(t.get("wd", "hidden").exps[0])


def rule_exponent(name: str, *, alpha: float | None = None, p: float = 0.5) -> float:
    """λ2 ∝ d^e under μP (η2 ∝ d^a_b) for a `theory.wd_rules` rule; "fan" uses the given α and p."""
    import sympy as sp

    from theory import wd_rules

    a_mup = sp.nsimplify(bridge_hidden_exponents()[0])
    if name == "fan":
        if alpha is None:
            raise ValueError("the fan rule needs a measured alpha")
        rule = wd_rules.wd_rule("fan", a_mup, sp.nsimplify(p), sp.Float(alpha))
    else:
        rule = wd_rules.wd_rule(name, a_mup, wd_rules.p, wd_rules.alpha)
    return float(rule.wd)


def predicted_sigma1_exponent(e: float, *, alpha: float, p: float = 0.5) -> float:
    """theory.wd_rules.sigma1_exponent p(a − e) + α under μP's a."""
    from theory import wd_rules

    return float(wd_rules.sigma1_exponent(e, bridge_hidden_exponents()[0], p, alpha))


def predicted_sigma1_exponent_joint(e: float, *, alpha: float, p_eta: float, p_lam: float) -> float:
    """theory.wd_rules.sigma1_exponent_general p_eta·a − p_lam·e + α under μP's a (the law σ1 ∝ η^p_eta λ^−p_lam d^α)."""
    from theory import wd_rules

    return float(wd_rules.sigma1_exponent_general(e, bridge_hidden_exponents()[0], p_eta, p_lam, alpha))


def invariant_rule_exponent(*, alpha: float, p_eta: float, p_lam: float) -> float:
    """λ2 ∝ d^e* keeping σ1 width-invariant under μP and the general law: theory.wd_rules.joint_wd_rule("fan")."""
    import sympy as sp

    from theory import wd_rules

    a_mup = sp.nsimplify(bridge_hidden_exponents()[0])
    return float(wd_rules.joint_wd_rule("fan", a_mup, sp.Float(p_eta), sp.Float(p_lam), sp.Float(alpha)).wd)


def _model(s: FanSetting, width: int) -> ModelConfig:
    kw = dict(width=width, depth=s.depth, k=2, d_in=s.d_in, d_out=s.d_out, activation=s.activation, norm="rms")
    return ModelConfig(**kw)


def measure_steps(steps: int, n: int) -> tuple[int, ...]:
    """Geometric steps from 10 to `steps` (for log-time gain curves) plus the last 10% densely (steady-state window)."""
    geo = np.unique(np.round(np.geomspace(10, steps, n)).astype(int))
    tail = np.unique(np.round(np.linspace(0.9 * steps, steps, 6)).astype(int))
    return tuple(int(t) for t in sorted(set(geo) | set(tail)) if 0 < t <= steps)


def steps_for(s: FanSetting, slowest_kappa: float) -> int:
    """Steps giving at least `steps_per_tau` EMA timescales to the slowest run (κ = η2 λ2)."""
    return int(math.ceil(s.steps_per_tau / slowest_kappa / 10.0) * 10)


ONE_PASS = True
"""The Fan figures' AdamW updates each weight in one pass (`OptimConfig.one_pass`, torch's fused AdamW kernel): the
same algorithm as the tiled update, to float64 round-off (tests/test_one_pass.py), about a fifth faster at their
batch of 16 (docs/engine.md). Part of a run's identity; it needs torch >= 2.4."""


def run_config(s: FanSetting, *, width: int, base: BaseHP, steps: int, seed: int,
               parameterization: str = "mup_width", transfer: bool = False) -> RunConfig:
    """One run of the setting; `transfer`: wd4's data (`transfer_n_train`, `transfer_noise`)."""
    noise = s.transfer_noise if transfer and s.transfer_noise is not None else s.noise
    return RunConfig(
        model=_model(s, width), optim=OptimConfig(name="adamw", betas=s.betas, one_pass=ONE_PASS),
        parameterization=parameterization,
        base=base, data=DataConfig(kind="teacher_regression", noise=noise, teacher_rank=s.teacher_rank,
                                   n_train=s.transfer_n_train if transfer else None),
        loss="mse", steps=steps, batch_size=s.batch_size, seed=seed, dtype=s.dtype,
        measure_at=measure_steps(steps, s.n_measure), measurements=QUANTITIES, decay_roles=DECAY_ROLES)


def tiled(config: RunConfig) -> RunConfig:
    """The run as the pilots measured it, before the Fan figures took `ONE_PASS`: their commands keep training the
    runs their documented numbers came from (figures.wd4_pilot, figures.wd3_timescales)."""
    return replace(config, optim=replace(config.optim, one_pass=False))


def base_hp(s: FanSetting, *, width: int, eta_mult: float = 1.0, lam_mult: float = 1.0, a: float | None = None,
            e: float | None = None) -> BaseHP:
    """BaseHP giving the hidden role η2 = η_b·m_η·(d/d0)^a and λ2 = λ_b·m_λ·(d/d0)^e under `mup_width`
    (a, e default to the bridge's own μP exponents)."""
    a_b, e_b = bridge_hidden_exponents()
    a = a_b if a is None else a
    e = e_b if e is None else e
    r = width / s.d0
    return BaseHP(eta=s.eta * eta_mult * r ** (a - a_b), lam=s.lam * lam_mult * r ** (e - e_b), sigma2=1.0 / s.d0,
                  eps=BaseHP().eps, n_base=s.d0, L_base=s.depth)


def hidden_eta_lam(config: RunConfig) -> tuple[float, float]:
    """The hidden role's (η2, λ2) as the engine will use them (from theory.bridge via the engine)."""
    from synthetic.optim import run_hparams

    hp = run_hparams(config)["hidden"]
    return hp.lr, hp.wd


# ---------------------------------------------------------------- readouts


def type_layers(depth: int) -> dict[str, tuple[str, ...]]:
    """Layer names of each FFN matrix type over all blocks."""
    return {t: tuple(f"block{l}.{i}" for l in range(1, depth + 1)) for t, i in HIDDEN_TYPES.items()}


def inner_layers(depth: int, type_: str) -> tuple[str, ...]:
    """One type's maps in blocks 2..L: those read a normalized sum of block outputs (full rank), while block 1 reads
    norm(W0 x), which has rank ≤ d_in."""
    return tuple(f"block{l}.{HIDDEN_TYPES[type_]}" for l in range(2, depth + 1)) or type_layers(depth)[type_]


def hidden_layers(depth: int) -> tuple[str, ...]:
    return tuple(n for names in type_layers(depth).values() for n in names)


def series(records: Sequence[Record], quantity: str, layers: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values averaged over `layers`) of one quantity."""
    by_step: dict[int, list[float]] = {}
    for r in records:
        if r.quantity == quantity and r.layer in layers and r.index == 0:
            by_step.setdefault(r.step, []).append(r.value)
    steps = np.array(sorted(by_step), dtype=int)
    return steps, np.array([np.mean(by_step[t]) for t in steps], dtype=float)


def final_value(records: Sequence[Record], quantity: str, layers: Sequence[str], window: float = 0.1) -> float:
    """Mean of a quantity over the last `window` of training (the steady-state window), averaged over layers."""
    steps, vals = series(records, quantity, layers)
    if steps.size == 0:
        return math.nan
    keep = steps >= steps.max() * (1 - window)
    return float(np.mean(vals[keep]))


def final_spectrum(records: Sequence[Record], layer: str) -> np.ndarray:
    """Singular values of `layer` at the last measured step, descending."""
    spec = [r for r in records if r.quantity == "spectrum" and r.layer == layer]
    if not spec:
        return np.array([])
    last = max(r.step for r in spec)
    vals = sorted(((r.index, r.value) for r in spec if r.step == last))
    return np.array([v for _, v in vals])


def steady(result) -> dict:
    """`synthetic.measure.steady_state` of one run, plus `ok` (≥ 5 timescales and σ1 within 15% over the window)."""
    from synthetic.measure import steady_state

    st = dict(steady_state(result.records, result.config))
    st["ok"] = bool(st["timescales"] >= 5.0 and st.get("sigma1_rel_change", math.inf) <= 0.15)
    return st
