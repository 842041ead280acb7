"""figures.regenerate_steps: step labels, the order parallel steps start in, and the threads each worker gets."""

from __future__ import annotations

import pytest

from figures.regenerate_steps import Step, StepKind, Where, longest_first, run_steps, worker_threads


def test_labels_name_the_step_as_the_manifest_lists_it():
    assert Step("wd3", StepKind.FIGURES).label == "wd3"
    assert Step("wd3", StepKind.RERUN, seed_offset=1000).label == "wd3 (rerun)"
    assert Step("wd3", StepKind.KERNEL, kernel_path="avx2").label == "wd3 (avx2 kernel path)"


def test_parallel_steps_start_unknown_ones_first_then_longest_first():
    steps = [Step("a", StepKind.FIGURES), Step("a", StepKind.RERUN, 1000), Step("b", StepKind.FIGURES),
             Step("c", StepKind.FIGURES)]
    expected = {"a": 10.0, "a (rerun)": 300.0, "c": 50.0}
    assert [s.label for s in longest_first(steps, expected)] == ["b", "a (rerun)", "c", "a"]
    assert longest_first(steps, {}) == steps          # a stable sort: the plan's order without estimates


def test_workers_share_out_the_cores_unless_told(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert worker_threads(2, None) == 4 and worker_threads(3, None) == 2 and worker_threads(16, None) == 1
    assert worker_threads(2, 3) == 3


def test_jobs_below_one_are_refused(tmp_path):
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        run_steps([], Where("smoke", tmp_path, "cpu"), jobs=0)
