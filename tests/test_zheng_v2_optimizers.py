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
    from figures.results_table import CLAIMS, V2_OPTIMIZERS

    assert set(IDS) <= set(ZHENG_IDS) and tuple(SETUPS) == IDS
    assert "figures.zheng_v2_optimizers" in FIGURE_MODULES and set(IDS) <= set(CLAIMS)
    assert V2_OPTIMIZERS == {fid: (s.label, s.paper_fig) for fid, s in SETUPS.items()}


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


def test_results_table_has_a_width_and_a_depth_row_per_figure(smoke):
    from figures.results_table import markdown

    out, _ = smoke
    table = markdown(out / "figures")
    for fid, label in (("v2-shampoo", "Shampoo-AdamW"), ("v2-sophia", "Sophia")):
        rows = [ln for ln in table.splitlines() if ln.startswith(f"| {fid}: ")]
        assert len(rows) == 2 and "widths" in rows[0] and "depths" in rows[1] and label in rows[0]
        for row in rows:
            assert "k≥2 rule: shift" in row and "SP: shift" in row and "| smoke |" in row
            assert row.rsplit("|", 2)[1].strip() in ("yes", "**no**", "undecided")


def _sweep(shifts: dict[str, tuple[float, float, float]], base: str) -> tuple[dict, dict]:
    """A transfer analysis with the given shift intervals (octaves) and its summarise digest."""
    from figures.sweep_panels import summarise

    inside = {"value": -5.0, "lo": -5.2, "hi": -4.8, "where": "inside"}
    an = {"base": {"optimum": inside, "shape": base},
          base: {"optimum": inside, "shift": {"value": 0.0, "lo": 0.0, "hi": 0.0},
                 "regret": {"value": 0.0, "lo": 0.0, "hi": 0.0}}}
    for shape, (v, lo, hi) in shifts.items():
        an[shape] = {"optimum": {"value": -5.0 + v, "lo": -5.0 + lo, "hi": -5.0 + hi, "where": "inside"},
                     "shift": {"value": v, "lo": lo, "hi": hi},
                     "regret": {"value": 0.01 * abs(v), "lo": 0.0, "hi": 0.02 * abs(v), "clamped": False}}
    return an, summarise(an, int(base))


def test_transfer_rows_judge_mup_by_the_one_octave_criterion(tmp_path):
    """μP's width shifts all within ±1 octave → yes; a depth shift wholly beyond → no; SP's drift shown, not judged."""
    from figures.results_table import markdown
    from synthetic.version import ENGINE_VERSION

    s = {"scale": "default", "provenance": {"engine_version": ENGINE_VERSION}}
    for param, axis, base, shifts in (("mup_k2", "width", "64", {"128": (0.3, -0.2, 0.8)}),
                                      ("sp", "width", "64", {"128": (-3.0, -3.4, -2.5)}),
                                      ("mup_k2", "depth", "4", {"32": (1.5, 1.2, 1.9)}),
                                      ("sp", "depth", "4", {"32": (0.1, -0.3, 0.4)})):
        s[f"transfer.{param}.{axis}"], s[f"transfer_summary.{param}.{axis}"] = _sweep(shifts, base)
    (tmp_path / "v2-sophia").mkdir()
    (tmp_path / "v2-sophia" / "summary_v2-sophia.json").write_text(json.dumps(s))
    rows = [ln for ln in markdown(tmp_path).splitlines() if ln.startswith("| v2-sophia: ")]
    assert "SP: shift -3.00 [-3.40, -2.50] oct at n=128" in rows[0] and rows[0].endswith("| default | yes |")
    assert "k≥2 rule: shift +1.50 [+1.20, +1.90] oct at L=32" in rows[1] and rows[1].endswith("| default | **no** |")
