"""Measurements on stacked tensors, and the `Measurer` the engine calls at measurement steps.

The quantities are registrations (synthetic.quantities: name, phase, scope, needs, function; one module per family,
where each is defined); their formulas live in synthetic.quantities.formulas and are re-exported here. Conventions
(Zheng et al. §2.1):

- Vector RMS norm ‖v‖_R = ‖v‖_2 / sqrt(dim v). Features are measured per sample and then averaged over the samples
  of the step's training batch; a ratio of feature norms is formed per sample first and then averaged (samples where
  the denominator is 0 are skipped).
- Matrix norm ‖W‖_R = sqrt(fan_in / fan_out) · σ_max(W) (the RMS→RMS operator norm); entry RMS ‖W‖_F / sqrt(#entries).
- ΔW at step t is the single step W_{t+1} − W_t (the update the optimizer makes at t, weight decay included);
  `dw_cum_*` is W_t − W_0. Δh at t is h(x_t; W_{t+1}) − h(x_t; W_t) on the same batch x_t.
- What the engine provides follows from the requested quantities' needs: only runs asking for a quantity that needs
  W_0 keep a copy of it on the device, only those needing Δh run the updated weights forward again, and so on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from synthetic.groups import Group
from synthetic.quantities import Need, Phase, Quantity, Scope, get_quantity, registered_quantities
from synthetic.quantities.base import union_needs
from synthetic.quantities.formulas import (PowerIteration, activation_ratio, claim_e1, claim_e2, entry_rms,  # noqa: F401
                                           feature_rms, finite, g1_ratio_feature, g1_ratio_weight, g3_alignment,
                                           gain, op_norm_R, rel_update_feature, rel_update_weight, sample_mean,
                                           sigma_max, singular_values, vec_rms)
from synthetic.quantities.views import FeatureStep, ModelStep, ParamStep
from synthetic.records import Record, block_names

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

RESIDUAL_STREAM = ("features", "out")
"""FEATURES keys that are not parameter groups: the residual stream h0..hL and the network output."""

PER_LAYER_BUFFERS = {"features": True, "blocks": True, "out": False, "model": False}
"""Measurement buffers that are not parameter groups, and whether they already hold one value per layer: the residual
stream h0..hL, block-level quantities (claim_e1/e2), the network output and run-level quantities."""


def _as_layers(group: str, v: Tensor) -> Tensor:
    """[M, ...] values of a single-matrix group -> [M, 1, ...]; hidden groups are already [M, L, ...]."""
    per_layer = PER_LAYER_BUFFERS.get(group)
    if per_layer is None:
        per_layer = Group.of(group).stacked_over_blocks
    return v if per_layer else v.unsqueeze(1)


@dataclass(frozen=True)
class _PhasePlan:
    """The requested quantities of one phase, in the order a phase measures them: run-level, per parameter group
    (followed by the one-forward FEATURES quantities of the group's map outputs), the residual stream, blocks, then
    the FEATURES quantities that compare two forwards (residual stream first, then map outputs). Registration order
    within each."""

    model: tuple[Quantity, ...]
    params: tuple[Quantity, ...]
    features: tuple[Quantity, ...]
    blocks: tuple[Quantity, ...]
    pairs: tuple[Quantity, ...]

    @classmethod
    def of(cls, quantities: Sequence[Quantity], phase: Phase) -> "_PhasePlan":
        qs = [q for q in quantities if q.phase is phase]
        feats = [q for q in qs if q.scope is Scope.FEATURES]
        return cls(model=tuple(q for q in qs if q.scope is Scope.MODEL),
                   params=tuple(q for q in qs if q.scope in (Scope.PARAMETERS, Scope.MATRICES)),
                   features=tuple(q for q in feats if not q.second_forward),
                   blocks=tuple(q for q in qs if q.scope is Scope.BLOCKS),
                   pairs=tuple(q for q in feats if q.second_forward))


class Measurer:
    """Device-side measurement buffers for one bucket; `records()` copies them to the host once.

    The engine calls `loss_step` every step when `needs_loss_step` (every-step quantities of the model other than the
    loss, which the engine writes into `loss_buffer` itself when it owns it), `pi_step` every step when `pi` is
    non-empty (every-step quantities of the weights, such as sigma1_pi), `pre` at a measurement step before the update (W_t, the step's capture and
    pre-activation gradients), and `post` after it (W_t snapshot, W_{t+1}, and the capture of W_{t+1} on the same
    batch). The `need_*` flags say what the engine must provide; they follow from the requested quantities' needs.
    `loss_buffer` (optional, [n_iter, M]): a view the engine owns, used as `self.loss` instead of a buffer of its own."""

    def __init__(self, model, quantities: Sequence[str], measure_at: Sequence[int], n_iter: int,
                 seeds: Sequence[int], *, loss_buffer: Tensor | None = None) -> None:
        self.model = model
        self.cfg = model.cfg
        self.q = set(quantities)
        for name in sorted(self.q):
            get_quantity(name)  # one clear line for an unknown name
        self.quantities = tuple(q for q in registered_quantities() if q.name in self.q)
        self.plans = {phase: _PhasePlan.of(self.quantities, phase) for phase in (Phase.PRE, Phase.POST)}
        self.measure_at = tuple(sorted(set(measure_at)))
        self.index = {t: j for j, t in enumerate(self.measure_at)}
        self.n_iter = n_iter
        M, dev, dt = model.M, model.device, model.dtype
        self._external_loss = loss_buffer is not None
        if loss_buffer is None:
            loss_buffer = torch.full((n_iter, M), math.nan, dtype=dt, device=dev)
        elif tuple(loss_buffer.shape) != (n_iter, M):
            raise ValueError(f"loss_buffer must have shape {(n_iter, M)} (got {tuple(loss_buffer.shape)})")
        self.loss = loss_buffer
        self.bufs: dict[tuple[str, str], Tensor] = {}
        """(quantity, key) -> [measurement steps, M, layers, …], in the order first measured (= record order)."""
        self.step_bufs: dict[tuple[str, str], Tensor] = {}
        """(quantity, key) -> [n_iter, M, layers] of the every-step quantities, loss first."""
        if "loss" in self.q:
            self.step_bufs[("loss", "model")] = self.loss.unsqueeze(-1)
        needs = union_needs(self.quantities)
        self.need_zgrad = Need.ZGRAD in needs
        self.need_snapshot = Need.SNAPSHOT in needs
        self.need_post_forward = Need.POST_FORWARD in needs
        self.need_test = Need.TEST_SET in needs
        self.need_init_forward = Need.INIT_FORWARD in needs
        self.weight_groups = [g for g in model.params if not Group.of(g).is_bias]
        self.bias_groups = [g for g in model.params if g not in self.weight_groups]
        self.w0 = ({g: p.detach().clone() for g, p in model.params.items()}
                   if needs & {Need.W0, Need.INIT_FORWARD} else None)
        self._run_memo: dict[str, Tensor] = {}
        """‖W_0‖_R per weight group, computed once (the denominators of the cumulative weight quantities)."""
        every = [q for q in self.quantities if q.phase is Phase.EVERY_STEP]
        self._every_model = tuple(q for q in every if q.scope is Scope.MODEL
                                  and not (q.name == "loss" and self._external_loss))
        self.needs_loss_step = bool(self._every_model)
        self._every_params = {q.name: q for q in every if q.scope is not Scope.MODEL}
        self.pi: dict[tuple[str, str], object] = {}
        """(quantity, group) -> the state of an every-step quantity of the weights (sigma1_pi: its power iteration)."""
        for g in self.weight_groups + self.bias_groups:
            for q in self._every_params.values():
                if q.scope is Scope.PARAMETERS or g in self.weight_groups:
                    p = model.params[g].detach()
                    self.pi[(q.name, g)] = q.state(g, p, seeds) if q.state is not None else None

    # -- buffers

    def _put(self, bufs: dict[tuple[str, str], Tensor], rows: int, row: int, quantity: str, key: str,
             value: Tensor) -> None:
        value = _as_layers(key, value.detach())
        buf = bufs.get((quantity, key))
        if buf is None:
            buf = torch.full((rows,) + tuple(value.shape), math.nan, dtype=value.dtype, device=value.device)
            bufs[(quantity, key)] = buf
        buf[row].copy_(value)

    def _layer_names(self, key: str) -> list[str]:
        L = self.cfg.depth
        if key == "model":
            return ["model"]
        if key == "blocks":
            return block_names(L)
        if key == "features":
            return [f"h{l}" for l in range(L + 1)]
        if key == "out":
            return ["out"]
        return Group.of(key).layer_names(L)

    def loss_step(self, t: int, loss: Tensor) -> None:
        step = ModelStep(t, self.cfg.depth, self.cfg.k, loss=loss.detach())
        for q in self._every_model:
            self._put(self.step_bufs, self.n_iter, t, q.name, "model", q.fn(step))

    def pi_step(self, t: int, params: dict[str, Tensor]) -> None:
        for (name, g), state in self.pi.items():
            view = ParamStep(g, g in self.weight_groups, params[g].detach(), state=state)
            self._put(self.step_bufs, self.n_iter, t, name, g, self._every_params[name].fn(view))

    # -- measurement steps

    def _measure(self, phase: Phase, step: ModelStep, param_view) -> None:
        plan, t = self.plans[phase], step.t

        def put(q: Quantity, key: str, value: Tensor) -> None:
            self._put(self.bufs, len(self.measure_at), self.index[t], q.name, key, value)

        def features(key: str, qs: tuple[Quantity, ...]) -> None:
            view = FeatureStep(key, step.cap, step.cap_next, step.cap_init)
            for q in qs:
                put(q, key, q.fn(view))

        for q in plan.model:
            put(q, "model", q.fn(step))
        for g in self.weight_groups + self.bias_groups:
            is_matrix = g in self.weight_groups
            if plan.params:
                view = param_view(g, is_matrix)
                for q in plan.params:
                    if is_matrix or q.scope is Scope.PARAMETERS:
                        put(q, g, q.fn(view))
            if is_matrix and plan.features:
                features(g, plan.features)
        if plan.features:
            for key in RESIDUAL_STREAM:
                features(key, plan.features)
        for q in plan.blocks:
            put(q, "blocks", q.fn(step))
        if plan.pairs:
            for key in RESIDUAL_STREAM + tuple(self.weight_groups):
                features(key, plan.pairs)

    @torch.no_grad()
    def pre(self, t: int, params: dict[str, Tensor], cap, zgrads: dict[str, Tensor] | None,
            test_loss: Tensor | None, cap_init=None) -> None:
        """Quantities of W_t and of its forward on x_t (`cap`); `cap_init` is the forward of W_0 on the same x_t
        (needed when `need_init_forward`)."""
        w = {g: p.detach() for g, p in params.items()}
        step = ModelStep(t, self.cfg.depth, self.cfg.k, w=w, cap=cap, cap_init=cap_init, test_loss=test_loss)
        self._measure(Phase.PRE, step, lambda g, is_matrix: ParamStep(
            g, is_matrix, w[g], w0=None if self.w0 is None else self.w0[g], cap=cap,
            zgrad=None if zgrads is None else zgrads.get(g), run_memo=self._run_memo))

    @torch.no_grad()
    def post(self, t: int, w_prev: dict[str, Tensor] | None, params: dict[str, Tensor], cap, cap_next) -> None:
        """Quantities of the update at t: `w_prev` the snapshot of W_t (when `need_snapshot`), `params` W_{t+1},
        `cap_next` the forward of W_{t+1} on x_t (when `need_post_forward`)."""
        w_next = {g: p.detach() for g, p in params.items()}
        step = ModelStep(t, self.cfg.depth, self.cfg.k, w=w_prev, w_next=w_next, cap=cap, cap_next=cap_next)
        self._measure(Phase.POST, step, lambda g, is_matrix: ParamStep(
            g, is_matrix, None if w_prev is None else w_prev[g], w_next=w_next[g],
            w0=None if self.w0 is None else self.w0[g], cap=cap, run_memo=self._run_memo))

    # -- host side

    def records(self, run_ids: Sequence[str], diverged_at: Sequence[int | None], n_done: int,
                measure_layers: Sequence[str] = ()) -> list[list[Record]]:
        """Copy every buffer to the host once and build each run's records (none after its divergence step): the
        every-step quantities (loss first), then the measurement-step buffers in the order they were first filled."""
        keep = set(measure_layers)
        out: list[list[Record]] = [[] for _ in run_ids]
        last = [n_done - 1 if d is None else d for d in diverged_at]
        for bufs, steps in ((self.step_bufs, range(n_done)), (self.bufs, self.measure_at)):
            for (quantity, key), buf in bufs.items():
                vals = buf.cpu().tolist()
                names = self._layer_names(key)
                for j, t in enumerate(steps):
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
