"""Figures wd1–wd4 (Fan et al.): hyperparameters come from theory as the closed forms say, the rules match the paper's
table, and every figure writes PNG + PDF + tidy CSV + summary at smoke scale (runs shared with the regression checks)."""

from __future__ import annotations

import csv
import math

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
    for runs in (wd.wd1_runs(SCALE), wd.wd3_runs(SCALE, 0.75)):
        slowest = min(math.prod(ws.hidden_eta_lam(r)) for r in runs)
        assert runs[0].steps * slowest >= 5.0 - 1e-9


def test_registry_sees_the_wd_specs():
    from figures.registry import _wd_specs

    specs = _wd_specs()
    assert list(specs) == ["wd1", "wd2", "wd3", "wd4"]
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
    results["wd3"] = _train(wd.wd3_runs(SCALE, alpha_hat), fan_cache)
    results["wd4"] = _train(wd.wd4_runs(SCALE, alpha_hat), fan_cache)
    drawn = {
        "wd1": wd.plot_wd1(FigureContext("wd1", SCALE), results["wd1"]),
        "wd2": wd.plot_wd2(FigureContext("wd2", SCALE), results["wd2"]),
        "wd3": wd.plot_wd3(FigureContext("wd3", SCALE), results["wd3"], alpha_info),
        "wd4": wd.plot_wd4(FigureContext("wd4", SCALE), results["wd4"], alpha_hat),
    }
    for fig_id, out in drawn.items():
        _check_outputs(save_outputs(out.figure, tmp_path / fig_id, fig_id, out.rows, out.summary), fig_id)
    # the headline numbers are the analysis' numbers, finite, with the steady-state check reported
    assert math.isfinite(drawn["wd2"].summary["alpha"]["value"])
    assert drawn["wd3"].summary["sigma1_exponent_fan_measured"]["e"] == pytest.approx(2 * alpha_hat - 1)
    for out in drawn.values():
        assert out.summary["steady"]["timescales_min"] >= 5.0 - 1e-9
    shifts = [v for k, v in drawn["wd4"].summary.items() if k.startswith("optimum_shift_")]
    assert len(shifts) == 4 and all(math.isfinite(x) for x in shifts)
