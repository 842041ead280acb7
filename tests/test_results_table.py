"""figures.results_table: rows come from the summaries, the rerun sits beside the first run, stale rows are marked."""

from __future__ import annotations

import json

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

    an = {"base": {"optimum": {"value": -5.0, "lo": -5.2, "hi": -4.8, "where": "inside"}},
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
