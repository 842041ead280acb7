"""Quantities of the weights, per parameter group (layer names: records.py).

- matrices and biases: w_rms (entry RMS of W_t), dw_cum_rms (of W_t − W_0), dw_rms (of the single step
  ΔW = W_{t+1} − W_t, weight decay included).
- matrices: w_op, dw_cum_op, dw_op (‖·‖_R = √(fan_in/fan_out)·σ_max); g1_weight ‖W+ΔW‖_R / (‖W‖_R + ‖ΔW‖_R) with
  dw_rel ‖ΔW‖_R / ‖W‖_R (the size of the update it tests), and their cumulative variants g1_weight_cum
  ‖W_t‖_R / (‖W_0‖_R + ‖W_t − W_0‖_R) and dw_cum_rel ‖W_t − W_0‖_R / ‖W_0‖_R; sigma1 (exact, svdvals), spectrum (all
  singular values, descending, record index i), sigma1_pi (warm-started power iteration, one iteration every step).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from synthetic.quantities.base import Need, Phase, Quantity, Scope, register_quantity
from synthetic.quantities.formulas import PowerIteration, entry_rms, finite

PRE, POST, EVERY = Phase.PRE, Phase.POST, Phase.EVERY_STEP
PARAMS, MATRICES = Scope.PARAMETERS, Scope.MATRICES
W0, SNAPSHOT = frozenset({Need.W0}), frozenset({Need.SNAPSHOT})


def power_iteration(group: str, p: Tensor, seeds: Sequence[int]) -> PowerIteration:
    """Start vectors drawn from each run's seed (float64 normals, then cast), one per matrix of the group."""
    v0 = torch.stack([torch.randn(p.shape[1:-2] + p.shape[-1:], generator=torch.Generator().manual_seed(int(s)),
                                  dtype=torch.float64) for s in seeds])
    return PowerIteration(v0.to(device=p.device, dtype=p.dtype))


for q in (
    # measured before the update (W_t)
    Quantity("w_rms", PRE, PARAMS, lambda v: entry_rms(v.w, v.is_matrix)),
    Quantity("dw_cum_rms", PRE, PARAMS, lambda v: entry_rms(v.w - v.w0, v.is_matrix), W0),
    Quantity("w_op", PRE, MATRICES, lambda v: v.w_op),
    Quantity("dw_cum_op", PRE, MATRICES, lambda v: v.dw_cum_op, W0),
    Quantity("g1_weight_cum", PRE, MATRICES, lambda v: v.w_op / (v.w0_op + v.dw_cum_op), W0),
    Quantity("dw_cum_rel", PRE, MATRICES, lambda v: v.dw_cum_op / v.w0_op, W0),
    Quantity("sigma1", PRE, MATRICES, lambda v: v.singular_values[..., 0]),
    Quantity("spectrum", PRE, MATRICES, lambda v: v.singular_values),
    # every step
    Quantity("sigma1_pi", EVERY, MATRICES, lambda v: v.state.step(finite(v.w)), state=power_iteration, version=2),
    # after the update (W_t snapshot, W_{t+1})
    Quantity("dw_rms", POST, PARAMS, lambda v: entry_rms(v.w_next - v.w, v.is_matrix), SNAPSHOT),
    Quantity("dw_op", POST, MATRICES, lambda v: v.dw_op, SNAPSHOT),
    Quantity("g1_weight", POST, MATRICES, lambda v: v.w_next_op / (v.w_op + v.dw_op), SNAPSHOT),
    Quantity("dw_rel", POST, MATRICES, lambda v: v.dw_op / v.w_op, SNAPSHOT),
):
    register_quantity(q)
