"""Figures 1 and 2 (Zheng et al. v2 Figs 1 and 3, synthetic analogue): coordinate check and learning-rate transfer,
SP vs width–depth μP (k ≥ 2, "mup_k2"), Muon-Kimi on hidden matrices + AdamW elsewhere (Tables 1 and 6).

Task: teacher regression (synthetic.data "teacher_regression", fresh batches every step, clean test set), MSE.
Model: residual MLP with k = 2 maps per block, ReLU; Fig. 1 with a pre-norm (RMSNorm, no gain), Fig. 2 without.

- 1: (a) ‖h_L‖_R vs width at steps 5–10, (b) vs depth, (c) final test loss vs η_base per width, (d) per depth;
     top row μP, bottom row SP; the best η_base of every curve is starred and listed (argmin table).
- 2: no normalisation, depth sweep: (a) ‖h_L‖_R vs depth at steps 5–10, (b) final test loss vs η_base per depth;
     diverged runs (NaN/inf loss) drawn as × at the top of the panel.

Base HPs (tuned-at-base choices, the analogue of the paper's App. E): every multiplier/init/lr comes from
theory.bridge via the engine; SP and μP coincide at (n_base, L_base).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from figures.plotting import (DIVERGED_MARKER, PARAM_LABELS, line_with_band, log2_axis, mark_optimum,
                              new_figure, note, plain_log_y, seq_colors, share_ylim)
from figures.registry import FigureContext, FigureOutput, FigureSpec
from figures.scales import dtype_for, pick
from figures.zheng_common import final_loss, fmt_slope, group, slope, value
from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from theory.bridge import BaseHP

OPTIM = OptimConfig(name="muon_kimi_adamw", momentum=0.95, nesterov=True, betas=(0.9, 0.95))
"""Paper App. E: Muon-Kimi with Nesterov momentum 0.95, AdamW β = (0.9, 0.95), one shared η_base."""
SIGMA2_BASE = 2.0 ** -6
SIGMA2_INPUT = 1.0
"""Base input-init variance numerator (input init 1/d_in, so ‖h0‖_R = Θ(1)); the hidden base stays SIGMA2_BASE.
With the shared σ²_base = 2^-6 the input init would be 2^-6/d_in and h0 tiny, and the random 1/√L part of the
residual sum at init would dominate ‖h_L‖_R: under α ∝ 1/L it falls with depth (measured slope −0.3 to −0.4)."""
ALPHA_BASE = 1.0
ETA_COORD = 2.0 ** -7
"""The paper's coordinate-check LR for Muon-Kimi-AdamW (App. E.2)."""
D_IN = 32
COORD_STEPS = (5, 6, 7, 8, 9, 10)
PARAMS = ("mup_k2", "sp")


@dataclass(frozen=True)
class Grid:
    n_base: int
    L_base: int
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    log2_etas: tuple[int, ...]
    steps: int
    batch: int
    coord_seeds: tuple[int, ...]
    sweep_seeds: tuple[int, ...]


def grid(scale: str, fig_id: str) -> Grid:
    if fig_id == "1":
        return pick(scale,
                    smoke=Grid(16, 2, (16, 32, 64), (2, 4, 8), (-9, -7, -5), 20, 16, (0, 1), (0,)),
                    default=Grid(64, 4, (32, 64, 128, 256), (4, 8, 16, 32), (-11, -10, -9, -8, -7, -6, -5), 100, 32,
                                 (0, 1, 2, 3, 4), (0, 1)),
                    paper=Grid(256, 4, (128, 256, 512, 1024, 2048, 4096), (4, 8, 16, 32, 64, 128, 256),
                               (-10, -9, -8, -7, -6, -5), 1000, 240, (1, 2, 3), (0,)))
    return pick(scale,
                smoke=Grid(16, 2, (16,), (2, 4, 8), (-10, -7, -4), 20, 16, (0, 1), (0,)),
                default=Grid(64, 2, (64,), (2, 4, 8, 16, 32), (-12, -10, -8, -6, -4), 100, 32,
                             (0, 1, 2, 3, 4), (0, 1)),
                paper=Grid(256, 4, (256,), (4, 8, 16, 32, 64, 128, 256), tuple(range(-13, -6)), 1000, 240,
                           (1, 2, 3), (0,)))


def _run(ctx: FigureContext, g: Grid, *, width: int, depth: int, param: str, log2_eta: float, seed: int, norm: str,
         steps: int, batch: int, coord: bool) -> RunConfig:
    base = BaseHP(alpha=ALPHA_BASE, sigma2=SIGMA2_BASE, sigma2_input=SIGMA2_INPUT, eta=2.0 ** log2_eta, n_base=g.n_base, L_base=g.L_base)
    if coord:
        meas, at, layers = ("loss", "h_rms"), COORD_STEPS, (f"h{depth}", "model")
    else:
        meas, at, layers = ("loss", "test_loss"), (steps,), ("model",)
    return RunConfig(model=ModelConfig(width=width, depth=depth, k=2, d_in=D_IN, d_out=1, activation="relu", norm=norm),
                     optim=OPTIM, parameterization=param, base=base, data=DataConfig(kind="teacher_regression"),
                     loss="mse", steps=steps, batch_size=batch, seed=seed, dtype=dtype_for(ctx.scale),
                     measure_at=at, measurements=meas, measure_layers=layers)


def _norm(fig_id: str) -> str:
    return "rms" if fig_id == "1" else "none"


def build(ctx: FigureContext) -> list[RunConfig]:
    g, norm = grid(ctx.scale, ctx.fig_id), _norm(ctx.fig_id)
    runs: list[RunConfig] = []
    shapes = [(g.n_base, L) for L in g.depths]
    if ctx.fig_id == "1":
        shapes = [(n, g.L_base) for n in g.widths] + shapes
    for width, depth in dict.fromkeys(shapes):
        for param in PARAMS:
            for seed in g.coord_seeds:
                runs.append(_run(ctx, g, width=width, depth=depth, param=param, log2_eta=math.log2(ETA_COORD),
                                 seed=seed, norm=norm, steps=max(COORD_STEPS), batch=8, coord=True))
            for e in g.log2_etas:
                for seed in g.sweep_seeds:
                    runs.append(_run(ctx, g, width=width, depth=depth, param=param, log2_eta=e, seed=seed, norm=norm,
                                     steps=g.steps, batch=g.batch, coord=False))
    return runs


def _is_coord(res) -> bool:
    return res.config.steps == max(COORD_STEPS) and "h_rms" in res.config.measurements


def _coord_panel(ax, results, g: Grid, axis: str, param: str, rows: list, summary: dict, fig_id: str) -> None:
    """‖h_L‖_R vs width (axis="width") or depth, one curve per step 5..10, bands over seeds."""
    xs_all = g.widths if axis == "width" else g.depths
    fixed = (lambda r: r.config.model.depth == g.L_base) if axis == "width" else (lambda r: r.config.model.width == g.n_base)
    mine = [r for r in results if _is_coord(r) and r.config.parameterization == param and fixed(r)]
    by_x = group(mine, lambda r: getattr(r.config.model, axis))
    colors = seq_colors(len(COORD_STEPS), "viridis")
    for t, c in zip(COORD_STEPS, colors):
        per_x = []
        fx, fy, fs = [], [], []
        for x in xs_all:
            vals = []
            for res in by_x.get(x, []):
                v = value(res, "h_rms", f"h{res.config.model.depth}", step=t)
                vals.append(v)
                rows.append({"figure": fig_id, "panel": f"coord-{axis}", "parameterization": param, "width": res.config.model.width,
                             "depth": res.config.model.depth, "seed": res.config.seed, "step": t,
                             "log2_eta_base": math.log2(res.config.base.eta), "quantity": "h_rms(h_L)", "value": v,
                             "diverged_at": res.diverged_at})
                fx.append(x), fy.append(v), fs.append(res.config.seed)
            per_x.append(vals)
        line_with_band(ax, xs_all, per_x, label=f"step {t}", color=c)
        s = slope(fx, fy, fs if len(g.coord_seeds) > 1 else None)
        summary[f"coord.{param}.{axis}.step{t}"] = s
    log2_axis(ax, "x")
    plain_log_y(ax)
    ax.set_xlabel("width n" if axis == "width" else "depth L (blocks)")
    ax.set_ylabel("‖h_L‖_R (last block output)")
    fixed_txt = f"L={g.L_base}" if axis == "width" else f"n={g.n_base}"
    ax.set_title(f"{PARAM_LABELS[param].split(' (')[0]}: coord check vs {axis} ({fixed_txt})")
    note(ax, f"slope at step {COORD_STEPS[-1]}: {fmt_slope(summary[f'coord.{param}.{axis}.step{COORD_STEPS[-1]}'])}",
         loc="upper left")


def _sweep_panel(ax, results, g: Grid, axis: str, param: str, rows: list, summary: dict, fig_id: str) -> dict:
    """Final test loss vs log2 η_base, one curve per width (or depth); best η_base starred; diverged runs as ×."""
    xs_all = g.widths if axis == "width" else g.depths
    fixed = (lambda r: r.config.model.depth == g.L_base) if axis == "width" else (lambda r: r.config.model.width == g.n_base)
    mine = [r for r in results if not _is_coord(r) and r.config.parameterization == param and fixed(r)]
    by_x = group(mine, lambda r: getattr(r.config.model, axis))
    colors = seq_colors(len(xs_all), "viridis")
    argmin: dict[int, float | None] = {}
    diverged_pts = []
    finite_all = []
    for x, c in zip(xs_all, colors):
        by_eta = group(by_x.get(x, []), lambda r: math.log2(r.config.base.eta))
        etas = sorted(by_eta)
        per_eta = []
        for e in etas:
            vals = []
            for res in by_eta[e]:
                v = final_loss(res)
                vals.append(v)
                rows.append({"figure": fig_id, "panel": f"sweep-{axis}", "parameterization": param,
                             "width": res.config.model.width, "depth": res.config.model.depth, "seed": res.config.seed,
                             "step": res.config.steps, "log2_eta_base": e, "quantity": "test_loss", "value": v,
                             "diverged_at": res.diverged_at})
            per_eta.append(vals)
            if all(not np.isfinite(v) for v in vals):
                diverged_pts.append(e)
        means = line_with_band(ax, etas, per_eta, label=f"{'n' if axis == 'width' else 'L'}={x}", color=c)
        finite_all.extend(m for m in means if np.isfinite(m))
        argmin[x] = mark_optimum(ax, etas, means, c)
    ax.set_xlabel("log₂ η_base")
    ax.set_ylabel(f"test loss after {g.steps} steps (MSE)")
    plain_log_y(ax)
    if finite_all:
        lo, hi = min(finite_all), max(finite_all)
        top = hi * 6  # headroom for the argmin note and the legend
        ax.set_ylim(lo / 1.3, top)
        if diverged_pts:
            ax.plot(diverged_pts, [top / 1.15] * len(diverged_pts), **DIVERGED_MARKER, label="diverged (NaN/inf)")
    fixed_txt = f"L={g.L_base}" if axis == "width" else f"n={g.n_base}"
    ax.set_title(f"{PARAM_LABELS[param].split(' (')[0]}: η_base sweep per {axis} ({fixed_txt})")
    best = [v for v in argmin.values() if v is not None]
    spread = (max(best) - min(best)) if best else math.nan
    cells = [f"{'n' if axis == 'width' else 'L'}={x}: {('%g' % v) if v is not None else '—'}" for x, v in argmin.items()]
    table = "\n".join(", ".join(cells[i:i + 2]) for i in range(0, len(cells), 2))
    note(ax, f"★ best log₂η_base:\n{table}\nspread {spread:g} grid steps", loc="upper left")
    summary[f"argmin.{param}.{axis}"] = {str(k): v for k, v in argmin.items()}
    summary[f"argmin_spread.{param}.{axis}"] = spread
    ax.legend(loc="upper right", fontsize=6.5, ncol=2)
    return argmin


def plot(ctx: FigureContext, results: list) -> FigureOutput:
    fig_id = ctx.fig_id
    g = grid(ctx.scale, fig_id)
    rows: list[dict] = []
    summary: dict = {"scale": ctx.scale, "n_base": g.n_base, "L_base": g.L_base, "steps": g.steps,
                     "eta_coord": ETA_COORD}
    if fig_id == "1":
        fig, axes = new_figure(2, 4, panel_w=3.7, panel_h=3.1, title=(
            "Fig. 1: coordinate check and η transfer, SP vs width–depth μP (k≥2), Muon-Kimi (hidden) + AdamW (rest), "
            f"pre-norm RMS, teacher regression [{ctx.scale}]"))
        for row, param in enumerate(PARAMS):
            _coord_panel(axes[row][0], results, g, "width", param, rows, summary, fig_id)
            _coord_panel(axes[row][1], results, g, "depth", param, rows, summary, fig_id)
            _sweep_panel(axes[row][2], results, g, "width", param, rows, summary, fig_id)
            _sweep_panel(axes[row][3], results, g, "depth", param, rows, summary, fig_id)
        share_ylim([axes[0][0], axes[1][0], axes[0][1], axes[1][1]])
        axes[0][0].legend(loc="lower right", fontsize=6.5, ncol=2)
    else:
        fig, axes = new_figure(2, 2, panel_w=4.2, panel_h=3.2, title=(
            f"Fig. 2: no normalisation, depth sweep, SP vs μP (k≥2), Muon-Kimi + AdamW, n={g.n_base} [{ctx.scale}]"))
        for row, param in enumerate(PARAMS):
            _coord_panel(axes[row][0], results, g, "depth", param, rows, summary, fig_id)
            _sweep_panel(axes[row][1], results, g, "depth", param, rows, summary, fig_id)
            div = [r for r in results if not _is_coord(r) and r.config.parameterization == param]
            summary[f"diverged_fraction.{param}"] = {
                str(L): float(np.mean([r.diverged_at is not None for r in div if r.config.model.depth == L]))
                for L in g.depths}
        share_ylim([axes[0][0], axes[1][0]])
        axes[0][0].legend(loc="lower right", fontsize=6.5, ncol=2)
    for ax_row in axes:
        for ax in ax_row:
            ax.tick_params(labelsize=7.5)
    return FigureOutput(fig, rows, summary)


SPECS = {
    "1": FigureSpec("1", "coord check (‖h_L‖_R vs width, depth) + η_base transfer, SP vs μP k≥2, Muon-Kimi-AdamW, pre-norm",
                    build, plot),
    "2": FigureSpec("2", "no normalisation, depth sweep: ‖h_L‖_R and the η_base optimum vs depth, SP vs μP k≥2 (Muon-Kimi-AdamW)",
                    build, plot),
}
