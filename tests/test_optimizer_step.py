"""benchmarks.optimizer_step: runs on the quick grid, reports the joined groups, refuses bad input in one line."""

from __future__ import annotations

from benchmarks.optimizer_step import main


def test_quick_grid_reports_both_variants(capsys):
    assert main(["--quick", "--grid", "G2", "--repeats", "1", "--flat-bytes", "0", "262144"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3  # one ragged bucket per width
    for line in lines:
        assert "0 B:" in line and "(0 joined)" in line and "262144 B:" in line and "(1 joined)" in line


def test_bad_input_is_one_line_exit_2(capsys):
    assert main(["--quick", "--repeats", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
