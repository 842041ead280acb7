"""Golden exponents of the Zheng et al. figures at smoke scale (CPU, float64), for the CI regression checks.

    python -m figures.golden --set zheng            # measure and compare with tests/golden/zheng.json
    python -m figures.golden --set zheng --update   # measure on every kernel path and rewrite it

Every Zheng figure is run once per process at --scale smoke into a fresh temporary folder (fresh cache, so an engine
change is always measured, never read back from an old cache); `exponents()` flattens their summaries into named
numbers, and `figures.golden` compares them with the golden file and sets each tolerance from the spread across kernel paths.
"""

from __future__ import annotations

import json
import math
import tempfile
from functools import lru_cache
from pathlib import Path

from figures.catalogue import COORD_IDS, ZHENG_IDS
from figures.registry import run_figure

GOLDEN_PATH = Path(__file__).resolve().parent.parent / "tests" / "golden" / "zheng.json"
ABOUT = ("Exponents of the Zheng et al. figures at --scale smoke (CPU, float64), with tolerances from their spread "
         "across CPU kernel paths; regenerate with `python -m figures.golden --set zheng --update` after an intended "
         "engine change.")
SMOKE_IDS: tuple[str, ...] = ZHENG_IDS + COORD_IDS
TOL_SLOPE = 0.02
"""Base tolerance on a fitted log-log exponent, far below any change of a scaling rule (which moves exponents by
≥ 0.25); figures.golden widens it where the spread across kernel paths asks for more."""
TOL_LEVEL = 0.01
"""Base tolerance on a measured ratio level (Figs 3–5, Claims E.1/E.2)."""


@lru_cache(maxsize=1)
def smoke_run() -> dict[str, dict]:
    """Run every Zheng figure at smoke scale once per process; id -> {"paths": [...], "summary": {...}}."""
    out = Path(tempfile.mkdtemp(prefix="zheng-smoke-"))
    done = {}
    for fig_id in SMOKE_IDS:
        paths = run_figure(fig_id, scale="smoke", device="cpu", out_dir=out / "figures", cache_dir=out / "cache",
                           progress=False)
        summary = json.loads(paths[-1].read_text())
        done[fig_id] = {"paths": paths, "summary": summary}
    return done


def exponents(runs: dict[str, dict]) -> dict[str, dict]:
    """Named numbers with their tolerance: {name: {"value": v, "tol": t}}."""
    out: dict[str, dict] = {}

    def put(name: str, value, tol: float) -> None:
        finite = value is not None and math.isfinite(value)
        # an exploding SP run can give a huge slope: its tolerance is relative (10% of the value) above |v| = 1
        out[name] = {"value": float(value) if finite else None, "tol": max(tol, 0.1 * abs(value)) if finite and abs(value) > 1 else tol}

    for fid in ("3", "4", "5", "6"):
        s = runs[fid]["summary"]
        T = s["steps"]
        for panel in ("input", "last.1", "last.2"):
            f = s["fits"][f"{panel}.t{T}"]
            put(f"fig{fid}.{panel}.slope_vs_L@T", f["slope"], TOL_SLOPE)
            put(f"fig{fid}.{panel}.mean@T", f["mean"], TOL_LEVEL)
            if "cum_fits" in s:  # Figs 3–4: the update sizes and the cumulative ratio
                c = s["cum_fits"][f"{panel}.t{T}"]
                put(f"fig{fid}.{panel}.cum_slope_vs_L@T", c["slope"], TOL_SLOPE)
                put(f"fig{fid}.{panel}.cum_mean@T", c["mean"], TOL_LEVEL)
                put(f"fig{fid}.{panel}.size_slope_vs_L@T", s["size_fits"][f"{panel}.t{T}"]["slope"], TOL_SLOPE)
                put(f"fig{fid}.{panel}.cum_size_slope_vs_L@T", s["cum_size_fits"][f"{panel}.t{T}"]["slope"], TOL_SLOPE)
    e1 = runs["e1"]["summary"]
    for r in ("1", "4"):
        put(f"e1.ratio{r}.slope_vs_n", e1[f"ratio{r}"]["slope"], TOL_SLOPE)
        put(f"e1.ratio{r}.level@max_n", e1[f"ratio{r}"]["mean_at_max_width"], TOL_LEVEL)
    e2 = runs["e2"]["summary"]
    for name in ("GD, batch 1", "GD, batch B", "AdamW, batch 1", "AdamW, batch B"):
        key = name.replace(", ", "_").replace(" ", "")
        put(f"e2.{key}.mean@step0", e2[f"{name}.step0"]["mean"], TOL_LEVEL)
    for fid in ("1", "2"):
        s = runs[fid]["summary"]
        for param in ("mup_k2", "sp"):
            for axis in (("width", "depth") if fid == "1" else ("depth",)):
                put(f"fig{fid}.{param}.h_L_slope_vs_{axis}@step10", s[f"coord.{param}.{axis}.step10"]["slope"], TOL_SLOPE)
        put(f"fig{fid}.mup_k2.init_fit_c", s["coord_init_fit.mup_k2"]["c"], TOL_SLOPE)
        for param in ("mup_k2", "sp"):
            for axis in (("width", "depth") if fid == "1" else ("depth",)):
                put(f"fig{fid}.{param}.{axis}.worst_shift", s[f"transfer_summary.{param}.{axis}"]["worst_shift"]["value"],
                    TOL_SLOPE)
    dk = runs["depth-k"]["summary"]
    for opt in dk["optimizers"]:
        for param in ("mup_k2", "mup_k1"):
            put(f"depth-k.{opt}.{param}.worst_shift", dk[f"transfer_summary.{opt}.{param}.depth"]["worst_shift"]["value"],
                TOL_SLOPE)
    for fid in ("v2-shampoo", "v2-sophia"):
        s = runs[fid]["summary"]
        for param in ("mup_k2", "sp"):
            for axis in ("width", "depth"):
                put(f"{fid}.{param}.{axis}.worst_shift", s[f"transfer_summary.{param}.{axis}"]["worst_shift"]["value"],
                    TOL_SLOPE)
    for fid in COORD_IDS:
        for key, v in runs[fid]["summary"]["headline"].items():
            put(f"{fid}.{key}", v, TOL_SLOPE)
    return out


def measure() -> dict[str, tuple[float | None, float]]:
    """Every golden exponent of a fresh smoke run: {name: (value, base tolerance)} (figures.golden)."""
    return {k: (e["value"], e["tol"]) for k, e in exponents(smoke_run()).items()}


def current_values(runs: dict[str, dict]) -> dict[str, float | None]:
    return {k: e["value"] for k, e in exponents(runs).items()}
