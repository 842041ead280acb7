"""Golden exponents of the Fan et al. figures at smoke scale (CPU, float64), for the CI regression checks.

    python -m figures.golden --set fan            # measure and compare with tests/golden/fan.json
    python -m figures.golden --set fan --update   # measure on every kernel path and rewrite it

`exponents(wd1, wd2, wd3)` flattens the analyses of figures.wd into named numbers; `measure()` trains the smoke grids
in a fresh temporary cache at one thread (as tests/test_regression_fan.py does).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from figures import wd
from synthetic.grid import run_grid

SCALE = "smoke"
GOLDEN_PATH = Path(__file__).resolve().parent.parent / "tests" / "golden" / "fan.json"
ABOUT = ("Fitted exponents of the Fan et al. smoke grids (figures/wd.py, scale smoke, CPU float64), with tolerances "
         "from their spread across CPU kernel paths; regenerate with `python -m figures.golden --set fan --update`.")
THREADS = (1,)
"""measure() trains at one thread whatever the process has, so the spread is measured at one thread only."""
TOL = 0.05
"""Base tolerance on a fitted exponent, well below the ±0.1 of the law's own checks; figures.golden widens it where
the spread across kernel paths asks for more."""


def exponents(wd1: dict, wd2: dict, wd3: dict) -> dict[str, float]:
    out = {f"wd1.slope.{k}": f.slope for k, f in wd1["fits"].items()}
    for k, j in wd1["joint"].items():
        out[f"wd1.joint.{k}.a"], out[f"wd1.joint.{k}.b"] = j.a.slope, j.b.slope
    out.update({f"wd2.alpha.{k}": f.slope for k, f in wd2["fits"].items()})
    for rule, fits in wd3["fits"].items():
        for k, f in fits.items():
            if isinstance(f, wd.Fit) and not k.startswith("predicted"):
                out[f"wd3.{rule}.{k}"] = f.slope
        out[f"wd3.{rule}.error_joint"], out[f"wd3.{rule}.error_half"] = fits["error_joint"], fits["error_half"]
    out["wd3.p_family"] = wd3["p_family"]
    return out


def analyses(cache: Path | None) -> tuple[dict, dict, dict]:
    """wd1, wd2, wd3 analysed at smoke scale (wd3 against the law fitted on wd1 and wd2), trained at one thread."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        def train(runs):
            return run_grid(runs, cache_dir=cache, device="cpu", progress=False)

        wd1 = wd.analyze_wd1(train(wd.wd1_runs(SCALE)), SCALE)
        wd2 = wd.analyze_wd2(train(wd.wd2_runs(SCALE)))
        law = wd.fitted_law(wd1, wd2)
        wd3 = wd.analyze_wd3(train(wd.wd3_runs(SCALE)), law, SCALE)
    finally:
        torch.set_num_threads(saved)
    return wd1, wd2, wd3


def measure() -> dict[str, tuple[float, float]]:
    """Every golden exponent of a fresh smoke run: {name: (value, base tolerance)} (figures.golden)."""
    cache = Path(tempfile.mkdtemp(prefix="fan-smoke-"))
    return {k: (v, TOL) for k, v in exponents(*analyses(cache)).items()}
