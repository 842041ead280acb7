"""Measurements on stacked tensors, and the `Measurer` the engine calls at measurement steps.

Conventions (Zheng et al. §2.1):

- Vector RMS norm ‖v‖_R = ‖v‖_2 / sqrt(dim v). Features are measured per sample and then averaged over the samples
  of the step's training batch; a ratio of feature norms is formed per sample first and then averaged (samples where
  the denominator is 0 are skipped).
- Matrix norm ‖W‖_R = sqrt(fan_in / fan_out) · σ_max(W) (the RMS→RMS operator norm); entry RMS ‖W‖_F / sqrt(#entries).
- ΔW at step t is the single step W_{t+1} − W_t (the update the optimizer makes at t, weight decay included);
  `dw_cum_*` is W_t − W_0. Δh at t is h(x_t; W_{t+1}) − h(x_t; W_t) on the same batch x_t.

Quantities (layer names in records.py):

- matrices: w_rms, dw_rms, dw_cum_rms (biases too), w_op, dw_op, dw_cum_op (‖·‖_R), sigma1 (exact, svdvals),
  sigma1_pi (power iteration, every step), spectrum (all singular values, descending, index i), g1_weight
  ‖W+ΔW‖_R / (‖W‖_R + ‖ΔW‖_R) with dw_rel ‖ΔW‖_R / ‖W‖_R (the size of the update it tests), and their cumulative
  variants g1_weight_cum ‖W_t‖_R / (‖W_0‖_R + ‖W_t − W_0‖_R) and dw_cum_rel ‖W_t − W_0‖_R / ‖W_0‖_R.
- per map: gain ‖W u‖_R / ‖u‖_R (u the map's input, bias excluded), g2_activation ‖φ(z)‖_R / ‖z‖_R (z = W u + b,
  φ the activation after the map, identity where none), g3_alignment (Assumption G.3; see `g3_alignment`).
- features: h_rms, dh_rms, g1_feature ‖h+Δh‖_R / (‖h‖_R + ‖Δh‖_R), dh_rel ‖Δh‖_R / ‖h‖_R (per sample, then averaged)
  for the residual stream (h0..hL, out) and for each map's output φ(W u + b) (under the map's layer name); the
  cumulative variants g1_feature_cum and dh_cum_rel take h = h(x_t; W_0) and h+Δh = h(x_t; W_t) on the step's batch
  x_t (one extra forward of the initial weights at a measurement step).
- Only runs asking for a cumulative quantity (`CUMULATIVE_QUANTITIES`) keep a copy of W_0 on the device.
- blocks: claim_e1 ‖W_k⋯W_1 u‖_R / (∏‖W_i‖_R ‖u‖_R) (u the block input after the norm; linear product, no φ or bias),
  claim_e2 ‖ΔW_k u_k‖_R / (‖ΔW_k‖_R ‖u_k‖_R) with u_k the input of the block's last map (for k = 2, no bias,
  identity φ this is the paper's ‖ΔW2 W1 h‖_R / (‖ΔW2‖_R ‖W1 h‖_R); exactly 1 for a batch-1 GD step).
- model: loss (every step, training batch before the update), test_loss (measure steps).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from synthetic.groups import Group
from synthetic.records import Record

# ---------------------------------------------------------------- pure functions


def finite(x: Tensor) -> Tensor:
    """x with non-finite entries set to 0 (so a diverged run cannot make a decomposition fail)."""
    return torch.where(torch.isfinite(x), x, torch.zeros((), dtype=x.dtype, device=x.device))


def vec_rms(v: Tensor) -> Tensor:
    """‖v‖_R = ‖v‖_2 / sqrt(dim) over the last dimension."""
    return torch.linalg.vector_norm(v, dim=-1) / math.sqrt(v.shape[-1])


def entry_rms(w: Tensor, matrix: bool = True) -> Tensor:
    """Entry RMS over the last two dims (matrices) or the last dim (biases)."""
    dims = (-2, -1) if matrix else (-1,)
    n = w.shape[-1] * (w.shape[-2] if matrix else 1)
    return torch.linalg.vector_norm(w, dim=dims) / math.sqrt(n)


def sigma_max(w: Tensor) -> Tensor:
    """Exact largest singular value of each matrix in the last two dims."""
    return torch.linalg.matrix_norm(finite(w), ord=2)


def singular_values(w: Tensor) -> Tensor:
    """All singular values, descending, of each matrix in the last two dims."""
    return torch.linalg.svdvals(finite(w))


def op_norm_R(w: Tensor) -> Tensor:
    """‖W‖_R = sqrt(fan_in / fan_out) σ_max(W) for W [..., fan_out, fan_in]."""
    return math.sqrt(w.shape[-1] / w.shape[-2]) * sigma_max(w)


def sample_mean(ratio: Tensor) -> Tensor:
    """Mean over the sample dimension (last), skipping NaN (0/0) samples."""
    return torch.nanmean(ratio, dim=-1)


def feature_rms(h: Tensor) -> Tensor:
    """Mean over samples of ‖h_b‖_R for h [..., B, d]."""
    return vec_rms(h).mean(-1)


def g1_ratio_feature(h: Tensor, h_next: Tensor) -> Tensor:
    """Mean over samples of ‖h+Δh‖_R / (‖h‖_R + ‖Δh‖_R), with h+Δh = h_next."""
    return sample_mean(vec_rms(h_next) / (vec_rms(h) + vec_rms(h_next - h)))


def g1_ratio_weight(w: Tensor, w_next: Tensor) -> Tensor:
    """‖W+ΔW‖_R / (‖W‖_R + ‖ΔW‖_R), with W+ΔW = w_next."""
    return op_norm_R(w_next) / (op_norm_R(w) + op_norm_R(w_next - w))


def rel_update_weight(w: Tensor, w_next: Tensor) -> Tensor:
    """‖ΔW‖_R / ‖W‖_R, with ΔW = w_next − w: the size of the update that `g1_ratio_weight` tests."""
    return op_norm_R(w_next - w) / op_norm_R(w)


def rel_update_feature(h: Tensor, h_next: Tensor) -> Tensor:
    """Mean over samples of ‖Δh_b‖_R / ‖h_b‖_R, with h+Δh = h_next: the size of the update `g1_ratio_feature` tests.
    Samples with h_b = 0 (a ReLU output that is all zero) are skipped, like the 0/0 samples of the other ratios."""
    den = vec_rms(h)
    return sample_mean(torch.where(den > 0, vec_rms(h_next - h) / den, torch.full_like(den, math.nan)))


def gain(w: Tensor, u: Tensor) -> Tensor:
    """Mean over samples of ‖W u_b‖_R / ‖u_b‖_R; w [..., out, in], u [..., B, in]."""
    return sample_mean(vec_rms(u @ w.mT) / vec_rms(u))


def activation_ratio(z: Tensor, o: Tensor) -> Tensor:
    """Mean over samples of ‖φ(z_b)‖_R / ‖z_b‖_R, with o = φ(z)."""
    return sample_mean(vec_rms(o) / vec_rms(z))


def g3_alignment(u: Tensor, delta: Tensor) -> Tensor:
    """Assumption G.3 for a linear map z = W u + b with per-sample pre-activation gradients `delta`.

    With per-sample gradient g_i = B δ_i u_iᵀ (δ = ∂(batch-mean loss)/∂z, rows δ_i) and batch gradient
    G = Σ_j δ_j u_jᵀ, the SGD updates are ΔW^(i) = −η g_i and ΔW = −η G, and the ratio is
    mean_i ‖(1/B) ΔW^(i) u_i‖_R / ‖ΔW u_i‖_R = mean_i ‖δ_i‖ ‖u_i‖² / ‖Σ_j δ_j (u_j·u_i)‖ (η cancels).
    This is exact for SGD without momentum or weight decay; for other optimizers it is the same gradient ratio."""
    gram = u @ u.mT
    num = torch.linalg.vector_norm(delta, dim=-1) * torch.diagonal(gram, dim1=-2, dim2=-1)
    den = torch.linalg.vector_norm(gram @ delta, dim=-1)
    return sample_mean(num / den)


def claim_e1(ws: Sequence[Tensor], u: Tensor) -> Tensor:
    """Mean over samples of ‖W_k⋯W_1 u_b‖_R / (∏_i ‖W_i‖_R · ‖u_b‖_R); ws in application order."""
    v = u
    denom = vec_rms(u)
    for w in ws:
        v = v @ w.mT
        denom = denom * op_norm_R(w).unsqueeze(-1)
    return sample_mean(vec_rms(v) / denom)


def claim_e2(dw: Tensor, u: Tensor) -> Tensor:
    """Mean over samples of ‖ΔW u_b‖_R / (‖ΔW‖_R ‖u_b‖_R)."""
    return sample_mean(vec_rms(u @ dw.mT) / (op_norm_R(dw).unsqueeze(-1) * vec_rms(u)))


class PowerIteration:
    """Batched power iteration on W [..., out, in] with persistent warm-started right vectors.

    Each `step(w)` does one iteration (two batched matvecs) and returns ‖Wᵀ W v‖ / ‖W v‖ for the unit v before the
    iteration, an estimate that lies between ‖W v‖ and σ_max and is exact once v is the top right singular vector."""

    def __init__(self, v0: Tensor) -> None:
        self.v = v0 / torch.linalg.vector_norm(v0, dim=-1, keepdim=True)

    @torch.no_grad()
    def step(self, w: Tensor) -> Tensor:
        v = self.v
        single = math.prod(w.shape[:-2]) == 1
        if single:  # torch's CPU matmul rounds a lone matrix-vector product differently from a batch of them; a
            # run's numbers must not depend on its bucket, so one matrix goes through the batched kernel (as
            # models._linear does)
            w, v = w.expand(2, *w.shape), v.expand(2, *v.shape)
        tiny = torch.finfo(w.dtype).tiny
        u = (w @ v.unsqueeze(-1)).squeeze(-1)
        wu = (w.mT @ u.unsqueeze(-1)).squeeze(-1)
        nu = torch.linalg.vector_norm(u, dim=-1)
        nwu = torch.linalg.vector_norm(wu, dim=-1)
        v = wu / nwu.clamp_min(tiny).unsqueeze(-1)
        est = nwu / nu.clamp_min(tiny)
        if single:
            v, est = v[0], est[0]
        self.v = v
        return est


# ---------------------------------------------------------------- steady state


def steady_state(records: Sequence[Record], config, window_fraction: float = 0.1) -> dict:
    """AdamW steady-state check for one run: relative change of σ₁ and of weight RMS (averaged over the hidden
    matrices) across the last `window_fraction` of the measured steps (at least two), and the number of
    1/(ηλ) timescales run, steps·η·λ, with the hidden-role η and λ from theory.bridge."""
    from synthetic.optim import run_hparams
    from synthetic.records import matrix_layer_names

    m = config.model
    hidden = set(matrix_layer_names(m.depth, m.k)) - {"input", "output"}
    hp = run_hparams(config)["hidden"]
    out = {"timescales": config.steps * hp.lr * hp.wd,
           "tau_steps": (1.0 / (hp.lr * hp.wd)) if hp.lr * hp.wd > 0 else math.inf}
    for key, names in (("sigma1", ("sigma1", "sigma1_pi")), ("w_rms", ("w_rms",))):
        series: dict[int, list[float]] = {}
        for q in names:
            for r in records:
                if r.quantity == q and r.layer in hidden:
                    series.setdefault(r.step, []).append(r.value)
            if series:
                break
        steps = sorted(series)
        if len(steps) < 2:
            out[f"{key}_rel_change"] = math.nan
            continue
        n = max(2, math.ceil(window_fraction * len(steps)))
        window = steps[-n:]
        first = sum(series[window[0]]) / len(series[window[0]])
        last = sum(series[window[-1]]) / len(series[window[-1]])
        out[f"{key}_rel_change"] = abs(last - first) / abs(last) if last != 0 else math.inf
        out[f"{key}_window"] = (window[0], window[-1])
    return out


# ---------------------------------------------------------------- what the engine calls

WEIGHT_SNAPSHOT_QUANTITIES = {"dw_rms", "dw_op", "g1_weight", "dw_rel", "claim_e2"}
POST_FORWARD_QUANTITIES = {"dh_rms", "g1_feature", "dh_rel"}
INIT_FORWARD_QUANTITIES = {"g1_feature_cum", "dh_cum_rel"}
"""Quantities that need h(x_t; W_0): the engine runs the initial weights forward on the step's batch."""
CUMULATIVE_QUANTITIES = {"dw_cum_rms", "dw_cum_op", "g1_weight_cum", "dw_cum_rel"} | INIT_FORWARD_QUANTITIES
"""Quantities that need W_0: only buckets asking for one of them keep a device copy of the initial weights."""


class _Memo:
    """Values computed at most once: `get(key, compute)`."""

    def __init__(self) -> None:
        self.v: dict[str, Tensor] = {}

    def get(self, key: str, compute) -> Tensor:
        if key not in self.v:
            self.v[key] = compute()
        return self.v[key]


PER_LAYER_BUFFERS = {"features": True, "blocks": True, "out": False, "model": False}
"""Measurement buffers that are not parameter groups, and whether they already hold one value per layer: the residual
stream h0..hL, block-level quantities (claim_e1/e2), the network output and run-level quantities."""


def _as_layers(group: str, v: Tensor) -> Tensor:
    """[M, ...] values of a single-matrix group -> [M, 1, ...]; hidden groups are already [M, L, ...]."""
    per_layer = PER_LAYER_BUFFERS.get(group)
    if per_layer is None:
        per_layer = Group.of(group).stacked_over_blocks
    return v if per_layer else v.unsqueeze(1)


class Measurer:
    """Device-side measurement buffers for one bucket; `records()` copies them to the host once.

    The engine calls `loss_step` every step, `pi_step` every step when sigma1_pi is requested, `pre` at a
    measurement step before the update (W_t, the step's capture and pre-activation gradients), and `post` after it
    (W_t snapshot, W_{t+1}, and the capture of W_{t+1} on the same batch)."""

    def __init__(self, model, quantities: Sequence[str], measure_at: Sequence[int], n_iter: int,
                 seeds: Sequence[int]) -> None:
        self.model = model
        self.cfg = model.cfg
        self.q = set(quantities)
        self.measure_at = tuple(sorted(set(measure_at)))
        self.index = {t: j for j, t in enumerate(self.measure_at)}
        self.n_iter = n_iter
        M, dev, dt = model.M, model.device, model.dtype
        self.bufs: dict[tuple[str, str], Tensor] = {}
        self.names: dict[tuple[str, str], list[str]] = {}
        self.loss = torch.full((n_iter, M), math.nan, dtype=dt, device=dev)
        self.need_zgrad = "g3_alignment" in self.q
        self.need_snapshot = bool(self.q & WEIGHT_SNAPSHOT_QUANTITIES)
        self.need_post_forward = bool(self.q & POST_FORWARD_QUANTITIES)
        self.need_test = "test_loss" in self.q
        self.weight_groups = [g for g in model.params if not Group.of(g).is_bias]
        self.bias_groups = [g for g in model.params if g not in self.weight_groups]
        self.need_init_forward = bool(self.q & INIT_FORWARD_QUANTITIES)
        self.w0 = ({g: p.detach().clone() for g, p in model.params.items()}
                   if self.q & CUMULATIVE_QUANTITIES else None)
        self.w0_op = ({g: op_norm_R(self.w0[g]) for g in self.weight_groups}
                      if self.q & {"g1_weight_cum", "dw_cum_rel"} else None)
        """‖W_0‖_R per weight group, computed once (the denominators of the cumulative weight quantities)."""
        self.pi: dict[str, PowerIteration] = {}
        self.pi_buf: dict[str, Tensor] = {}
        if "sigma1_pi" in self.q:
            from synthetic.models import group_layer_names
            for g in self.weight_groups:
                p = model.params[g]
                v0 = torch.stack([torch.randn(p.shape[1:-2] + p.shape[-1:],
                                              generator=torch.Generator().manual_seed(int(s)), dtype=torch.float64)
                                  for s in seeds]).to(device=dev, dtype=dt)
                self.pi[g] = PowerIteration(v0)
                self.pi_buf[g] = torch.full((n_iter, M, len(group_layer_names(g, self.cfg.depth))), math.nan,
                                            dtype=dt, device=dev)

    # -- buffers

    def _put(self, t: int, quantity: str, group: str, names: list[str], value: Tensor) -> None:
        key = (quantity, group)
        value = _as_layers(group, value.detach())
        buf = self.bufs.get(key)
        if buf is None:
            buf = torch.full((len(self.measure_at),) + tuple(value.shape), math.nan, dtype=value.dtype,
                             device=value.device)
            self.bufs[key], self.names[key] = buf, names
        buf[self.index[t]].copy_(value)

    def _names(self, group: str) -> list[str]:
        from synthetic.models import group_layer_names
        return group_layer_names(group, self.cfg.depth)

    def loss_step(self, t: int, loss: Tensor) -> None:
        self.loss[t].copy_(loss.detach())

    def pi_step(self, t: int, params: dict[str, Tensor]) -> None:
        for g, it in self.pi.items():
            self.pi_buf[g][t].copy_(_as_layers(g, it.step(finite(params[g].detach()))))

    # -- measurement steps

    def _feature_pairs(self, cap, cap_next) -> list[tuple[str, list[str], Tensor, Tensor]]:
        """(group, layer names, h, h+Δh) for the residual stream h0..hL, the output and every map's output."""
        L = self.cfg.depth
        pairs = [("features", [f"h{l}" for l in range(L + 1)], torch.stack(cap.features[:-1], dim=1),
                  torch.stack(cap_next.features[:-1], dim=1)),
                 ("out", ["out"], cap.features[-1], cap_next.features[-1])]
        pairs += [(g, self._names(g), cap.stacked(cap.outputs, g), cap_next.stacked(cap_next.outputs, g))
                  for g in self.weight_groups]
        return pairs

    @torch.no_grad()
    def pre(self, t: int, params: dict[str, Tensor], cap, zgrads: dict[str, Tensor] | None,
            test_loss: Tensor | None, cap_init=None) -> None:
        """Quantities of W_t and of its forward on x_t (`cap`); `cap_init` is the forward of W_0 on the same x_t
        (needed when `need_init_forward`)."""
        q, L = self.q, self.cfg.depth
        if test_loss is not None:
            self._put(t, "test_loss", "model", ["model"], test_loss)
        for g in self.weight_groups + self.bias_groups:
            w = params[g].detach()
            is_matrix = g in self.weight_groups
            names = self._names(g)
            if "w_rms" in q:
                self._put(t, "w_rms", g, names, entry_rms(w, is_matrix))
            if "dw_cum_rms" in q:
                self._put(t, "dw_cum_rms", g, names, entry_rms(w - self.w0[g], is_matrix))
            if not is_matrix:
                continue
            memo = _Memo()  # each operator norm once per matrix and step
            if "w_op" in q:
                self._put(t, "w_op", g, names, memo.get("w", lambda: op_norm_R(w)))
            if "dw_cum_op" in q:
                self._put(t, "dw_cum_op", g, names, memo.get("dw", lambda: op_norm_R(w - self.w0[g])))
            if "g1_weight_cum" in q:  # = g1_ratio_weight(W_0, W_t)
                self._put(t, "g1_weight_cum", g, names, memo.get("w", lambda: op_norm_R(w))
                          / (self.w0_op[g] + memo.get("dw", lambda: op_norm_R(w - self.w0[g]))))
            if "dw_cum_rel" in q:  # = rel_update_weight(W_0, W_t)
                self._put(t, "dw_cum_rel", g, names, memo.get("dw", lambda: op_norm_R(w - self.w0[g])) / self.w0_op[g])
            if "spectrum" in q or "sigma1" in q:
                s = singular_values(w)
                if "sigma1" in q:
                    self._put(t, "sigma1", g, names, s[..., 0])
                if "spectrum" in q:
                    self._put(t, "spectrum", g, names, s)
            u = cap.stacked(cap.inputs, g)
            z = cap.stacked(cap.preacts, g)
            o = cap.stacked(cap.outputs, g)
            if "gain" in q:
                self._put(t, "gain", g, names, gain(w, u))
            if "g2_activation" in q:
                self._put(t, "g2_activation", g, names, activation_ratio(z, o))
            if "g3_alignment" in q:
                self._put(t, "g3_alignment", g, names, g3_alignment(u, zgrads[g]))
            if "h_rms" in q:
                self._put(t, "h_rms", g, names, feature_rms(o))
        if "h_rms" in q:
            self._put(t, "h_rms", "features", [f"h{l}" for l in range(L + 1)],
                      feature_rms(torch.stack(cap.features[:-1], dim=1)))
            self._put(t, "h_rms", "out", ["out"], feature_rms(cap.features[-1]))
        if "claim_e1" in q:
            ws = [params[f"hidden.{i}"].detach() for i in range(1, self.cfg.k + 1)]
            self._put(t, "claim_e1", "blocks", [f"block{l}" for l in range(1, L + 1)],
                      claim_e1(ws, cap.stacked(cap.inputs, "hidden.1")))
        if self.need_init_forward:
            for g, names, h0, h in self._feature_pairs(cap_init, cap):
                if "g1_feature_cum" in q:
                    self._put(t, "g1_feature_cum", g, names, g1_ratio_feature(h0, h))
                if "dh_cum_rel" in q:
                    self._put(t, "dh_cum_rel", g, names, rel_update_feature(h0, h))

    @torch.no_grad()
    def post(self, t: int, w_prev: dict[str, Tensor] | None, params: dict[str, Tensor], cap, cap_next) -> None:
        q, L, k = self.q, self.cfg.depth, self.cfg.k
        if w_prev is not None:
            for g in self.weight_groups + self.bias_groups:
                w, w1 = w_prev[g], params[g].detach()
                is_matrix = g in self.weight_groups
                names = self._names(g)
                if "dw_rms" in q:
                    self._put(t, "dw_rms", g, names, entry_rms(w1 - w, is_matrix))
                if not is_matrix:
                    continue
                memo = _Memo()  # each operator norm once per matrix and step
                if "dw_op" in q:
                    self._put(t, "dw_op", g, names, memo.get("dw", lambda: op_norm_R(w1 - w)))
                if "g1_weight" in q:  # = g1_ratio_weight(w, w1)
                    self._put(t, "g1_weight", g, names, memo.get("w1", lambda: op_norm_R(w1))
                              / (memo.get("w", lambda: op_norm_R(w)) + memo.get("dw", lambda: op_norm_R(w1 - w))))
                if "dw_rel" in q:  # = rel_update_weight(w, w1)
                    self._put(t, "dw_rel", g, names, memo.get("dw", lambda: op_norm_R(w1 - w))
                              / memo.get("w", lambda: op_norm_R(w)))
            if "claim_e2" in q:
                g = f"hidden.{k}"
                self._put(t, "claim_e2", "blocks", [f"block{l}" for l in range(1, L + 1)],
                          claim_e2(params[g].detach() - w_prev[g], cap.stacked(cap.inputs, g)))
        if cap_next is not None:
            for g, names, h, h1 in self._feature_pairs(cap, cap_next):
                if "dh_rms" in q:
                    self._put(t, "dh_rms", g, names, feature_rms(h1 - h))
                if "g1_feature" in q:
                    self._put(t, "g1_feature", g, names, g1_ratio_feature(h, h1))
                if "dh_rel" in q:
                    self._put(t, "dh_rel", g, names, rel_update_feature(h, h1))

    # -- host side

    def records(self, run_ids: Sequence[str], diverged_at: Sequence[int | None], n_done: int,
                measure_layers: Sequence[str] = ()) -> list[list[Record]]:
        """Copy every buffer to the host once and build each run's records (none after its divergence step)."""
        keep = set(measure_layers)
        out: list[list[Record]] = [[] for _ in run_ids]
        last = [n_done - 1 if d is None else d for d in diverged_at]
        if "loss" in self.q:
            loss = self.loss.cpu().tolist()
            for m, rid in enumerate(run_ids):
                if not keep or "model" in keep:
                    out[m].extend(Record(rid, t, "model", "loss", 0, loss[t][m]) for t in range(min(n_done, last[m] + 1)))
        for g, buf in self.pi_buf.items():
            vals = buf.cpu().tolist()
            names = self._names(g)
            for m, rid in enumerate(run_ids):
                for t in range(min(n_done, last[m] + 1)):
                    out[m].extend(Record(rid, t, name, "sigma1_pi", 0, vals[t][m][i])
                                  for i, name in enumerate(names) if not keep or name in keep)
        for (quantity, _), buf in self.bufs.items():
            vals = buf.cpu().tolist()
            names = self.names[(quantity, _)]
            for j, t in enumerate(self.measure_at):
                for m, rid in enumerate(run_ids):
                    if t > last[m]:
                        continue
                    for i, name in enumerate(names):
                        if keep and name not in keep:
                            continue
                        v = vals[j][m][i]
                        if isinstance(v, list):
                            out[m].extend(Record(rid, t, name, quantity, s, x) for s, x in enumerate(v))
                        else:
                            out[m].append(Record(rid, t, name, quantity, 0, v))
        return out
