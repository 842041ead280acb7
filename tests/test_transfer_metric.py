"""figures.transfer_metric against closed forms: parabolic interpolation is exact on a log loss quadratic in log₂ η,
so optima, shifts and regrets have exact values; edges and divergence are flagged; the bootstrap collapses without
seed noise and covers the truth with it."""

import math

import numpy as np
import pytest

from figures.transfer_metric import Sweep, curve_at, optimum, regret, transfer

X = np.arange(-10.0, -4.0)


def quad_sweep(x0: float, k: float = 0.3, c: float = 0.1, seeds: int = 3, noise: float = 0.0, rng=None) -> Sweep:
    """Losses with log L = log c + k (x − x0)² exactly (plus log-normal seed noise)."""
    logs = np.log(c) + k * (X - x0) ** 2
    rows = np.tile(logs, (seeds, 1))
    if noise:
        rows = rows + noise * rng.standard_normal(rows.shape)
    return Sweep(X, np.exp(rows))


@pytest.mark.parametrize("x0", [-8.0, -7.3, -6.55, -8.49])
def test_optimum_is_exact_for_a_quadratic_log_loss(x0):
    o = optimum(X, quad_sweep(x0).curve())
    assert o.where == "inside" and o.x == pytest.approx(x0, abs=1e-9)


def test_edges_and_divergence_are_flagged_at_the_grid_point():
    m = np.linspace(3.0, 1.0, X.size)
    assert optimum(X, m).where == "high_edge" and optimum(X, m).x == X[-1]
    assert optimum(X, m[::-1]).where == "low_edge" and optimum(X, m[::-1]).x == X[0]
    m2 = np.array([3.0, 2.0, 1.0, np.inf, np.inf, np.inf])
    o = optimum(X, m2)
    assert o.where == "next_to_divergence" and o.x == X[2]
    assert optimum(X, np.full(X.size, np.inf)).where == "all_diverged"


def test_a_diverged_seed_makes_its_point_infinite():
    loss = np.ones((2, X.size))
    loss[1, 3] = np.nan
    assert np.isinf(Sweep(X, loss).curve()[3]) and np.isfinite(Sweep(X, loss).curve()[2])


@pytest.mark.parametrize("at", [-8.0, -7.4, -5.6])
def test_regret_is_the_closed_form(at):
    k, x0 = 0.3, -7.3
    m = quad_sweep(x0, k).curve()
    r, clamped = regret(X, m, at)
    assert not clamped and r == pytest.approx(math.exp(k * (at - x0) ** 2) - 1, rel=1e-9)
    assert curve_at(X, m, at) == pytest.approx(math.log(0.1) + k * (at - x0) ** 2, rel=1e-12)


def test_regret_outside_the_grid_is_clamped_to_the_edge():
    m = quad_sweep(-7.3).curve()
    r, clamped = regret(X, m, -12.0)
    assert clamped and r == pytest.approx(math.exp(0.3 * (X[0] + 7.3) ** 2) - 1, rel=1e-9)


def test_transfer_shift_and_regret_without_seed_noise_are_exact_with_degenerate_intervals():
    k = 0.3
    base, shifted = quad_sweep(-7.6, k), quad_sweep(-6.3, k)
    out = transfer(base, {"same": base, "wide": shifted}, n_boot=200)
    assert out["wide"]["shift"]["value"] == pytest.approx(1.3, abs=1e-9)
    assert out["wide"]["shift"]["lo"] == pytest.approx(1.3, abs=1e-9) == out["wide"]["shift"]["hi"]
    assert out["wide"]["regret"]["value"] == pytest.approx(math.exp(k * 1.3 ** 2) - 1, rel=1e-9)
    assert out["base"]["optimum"]["value"] == pytest.approx(-7.6, abs=1e-9)
    assert out["same"]["shift"] == {"value": 0.0, "lo": 0.0, "hi": 0.0}
    assert out["same"]["regret"]["value"] == pytest.approx(0.0, abs=1e-12)


def test_bootstrap_interval_covers_the_true_optimum_with_seed_noise():
    """Over 40 simulated 5-seed experiments the 95% bootstrap interval of the optimum covers the truth in most
    (percentile bootstrap with 5 seeds under-covers a little; > 75% is what it must reach here)."""
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(40):
        sw = quad_sweep(-7.3, seeds=5, noise=0.05, rng=rng)
        o = transfer(sw, {}, n_boot=300)["base"]["optimum"]
        hits += o["lo"] <= -7.3 <= o["hi"]
    assert hits >= 30


def test_reading_the_curve_next_to_a_diverged_point_uses_the_finite_side():
    """−3 diverged: −4.3 lies between the finite −5 and −4, so it is read off the parabola through −6, −5, −4 (exact
    for a quadratic); beyond the last finite point the curve is +inf."""
    k, x0 = 0.3, -5.2
    x = np.arange(-9.0, -2.0)                             # grid −9 … −3
    m = math.log(0.1) + k * (x - x0) ** 2
    m[-1] = np.inf                                        # −3 diverged
    assert curve_at(x, m, -4.3) == pytest.approx(math.log(0.1) + k * (-4.3 - x0) ** 2, rel=1e-12)
    assert curve_at(x, m, -3.5) == math.inf
    r, _ = regret(x, m, -4.3)
    assert r == pytest.approx(math.exp(k * (-4.3 - x0) ** 2) - 1, rel=1e-9)


def test_a_diverged_resample_widens_the_interval_instead_of_being_dropped():
    from figures.transfer_metric import _interval

    draws = np.array([0.1] * 90 + [np.inf] * 10)
    iv = _interval(0.1, draws)
    assert iv.lo == 0.1 and iv.hi == math.inf
    assert math.isnan(_interval(0.1, np.array([np.nan] * 60 + [0.1] * 40)).lo)


def test_shapes_on_the_same_seeds_are_resampled_together():
    """Seed s moves the optimum by the same δ_s at every shape (same task): the paired bootstrap sees the shift
    exactly in every draw; sweeps without seed labels are resampled independently and get a wide interval."""
    rng = np.random.default_rng(3)
    delta = rng.normal(0.0, 0.4, size=5)

    def sweep(x0, seeds):
        rows = np.array([np.log(0.1) + 0.3 * (X - x0 - d) ** 2 for d in delta])
        return Sweep(X, np.exp(rows), seeds)

    paired = transfer(sweep(-7.6, (0, 1, 2, 3, 4)), {"t": sweep(-6.6, (0, 1, 2, 3, 4))}, n_boot=300)["t"]["shift"]
    assert paired["lo"] == pytest.approx(1.0, abs=1e-9) and paired["hi"] == pytest.approx(1.0, abs=1e-9)
    unpaired = transfer(sweep(-7.6, None), {"t": sweep(-6.6, None)}, n_boot=300)["t"]["shift"]
    assert unpaired["hi"] - unpaired["lo"] > 0.3
