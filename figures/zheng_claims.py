"""Claims E.1 and E.2 (Zheng et al. v1 App. E = v2 Claims F.1/F.2): submultiplicativity is tight.

- e1: at init, ‖W2 W1 h‖_R / (‖W2‖_R ‖W1‖_R ‖h‖_R) vs width, n_l/n ∈ {1, 4} (`hidden_ratio`). Expected Θ(1), flat in
  width. For Gaussian W the large-width value is √ρ/(1+√ρ)² (ρ = n_l/n; ‖W‖_R from the Bai–Yin edge σ(√m+√n)),
  i.e. 1/4 for ρ = 1 and 2/9 for ρ = 4: drawn as the reference.
- e2: ‖ΔW2 u‖_R / (‖ΔW2‖_R ‖u‖_R) with u = φ(W1 h) the input of the block's last map, after one GD step on a batch
  of 1 (exactly 1: the update is rank one along u), then for batch B, for AdamW, and after several steps.

Model: residual MLP, k = 2, ReLU, no norm, μP k≥2 (mup_k2) from theory.bridge in the absolute-n convention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from figures.zheng_verdicts import e1_claims, e2_claims
from figures.plotting import line_with_band, log2_axis, new_figure, note, reference_line
from figures.spec import FigureContext, FigureOutput, FigureSpec
from figures.scales import dtype_for, pick
from figures.zheng_common import fmt_slope, group, slope, value
from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from theory.bridge import BaseHP

DEPTH = 2
D_IN = 32
HIDDEN_RATIOS = (1.0, 4.0)
E2_STEPS = (0, 1, 2, 5, 10)


@dataclass(frozen=True)
class Grid:
    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    batch: int


def grid(scale: str) -> Grid:
    return pick(scale,
                smoke=Grid(widths=(16, 32, 64, 128), seeds=(0, 1), batch=8),  # e2 uses the first three
                default=Grid(widths=(64, 128, 256, 512, 1024), seeds=(0, 1, 2, 3, 4), batch=16),
                paper=Grid(widths=(64, 128, 256, 512, 1024, 2048, 4096), seeds=(0, 1, 2), batch=16))


def e1_expected(rho: float) -> float:
    """Large-width Gaussian value of the Claim E.1 ratio: √ρ / (1 + √ρ)²."""
    return math.sqrt(rho) / (1.0 + math.sqrt(rho)) ** 2


E2_SETTINGS = {  # name -> (optimizer, batch size key, base η)
    "GD, batch 1": ("sgd", 1, 1e-3),
    "GD, batch B": ("sgd", "B", 1e-3),
    "AdamW, batch 1": ("adamw", 1, 2.0 ** -7),
    "AdamW, batch B": ("adamw", "B", 2.0 ** -7),
}


def _run(scale: str, *, width: int, ratio: float, optim: str, batch: int, eta: float, steps: int, at, q: str,
         seed: int) -> RunConfig:
    base = BaseHP(alpha=1.0, sigma2=1.0, eta=eta, n_base=1, L_base=1)
    return RunConfig(model=ModelConfig(width=width, depth=DEPTH, k=2, d_in=D_IN, d_out=1, activation="relu",
                                       hidden_ratio=ratio),
                     optim=OptimConfig(name=optim), parameterization="mup_k2", base=base,
                     data=DataConfig(kind="teacher_regression"), loss="mse", steps=steps, batch_size=batch, seed=seed,
                     dtype=dtype_for(scale), measure_at=tuple(at), measurements=("loss", q),
                     measure_layers=tuple(f"block{l}" for l in range(1, DEPTH + 1)) + ("model",))


def build_e1(ctx: FigureContext) -> list[RunConfig]:
    g = grid(ctx.scale)
    return [_run(ctx.scale, width=n, ratio=r, optim="sgd", batch=g.batch, eta=1e-3, steps=1, at=(0,), q="claim_e1",
                 seed=s) for r in HIDDEN_RATIOS for n in g.widths for s in g.seeds]


def e2_grid(scale: str) -> Grid:
    g = grid(scale)
    return Grid(widths=g.widths[:3], seeds=g.seeds, batch=g.batch) if scale == "smoke" else g


def build_e2(ctx: FigureContext) -> list[RunConfig]:
    g = e2_grid(ctx.scale)
    runs = []
    for name, (opt, b, eta) in E2_SETTINGS.items():
        for n in g.widths:
            for s in g.seeds:
                runs.append(_run(ctx.scale, width=n, ratio=1.0, optim=opt, batch=g.batch if b == "B" else b, eta=eta,
                                 steps=max(E2_STEPS), at=E2_STEPS, q="claim_e2", seed=s))
    return runs


def _block_mean(res, q: str, step: int) -> float:
    vals = [value(res, q, f"block{l}", step=step) for l in range(1, DEPTH + 1)]
    return float(np.mean(vals))


def plot_e1(ctx: FigureContext, results: list) -> FigureOutput:
    g = grid(ctx.scale)
    rows, summary = [], {"scale": ctx.scale, "widths": g.widths, "seeds": g.seeds}
    fig, axes = new_figure(1, 1, panel_w=5.2, panel_h=3.6, title=(
        f"Claim E.1 at init: ‖W₂W₁h‖_R / (‖W₂‖_R‖W₁‖_R‖h‖_R) vs width (μP init, {len(g.seeds)} seeds × {DEPTH} blocks) "
        f"[{ctx.scale}]"))
    ax = axes[0][0]
    colors = ["#1f77b4", "#9467bd"]
    lines = []
    by = group(results, lambda r: (r.config.model.hidden_ratio, r.config.model.width))
    for ratio, c in zip(HIDDEN_RATIOS, colors):
        per_x, xs, ys, gs = [], [], [], []
        for n in g.widths:
            vals = []
            for res in by.get((ratio, n), []):
                for l in range(1, DEPTH + 1):
                    v = value(res, "claim_e1", f"block{l}", step=0)
                    vals.append(v)
                    rows.append({"hidden_ratio": ratio, "width": n, "seed": res.config.seed, "block": l, "value": v})
                    xs.append(n), ys.append(v), gs.append(res.config.seed)
            per_x.append(vals)
        line_with_band(ax, g.widths, per_x, label=f"n_l/n = {ratio:g}", color=c)
        exp = e1_expected(ratio)
        reference_line(ax, exp, f"√ρ/(1+√ρ)² = {exp:.3f} (Gaussian limit, ρ={ratio:g})", color=c)
        s = slope(xs, ys, gs)
        at_max = [y for x, y in zip(xs, ys) if x == max(g.widths)]
        summary[f"ratio{ratio:g}"] = {**s, "mean_at_max_width": float(np.mean(at_max)), "expected_limit": exp}
        lines.append(f"n_l/n={ratio:g}: slope {fmt_slope(s)}")
    log2_axis(ax, "x")
    ax.set_ylim(0, 0.4)
    ax.set_xlabel("width n")
    ax.set_ylabel("‖W₂W₁h‖_R / (‖W₂‖_R‖W₁‖_R‖h‖_R)")
    ax.legend(loc="upper right", fontsize=7)
    note(ax, "paper: Θ(1), flat in width\nlog-log slope vs n (95% per-seed t-interval)\n" + "\n".join(lines),
         loc="lower left")
    return FigureOutput(fig, rows, summary)


def plot_e2(ctx: FigureContext, results: list) -> FigureOutput:
    g = e2_grid(ctx.scale)
    rows, summary = [], {"scale": ctx.scale, "widths": g.widths, "seeds": g.seeds, "batch_B": g.batch}
    fig, axes = new_figure(1, 3, panel_w=3.9, panel_h=3.3, title=(
        f"Claim E.2: ‖ΔW₂u‖_R / (‖ΔW₂‖_R‖u‖_R), u = input of the block's last map (μP k≥2, B={g.batch}, "
        f"{len(g.seeds)} seeds × {DEPTH} blocks) [{ctx.scale}]"))
    colors = dict(zip(E2_SETTINGS, ["#1f77b4", "#aec7e8", "#d62728", "#ff9896"]))
    markers = dict(zip(E2_SETTINGS, ["o", "s", "^", "v"]))
    keyed = group(results, lambda r: (r.config.optim.name, r.config.batch_size, r.config.model.width))
    for name, (opt, b, _) in E2_SETTINGS.items():
        bs = g.batch if b == "B" else b
        for step in E2_STEPS:
            xs, ys, gs = [], [], []
            for n in g.widths:
                for res in keyed.get((opt, bs, n), []):
                    for l in range(1, DEPTH + 1):
                        v = value(res, "claim_e2", f"block{l}", step=step)
                        rows.append({"setting": name, "optimizer": opt, "batch": bs, "width": n, "seed": res.config.seed,
                                     "block": l, "step": step, "value": v})
                        xs.append(n), ys.append(v), gs.append(res.config.seed)
            s = slope(xs, ys, gs)
            fin = [y for y in ys if np.isfinite(y)]
            summary[f"{name}.step{step}"] = {**s, "mean": float(np.mean(fin)), "min": float(np.min(fin)),
                                             "max": float(np.max(fin))}
    for ax, step in zip(axes[0][:2], (0, max(E2_STEPS))):
        for name in E2_SETTINGS:
            per_x = [[r["value"] for r in rows if r["setting"] == name and r["step"] == step and r["width"] == n]
                     for n in g.widths]
            line_with_band(ax, g.widths, per_x, label=name, color=colors[name], marker=markers[name])
        reference_line(ax, 1.0, "1 (batch-1 GD: exact)")
        log2_axis(ax, "x")
        ax.set_ylim(0, 1.08)
        ax.set_xlabel("width n")
        ax.set_ylabel("‖ΔW₂u‖_R / (‖ΔW₂‖_R‖u‖_R)")
        ax.set_title(f"after the update at step {step}" + (" (first step)" if step == 0 else ""))
        note(ax, "\n".join(f"{k}: slope {fmt_slope(summary[f'{k}.step{step}'])}" for k in E2_SETTINGS), loc="lower left")
    axes[0][0].legend(loc="center right", fontsize=7)
    ax = axes[0][2]
    n_show = g.widths[-1]
    for name, (opt, b, _) in E2_SETTINGS.items():
        bs = g.batch if b == "B" else b
        per_t = [[r["value"] for r in rows if r["setting"] == name and r["step"] == t and r["width"] == n_show]
                 for t in E2_STEPS]
        line_with_band(ax, E2_STEPS, per_t, label=name, color=colors[name], marker=markers[name])
    reference_line(ax, 1.0, "1")
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("training step t")
    ax.set_ylabel("‖ΔW₂u‖_R / (‖ΔW₂‖_R‖u‖_R)")
    ax.set_title(f"over training, n = {n_show}")
    gd1 = [r["value"] for r in rows if r["setting"] == "GD, batch 1"]
    summary["gd_batch1_max_abs_dev_from_1"] = float(np.max(np.abs(np.asarray(gd1) - 1.0)))
    return FigureOutput(fig, rows, summary)


SPECS = {
    "e1": FigureSpec("e1", "Claim E.1: ‖W₂W₁h‖_R/(‖W₂‖_R‖W₁‖_R‖h‖_R) at init vs width, n_l/n ∈ {1, 4}: flat (Θ(1))",
                     build_e1, plot_e1, claims=e1_claims),
    "e2": FigureSpec("e2", "Claim E.2: ‖ΔW₂W₁h‖_R/(‖ΔW₂‖_R‖W₁h‖_R) = 1 for batch-1 GD; batch B, AdamW, several steps",
                     build_e2, plot_e2, claims=e2_claims),
}
