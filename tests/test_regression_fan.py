"""CI regression checks for the Fan et al. AdamW steady-state law (smoke scale, CPU, float64).

Expectations are the paper's law and the digest's tolerances (digest §10.3): σ1 ∝ (η/λ)^0.5 at steady state, and a
weight-decay rule λ2 ∝ d^(2α̂−1) built from the measured width exponent α̂ keeps σ1 width-invariant under μP. The law's
general form σ1 ∝ η^a λ^−b d^α is fitted too (a, b on wd1's factorial grid): a, b = 0.5 ± 0.1, and its own invariant
rule e* = (â·a_η + α̂)/b̂ keeps σ1 flat on wd3's runs. The
fitted exponents are also pinned in tests/golden/fan.json (figures.fan_golden), with tolerances from their spread
across CPU kernel paths; `python -m figures.golden --set fan --update` rewrites that file (review the diff: every
moved exponent is a behaviour change). CI runs this file on every kernel path (.ci/run).

Setting: Fan's recipe (digest §10.1) — pre-norm blocks, λ1 = 0 for the vector-like input map and readout
(`decay_roles=("hidden",)`), no final norm (figures/wd_setup.py says why).
The law is asserted on W_up of blocks 2..L (the FFN up-projections that read a normalized, full-rank residual stream);
W_down, block 1 and the all-block averages are pinned in the golden file.
"""

from __future__ import annotations

import contextlib
import math

import pytest
import torch

from figures import fan_golden, golden, wd
from synthetic.grid import run_grid

SCALE = fan_golden.SCALE
pytestmark = pytest.mark.golden
SLOPE_TOL = 0.1
FLAT_TOL = 0.1


@contextlib.contextmanager
def one_thread():
    """Tiny stacked models are launch-bound: one intra-op thread is faster and immune to oversubscription."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@pytest.fixture(scope="session")
def fan_cache(tmp_path_factory):
    """One run cache for the whole session, shared with tests/test_figures_wd.py (same base temp directory)."""
    return tmp_path_factory.getbasetemp() / "fan_runs"


def _train(runs, cache):
    with one_thread():
        return run_grid(runs, cache_dir=cache, device="cpu", progress=False)


@pytest.fixture(scope="module")
def wd1(fan_cache):
    return wd.analyze_wd1(_train(wd.wd1_runs(SCALE), fan_cache), SCALE)


@pytest.fixture(scope="module")
def wd2(fan_cache):
    return wd.analyze_wd2(_train(wd.wd2_runs(SCALE), fan_cache))


@pytest.fixture(scope="module")
def wd3(fan_cache, wd1, wd2):
    law = wd.fitted_law(wd1, wd2)
    return wd.analyze_wd3(_train(wd.wd3_runs(SCALE), fan_cache), law, SCALE)


def test_smoke_runs_reach_steady_state(wd1, wd3):
    """Every run trains for at least 5 EMA timescales 1/(η2 λ2) (the digest's minimum), none diverges."""
    for name, a in (("wd1", wd1), ("wd3", wd3)):
        assert a["steady"]["timescales_min"] >= 5.0 - 1e-9, f"{name}: {a['steady']}"
    assert all(r["diverged_at"] is None for r in wd1["runs"] + wd3["rows"])


def test_sigma1_scales_as_sqrt_eta_over_lambda(wd1):
    """Slope of log σ1 against log(η/λ) over Fan's six points plus λ×4, λ×1/4 equals 0.5 ± 0.1 (W_up, blocks 2..L)."""
    f = wd1["fits"]["sigma1_W_up_inner"]
    assert abs(f.slope - 0.5) <= SLOPE_TOL, (
        f"σ1(W_up, blocks 2..L) vs η/λ slope {f.slope:.3f} (95% CI {f.lo:.3f}..{f.hi:.3f}); expected 0.5 ± {SLOPE_TOL}")


def test_weight_rms_scales_as_sqrt_eta_over_lambda(wd1):
    """The bulk (entry RMS) of both FFN matrices follows the pure-noise equilibrium √(η/2λ): slope 0.5 ± 0.1."""
    for t in wd.TYPES:
        f = wd1["fits"][f"w_rms_{t}"]
        assert abs(f.slope - 0.5) <= SLOPE_TOL, f"weight RMS {t} vs η/λ slope {f.slope:.3f}; expected 0.5 ± 0.1"


def test_half_law_with_measured_alpha_predicts_every_rule(wd3):
    """Out of sample: λ2 ∝ d^e for e = 0, ¼, ½, ¾, 1 under μP: σ1's width exponent (W_up, blocks 2..L) within 0.1 of
    the ½-law's prediction ½(a − e) + α̂ with the α̂ measured on wd2."""
    for rule, fit in wd3["fits"].items():
        assert abs(fit["error_half"]) <= FLAT_TOL, (
            f"{rule} (e = {fit['e']}): measured {fit['sigma1_W_up_inner'].slope:.3f}, ½-law predicts "
            f"{fit['predicted_half'].slope:.3f}; expected within {FLAT_TOL}")


def test_joint_law_powers_are_both_one_half(wd1):
    """σ1 ∝ η^a λ^−b fitted jointly over wd1's factorial (η, λ) grid (per-seed least squares of log σ1 on log η2,
    log λ2): a and b each 0.5 ± 0.1 (W_up, blocks 2..L)."""
    j = wd1["joint"]["sigma1_W_up_inner"]
    for name, f in (("a", j.a), ("b", j.b)):
        assert abs(f.slope - 0.5) <= SLOPE_TOL, f"joint law {name} = {f.text(3)}; expected 0.5 ± {SLOPE_TOL}"


def test_golden_exponents(wd1, wd2, wd3):
    problems = golden.compare(fan_golden.exponents(wd1, wd2, wd3), golden.load(fan_golden.GOLDEN_PATH))
    assert not problems, "exponents moved:\n" + "\n".join(problems)


def test_golden_compare_names_the_moved_exponent():
    doc = {"exponents": {"wd2.alpha.x": {"value": 0.75, "tol": 0.05}, "wd2.alpha.y": {"value": None, "tol": 0.05}},
           "left_out": {"wd3.chaotic": {"value": 0.1, "spread": 0.4, "why": "moves"}}}
    assert golden.compare({"wd2.alpha.x": 0.77, "wd2.alpha.y": None, "wd3.chaotic": 9.0}, doc) == []
    (msg,) = golden.compare({"wd2.alpha.x": 0.9, "wd2.alpha.y": None}, doc)
    assert "wd2.alpha.x" in msg and "+0.7500" in msg and "+0.9000" in msg
    (msg,) = golden.compare({"wd2.alpha.x": 0.75, "wd2.alpha.y": 0.3}, doc)
    assert "wd2.alpha.y" in msg and "not finite" in msg
    (msg,) = golden.compare({"wd2.alpha.x": 0.75, "wd2.alpha.y": None, "wd2.new": 1.0}, doc)
    assert "wd2.new" in msg and "new" in msg


def test_golden_tolerance_follows_the_measured_spread():
    """An exponent's tolerance is its base tolerance or MARGIN × its spread across paths, whichever is larger; past
    LEAVE_OUT_ABOVE it is left out; a teammate's value from another CPU counts in the spread."""
    reference = {"a": (0.5, 0.05), "b": (1.0, 0.05), "c": (0.0, 0.05), "d": (None, 0.05)}
    paths = {"native/1": {"a": 0.5, "b": 1.0 + 0.1, "c": 0.3, "d": None},
             "default/1": {"a": 0.501, "b": 0.98, "c": 0.0, "d": None}}
    exponents, left_out = golden.build(reference, paths)
    assert exponents["a"]["tol"] == 0.05 and math.isclose(exponents["a"]["spread"], 0.001)
    assert math.isclose(exponents["b"]["tol"], golden.MARGIN * 0.1)
    assert set(left_out) == {"c"} and math.isclose(left_out["c"]["spread"], 0.3)
    assert exponents["d"] == {"value": None, "tol": 0.05, "spread": 0.0}
    name, (value, where) = next(iter(golden.REPORTED_ELSEWHERE.items()))
    _, left_out = golden.build({name: (value + 1.0, 0.05)}, {})
    assert name in left_out and "issue 22" in left_out[name]["why"]


def test_widen_keeps_the_values_and_takes_the_larger_spread():
    """`--widen` on another CPU: values kept; spread max(file's, |here − value|); tolerance max(file's, MARGIN ×
    spread), which is max(base, MARGIN × spread) since the file's was; past LEAVE_OUT_ABOVE left out; a file's
    left-out exponent stays left out."""
    doc = {"exponents": {"a": {"value": 0.5, "tol": 0.05, "spread": 0.001},
                         "b": {"value": 1.0, "tol": 0.09, "spread": 0.03},
                         "c": {"value": 0.0, "tol": 0.05, "spread": 0.0},
                         "d": {"value": None, "tol": 0.05, "spread": 0.0}},
           "left_out": {"e": {"value": 0.2, "spread": 0.4, "why": "moves"}}, "margin": golden.MARGIN}
    here = {"native/1": {"a": 0.53, "b": 1.01, "c": 0.3, "d": None, "e": 5.0},
            "avx2/1": {"a": 0.49, "b": 1.0, "c": 0.0, "d": None}}
    new = golden.widen(doc, here)
    assert new["exponents"]["a"]["value"] == 0.5 and math.isclose(new["exponents"]["a"]["spread"], 0.03)
    assert math.isclose(new["exponents"]["a"]["tol"], golden.MARGIN * 0.03)
    assert new["exponents"]["b"] == doc["exponents"]["b"]
    assert set(new["left_out"]) == {"c", "e"} and math.isclose(new["left_out"]["c"]["spread"], 0.3)
    assert new["exponents"]["d"] == doc["exponents"]["d"]
    assert golden.compare({"a": 0.58, "b": 1.0, "c": 9.0, "d": None, "e": 9.0}, new) == []
    (msg,) = golden.compare({"a": 0.6, "b": 1.0, "c": 9.0, "d": None}, new)
    assert msg.startswith("exponent a moved")


def test_parallel_jobs_never_outnumber_the_cores():
    assert golden.parallel_jobs(2, 2, cores=2) == 1
    assert golden.parallel_jobs(2, 1, cores=2) == 2
    assert golden.parallel_jobs(4, 2, cores=16) == 4
    assert golden.parallel_jobs(2, 4, cores=2) == 1
