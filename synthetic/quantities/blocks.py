"""Quantities of each residual block l = 1..L (layer names block1..blockL):

- claim_e1 ‖W_k⋯W_1 u‖_R / (∏‖W_i‖_R ‖u‖_R), u the block input after the norm (linear product, no φ or bias).
- claim_e2 ‖ΔW_k u_k‖_R / (‖ΔW_k‖_R ‖u_k‖_R), u_k the input of the block's last map (for k = 2, no bias, identity φ
  this is the paper's ‖ΔW2 W1 h‖_R / (‖ΔW2‖_R ‖W1 h‖_R); exactly 1 for a batch-1 GD step).
"""

from __future__ import annotations

from synthetic.quantities.base import Need, Phase, Quantity, Scope, register_quantity
from synthetic.quantities.formulas import claim_e1, claim_e2


def _claim_e1(v):
    ws = [v.w[f"hidden.{i}"] for i in range(1, v.k + 1)]
    return claim_e1(ws, v.cap.stacked(v.cap.inputs, "hidden.1"))


def _claim_e2(v):
    g = f"hidden.{v.k}"
    return claim_e2(v.w_next[g] - v.w[g], v.cap.stacked(v.cap.inputs, g))


register_quantity(Quantity("claim_e1", Phase.PRE, Scope.BLOCKS, _claim_e1, version=2))
register_quantity(Quantity("claim_e2", Phase.POST, Scope.BLOCKS, _claim_e2, frozenset({Need.SNAPSHOT}), version=2))
"""claim_e1 and claim_e2 2: a lone run's products go through the batched kernel (`synthetic.runwise.matmul`)."""
