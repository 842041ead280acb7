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


def _seed_effects_sample(rng, n_seeds: int, true: float = 0.5):
    """Points of `n_seeds` seeds over four widths, each seed with its own slope and offset (so points of one seed are
    correlated, as in a real grid)."""
    widths = np.array([32, 64, 128, 256])
    xs, ys, gs = [], [], []
    for seed in range(n_seeds):
        slope_s, off = true + 0.05 * rng.standard_normal(), 0.1 * rng.standard_normal()
        for w in widths:
            xs.append(w)
            ys.append(np.exp(off + slope_s * np.log(w) + 0.02 * rng.standard_normal()))
            gs.append(seed)
    return xs, ys, gs


def coverage(n_seeds: int, interval: str, reps: int = 400) -> float:
    rng = np.random.default_rng(7)
    hits = 0
    for rep in range(reps):
        xs, ys, gs = _seed_effects_sample(rng, n_seeds)
        f = loglog_fit(xs, ys, groups=gs, interval=interval, n_boot=300, seed=rep)
        hits += f.ci_low <= 0.5 <= f.ci_high
    return hits / reps


def test_per_seed_t_interval_against_a_direct_formula():
    xs, ys, gs = _seed_effects_sample(np.random.default_rng(3), 5)
    f = loglog_fit(xs, ys, groups=gs)
    lx, ly, g = np.log(xs), np.log(ys), np.asarray(gs)
    slopes = np.array([np.polyfit(lx[g == s], ly[g == s], 1)[0] for s in range(5)])
    half = 2.7764451051977987 * slopes.std(ddof=1) / np.sqrt(5)   # t_{0.975, 4}
    assert f.method == "seed_t" and f.n_groups == 5
    assert f.slope == pytest.approx(slopes.mean(), abs=1e-12) == pytest.approx(loglog_fit(xs, ys).slope, abs=1e-12)
    assert (f.ci_low, f.ci_high) == pytest.approx((slopes.mean() - half, slopes.mean() + half), abs=1e-12)


@pytest.mark.parametrize("n_seeds", [2, 5])
def test_per_seed_t_interval_has_its_nominal_coverage(n_seeds):
    """400 repetitions: binomial sd 0.011 around 0.95."""
    assert 0.92 <= coverage(n_seeds, "seed_t") <= 0.98


def test_the_cluster_bootstrap_undercovers_with_few_seeds():
    """Why the per-seed t-interval is the default: the percentile bootstrap over 5 seeds covers far less than 95%."""
    assert coverage(5, "bootstrap", reps=200) < 0.91


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


def test_an_unfittable_group_does_not_stop_the_others():
    table = _table()
    table["value"] = table["value"].astype(float)
    table["value"][table["lr"] == 1e-2] = np.nan  # every run of lr=1e-2 diverged
    fits = fit_table(table, quantity="loss", over="width", n_boot=200)
    assert [f.ok for f in fits] == [True, False]
    assert fits[0].fit.slope == pytest.approx(-0.5)
    assert fits[1].fit is None and "at least 3 positive finite points" in fits[1].reason
    lines = format_fits(fits, quantity="loss", over="width").splitlines()
    assert lines[1].startswith("lr=0.001: slope -0.5000")
    assert lines[2:] == ["not fitted (1):", f"lr=0.01: {fits[1].reason}"]


def test_diverged_at_is_not_a_grouping_column_and_diverged_runs_are_left_out():
    """`diverged_at` (an outcome, written by grid.py) varies between runs of one config; it must not split fits, and
    a diverged run (diverged_at ≥ 0) is not a result: its points leave the fit."""
    table = _table()
    run = table["run_id"].astype(str)
    table["diverged_at"] = np.asarray([7 if r.endswith("-512") else "" for r in run], dtype=object)
    fits = fit_table(table, quantity="loss", over="width", n_boot=200)
    assert [f.group for f in fits] == [{"lr": 1e-3}, {"lr": 1e-2}] and fits[0].fit.n == 9


def test_per_seed_interval_refuses_rather_than_pooling_correlated_points():
    """Seed 0 at four widths, seed 1 at one: no per-seed interval exists, and a pooled one would be too narrow."""
    with pytest.raises(FitError, match="two seeds with two distinct x values"):
        loglog_fit([32, 64, 128, 256, 32], [1.0, 1.4, 2.0, 2.8, 1.1], groups=[0, 0, 0, 0, 1])


def test_multi_fit_recovers_an_exact_law_and_its_contrast():
    """log y = 1 + 0.4 log η − 0.6 log λ exactly, per seed: coefficients exact, zero-width intervals; with per-seed
    noise the estimate is the seed mean and the interval a t-interval over seeds."""
    from synthetic.fit import loglog_fit_multi, seed_t_interval

    eta = np.array([0.5, 1, 2, 0.5, 1, 2, 0.5, 1, 2] * 3)
    lam = np.array([0.5, 0.5, 0.5, 1, 1, 1, 2, 2, 2] * 3)
    seed = np.repeat([0, 1, 2], 9)
    shift = np.array([0.0, 0.05, -0.02])[seed]
    y = np.exp(1.0 + shift) * eta ** 0.4 * lam ** -0.6
    f = loglog_fit_multi({"eta": eta, "lam": lam}, y, seed)
    assert f.coef["eta"] == pytest.approx(0.4, abs=1e-12) and f.coef["lam"] == pytest.approx(-0.6, abs=1e-12)
    assert f.ci["eta"][1] - f.ci["eta"][0] < 1e-10
    assert f.contrast({"eta": 1, "lam": 1})[0] == pytest.approx(-0.2, abs=1e-12)
    slopes = 0.4 + np.array([0.01, -0.03, 0.05])
    y2 = eta ** slopes[seed] * lam ** -0.6
    f2 = loglog_fit_multi({"eta": eta, "lam": lam}, y2, seed)
    assert (f2.coef["eta"], *f2.ci["eta"]) == pytest.approx(seed_t_interval(slopes))
    with pytest.raises(FitError):
        loglog_fit_multi({"eta": eta[:9], "lam": lam[:9]}, y[:9], seed[:9])


def _depth_table():
    """h_rms at every block of nets of depth 2, 4, 8: the last block's output h_L grows as L^0.5, block 2's does not."""
    rows = []
    for seed in range(3):
        for depth in (2, 4, 8):
            for block in range(depth + 1):
                v = (1.0 + 0.05 * seed) * (depth ** 0.5 if block == depth else 1.0)
                rows.append(dict(run_id=f"r{seed}-{depth}", width=16, depth=depth, lr=1e-2, wd=0.0, seed=seed,
                                 parameterization="mup_k2", optimizer="adamw", step=5, layer=f"h{block}",
                                 quantity="h_rms", index=0, value=v))
    return {k: np.asarray([r[k] for r in rows], dtype=object if isinstance(rows[0][k], str) else None)
            for k in rows[0]}


def test_layer_last_fits_each_runs_last_block_and_a_fixed_block_over_depth_is_refused():
    """Issue 21: `--layer h4 --over depth` fitted block 4 inside the deeper nets and dropped depth 2 silently."""
    (f,) = fit_table(_depth_table(), quantity="h_rms", over="depth", layer="last")
    assert f.fit.slope == pytest.approx(0.5) and f.fit.n == 9
    with pytest.raises(FitError, match="different block at each depth"):
        fit_table(_depth_table(), quantity="h_rms", over="depth", layer="h2")
