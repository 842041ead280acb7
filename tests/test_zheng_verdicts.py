"""figures.zheng_verdicts: the coordinate check's paired SP-vs-μP contrast, against per-seed slopes fitted by numpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from figures.claims import LEVEL, Verdict
from figures.zheng_common import slope
from figures.zheng_verdicts import FLAT, coord_claims, paired_slope_difference

XS = (32, 64, 128, 256)
SEEDS = (0, 1, 2, 3, 4)


def _points(rate: float, noise: float, rng: np.random.Generator) -> tuple[list, list, list]:
    xs, ys, gs = [], [], []
    for s in SEEDS:
        seed_rate = rate + noise * rng.standard_normal()
        for x in XS:
            xs.append(x), ys.append(x ** seed_rate * np.exp(0.01 * rng.standard_normal())), gs.append(s)
    return xs, ys, gs


def test_per_seed_slopes_are_each_seeds_own_fit():
    xs, ys, gs = _points(0.4, 0.1, np.random.default_rng(0))
    f = slope(xs, ys, gs)
    for s in SEEDS:
        m = np.asarray(gs) == s
        assert f["per_seed"][str(s)] == pytest.approx(np.polyfit(np.log(np.asarray(xs)[m]),
                                                                 np.log(np.asarray(ys)[m]), 1)[0], abs=1e-12)
    assert f["slope"] == pytest.approx(np.mean(list(f["per_seed"].values())), abs=1e-12)


def test_paired_difference_is_the_t_interval_of_per_seed_differences():
    rng = np.random.default_rng(1)
    a, b = slope(*_points(0.5, 0.2, rng)), slope(*_points(0.0, 0.2, rng))
    e = paired_slope_difference(a, b)
    d = np.asarray([a["per_seed"][s] - b["per_seed"][s] for s in a["per_seed"]])
    half = stats.t.ppf(0.5 + LEVEL / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    assert e.value == pytest.approx(d.mean(), abs=1e-12)
    assert e.interval() == pytest.approx((d.mean() - half, d.mean() + half), abs=1e-12)
    assert e.method == "paired_t" and e.n == len(SEEDS)
    assert paired_slope_difference({"slope": 0.1}, b) is None


def _summary(sp_rate: float, mup_rate: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    fits = {}
    for p, rate in (("sp", sp_rate), ("mup_k1", mup_rate), ("mup_k2", mup_rate)):
        for ax in ("width", "depth"):
            fits[f"{p}.h_rms.{ax}.gmean"] = slope(*_points(rate, 0.02, rng))
    return {"fits": fits, "seeds": list(SEEDS)}


@pytest.mark.parametrize("sp_rate, expected", [(0.6, Verdict.HOLDS), (0.0, Verdict.FAILS)])
def test_coord_claims_judge_sp_against_mup_per_seed(sp_rate, expected):
    claims = {c.key: c for c in coord_claims("adamw")(_summary(sp_rate, 0.0, 2))}
    assert claims["coord-adamw.sp_vs_mup"].verdict is expected
    assert claims["coord-adamw.sp_vs_mup"].criterion.bound == FLAT.value


def test_a_summary_without_per_seed_slopes_has_no_contrast_row():
    s = _summary(0.6, 0.0, 3)
    for f in s["fits"].values():
        f.pop("per_seed")
    assert "coord-adamw.sp_vs_mup" not in {c.key for c in coord_claims("adamw")(s)}
