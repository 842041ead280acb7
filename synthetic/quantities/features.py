"""Quantities of the features on the step's batch x_t: the residual stream (h0..hL, out) and each map's output
φ(W u + b) (under the map's layer name). Per sample, then averaged over the batch.

- h_rms ‖h‖_R of h = h(x_t; W_t).
- dh_rms ‖Δh‖_R, g1_feature ‖h+Δh‖_R / (‖h‖_R + ‖Δh‖_R), dh_rel ‖Δh‖_R / ‖h‖_R, with h+Δh = h(x_t; W_{t+1}).
- the cumulative variants g1_feature_cum and dh_cum_rel take h = h(x_t; W_0) and h+Δh = h(x_t; W_t) (one extra
  forward of the initial weights at a measurement step).
"""

from __future__ import annotations

from synthetic.quantities.base import Need, Phase, Quantity, Scope, register_quantity
from synthetic.quantities.formulas import feature_rms, g1_ratio_feature, rel_update_feature

INIT = frozenset({Need.W0, Need.INIT_FORWARD})
NEXT = frozenset({Need.POST_FORWARD})

for q in (
    Quantity("h_rms", Phase.PRE, Scope.FEATURES, lambda v: feature_rms(v.h)),
    Quantity("g1_feature_cum", Phase.PRE, Scope.FEATURES, lambda v: g1_ratio_feature(v.h_init, v.h), INIT),
    Quantity("dh_cum_rel", Phase.PRE, Scope.FEATURES, lambda v: rel_update_feature(v.h_init, v.h), INIT),
    Quantity("dh_rms", Phase.POST, Scope.FEATURES, lambda v: feature_rms(v.h_next - v.h), NEXT),
    Quantity("g1_feature", Phase.POST, Scope.FEATURES, lambda v: g1_ratio_feature(v.h, v.h_next), NEXT),
    Quantity("dh_rel", Phase.POST, Scope.FEATURES, lambda v: rel_update_feature(v.h, v.h_next), NEXT),
):
    register_quantity(q)
