"""Quantities of each map z = W u + b, o = φ(z) in the forward of W_t on x_t (per weight matrix):

- gain ‖W u‖_R / ‖u‖_R (u the map's input, bias excluded), g2_activation ‖φ(z)‖_R / ‖z‖_R (φ the activation after
  the map, identity where none), g3_alignment (Assumption G.3; see synthetic.quantities.formulas.g3_alignment).
Each is averaged over the samples of the step's batch.
"""

from __future__ import annotations

from synthetic.quantities.base import Need, Phase, Quantity, Scope, register_quantity
from synthetic.quantities.formulas import activation_ratio, g3_alignment, gain

for q in (
    Quantity("gain", Phase.PRE, Scope.MATRICES, lambda v: gain(v.w, v.u), version=2),
    Quantity("g2_activation", Phase.PRE, Scope.MATRICES, lambda v: activation_ratio(v.z, v.o)),
    Quantity("g3_alignment", Phase.PRE, Scope.MATRICES, lambda v: g3_alignment(v.u, v.zgrad), frozenset({Need.ZGRAD}),
             version=2),
):
    register_quantity(q)
"""gain and g3_alignment 2: a lone run's products go through the batched kernel (`synthetic.runwise.matmul`), so a
run alone measures what it measures in a bucket (a matrix-vector product, d_out 1, rounded otherwise alone)."""
