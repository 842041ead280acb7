"""synthetic.schedule: learning-rate factors against torch.optim.lr_scheduler, and the stacked step with a schedule
against torch.optim + the same scheduler, step for step in float64."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from theory.bridge import BaseHP

from synthetic.config import OptimConfig, RunConfig
from synthetic.engine import build, per_run_loss, run_id, train_bucket
from synthetic.errors import ConfigError
from synthetic.schedule import ScheduleConfig
from test_engine_support import data_for
from test_optim_reference import MODEL, initial_params, stacked_params, torch_reference

STEPS = 30


def torch_lrs(s: ScheduleConfig, steps: int) -> list[float]:
    """The learning-rate factors of torch's schedulers, phase by phase: LinearLR for the warmup, then
    CosineAnnealingLR (or a constant) on a fresh optimizer for the remaining steps. (SequentialLR is not used: its
    hand-over re-steps the cosine's recursive form and drifts from the closed form by ~4e-4.)"""
    def run(make, n):
        p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        opt = torch.optim.SGD([p], lr=1.0)
        sched, out = make(opt), []
        for _ in range(n):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out
    w = s.warmup_steps
    lrs = run(lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=s.warmup_start, total_iters=w), w) if w else []
    if s.decay == "cosine":
        return lrs + run(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=steps - w, eta_min=s.floor),
                         steps - w)
    return lrs + [1.0] * (steps - w)


def torch_scheduler(s: ScheduleConfig, steps: int):
    """A single-phase schedule as torch's scheduler (optimizer -> scheduler), for the step-for-step test."""
    if s.decay == "cosine":
        assert s.warmup_steps == 0 and s.floor == 0.0
        return lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    return lambda opt: torch.optim.lr_scheduler.LinearLR(opt, start_factor=s.warmup_start, total_iters=s.warmup_steps)


SCHEDULES = [ScheduleConfig(warmup_steps=5, warmup_start=0.1, decay="cosine", floor=0.1),
             ScheduleConfig(decay="cosine"), ScheduleConfig(warmup_steps=8, warmup_start=0.25),
             ScheduleConfig(warmup_steps=3, warmup_start=0.5, decay="cosine", floor=0.0)]


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_factors_equal_torch_lr_schedulers(schedule):
    assert [schedule.factor(t, STEPS) for t in range(STEPS)] == pytest.approx(torch_lrs(schedule, STEPS), abs=1e-12)


@pytest.mark.parametrize("opt_name", ["sgd", "adamw"])
def test_stacked_step_with_a_schedule_equals_torch_optim_with_its_scheduler(opt_name):
    schedules = [ScheduleConfig(warmup_steps=4, warmup_start=0.2), ScheduleConfig(decay="cosine"),
                 ScheduleConfig(warmup_steps=6, warmup_start=0.5)]
    runs = [RunConfig(model=MODEL, optim=OptimConfig(name=opt_name, momentum=0.9 if opt_name == "sgd" else 0.0),
                      parameterization="mup_k2", base=BaseHP(eta=0.02, lam=0.1, n_base=4, L_base=1), loss="mse",
                      steps=STEPS, batch_size=5, seed=s, dtype="float64", bias_init_zero=False, schedule=sc)
            for s, sc in enumerate(schedules)]
    data = data_for(runs)
    model, opt = build(runs, torch.device("cpu"))
    init = initial_params(model)
    names = list(model.params)
    table = torch.tensor([[r.schedule.factor(t, STEPS) for r in runs] for t in range(STEPS)], dtype=torch.float64)
    for t in range(STEPS):
        x, y = data.train_batch(t)
        loss = per_run_loss("mse", model.forward(model.params, x)[0], y)
        grads = torch.autograd.grad(loss.sum(), [model.params[g] for g in names])
        opt.step(dict(zip(names, grads)), lr_scale=table[t])
    for m, run in enumerate(runs):
        ref = torch_reference(run, init, m, STEPS, data, opt_name, scheduler=torch_scheduler(run.schedule, STEPS))
        stacked = stacked_params(model, m)
        for key, ref_p in ref.items():
            diff = (stacked[key].detach() - ref_p.detach()).abs().max().item()
            assert diff < 1e-12, (m, key, diff)


@pytest.mark.engine_device
def test_runs_with_different_schedules_share_a_bucket_and_match_training_alone(engine_device, same_numbers):
    base = RunConfig(model=dataclasses.replace(MODEL, bias=False), optim=OptimConfig(name="adamw"), steps=12,
                     batch_size=4, dtype="float64", base=BaseHP(eta=0.01, n_base=4, L_base=1))
    runs = [dataclasses.replace(base, schedule=s, seed=i) for i, s in enumerate(SCHEDULES[:3])]
    assert len({r.bucket_key() for r in runs}) == 1
    together = train_bucket(runs, engine_device)
    for run, res in zip(runs, together):
        alone = train_bucket([run], engine_device)[0]
        same_numbers([r.value for r in alone.records], [r.value for r in res.records], "float64", "alone vs bucket")
    assert [r.value for r in together[0].records] != [r.value for r in train_bucket([base], engine_device)[0].records]


def test_a_constant_schedule_keeps_run_ids_and_bad_schedules_are_refused():
    run = RunConfig(model=MODEL)
    assert "schedule" not in run.to_dict()
    assert run_id(run) == run_id(dataclasses.replace(run, schedule=ScheduleConfig()))
    assert run_id(run) != run_id(dataclasses.replace(run, schedule=ScheduleConfig(decay="cosine")))
    assert RunConfig.from_dict(dataclasses.replace(run, schedule=SCHEDULES[0]).to_dict()).schedule == SCHEDULES[0]
    for bad in (ScheduleConfig(warmup_steps=-1), ScheduleConfig(warmup_steps=run.steps + 1),
                ScheduleConfig(floor=1.5), ScheduleConfig(warmup_start=-0.1), ScheduleConfig(decay="linear")):
        with pytest.raises(ConfigError):
            dataclasses.replace(run, schedule=bad).validate()


def test_the_update_measured_at_T_uses_the_last_training_rate_not_the_floor():
    run = RunConfig(model=dataclasses.replace(MODEL, bias=False), optim=OptimConfig(name="adamw"), steps=10,
                    batch_size=4, dtype="float64", base=BaseHP(eta=0.01, n_base=4, L_base=1),
                    schedule=ScheduleConfig(decay="cosine"), measure_at=(0, 5, 10), measurements=("loss", "dw_rms"))
    at_T = [r.value for r in train_bucket([run])[0].records if r.quantity == "dw_rms" and r.step == 10]
    assert at_T and all(v > 0 for v in at_T)
