"""figures.drift: the drift rate of η* over shapes, exact on noiseless parabolas, its t-interval's coverage over seeds
measured on simulated sweeps at the seed counts used, the paired contrast, and censoring."""

from __future__ import annotations

import numpy as np
import pytest

from figures.claims import LEVEL, LOOKS, Above, Verdict
from figures.drift import Drift, contrast, per_seed_rates, span_doublings
from figures.transfer_claims import drift_claims
from figures.transfer_metric import Sweep, per_seed_optima

GRID = np.arange(-9.0, 0.0)          # log2 η, one octave apart
SHAPES = (32, 64, 128, 256)


def _analysis(rate: float, n_seeds: int, rng=None, noise: float = 0.0, seed_sd: float = 0.0,
              centre: float = -5.0) -> dict:
    """Sweeps whose log loss is a parabola in log2 η with its vertex at centre + rate·log2(shape/64) (+ a per-seed
    offset and per-(seed, shape) optimum noise), plus `noise` on every log loss, as figures.transfer_metric writes
    them."""
    offsets = rng.normal(0, seed_sd, n_seeds) if rng is not None else np.zeros(n_seeds)
    out = {}
    for shape in SHAPES:
        rows = []
        for s in range(n_seeds):
            vertex = centre + rate * np.log2(shape / 64) + offsets[s]
            if rng is not None:
                vertex += rng.normal(0, 0.15)
            log_loss = 0.3 * (GRID - vertex) ** 2 + (rng.normal(0, noise, GRID.size) if rng is not None else 0.0)
            rows.append(np.exp(log_loss))
        out[str(shape)] = {"per_seed": per_seed_optima(Sweep(GRID, np.array(rows), tuple(range(n_seeds))))}
    return out


def test_noiseless_parabolas_give_the_drift_exactly():
    d = per_seed_rates(_analysis(0.37, 3))
    assert list(d.per_seed.values()) == pytest.approx([0.37] * 3, abs=1e-9)
    assert d.shapes == SHAPES and d.censored == 0 and span_doublings(d.shapes) == 3.0


def test_the_contrast_is_the_paired_difference_of_absolute_rates():
    mu, sp = per_seed_rates(_analysis(0.05, 3)), per_seed_rates(_analysis(-0.6, 3))
    assert contrast(mu, sp).value == pytest.approx(0.55, abs=1e-9)


def test_an_optimum_off_the_grid_is_censored_and_keeps_the_rule_from_holding():
    an = _analysis(0.0, 3, centre=-9.4)      # the vertex below the grid: every per-seed optimum on the low edge
    d = per_seed_rates(an)
    assert d.censored == 3 * len(SHAPES)
    summary = {"transfer.mup_k2.width": an, "transfer.sp.width": _analysis(-0.6, 3)}
    rule = drift_claims(summary, key="t", label="t", rule="mup_k2", other="sp", axis="width")[0]
    assert rule.conditions and rule.verdict == Verdict.UNDECIDED


def test_a_contrast_equal_on_every_seed_is_not_decided():
    """wd4's λ sweeps: both rules sweep the same actual λ at every width (the rules differ by one grid step per
    doubling), so each seed's rates differ by exactly the rules' exponent difference and |r_fixed| − |r_Fan| is the
    same on every seed. That spread is structural: no interval, and the contrast stays undecided."""
    fan = {"0": 0.335, "1": 0.59, "2": 0.44}
    rule = Drift(fan, 0, SHAPES)
    other = Drift({k: v + 0.5 for k, v in fan.items()}, 0, SHAPES)
    c = contrast(rule, other)
    assert c.value == pytest.approx(0.5) and not c.has_interval
    assert Above(0.0).judge(c) == Verdict.UNDECIDED
    jittered = Drift({k: v + 0.5 + 1e-6 * i for i, (k, v) in enumerate(fan.items())}, 0, SHAPES)
    assert contrast(rule, jittered).has_interval   # a real spread, however small, keeps its interval


def _coverage(rate: float, n: int, level: float, reps: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        lo, hi = per_seed_rates(_analysis(rate, n, rng, noise=0.02, seed_sd=0.3)).estimate.interval(level)
        hits += lo <= rate <= hi
    return hits / reps


@pytest.mark.parametrize("n", [n * k for n in (3, 4) for k in LOOKS])
def test_the_drift_interval_covers_at_the_seed_counts_used(n):
    """Simulated sweeps (noisy per-seed optima and log losses, a seed offset shared by the shapes): the t-interval of
    the mean per-seed rate covers the true drift at its nominal level, at 3 (wd4) and 4 seeds and at the second
    look's 6 and 8."""
    assert 0.93 <= _coverage(0.3, n, 0.95, reps=1500, seed=n) <= 0.97
    assert abs(_coverage(0.3, n, LEVEL, reps=1500, seed=n + 1) - LEVEL) <= 0.015


def _sweeps(xs: dict[int, tuple[float, str]], seeds=("0", "1")) -> dict:
    """An analysis with the optimum (x, where) at each shape, seed i's rate 0.005·i steeper."""
    return {str(shape): {"per_seed": {s: {"x": x + 0.005 * i * k, "where": w} for i, s in enumerate(seeds)}}
            for k, (shape, (x, w)) in enumerate(xs.items())}


@pytest.mark.parametrize("where_small, where_large, toward", [
    ("low_edge", "inside", 0),            # rate > 0; the smallest shape's optimum may be lower: steeper
    ("high_edge", "inside", 2),           # ... may be higher: flatter
    ("inside", "high_edge", 0),           # the largest shape's optimum may be higher: steeper
    ("inside", "low_edge", 2),            # ... may be lower: flatter
    ("next_to_divergence", "inside", 2),  # either side
])
def test_a_censored_optimum_moves_its_seeds_rate_one_way(where_small, where_large, toward):
    d = per_seed_rates(_sweeps({32: (-6.0, where_small), 64: (-5.5, "inside"), 128: (-5.0, "inside"),
                                256: (-4.5, where_large)}))
    assert (d.censored, d.toward) == (2, toward)
    assert all(r == pytest.approx(0.5, abs=0.03) for r in d.per_seed.values())


def test_an_optimum_at_the_mean_shape_moves_no_rate():
    d = per_seed_rates(_sweeps({32: (-6.0, "inside"), 64: (-5.5, "high_edge"), 128: (-5.0, "inside")}))
    assert (d.censored, d.toward) == (2, 0)


def test_censoring_blocks_only_the_verdicts_it_could_overturn():
    """SP drifting down with its largest shape's optimum on the low edge (its true optimum lower still): "SP drifts"
    may hold, it cannot fail; μP's transfer claim cannot hold on censored optima (figures.transfer_claims)."""
    sp = _sweeps({32: (-3.0, "inside"), 64: (-4.0, "inside"), 128: (-5.0, "inside"), 256: (-6.0, "low_edge")},
                 seeds=tuple(str(i) for i in range(6)))
    mu = _sweeps({32: (-5.0, "inside"), 64: (-5.0, "inside"), 128: (-5.0, "inside"), 256: (-5.0, "high_edge")},
                 seeds=tuple(str(i) for i in range(6)))
    rule, other, contrast_claim = drift_claims({"transfer.mup_k2.width": mu, "transfer.sp.width": sp}, key="t",
                                               label="t", rule="mup_k2", other="sp", axis="width")
    assert other.verdict == Verdict.HOLDS and other.fail_conditions and not other.conditions
    assert rule.conditions and rule.verdict == Verdict.UNDECIDED
    assert contrast_claim.conditions   # μP's rate rests on an optimum not bracketed
    assert contrast_claim.verdict == Verdict.UNDECIDED
