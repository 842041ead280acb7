"""The measurement registry: a quantity is one registration (name, when it is measured, over what, what it needs, a
function). synthetic.measure's `Measurer` iterates over the registry; `RunConfig.validate` accepts exactly its names.

`fn` receives the view of its scope (synthetic.quantities.views): a `ParamStep` for PARAMETERS and MATRICES, a
`FeatureStep` for FEATURES, a `ModelStep` for BLOCKS and MODEL; it returns the stacked value, [M, …] for a single
matrix or the model, [M, L, …] for a hidden group or the blocks, with any trailing index last (a spectrum).

Record order: the Measurer measures a phase as model, then per parameter group (its own quantities, then the
one-forward FEATURES quantities of the map's output), then the residual stream, then blocks, then the FEATURES
quantities that compare two forwards; within each, quantities come in registration order (pinned by
tests/golden/engine_records.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Iterable, KeysView, Sequence

from torch import Tensor

from synthetic.errors import ConfigError


class Phase(Enum):
    """When a quantity is measured."""

    PRE = "pre"
    """At a measurement step t, before the update: W_t, and the forward of W_t on the step's batch x_t."""
    POST = "post"
    """At a measurement step t, after the update: W_t (Need.SNAPSHOT), W_{t+1}, and forwards on the same x_t."""
    EVERY_STEP = "every_step"
    """At every step (a buffer of one row per step)."""


class Scope(Enum):
    """What a quantity has one value for (the layer names of its records, synthetic.records)."""

    PARAMETERS = "parameters"
    """Every parameter group: weight matrices and biases."""
    MATRICES = "matrices"
    """Weight matrices only (one value per map)."""
    FEATURES = "features"
    """The residual stream h0..hL, the output `out`, and each map's output (under the map's layer name)."""
    BLOCKS = "blocks"
    """One value per residual block (block1..blockL)."""
    MODEL = "model"
    """One value per run (layer "model")."""


class Need(Enum):
    """What the engine must provide beyond W_t and the forward of W_t on x_t."""

    SNAPSHOT = "snapshot"
    """A copy of W_t taken before the update (POST: ΔW = W_{t+1} − W_t)."""
    POST_FORWARD = "post_forward"
    """The forward of W_{t+1} on x_t (POST: Δh)."""
    W0 = "w0"
    """A device copy of the initial weights W_0."""
    INIT_FORWARD = "init_forward"
    """The forward of W_0 on x_t (PRE: h(x_t; W_0)); keeps W_0 like Need.W0."""
    ZGRAD = "zgrad"
    """Per-sample gradients of the batch-mean loss with respect to every map's pre-activation (PRE)."""
    TEST_SET = "test_set"
    """The loss of W_t on the held-out set (PRE)."""


_PHASE_NEEDS = {Phase.PRE: {Need.W0, Need.INIT_FORWARD, Need.ZGRAD, Need.TEST_SET},
                Phase.POST: {Need.W0, Need.SNAPSHOT, Need.POST_FORWARD},
                Phase.EVERY_STEP: set()}
"""The needs the engine can serve in each phase."""

SECOND_FORWARD = frozenset({Need.INIT_FORWARD, Need.POST_FORWARD})
"""FEATURES quantities needing one of these compare two forwards on x_t (h and h_init, or h and h_next)."""


@dataclass(frozen=True)
class Quantity:
    """One measured quantity. `state` (EVERY_STEP over parameter groups only) builds a per-group state once, from
    (group key, the stacked parameter [M, …], the run seeds); `fn` reads it as `view.state`."""

    name: str
    phase: Phase
    scope: Scope
    fn: Callable[[Any], Tensor]
    needs: frozenset[Need] = frozenset()
    state: Callable[[str, Tensor, Sequence[int]], Any] | None = None
    version: int = 1
    """Raised whenever the quantity's numbers change; a run measuring a quantity past version 1 has that in its run id
    (`synthetic.engine.run_id`), so its cached records are never served after the change. ENGINE_VERSION covers the
    training itself."""

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ConfigError("a quantity needs a non-empty name")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ConfigError(f"quantity {self.name!r}: version must be an integer >= 1")
        if not isinstance(self.phase, Phase) or not isinstance(self.scope, Scope):
            raise ConfigError(f"quantity {self.name!r}: phase must be a Phase and scope a Scope")
        if not isinstance(self.needs, frozenset) or not all(isinstance(n, Need) for n in self.needs):
            raise ConfigError(f"quantity {self.name!r}: needs must be a frozenset of Need")
        unserved = self.needs - _PHASE_NEEDS[self.phase]
        if unserved:
            raise ConfigError(f"quantity {self.name!r}: {', '.join(sorted(n.value for n in unserved))} "
                              f"cannot be served in phase {self.phase.value}")
        if self.scope is Scope.FEATURES and self.phase is Phase.POST and Need.POST_FORWARD not in self.needs:
            raise ConfigError(f"quantity {self.name!r}: a POST feature quantity needs Need.POST_FORWARD")
        if self.phase is Phase.EVERY_STEP and self.scope not in (Scope.PARAMETERS, Scope.MATRICES, Scope.MODEL):
            raise ConfigError(f"quantity {self.name!r}: every-step quantities are per parameter group or per model")
        if self.state is not None and not (self.phase is Phase.EVERY_STEP and self.scope is not Scope.MODEL):
            raise ConfigError(f"quantity {self.name!r}: only every-step parameter quantities keep a state")

    @property
    def second_forward(self) -> bool:
        """A FEATURES quantity comparing two forwards on x_t (measured once the second capture is at hand)."""
        return bool(self.needs & SECOND_FORWARD)


_QUANTITIES: dict[str, Quantity] = {}

QUANTITY_NAMES: KeysView[str] = _QUANTITIES.keys()
"""Live view of the registered names, in registration order (what `RunConfig.validate` accepts)."""


def register_quantity(quantity: Quantity) -> Quantity:
    """Register (or replace, keeping its place) a quantity under `quantity.name`; returns it."""
    if not isinstance(quantity, Quantity):
        raise ConfigError(f"register_quantity takes a Quantity (got {type(quantity).__name__})")
    _QUANTITIES[quantity.name] = quantity
    return quantity


def unregister_quantity(name: str) -> None:
    _QUANTITIES.pop(name, None)


def get_quantity(name: str) -> Quantity:
    try:
        return _QUANTITIES[name]
    except KeyError:
        raise ConfigError(f"unknown measurement {name!r}; expected one of {', '.join(_QUANTITIES)}") from None


def registered_quantities() -> tuple[Quantity, ...]:
    """Every registered quantity, in registration order."""
    return tuple(_QUANTITIES.values())


class _Registration:
    """Quantities registered for the duration of a `with` block (tests, worked examples)."""

    def __init__(self, quantities: tuple[Quantity, ...]) -> None:
        self.quantities = quantities

    def __enter__(self) -> "_Registration":
        self._saved = dict(_QUANTITIES)
        for q in self.quantities:
            register_quantity(q)
        return self

    def __exit__(self, *exc) -> None:
        _QUANTITIES.clear()
        _QUANTITIES.update(self._saved)


def registered(*quantities: Quantity) -> _Registration:
    """Context manager: `with registered(Quantity(...)):` registers quantities and restores the registry on exit (a
    replaced quantity included, in its place)."""
    return _Registration(tuple(quantities))


def union_needs(quantities: Iterable[Quantity]) -> frozenset[Need]:
    return frozenset().union(*(q.needs for q in quantities))
