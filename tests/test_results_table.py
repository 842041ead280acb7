"""figures.results_table: a generic renderer of the claims the figures write into their summaries: rows follow the
claims, a toy figure's claims render with no edit of the renderer, the rerun is compared by a Welch interval on the
difference, verdicts that differ are borderline, stale and unreadable summaries are rows."""

from __future__ import annotations

import json

from figures.claims import Above, Claim, Estimate, Tolerance, Within
from figures.registry import claims_of
from figures.results_table import main, markdown
from figures.spec import FigureSpec
from synthetic.version import ENGINE_VERSION

TOY_TOL = Tolerance("TOY", 0.1, "a toy tolerance for the renderer's tests (not registered: the README lists the real ones)")


def _toy_claims(s):
    """A toy figure's declared claims: a slope flat within ±0.1, and a contrast above 0."""
    return [Claim("toy.flat", "toy: slope flat", Within(0.0, TOY_TOL), Estimate.of_seeds(s["slopes"]),
                  f"{len(s['slopes'])} per-seed slopes"),
            Claim("toy.beats", "toy: A beats B", Above(0.0), Estimate.of_seeds(s["contrast"]))]


TOY = FigureSpec("toy", "a toy figure", build=lambda ctx: [], plot=lambda ctx, r: None, claims=_toy_claims)


def _write(root, fig_id, summary, engine=ENGINE_VERSION, seeds=(0, 1, 2, 3)):
    (root / fig_id).mkdir(parents=True)
    summary = {"scale": "smoke", **summary, "provenance": {"engine_version": engine, "seeds": list(seeds)}}
    summary["claims"] = claims_of(TOY, summary)
    (root / fig_id / f"summary_{fig_id}.json").write_text(json.dumps(summary))


def _toy(slopes=(0.01, -0.02, 0.03, 0.0), contrast=(0.3, 0.5, 0.4, 0.45)):
    return {"slopes": list(slopes), "contrast": list(contrast)}


def _cells(table, prefix, i=0):
    row = [line for line in table.splitlines() if line.startswith(prefix)][i]
    return [c.strip() for c in row.strip().strip("|").split("|")]


def test_a_toy_figures_claims_render_with_no_edit_of_the_renderer(tmp_path):
    _write(tmp_path, "toy", _toy())
    table = markdown(tmp_path, fig_ids=("toy", "absent"))
    flat = _cells(table, "| toy: slope flat")
    e = Estimate.of_seeds([0.01, -0.02, 0.03, 0.0])
    lo, hi = e.interval()
    assert flat[1] == "within 0 ± 0.1 (TOY)"
    assert flat[2] == f"{e.value:+.3f} [{lo:+.3f}, {hi:+.3f}]; 4 per-seed slopes"
    assert flat[3] == "4" and flat[4] == "not rerun" and flat[6] == "holds"
    assert _cells(table, "| toy: A beats B")[6] == "holds"
    assert "| absent |  | not run |" in table


def test_verdicts_use_the_whole_interval(tmp_path):
    _write(tmp_path, "toy", _toy(slopes=(0.05, 0.2, -0.1, 0.12), contrast=(-0.3, -0.5, -0.4, -0.45)))
    table = markdown(tmp_path, fig_ids=("toy",))
    assert _cells(table, "| toy: slope flat")[6] == "undecided"      # mean 0.07 inside ±0.1, interval is not
    assert _cells(table, "| toy: A beats B")[6] == "**fails**"


def test_the_rerun_is_compared_by_an_interval_on_the_difference(tmp_path):
    first, rerun = tmp_path / "first", tmp_path / "rerun"
    _write(first, "toy", _toy())
    _write(rerun, "toy", _toy(slopes=(0.3, 0.25, 0.35, 0.28)), seeds=(1000, 1001, 1002, 1003))
    flat = _cells(markdown(first, rerun, fig_ids=("toy",)), "| toy: slope flat")
    d = Estimate.of_seeds([0.3, 0.25, 0.35, 0.28]).minus(Estimate.of_seeds([0.01, -0.02, 0.03, 0.0]))
    lo, hi = d.interval()
    assert flat[5] == f"{d.value:+.3f} [{lo:+.3f}, {hi:+.3f}]: **differ**"
    assert flat[6] == "**borderline** (holds, rerun fails)"
    beats = _cells(markdown(first, rerun, fig_ids=("toy",)), "| toy: A beats B")
    assert beats[5].endswith(": agree") and beats[6] == "holds"


def test_a_flip_to_undecided_is_borderline(tmp_path):
    first, rerun = tmp_path / "first", tmp_path / "rerun"
    _write(first, "toy", _toy())
    _write(rerun, "toy", _toy(slopes=(0.05, 0.2, -0.1, 0.12)), seeds=(1000, 1001, 1002, 1003))
    assert _cells(markdown(first, rerun, fig_ids=("toy",)), "| toy: slope flat")[6] == \
        "**borderline** (holds, rerun undecided)"


def test_a_rerun_at_another_scale_or_on_the_same_seeds_is_not_compared(tmp_path):
    first, rerun = tmp_path / "first", tmp_path / "rerun"
    _write(first, "toy", _toy())
    _write(rerun, "toy", _toy(), seeds=(3, 4, 5, 6))
    assert "rerun not comparable" in _cells(markdown(first, rerun, fig_ids=("toy",)), "| toy: slope flat")[4]


def test_a_summary_of_another_engine_version_is_marked_stale(tmp_path):
    _write(tmp_path, "toy", _toy(), engine="engine-0")
    assert _cells(markdown(tmp_path, fig_ids=("toy",)), "| toy: slope flat")[6] == "holds (**stale**: engine-0)"
    s = json.loads((tmp_path / "toy" / "summary_toy.json").read_text())
    (tmp_path / "toy" / "summary_toy.json").write_text(json.dumps({**s, "provenance": None}))
    assert "(**stale**: unknown)" in _cells(markdown(tmp_path, fig_ids=("toy",)), "| toy: slope flat")[6]


def test_unreadable_and_claimless_summaries_are_one_row_each(tmp_path, capsys):
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "summary_3.json").write_text("{not json")
    (tmp_path / "e1").mkdir()
    (tmp_path / "e1" / "summary_e1.json").write_text(json.dumps({"ratio1": {"slope": 0.0}}))
    assert main(["--figures", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| 3 |  | unreadable summary summary_3.json (JSONDecodeError) |" in out
    assert "| e1 |  | summary_e1.json has no claims (written before the claims protocol: rerun the figure) |" in out


def test_missing_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["--figures", str(tmp_path / "nope")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_rerun_of_a_figure_the_first_folder_lacks_is_a_not_run_row(tmp_path):
    """The rerun folder may hold a figure the first folder does not (issue 23, item 8: an AttributeError before)."""
    first, rerun = tmp_path / "first", tmp_path / "rerun"
    _write(first, "toy", _toy())
    _write(rerun, "other", _toy(), seeds=(1000,))
    table = markdown(first, rerun, fig_ids=("toy", "other"))
    assert "| other |  | not run |" in table and _cells(table, "| toy: slope flat")[6] == "holds"


def test_every_catalogue_figure_declares_claims():
    from figures.registry import all_specs

    assert all(spec.claims is not None for spec in all_specs().values())


def test_a_missing_base_shape_leaves_the_transfer_claims_undecided():
    from figures.zheng_verdicts import fig2_claims

    coord = {"slope": 0.0, "ci_low": -0.01, "ci_high": 0.01, "n_seeds": 4}
    s = {"coord.mup_k2.depth.step10": coord, "coord.sp.depth.step10": coord,
         "coord_init_fit.mup_k2": {"A": 1.0, "c": 0.1, "c_lo": 0.0, "c_hi": 0.2, "h0_sq_mean": 1.0},
         "transfer.mup_k2.depth": {}, "transfer.sp.depth": {}, "transfer_summary.mup_k2.depth": {},
         "transfer_summary.sp.depth": {}}
    drift = [c for c in fig2_claims(s) if c.key.startswith("2.depth")]
    assert len(drift) == 3 and all(c.verdict.value == "undecided" for c in drift)
    assert "base shape not run" in drift[0].detail


def test_a_second_kernel_path_has_its_column_and_counts_in_the_verdict(tmp_path):
    first, kernel = tmp_path / "first", tmp_path / "kernel"
    _write(first, "toy", _toy())
    _write(kernel, "toy", _toy(slopes=(0.05, 0.2, -0.1, 0.12)))
    table = markdown(first, None, fig_ids=("toy",), kernel_root=kernel)
    assert table.splitlines()[0].endswith("| second CPU kernel path, first seeds | verdict |")
    flat = _cells(table, "| toy: slope flat")
    assert flat[6].endswith(": undecided") and flat[7] == "**borderline** (holds, kernel path undecided)"
    assert _cells(table, "| toy: A beats B")[7] == "holds"
