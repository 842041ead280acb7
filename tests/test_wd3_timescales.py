"""figures.wd3_timescales: a longer run read over its own timescales is the run trained to them, record for record;
each run's own steps give it the plan's timescales; the paired differences are per-seed means."""

from dataclasses import replace

import pytest

from figures import wd3_timescales as t
from figures import wd_setup as ws
from figures.wd_runs import wd3_plan
from synthetic.grid import run_grid

SCALE = "smoke"


def _rows(result):
    return sorted((r.step, r.layer, r.quantity, r.index, r.value) for r in result.records)


def test_a_longer_run_read_over_its_own_timescales_is_the_run_trained_to_them(tmp_path):
    plan = wd3_plan(SCALE)
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
        # and the shared readout of the longer run is the planned run's
        assert t.readout(lr, c.steps, c.measure_at).config == c


def test_own_steps_give_each_run_the_plans_timescales():
    s = ws.setting("default")
    for _, _, c in wd3_plan("default"):
        eta2, lam2 = ws.hidden_eta_lam(c)
        steps = t.own_steps(c, "default")
        assert s.steps_per_tau <= steps * eta2 * lam2 < s.steps_per_tau + 10 * eta2 * lam2
        assert steps <= c.steps                     # never longer than the shared steps of the slowest run
    shared, own = t.cost(wd3_plan("default"), "default")
    assert own < shared


def test_differences_are_paired_per_seed():
    exps = {"r": {"own": {0: 0.5, 1: 0.7, 2: 0.3}, "shared": {0: 0.4, 1: 0.5, 2: 0.3, 3: 9.0}}}
    d = t.differences(exps)["r"]
    assert d.n == 3 and d.value == pytest.approx((0.1 + 0.2 + 0.0) / 3)
    assert d.se == pytest.approx(0.1 / 3 ** 0.5)            # sd of (0.1, 0.2, 0.0) is 0.1


def test_bad_input_is_one_line_and_exit_2(capsys):
    for argv in (["--threads", "0"], ["--look", "3"]):
        with pytest.raises(SystemExit) as e:
            t.main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("python -m figures.wd3_timescales: error:")
