"""Shared plotting helpers: one look for every figure, log-2 axes, seed bands, optimum markers, and the writer of
PNG + PDF + tidy CSV + summary JSON."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogLocator, NullFormatter  # noqa: E402

PARAM_COLORS = {"sp": "#d62728", "mup_k1": "#ff7f0e", "mup_k2": "#1f77b4", "mup_width": "#2ca02c"}
PARAM_LABELS = {
    "sp": "SP",
    "mup_k1": "μP k=1 rule (α∝1/√L)",
    "mup_k2": "μP k≥2 rule (α∝1/L)",
    "mup_width": "width-only μP",
}
DIVERGED_MARKER = dict(marker="x", color="black", markersize=7, linestyle="none")

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "font.size": 9,
        "axes.titlesize": 9.5,
        "axes.labelsize": 9,
        "legend.fontsize": 7.5,
        "legend.framealpha": 0.85,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "lines.linewidth": 1.4,
        "lines.markersize": 4,
    }
)


def new_figure(nrows: int, ncols: int, *, panel_w: float = 3.3, panel_h: float = 2.7, title: str = "") -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_w * ncols, panel_h * nrows + (0.45 if title else 0)), squeeze=False,
                             layout="constrained")
    if title:
        fig.suptitle(title, fontsize=10.5)
    return fig, axes


def seq_colors(n: int, cmap: str = "viridis") -> list:
    """n colours from a sequential map (dark = small, bright = large), avoiding the washed-out end."""
    cm = plt.get_cmap(cmap)
    return [cm(x) for x in np.linspace(0.05, 0.85, max(n, 1))]


def log2_axis(ax: Axes, which: str = "x") -> None:
    """Log axis in base 2 with 2^k tick labels (widths, depths, learning rates)."""
    if which == "x":
        ax.set_xscale("log", base=2)
    else:
        ax.set_yscale("log", base=2)
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_minor_formatter(NullFormatter())
    axis.set_minor_locator(LogLocator(base=2, subs=()))


def mean_band(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and a band across seeds: the 95% t-interval of the mean for >= 3 seeds, the min–max range for 2, none
    for 1; the band never crosses below the smallest value's half (log axes). NaNs are dropped."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if v.size == 1:
        return m, m, m
    if v.size == 2:
        return m, float(v.min()), float(v.max())
    from scipy import stats

    half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    lo = m - half
    if v.min() > 0 and lo <= 0:
        lo = float(v.min()) / 2
    return m, lo, m + half


def line_with_band(ax: Axes, x: Sequence[float], per_x_values: Sequence[Sequence[float]], *, label: str, color, marker: str = "o",
                   linestyle: str = "-") -> np.ndarray:
    """Plot the seed mean at every x with a shaded 95% band; returns the means."""
    stats_ = np.array([mean_band(v) for v in per_x_values])
    xs = np.asarray(x, dtype=float)
    ax.plot(xs, stats_[:, 0], marker=marker, color=color, label=label, linestyle=linestyle)
    if np.any(stats_[:, 2] > stats_[:, 1]):
        ax.fill_between(xs, stats_[:, 1], stats_[:, 2], color=color, alpha=0.18, linewidth=0)
    return stats_[:, 0]


def plain_log_y(ax: Axes) -> None:
    """Log y axis with plain-number tick labels (losses)."""
    from matplotlib.ticker import FormatStrFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
    ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%.2g"))
    ax.tick_params(axis="y", which="minor", labelsize=6.5)


def share_ylim(axes: Sequence[Axes], *, pad: float = 1.15, log: bool = True) -> None:
    """Give several panels the same y range (μP next to SP on one scale)."""
    lows, highs = zip(*(ax.get_ylim() for ax in axes))
    lo, hi = min(lows), max(highs)
    for ax in axes:
        ax.set_ylim(lo / pad if log else lo, hi * pad if log else hi)


def reference_line(ax: Axes, y: float, label: str, *, color: str = "0.35") -> None:
    ax.axhline(y, color=color, linestyle="--", linewidth=1.0, label=label, zorder=0)


def mark_optimum(ax: Axes, x: Sequence[float], y: Sequence[float], color) -> float | None:
    """Star on the lowest finite point of a sweep; returns its x (None if every point diverged)."""
    ya = np.asarray(y, dtype=float)
    ok = np.isfinite(ya)
    if not ok.any():
        return None
    i = int(np.nanargmin(np.where(ok, ya, np.inf)))
    ax.plot([x[i]], [ya[i]], marker="*", markersize=13, color=color, markeredgecolor="black", markeredgewidth=0.7,
            linestyle="none", zorder=5)
    return float(x[i])


def note(ax: Axes, text: str, *, loc: str = "lower left") -> None:
    """Small text box inside a panel (fitted slopes, argmin tables)."""
    xy = {"lower left": (0.03, 0.04, "left", "bottom"), "upper left": (0.03, 0.96, "left", "top"),
          "lower right": (0.97, 0.04, "right", "bottom"), "upper right": (0.97, 0.96, "right", "top")}[loc]
    ax.text(xy[0], xy[1], text, transform=ax.transAxes, ha=xy[2], va=xy[3], fontsize=7,
            bbox=dict(boxstyle="round,pad=0.25", facecolor="white", alpha=0.8, edgecolor="0.7"))


def write_csv(path: Path, rows: Iterable[Mapping[str, object]], provenance: Mapping[str, object] | None = None) -> None:
    """Tidy rows as CSV, preceded by one `# key=value` comment line per provenance entry."""
    rows = list(rows)
    keys: list[str] = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    with path.open("w", newline="") as f:
        for key, value in (provenance or {}).items():
            f.write(f"# {key}={value}\n")
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def save_outputs(fig: Figure, out_dir: Path, fig_id: str, rows: Sequence[Mapping[str, object]], summary: Mapping[str, object],
                 *, dpi: int = 100, provenance: Mapping[str, object] | None = None) -> list[Path]:
    """Write fig_<id>.png/.pdf, the tidy data (fig_<id>.csv) and the headline numbers (summary_<id>.json)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png, pdf = out_dir / f"fig_{fig_id}.png", out_dir / f"fig_{fig_id}.pdf"
    csv_path, js = out_dir / f"fig_{fig_id}.csv", out_dir / f"summary_{fig_id}.json"
    fig.savefig(png, dpi=dpi, bbox_inches="tight")
    fig.savefig(pdf, bbox_inches="tight", metadata={"CreationDate": None})   # byte-reproducible: no timestamp
    plt.close(fig)
    write_csv(csv_path, rows, provenance)
    js.write_text(json.dumps(_jsonable(dict(summary)), indent=1, sort_keys=True) + "\n")
    return [png, pdf, csv_path, js]
