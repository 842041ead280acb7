"""synthetic.fit: OLS on log-log axes against numpy.polyfit, t-interval against a direct formula, cluster bootstrap
coverage of a known exponent, and fits from a tidy table."""

import numpy as np
import pytest
from scipy import stats

from synthetic.fit import FitError, fit_table, format_fits, loglog_fit


def test_matches_numpy_polyfit_and_t_interval():
    rng = np.random.default_rng(1)
    x = np.geomspace(8, 4096, 12)
    y = 3.0 * x ** -0.7 * np.exp(0.1 * rng.standard_normal(x.size))
    fit = loglog_fit(x, y)
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    assert fit.slope == pytest.approx(slope, rel=1e-12) and fit.intercept == pytest.approx(intercept, rel=1e-10)
    lx, ly = np.log(x), np.log(y)
    resid = ly - (slope * lx + intercept)
    se = np.sqrt(resid @ resid / (x.size - 2) / ((lx - lx.mean()) @ (lx - lx.mean())))
    half = stats.t.ppf(0.975, x.size - 2) * se
    assert fit.stderr == pytest.approx(se, rel=1e-10)
    assert (fit.ci_low, fit.ci_high) == pytest.approx((slope - half, slope + half), rel=1e-10)
    assert fit.method == "t" and fit.n == 12


def test_exact_power_law_and_dropped_points():
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    y = 5.0 * x ** 0.75
    y[2] = np.nan
    fit = loglog_fit(x, y)
    assert fit.slope == pytest.approx(0.75, abs=1e-12) and np.exp(fit.intercept) == pytest.approx(5.0)
    assert fit.n == 5 and fit.n_dropped == 1


def test_cluster_bootstrap_covers_the_true_exponent():
    """Per-seed offsets make points of one seed correlated; the per-seed bootstrap CI must cover the true slope in
    most of many independent repetitions."""
    true = 0.5
    widths = np.array([64, 128, 256, 512])
    covered = 0
    for rep in range(40):
        rng = np.random.default_rng(100 + rep)
        xs, ys, gs = [], [], []
        for seed in range(6):
            slope_s = true + 0.05 * rng.standard_normal()  # seed-level slope and offset noise
            off = 0.3 * rng.standard_normal()
            for w in widths:
                xs.append(w)
                ys.append(np.exp(off + slope_s * np.log(w) + 0.02 * rng.standard_normal()))
                gs.append(seed)
        boot = loglog_fit(xs, ys, groups=gs, n_boot=500, seed=rep)
        naive = loglog_fit(xs, ys)
        assert boot.method == "cluster_bootstrap" and boot.n_groups == 6
        assert boot.slope == pytest.approx(naive.slope)
        covered += boot.ci_low <= true <= boot.ci_high
    assert covered >= 32  # nominal 95%; a bootstrap with 6 clusters is somewhat anti-conservative


def test_bad_inputs():
    with pytest.raises(FitError, match="at least 3"):
        loglog_fit([1, 2], [1, 2])
    with pytest.raises(FitError, match="distinct"):
        loglog_fit([2, 2, 2], [1, 2, 3])
    with pytest.raises(FitError, match="at least 3"):
        loglog_fit([1, 2, 3, 4], [1, -1, 0, np.inf])


def _table():
    rows = []
    rng = np.random.default_rng(0)
    for lr, exponent in ((1e-3, -0.5), (1e-2, 0.25)):
        for seed in range(3):
            off = 0.1 * rng.standard_normal()
            for w in (64, 128, 256, 512):
                rid = f"r{lr}-{seed}-{w}"
                for step, scale in ((0, 10.0), (50, 1.0)):
                    v = scale * np.exp(off) * w ** exponent
                    rows.append(dict(run_id=rid, width=w, depth=2, lr=lr, wd=0.0, seed=seed,
                                     parameterization="mup_k2", optimizer="adamw", step=step, layer="model",
                                     quantity="loss", index=0, value=v))
                    rows.append(dict(rows[-1], quantity="h_rms", layer="h2", value=1.0))
    return {k: np.asarray([r[k] for r in rows], dtype=object if isinstance(rows[0][k], str) else None)
            for k in rows[0]}


def test_fit_table_groups_by_the_varying_config_columns():
    fits = fit_table(_table(), quantity="loss", over="width", groupby=["lr"], n_boot=200)
    assert [f.group for f in fits] == [{"lr": 1e-3}, {"lr": 1e-2}]
    assert fits[0].fit.slope == pytest.approx(-0.5) and fits[1].fit.slope == pytest.approx(0.25)
    assert fits[0].fit.n == 12 and fits[0].fit.n_groups == 3
    early = fit_table(_table(), quantity="loss", over="width", at_step=0, n_boot=200)
    assert early[0].fit.intercept == pytest.approx(fits[0].fit.intercept + np.log(10.0))
    text = format_fits(fits, quantity="loss", over="width")
    assert "lr=0.001: slope -0.5000" in text and "3 seeds" in text
    with pytest.raises(FitError, match="no records"):
        fit_table(_table(), quantity="sigma1", over="width")
    with pytest.raises(FitError, match="no column"):
        fit_table(_table(), quantity="loss", over="heads")
