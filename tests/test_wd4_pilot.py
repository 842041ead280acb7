"""figures.wd4_pilot: its table's paired standard errors against numpy, and its grid keeps wd4's steps and data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from figures import wd4_pilot
from figures import wd_setup as ws
from figures.wd_runs import wd4_plan


def test_paired_standard_error_is_that_of_per_seed_differences(monkeypatch):
    monkeypatch.setattr(wd4_pilot, "wd4_loss", lambda r: r)
    points = [(1.0, 0.5), (1.0, 1.0), (1.0, 2.0)]
    losses = {(1.0, 0.5): [0.30, 0.50, 0.41], (1.0, 1.0): [0.20, 0.45, 0.30], (1.0, 2.0): [0.26, 0.47, 0.38]}
    results = [v for pt in points for v in losses[pt]]
    rows = {r["lam_mult"]: r for r in wd4_pilot.table(results, points, 3)}
    assert math.isnan(rows[1.0]["paired_se"])                         # the best point
    d = np.subtract(losses[(1.0, 2.0)], losses[(1.0, 1.0)])
    assert rows[2.0]["paired_se"] == pytest.approx(d.std(ddof=1) / math.sqrt(3), abs=1e-15)
    assert rows[0.5]["mean"] == pytest.approx(np.mean(losses[(1.0, 0.5)]), abs=1e-15)


def test_the_pilot_runs_are_wd4s_runs_at_d0():
    runs, points = wd4_pilot.pilot_runs("default", (0, 1))
    plan = {ws.tiled(cfg).canonical_json() for _, cfg in wd4_plan("default")}
    s = ws.setting("default")
    assert len(runs) == 2 * len(points) and {r.model.width for r in runs} == {s.d0}
    assert {(r.steps, r.data.n_train, r.data.noise) for r in runs} == {(next(iter(wd4_plan("default")))[1].steps,
                                                                        s.transfer_n_train, s.transfer_noise)}
    assert any(r.canonical_json() in plan for r in runs)              # the base point is wd4's own run at d0
    assert all(not r.optim.one_pass for r in runs)                   # as the pilot measured them (wd_setup.tiled)


def test_loss_at_reads_the_first_measured_step_from_the_given_one():
    from synthetic.records import Record

    recs = [Record("r", t, "model", "test_loss", 0, v) for t, v in ((10, 0.9), (40, 0.5), (100, 0.3))]
    recs.append(Record("r", 40, "model", "loss", 0, 7.0))            # another quantity is not read
    assert wd4_pilot.loss_at(recs, 25.0) == (40, 0.5)
    assert wd4_pilot.loss_at(recs, 40.0) == (40, 0.5)
    assert wd4_pilot.loss_at(recs, 500.0) == (100, 0.3)


def test_timescale_argmins_pick_each_readout_and_count_coinciding_rules_once():
    import types

    def row(rule, mult, own, final, seed=0, cfg=None):
        cfg = cfg or types.SimpleNamespace(canonical_json=lambda m=mult, s=seed, r=rule: f"{r}-{m}-{s}")
        return {"rule": rule, "sweep": "lam", "seed": seed, "mult": mult, "own_loss": own, "final_loss": final,
                "config": cfg, "own_step": 1}

    shared = {m: types.SimpleNamespace(canonical_json=lambda m=m: f"x-{m}") for m in (0.5, 1.0, 2.0)}
    rows = [row("a", m, o, f, cfg=shared[m]) for m, o, f in ((0.5, 0.3, 0.2), (1.0, 0.1, 0.25), (2.0, 0.2, 0.3))]
    rows += [row("b", m, o, f, cfg=shared[m]) for m, o, f in ((0.5, 0.3, 0.2), (1.0, 0.1, 0.25), (2.0, 0.2, 0.3))]
    rows += [row("c", m, o, f) for m, o, f in ((0.5, 0.3, 0.2), (1.0, 0.4, math.nan), (2.0, 0.2, 0.3))]
    picks = wd4_pilot.timescale_argmins(rows)
    assert [(g["rule"], g["own"], g["shared"]) for g in picks] == [("a", 1.0, 0.5), ("c", 2.0, 0.5)]


def test_bad_input_is_one_line_and_exit_2(capsys):
    for argv in (["--threads", "0"], ["--cache", __file__]):
        with pytest.raises(SystemExit) as e:
            wd4_pilot.main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("python -m figures.wd4_pilot: error:")
