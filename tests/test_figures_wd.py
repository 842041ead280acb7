"""Figures wd1–wd4 (Fan et al.): hyperparameters come from theory as the closed forms say, the rules match the paper's
table, and every figure writes PNG + PDF + tidy CSV + summary at smoke scale (runs shared with the regression checks)."""

from __future__ import annotations

import csv
import math
from dataclasses import replace

import pytest
import torch

from figures import wd
from figures import wd_setup as ws
from figures.registry import FigureContext
from synthetic.grid import run_grid
from synthetic.optim import run_hparams

SCALE = "smoke"


@pytest.fixture(scope="session")
def fan_cache(tmp_path_factory):
    """Same directory as tests/test_regression_fan.py's cache: runs trained there are read here."""
    return tmp_path_factory.getbasetemp() / "fan_runs"


def _train(runs, cache):
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_grid(runs, cache_dir=cache, device="cpu", progress=False)
    finally:
        torch.set_num_threads(saved)


@pytest.mark.parametrize("e", [0.0, 0.5, 1.0, 0.37])
@pytest.mark.parametrize("width", [16, 64])
def test_rule_hparams_are_the_closed_form(width, e):
    """Under μP with λ2 ∝ d^e the engine trains the hidden maps with η2 = η_b·d0/d, λ2 = λ_b·(d/d0)^e, and the
    vector-like maps (input map, readout) with η1 = η_b and λ1 = 0 (Fan's recipe, the documented VECTOR_LIKE choice);
    no final norm before the readout (see figures/wd_setup.py)."""
    s = ws.setting(SCALE)
    cfg = ws.run_config(s, width=width, seed=0, steps=10, base=ws.base_hp(s, width=width, e=e))
    hp = run_hparams(cfg)
    r = width / s.d0
    assert hp["hidden"].lr == pytest.approx(s.eta / r, rel=1e-12)
    assert hp["hidden"].wd == pytest.approx(s.lam * r ** e, rel=1e-12)
    for role in ("input", "output"):
        assert hp[role].lr == pytest.approx(s.eta, rel=1e-12)
        assert hp[role].wd == 0.0
    assert not cfg.model.final_norm


def test_rules_match_the_papers_table():
    """Digest §3.3 (α = 0.75, η2 ∝ 1/d): λ2 exponents 0 / 0.5 / 1 and σ1 exponents +0.25 / 0 / −0.25."""
    assert ws.rule_exponent("mup_fixed") == 0.0
    assert ws.rule_exponent("fan", alpha=0.75, p=0.5) == pytest.approx(0.5)
    assert ws.rule_exponent("constant_eta_lambda") == 1.0
    for e, expected in ((0.0, 0.25), (0.5, 0.0), (1.0, -0.25)):
        assert ws.predicted_sigma1_exponent(e, alpha=0.75) == pytest.approx(expected)
    assert ws.rule_exponent("fan", alpha=0.9, p=0.5) == pytest.approx(2 * 0.9 - 1)


def test_steps_cover_five_timescales_of_the_slowest_run():
    for runs in (wd.wd1_runs(SCALE), wd.wd3_runs(SCALE)):
        slowest = min(math.prod(ws.hidden_eta_lam(r)) for r in runs)
        assert runs[0].steps * slowest >= 5.0 - 1e-9


def test_registry_sees_the_wd_specs():
    from figures.registry import all_specs

    specs = {k: v for k, v in all_specs().items() if k.startswith("wd")}
    assert list(specs) == ["wd1", "wd2", "wd3", "wd4"] and specs["wd1"] is wd.SPECS["wd1"]
    assert all(s.description for s in specs.values())


def _check_outputs(paths, fig_id):
    png, pdf, csv_path, js = paths
    for p in paths:
        assert p.exists() and p.stat().st_size > 0, p
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:4] == b"%PDF"
    with csv_path.open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    assert len(rows) >= 4, f"{fig_id}: CSV has {len(rows)} rows"


def test_every_figure_writes_png_pdf_csv(fan_cache, tmp_path):
    from figures.plotting import save_outputs

    results = {k: _train(f(SCALE), fan_cache) for k, f in (("wd1", wd.wd1_runs), ("wd2", wd.wd2_runs))}
    alpha_hat, alpha_info = wd.measured_alpha(SCALE, results=results["wd2"])
    law = wd.measured_law(SCALE, wd1_results=results["wd1"], wd2_results=results["wd2"])[0]
    assert law.joint and law.alpha.slope == alpha_hat
    results["wd3"] = _train(wd.wd3_runs(SCALE), fan_cache)
    results["wd4"] = _train(wd.wd4_runs(SCALE), fan_cache)
    drawn = {
        "wd1": wd.plot_wd1(FigureContext("wd1", SCALE), results["wd1"]),
        "wd2": wd.plot_wd2(FigureContext("wd2", SCALE), results["wd2"]),
        "wd3": wd.plot_wd3(FigureContext("wd3", SCALE), results["wd3"], law),
        "wd4": wd.plot_wd4(FigureContext("wd4", SCALE), results["wd4"]),
    }
    # wd3's build carries the wd1 and wd2 runs its law is fitted on, and its plot splits them back by config
    both = wd.SPECS["wd3"].build(FigureContext("wd3", SCALE))
    assert len(both) == len(wd.wd3_runs(SCALE)) + len(wd.wd1_runs(SCALE)) + len(wd.wd2_runs(SCALE))
    own, r1, r2 = wd.split_wd3(results["wd3"] + results["wd1"] + results["wd2"], SCALE)
    assert (own, r1, r2) == (results["wd3"], results["wd1"], results["wd2"])
    for fig_id, out in drawn.items():
        _check_outputs(save_outputs(out.figure, tmp_path / fig_id, fig_id, out.rows, out.summary), fig_id)
    # the headline numbers are the analysis' numbers, finite, with the steady-state check reported
    assert math.isfinite(drawn["wd2"].summary["alpha"]["value"])
    assert [drawn["wd3"].summary[f"sigma1_exponent_{r}"]["e"] for r in wd.WD3_RULES] == [0.0, 0.25, 0.5, 0.75, 1.0]
    for out in drawn.values():
        assert out.summary["steady"]["timescales_min"] >= 5.0 - 1e-9
    shifts = [v["worst_shift"]["value"] for k, v in drawn["wd4"].summary.items() if k.startswith("transfer_summary.")]
    assert len(shifts) == 2 * len(wd.WD4_RULES) and all(math.isfinite(x) for x in shifts)
    # labels are read from the configs: the analysis does not depend on the order of the results
    forward, backward = (wd.analyze_wd4(r, SCALE) for r in (results["wd4"], results["wd4"][::-1]))
    assert all(repr(forward["transfer"][k]["analysis"]) == repr(backward["transfer"][k]["analysis"])
               for k in forward["transfer"])
    # every run sits in the sweeps it belongs to: its rule's η sweep and/or λ sweep (d0 runs in every rule's)
    assert {id(r) for r in results["wd4"]} == {id(m) for members, _ in wd.wd4_sweeps(results["wd4"], SCALE).values()
                                               for m in members}
    a3 = wd.analyze_wd3(results["wd3"][::-1], law, SCALE)
    assert a3["fits"]["fan_paper"]["sigma1"] == wd.analyze_wd3(results["wd3"], law, SCALE)["fits"]["fan_paper"]["sigma1"]


# ---------------------------------------------------------------- the analysis against a closed form

A_TRUE, B_TRUE, ALPHA_TRUE = 0.4, 0.6, 0.8
"""A law with a ≠ b: σ1 = C_seed · η2^a · λ2^−b · d^α exactly, in every layer."""


def _law_result(config, seed_scale: bool = True):
    """A fake RunResult whose every matrix layer has σ1 (and gain, RMS, spectrum) = C·η2^a·λ2^−b·d^α over the last
    steps, with a per-seed constant C (the seed's intercept must not move the slopes)."""
    from synthetic.engine import RunResult
    from synthetic.records import Record

    eta2, lam2 = ws.hidden_eta_lam(config)
    c = 1.0 + 0.1 * config.seed if seed_scale else 1.0
    v = c * eta2 ** A_TRUE * lam2 ** -B_TRUE * config.model.width ** ALPHA_TRUE
    layers = ("input", *ws.hidden_layers(config.model.depth))
    recs = []
    for step in (config.steps // 2, config.steps - 1, config.steps):
        for layer in layers:
            recs += [Record("fake", step, layer, q, 0, v) for q in ("sigma1", "gain", "w_rms")]
            recs += [Record("fake", step, layer, "spectrum", i, v * 0.5 ** i) for i in range(4)]
        recs.append(Record("fake", step, "model", "test_loss", 0, 1.0))
    return RunResult(config, "fake", recs, None)


def test_analysis_recovers_a_known_law_exactly(tmp_path):
    """Records from σ1 = C η^a λ^−b d^α (a = 0.4 ≠ b = 0.6, α = 0.8): wd1's joint fit gives a and b exactly (zero-width
    per-seed intervals, a = b rejected), wd2 gives α; wd3's runs then measure exactly the joint law's prediction
    a·a_η − b·e + α (a_η = −1, μP) for every rule, the ½-law misses by (a − ½)·a_η − (b − ½)·e, the joint law's e*
    rule comes out flat; and the results table reads those numbers back from the summaries."""
    from figures.plotting import save_outputs
    from figures.registry import claims_of
    from figures.results_table import markdown
    from synthetic.version import ENGINE_VERSION

    r1 = [_law_result(c) for c in wd.wd1_runs(SCALE)]
    r2 = [_law_result(c) for c in wd.wd2_runs(SCALE)]
    law, a1, a2 = wd.measured_law(SCALE, wd1_results=r1, wd2_results=r2)
    j = a1["joint"][f"sigma1_{wd.PRIMARY}"]
    assert (j.a.slope, j.a.lo, j.a.hi) == pytest.approx((A_TRUE,) * 3, abs=1e-9)
    assert (j.b.slope, j.b.lo, j.b.hi) == pytest.approx((B_TRUE,) * 3, abs=1e-9)
    assert j.diff.slope == pytest.approx(A_TRUE - B_TRUE, abs=1e-9) and j.a_equals_b_rejected
    assert law.alpha.slope == pytest.approx(ALPHA_TRUE, abs=1e-9) and law.joint
    a_eta = ws.bridge_hidden_exponents()[0]
    assert a_eta == -1.0
    assert law.e_star == pytest.approx((A_TRUE * a_eta + ALPHA_TRUE) / B_TRUE, abs=1e-9)
    # every wd1 run was labelled from its config, whatever its position in the list
    a1_shuffled = wd.analyze_wd1(r1[::-1], SCALE)
    assert sorted((r["label"], r["seed"]) for r in a1_shuffled["runs"]) == sorted(
        (r["label"], r["seed"]) for r in a1["runs"])
    assert a1_shuffled["joint"][f"sigma1_{wd.PRIMARY}"].a.slope == pytest.approx(A_TRUE, abs=1e-9)

    plan = wd.wd3_plan(SCALE)
    r3 = [_law_result(c) for _, _, c in plan]
    a3 = wd.analyze_wd3(r3[::-1], law, SCALE)          # reversed: rules are read from the configs
    assert a3["rules"] == list(wd.WD3_RULES)
    for rule in a3["rules"]:
        f = a3["fits"][rule]
        e = f["e"]
        joint = A_TRUE * a_eta - B_TRUE * e + ALPHA_TRUE
        assert f["sigma1"].slope == pytest.approx(joint, abs=1e-9), rule
        assert f["predicted_joint"].slope == pytest.approx(joint, abs=1e-9)
        assert f["error_joint"] == pytest.approx(0.0, abs=1e-9)
        assert f["error_half"] == pytest.approx((A_TRUE - 0.5) * a_eta - (B_TRUE - 0.5) * e, abs=1e-9)
    assert a3["p_family"] == pytest.approx(B_TRUE, abs=1e-9)     # −d(exponent)/de over the rules is b
    assert list(a3["p_family_per_seed"].values()) == pytest.approx([B_TRUE] * len(ws.setting(SCALE).seeds), abs=1e-9)

    # the figures' summaries and the results table carry the same numbers
    root = tmp_path / "summaries"
    for fig_id, out in (("wd1", wd.plot_wd1(FigureContext("wd1", SCALE), r1)),
                        ("wd3", wd.plot_wd3(FigureContext("wd3", SCALE), r3, law))):
        summary = {**out.summary, "scale": SCALE, "provenance": {"engine_version": ENGINE_VERSION}}
        save_outputs(out.figure, root / fig_id, fig_id, out.rows,
                     {**summary, "claims": claims_of(wd.SPECS[fig_id], summary)})
    table = markdown(root, fig_ids=("wd1", "wd3"))
    (joint_row,) = [line for line in table.splitlines() if line.startswith("| wd1: joint fit")]
    assert "-0.200; a = +0.400, b = +0.600" in joint_row          # no spread over seeds: shown as points
    # noiseless seeds agree exactly: no interval (figures.claims.SAME_ACROSS_SEEDS), so no row is decided
    assert joint_row.endswith("| undecided |")
    oos = [line for line in table.splitlines() if line.startswith("| wd3 out of sample")]
    assert len(oos) == len(wd.WD3_RULES)
    assert all(line.endswith("| undecided |") for line in oos)
    assert all("| +0.000" in line or "| -0.000" in line for line in oos), oos
    (sep,) = [line for line in table.splitlines() if line.startswith("| wd3: separability")]
    assert sep.endswith("| undecided |") and "−d exponent/de = +0.600; b̂ = +0.600" in sep


def test_wd1_point_is_read_from_the_config():
    runs = wd.wd1_runs(SCALE)
    s = ws.setting(SCALE)
    assert len(runs) == len(wd.WD1_POINTS) * len(s.seeds)
    labels = {wd.wd1_point(c, SCALE)[0] for c in runs}
    assert labels == {p[0] for p in wd.WD1_POINTS} and set(wd.FAN_SIX) <= labels
    # the factorial: every (η, λ) multiplier pair of {0.5, 1, 2}² is in the grid
    pairs = {(em, lm) for _, em, lm in wd.WD1_POINTS}
    assert {(x, y) for x in (0.5, 1.0, 2.0) for y in (0.5, 1.0, 2.0)} <= pairs
    with pytest.raises(ValueError):
        wd.wd1_point(replace(runs[0], base=ws.base_hp(s, width=s.d0, eta_mult=3.0)), SCALE)


def test_wd4_trains_on_its_own_data_and_wd3_on_fresh_batches():
    """wd4's λ transfer needs a loss with a λ optimum (docs/decisions.md, figures.wd4_pilot): a fixed training set
    and lower noise at the default scale; wd1–wd3 keep a fresh batch every step."""
    s = ws.setting("default")
    wd4 = wd.wd4_runs("default")
    assert {(r.data.n_train, r.data.noise) for r in wd4} == {(s.transfer_n_train, s.transfer_noise)} == {(1024, 0.5)}
    assert {(r.data.n_train, r.data.noise) for r in wd.wd3_runs("default")} == {(None, s.noise)}
