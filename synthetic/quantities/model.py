"""Quantities of the whole run (layer "model"): loss, the training loss of every step (the step's batch, before the
update); test_loss, the loss of W_t on the held-out set at a measurement step."""

from __future__ import annotations

from synthetic.quantities.base import Need, Phase, Quantity, Scope, register_quantity

register_quantity(Quantity("loss", Phase.EVERY_STEP, Scope.MODEL, lambda v: v.loss))
register_quantity(Quantity("test_loss", Phase.PRE, Scope.MODEL, lambda v: v.test_loss, frozenset({Need.TEST_SET})))
