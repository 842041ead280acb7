"""Every measurement against a direct numpy / torch computation on small cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from theory.bridge import BaseHP

from synthetic import measure as ms
from synthetic.config import ModelConfig, OptimConfig, RunConfig
from synthetic.engine import build, per_run_loss, train_bucket
from synthetic.records import Record, select
from test_engine_support import data_for

GEN = torch.Generator().manual_seed(0)


def rnd(*shape):
    return torch.randn(*shape, generator=GEN, dtype=torch.float64)


def r_norm(v):
    return np.linalg.norm(v) / math.sqrt(v.size)


def op_R(w):
    return math.sqrt(w.shape[1] / w.shape[0]) * np.linalg.svd(w, compute_uv=False)[0]


def test_matrix_norms_against_numpy():
    w = rnd(3, 2, 5, 7)
    for idx in np.ndindex(3, 2):
        a = w[idx].numpy()
        s = np.linalg.svd(a, compute_uv=False)
        assert ms.sigma_max(w)[idx].item() == pytest.approx(s[0], rel=1e-12)
        np.testing.assert_allclose(ms.singular_values(w)[idx].numpy(), s, rtol=1e-12)
        assert ms.op_norm_R(w)[idx].item() == pytest.approx(op_R(a), rel=1e-12)
        assert ms.entry_rms(w)[idx].item() == pytest.approx(np.sqrt((a ** 2).mean()), rel=1e-12)
    v = rnd(4, 9)
    np.testing.assert_allclose(ms.vec_rms(v).numpy(), [r_norm(x) for x in v.numpy()], rtol=1e-12)
    bad = w.clone()
    bad[0, 0, 0, 0] = math.nan
    assert torch.isfinite(ms.sigma_max(bad)).all()  # a diverged run cannot break the decomposition


def test_feature_and_weight_ratios_against_numpy():
    h, h1 = rnd(2, 5, 6), rnd(2, 5, 6)
    w, w1 = rnd(2, 4, 6), rnd(2, 4, 6)
    for m in range(2):
        H, H1 = h[m].numpy(), h1[m].numpy()
        g1f = np.mean([r_norm(H1[b]) / (r_norm(H[b]) + r_norm(H1[b] - H[b])) for b in range(5)])
        assert ms.g1_ratio_feature(h, h1)[m].item() == pytest.approx(g1f, rel=1e-12)
        assert ms.feature_rms(h)[m].item() == pytest.approx(np.mean([r_norm(x) for x in H]), rel=1e-12)
        W, W1 = w[m].numpy(), w1[m].numpy()
        assert ms.g1_ratio_weight(w, w1)[m].item() == pytest.approx(op_R(W1) / (op_R(W) + op_R(W1 - W)), rel=1e-12)
        gain = np.mean([r_norm(W @ H[b]) / r_norm(H[b]) for b in range(5)])
        assert ms.gain(w, h)[m].item() == pytest.approx(gain, rel=1e-12)
        z = W @ H.T
        act = np.mean([r_norm(np.maximum(z[:, b], 0)) / r_norm(z[:, b]) for b in range(5)])
        zt = torch.from_numpy(z.T.copy())
        assert ms.activation_ratio(zt, torch.relu(zt)).item() == pytest.approx(act, rel=1e-12)


def test_claims_against_numpy():
    w1, w2, u = rnd(2, 3, 7, 5), rnd(2, 3, 5, 7), rnd(2, 3, 4, 5)
    got = ms.claim_e1([w1, w2], u)
    dw = rnd(2, 3, 5, 7)
    got2 = ms.claim_e2(dw, u @ w1.mT)
    for idx in np.ndindex(2, 3):
        A, B, U, D = w1[idx].numpy(), w2[idx].numpy(), u[idx].numpy(), dw[idx].numpy()
        e1 = np.mean([r_norm(B @ A @ x) / (op_R(B) * op_R(A) * r_norm(x)) for x in U])
        e2 = np.mean([r_norm(D @ A @ x) / (op_R(D) * r_norm(A @ x)) for x in U])
        assert got[idx].item() == pytest.approx(e1, rel=1e-12)
        assert got2[idx].item() == pytest.approx(e2, rel=1e-12)
    # rank-one update aligned with its input: exactly 1 (Claim E.2)
    a, v = rnd(5), rnd(7)
    assert ms.claim_e2(torch.outer(a, v)[None], v[None, None]).item() == pytest.approx(1.0, abs=1e-12)


def test_g3_against_per_sample_autograd():
    """Per-sample SGD updates from separate backward passes, then the ratio of Assumption G.3 in numpy."""
    B, n_in, n_out, eta = 5, 4, 3, 0.1
    W = rnd(n_out, n_in).requires_grad_(True)
    V = rnd(2, n_out)
    x, y = rnd(B, n_in), rnd(B, 2)

    def sample_loss(i):
        return ((V @ torch.tanh(W @ x[i]) - y[i]) ** 2).sum()

    per = [-eta * torch.autograd.grad(sample_loss(i), W)[0].numpy() for i in range(B)]
    dW = sum(per) / B
    X = x.numpy()
    expect = np.mean([r_norm(per[i] @ X[i] / B) / r_norm(dW @ X[i]) for i in range(B)])
    z = x @ W.T
    loss = ((torch.tanh(z) @ V.T - y) ** 2).sum(-1).mean()
    delta = torch.autograd.grad(loss, z)[0]
    assert ms.g3_alignment(x[None], delta[None]).item() == pytest.approx(expect, rel=1e-10)


def test_power_iteration_converges_to_exact():
    w = rnd(3, 6, 4)
    it = ms.PowerIteration(torch.ones(3, 4, dtype=torch.float64))
    for _ in range(300):
        est = it.step(w)
    torch.testing.assert_close(est, ms.sigma_max(w), rtol=1e-10, atol=0)
    assert (est <= ms.sigma_max(w) * (1 + 1e-12)).all()


def _run(**kw):
    model = kw.pop("model", ModelConfig(width=6, depth=2, k=2, d_in=4, d_out=1, bias=True))
    base = kw.pop("base", BaseHP(eta=0.01, sigma2=1.0, n_base=1, L_base=1))
    return RunConfig(model=model, optim=OptimConfig(name=kw.pop("opt", "sgd")), base=base,
                     dtype="float64", **{"steps": 6, "batch_size": 4, **kw})


def test_engine_records_match_direct_computation():
    run = _run(measure_at=(0, 1, 6), measurements=("loss", "test_loss", "w_rms", "dw_rms", "dw_cum_rms", "sigma1",
                                                   "sigma1_pi", "spectrum", "w_op", "h_rms", "dh_rms"))
    data = data_for([run])
    (res,) = train_bucket([run], data_source=data)
    recs = res.records
    model, _ = build([run], torch.device("cpu"))  # same init
    w0 = model.block(model.params, "hidden.2", 0, 1).detach().numpy()
    one = lambda **f: select(recs, **f)[0].value  # noqa: E731
    assert one(step=0, layer="block2.2", quantity="w_rms") == pytest.approx(np.sqrt((w0 ** 2).mean()), rel=1e-12)
    s = np.linalg.svd(w0, compute_uv=False)
    assert one(step=0, layer="block2.2", quantity="sigma1") == pytest.approx(s[0], rel=1e-12)
    assert one(step=0, layer="block2.2", quantity="w_op") == pytest.approx(op_R(w0), rel=1e-12)
    spec = sorted(select(recs, step=0, layer="block2.2", quantity="spectrum"), key=lambda r: r.index)
    np.testing.assert_allclose([r.value for r in spec], s, rtol=1e-12)
    # single-step ΔW at 0 is the cumulative change at 1
    for layer in ("input", "block1.1", "output", "block1.bias2"):
        assert one(step=0, layer=layer, quantity="dw_rms") == pytest.approx(
            one(step=1, layer=layer, quantity="dw_cum_rms"), rel=1e-12)
    # features at step 0 from a direct forward of the initial model on batch 0
    x, y = data.train_batch(0)
    out, cap = model.forward(model.params, x, capture=True)
    h1 = cap.features[1][0].detach().numpy()
    assert one(step=0, layer="h1", quantity="h_rms") == pytest.approx(np.mean([r_norm(v) for v in h1]), rel=1e-12)
    assert one(step=0, layer="model", quantity="loss") == pytest.approx(per_run_loss("mse", out, y).item(), rel=1e-12)
    xt, yt = data.test_set()
    assert one(step=0, layer="model", quantity="test_loss") == pytest.approx(
        per_run_loss("mse", model.forward(model.params, xt)[0], yt).item(), rel=1e-12)
    # warm-started power iteration tracks the exact σ₁ while the weights move slowly
    assert one(step=6, layer="block2.2", quantity="sigma1_pi") == pytest.approx(
        one(step=6, layer="block2.2", quantity="sigma1"), rel=1e-3)
    assert len(select(recs, quantity="loss")) == 7 and len(select(recs, quantity="sigma1_pi", layer="input")) == 7


@pytest.mark.parametrize("activation", ["identity", "relu"])
def test_claim_e2_is_one_for_batch1_gd(activation):
    model = ModelConfig(width=8, depth=3, k=2, d_in=5, d_out=1, activation=activation, hidden_ratio=1.5)
    run = _run(model=model, batch_size=1, measure_at=(0, 3), measurements=("claim_e2", "claim_e1"))
    (res,) = train_bucket([run], data_source=data_for([run]))
    e2 = select(res.records, quantity="claim_e2")
    assert len(e2) == 6 and all(abs(r.value - 1.0) < 1e-6 for r in e2)
    assert all(0 < r.value <= 1 + 1e-12 for r in select(res.records, quantity="claim_e1"))


def test_measure_layers_filter_and_steady_state():
    run = _run(opt="adamw", steps=20, measure_at=tuple(range(0, 21, 2)), measurements=("sigma1", "w_rms"),
               measure_layers=("block1.1", "block2.1", "model"))
    (res,) = train_bucket([run], data_source=data_for([run]))
    assert {r.layer for r in res.records} == {"block1.1", "block2.1", "model"}
    out = ms.steady_state(res.records, run)
    s = {st: np.mean([r.value for r in select(res.records, quantity="sigma1", step=st)]) for st in (18, 20)}
    assert out["sigma1_rel_change"] == pytest.approx(abs(s[20] - s[18]) / s[20], rel=1e-12)
    from synthetic.optim import run_hparams
    hp = run_hparams(run)["hidden"]
    assert out["timescales"] == pytest.approx(20 * hp.lr * hp.wd)
    fake = [Record("r", t, "block1.1", "w_rms", 0, 1.0 + (t >= 90) * 0.1) for t in range(0, 101, 10)]
    assert ms.steady_state(fake, run)["w_rms_rel_change"] == pytest.approx(0.0)


UPDATE_QUANTITIES = ("dw_rel", "g1_weight_cum", "dw_cum_rel", "dh_rel", "g1_feature_cum", "dh_cum_rel")


def test_update_sizes_and_cumulative_ratios_against_torch_sgd():
    """Figs 3–4's update sizes and cumulative ratios: the same model trained step by step with torch.optim.SGD (one
    param group per weight group, lr from theory.bridge), every norm then computed from its definition in numpy —
    ΔW single step W_{t+1} − W_t, cumulative W_t − W_0, Δh on the step's batch x_t (a fresh batch every step)."""
    from synthetic.models import group_role
    from synthetic.optim import run_hparams

    model_cfg = ModelConfig(width=12, depth=2, k=2, d_in=5, d_out=1, activation="relu", act_after_input=True,
                            act_after_branch=True)
    run = _run(model=model_cfg, base=BaseHP(eta=0.05, sigma2=2.0, n_base=1, L_base=1), steps=5, batch_size=6,
               measure_at=(0, 2, 5), measurements=("loss", "g1_weight", "g1_feature") + UPDATE_QUANTITIES)
    data = data_for([run])
    (res,) = train_bucket([run], data_source=data)
    one = lambda **f: select(res.records, **f)[0].value  # noqa: E731

    model, _ = build([run], torch.device("cpu"))
    params = model.params
    hps = run_hparams(run)
    sgd = torch.optim.SGD([{"params": [p], "lr": hps[group_role(g)].lr} for g, p in params.items()])
    w0 = {g: p.detach().clone() for g, p in params.items()}

    def mats(ws):  # layer name -> numpy matrix
        out = {"input": ws["input"][0].numpy(), "output": ws["output"][0].numpy()}
        for i in (1, 2):
            out.update({f"block{l}.{i}": ws[f"hidden.{i}"][model.layout.row(0, l - 1)].numpy() for l in (1, 2)})
        return out

    def feats(ws, x):  # layer name -> [B, d] numpy features (residual stream and map outputs)
        with torch.no_grad():
            _, cap = model.forward(ws, x, capture=True)
        out = {f"h{l}": cap.features[l][0].numpy() for l in range(3)} | {"out": cap.features[3][0].numpy()}
        out["input"] = cap.outputs["input"][0][0].numpy()
        for i in (1, 2):
            out.update({f"block{l}.{i}": cap.outputs[f"hidden.{i}"][l - 1][0].numpy() for l in (1, 2)})
        return out

    def g1f(h, h1):
        den = [r_norm(h[b]) + r_norm(h1[b] - h[b]) for b in range(len(h))]  # 0/0 samples (dead ReLU) are skipped
        return np.mean([r_norm(h1[b]) / den[b] for b in range(len(h)) if den[b] > 0])

    def relf(h, h1):
        return np.mean([r_norm(h1[b] - h[b]) / r_norm(h[b]) for b in range(len(h)) if r_norm(h[b]) > 0])

    checked = 0
    for t in range(6):
        x, y = data.train_batch(t)
        w_t = {g: p.detach().clone() for g, p in params.items()}
        h_t, h_init = feats(w_t, x), feats(w0, x)
        sgd.zero_grad()
        per_run_loss("mse", model.forward(params, x)[0], y).sum().backward()
        sgd.step()
        if t not in run.measure_at:
            continue
        w_next = {g: p.detach().clone() for g, p in params.items()}
        h_next = feats(w_next, x)
        W, W1, W0 = mats(w_t), mats(w_next), mats(w0)
        for layer in W:
            assert one(step=t, layer=layer, quantity="dw_rel") == pytest.approx(
                op_R(W1[layer] - W[layer]) / op_R(W[layer]), rel=1e-9)
            assert one(step=t, layer=layer, quantity="g1_weight_cum") == pytest.approx(
                op_R(W[layer]) / (op_R(W0[layer]) + op_R(W[layer] - W0[layer])), rel=1e-9)
            if t > 0:
                assert one(step=t, layer=layer, quantity="dw_cum_rel") == pytest.approx(
                    op_R(W[layer] - W0[layer]) / op_R(W0[layer]), rel=1e-9)
        for layer in h_t:
            assert one(step=t, layer=layer, quantity="dh_rel") == pytest.approx(relf(h_t[layer], h_next[layer]), rel=1e-9)
            assert one(step=t, layer=layer, quantity="g1_feature_cum") == pytest.approx(
                g1f(h_init[layer], h_t[layer]), rel=1e-9)
            assert one(step=t, layer=layer, quantity="dh_cum_rel") == pytest.approx(
                relf(h_init[layer], h_t[layer]), rel=1e-9, abs=1e-15)
            checked += 1
    assert checked == 3 * 9
    # at t = 0 the cumulative update is zero: ratio exactly 1, size 0; at T it is a real update
    for layer in ("input", "block2.2", "h2", "out"):
        assert one(step=0, layer=layer, quantity="g1_feature_cum") == 1.0
        assert one(step=0, layer=layer, quantity="dh_cum_rel") == 0.0
        assert one(step=5, layer=layer, quantity="dh_cum_rel") > one(step=0, layer=layer, quantity="dh_rel") * 1e-3 > 0
    assert one(step=0, layer="block2.1", quantity="dw_cum_rel") == 0.0
    assert one(step=0, layer="block2.1", quantity="g1_weight_cum") == 1.0


def test_only_runs_asking_for_cumulative_quantities_keep_the_initial_weights():
    model, _ = build([_run()], torch.device("cpu"))
    plain = ms.Measurer(model, ["loss", "g1_weight", "dw_rel", "g1_feature", "dh_rel"], [0], 2, [0])
    assert plain.w0 is None and not plain.need_init_forward
    weights = ms.Measurer(model, ["loss", "g1_weight_cum"], [0], 2, [0])
    assert weights.w0 is not None and not weights.need_init_forward
    feats = ms.Measurer(model, ["loss", "dh_cum_rel"], [0], 2, [0])
    assert feats.w0 is not None and feats.need_init_forward
    assert all(torch.equal(feats.w0[g], p) and feats.w0[g].data_ptr() != p.data_ptr() for g, p in model.params.items())
