"""figures.results_table: rows come from the summaries, the rerun sits beside the first run, stale rows are marked."""

from __future__ import annotations

import json

import pytest

from figures.results_table import main, markdown
from synthetic.version import ENGINE_VERSION


def _write(root, fig_id, summary, engine=ENGINE_VERSION):
    (root / fig_id).mkdir(parents=True)
    summary = {**summary, "provenance": {"engine_version": engine}}
    (root / fig_id / f"summary_{fig_id}.json").write_text(json.dumps(summary))


def _fig3(mean_input=0.97):
    fits = {f"{p}.t{t}": {"mean": m, "slope": 0.0, "ci_low": -0.01, "ci_high": 0.01}
            for p, m in (("input", mean_input), ("last.1", 0.99), ("last.2", 0.98)) for t in (0, 100)}
    return {"fits": fits, "max_abs_slope": 0.004, "scale": "smoke"}


def _e1(slope1):
    return {f"ratio{r}": {"slope": s, "ci_low": s - 0.01, "ci_high": s + 0.01, "expected_limit": 0.25,
                          "mean_at_max_width": 0.251} for r, s in ((1, slope1), (4, -0.01))} | {"scale": "smoke"}


def _line(table, prefix, i=0):
    return [line for line in table.splitlines() if line.startswith(prefix)][i]


def test_rows_follow_the_summaries(tmp_path):
    _write(tmp_path, "3", _fig3())
    _write(tmp_path, "e1", _e1(0.2))
    table = markdown(tmp_path)
    assert "0.970" in _line(table, "| Fig. 3") and _line(table, "| Fig. 3").endswith("| smoke | yes |")
    assert _line(table, "| Claim E.1").endswith("| **no** |")       # slope 0.2 fails the |s| < 0.05 criterion
    assert _line(table, "| Claim E.1", 1).endswith("| yes |")
    assert "| 4 |  | not run |" in table


def test_rerun_inside_the_first_interval_and_borderline_verdicts(tmp_path):
    first, rerun = tmp_path / "first", tmp_path / "rerun"
    _write(first, "e1", _e1(0.045))
    _write(rerun, "e1", _e1(0.06))    # outside [0.035, 0.055], and over the 0.05 criterion: the verdict flips
    row = _line(markdown(first, rerun), "| Claim E.1")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2].startswith("slope +0.045 [+0.035, +0.055]") and cells[3].startswith("slope +0.060")
    assert cells[4] == "**no**" and cells[6] == "borderline"
    row4 = _line(markdown(first, rerun), "| Claim E.1", 1)
    assert [c.strip() for c in row4.strip("|").split("|")][4] == "yes"


def test_a_summary_of_another_engine_version_is_marked_stale(tmp_path):
    _write(tmp_path, "3", _fig3(), engine="engine-0")
    assert "(**stale**: engine-0)" in _line(markdown(tmp_path), "| Fig. 3")
    (tmp_path / "3" / "summary_3.json").write_text(json.dumps(_fig3()))   # no provenance at all
    assert "(**stale**: unknown)" in _line(markdown(tmp_path), "| Fig. 3")


def test_a_malformed_summary_is_one_row_not_a_traceback(tmp_path, capsys):
    _write(tmp_path, "e1", {"ratio1": {"slope": 0.0}, "scale": "smoke"})
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "summary_3.json").write_text("{not json")
    assert main(["--figures", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| 3 |  | unreadable summary summary_3.json (JSONDecodeError) |" in out
    assert "| e1 |  | malformed summary_e1.json (KeyError" in out


def test_missing_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["--figures", str(tmp_path / "nope")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_rerun_at_another_scale_or_on_the_same_seeds_is_not_compared(tmp_path):
    first, rerun = tmp_path / "first", tmp_path / "rerun"
    _write(first, "e1", {**_e1(0.0), "provenance": None})
    (first / "e1" / "summary_e1.json").write_text(json.dumps({**_e1(0.0), "provenance": {"engine_version": ENGINE_VERSION,
                                                                                         "seeds": [0, 1]}}))
    _write(rerun, "e1", {**_e1(0.2), "scale": "default"})
    assert "rerun not comparable" in _line(markdown(first, rerun), "| Claim E.1")
    (rerun / "e1" / "summary_e1.json").write_text(json.dumps({**_e1(0.2), "provenance": {"engine_version": ENGINE_VERSION,
                                                                                         "seeds": [1, 2]}}))
    assert "rerun not comparable" in _line(markdown(first, rerun), "| Claim E.1")


def test_a_null_provenance_is_stale_not_a_traceback(tmp_path):
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "summary_3.json").write_text(json.dumps({**_fig3(), "provenance": None}))
    assert "(**stale**: unknown)" in _line(markdown(tmp_path), "| Fig. 3")


def _transfer_summary(shifts: dict[str, tuple[float, float, float]]) -> dict:
    """A depth sweep's transfer analysis (figures.transfer_metric layout) with the given shift intervals, and its
    figures.sweep_panels.summarise digest."""
    from figures.sweep_panels import summarise

    an = {"base": {"optimum": {"value": -5.0, "lo": -5.2, "hi": -4.8, "where": "inside"}, "shape": "4"},
          "4": {"optimum": {"value": -5.0, "lo": -5.2, "hi": -4.8, "where": "inside"},
                "shift": {"value": 0.0, "lo": 0.0, "hi": 0.0}, "regret": {"value": 0.0, "lo": 0.0, "hi": 0.0}}}
    for shape, (v, lo, hi) in shifts.items():
        an[shape] = {"optimum": {"value": -5.0 + v, "lo": -5.0 + lo, "hi": -5.0 + hi, "where": "inside"},
                     "shift": {"value": v, "lo": lo, "hi": hi},
                     "regret": {"value": 0.01 * abs(v), "lo": 0.0, "hi": 0.02 * abs(v), "clamped": False}}
    return {"analysis": an, "digest": summarise(an, 4)}


def _depth_k(k2_shifts, k1_shifts):
    s = {"scale": "smoke", "optimizers": ["adamw"]}
    for param, shifts in (("mup_k2", k2_shifts), ("mup_k1", k1_shifts)):
        t = _transfer_summary(shifts)
        s[f"transfer.adamw.{param}.depth"] = t["analysis"]
        s[f"transfer_summary.adamw.{param}.depth"] = t["digest"]
    return s


def test_transfer_verdict_reads_the_shift_intervals(tmp_path):
    """Holds when every shift interval lies within ±1 octave, fails when one lies wholly beyond, else undecided."""
    for case, k2, verdict in (("in", {"8": (0.2, -0.1, 0.5), "16": (-0.3, -0.9, 0.1)}, "yes"),
                              ("out", {"8": (0.2, -0.1, 0.5), "16": (1.6, 1.2, 2.0)}, "**no**"),
                              ("wide", {"8": (0.2, -0.1, 0.5), "16": (0.8, 0.1, 1.7)}, "undecided")):
        root = tmp_path / case
        _write(root, "depth-k", _depth_k(k2, {"8": (1.5, 1.1, 1.9)}))
        row = _line(markdown(root), "| depth-k")
        assert row.endswith(f"| {verdict} |"), row
        assert "k=1 rule: shift +1.50 [+1.10, +1.90] oct at L=8" in row


def test_transfer_rerun_is_checked_shape_by_shape(tmp_path):
    first, rerun = tmp_path / "first", tmp_path / "rerun"
    _write(first, "depth-k", _depth_k({"8": (0.2, -0.1, 0.5)}, {"8": (1.5, 1.1, 1.9)}))
    _write(rerun, "depth-k", _depth_k({"8": (0.6, 0.3, 0.9)}, {"8": (1.4, 1.0, 1.8)}) | {"provenance": {}})
    s = json.loads((rerun / "depth-k" / "summary_depth-k.json").read_text())
    s["provenance"] = {"engine_version": ENGINE_VERSION, "seeds": [1000]}
    (rerun / "depth-k" / "summary_depth-k.json").write_text(json.dumps(s))
    row = _line(markdown(first, rerun), "| depth-k")
    assert "| **1/2** |" in row     # k≥2's rerun shift 0.6 lies outside [−0.1, 0.5]; k=1's 1.4 inside [1.1, 1.9]

def _fig4_with_updates(size=1e-4, cum_size=0.3):
    s = _fig3()
    T = 100

    def fits(value, ts, slope=0.0, **extra):
        return {f"{p}.t{t}": {"mean": value, "min": value, "max": value, "slope": slope, "ci_low": slope - 0.02,
                              "ci_high": slope + 0.02, **extra} for p in ("input", "last.1", "last.2") for t in ts}

    floor = lambda r: (1 - r) / (1 + r)  # noqa: E731
    return {**s, "size_fits": fits(size, (0, 50, T), floor=floor(size)), "size": {"max": size, "floor": floor(size)},
            "cum_fits": fits(0.8, (50, T), slope=0.03), "cum_max_abs_slope": 0.03,
            "cum_size_fits": fits(cum_size, (50, T), floor=floor(cum_size)),
            "cum_size": {"max": cum_size, "floor": floor(cum_size)}}


def test_update_sizes_beside_the_single_step_verdict_and_cumulative_rows(tmp_path):
    _write(tmp_path, "4", _fig4_with_updates())
    table = markdown(tmp_path)
    single, cum = _line(table, "| Fig. 4: ‖h+Δh‖"), _line(table, "| Fig. 4: cumulative update")
    assert "single-step update ‖Δh‖_R/‖h‖_R at t = T: input 1.0e-04" in single
    assert "near 1 uninformative at input, map 1, map 2" in single and single.endswith("| yes |")
    assert "small | slope vs L at t = T: input +0.030 [+0.010, +0.050]" in cum
    assert "update ‖Δh‖_R/‖h‖_R at t = T: input 3.0e-01" in cum and ": informative at input, map 1, map 2 |" in cum
    assert cum.endswith("| smoke | yes |")  # judged on flatness: a level of 0.8 after a large update is no failure
    steep = _fig4_with_updates()
    steep["cum_max_abs_slope"] = 0.2
    _write(tmp_path / "steep", "4", steep)
    assert _line(markdown(tmp_path / "steep"), "| Fig. 4: cumulative update").endswith("| smoke | **no** |")
    # an old summary without the update sizes keeps its single row, unchanged
    _write(tmp_path / "old", "4", _fig3())
    old = markdown(tmp_path / "old")
    assert "cumulative" not in old and "single-step update" not in _line(old, "| Fig. 4")


def test_results_table_levels_are_the_figures_size_thresholds():
    from figures.results_table import ASSUMPTIONS, UPDATES
    from figures.zheng_assumptions import FIGS, floor_of, informative_above

    for fid in UPDATES:
        assert FIGS[fid]["level"] == ASSUMPTIONS[fid][2][0]
        assert floor_of(informative_above(FIGS[fid]["level"])) == pytest.approx(FIGS[fid]["level"])
def _wd1(a=0.48, b=0.52, half=0.05):
    fit = lambda v, h: {"value": v, "ci_low": v - h, "ci_high": v + h, "n": 24}  # noqa: E731
    return {"slope_sigma1_W_up_inner_vs_eta_over_lambda": fit(0.5, 0.05), "slope_w_rms_W_up_vs_eta_over_lambda":
            fit(0.5, 0.05), "matched_ratio_sigma1_max_over_min": 1.05, "scale": "smoke",
            "joint_sigma1_W_up_inner": {"a": fit(a, half), "b": fit(b, half), "a_minus_b": fit(a - b, half),
                                        "a_equals_b_rejected": abs(a - b) > half, "seeds": 5}}


def _wd3_rule(measured, e, pred_half, pred_joint, flat=False):
    return {"value": measured, "ci_low": measured - 0.02, "ci_high": measured + 0.02, "n": 15, "e": e,
            "predicted": pred_half, "predicted_half": {"value": pred_half, "ci_low": pred_half - 0.01,
                                                       "ci_high": pred_half + 0.01},
            "predicted_joint": {"value": pred_joint, "ci_low": pred_joint - 0.05, "ci_high": pred_joint + 0.05},
            "error_half": measured - pred_half, "error_joint": measured - pred_joint, "flat_under_joint": flat}


def test_joint_law_rows(tmp_path):
    """wd1: a = b not rejected → yes; rejected → no. wd3: one out-of-sample row per rule, with both predictions and
    errors, the verdict by the joint law's error (< 0.1), the e* rule marked flat."""
    _write(tmp_path, "wd1", _wd1())
    _write(tmp_path, "wd3", {"scale": "smoke", "sigma1_exponent_mup_fixed": _wd3_rule(0.30, 0.0, 0.45, 0.32),
                             "sigma1_exponent_joint_invariant": _wd3_rule(0.15, 0.9, 0.0, 0.0, flat=True)})
    table = markdown(tmp_path)
    row = _line(table, "| wd1: joint fit")
    assert "a = +0.480 [+0.430, +0.530], b = +0.520 [+0.470, +0.570]" in row and "not rejected" in row
    assert row.endswith("| smoke | yes |")
    mup = _line(table, "| wd3 out of sample (mup_fixed)")
    assert "joint +0.320 [+0.270, +0.370]; ½-law +0.450 [+0.440, +0.460]" in mup
    assert "error joint -0.020, ½-law -0.150" in mup and mup.endswith("| yes |")
    inv = _line(table, "| wd3 out of sample (joint_invariant)")
    assert "joint law predicts flat (e*)" in inv and inv.endswith("| **no** |")     # measured 0.15, predicted 0
    (tmp_path / "wd1" / "summary_wd1.json").unlink()
    (tmp_path / "wd1").rmdir()
    _write(tmp_path, "wd1", _wd1(a=0.40, b=0.60))
    row = _line(markdown(tmp_path), "| wd1: joint fit")
    assert "**rejected**" in row and row.endswith("| **no** |")


def test_summaries_from_before_the_joint_law_keep_their_rows(tmp_path):
    """A wd1/wd3 summary without the joint keys gives exactly the older rows (no joint row, no traceback)."""
    s1 = _wd1()
    del s1["joint_sigma1_W_up_inner"]
    old3 = _wd3_rule(0.30, 0.0, 0.45, 0.32)
    for k in ("predicted_half", "predicted_joint", "error_half", "error_joint", "flat_under_joint"):
        del old3[k]
    _write(tmp_path, "wd1", s1)
    _write(tmp_path, "wd3", {"scale": "smoke", "sigma1_exponent_mup_fixed": old3})
    table = markdown(tmp_path)
    assert "joint fit" not in table and "out of sample" not in table
    assert len([line for line in table.splitlines() if line.startswith("| wd1:")]) == 3
    assert len([line for line in table.splitlines() if line.startswith("| wd3:")]) == 1


def test_an_optimum_on_a_grid_edge_makes_transfer_undecided(tmp_path):
    """Base and target both stuck on the grid's top edge give a shift of exactly 0 in every resample; the verdict must
    not read that as transfer."""
    from figures.sweep_panels import summarise

    s = _depth_k({"8": (0.2, -0.1, 0.5)}, {"8": (1.5, 1.1, 1.9)})
    an = s["transfer.adamw.mup_k2.depth"]
    for v in an.values():
        v["optimum"]["where"] = "high_edge"
    an["8"]["shift"] = {"value": 0.0, "lo": 0.0, "hi": 0.0}
    s["transfer_summary.adamw.mup_k2.depth"] = summarise(an, 4)
    _write(tmp_path, "depth-k", s)
    assert _line(markdown(tmp_path), "| depth-k").endswith("| undecided |")


def test_a_missing_base_shape_is_a_row_not_a_malformed_summary(tmp_path):
    s = _depth_k({"8": (0.2, -0.1, 0.5)}, {"8": (1.5, 1.1, 1.9)})
    s["transfer.adamw.mup_k2.depth"], s["transfer_summary.adamw.mup_k2.depth"] = {}, {}
    _write(tmp_path, "depth-k", s)
    row = _line(markdown(tmp_path), "| depth-k")
    assert "k≥2 rule: base shape not run" in row and row.endswith("| undecided |")


def test_a_rerun_of_a_figure_the_first_folder_lacks_is_a_not_run_row(tmp_path):
    """The rerun folder may hold a figure the first folder does not (issue 23, item 8: an AttributeError before)."""
    first, rerun = tmp_path / "first", tmp_path / "rerun"
    _write(first, "3", _fig3())
    _write(rerun, "e1", _e1(0.01))
    table = markdown(first, rerun)
    assert "| e1 |  | not run |" in table and _line(table, "| Fig. 3").endswith("| smoke | yes |")
