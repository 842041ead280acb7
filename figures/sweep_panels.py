"""η-sweep panels shared by the transfer figures: loss vs log₂ η per shape with the sub-grid optimum and its interval,
the optimum vs shape, and the transfer regret vs shape (figures.transfer_metric), for several parameterizations side
by side."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from figures.plotting import DIVERGED_MARKER, PARAM_LABELS, log2_axis, plain_log_y, seq_colors
from figures.sweep_extension import sweep_of
from figures.transfer_metric import Sweep, transfer
from figures.zheng_common import final_loss, group

PARAM_COLORS = {"mup_k2": "#1f77b4", "mup_k1": "#2ca02c", "sp": "#d62728", "mup_width": "#9467bd"}


def sweeps(results: Sequence, shape_of: Callable[[object], int]) -> dict[int, Sweep]:
    """shape value (width or depth) -> that shape's Sweep of final test losses."""
    return {x: sweep_of(members, final_loss) for x, members in sorted(group(results, shape_of).items())}


def analyse(by_shape: Mapping[int, Sweep], base: int) -> dict:
    """figures.transfer_metric.transfer with `base` as the base shape; {} when the base shape was not run."""
    if base not in by_shape:
        return {}
    out = transfer(by_shape[base], {str(x): s for x, s in by_shape.items()})
    out["base"]["shape"] = str(base)
    return out


def draw_sweep(ax, by_shape: Mapping[int, Sweep], analysis: Mapping, *, symbol: str, title: str, ylabel: str) -> None:
    """Loss vs log₂ η, one curve per shape (geometric mean over seeds; each seed as a thin line: seeds differ in
    level more than in shape, so a band would hide the curve); the sub-grid optimum as a star with its bootstrap
    interval as a horizontal bar; diverged points as × at the top."""
    colors = seq_colors(len(by_shape), "viridis")
    finite_all, diverged = [], []
    for (x, sw), c in zip(by_shape.items(), colors):
        means = np.exp(sw.curve())
        for row in sw.loss:
            ax.plot(sw.x, np.where(np.isfinite(row), row, np.nan), color=c, alpha=0.25, linewidth=0.7)
        ax.plot(sw.x, np.where(np.isfinite(means), means, np.nan), marker="o", markersize=3.5, color=c,
                label=f"{symbol}={x}")
        finite_all += [m for m in means if np.isfinite(m)]
        diverged += [float(e) for e, m in zip(sw.x, means) if not np.isfinite(m)]
        opt = analysis.get(str(x), {}).get("optimum")
        if opt and np.isfinite(opt["value"]):
            y = float(np.exp(np.nanmin(np.where(np.isfinite(sw.curve()), sw.curve(), np.nan))))
            ax.plot([opt["value"]], [y], marker="*", markersize=12, color=c, markeredgecolor="black",
                    markeredgewidth=0.6, linestyle="none", zorder=5)
            if np.isfinite(opt["lo"]):
                ax.plot([opt["lo"], opt["hi"]], [y, y], color=c, linewidth=2.2, alpha=0.8, zorder=4)
    plain_log_y(ax)
    if finite_all:
        lo, hi = min(finite_all), max(finite_all)
        top = hi * 3
        ax.set_ylim(lo / 1.2, top)
        if diverged:
            ax.plot(diverged, [top / 1.1] * len(diverged), **DIVERGED_MARKER, label="diverged")
    ax.set_xlabel("log₂ η_base")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=6, ncol=2)


def draw_optima(ax, analyses: Mapping[str, Mapping], shapes: Sequence[int], *, axis: str) -> None:
    """log₂ η* vs shape with bootstrap intervals, one line per parameterization; hollow markers where the optimum is
    not bracketed (grid edge or next to divergence)."""
    for param, an in analyses.items():
        xs, ys, lo, hi, solid = [], [], [], [], []
        for s in shapes:
            o = an.get(str(s), {}).get("optimum")
            if not o or not np.isfinite(o["value"]):
                continue
            xs.append(s), ys.append(o["value"]), solid.append(o["where"] == "inside")
            lo.append(max(o["value"] - o["lo"], 0.0) if np.isfinite(o["lo"]) else 0.0)
            hi.append(max(o["hi"] - o["value"], 0.0) if np.isfinite(o["hi"]) else 0.0)
        c = PARAM_COLORS.get(param, "0.3")
        ax.errorbar(xs, ys, yerr=[lo, hi], color=c, marker="none", capsize=3, label=PARAM_LABELS[param].split(" (")[0])
        for x, y, ok in zip(xs, ys, solid):
            ax.plot([x], [y], marker="o", color=c, markerfacecolor=c if ok else "white", linestyle="none")
    log2_axis(ax, "x")
    ax.set_xlabel("width n" if axis == "width" else "depth L (blocks)")
    ax.set_ylabel("optimal log₂ η_base (sub-grid)")
    ax.set_title(f"optimum vs {axis} (bootstrap over seeds, descriptive; hollow: not bracketed)", fontsize=8)
    ax.legend(fontsize=6.5, loc="best")


def draw_regret(ax, analyses: Mapping[str, Mapping], shapes: Sequence[int], *, axis: str) -> None:
    """Transfer regret L(η*_base)/L* − 1 vs shape, one line per parameterization, with bootstrap intervals."""
    floor = 1e-4
    for param, an in analyses.items():
        xs, ys, lo, hi = [], [], [], []
        for s in shapes:
            r = an.get(str(s), {}).get("regret")
            if not r or not np.isfinite(r["value"]):
                continue
            v = max(r["value"], floor)
            xs.append(s), ys.append(v)
            lo.append(max(v - max(r["lo"], floor), 0.0) if np.isfinite(r["lo"]) else 0.0)
            hi.append(max(max(r["hi"], floor) - v, 0.0) if np.isfinite(r["hi"]) else 0.0)
        ax.errorbar(xs, ys, yerr=[lo, hi], color=PARAM_COLORS.get(param, "0.3"), marker="o", capsize=3,
                    label=PARAM_LABELS[param].split(" (")[0])
    log2_axis(ax, "x")
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor / 2)
    ax.set_xlabel("width n" if axis == "width" else "depth L (blocks)")
    ax.set_ylabel("transfer regret L(η*_base)/L* − 1")
    ax.set_title(f"regret of the base shape's η* vs {axis}", fontsize=8)
    ax.legend(fontsize=6.5, loc="best")


def _distance_from_zero(iv: Mapping) -> float:
    if not np.isfinite(iv["lo"]):
        return math.nan
    return 0.0 if iv["lo"] <= 0 <= iv["hi"] else min(abs(iv["lo"]), abs(iv["hi"]))


def _abs_key(v: float) -> float:
    return abs(v) if np.isfinite(v) else math.inf


def summarise(analysis: Mapping, base: int) -> dict:
    """Headline numbers of one sweep's analysis over its target shapes: the largest |shift| the intervals allow
    (`shift_upper`: inf when an interval is missing or any optimum, the base's included, sits on its grid's edge, so
    the verdict cannot be "holds"), the largest |shift| they guarantee (`shift_lower`), the worst shift and regret
    (a non-finite one counts as the worst), whether every optimum is bracketed, and the widest optimum interval."""
    targets = {k: v for k, v in analysis.items() if k not in ("base", str(base))}
    if not targets:
        return {}
    edge = any(v["optimum"]["where"] in ("low_edge", "high_edge", "all_diverged") for v in analysis.values())

    def upper(sh: Mapping) -> float:
        if not np.isfinite(sh["lo"]):
            return math.inf
        return max(abs(sh["lo"]), abs(sh["hi"]), _abs_key(sh["value"]))

    shift_upper = math.inf if edge else max(upper(v["shift"]) for v in targets.values())
    lower = max(np.nan_to_num(_distance_from_zero(v["shift"]), nan=0.0) for v in targets.values())
    worst = max(targets.items(), key=lambda kv: _abs_key(kv[1]["shift"]["value"]))
    worst_regret = max(targets.items(), key=lambda kv: kv[1]["regret"]["value"]
                       if np.isfinite(kv[1]["regret"]["value"]) else math.inf)
    widths = [v["optimum"]["hi"] - v["optimum"]["lo"] for v in analysis.values() if np.isfinite(v["optimum"]["lo"])]
    return {"shift_upper": shift_upper, "shift_lower": lower,
            "worst_shift": {**worst[1]["shift"], "shape": worst[0]},
            "worst_regret": {**worst_regret[1]["regret"], "shape": worst_regret[0]},
            "all_bracketed": bool(all(v["optimum"]["where"] == "inside" for v in analysis.values())),
            "widest_optimum_interval": max(widths) if widths else math.nan}
