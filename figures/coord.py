"""coord-OPT: coordinate checks per engine optimizer, in width and in depth, SP vs μP (k = 1 rule "mup_k1" and k ≥ 2
rule "mup_k2"), every HP from theory.bridge through the engine.

Model: residual MLP with k = 2 maps per block, ReLU, pre-norm (RMS), teacher regression (MSE), batch 8, 10 steps,
constant LR (the paper's App. E.2 protocol), continued to step 50. Two quantities of the last block's output h_L, at steps 1, 2, 5, 10:
the paper's ‖h_L‖_R, and the single-step feature update ‖Δh_L‖_R = ‖h_L(x_t; W_{t+1}) − h_L(x_t; W_t)‖_R, the quantity
the spectral condition keeps Θ(1) (μP principle P1). Expected: μP slopes ≈ 0 in width and depth; SP grows.
Exponents are log-log slopes of the per-run geometric mean over the measured steps (steady against the step-to-step
jitter of a single step), with 95% per-seed t-intervals (synthetic.fit); per-step slopes are in the summary too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from figures.zheng_verdicts import coord_claims
from figures.plotting import (PARAM_COLORS, PARAM_LABELS, line_with_band, log2_axis, new_figure, note, plain_log_y,
                              seq_colors, share_ylim)
from figures.catalogue import COORD_OPTIMIZERS
from figures.spec import FigureContext, FigureOutput, FigureSpec
from figures.scales import dtype_for, pick
from figures.zheng_common import fmt_slope, inverse_depth_fit, slope, value
from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from theory.bridge import BaseHP

PARAMS = ("sp", "mup_k1", "mup_k2")
STEPS = (1, 2, 5, 10)
"""The paper's coordinate-check steps: drawn, and the geometric mean over them is the headline exponent."""
MEASURED = (0, *STEPS, 50)
"""Also at init (with the fit ‖h_L‖² = A + c/L there) and later in the run, so a reader sees where a depth slope
comes from and whether it stays."""
SIGMA2_BASE = 2.0 ** -6
SIGMA2_INPUT = 1.0
"""Base input-init variance numerator (input init 1/d_in, so ‖h0‖_R = Θ(1)); the hidden base stays SIGMA2_BASE.
With the shared σ²_base = 2^-6 the input init would be 2^-6/d_in and h0 tiny, and the random 1/√L part of the
residual sum at init would dominate ‖h_L‖_R: under α ∝ 1/L it falls with depth (measured slope −0.3 to −0.4)."""
D_IN = 32
BATCH = 8
ETA_BASE = {"sgd": 2.0 ** -5, "adamw": 2.0 ** -7, "lion": 2.0 ** -10, "muon": 2.0 ** -5, "muon_kimi": 2.0 ** -7,
            "muon_kimi_adamw": 2.0 ** -7, "shampoo": 2.0 ** -6, "shampoo_adamw": 2.0 ** -6, "soap": 2.0 ** -6,
            "sso": 2.0 ** -5, "sophia": 2.0 ** -13}
"""Base learning rates at (n_base, L_base), one per optimizer (the analogue of the paper's App. E.2 table). Shampoo,
Shampoo-AdamW and SOAP: the centre of App. E's Shampoo-AdamW width grid (2^-8…2^-4; SOAP shares Shampoo's Table 4
and has no grid of its own); SSO: Muon's (R·Φ = U Vᵀ on the square hidden maps); Sophia: 2^-13, the centre of App. E's
Sophia depth grid (2^-15…2^-11), inside its μP width grid."""
OPTIM_KW = {"sgd": {}, "adamw": dict(betas=(0.9, 0.95)), "lion": dict(betas=(0.9, 0.99)),
            "muon": dict(momentum=0.95, nesterov=True), "muon_kimi": dict(momentum=0.95, nesterov=True),
            "muon_kimi_adamw": dict(momentum=0.95, nesterov=True, betas=(0.9, 0.95)),
            "shampoo": dict(betas=(0.95, 0.95)), "shampoo_adamw": dict(betas=(0.95, 0.95)),
            "soap": dict(betas=(0.95, 0.95)), "sso": dict(momentum=0.95, nesterov=True),
            "sophia": dict(betas=(0.965, 0.99))}
"""Θ(1) optimizer constants: Shampoo β1 = β2 = 0.95 (App. E; the hybrid's AdamW shares them), SOAP's defaults
(0.95, 0.95), SSO Muon's momentum, Sophia App. E's (0.965, 0.99)."""
QUANTITIES = (("h_rms", "‖h_L‖_R"), ("dh_rms", "‖Δh_L‖_R (one step)"))


@dataclass(frozen=True)
class Grid:
    n_base: int
    L_base: int
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    seeds: tuple[int, ...]


def grid(scale: str) -> Grid:
    return pick(scale,
                smoke=Grid(32, 2, (32, 64, 128), (2, 4, 8), (0, 1)),
                default=Grid(32, 2, (32, 64, 128, 256), (2, 4, 8, 16, 32), (0, 1, 2, 3, 4)),
                paper=Grid(256, 4, (256, 512, 1024, 2048, 4096), (4, 8, 16, 32, 64, 128), (1, 2, 3)))


def optimizer_of(fig_id: str) -> str:
    return fig_id.split("-", 1)[1]


def build(ctx: FigureContext) -> list[RunConfig]:
    opt = optimizer_of(ctx.fig_id)
    g = grid(ctx.scale)
    base = BaseHP(alpha=1.0, sigma2=SIGMA2_BASE, sigma2_input=SIGMA2_INPUT, eta=ETA_BASE[opt], n_base=g.n_base, L_base=g.L_base)
    shapes = dict.fromkeys([(n, g.L_base) for n in g.widths] + [(g.n_base, L) for L in g.depths])
    runs = []
    for width, depth in shapes:
        for param in PARAMS:
            for seed in g.seeds:
                runs.append(RunConfig(
                    model=ModelConfig(width=width, depth=depth, k=2, d_in=D_IN, d_out=1, activation="relu", norm="rms"),
                    optim=OptimConfig(name=opt, **OPTIM_KW[opt]), parameterization=param, base=base,
                    data=DataConfig(kind="teacher_regression"), loss="mse", steps=max(MEASURED), batch_size=BATCH,
                    seed=seed, dtype=dtype_for(ctx.scale), measure_at=MEASURED,
                    measurements=("loss", "h_rms", "dh_rms"), measure_layers=("h0", f"h{depth}", "model")))
    return runs


def measure(ctx: FigureContext, results: list) -> tuple[list[dict], dict]:
    g = grid(ctx.scale)
    rows, fits = [], {}
    for axis, xs_all in (("width", g.widths), ("depth", g.depths)):
        fixed = (lambda r: r.config.model.depth == g.L_base) if axis == "width" else \
            (lambda r: r.config.model.width == g.n_base)
        for param in PARAMS:
            mine = [r for r in results if r.config.parameterization == param and fixed(r)]
            if axis == "depth":
                ds = [r.config.model.depth for r in mine]
                fits[f"{param}.init_fit"] = inverse_depth_fit(
                    ds, [value(r, "h_rms", f"h{r.config.model.depth}", step=0) ** 2 for r in mine],
                    [r.config.seed for r in mine])
                fits[f"{param}.init_fit"]["h0_sq_mean"] = float(np.nanmean(
                    [value(r, "h_rms", "h0", step=0) ** 2 for r in mine])) if mine else float("nan")
            for q, _ in QUANTITIES:
                for t in MEASURED:
                    if q == "dh_rms" and t == 0:
                        continue
                    xs, ys, gs = [], [], []
                    for res in mine:
                        x = getattr(res.config.model, axis)
                        v = value(res, q, f"h{res.config.model.depth}", step=t)
                        rows.append({"axis": axis, "parameterization": param, "quantity": q, "width": res.config.model.width,
                                     "depth": res.config.model.depth, "seed": res.config.seed, "step": t, "value": v,
                                     "diverged_at": res.diverged_at})
                        xs.append(x), ys.append(v), gs.append(res.config.seed)
                    fits[f"{param}.{q}.{axis}.step{t}"] = slope(xs, ys, gs if len(g.seeds) > 1 else None)
                xs, ys, gs = [], [], []
                for res in mine:
                    vals = [value(res, q, f"h{res.config.model.depth}", step=t) for t in STEPS]
                    xs.append(getattr(res.config.model, axis)), gs.append(res.config.seed)
                    ys.append(float(np.exp(np.mean(np.log(vals)))) if all(v > 0 for v in vals) else float("nan"))
                fits[f"{param}.{q}.{axis}.gmean"] = slope(xs, ys, gs if len(g.seeds) > 1 else None)
    return rows, fits


def plot(ctx: FigureContext, results: list) -> FigureOutput:
    opt = optimizer_of(ctx.fig_id)
    g = grid(ctx.scale)
    rows, fits = measure(ctx, results)
    fig, axes = new_figure(4, 3, panel_w=3.5, panel_h=2.6, title=(
        f"coord-{opt}: coordinate check of the last block output, SP vs μP (k=1 and k≥2 rules), "
        f"η_base={ETA_BASE[opt]:g}, pre-norm k=2 residual MLP, {len(g.seeds)} seeds [{ctx.scale}]"))
    colors = seq_colors(len(STEPS), "viridis")
    layout = [("width", "h_rms"), ("width", "dh_rms"), ("depth", "h_rms"), ("depth", "dh_rms")]
    qlabel = dict(QUANTITIES)
    for row, (axis, q) in enumerate(layout):
        xs_all = g.widths if axis == "width" else g.depths
        for col, param in enumerate(PARAMS):
            ax = axes[row][col]
            for t, c in zip(STEPS, colors):
                per_x = [[r["value"] for r in rows if r["axis"] == axis and r["parameterization"] == param
                          and r["quantity"] == q and r["step"] == t and r[axis] == x] for x in xs_all]
                line_with_band(ax, xs_all, per_x, label=f"step {t}", color=c)
            log2_axis(ax, "x")
            plain_log_y(ax)
            fixed = f"L={g.L_base}" if axis == "width" else f"n={g.n_base}"
            ax.set_xlabel("width n" if axis == "width" else "depth L (blocks)")
            ax.set_ylabel(qlabel[q])
            ax.set_title(f"{PARAM_LABELS[param]}, {fixed}", color=PARAM_COLORS[param], fontsize=8.5)
            n_div = sum(1 for r in results if r.config.parameterization == param and r.diverged_at is not None
                        and r.diverged_at <= STEPS[-1] and (r.config.model.depth == g.L_base if axis == "width" else r.config.model.width == g.n_base))
            text = (f"slope (steps {STEPS[0]}–{STEPS[-1]}, geo-mean): {fmt_slope(fits[f'{param}.{q}.{axis}.gmean'])}"
                    f"\nstep {MEASURED[-1]}: {fmt_slope(fits[f'{param}.{q}.{axis}.step{MEASURED[-1]}'])}")
            if q == "h_rms":
                text += f"; init: {fmt_slope(fits[f'{param}.h_rms.{axis}.step0'])}"
            if q == "h_rms" and axis == "depth":
                f = fits[f"{param}.init_fit"]
                text += (f"\ninit ‖h_L‖² = {f['A']:.3g} + c/L, c = {f['c']:.3g} [{f['c_lo']:.3g}, {f['c_hi']:.3g}]"
                         f" (‖h0‖² {f['h0_sq_mean']:.3g})")
            note(ax, text + (f"\n{n_div} run(s) diverged (NaN/inf loss; points missing)" if n_div else ""),
                 loc="upper left")
        mup_axes = list(axes[row][1:])
        share_ylim(mup_axes, pad=1.6)
        sp_lo, sp_hi = axes[row][0].get_ylim()
        mu_lo, mu_hi = mup_axes[0].get_ylim()
        if sp_hi / max(mu_hi, 1e-300) < 100 and mu_lo / max(sp_lo, 1e-300) < 100:
            share_ylim(list(axes[row]), pad=1.0)
    axes[0][0].legend(loc="lower right", fontsize=6.5, ncol=2)
    summary = {"optimizer": opt, "scale": ctx.scale, "eta_base": ETA_BASE[opt], "n_base": g.n_base, "L_base": g.L_base,
               "widths": g.widths, "depths": g.depths, "seeds": g.seeds, "fits": fits,
               "headline": {f"{p}.{q}.{a}": fits[f"{p}.{q}.{a}.gmean"]["slope"]
                            for p in PARAMS for q, _ in QUANTITIES for a in ("width", "depth")},
               "diverged": int(sum(r.diverged_at is not None for r in results))}
    return FigureOutput(fig, rows, summary)


SPECS = {
    f"coord-{o}": FigureSpec(f"coord-{o}", f"coordinate check, {o}: ‖h_L‖_R and ‖Δh_L‖_R vs width and depth, "
                                           f"SP vs μP k=1 vs μP k≥2", build, plot,
                             claims=coord_claims(o))
    for o in COORD_OPTIMIZERS
}
