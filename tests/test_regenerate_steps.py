"""figures.regenerate_steps: step labels, the order parallel steps start in, and the threads each worker gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from figures.regenerate_steps import (Step, StepKind, Where, longest_first, next_startable, planned_runs, run_steps,
                                      worker_threads)


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


def _steps(*labels: str) -> list[Step]:
    return [Step(label, StepKind.FIGURES) for label in labels]


def test_a_step_waits_while_a_running_step_shares_one_of_its_runs():
    a, b, c, d = _steps("a", "b", "c", "d")
    runs = {a: frozenset({("main", "k1"), ("main", "k2")}), b: frozenset({("main", "k2")}),
            c: frozenset({("kernel", "k1")}), d: frozenset()}
    assert next_startable([b, c, d], [a], runs) is c            # b shares k2 with a; c: k1 in another cache
    assert next_startable([b, d], [a, c], runs) is d
    assert next_startable([b], [a], runs) is None
    assert next_startable([b, c], [], runs) is b


def test_planned_runs_name_what_each_step_trains_and_borrows():
    """wd3 plans wd1's and wd2's runs too (its law's), so it may not train beside them; its rerun and its kernel-path
    step share nothing with it (other seeds, another cache)."""
    from figures.claims import LOOKS
    from figures.registry import get_spec
    from figures.spec import FigureContext
    from synthetic.cache import cache_key

    where = Where("smoke", Path("unused"), "cpu")
    wd1, wd2, wd3 = (planned_runs(Step(f, StepKind.FIGURES), where) for f in ("wd1", "wd2", "wd3"))
    assert wd1 and wd2 and wd1 | wd2 < wd3
    ctx = FigureContext("wd1", scale="smoke", look=max(LOOKS))
    built = get_spec("wd1").build(ctx)
    assert len(wd1) == len(built) * max(LOOKS) and ("main", cache_key(built[0])) in wd1
    assert not wd3 & planned_runs(Step("wd3", StepKind.RERUN, seed_offset=1000), where)
    kernel = planned_runs(Step("wd3", StepKind.KERNEL, kernel_path="default"), where)
    assert not wd3 & kernel and {k for _, k in kernel} == {k for _, k in wd3}


def _worker_dies(step: Step, where: Where):
    import os

    os._exit(3)


def _step_fails(step: Step, where: Where):
    from synthetic.errors import RunsFailedError

    raise RunsFailedError(f"{step.label} failed: boom; every finished bucket is cached")


def test_a_step_that_fails_in_a_worker_keeps_its_own_message(tmp_path):
    """The worker's RunsFailedError crosses the process boundary (it pickles) with its message."""
    import pickle

    from synthetic.errors import RunsFailedError

    back = pickle.loads(pickle.dumps(RunsFailedError("two failed", ["a", "b"])))
    assert str(back) == "two failed" and back.run_ids == ["a", "b"]
    with pytest.raises(RunsFailedError, match=r"^e1 failed: boom; every finished bucket is cached$"):
        run_steps([Step("e1", StepKind.FIGURES)], Where("smoke", tmp_path, "cpu"), jobs=2, threads=1,
                  run=_step_fails, echo=lambda line: None)


def test_a_worker_that_dies_is_one_line_error_naming_its_step(tmp_path):
    from synthetic.errors import RunsFailedError

    with pytest.raises(RunsFailedError, match=r"the worker training step e1 died"):
        run_steps([Step("e1", StepKind.FIGURES)], Where("smoke", tmp_path, "cpu"), jobs=2, threads=1,
                  run=_worker_dies, echo=lambda line: None)


def test_a_failing_kernel_path_check_is_one_line_error_naming_its_step(tmp_path, monkeypatch):
    import subprocess

    from figures import regenerate_steps
    from synthetic.errors import RunsFailedError

    def fails(argv, **kwargs):
        return subprocess.CompletedProcess(argv, 1, "", "Traceback …\nMemoryError: out of memory\n")

    monkeypatch.setattr(regenerate_steps.subprocess, "run", fails)
    step = Step("e1", StepKind.KERNEL, kernel_path="default")
    with pytest.raises(RunsFailedError, match=r"^e1 \(default kernel path\) failed: MemoryError: out of memory; "):
        regenerate_steps._kernel_step(step, Where("smoke", tmp_path, "cpu"))


def test_each_finished_step_is_logged_so_an_interrupted_regeneration_keeps_its_times(tmp_path):
    import json

    from figures.regenerate_steps import STEP_LOG, StepResult

    def run(step, where):
        if step.fid == "stop":
            raise KeyboardInterrupt
        return StepResult(step.label, 12.5, 2, frozenset())

    steps = [Step("e1", StepKind.FIGURES), Step("e1", StepKind.RERUN, 1000), Step("stop", StepKind.FIGURES)]
    with pytest.raises(KeyboardInterrupt):
        run_steps(steps, Where("smoke", tmp_path, "cpu"), run=run, echo=lambda line: None)
    start, *finished = [json.loads(line) for line in (tmp_path / STEP_LOG).read_text().splitlines()]
    assert start["steps"] == 3 and start["jobs"] == 1 and start["started"].endswith("+00:00")
    assert [(e["step"], e["seconds"], e["look"]) for e in finished] == [("e1", 12.5, 2), ("e1 (rerun)", 12.5, 2)]
    assert all(0 <= e["wall_seconds"] < 60 for e in finished)
