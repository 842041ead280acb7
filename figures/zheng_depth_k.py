"""Figure "depth-k" (Zheng et al. v2 Fig. 2 and Takeaway 3, synthetic analogue): depth transfer of η_base under the
k = 1 rule (Condition B.1, Depth-μP-style, α ∝ 1/√L, "mup_k1") versus the k ≥ 2 rule (Condition 3.1, CompleteP-style,
α ∝ 1/L, "mup_k2"), on the same depth sweep of a k = 2 residual MLP (pre-norm RMS, ReLU, teacher regression), for
AdamW and Muon-Kimi-AdamW. The paper finds the k = 1 optimum drifting to larger η with depth and the k ≥ 2 one fixed.

Rows: optimizers. Columns: loss vs log₂ η_base per depth under k ≥ 2, the same under k = 1, the sub-grid optimum vs
depth and the transfer regret vs depth for both rules (figures.transfer_metric). Schedule, batch, steps and seeds
are Fig. 1's (figures.zheng_transfer.grid); sweeps are extended at an edge optimum (figures.sweep_extension).
"""

from __future__ import annotations

import math
from dataclasses import replace

from figures.plotting import new_figure
from figures.zheng_verdicts import depth_k_claims
from figures.spec import FigureContext, FigureOutput, FigureSpec
from figures.scales import pick
from figures.sweep_panels import analyse, draw_optima, draw_regret, draw_sweep, summarise, sweeps
from figures.zheng_transfer import OPTIM as MUON_KIMI_ADAMW, _run, grid as fig1_grid
from figures.zheng_common import final_loss
from figures.sweep_extension import edge_extensions
from synthetic.config import OptimConfig

OPTIMIZERS = {"adamw": OptimConfig(name="adamw", betas=(0.9, 0.95)), "muon_kimi_adamw": MUON_KIMI_ADAMW}
"""AdamW with the paper's β = (0.9, 0.95); Muon-Kimi-AdamW as in Figs 1–2 (App. E)."""
OPT_LABELS = {"adamw": "AdamW", "muon_kimi_adamw": "Muon-Kimi-AdamW"}
PARAMS = ("mup_k2", "mup_k1")


def _grid(scale: str):
    g = fig1_grid(scale, "1")
    depths = pick(scale, smoke=(2, 4, 8), default=(4, 8, 16, 32), paper=(4, 8, 16, 32, 64, 128, 256))
    return replace(g, widths=(g.n_base,), depths=depths)


def build(ctx: FigureContext) -> list:
    g = _grid(ctx.scale)
    runs = []
    for optim in OPTIMIZERS.values():
        for param in PARAMS:
            for depth in g.depths:
                for e in g.log2_etas:
                    for seed in g.sweep_seeds:
                        r = _run(ctx, g, width=g.n_base, depth=depth, param=param, log2_eta=e, seed=seed, norm="rms",
                                 coord=False)
                        runs.append(replace(r, optim=optim))
    return runs


def extend(ctx: FigureContext, results: list) -> list:
    return edge_extensions(results, loss=final_loss)


def plot(ctx: FigureContext, results: list) -> FigureOutput:
    g = _grid(ctx.scale)
    rows: list[dict] = []
    summary: dict = {"scale": ctx.scale, "n_base": g.n_base, "L_base": g.L_base, "steps": g.steps, "batch": g.batch,
                     "warmup": g.warmup, "sweep_seeds": list(g.sweep_seeds), "optimizers": list(OPTIMIZERS)}
    fig, axes = new_figure(len(OPTIMIZERS), 4, panel_w=3.9, panel_h=3.2, title=(
        f"depth-k: η_base transfer over depth, k≥2 rule (α∝1/L) vs k=1 rule (α∝1/√L), n={g.n_base}, pre-norm, "
        f"warmup+cosine, batch {g.batch} [{ctx.scale}]"))
    for row, (name, optim) in enumerate(OPTIMIZERS.items()):
        analyses = {}
        for col, param in enumerate(PARAMS):
            mine = [r for r in results if r.config.optim == optim and r.config.parameterization == param]
            for res in mine:
                rows.append({"figure": "depth-k", "optimizer": name, "parameterization": param,
                             "width": res.config.model.width, "depth": res.config.model.depth, "seed": res.config.seed,
                             "log2_eta_base": math.log2(res.config.base.eta), "quantity": "test_loss", "value": final_loss(res),
                             "diverged_at": res.diverged_at})
            by_depth = sweeps(mine, lambda r: r.config.model.depth)
            an = analyse(by_depth, g.L_base)
            analyses[param] = an
            rule = "k≥2 rule (α∝1/L)" if param == "mup_k2" else "k=1 rule (α∝1/√L)"
            draw_sweep(axes[row][col], by_depth, an, symbol="L", ylabel=f"test loss after {g.steps} steps (MSE)",
                       title=f"{OPT_LABELS[name]}, μP {rule}")
            summary[f"transfer.{name}.{param}.depth"] = an
            summary[f"transfer_summary.{name}.{param}.depth"] = summarise(an, g.L_base)
        draw_optima(axes[row][2], analyses, g.depths, axis="depth")
        draw_regret(axes[row][3], analyses, g.depths, axis="depth")
    for ax_row in axes:
        for ax in ax_row:
            ax.tick_params(labelsize=7.5)
    return FigureOutput(fig, rows, summary)


SPECS = {
    "depth-k": FigureSpec("depth-k", "η_base transfer over depth, μP k=1 rule (Depth-μP-style) vs k≥2 rule "
                                     "(CompleteP-style), AdamW and Muon-Kimi-AdamW, with optima and regret",
                          build, plot, extend, depth_k_claims),
}
