"""figures.wd3_timescales: a longer run read over its own timescales is the run trained to them, record for record;
each run's own steps give it the plan's timescales; the paired differences are per-seed means."""

from dataclasses import replace

import pytest

from figures import wd3_timescales as t
from figures.claims import Estimate
from figures import wd_setup as ws
from figures.wd_runs import mup_steps, rule_e, wd3_plan
from synthetic.engine import RunResult, run_id
from synthetic.grid import run_grid
from synthetic.records import Record

SCALE = "smoke"


def _rows(result):
    return sorted((r.step, r.layer, r.quantity, r.index, r.value) for r in result.records)


def test_a_longer_run_read_over_its_own_timescales_is_the_run_trained_to_them(tmp_path):
    plan = t.shared_plan(SCALE)
    width = max(ws.setting(SCALE).widths)
    picked = [c for rule, _, c in plan if rule == "constant_eta_lambda" and c.model.width == width][:1]
    assert picked and t.own_steps(picked[0], SCALE) < picked[0].steps    # the fastest rule: far fewer steps
    long = run_grid([t.with_own_window(c, SCALE) for c in picked], cache_dir=tmp_path, progress=False)
    short = run_grid([replace(c, steps=t.own_steps(c, SCALE), measure_at=t.own_measure_at(c, SCALE)) for c in picked],
                     cache_dir=tmp_path, progress=False)
    for c, lr, sr in zip(picked, long, short):
        read = t.readout(lr, t.own_steps(c, SCALE), t.own_measure_at(c, SCALE))
        assert _rows(read) == _rows(sr)
        assert read.config == sr.config and read.diverged_at == sr.diverged_at
        # and the shared readout of the longer run is the planned run: its config, its measurement steps
        shared = t.readout(lr, c.steps, c.measure_at)
        assert shared.config == c and shared.run_id == run_id(c)
        assert {r.step for r in shared.records if r.quantity != t.TRAINING_LOSS} == set(c.measure_at)


def test_own_steps_give_each_run_the_plans_timescales():
    s = ws.setting("default")
    for _, _, c in t.shared_plan("default"):
        eta2, lam2 = ws.hidden_eta_lam(c)
        steps = t.own_steps(c, "default")
        assert s.steps_per_tau <= steps * eta2 * lam2 < s.steps_per_tau + 10 * eta2 * lam2
        assert steps <= c.steps                     # never longer than the shared steps of the slowest run
    shared, own = t.cost(t.shared_plan("default"), "default")
    assert own < shared


def test_differences_are_paired_per_seed():
    # seeds in another order in each, one missing in the middle of one: pairing is by seed, not by position
    exps = {"r": {"own": {2: 0.3, 0: 0.5, 3: 0.7}, "shared": {3: 0.5, 2: 0.3, 1: 9.0, 0: 0.4}}}
    d = t.differences(exps)["r"]
    assert d.n == 3 and d.value == pytest.approx((0.1 + 0.2 + 0.0) / 3)
    assert d.se == pytest.approx(0.1 / 3 ** 0.5)            # sd of (0.1, 0.2, 0.0) is 0.1


def test_the_criterion_is_equivalence_within_half_of_wd3s_tolerance():
    assert t.TOLERANCE.value == pytest.approx(0.05)
    assert t.SAME.judge(Estimate(0.01, 0.01, 9.0, 10)).value == "holds"       # ±2.26·0.01 stays inside ±0.05
    assert t.SAME.judge(Estimate(0.03, 0.01, 9.0, 10)).value == "undecided"   # upper end 0.053
    assert t.SAME.judge(Estimate(0.09, 0.01, 9.0, 10)).value == "fails"       # lower end 0.067


def _result(steps_recorded, diverged_at):
    cfg = t.shared_plan(SCALE)[0][2]
    recs = [Record("x", s, "model", "loss", 0, 1.0) for s in range(max(steps_recorded) + 1)]
    recs += [Record("x", s, "block1.1", "sigma1", 0, float(s)) for s in steps_recorded]
    return RunResult(replace(cfg, steps=max(steps_recorded), measure_at=tuple(steps_recorded)), "x", recs, diverged_at)


def test_readout_truncates_records_and_divergence_and_names_the_shorter_run():
    res = _result((10, 20, 30, 40), diverged_at=35)
    read = t.readout(res, 30, (20, 30))
    assert sorted({r.step for r in read.records if r.quantity == "sigma1"}) == [20, 30]
    assert sorted({r.step for r in read.records if r.quantity == "loss"}) == list(range(31))
    assert read.diverged_at is None and read.run_id == run_id(read.config) != res.run_id
    assert t.readout(_result((10, 20, 30, 40), diverged_at=25), 30, (20, 30)).diverged_at == 25


def test_bad_input_is_one_line_and_exit_2(capsys):
    for argv in (["--threads", "0"], ["--look", "3"], ["--cache", __file__]):
        with pytest.raises(SystemExit) as e:
            t.main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("python -m figures.wd3_timescales: error:")


def test_rule_steps_give_each_rules_slowest_run_the_plans_timescales_and_the_rest_at_least_as_many():
    s = ws.setting("default")
    plan = t.shared_plan("default")
    by_rule = t.rule_steps(plan, "default")
    assert set(by_rule) == {r for r, _, _ in plan}
    for rule, steps in by_rule.items():
        runs = [c for r, _, c in plan if r == rule]
        assert steps == max(t.own_steps(c, "default") for c in runs)
        for c in runs:
            eta2, lam2 = ws.hidden_eta_lam(c)
            assert steps * eta2 * lam2 >= s.steps_per_tau
    assert by_rule["mup_fixed"] == plan[0][2].steps                 # λ₂ const holds the grid's slowest run
    assert by_rule["constant_eta_lambda"] == min(by_rule.values())  # constant ηλ: one timescale at every width


def test_cost_counts_the_d0_runs_the_rules_share_once_and_the_rule_plans_apart():
    plan = [(r, e, c) for r, e, c in t.shared_plan("default") if c.model.width == ws.setting("default").d0 and c.seed == 0]
    by_rule = t.rule_steps(t.shared_plan("default"), "default")
    assert len({c.canonical_json() for _, _, c in plan}) == 1          # at d0 the shared plan's rules are one run
    shared, cheaper = t.cost(plan, "default", "rule", by_rule)
    assert shared == plan[0][2].steps
    assert cheaper == sum(by_rule.values())                             # under "rule" their steps differ


def test_the_shared_plan_is_wd3s_plan_as_the_study_measured_it():
    s = ws.setting("default")
    shared, planned = t.shared_plan("default"), wd3_plan("default")
    slowest = mup_steps(s, [rule_e(r) for r, _, _ in planned], s.widths)
    assert {c.steps for _, _, c in shared} == {slowest} == {c.steps for _, _, c in planned} and slowest == 6400
    for (r, e, c), (r2, e2, c2) in zip(planned, shared):
        assert (r, e) == (r2, e2)
        assert c.optim.one_pass is ws.ONE_PASS and c2.optim.one_pass is False     # the study measured tiled runs
        assert ws.tiled(c) == c2
