"""Figures "v2-shampoo" and "v2-sophia" (Zheng et al. v2 Figs 6 and 8, synthetic analogue): learning-rate transfer,
SP vs width–depth μP (k ≥ 2, "mup_k2"), for Shampoo on the hidden matrices + AdamW elsewhere ("shampoo_adamw", Tables 4
and 6) and for Sophia on every parameter ("sophia", Table 6).

Rows: the width sweep (L = L_base) and the depth sweep (n = n_base). Columns: final test loss vs log₂ η_base per shape
under μP, the same under SP, the sub-grid optimum vs shape and the transfer regret vs shape for both
(figures.transfer_metric, bootstrap intervals over seeds), as Fig. 1 (c, d) does for Muon-Kimi-AdamW. The paper finds
μP's optimum fixed over width and depth for both optimizers, SP's drifting over width (Sophia by ≈ 3 octaves, Table 36)
and SP's loss rising with depth (Figs 6, 8).

Model, task, schedule, batch, steps and seeds are Fig. 1's (figures.zheng_transfer.grid: pre-norm RMS residual MLP,
k = 2, ReLU, teacher regression, warmup + cosine); a sweep whose optimum sits on its grid's edge is extended
(figures.sweep_extension). Per optimizer, the paper's App. E constants where the engine can express them:

- Shampoo-AdamW: β1 = β2 = 0.95, preconditioner refreshed every step, ε_base = 1e-8 for the width sweep and 1e-5 for
  the depth sweep (App. E), so the base shape is trained once per sweep. The engine gives a hybrid one OptimConfig
  and one η_base: its AdamW part shares β = (0.95, 0.95), η_base and ε_base, where the paper runs AdamW at 2·η_base
  with β = (0.9, 0.95) and ε = 1e-16.
- Sophia: β = (0.965, 0.99), ρ = 0.05, Hessian (GNB) estimate every 10 steps (App. E; ρ and k fixed by
  synthetic.rules.sophia); ε is only a division guard.

Starting η grids (`SETUPS`): the default-scale grids are the five octaves centred on the best point of a coarse probe
(seed 0, log₂ η every other octave: Shampoo-AdamW −12…−2, Sophia −16…−4; SP and μP at L = 4 with n = 32, 64 and the
widest default width, and at n = 64 with L = 4 and 32; default steps, batch and schedule). Shampoo-AdamW's best point
was −4 at every shape (μP at L = 32: −6, level with −4), Sophia's −8 at every shape but SP at n = 256 (−12, where SP's
loss is ≈ 7× μP's): grids −6…−2 and −10…−6, the extension walking any edge optimum (such as Sophia SP at n = 256).
The paper scale uses App. E's grids (the union of the width and depth grids, SP and μP), the smoke scale every other
octave of the default grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from figures.zheng_verdicts import v2_claims
from figures.plotting import PARAM_LABELS, new_figure, note
from figures.scales import pick
from figures.spec import FigureContext, FigureOutput, FigureSpec
from figures.sweep_extension import edge_extensions
from figures.sweep_panels import analyse, draw_optima, draw_regret, draw_sweep, summarise, sweeps
from figures.zheng_common import final_loss
from figures.zheng_transfer import Grid, _run, grid as fig1_grid
from synthetic.config import OptimConfig

PARAMS = ("mup_k2", "sp")
AXES = ("width", "depth")


@dataclass(frozen=True)
class Setup:
    """One optimizer's figure: the engine optimizer with its Θ(1) constants, ε_base per sweep axis, and the starting
    log₂ η_base grid per scale."""

    label: str
    paper_fig: str
    optim: OptimConfig
    eps_width: float
    eps_depth: float
    smoke_etas: tuple[int, ...]
    default_etas: tuple[int, ...]
    paper_etas: tuple[int, ...]
    default_widths: tuple[int, ...] | None = None
    """The default scale's widths when not Fig. 1's (32…256)."""

    def eps(self, axis: str) -> float:
        return self.eps_width if axis == "width" else self.eps_depth

    def etas(self, scale: str) -> tuple[int, ...]:
        return pick(scale, smoke=self.smoke_etas, default=self.default_etas, paper=self.paper_etas)


SETUPS: dict[str, Setup] = {
    "v2-shampoo": Setup("Shampoo-AdamW", "6", OptimConfig(name="shampoo_adamw", betas=(0.95, 0.95)),
                        eps_width=1e-8, eps_depth=1e-5, smoke_etas=(-6, -4, -2), default_etas=(-6, -5, -4, -3, -2),
                        paper_etas=tuple(range(-8, -2)), default_widths=(32, 64, 128)),
    "v2-sophia": Setup("Sophia", "8", OptimConfig(name="sophia", betas=(0.965, 0.99)),
                       eps_width=1e-8, eps_depth=1e-8, smoke_etas=(-10, -8, -6), default_etas=(-10, -9, -8, -7, -6),
                       paper_etas=tuple(range(-16, -9))),
}
"""Figure id -> its optimizer setup (App. E constants; grids: the module docstring). Shampoo-AdamW's default widths
stop at 128: its per-step eigendecompositions make the 40 runs of width 256 alone cost ≈ 5 min at one CPU thread
(measured ≈ 7.8 s per run, against ≈ 1.5 s at width 128), beyond the default scale's few minutes per figure. From an
empty cache at one thread the default scale took 6.5 min for v2-shampoo (280 runs) and 2.2 min for v2-sophia (284)."""


def grid(scale: str, fig_id: str) -> Grid:
    """Fig. 1's grid (widths, depths, steps, batch, warmup, seeds) with this optimizer's starting η grid."""
    g, setup = fig1_grid(scale, "1"), SETUPS[fig_id]
    g = replace(g, log2_etas=setup.etas(scale))
    if scale == "default" and setup.default_widths is not None:
        g = replace(g, widths=setup.default_widths)
    return g


def _shapes(g: Grid, axis: str) -> list[tuple[int, int]]:
    return [(n, g.L_base) for n in g.widths] if axis == "width" else [(g.n_base, L) for L in g.depths]


def build(ctx: FigureContext) -> list:
    setup, g = SETUPS[ctx.fig_id], grid(ctx.scale, ctx.fig_id)
    runs = []
    for axis in AXES:
        for width, depth in _shapes(g, axis):
            for param in PARAMS:
                for e in g.log2_etas:
                    for seed in g.sweep_seeds:
                        r = _run(ctx, g, width=width, depth=depth, param=param, log2_eta=e, seed=seed, norm="rms",
                                 coord=False)
                        runs.append(replace(r, optim=setup.optim, base=replace(r.base, eps=setup.eps(axis))))
    return list(dict.fromkeys(runs))


def extend(ctx: FigureContext, results: list) -> list:
    return edge_extensions(results, loss=final_loss)


def _on_axis(res, g: Grid, setup: Setup, axis: str) -> bool:
    m = res.config.model
    on = m.depth == g.L_base if axis == "width" else m.width == g.n_base
    return on and res.config.base.eps == setup.eps(axis)


def plot(ctx: FigureContext, results: list) -> FigureOutput:
    fig_id, setup, g = ctx.fig_id, SETUPS[ctx.fig_id], grid(ctx.scale, ctx.fig_id)
    rows: list[dict] = []
    summary: dict = {"scale": ctx.scale, "optimizer": setup.optim.name, "n_base": g.n_base, "L_base": g.L_base,
                     "steps": g.steps, "batch": g.batch, "warmup": g.warmup, "sweep_seeds": list(g.sweep_seeds),
                     "eps_base": {a: setup.eps(a) for a in AXES}}
    fig, axes = new_figure(2, 4, panel_w=3.9, panel_h=3.2, title=(
        f"{fig_id}: η_base transfer, SP vs μP (k≥2), {setup.label} (v2 Fig. {setup.paper_fig} analogue), pre-norm RMS, "
        f"teacher regression, warmup+cosine, batch {g.batch}, {g.steps} steps [{ctx.scale}]"))
    for row, axis in enumerate(AXES):
        symbol, base = ("n", g.n_base) if axis == "width" else ("L", g.L_base)
        fixed = f"L={g.L_base}" if axis == "width" else f"n={g.n_base}"
        analyses = {}
        for col, param in enumerate(PARAMS):
            mine = [r for r in results if r.config.parameterization == param and _on_axis(r, g, setup, axis)]
            for res in mine:
                rows.append({"figure": fig_id, "panel": f"sweep-{axis}", "optimizer": setup.optim.name,
                             "parameterization": param, "width": res.config.model.width,
                             "depth": res.config.model.depth, "seed": res.config.seed,
                             "eps_base": res.config.base.eps, "log2_eta_base": math.log2(res.config.base.eta),
                             "quantity": "test_loss", "value": final_loss(res), "diverged_at": res.diverged_at})
            by_shape = sweeps(mine, lambda r, a=axis: getattr(r.config.model, a))
            an = analyse(by_shape, base)
            analyses[param] = an
            draw_sweep(axes[row][col], by_shape, an, symbol=symbol, ylabel=f"test loss after {g.steps} steps (MSE)",
                       title=f"{PARAM_LABELS[param].split(' (')[0]}: η_base sweep per {axis} ({fixed})")
            cells = [f"{symbol}={x}: {an[str(x)]['optimum']['value']:.2f}" if str(x) in an else f"{symbol}={x}: —"
                     for x in by_shape]
            note(axes[row][col], "★ sub-grid optimum log₂η:\n"
                 + "\n".join(", ".join(cells[i:i + 2]) for i in range(0, len(cells), 2)), loc="upper left")
            summary[f"transfer.{param}.{axis}"] = an
            summary[f"transfer_summary.{param}.{axis}"] = summarise(an, base)
        shapes = g.widths if axis == "width" else g.depths
        draw_optima(axes[row][2], analyses, shapes, axis=axis)
        draw_regret(axes[row][3], analyses, shapes, axis=axis)
    for ax_row in axes:
        for ax in ax_row:
            ax.tick_params(labelsize=7.5)
    return FigureOutput(fig, rows, summary)


SPECS = {
    fid: FigureSpec(fid, f"η_base transfer over width and depth with sub-grid optima and regret, SP vs μP k≥2, "
                         f"{s.label} (v2 Fig. {s.paper_fig} analogue), pre-norm", build, plot, extend,
                    v2_claims(fid, s.label))
    for fid, s in SETUPS.items()
}
