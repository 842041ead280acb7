"""synthetic.version: the engine's numbers are pinned to ENGINE_VERSION by the record values of a fixed set of
buckets (`benchmarks.engine_golden`), compared value by value with a tolerance measured across CPU kernel paths.

When the check fails, the engine's numbers changed. If that was intended, bump `ENGINE_VERSION` in
synthetic/version.py (every cached run then becomes a miss) and rewrite the golden file with
`python -m benchmarks.engine_golden --update` (it measures the spread of every kernel path and thread count again).
CI runs this file under every kernel path of `benchmarks.kernel_paths.KERNEL_PATHS`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

import pytest

from benchmarks import engine_golden
from synthetic.engine import run_id
from synthetic.schedule import ScheduleConfig
from synthetic.version import ENGINE_VERSION


@lru_cache(maxsize=1)
def golden() -> dict:
    return engine_golden.load_golden()


@lru_cache(maxsize=1)
def current() -> dict:
    return engine_golden.record_values()


@pytest.mark.golden
def test_records_match_the_golden_values_of_this_engine_version():
    doc = golden()
    assert doc["engine_version"] == ENGINE_VERSION, (
        f"ENGINE_VERSION is {ENGINE_VERSION} but the golden records are for {doc['engine_version']}: "
        f"record them with `python -m benchmarks.engine_golden --update`")
    problems = engine_golden.mismatches(current(), doc)
    assert not problems, (
        f"the engine's numbers changed but ENGINE_VERSION is still {ENGINE_VERSION}: bump it in synthetic/version.py "
        f"(cached runs of {ENGINE_VERSION} would otherwise be served), then `python -m benchmarks.engine_golden "
        f"--update`:\n" + "\n".join(problems))


def test_the_golden_file_covers_both_dtypes_and_states_its_measured_spread():
    doc = golden()
    dtypes = {g["dtype"] for g in doc["runs"].values()}
    assert dtypes == {"float32", "float64"}
    assert set(doc["tolerance_constant"]) == dtypes
    for d in dtypes:
        measured = max(dev[d] for dev in doc["spread"].values())
        assert math.isfinite(measured)
        assert doc["tolerance_constant"][d] == max(engine_golden.C_FLOOR, engine_golden.MARGIN * measured)
    assert {p.split("/")[0] for p in doc["spread"]} == {"native", "avx2", "default"}


def _perturbed(change) -> dict:
    buckets = [[change(run) for run in bucket] for bucket in engine_golden.fixed_buckets()]
    return engine_golden.record_values(buckets)


def test_one_step_of_another_learning_rate_fails_every_run():
    """The first step at 0.999 of its learning rate (one warmup step from 0.999 on every run with a constant
    schedule; the later steps unchanged): every such run, float32 and float64, diverging or not, must leave its
    tolerance."""
    perturbed = set()

    def first_step_slower(run):
        if not run.schedule.is_constant:
            return run
        perturbed.add(run)
        return replace(run, schedule=ScheduleConfig(warmup_steps=1, warmup_start=0.999))

    failed = engine_golden.failures(_perturbed(first_step_slower), golden())
    expected = {name for name, run in _named_runs() if run in perturbed}
    assert {golden()["runs"][n]["dtype"] for n in expected} == {"float32", "float64"}
    assert set(failed) == expected


def _named_runs():
    for i, bucket in enumerate(engine_golden.fixed_buckets()):
        for j, run in enumerate(bucket):
            yield f"b{i}.r{j}", run


def test_epsilon_moved_by_1e_6_fails_every_float64_run_with_an_epsilon():
    """ε_base + 1e-6 (1e-8 → 1.01e-6) on every run: each float64 run whose optimizer has an ε (AdamW, and the AdamW
    part of Muon-Kimi + AdamW) leaves its tolerance by orders of magnitude; runs without an ε stay inside. The
    float32 AdamW run (batch 1, gradients far above ε) moves by less than float32 round-off across kernel paths
    (0.4 units against a tolerance of hundreds): a change that small is below what float32 can pin."""
    failed = engine_golden.failures(_perturbed(lambda r: replace(r, base=replace(r.base, eps=r.base.eps + 1e-6))),
                                    golden())
    with_eps = {name for name, run in _named_runs()
                if run.optim.name in ("adamw", "muon_kimi_adamw") and run.dtype == "float64"}
    assert with_eps and set(failed) == with_eps


def test_the_tolerance_scales_with_round_off_steps_and_the_quantity():
    doc = {"tolerance_constant": {"float32": 100.0}, "runs": {"r": {"dtype": "float32", "diverged_at": None, "values": {
        "0 model loss 0": 2.0, "4 model loss 0": 1.0, "4 h1 dh_rms 0": 0.0, "8 h1 dh_rms 0": 1e-3}}}}
    u = engine_golden.UNIT_ROUNDOFF["float32"]
    inside = {"0 model loss 0": 2.0 + 99 * u * 2.0, "4 model loss 0": 1.0 - 499 * u * 2.0,
              "4 h1 dh_rms 0": 499 * u * 1e-3, "8 h1 dh_rms 0": 1e-3 + 899 * u * 1e-3}
    run = {"dtype": "float32", "diverged_at": None, "values": inside}
    assert engine_golden.failures({"r": run}, doc) == {}
    for key, bad in (("0 model loss 0", 2.0 + 101 * u * 2.0), ("4 h1 dh_rms 0", 501 * u * 1e-3),
                     ("8 h1 dh_rms 0", math.nan)):
        (msg,) = engine_golden.failures({"r": {**run, "values": {**inside, key: bad}}}, doc)["r"]
        assert key in msg
    (msg,) = engine_golden.failures({"r": {**run, "diverged_at": 3}}, doc)["r"]
    assert "diverged at 3" in msg
    (msg,) = engine_golden.failures({"r": {**run, "values": dict(reversed(inside.items()))}}, doc)["r"]
    assert "another order" in msg


def test_check_prints_the_largest_deviation_in_tolerance_units(monkeypatch, capsys):
    """`--check`'s deviation line: |v − v₀| / (u_d · (t + 1) · s), s the quantity's largest |value| in the run,
    the largest per dtype; a changed divergence step is an infinite deviation."""
    u32, u64 = engine_golden.UNIT_ROUNDOFF["float32"], engine_golden.UNIT_ROUNDOFF["float64"]
    golden_runs = {
        "a": {"dtype": "float32", "diverged_at": None, "values": {"0 model loss 0": 2.0, "4 model loss 0": -4.0}},
        "b": {"dtype": "float64", "diverged_at": None, "values": {"9 h1 dh_rms 0": 0.5}}}
    now = {"a": {"dtype": "float32", "diverged_at": None,
                 "values": {"0 model loss 0": 2.0 + 3 * u32 * 4.0, "4 model loss 0": -4.0 - 35 * u32 * 4.0}},
           "b": {"dtype": "float64", "diverged_at": None, "values": {"9 h1 dh_rms 0": 0.5 + 20 * u64 * 0.5}}}
    assert engine_golden.deviations(now, golden_runs) == pytest.approx({"float32": 7.0, "float64": 2.0})
    assert engine_golden.deviations({**now, "b": {**now["b"], "diverged_at": 5}}, golden_runs)["float64"] == math.inf
    doc = {"engine_version": ENGINE_VERSION, "tolerance_constant": {"float32": 6.5, "float64": 100.0},
           "runs": golden_runs}
    monkeypatch.setattr(engine_golden, "load_golden", lambda: doc)
    monkeypatch.setattr(engine_golden, "record_values", lambda **kw: now)
    assert engine_golden.main(["--check"]) == 1                          # 7 units against a constant of 6.5
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("largest deviation"))
    (f32, f64) = line.split(": ", 1)[1].split(", ")
    assert f32.split()[0] == "float32" and float(f32.split()[1]) == pytest.approx(7.0)
    assert f64.split()[0] == "float64" and float(f64.split()[1]) == pytest.approx(2.0)
    assert "4 model loss 0" in out


def test_the_run_key_depends_on_the_engine_version(monkeypatch):
    run = engine_golden.fixed_buckets()[0][0]
    before = run_id(run)
    monkeypatch.setattr("synthetic.engine.ENGINE_VERSION", ENGINE_VERSION + "-next")
    assert run_id(run) != before


def test_a_schedule_with_one_warmup_step_changes_only_the_first_step():
    s = ScheduleConfig(warmup_steps=1, warmup_start=0.999)
    assert [s.factor(t, 12) for t in range(4)] == [0.999, 1.0, 1.0, 1.0]
