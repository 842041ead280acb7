"""CI regression checks of the Zheng et al. figures at --scale smoke (CPU, float64).

All Zheng figures run once per test session (`figures.zheng_golden.smoke_run`, fresh temporary cache); each test
asserts measured numbers against the paper's expectation (flat = fitted log-log slope near 0, levels near their
closed form), and the golden file pins every exponent whose spread across CPU kernel paths allows it (regenerate:
`python -m figures.golden --set zheng --update`). CI runs this file on every kernel path (.ci/run).
"""

import math

import pytest

from synthetic.version import ENGINE_VERSION

from figures import golden, zheng_golden
from figures.registry import COORD_IDS, ZHENG_IDS
from figures.zheng_claims import e1_expected

pytestmark = pytest.mark.golden

FLAT_L = 0.05
"""|slope| of a Fig. 3/4 ratio vs depth L allowed at smoke scale (L ∈ {2..16}); the measured ones are ≤ 0.02."""
FLAT_L_ACT = 0.1
"""|slope| of the Fig. 5 activation ratio vs L (its last-block maps drift by ≈ 0.05 over L = 2..16 at width 16)."""
FLAT_COORD = 0.1
"""|slope| of a μP coordinate check (‖h_L‖_R vs width or depth) allowed."""
SP_GROWS = 0.25
"""SP's ‖h_L‖_R must grow at least like this power of width."""
SP_GROWS_DEPTH = 0.12
"""SP's ‖h_L‖_R vs depth at smoke scale (L = 2..8, Θ(1) h0 dominating at shallow depth): measured 0.16–0.19, while
μP's stay within ±0.07; SP's one-step update ‖Δh_L‖_R must grow faster still (SP_UPDATE_GROWS_DEPTH)."""
SP_UPDATE_GROWS_DEPTH = 0.5
FIG1_SP_GROWS = 0.15
"""Fig. 1 smoke (widths 16..64, pre-norm, Muon-Kimi-AdamW at step 10): SP's width slope is ≈ 0.24, μP's ≈ 0.02."""


@pytest.fixture(scope="module")
def smoke():
    return zheng_golden.smoke_run()


def _fits(smoke, fid):
    s = smoke[fid]["summary"]
    return s, s["fits"]


@pytest.mark.parametrize("fid", ZHENG_IDS + COORD_IDS)
def test_every_figure_writes_png_pdf_csv(smoke, fid):
    paths = smoke[fid]["paths"]
    assert [p.suffix for p in paths] == [".png", ".pdf", ".csv", ".json"]
    for p in paths:
        assert p.exists() and p.stat().st_size > 200, p
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"
    lines = paths[2].read_text().splitlines()
    provenance = dict(line[2:].split("=", 1) for line in lines if line.startswith("# "))
    header = next(line for line in lines if not line.startswith("#"))
    assert "value" in header.split(",")
    assert provenance["engine_version"] == ENGINE_VERSION and provenance["dtype"] == "float64"


@pytest.mark.parametrize("fid, lo, hi", [("3", 0.95, 1.0 + 1e-12), ("4", 0.85, 1.0 + 1e-12)])
def test_assumption_g1_flat_in_depth_and_near_one(smoke, fid, lo, hi):
    s, fits = _fits(smoke, fid)
    for panel in ("input", "last.1", "last.2"):
        for t in (0, s["steps"] // 2, s["steps"]):
            f = fits[f"{panel}.t{t}"]
            assert abs(f["slope"]) < FLAT_L, f"Fig {fid} {panel} t={t}: slope vs L {f['slope']:+.4f}"
            assert lo <= f["min"] and f["max"] <= hi, f"Fig {fid} {panel} t={t}: ratio range [{f['min']}, {f['max']}]"


@pytest.mark.parametrize("fid", ["3", "4"])
def test_update_sizes_and_cumulative_ratios_beside_the_g1_ratios(smoke, fid):
    """Figs 3–4 report the size of the update each ratio tests, single step (t = 0, T/2, T) and cumulative W_t − W_0
    (t = T/2, T); every ratio respects the floor (1 − r)/(1 + r) that the triangle inequality sets for its size r."""
    s, fits = _fits(smoke, fid)
    T = s["steps"]
    for panel in ("input", "last.1", "last.2"):
        for t in (0, T // 2, T):
            size = s["size_fits"][f"{panel}.t{t}"]
            assert 0 < size["min"] <= size["max"] < 1, f"Fig {fid} {panel} t={t}: single-step size {size}"
            assert fits[f"{panel}.t{t}"]["min"] >= size["floor"] - 1e-12
        for t in (T // 2, T):
            cum, cum_size = s["cum_fits"][f"{panel}.t{t}"], s["cum_size_fits"][f"{panel}.t{t}"]
            assert abs(cum["slope"]) < FLAT_L, f"Fig {fid} {panel} t={t}: cumulative slope vs L {cum['slope']:+.4f}"
            assert 0 < cum["min"] and cum["max"] <= 1 + 1e-12
            assert 0 < cum_size["min"] and cum["min"] >= cum_size["floor"] - 1e-12
    assert s["cum_max_abs_slope"] < FLAT_L
    assert s["size"]["floor"] == pytest.approx((1 - s["size"]["max"]) / (1 + s["size"]["max"]))
    if fid == "3":  # one GD step barely moves a hidden matrix: there the ratio ≈ 1 is forced, not measured
        for panel in ("last.1", "last.2"):
            assert s["size_fits"][f"{panel}.t{T}"]["max"] < 1e-3


def test_assumption_g2_activation_flat_near_relu_value(smoke):
    s, fits = _fits(smoke, "5")
    for panel in ("input", "last.1", "last.2"):
        f = fits[f"{panel}.t{s['steps']}"]
        assert abs(f["slope"]) < FLAT_L_ACT, f"Fig 5 {panel}: slope vs L {f['slope']:+.4f}"
        assert abs(f["mean"] - 1 / math.sqrt(2)) < 0.1, f"Fig 5 {panel}: mean ratio {f['mean']:.3f} vs 1/√2"


def test_claim_e1_flat_in_width_at_gaussian_value(smoke):
    s = smoke["e1"]["summary"]
    for rho in (1, 4):
        r = s[f"ratio{rho}"]
        assert abs(r["slope"]) < 0.05, f"Claim E.1 n_l/n={rho}: slope vs width {r['slope']:+.4f}"
        assert abs(r["mean_at_max_width"] / e1_expected(rho) - 1) < 0.1, \
            f"Claim E.1 n_l/n={rho}: {r['mean_at_max_width']:.4f} vs √ρ/(1+√ρ)² = {e1_expected(rho):.4f}"


def test_claim_e2_exactly_one_for_batch1_gd(smoke):
    s = smoke["e2"]["summary"]
    assert s["gd_batch1_max_abs_dev_from_1"] < 1e-6
    assert s["GD, batch B.step0"]["mean"] < 0.9  # a batch of B > 1 samples is no longer rank one: the ratio moves


COORD_KNOWN_FAILURES = {
    "coord-soap": "SOAP's μP ‖h_L‖ width slope is +0.17 at smoke scale (> 0.1) and 12 of 30 runs diverge (SP and μP); "
                  "its eigenbasis is refreshed by eigh every step (rotated second moment re-indexed by eigenvalue "
                  "rank), base LR App. E's Shampoo grid centre, not tuned",
    "coord-shampoo_adamw": "μP flat (|slope| ≤ 0.07) and SP grows, but SP's one-step ‖Δh_L‖ depth slope is +0.41 at "
                           "smoke scale, below SP_UPDATE_GROWS_DEPTH = 0.5",
}
"""Coordinate checks that fail a threshold below, reported rather than tuned away (strict xfail: a fix shows up)."""


@pytest.mark.parametrize("fid", [pytest.param(f, marks=pytest.mark.xfail(reason=COORD_KNOWN_FAILURES[f], strict=True))
                                 if f in COORD_KNOWN_FAILURES else f for f in COORD_IDS])
def test_coordinate_check_mup_flat_sp_grows(smoke, fid):
    h = smoke[fid]["summary"]["headline"]
    for param in ("mup_k1", "mup_k2"):
        assert abs(h[f"{param}.h_rms.width"]) < FLAT_COORD, f"{fid} {param}: ‖h_L‖ slope vs width {h[f'{param}.h_rms.width']:+.3f}"
    for param in ("mup_k1", "mup_k2"):
        slope = h[f"{param}.h_rms.depth"]
        assert abs(slope) < FLAT_COORD, f"{fid} {param}: ‖h_L‖ slope vs depth {slope:+.3f}"
    assert h["sp.h_rms.depth"] > SP_GROWS_DEPTH, f"{fid} SP: ‖h_L‖ slope vs depth {h['sp.h_rms.depth']:+.3f}"
    assert h["sp.dh_rms.depth"] > SP_UPDATE_GROWS_DEPTH, f"{fid} SP: ‖Δh_L‖ slope vs depth {h['sp.dh_rms.depth']:+.3f}"
    sp_w = h["sp.h_rms.width"]
    assert sp_w is None or not math.isfinite(sp_w) or sp_w > SP_GROWS, f"{fid} SP: ‖h_L‖ slope vs width {sp_w:+.3f}"


def test_fig1_mup_flat_in_width_sp_grows(smoke):
    s = smoke["1"]["summary"]
    assert abs(s["coord.mup_k2.width.step10"]["slope"]) < FLAT_COORD
    assert abs(s["coord.mup_k2.depth.step10"]["slope"]) < FLAT_COORD
    assert s["coord.sp.width.step10"]["slope"] > FIG1_SP_GROWS


def test_golden_exponents_unchanged(smoke):
    current = zheng_golden.current_values(smoke)
    problems = golden.compare(current, golden.load(zheng_golden.GOLDEN_PATH))
    assert not problems, "\n".join(problems)


def test_init_fit_intercept_is_the_input_feature_under_the_k2_rule(smoke):
    """At init the cross terms of the residual sum vanish in expectation, so under α ∝ 1/L ‖h_L‖²_R = ‖h0‖²_R + c/L:
    the fitted intercept A equals the measured ‖h0‖²_R (within seed noise) for Figs 1, 2 and every coord check."""
    for fid in ("1", "2"):
        f = smoke[fid]["summary"]["coord_init_fit.mup_k2"]
        assert abs(f["A"] - f["h0_sq_mean"]) < 0.1 * f["h0_sq_mean"], (fid, f)
    for fid in COORD_IDS:
        f = smoke[fid]["summary"]["fits"]["mup_k2.init_fit"]
        assert abs(f["A"] - f["h0_sq_mean"]) < 0.1 * f["h0_sq_mean"], (fid, f)


def test_transfer_analysis_brackets_every_smoke_optimum_or_says_why(smoke):
    """Every sweep of Figs 1, 2, depth-k, v2-shampoo and v2-sophia ends with its optimum bracketed, or next to a
    diverged point, or at the extension limit: never silently on a grid edge that could have been extended."""
    from figures.sweep_extension import LIMITS

    for fid in ("1", "2", "depth-k", "v2-shampoo", "v2-sophia"):
        s = smoke[fid]["summary"]
        for key, an in s.items():
            if not key.startswith("transfer."):
                continue
            for shape, v in an.items():
                o = v["optimum"]
                assert o["where"] in ("inside", "next_to_divergence") or o["value"] in LIMITS, (fid, key, shape, o)
