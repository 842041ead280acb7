"""Figures 1 and 2 (Zheng et al. v2 Figs 1 and 3, synthetic analogue): coordinate check and learning-rate transfer,
SP vs width–depth μP (k ≥ 2, "mup_k2"), Muon-Kimi on hidden matrices + AdamW elsewhere (Tables 1 and 6).

Task: teacher regression (synthetic.data "teacher_regression", fresh batches every step, clean test set), MSE.
Model: residual MLP with k = 2 maps per block, ReLU; Fig. 1 with a pre-norm (RMSNorm, no gain), Fig. 2 without.

- 1: (a) ‖h_L‖_R vs width at steps 5–10, (b) vs depth, (c) final test loss vs η_base per width, (d) per depth;
     rows μP and SP; a third row compares them: the sub-grid optimum vs width and depth and the transfer regret
     (figures.transfer_metric, bootstrap intervals over seeds).
- 2: no normalisation, depth sweep: (a) ‖h_L‖_R vs depth at steps 5–10, (b) final test loss vs η_base per depth
     (diverged runs as × at the top), then the optimum and the regret vs depth, μP beside SP.

The coordinate-check runs go on past step 10 (slopes at every measured step, `coord.<param>.<axis>.step<t>`), and at
step 0 the fit ‖h_L‖²_R = A + c/L (zheng_common.inverse_depth_fit) shows the part of a k ≥ 2 depth slope that is there
before any training. The sweeps use the paper's warmup + cosine schedule; a sweep whose optimum sits on the grid's
edge is extended (figures.sweep_extension) until it is bracketed or the next step diverges.

Base HPs (tuned-at-base choices, the analogue of the paper's App. E): every multiplier/init/lr comes from
theory.bridge via the engine; SP and μP coincide at (n_base, L_base).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from figures.plotting import PARAM_LABELS, line_with_band, log2_axis, new_figure, note, plain_log_y, seq_colors, share_ylim
from figures.spec import FigureContext, FigureOutput, FigureSpec
from figures.scales import dtype_for, pick
from figures.sweep_extension import edge_extensions
from figures.sweep_panels import analyse, draw_optima, draw_regret, draw_sweep, summarise, sweeps
from figures.zheng_verdicts import fig1_claims, fig2_claims
from figures.zheng_common import final_loss, fmt_slope, group, inverse_depth_fit, slope, value
from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from synthetic.schedule import ScheduleConfig
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
"""The paper's coordinate-check steps (the curves drawn)."""
PARAMS = ("mup_k2", "sp")
COORD_BATCH = 8


@dataclass(frozen=True)
class Grid:
    n_base: int
    L_base: int
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    log2_etas: tuple[int, ...]
    """The starting η grid of every sweep (extended at an edge optimum)."""
    steps: int
    batch: int
    coord_seeds: tuple[int, ...]
    sweep_seeds: tuple[int, ...]
    coord_measure: tuple[int, ...] = (0, *COORD_STEPS)
    """Steps at which the coordinate-check runs record ‖h_L‖_R; the run lasts until the last one."""
    warmup: int = 0

    @property
    def schedule(self) -> ScheduleConfig:
        """Linear warmup from 0.1 of η over `warmup` steps, cosine decay to 1% of η (paper App. E: 120 of 1221
        iterations warmup, cosine to 3e-5; the relative floor is our choice)."""
        return ScheduleConfig(warmup_steps=self.warmup, warmup_start=0.1, decay="cosine", floor=0.01)


def grid(scale: str, fig_id: str) -> Grid:
    """Default scale: 4 seeds × batch 128 × 100 steps per sweep point, the samples per run that make the η curves
    decisive on this setting (at batch 32 they are flat within seed noise); warmup 10 steps. The starting η grids
    are centred where a first run with the grid −10…−6 found the optima after extension (log₂ η ≈ −5 with the
    pre-norm); extension still moves any sweep whose optimum lies on an edge."""
    long_coord = (0, *COORD_STEPS, 30, 100, 300)
    if fig_id == "1":
        return pick(scale,
                    smoke=Grid(16, 2, (16, 32, 64), (2, 4, 8), (-9, -7, -5), 20, 16, (0, 1), (0, 1),
                               (0, *COORD_STEPS, 20), 2),
                    default=Grid(64, 4, (32, 64, 128, 256), (4, 8, 16, 32), (-7, -6, -5, -4, -3), 100, 128,
                                 (0, 1, 2, 3, 4), (0, 1, 2, 3), long_coord, 10),
                    paper=Grid(256, 4, (128, 256, 512, 1024, 2048, 4096), (4, 8, 16, 32, 64, 128, 256),
                               (-10, -9, -8, -7, -6, -5), 1221, 240, (1, 2, 3), (0, 1, 2), long_coord, 120))
    return pick(scale,
                smoke=Grid(16, 2, (16,), (2, 4, 8), (-10, -8, -6), 20, 16, (0, 1), (0, 1), (0, *COORD_STEPS, 20), 2),
                default=Grid(64, 2, (64,), (2, 4, 8, 16, 32), (-9, -8, -7, -6, -5), 100, 128,
                             (0, 1, 2, 3, 4), (0, 1, 2, 3), long_coord, 10),
                paper=Grid(256, 4, (256,), (4, 8, 16, 32, 64, 128, 256), tuple(range(-13, -6)), 1221, 240,
                           (1, 2, 3), (0, 1, 2), long_coord, 120))


def _run(ctx: FigureContext, g: Grid, *, width: int, depth: int, param: str, log2_eta: float, seed: int, norm: str,
         coord: bool) -> RunConfig:
    base = BaseHP(alpha=ALPHA_BASE, sigma2=SIGMA2_BASE, sigma2_input=SIGMA2_INPUT, eta=2.0 ** log2_eta,
                  n_base=g.n_base, L_base=g.L_base)
    if coord:
        steps, batch, schedule = max(g.coord_measure), COORD_BATCH, ScheduleConfig()
        meas, at, layers = ("loss", "h_rms"), g.coord_measure, ("h0", f"h{depth}", "model")
    else:
        steps, batch, schedule = g.steps, g.batch, g.schedule
        meas, at, layers = ("loss", "test_loss"), (g.steps,), ("model",)
    return RunConfig(model=ModelConfig(width=width, depth=depth, k=2, d_in=D_IN, d_out=1, activation="relu", norm=norm),
                     optim=OPTIM, parameterization=param, base=base, data=DataConfig(kind="teacher_regression"),
                     loss="mse", steps=steps, batch_size=batch, seed=seed, dtype=dtype_for(ctx.scale),
                     measure_at=at, measurements=meas, measure_layers=layers, schedule=schedule)


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
                                 seed=seed, norm=norm, coord=True))
            for e in g.log2_etas:
                for seed in g.sweep_seeds:
                    runs.append(_run(ctx, g, width=width, depth=depth, param=param, log2_eta=e, seed=seed, norm=norm,
                                     coord=False))
    return runs


def _is_coord(res) -> bool:
    return "h_rms" in res.config.measurements


def extend(ctx: FigureContext, results: list) -> list[RunConfig]:
    """One more η beyond the edge of every sweep whose optimum sits there (figures.sweep_extension)."""
    return edge_extensions([r for r in results if not _is_coord(r)], loss=final_loss)


def _coord_panel(ax, results, g: Grid, axis: str, param: str, rows: list, summary: dict, fig_id: str) -> None:
    """‖h_L‖_R vs width (axis="width") or depth, one curve per step 5..10, bands over seeds; the slopes at every
    measured step (init and the whole run too) go to the summary."""
    xs_all = g.widths if axis == "width" else g.depths
    fixed = (lambda r: r.config.model.depth == g.L_base) if axis == "width" else (lambda r: r.config.model.width == g.n_base)
    mine = [r for r in results if _is_coord(r) and r.config.parameterization == param and fixed(r)]
    by_x = group(mine, lambda r: getattr(r.config.model, axis))
    drawn = dict(zip(COORD_STEPS, seq_colors(len(COORD_STEPS), "viridis")))
    for t in g.coord_measure:
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
        if t in drawn:
            line_with_band(ax, xs_all, per_x, label=f"step {t}", color=drawn[t])
        summary[f"coord.{param}.{axis}.step{t}"] = slope(fx, fy, fs if len(g.coord_seeds) > 1 else None)
    if axis == "depth":
        ds, ys, ss, h0 = [], [], [], []
        for res in mine:
            L = res.config.model.depth
            ds.append(L), ss.append(res.config.seed)
            ys.append(value(res, "h_rms", f"h{L}", step=0) ** 2)
            h0.append(value(res, "h_rms", "h0", step=0) ** 2)
        fit = inverse_depth_fit(ds, ys, ss)
        fit["h0_sq_mean"] = float(np.nanmean(h0)) if h0 else math.nan
        summary[f"coord_init_fit.{param}"] = fit
    log2_axis(ax, "x")
    plain_log_y(ax)
    ax.set_xlabel("width n" if axis == "width" else "depth L (blocks)")
    ax.set_ylabel("‖h_L‖_R (last block output)")
    fixed_txt = f"L={g.L_base}" if axis == "width" else f"n={g.n_base}"
    ax.set_title(f"{PARAM_LABELS[param].split(' (')[0]}: coord check vs {axis} ({fixed_txt})", fontsize=9)
    last = max(g.coord_measure)
    text = (f"slope, step {COORD_STEPS[-1]}: {fmt_slope(summary[f'coord.{param}.{axis}.step{COORD_STEPS[-1]}'])}\n"
            f"step 0: {fmt_slope(summary[f'coord.{param}.{axis}.step0'])}; "
            f"step {last}: {fmt_slope(summary[f'coord.{param}.{axis}.step{last}'])}")
    if axis == "depth":
        f = summary[f"coord_init_fit.{param}"]
        text += (f"\ninit: ‖h_L‖² = {f['A']:.3g} + {f['c']:.3g}/L (c ∈ [{f['c_lo']:.3g}, {f['c_hi']:.3g}]); "
                 f"‖h0‖² = {f['h0_sq_mean']:.3g}")
    note(ax, text, loc="upper left")


def _sweep(results, g: Grid, axis: str, param: str, rows: list, fig_id: str) -> tuple[dict, dict]:
    """The sweeps of one parameterization along one axis (shape -> Sweep) and their transfer analysis."""
    fixed = (lambda r: r.config.model.depth == g.L_base) if axis == "width" else (lambda r: r.config.model.width == g.n_base)
    mine = [r for r in results if not _is_coord(r) and r.config.parameterization == param and fixed(r)]
    for res in mine:
        rows.append({"figure": fig_id, "panel": f"sweep-{axis}", "parameterization": param,
                     "width": res.config.model.width, "depth": res.config.model.depth, "seed": res.config.seed,
                     "step": res.config.steps, "log2_eta_base": math.log2(res.config.base.eta),
                     "quantity": "test_loss", "value": final_loss(res), "diverged_at": res.diverged_at})
    by_shape = sweeps(mine, lambda r: getattr(r.config.model, axis))
    return by_shape, analyse(by_shape, g.n_base if axis == "width" else g.L_base)


def _transfer_panels(axes_by_param: dict, ax_opt, ax_regret, results, g: Grid, axis: str, rows: list, summary: dict,
                     fig_id: str) -> None:
    analyses = {}
    symbol = "n" if axis == "width" else "L"
    fixed_txt = f"L={g.L_base}" if axis == "width" else f"n={g.n_base}"
    for param, ax in axes_by_param.items():
        by_shape, an = _sweep(results, g, axis, param, rows, fig_id)
        analyses[param] = an
        draw_sweep(ax, by_shape, an, symbol=symbol, ylabel=f"test loss after {g.steps} steps (MSE)",
                   title=f"{PARAM_LABELS[param].split(' (')[0]}: η_base sweep per {axis} ({fixed_txt})")
        summary[f"transfer.{param}.{axis}"] = an
        summary[f"transfer_summary.{param}.{axis}"] = summarise(an, g.n_base if axis == "width" else g.L_base)
        cells = [f"{symbol}={x}: {an[str(x)]['optimum']['value']:.2f}" if str(x) in an else f"{symbol}={x}: —"
                 for x in by_shape]
        note(ax, "★ sub-grid optimum log₂η:\n" + "\n".join(", ".join(cells[i:i + 2]) for i in range(0, len(cells), 2)),
             loc="upper left")
    shapes = g.widths if axis == "width" else g.depths
    draw_optima(ax_opt, analyses, shapes, axis=axis)
    draw_regret(ax_regret, analyses, shapes, axis=axis)


def plot(ctx: FigureContext, results: list) -> FigureOutput:
    fig_id = ctx.fig_id
    g = grid(ctx.scale, fig_id)
    rows: list[dict] = []
    summary: dict = {"scale": ctx.scale, "n_base": g.n_base, "L_base": g.L_base, "steps": g.steps, "batch": g.batch,
                     "warmup": g.warmup, "eta_coord": ETA_COORD, "sweep_seeds": list(g.sweep_seeds)}
    if fig_id == "1":
        fig, axes = new_figure(3, 4, panel_w=3.9, panel_h=3.2, title=(
            "Fig. 1: coordinate check and η transfer, SP vs width–depth μP (k≥2), Muon-Kimi (hidden) + AdamW (rest), "
            f"pre-norm RMS, teacher regression, warmup+cosine, batch {g.batch} [{ctx.scale}]"))
        for row, param in enumerate(PARAMS):
            _coord_panel(axes[row][0], results, g, "width", param, rows, summary, fig_id)
            _coord_panel(axes[row][1], results, g, "depth", param, rows, summary, fig_id)
        _transfer_panels({p: axes[r][2] for r, p in enumerate(PARAMS)}, axes[2][0], axes[2][2], results, g, "width",
                         rows, summary, fig_id)
        _transfer_panels({p: axes[r][3] for r, p in enumerate(PARAMS)}, axes[2][1], axes[2][3], results, g, "depth",
                         rows, summary, fig_id)
        share_ylim([axes[0][0], axes[1][0], axes[0][1], axes[1][1]])
        axes[0][0].legend(loc="lower right", fontsize=6.5, ncol=2)
    else:
        fig, axes = new_figure(2, 3, panel_w=4.2, panel_h=3.3, title=(
            f"Fig. 2: no normalisation, depth sweep, SP vs μP (k≥2), Muon-Kimi + AdamW, n={g.n_base}, "
            f"warmup+cosine, batch {g.batch} [{ctx.scale}]"))
        for row, param in enumerate(PARAMS):
            _coord_panel(axes[row][0], results, g, "depth", param, rows, summary, fig_id)
            div = [r for r in results if not _is_coord(r) and r.config.parameterization == param]
            summary[f"diverged_fraction.{param}"] = {
                str(L): float(np.mean([r.diverged_at is not None for r in div if r.config.model.depth == L]))
                for L in g.depths}
        _transfer_panels({p: axes[r][1] for r, p in enumerate(PARAMS)}, axes[0][2], axes[1][2], results, g, "depth",
                         rows, summary, fig_id)
        share_ylim([axes[0][0], axes[1][0]])
        axes[0][0].legend(loc="lower right", fontsize=6.5, ncol=2)
    for ax_row in axes:
        for ax in ax_row:
            ax.tick_params(labelsize=7.5)
    return FigureOutput(fig, rows, summary)


SPECS = {
    "1": FigureSpec("1", "coord check (‖h_L‖_R vs width, depth) + η_base transfer with sub-grid optima and regret, "
                         "SP vs μP k≥2, Muon-Kimi-AdamW, pre-norm", build, plot, extend, fig1_claims),
    "2": FigureSpec("2", "no normalisation, depth sweep: ‖h_L‖_R and the η_base optimum and regret vs depth, SP vs μP "
                         "k≥2 (Muon-Kimi-AdamW)", build, plot, extend, fig2_claims),
}
