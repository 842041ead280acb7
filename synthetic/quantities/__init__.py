"""Registered measurement quantities (one module per family) and the registry they live in.

See synthetic.quantities.base for `Quantity`, `Phase`, `Scope`, `Need` and `register_quantity`, and
synthetic.quantities.views for what a quantity's function reads. Registration order is record order within each
part of a step (base.py), so the families are imported in a fixed order."""

from __future__ import annotations

from synthetic.quantities.base import (QUANTITY_NAMES, Need, Phase, Quantity, Scope, get_quantity, register_quantity,
                                       registered, registered_quantities, unregister_quantity)
from synthetic.quantities import weights, maps, features, blocks, model  # noqa: F401,E402  (registers, in order)

__all__ = ["QUANTITY_NAMES", "Need", "Phase", "Quantity", "Scope", "get_quantity", "register_quantity", "registered",
           "registered_quantities", "unregister_quantity"]
