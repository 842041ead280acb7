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
    assert probe.main(["--device", "cpu", "--quick", "--steps", "3", "--grid", "G2", "--json", str(out)]) == 0
    assert "graphs need CUDA" in capsys.readouterr().out
    (row,) = json.loads(out.read_text())["buckets"]
    assert row["grid"] == "G2" and row["depths"] == [1, 2] and row["eager_ms"] > 0 and "graph" not in row
    with pytest.raises(SystemExit) as exc:
        probe.main(["--steps", "1"])
    assert exc.value.code == 2
