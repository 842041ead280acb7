"""Engine: divergence isolation, determinism, bucket independence, Eq. 28 + SGD Table 5, bad input."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from theory.bridge import BaseHP

from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from synthetic.engine import build, run_id, train_bucket
from synthetic.errors import ConfigError
from synthetic.optim import run_hparams
from synthetic.records import select
from synthetic.version import DIVERGENCE_FACTOR
from test_engine_support import data_for

ALL = ("loss", "test_loss", "w_rms", "dw_rms", "dw_cum_rms", "w_op", "dw_op", "dw_cum_op", "sigma1", "sigma1_pi",
       "spectrum", "h_rms", "dh_rms", "gain", "g1_weight", "g1_feature", "g2_activation", "g3_alignment",
       "claim_e1", "claim_e2", "dw_rel", "dh_rel", "g1_weight_cum", "dw_cum_rel", "g1_feature_cum", "dh_cum_rel")


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


@pytest.mark.engine_device
@pytest.mark.parametrize("opt", ["sgd", "adamw"])
def test_divergent_run_is_isolated(opt, engine_device, same_numbers):
    runs = runs_for([GOOD[0], BAD, GOOD[1]], opt=opt, norm="rms" if opt == "adamw" else "none")
    if opt == "adamw":  # AdamW steps are bounded; a huge lr needs a huge weight to overflow
        runs[1] = dataclasses.replace(runs[1], base=BaseHP(eta=1e300, n_base=1, L_base=1))
    mixed = train_bucket(runs, engine_device, data_source=data_for(runs, device=engine_device))
    alone = train_bucket([runs[0], runs[2]], engine_device,
                         data_source=data_for([runs[0], runs[2]], device=engine_device))
    assert mixed[1].diverged_at is not None
    assert mixed[0].diverged_at is None and mixed[2].diverged_at is None
    for a, b in ((mixed[0], alone[0]), (mixed[2], alone[1])):
        assert keys(a) == keys(b)
        same_numbers(values(a).tolist(), values(b).tolist(), a.config.dtype, "a good run beside a diverging one")
        assert torch.isfinite(values(a)).all()
    bad = mixed[1]
    assert max(r.step for r in bad.records) == bad.diverged_at
    loss = {r.step: r.value for r in select(bad.records, quantity="loss")}
    limit = DIVERGENCE_FACTOR * (1 + loss[0])
    assert not loss[bad.diverged_at] <= limit   # NaN, inf, or a finite loss past the divergence threshold
    assert all(math.isfinite(v) and v <= limit for s, v in loss.items() if s < bad.diverged_at)


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
    assert torch.equal(opt.lr["hidden.1"], torch.full_like(opt.lr["hidden.1"], opt.lr["hidden.1"][0].item())) and opt.lr["hidden.1"][0].item() == pytest.approx(1e-3 * L)
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
    ({"loss": "bce", "d_out": 2}, "bce"), ({"decay_roles": ("hidden", "readout")}, "decay_roles"),
    ({"decay_roles": "hidden"}, "decay_roles"),
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


def _fan_model(final_norm: bool, norm: str = "rms") -> ModelConfig:
    return ModelConfig(width=8, depth=3, k=2, d_in=5, d_out=2, activation="relu", norm=norm, final_norm=final_norm)


@pytest.mark.parametrize("norm", ["rms", "layer", "none"])
def test_final_norm_is_the_normalized_readout(norm):
    """out = α_out W_out norm_f(h_L), with norm_f the block norm kind (RMSNorm when norm is "none"), computed by hand
    from h_L; norm_f = identity without final_norm."""
    for final in (True, False):
        (run,) = [_one(width=8, depth=3, d_in=5, d_out=2, norm=norm, final_norm=final, dtype="float64",
                       base=BaseHP(n_base=1, L_base=1))]
        model, _ = build([run], torch.device("cpu"))
        x = torch.randn(1, 7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        out, cap = model.forward(model.params, x, capture=True)
        h = cap.features[-2]
        if final and norm == "layer":
            h = (h - h.mean(-1, keepdim=True)) / torch.sqrt(h.var(-1, unbiased=False, keepdim=True) + 1e-5)
        elif final:
            h = h / torch.sqrt(h.pow(2).mean(-1, keepdim=True) + torch.finfo(h.dtype).eps)
        expected = model.alpha["output"] * (h @ model.params["output"][0].T)
        torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)


def test_final_norm_makes_the_residual_writers_scale_invariant():
    """Pre-norm blocks + final norm: multiplying W0 and every block's last map (W_down) by c > 0 scales h_L by c and
    leaves the output unchanged; without the final norm the output scales by c."""
    x = torch.randn(2, 9, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    c = 7.5
    for final in (True, False):
        runs = [_one(width=8, depth=3, d_in=5, d_out=2, norm="rms", final_norm=final, dtype="float64", seed=s,
                     base=BaseHP(n_base=1, L_base=1)) for s in (1, 2)]
        model, _ = build(runs, torch.device("cpu"))
        with torch.no_grad():
            out, _ = model.forward(model.params, x)
            scaled = dict(model.params)
            scaled["input"] = c * model.params["input"]
            scaled["hidden.2"] = c * model.params["hidden.2"]
            out_c, _ = model.forward(scaled, x)
        torch.testing.assert_close(out_c, out if final else c * out, rtol=1e-9, atol=1e-12)


def test_final_norm_and_decay_roles_defaults_keep_run_ids():
    """The new fields are left out of the canonical JSON at their defaults (so cached run ids stay valid), are written
    when set, and round-trip."""
    a = _one()
    assert "final_norm" not in a.to_dict()["model"] and "decay_roles" not in a.to_dict()
    assert run_id(a) == run_id(dataclasses.replace(a, model=dataclasses.replace(a.model, final_norm=False),
                                                   decay_roles=None))
    b = _one(final_norm=True, decay_roles=("hidden", "output"))
    assert b.to_dict()["model"]["final_norm"] is True and b.to_dict()["decay_roles"] == ["hidden", "output"]
    assert RunConfig.from_dict(json.loads(b.canonical_json())) == b
    assert len({run_id(a), run_id(b), run_id(dataclasses.replace(a, decay_roles=()))}) == 3
    assert RunConfig.from_dict(a.to_dict()) == a


@pytest.mark.parametrize("opt", ["adamw", "sgd", "muon_kimi_adamw"])
def test_decay_roles_mask_the_bridge_weight_decay(opt):
    """decay_roles=("hidden",): the hidden maps get the bridge's λ, every other role λ = 0. With a zero gradient one
    step is pure decay: hidden weights become W·(1 − η λ_bridge) exactly, the others stay bit-for-bit."""
    base = BaseHP(eta=0.05, lam=0.3, n_base=1, L_base=1)
    run = RunConfig(model=ModelConfig(width=6, depth=2, k=2, d_in=4, d_out=1, bias=True, norm="rms", final_norm=True),
                    optim=OptimConfig(name=opt), base=base, dtype="float64", decay_roles=("hidden",)).validate()
    full = run_hparams(dataclasses.replace(run, decay_roles=None))
    masked = run_hparams(run)
    for role, hp in masked.items():
        assert hp.wd == (full[role].wd if role == "hidden" else 0.0), role
        assert (hp.lr, hp.multiplier, hp.init_var, hp.eps) == (full[role].lr, full[role].multiplier,
                                                               full[role].init_var, full[role].eps)
    assert full["hidden"].wd > 0 and all(full[r].wd > 0 for r in ("input", "output"))
    model, optim = build([run], torch.device("cpu"))
    before = {g: p.detach().clone() for g, p in model.params.items()}
    optim.step({g: torch.zeros_like(p) for g, p in model.params.items()})
    for g, p in model.params.items():
        if g.startswith("hidden."):
            torch.testing.assert_close(p.detach(), before[g] * (1 - full["hidden"].lr * full["hidden"].wd),
                                       rtol=1e-14, atol=0)
        else:
            assert torch.equal(p.detach(), before[g]), g
