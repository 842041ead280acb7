"""synthetic.quantities: a measurement is one registration. docs/engine.md "Adding a measurement" end to end: the stable rank
‖W‖_F²/σ_max² of every weight matrix and the Frobenius norm of the single-step update ΔW (neither is in the project)
are registered, trained in a bucket and checked against numpy on the weights of a torch.optim.SGD reference, then
unregistered. Also: what the engine provides follows from the registered needs, config accepts exactly the registered
names, and a shared loss buffer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from theory.bridge import BaseHP

from synthetic.config import ModelConfig, OptimConfig, RunConfig
from synthetic.engine import build, per_run_loss, train_bucket
from synthetic.errors import ConfigError
from synthetic.groups import Group
from synthetic.measure import Measurer
from synthetic.quantities import (QUANTITY_NAMES, Need, Phase, Quantity, Scope, get_quantity, registered,
                                  registered_quantities)
from synthetic.records import select
from test_engine_support import data_for

STABLE_RANK = Quantity(name="stable_rank", phase=Phase.PRE, scope=Scope.MATRICES,
                       fn=lambda v: torch.linalg.matrix_norm(v.w) ** 2 / v.singular_values[..., 0] ** 2)
DW_FRO = Quantity(name="dw_fro", phase=Phase.POST, scope=Scope.MATRICES, needs=frozenset({Need.SNAPSHOT}),
                  fn=lambda v: torch.linalg.matrix_norm(v.w_next - v.w))

BEFORE_THE_REGISTRY = {
    "w_rms", "dw_rms", "dw_cum_rms", "w_op", "dw_op", "dw_cum_op", "sigma1", "sigma1_pi", "spectrum", "g1_weight",
    "dw_rel", "g1_weight_cum", "dw_cum_rel", "gain", "g2_activation", "g3_alignment", "h_rms", "dh_rms", "g1_feature",
    "dh_rel", "g1_feature_cum", "dh_cum_rel", "claim_e1", "claim_e2", "loss", "test_loss"}
"""The names config accepted when they were tuples in synthetic/config.py."""


def _run(**kw) -> RunConfig:
    return RunConfig(model=ModelConfig(width=6, depth=2, k=2, d_in=4, d_out=1, bias=True), optim=OptimConfig(name="sgd"),
                     base=BaseHP(eta=0.05, sigma2=1.0, n_base=1, L_base=1), dtype="float64", steps=4, batch_size=4,
                     **kw)


def test_a_registered_quantity_is_measured_against_numpy_and_unregistered():
    run = _run(measure_at=(0, 2, 4), measurements=("loss", "stable_rank", "dw_fro"))
    data = data_for([run])
    with registered(STABLE_RANK, DW_FRO):
        (res,) = train_bucket([run], data_source=data)
    one = lambda **f: select(res.records, **f)[0].value  # noqa: E731

    from synthetic.models import group_role
    from synthetic.optim import run_hparams

    model, _ = build([run], torch.device("cpu"))  # the same init; SGD without momentum or decay is torch's SGD
    hps = run_hparams(run)
    sgd = torch.optim.SGD([{"params": [p], "lr": hps[group_role(g)].lr} for g, p in model.params.items()])
    weights = [g for g in model.params if not Group.of(g).is_bias]

    def mats(g):  # layer name -> numpy matrix of W_t
        p = (model.unpacked(model.params, g) if Group.of(g).stacked_over_blocks else model.params[g].detach())[0]
        p = p.numpy().copy()
        names = Group.of(g).layer_names(run.model.depth)
        return dict(zip(names, p)) if Group.of(g).stacked_over_blocks else {names[0]: p}

    checked = 0
    for t in range(run.steps + 1):
        before = {name: w for g in weights for name, w in mats(g).items()}
        x, y = data.train_batch(t)
        sgd.zero_grad()
        per_run_loss("mse", model.forward(model.params, x)[0], y).sum().backward()
        sgd.step()
        if t not in run.measure_at:
            continue
        after = {name: w for g in weights for name, w in mats(g).items()}
        for name, w in before.items():
            s = np.linalg.svd(w, compute_uv=False)
            assert one(step=t, layer=name, quantity="stable_rank") == pytest.approx(
                np.linalg.norm(w) ** 2 / s[0] ** 2, rel=1e-9)
            assert one(step=t, layer=name, quantity="dw_fro") == pytest.approx(
                np.linalg.norm(after[name] - w), rel=1e-9)
            checked += 1
    assert checked == 3 * 6
    assert one(step=4, layer="block1.1", quantity="dw_fro") > 0
    assert {r.quantity for r in res.records} == {"loss", "stable_rank", "dw_fro"}
    assert not select(res.records, layer="input_bias")  # MATRICES: biases get no value
    assert "stable_rank" not in QUANTITY_NAMES and "dw_fro" not in QUANTITY_NAMES
    with pytest.raises(ConfigError, match="unknown measurement 'stable_rank'"):
        run.validate()


NEEDS = {
    "need_snapshot": {"dw_rms", "dw_op", "g1_weight", "dw_rel", "claim_e2"},
    "need_post_forward": {"dh_rms", "g1_feature", "dh_rel"},
    "need_init_forward": {"g1_feature_cum", "dh_cum_rel"},
    "need_zgrad": {"g3_alignment"},
    "need_test": {"test_loss"},
}
KEEPS_W0 = {"dw_cum_rms", "dw_cum_op", "g1_weight_cum", "dw_cum_rel", "g1_feature_cum", "dh_cum_rel"}
"""What the Measurer's needs-sets said before the registry."""


def test_what_the_engine_provides_follows_from_the_registered_needs():
    model, _ = build([_run()], torch.device("cpu"))
    for name in BEFORE_THE_REGISTRY:
        meas = Measurer(model, ["loss", name], [0], 2, [0])
        for flag, names in NEEDS.items():
            assert getattr(meas, flag) == (name in names), (name, flag)
        assert (meas.w0 is not None) == (name in KEEPS_W0), name
        assert bool(meas.pi) == (name == "sigma1_pi"), name
    with registered(STABLE_RANK, DW_FRO):
        assert not Measurer(model, ["stable_rank"], [0], 2, [0]).need_snapshot
        assert Measurer(model, ["dw_fro"], [0], 2, [0]).need_snapshot
    with pytest.raises(ConfigError, match="unknown measurement 'dw_fro'"):
        Measurer(model, ["loss", "dw_fro"], [0], 2, [0])


def test_config_accepts_exactly_the_registered_names():
    assert set(QUANTITY_NAMES) == BEFORE_THE_REGISTRY
    for name in QUANTITY_NAMES:
        _run(measure_at=(0,), measurements=(name,)).validate()
    with pytest.raises(ConfigError) as err:
        _run(measure_at=(0,), measurements=("loss", "nope")).validate()
    msg = str(err.value)
    head, _, listed = msg.partition("; expected one of ")
    assert "\n" not in msg and head == "unknown measurement 'nope'" and set(listed.split(", ")) == BEFORE_THE_REGISTRY
    with registered(STABLE_RANK):
        _run(measure_at=(0,), measurements=("stable_rank",)).validate()
        assert "stable_rank" in QUANTITY_NAMES
    with pytest.raises(ConfigError, match="unknown measurement 'stable_rank'"):
        _run(measure_at=(0,), measurements=("stable_rank",)).validate()


def test_replacing_a_quantity_keeps_its_place_and_is_undone():
    order = [q.name for q in registered_quantities()]
    original = get_quantity("w_rms")
    with registered(Quantity("w_rms", Phase.PRE, Scope.PARAMETERS, lambda v: v.w.abs().amax((-2, -1)))):
        assert get_quantity("w_rms") is not original and [q.name for q in registered_quantities()] == order
    assert get_quantity("w_rms") is original and [q.name for q in registered_quantities()] == order


@pytest.mark.parametrize("phase, scope, needs, match", [
    (Phase.PRE, Scope.MATRICES, frozenset({Need.SNAPSHOT}), "snapshot cannot be served in phase pre"),
    (Phase.POST, Scope.MATRICES, frozenset({Need.ZGRAD}), "zgrad cannot be served in phase post"),
    (Phase.POST, Scope.FEATURES, frozenset(), "needs Need.POST_FORWARD"),
    (Phase.EVERY_STEP, Scope.FEATURES, frozenset(), "every-step quantities are per parameter group or per model"),
    (Phase.PRE, Scope.MATRICES, {Need.W0}, "needs must be a frozenset of Need"),
])
def test_a_quantity_the_engine_cannot_serve_is_refused_in_one_line(phase, scope, needs, match):
    with pytest.raises(ConfigError, match=match):
        Quantity("bad", phase, scope, lambda v: v.w, needs)


def test_a_shared_loss_buffer_is_the_measurers_loss():
    model, _ = build([_run(seed=s) for s in (0, 1)], torch.device("cpu"))
    shared = torch.full((3, 5), float("nan"), dtype=torch.float64)
    meas = Measurer(model, ["loss"], [], 3, [0, 1], loss_buffer=shared[:, 1:3])
    assert not meas.needs_loss_step   # the buffer's owner writes the loss
    for t in range(3):
        shared[t, 1:3] = torch.tensor([t + 0.5, -t - 0.5], dtype=torch.float64)
    own = Measurer(model, ["loss"], [], 3, [0, 1])
    assert own.needs_loss_step
    own.loss_step(1, torch.tensor([7.0, 8.0], dtype=torch.float64))
    assert own.loss[1].tolist() == [7.0, 8.0] and own.loss[0].isnan().all()
    a, b = meas.records(["a", "b"], [None, 1], 3)
    assert [(r.step, r.value) for r in a] == [(0, 0.5), (1, 1.5), (2, 2.5)]
    assert [(r.step, r.value) for r in b] == [(0, -0.5), (1, -1.5)]
    with pytest.raises(ValueError, match="loss_buffer must have shape"):
        Measurer(model, ["loss"], [], 3, [0, 1], loss_buffer=shared)


def test_a_registered_every_step_model_quantity_is_recorded_in_a_ragged_bucket():
    """An every-step model quantity besides the loss reaches the records (the engine writes the loss itself), for
    every run of a bucket of two depths, equal to twice the loss at every step."""
    from synthetic.quantities import Phase, Quantity, Scope
    from synthetic.quantities.base import registered

    twice = Quantity("loss_x2", Phase.EVERY_STEP, Scope.MODEL, lambda v: 2 * v.loss)
    with registered(twice):
        runs = [RunConfig(model=ModelConfig(width=8, depth=d, d_out=2), optim=OptimConfig(name="adamw"), steps=4,
                          batch_size=4, seed=s, measure_at=(1,), measurements=("loss", "loss_x2"))
                for d, s in ((1, 0), (3, 1))]
        for res in train_bucket(runs):
            loss = {r.step: r.value for r in res.records if r.quantity == "loss"}
            x2 = {r.step: r.value for r in res.records if r.quantity == "loss_x2"}
            assert sorted(loss) == sorted(x2) == list(range(4))
            assert all(x2[t] == 2 * loss[t] for t in loss)


def test_a_quantity_version_past_one_enters_the_run_id():
    """sigma1_pi is at version 2 (a lone matrix now takes the batched kernel): runs measuring it get new ids, every
    other run keeps its id."""
    from synthetic.engine import run_id
    from synthetic.quantities import get_quantity

    assert get_quantity("sigma1_pi").version == 2 and get_quantity("w_rms").version == 1
    plain = _run(seed=0)
    with_pi = dataclasses.replace(plain, measurements=plain.measurements + ("sigma1_pi",))
    import hashlib
    from synthetic.records import SCHEMA_VERSION
    from synthetic.version import ENGINE_VERSION
    assert run_id(plain) == hashlib.sha256((plain.canonical_json() + SCHEMA_VERSION + ENGINE_VERSION).encode()).hexdigest()
    assert run_id(with_pi) == hashlib.sha256(
        (with_pi.canonical_json() + SCHEMA_VERSION + ENGINE_VERSION + "|sigma1_pi@2").encode()).hexdigest()
