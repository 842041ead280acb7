"""Engine: divergence isolation, determinism, bucket independence, Eq. 28 + SGD Table 5, bad input."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from theory.bridge import BaseHP

from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from synthetic.engine import build, run_id, train_bucket
from synthetic.errors import ConfigError
from synthetic.records import select
from test_engine_support import data_for

ALL = ("loss", "test_loss", "w_rms", "dw_rms", "dw_cum_rms", "w_op", "dw_op", "dw_cum_op", "sigma1", "sigma1_pi",
       "spectrum", "h_rms", "dh_rms", "gain", "g1_weight", "g1_feature", "g2_activation", "g3_alignment",
       "claim_e1", "claim_e2")


def runs_for(bases, opt="sgd", dtype="float64", steps=12, **model_kw):
    model = ModelConfig(width=6, depth=2, k=2, d_in=4, d_out=1, bias=True, **model_kw)
    return [RunConfig(model=model, optim=OptimConfig(name=opt, momentum=0.5 if opt == "sgd" else 0.0),
                      base=b, steps=steps, batch_size=4, seed=10 + i, dtype=dtype, measure_at=(0, 5, steps),
                      measurements=ALL) for i, b in enumerate(bases)]


def values(result):
    return torch.tensor([r.value for r in result.records], dtype=torch.float64)


def keys(result):
    return [r[:5] for r in result.records]


GOOD = [BaseHP(eta=0.01, n_base=1, L_base=1), BaseHP(eta=0.02, n_base=1, L_base=1)]
BAD = BaseHP(eta=1e4, n_base=1, L_base=1)


@pytest.mark.parametrize("opt", ["sgd", "adamw"])
def test_divergent_run_is_isolated(opt):
    runs = runs_for([GOOD[0], BAD, GOOD[1]], opt=opt, norm="rms" if opt == "adamw" else "none")
    if opt == "adamw":  # AdamW steps are bounded; a huge lr needs a huge weight to overflow
        runs[1] = dataclasses.replace(runs[1], base=BaseHP(eta=1e300, n_base=1, L_base=1))
    mixed = train_bucket(runs, data_source=data_for(runs))
    alone = train_bucket([runs[0], runs[2]], data_source=data_for([runs[0], runs[2]]))
    assert mixed[1].diverged_at is not None
    assert mixed[0].diverged_at is None and mixed[2].diverged_at is None
    for a, b in ((mixed[0], alone[0]), (mixed[2], alone[1])):
        assert keys(a) == keys(b)
        assert torch.equal(values(a), values(b))
        assert torch.isfinite(values(a)).all()
    bad = mixed[1]
    assert max(r.step for r in bad.records) == bad.diverged_at
    loss = {r.step: r.value for r in select(bad.records, quantity="loss")}
    assert not math.isfinite(loss[bad.diverged_at])
    assert all(math.isfinite(v) for s, v in loss.items() if s < bad.diverged_at)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_seed_same_numbers_and_bucket_independence(dtype):
    runs = runs_for([GOOD[0], GOOD[1], BaseHP(eta=0.005, sigma2=2.0, n_base=1, L_base=1)], opt="adamw", dtype=dtype,
                    norm="layer", activation="gelu", act_after_branch=True)
    runs[2] = dataclasses.replace(runs[2], parameterization="sp", seed=3)
    first = train_bucket(runs, data_source=data_for(runs))
    again = train_bucket(runs, data_source=data_for(runs))
    single = train_bucket([runs[1]], data_source=data_for([runs[1]]))
    for a, b in zip(first, again):
        assert keys(a) == keys(b) and torch.equal(values(a), values(b))
    pair = train_bucket(runs[1:], data_source=data_for(runs[1:]))
    assert keys(first[1]) == keys(pair[0]) and torch.equal(values(first[1]), values(pair[0]))
    # alone (M = 1), torch's reductions take another code path: the training trajectory (loss) is still bit-identical,
    # norms of the measurements agree to rounding
    assert keys(first[1]) == keys(single[0])
    loss = [i for i, r in enumerate(first[1].records) if r.quantity == "loss"]
    assert torch.equal(values(first[1])[loss], values(single[0])[loss])
    torch.testing.assert_close(values(first[1]), values(single[0]), rtol=1e-12 if dtype == "float64" else 1e-5,
                               atol=0)
    assert first[1].run_id == run_id(runs[1]) != first[0].run_id


def test_eq28_sgd_table5_trains():
    """Eq. 28 with SGD Table 5 (absolute n, L): the engine's numbers are the paper's, and a short run trains."""
    n, L, d0 = 16, 4, 3072
    base = BaseHP(alpha=1.0, sigma2=2.0, eta=1e-3, n_base=1, L_base=1)
    run = RunConfig(model=ModelConfig.eq28(width=n, depth=L), optim=OptimConfig(name="sgd"), parameterization="mup_k2",
                    base=base, data=DataConfig(kind="two_class_standin", n_train=32), loss="bce", steps=10,
                    batch_size=32, measure_at=(0, 5, 10),
                    measurements=("loss", "g1_weight", "g1_feature", "g2_activation", "g3_alignment"),
                    measure_layers=("model", "input", f"block{L}.1", f"block{L}.2"), dtype="float64")
    model, opt = build([run], torch.device("cpu"))
    # Zheng et al. §7.3 (Table 5, k = 2 SGD): α0 = 1, α_l = 1/L, α_{L+1} = 1/n; σ² = 2/d0, 2/n, 2; η = η n, η L, η n
    assert model.alpha["input"].item() == pytest.approx(1.0)
    assert model.alpha["hidden"].item() == pytest.approx(1.0 / L)
    assert model.alpha["output"].item() == pytest.approx(1.0 / n)
    assert model.params["input"].var().item() == pytest.approx(2.0 / d0, rel=0.05)
    assert model.params["hidden.1"].var().item() == pytest.approx(2.0 / n, rel=0.2)
    assert opt.lr["input"].item() == pytest.approx(1e-3 * n)
    assert opt.lr["hidden.1"].item() == pytest.approx(1e-3 * L)
    assert opt.lr["output"].item() == pytest.approx(1e-3 * n)
    try:
        import synthetic.data  # noqa: F401
        data = None
    except ImportError:
        data = data_for([run], fixed=True)
    (res,) = train_bucket([run], data_source=data)
    assert res.diverged_at is None
    loss = [r.value for r in select(res.records, quantity="loss")]
    assert len(loss) == 11 and loss[-1] < loss[0]
    for q in ("g1_weight", "g1_feature", "g2_activation"):
        got = select(res.records, quantity=q)
        assert {r.layer for r in got} == {"input", f"block{L}.1", f"block{L}.2"}
        assert {r.step for r in got} == {0, 5, 10}
        assert all(0.0 < r.value <= 1.0 + 1e-12 for r in got), q
    assert all(r.value > 0 for r in select(res.records, quantity="g3_alignment"))


def _one(**kw):
    model_kw = {k: kw.pop(k) for k in list(kw) if k in {f.name for f in dataclasses.fields(ModelConfig)}}
    optim_kw = {k[6:]: kw.pop(k) for k in list(kw) if k.startswith("optim_")}
    model = ModelConfig(**{"width": 4, "depth": 2, **model_kw})
    return RunConfig(model=model, optim=OptimConfig(**optim_kw), **kw)


@pytest.mark.parametrize("kw,needle", [
    ({"width": 0}, "width"), ({"depth": 0}, "depth"), ({"k": 0}, "k"), ({"optim_name": "adam"}, "optimizer"),
    ({"activation": "tanh"}, "activation"), ({"norm": "batch"}, "norm"), ({"loss": "hinge"}, "loss"),
    ({"parameterization": "ntk"}, "parameterization"), ({"steps": 5, "measure_at": (6,)}, "measure_at"),
    ({"measurements": ("sigma9",), "measure_at": (0,)}, "measurement"), ({"dtype": "float16"}, "dtype"),
    ({"measure_layers": ("block9.1",)}, "layer"), ({"measurements": ("w_rms",)}, "measure_at"),
    ({"loss": "bce", "d_out": 2}, "bce"),
])
def test_bad_config_is_one_line_config_error(kw, needle):
    run = _one(**kw)
    with pytest.raises(ConfigError) as e:
        train_bucket([run])
    msg = str(e.value)
    assert "\n" not in msg and needle in msg


def test_mixed_bucket_and_absent_cuda_are_config_errors():
    a, b = _one(), _one(steps=7)
    with pytest.raises(ConfigError, match="bucket"):
        train_bucket([a, b])
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            train_bucket([a], device="cuda")
    assert RunConfig.from_dict(a.to_dict()) == a
    assert a.bucket_key() == dataclasses.replace(a, seed=5, parameterization="sp", base=BaseHP(eta=1.0)).bucket_key()
