"""Figures 3–6 (Zheng et al. v1; v2 Figs 10–13): the Appendix-G assumptions measured across depth.

Setting (digest §7.3, at --scale paper exactly): Eq. 28 ReLU residual MLP (`ModelConfig.eq28`), d0 = 3072, n = 256,
d_out = 1, BCE, full-batch GD on the 200-sample two-class set, T = 200, SGD with Table 5 (k ≥ 2, "mup_k2") and
BaseHP(α=1, σ²=2, η=1e-3, n_base=1, L_base=1) (the absolute-n convention), L ∈ {4, …, 256}. Panels: input layer, the
last block's map 1, map 2; curves t = 0, T/2, T. ΔW at t is the single step W_{t+1} − W_t (project decision).

- 3: Assumption G.1 (weights)  ‖W+ΔW‖_R / (‖W‖_R + ‖ΔW‖_R)          expected flat in L, near 1
- 4: Assumption G.1 (features) ‖h+Δh‖_R / (‖h‖_R + ‖Δh‖_R), h = the layer's output φ(W u)   flat, near 1
- 5: Assumption G.2            ‖φ(W h)‖_R / ‖W h‖_R                 flat (≈ 1/√2 for symmetric pre-activations)
- 6: Assumption G.3            mean_i ‖(1/B) ΔW^(i) h_i‖_R / ‖ΔW h_i‖_R   flat

All four figures share the same runs (one grid, cached once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from figures.plotting import line_with_band, log2_axis, new_figure, note, reference_line, seq_colors
from figures.registry import FigureContext, FigureOutput, FigureSpec
from figures.scales import dtype_for, pick
from figures.zheng_common import fmt_slope, group, slope, value
from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from theory.bridge import BaseHP

PAPER_BASE = BaseHP(alpha=1.0, sigma2=2.0, eta=1e-3, n_base=1, L_base=1)
"""Base HPs of the paper's App. G.2 runs (absolute-n convention)."""


@dataclass(frozen=True)
class Grid:
    width: int
    depths: tuple[int, ...]
    steps: int
    seeds: tuple[int, ...]
    n_samples: int = 200


def grid(scale: str) -> Grid:
    return pick(scale,
                smoke=Grid(width=16, depths=(2, 4, 8, 16), steps=4, seeds=(0,), n_samples=48),
                default=Grid(width=128, depths=(4, 8, 16, 32, 64), steps=100, seeds=(0, 1, 2, 3, 4)),
                paper=Grid(width=256, depths=(4, 8, 16, 32, 64, 128, 256), steps=200, seeds=(0,)))


PANELS = (("input", "input layer (l = 0)"), ("last.1", "block layer 1 (l = L⁽¹⁾, last block)"),
          ("last.2", "block layer 2 (l = L⁽²⁾, last block)"))

FIGS = {
    "3": dict(quantity="g1_weight", ylabel="‖W+ΔW‖_R / (‖W‖_R + ‖ΔW‖_R)", title="Assumption G.1 (weight update)",
              ref=(1.0, "paper: ≈ 1 (no cancellation)"), ylim=(0.0, 1.05)),
    "4": dict(quantity="g1_feature", ylabel="‖h+Δh‖_R / (‖h‖_R + ‖Δh‖_R)", title="Assumption G.1 (feature update)",
              ref=(1.0, "paper: ≈ 1 (no cancellation)"), ylim=(0.0, 1.05)),
    "5": dict(quantity="g2_activation", ylabel="‖φ(Wh)‖_R / ‖Wh‖_R", title="Assumption G.2 (stable activation, ReLU)",
              ref=(1 / math.sqrt(2), "1/√2 (symmetric pre-activations; not from the paper)"), ylim=(0.0, 1.05)),
    "6": dict(quantity="g3_alignment", ylabel="mean_i ‖ΔW⁽ⁱ⁾h_i/B‖_R / ‖ΔW h_i‖_R",
              title="Assumption G.3 (per-sample update alignment)", ref=None, ylim=None),
}
QUANTITIES = ("g1_weight", "g1_feature", "g2_activation", "g3_alignment", "h_rms", "dh_rms")


def _data(ctx: FigureContext, n: int) -> DataConfig:
    if ctx.data == "cifar10":
        return DataConfig(kind="cifar10", n_train=n, data_dir=ctx.data_dir)
    return DataConfig(kind="two_class_standin", n_train=n)


def times(g: Grid) -> tuple[int, int, int]:
    return (0, g.steps // 2, g.steps)


def build(ctx: FigureContext) -> list[RunConfig]:
    g = grid(ctx.scale)
    runs = []
    for L in g.depths:
        layers = ("input", f"block{L}.1", f"block{L}.2", "h0", f"h{L}", "model")
        for seed in g.seeds:
            runs.append(RunConfig(model=ModelConfig.eq28(g.width, L), optim=OptimConfig(name="sgd"),
                                  parameterization="mup_k2", base=PAPER_BASE, data=_data(ctx, g.n_samples), loss="bce",
                                  steps=g.steps, batch_size=g.n_samples, seed=seed, dtype=dtype_for(ctx.scale),
                                  measure_at=times(g), measurements=("loss",) + QUANTITIES, measure_layers=layers))
    return runs


def layer_name(panel: str, depth: int) -> str:
    return "input" if panel == "input" else f"block{depth}.{panel.split('.')[1]}"


def measure(ctx: FigureContext, results: list, quantity: str) -> tuple[list[dict], dict]:
    """Tidy rows (depth, seed, panel, t, value) and per-(panel, t) slopes vs depth and mean levels."""
    g = grid(ctx.scale)
    rows, summary = [], {}
    by_depth = group(results, lambda r: r.config.model.depth)
    for panel, _ in PANELS:
        for t in times(g):
            xs, ys, seeds = [], [], []
            for L in g.depths:
                for res in by_depth.get(L, []):
                    v = value(res, quantity, layer_name(panel, L), step=t)
                    rows.append({"figure_quantity": quantity, "panel": panel, "layer": layer_name(panel, L),
                                 "depth": L, "width": g.width, "seed": res.config.seed, "step": t, "value": v,
                                 "diverged_at": res.diverged_at})
                    xs.append(L), ys.append(v), seeds.append(res.config.seed)
            s = slope(xs, ys, seeds if len(g.seeds) > 1 else None)
            finite = [y for y in ys if np.isfinite(y)]
            summary[f"{panel}.t{t}"] = {**s, "mean": float(np.mean(finite)) if finite else math.nan,
                                        "min": float(np.min(finite)) if finite else math.nan,
                                        "max": float(np.max(finite)) if finite else math.nan}
    return rows, summary


def _plot(fig_id: str):
    spec = FIGS[fig_id]

    def plot(ctx: FigureContext, results: list) -> FigureOutput:
        g = grid(ctx.scale)
        rows, summary = measure(ctx, results, spec["quantity"])
        data_name = "CIFAR-10 airplane/automobile" if ctx.data == "cifar10" else "two-class stand-in set"
        fig, axes = new_figure(1, 3, panel_w=3.6, panel_h=3.0, title=(
            f"Fig. {fig_id}: {spec['title']} — Eq. 28 ReLU MLP, n={g.width}, SGD Table 5 (μP k≥2), "
            f"full-batch GD, {data_name}, T={g.steps}, {len(g.seeds)} seed(s) [{ctx.scale}]"))
        colors = seq_colors(3, "plasma")
        for ax, (panel, ptitle) in zip(axes[0], PANELS):
            lines = []
            for (t, name), c in zip(zip(times(g), ("initial, t=0", "intermediate, t=T/2", "final, t=T")), colors):
                per_x = [[r["value"] for r in rows if r["panel"] == panel and r["step"] == t and r["depth"] == L]
                         for L in g.depths]
                line_with_band(ax, g.depths, per_x, label=f"{name}={t}" if t else name, color=c)
                lines.append(f"t={t}: slope {fmt_slope(summary[f'{panel}.t{t}'])}")
            if spec["ref"] is not None:
                reference_line(ax, spec["ref"][0], spec["ref"][1])
            log2_axis(ax, "x")
            ax.set_xlabel("depth L (number of blocks)")
            ax.set_ylabel(spec["ylabel"])
            ax.set_title(ptitle)
            if spec["ylim"] is not None:
                ax.set_ylim(*spec["ylim"])
            else:
                ax.set_ylim(bottom=0)
            note(ax, "log-log slope vs L (95% CI)\n" + "\n".join(lines), loc="lower right")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=7.5)
        summary = {"quantity": spec["quantity"], "scale": ctx.scale, "width": g.width, "depths": g.depths,
                   "steps": g.steps, "seeds": g.seeds, "fits": summary,
                   "max_abs_slope": max(abs(v["slope"]) for v in summary.values() if np.isfinite(v["slope"]))}
        return FigureOutput(fig, rows, summary)

    return plot


SPECS = {
    fid: FigureSpec(fid, f"{FIGS[fid]['title']}: ratio vs depth L (Eq. 28 ReLU MLP, SGD μP k≥2, full-batch GD)",
                    build, _plot(fid))
    for fid in ("3", "4", "5", "6")
}
