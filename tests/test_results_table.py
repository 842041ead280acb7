"""figures.results_table: rows come from the summaries; a missing figure is reported as not run."""

from __future__ import annotations

import json

from figures.results_table import main, markdown


def _write(root, fig_id, summary):
    (root / fig_id).mkdir(parents=True)
    (root / fig_id / f"summary_{fig_id}.json").write_text(json.dumps(summary))


def test_rows_follow_the_summaries(tmp_path):
    fits = {f"{p}.t{t}": {"mean": m, "slope": 0.0, "ci_low": -0.01, "ci_high": 0.01}
            for p, m in (("input", 0.97), ("last.1", 0.99), ("last.2", 0.98)) for t in (0, 100)}
    _write(tmp_path, "3", {"fits": fits, "max_abs_slope": 0.004, "scale": "smoke"})
    _write(tmp_path, "e1", {f"ratio{r}": {"slope": s, "ci_low": s - 0.01, "ci_high": s + 0.01, "expected_limit": 0.25,
                                          "mean_at_max_width": 0.251} for r, s in ((1, 0.2), (4, -0.01))} | {"scale": "smoke"})
    table = markdown(tmp_path)
    fig3 = next(line for line in table.splitlines() if line.startswith("| Fig. 3"))
    assert "0.970" in fig3 and fig3.endswith("| smoke | yes |")
    e1 = [line for line in table.splitlines() if line.startswith("| Claim E.1")]
    assert e1[0].endswith("| **no** |") and e1[1].endswith("| yes |")   # slope 0.2 fails the |s| < 0.05 criterion
    assert "| Fig. 4 | flat, ≈ 1 | not run |" in table


def test_missing_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["--figures", str(tmp_path / "nope")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
