"""Figures 3–6 (Zheng et al. v1; v2 Figs 10–13): the Appendix-G assumptions measured across depth.

Setting (digest §7.3, at --scale paper exactly): Eq. 28 ReLU residual MLP (`ModelConfig.eq28`), d0 = 3072, n = 256,
d_out = 1, BCE, full-batch GD on the 200-sample two-class set, T = 200, SGD with Table 5 (k ≥ 2, "mup_k2") and
BaseHP(α=1, σ²=2, η=1e-3, n_base=1, L_base=1) (the absolute-n convention), L ∈ {4, …, 256}. Panels: input layer, the
last block's map 1, map 2; curves t = 0, T/2, T. ΔW at t is the single step W_{t+1} − W_t (project decision).

Figs 3 and 4 also show whether "near 1" is informative. By the triangle inequality the G.1 ratio is at least
(1 − r)/(1 + r) for an update of relative size r = ‖ΔW‖_R/‖W‖_R (per sample for features; the mean over samples obeys
the same bound, the floor being convex in r), so a tiny update forces the ratio to ≈ 1 whatever the depth. Each of these
two figures therefore has four rows: (a) the single-step ratio, (b) the size of the update it tests (‖ΔW‖_R/‖W‖_R,
resp. ‖Δh‖_R/‖h‖_R), with the size below which the triangle inequality alone forces the ratio above the results
table's level; (c) the same ratio for the cumulative update ΔW = W_t − W_0 (Δh = h(x_t; W_t) − h(x_t; W_0) on the
same batch) at t = T/2 and T, and (d) its size.

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

from figures.zheng_verdicts import assumption_claims
from figures.plotting import line_with_band, log2_axis, new_figure, note, plt, reference_line, seq_colors
from figures.spec import FigureContext, FigureOutput, FigureSpec
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
              ref=(1.0, "paper: ≈ 1 (no cancellation)"), ylim=(0.0, 1.05),
              size="dw_rel", size_label="‖ΔW‖_R / ‖W‖_R", cum="g1_weight_cum", cum_size="dw_cum_rel",
              cum_label="‖W_t‖_R / (‖W_0‖_R + ‖W_t − W_0‖_R)", cum_size_label="‖W_t − W_0‖_R / ‖W_0‖_R", level=0.9),
    "4": dict(quantity="g1_feature", ylabel="‖h+Δh‖_R / (‖h‖_R + ‖Δh‖_R)", title="Assumption G.1 (feature update)",
              ref=(1.0, "paper: ≈ 1 (no cancellation)"), ylim=(0.0, 1.05),
              size="dh_rel", size_label="‖Δh‖_R / ‖h‖_R", cum="g1_feature_cum", cum_size="dh_cum_rel",
              cum_label="‖h_t‖_R / (‖h_0‖_R + ‖h_t − h_0‖_R)", cum_size_label="‖h_t − h_0‖_R / ‖h_0‖_R", level=0.85),
    "5": dict(quantity="g2_activation", ylabel="‖φ(Wh)‖_R / ‖Wh‖_R", title="Assumption G.2 (stable activation, ReLU)",
              ref=(1 / math.sqrt(2), "1/√2 (symmetric pre-activations; not from the paper)"), ylim=(0.0, 1.05)),
    "6": dict(quantity="g3_alignment", ylabel="mean_i ‖ΔW⁽ⁱ⁾h_i/B‖_R / ‖ΔW h_i‖_R",
              title="Assumption G.3 (per-sample update alignment)", ref=None, ylim=None),
}
"""`level` (Figs 3, 4, written to the summary) is the ratio level below which the update is informative: the size
panels, and the claims' detail (figures.zheng_verdicts), mark `informative_above(level)`, the update size below which the triangle inequality alone keeps it above."""
QUANTITIES = ("g1_weight", "g1_feature", "g2_activation", "g3_alignment", "h_rms", "dh_rms",
              "dw_rel", "dh_rel", "g1_weight_cum", "dw_cum_rel", "g1_feature_cum", "dh_cum_rel")


def floor_of(size: float) -> float:
    """The smallest G.1 ratio an update of relative size r allows: ‖W+ΔW‖ ≥ ‖W‖ − ‖ΔW‖ gives (1 − r)/(1 + r)."""
    return (1.0 - size) / (1.0 + size) if np.isfinite(size) else math.nan


def informative_above(level: float) -> float:
    """The relative update size r whose floor (1 − r)/(1 + r) equals `level`: for smaller r the ratio ≥ level is
    implied by the triangle inequality, so measuring it says nothing about cancellation."""
    return (1.0 - level) / (1.0 + level)


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


def measure(ctx: FigureContext, results: list, quantity: str,
            steps: tuple[int, ...] | None = None) -> tuple[list[dict], dict]:
    """Tidy rows (depth, seed, panel, t, value) and per-(panel, t) slopes vs depth and mean/min/max levels, at `steps`
    (default t = 0, T/2, T)."""
    g = grid(ctx.scale)
    rows, summary = [], {}
    by_depth = group(results, lambda r: r.config.model.depth)
    for panel, _ in PANELS:
        for t in (times(g) if steps is None else steps):
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


def _max_abs_slope(fits: dict) -> float:
    finite = [abs(v["slope"]) for v in fits.values() if np.isfinite(v["slope"])]
    return max(finite) if finite else math.nan


def _size_summary(fits: dict) -> dict:
    """Largest update size over panels and times, and the ratio floor (1 − r)/(1 + r) it implies."""
    sizes = [v["max"] for v in fits.values() if np.isfinite(v["max"])]
    largest = max(sizes) if sizes else math.nan
    return {"max": largest, "floor": floor_of(largest)}


def update_summary(ctx: FigureContext, results: list, spec: dict) -> tuple[list[dict], dict]:
    """Figs 3–4: rows and summary keys of the single-step update size and of the cumulative ratio and its size.

    Keys: `size_fits` (‖ΔW‖_R/‖W‖_R per panel and t = 0, T/2, T), `size` (its largest value and the floor it implies),
    `cum_fits` / `cum_max_abs_slope` (the cumulative ratio at t = T/2, T), `cum_size_fits` / `cum_size`."""
    g = grid(ctx.scale)
    late = times(g)[1:]
    rows, size_fits = measure(ctx, results, spec["size"])
    cum_rows, cum_fits = measure(ctx, results, spec["cum"], late)
    cum_size_rows, cum_size_fits = measure(ctx, results, spec["cum_size"], late)
    for fits in (size_fits, cum_size_fits):
        for f in fits.values():
            f["floor"] = floor_of(f["max"])
    out = {"size_quantity": spec["size"], "size_fits": size_fits, "size": _size_summary(size_fits),
           "cum_quantity": spec["cum"], "cum_fits": cum_fits, "cum_max_abs_slope": _max_abs_slope(cum_fits),
           "cum_size_quantity": spec["cum_size"], "cum_size_fits": cum_size_fits, "cum_size": _size_summary(cum_size_fits),
           "level": spec["level"], "informative_above": informative_above(spec["level"])}
    return rows + cum_rows + cum_size_rows, out


def _curves(ax, rows: list[dict], g: Grid, panel: str, steps: tuple[int, ...], fits: dict, colors: dict,
            marker: str = "o", linestyle: str = "-") -> list[str]:
    """One line per t (seed mean with band) for one panel; returns the 'log-log slope' note lines."""
    names = {0: "initial, t=0", g.steps // 2: f"intermediate, t=T/2={g.steps // 2}", g.steps: f"final, t=T={g.steps}"}
    lines = []
    for t in steps:
        per_x = [[r["value"] for r in rows if r["panel"] == panel and r["step"] == t and r["depth"] == L]
                 for L in g.depths]
        line_with_band(ax, g.depths, per_x, label=names[t], color=colors[t], marker=marker, linestyle=linestyle)
        lines.append(f"t={t}: slope {fmt_slope(fits[f'{panel}.t{t}'])}")
    return lines


def _forced_band(ax, size_fits: dict, panel: str) -> None:
    """Shade [floor, 1]: the ratios the triangle inequality allows for the largest update size measured in `panel` (a
    thin band means any measurement would have been ≈ 1)."""
    rs = [f["max"] for k, f in size_fits.items() if k.startswith(f"{panel}.t") and np.isfinite(f["max"])]
    if rs:
        ax.axhspan(floor_of(max(rs)), 1.0, color="0.55", alpha=0.22, linewidth=0, zorder=0,
                   label="ratios the triangle inequality allows, (1 − r)/(1 + r) to 1, for the largest measured update r "
                         "(thin band: ratio forced ≈ 1)")


def _size_axis(ax, fits: dict, panel: str, steps: tuple[int, ...], threshold: float) -> None:
    """Log y axis for an update size, with the size above which the ratio becomes informative, and the levels."""
    ax.set_yscale("log")
    ax.axhline(threshold, color="0.35", linestyle="--", linewidth=1.0, zorder=0,
               label=f"size below which the triangle inequality alone forces the ratio ≥ {floor_of(threshold):.2f} "
                     "(squares, dashed: update sizes)")
    levels = [fits[f"{panel}.t{t}"]["mean"] for t in steps]
    finite = [v for v in levels if np.isfinite(v) and v > 0]
    lo = min([threshold] + finite + [fits[f"{panel}.t{t}"]["min"] for t in steps
                                     if np.isfinite(fits[f"{panel}.t{t}"]["min"]) and fits[f"{panel}.t{t}"]["min"] > 0])
    ax.set_ylim(lo / 3, max([threshold] + finite) * 30)
    ax.text(0.97, 0.96, "mean " + ", ".join(f"t={t}: {fits[f'{panel}.t{t}']['mean']:.1e}" for t in steps)
            + "\nslope vs L " + ", ".join(f"{fits[f'{panel}.t{t}']['slope']:+.2f}" for t in steps),
            transform=ax.transAxes, ha="right", va="top", fontsize=7,
            bbox=dict(boxstyle="round,pad=0.25", facecolor="white", alpha=0.8, edgecolor="0.7"))


def _plot(fig_id: str):
    spec = FIGS[fig_id]

    def plot(ctx: FigureContext, results: list) -> FigureOutput:
        g = grid(ctx.scale)
        rows, summary = measure(ctx, results, spec["quantity"])
        data_name = "CIFAR-10 airplane/automobile" if ctx.data == "cifar10" else "two-class stand-in set"
        title = (f"Fig. {fig_id}: {spec['title']} — Eq. 28 ReLU MLP, n={g.width}, SGD Table 5 (μP k≥2), "
                 f"full-batch GD, {data_name}, T={g.steps}, {len(g.seeds)} seed(s) [{ctx.scale}]")
        updates = "size" in spec
        if updates:
            extra_rows, extra = update_summary(ctx, results, spec)
            fig, axes = plt.subplots(4, 3, figsize=(3.9 * 3, 2.9 + 2.2 + 2.9 + 2.2 + 0.6), squeeze=False,
                                     layout="constrained", sharex="col",
                                     gridspec_kw={"height_ratios": (2.9, 2.2, 2.9, 2.2)})
            fig.suptitle(title, fontsize=10.5)
        else:
            fig, axes = new_figure(1, 3, panel_w=3.6, panel_h=3.0, title=title)
        all_t = times(g)
        colors = dict(zip(all_t, seq_colors(3, "plasma")))
        for j, (panel, ptitle) in enumerate(PANELS):
            ax = axes[0][j]
            lines = _curves(ax, rows, g, panel, all_t, summary, colors)
            if spec["ref"] is not None:
                reference_line(ax, spec["ref"][0], spec["ref"][1])
            ax.set_ylabel(spec["ylabel"] if not updates else "single step (t → t+1):\n" + spec["ylabel"])
            ax.set_title(ptitle)
            if spec["ylim"] is not None:
                ax.set_ylim(*spec["ylim"])
            else:
                ax.set_ylim(bottom=0)
            note(ax, "log-log slope vs L (95% CI)\n" + "\n".join(lines), loc="lower right")
            if updates:
                _forced_band(ax, extra["size_fits"], panel)
                late = all_t[1:]
                ax = axes[1][j]
                _curves(ax, extra_rows_of(extra_rows, spec["size"]), g, panel, all_t, extra["size_fits"], colors,
                        marker="s", linestyle="--")
                _size_axis(ax, extra["size_fits"], panel, all_t, extra["informative_above"])
                ax.set_ylabel(f"single-step update\n{spec['size_label']}")
                ax = axes[2][j]
                cum_lines = _curves(ax, extra_rows_of(extra_rows, spec["cum"]), g, panel, late, extra["cum_fits"],
                                    colors)
                reference_line(ax, 1.0, "")
                _forced_band(ax, extra["cum_size_fits"], panel)
                ax.set_ylim(*spec["ylim"])
                ax.set_ylabel(f"cumulative (0 → t):\n{spec['cum_label']}")
                note(ax, "log-log slope vs L (95% CI)\n" + "\n".join(cum_lines), loc="lower right")
                ax = axes[3][j]
                _curves(ax, extra_rows_of(extra_rows, spec["cum_size"]), g, panel, late, extra["cum_size_fits"],
                        colors, marker="s", linestyle="--")
                _size_axis(ax, extra["cum_size_fits"], panel, late, extra["informative_above"])
                ax.set_ylabel(f"cumulative update\n{spec['cum_size_label']}")
            for ax in axes[:, j]:
                log2_axis(ax, "x")
            axes[-1][j].set_xlabel("depth L (number of blocks)")
        handles, labels = axes[0][0].get_legend_handles_labels()
        if updates:
            h2, l2 = axes[1][0].get_legend_handles_labels()
            i = next(i for i, lab in enumerate(l2) if lab.startswith("size below"))
            handles, labels = handles + [h2[i]], labels + [l2[i]]
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 3 if updates else len(labels)),
                   fontsize=7.5)
        summary = {"quantity": spec["quantity"], "scale": ctx.scale, "width": g.width, "depths": g.depths,
                   "steps": g.steps, "seeds": g.seeds, "fits": summary, "max_abs_slope": _max_abs_slope(summary)}
        if updates:
            summary.update(extra)
            rows = rows + extra_rows
        return FigureOutput(fig, rows, summary)

    return plot


def extra_rows_of(rows: list[dict], quantity: str) -> list[dict]:
    return [r for r in rows if r["figure_quantity"] == quantity]


SPECS = {
    fid: FigureSpec(fid, f"{FIGS[fid]['title']}: ratio vs depth L (Eq. 28 ReLU MLP, SGD μP k≥2, full-batch GD)",
                    build, _plot(fid), claims=assumption_claims(fid))
    for fid in ("3", "4", "5", "6")
}
