"""benchmarks.cuda_graph_probe: its eager way is the engine's step (the same losses bit for bit on a CPU, so the
probe's graph ways are measured against the engine itself), its loss comparison, and its CLI on a CPU."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

from benchmarks import cuda_graph_probe as probe
from synthetic.engine import train_bucket
from synthetic.records import select


@pytest.mark.parametrize("grid", ["G1", "G2"])
def test_eager_way_equals_the_engine_bit_for_bit(grid):
    steps = 4
    runs = probe.bucket(grid, quick=True, steps=steps)
    assert len(runs) == 2 and runs == sorted(runs, key=lambda r: -r.model.depth)
    losses, ms = probe.train_eager(runs, torch.device("cpu"), steps)
    assert losses.shape == (steps, 2) and ms > 0
    results = train_bucket(runs, "cpu")
    for m, res in enumerate(results):
        recorded = {r.step: r.value for r in select(res.records, quantity="loss", layer="model")}
        assert set(recorded) >= set(range(steps))
        assert [recorded[t] for t in range(steps)] == losses[:, m].tolist()


def test_eager_way_sees_a_changed_run():
    """The comparison above can fail: another learning rate for one run changes its losses from step 1 on."""
    runs = probe.bucket("G2", quick=True, steps=3)
    moved = [runs[0], replace(runs[1], base=replace(runs[1].base, eta=2 * runs[1].base.eta))]
    a, _ = probe.train_eager(runs, torch.device("cpu"), 3)
    b, _ = probe.train_eager(moved, torch.device("cpu"), 3)
    assert torch.equal(a[:, 0], b[:, 0]) and torch.equal(a[0], b[0])
    assert probe.max_rel_diff(a, b) > 0


def test_max_rel_diff():
    a = torch.tensor([[1.0, 2.0], [4.0, math.nan]])
    assert probe.max_rel_diff(a, a) == 0.0
    assert probe.max_rel_diff(a, torch.tensor([[1.0, 2.5], [4.0, math.nan]])) == pytest.approx(0.2)
    assert probe.max_rel_diff(a, torch.tensor([[1.0, 2.0], [math.inf, math.nan]])) == math.inf


def test_cli_on_a_cpu_runs_the_eager_way_and_refuses_bad_input(tmp_path, capsys):
    out = tmp_path / "probe.json"
    assert probe.main(["--device", "cpu", "--quick", "--steps", "6", "--grid", "G2", "--json", str(out)]) == 0
    assert "graphs need CUDA" in capsys.readouterr().out
    (row,) = json.loads(out.read_text())["buckets"]
    assert row["grid"] == "G2" and row["depths"] == [1, 2] and row["eager_ms"] > 0 and "graph" not in row
    for bad in (["--steps", str(probe.MIN_STEPS - 1)], ["--device", "cpu", "--way", "graph"]):
        with pytest.raises(SystemExit) as exc:
            probe.main(bad)
        assert exc.value.code == 2


def test_first_difference_and_the_first_cause_of_a_failure():
    a = torch.tensor([[1.0, math.nan], [2.0, 3.0], [4.0, 5.0]])
    assert probe.first_difference(a, a.clone()) is None                  # NaN equals NaN here
    b = a.clone()
    b[1, 1] = 3.0000002
    assert probe.first_difference(a, b) == 1
    try:
        try:
            raise ValueError("operation not permitted when stream is capturing")
        except ValueError:
            raise RuntimeError("capture_end failed\nmore text")
    except RuntimeError as exc:
        assert str(probe.innermost(exc)) == "operation not permitted when stream is capturing"


def test_a_way_that_fails_is_reported_in_one_line_and_the_report_says_so():
    row, eager = probe.eager_row("G2", torch.device("cpu"), probe.MIN_STEPS, quick=True)
    failed = probe.graph_way(row, eager, "graph", torch.device("cpu"), quick=True)   # no CUDA: the stream fails
    assert set(failed) == {"error"} and "\n" not in failed["error"]
    row["graph"] = failed
    row["graph_update"] = probe._child("G2", "graph_update", torch.device("cpu"), probe.MIN_STEPS, quick=True)
    assert "exit 2" in row["graph_update"]["error"] and "--way needs CUDA" in row["graph_update"]["error"]
    text = probe.describe(row)
    assert "graph: failed (" in text and "graph_update: failed (its process ended with exit 2" in text
    ok = {"ms_per_step": 1.0, "speedup": 5.0, "replay_ms": 0.5, "max_rel_diff": 0.0, "first_diff_step": None}
    assert "losses vs eager: bit for bit" in probe.describe({**row, "graph": ok})
    moved = {**ok, "first_diff_step": 4, "max_rel_diff": 2e-3}
    assert "first differ at step 4, max rel diff 2.00e-03" in probe.describe({**row, "graph_update": moved})
