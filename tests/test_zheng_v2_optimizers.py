"""figures.zheng_v2_optimizers ("v2-shampoo", "v2-sophia"): App. E's constants, Fig. 1's grid with each optimizer's
η grid and ε per sweep, the smoke figures end to end, and their results-table rows."""

from __future__ import annotations

import csv
import json
import math

import pytest

from figures.catalogue import ZHENG_IDS
from figures.registry import FIGURE_MODULES, run_figure
from figures.spec import FigureContext
from figures.zheng_v2_optimizers import SETUPS, build, grid

IDS = ("v2-shampoo", "v2-sophia")


def test_catalogued_and_registered():
    from figures.registry import all_specs

    assert set(IDS) <= set(ZHENG_IDS) and tuple(SETUPS) == IDS
    assert "figures.zheng_v2_optimizers" in FIGURE_MODULES and all(all_specs()[i].claims for i in IDS)


def test_optimizer_constants_are_app_e():
    from synthetic.rules import engine_optimizer_names, role_rules

    sh, so = SETUPS["v2-shampoo"].optim, SETUPS["v2-sophia"].optim
    assert {sh.name, so.name} <= set(engine_optimizer_names())
    assert role_rules(sh.name)["hidden"] == "shampoo" and role_rules(sh.name)["input"] == "adamw"
    assert set(role_rules(so.name).values()) == {"sophia"}
    assert sh.betas == (0.95, 0.95) and so.betas == (0.965, 0.99)
    assert (SETUPS["v2-shampoo"].eps("width"), SETUPS["v2-shampoo"].eps("depth")) == (1e-8, 1e-5)


def test_paper_grids_are_the_union_of_app_e_grids():
    # App. E: Shampoo-AdamW width −8…−4, depth −7…−3; Sophia width SP −16…−11, μP −15…−10, depth −15…−11
    assert grid("paper", "v2-shampoo").log2_etas == (-8, -7, -6, -5, -4, -3)
    assert grid("paper", "v2-sophia").log2_etas == (-16, -15, -14, -13, -12, -11, -10)
    for fid in IDS:
        g = grid("paper", fid)
        assert (g.n_base, g.L_base, g.steps, g.batch, g.warmup) == (256, 4, 1221, 240, 120)
        assert g.widths == (128, 256, 512, 1024, 2048, 4096) and g.depths == (4, 8, 16, 32, 64, 128, 256)


@pytest.mark.parametrize("fid, widths, n_runs", [
    # (widths + depths) shapes × 2 parameterizations × 5 η × 4 seeds; Shampoo trains the base shape once per sweep
    # (its ε differs), Sophia once for both
    ("v2-shampoo", (32, 64, 128), (3 + 4) * 2 * 5 * 4),
    ("v2-sophia", (32, 64, 128, 256), (4 + 4 - 1) * 2 * 5 * 4),
])
def test_default_runs_are_fig1_settings_with_eps_per_sweep(fid, widths, n_runs):
    runs = build(FigureContext(fid, scale="default"))
    assert len(runs) == len(set(runs)) == n_runs
    setup = SETUPS[fid]
    assert {r.optim for r in runs} == {setup.optim}
    assert {(r.steps, r.batch_size, r.schedule.warmup_steps, r.model.norm) for r in runs} == {(100, 128, 10, "rms")}
    assert {r.seed for r in runs} == {0, 1, 2, 3} and {r.parameterization for r in runs} == {"sp", "mup_k2"}
    assert {(r.base.n_base, r.base.L_base) for r in runs} == {(64, 4)}
    on_width = {(r.model.width, r.base.eps) for r in runs if r.model.depth == 4}
    on_depth = {(r.model.depth, r.base.eps) for r in runs if r.model.width == 64}
    assert {w for w, e in on_width if e == setup.eps("width")} == set(widths)
    assert {L for L, e in on_depth if e == setup.eps("depth")} == {4, 8, 16, 32}
    etas = sorted({math.log2(r.base.eta) for r in runs})
    assert etas == [float(e) for e in setup.default_etas] and len(etas) == 5 and etas[-1] - etas[0] == 4


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("v2")
    done = {}
    for fid in IDS:
        paths = run_figure(fid, scale="smoke", device="cpu", out_dir=out / "figures", cache_dir=out / "cache",
                           progress=False)
        done[fid] = {"paths": paths, "summary": json.loads(paths[-1].read_text())}
    return out, done


@pytest.mark.parametrize("fid", IDS)
def test_smoke_figure_writes_its_files_and_every_sweep(smoke, fid):
    from figures.sweep_extension import LIMITS

    _, done = smoke
    paths, s = done[fid]["paths"], done[fid]["summary"]
    assert [p.suffix for p in paths] == [".png", ".pdf", ".csv", ".json"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert s["optimizer"] == SETUPS[fid].optim.name and s["scale"] == "smoke"
    g = grid("smoke", fid)
    for param in ("mup_k2", "sp"):
        for axis, shapes in (("width", g.widths), ("depth", g.depths)):
            an = s[f"transfer.{param}.{axis}"]
            assert set(an) == {"base", *map(str, shapes)}
            assert s[f"transfer_summary.{param}.{axis}"]
            for shape in map(str, shapes):
                o = an[shape]["optimum"]
                assert o["where"] in ("inside", "next_to_divergence") or o["value"] in LIMITS, (param, axis, shape, o)


def test_shampoo_sweeps_read_their_own_eps(smoke):
    _, done = smoke
    lines = [ln for ln in done["v2-shampoo"]["paths"][2].read_text().splitlines() if not ln.startswith("#")]
    eps = {(r["panel"], float(r["eps_base"])) for r in csv.DictReader(lines)}
    assert eps == {("sweep-width", 1e-8), ("sweep-depth", 1e-5)}


def test_results_table_has_the_drift_claims_over_width_and_depth(smoke):
    """Per figure and axis: μP's drift, SP's drift and the paired contrast, each with a verdict."""
    from figures.results_table import markdown

    out, _ = smoke
    table = markdown(out / "figures", fig_ids=IDS)
    for fid, label in (("v2-shampoo", "Shampoo-AdamW"), ("v2-sophia", "Sophia")):
        rows = [ln for ln in table.splitlines() if ln.startswith(f"| {fid} ({label}): ")]
        assert len(rows) == 6, rows
        assert ["width" in r for r in rows] == [True] * 3 + [False] * 3
        assert "μP k≥2 rule's η* drift over width" in rows[0] and "SP's η* drifts over width" in rows[1]
        assert "drifts less than SP" in rows[2]
        for row in rows:
            assert row.rsplit("|", 2)[1].strip() in ("holds", "**fails**", "undecided")
