"""What a registered quantity's `fn` reads: one view per scope, built by the Measurer at each step and phase.

Derived values (operator norms, singular values, stacked captures) are cached on the view, so each is computed at
most once per matrix and step however many quantities read it. `cap`, `cap_next`, `cap_init` are
synthetic.models.Capture objects: the forwards of W_t, W_{t+1} and W_0 on the step's batch x_t.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

import torch
from torch import Tensor

from synthetic.quantities.formulas import op_norm_R, singular_values


@dataclass(frozen=True)
class ParamStep:
    """One parameter group (PARAMETERS, MATRICES). PRE: `w` = W_t. POST: `w` = W_t (the snapshot; None without
    Need.SNAPSHOT) and `w_next` = W_{t+1}. EVERY_STEP: `w` = W_t and the group's `state`."""

    group: str
    is_matrix: bool
    w: Tensor | None
    w_next: Tensor | None = None
    w0: Tensor | None = None
    cap: Any = None
    zgrad: Tensor | None = None
    """∂(batch-mean loss)/∂z per sample for the map's pre-activations z (Need.ZGRAD), stacked like `z`."""
    state: Any = None
    run_memo: dict[str, Tensor] = field(default_factory=dict, compare=False)
    """Values fixed for the whole run (‖W_0‖_R), shared by the Measurer across steps."""

    @cached_property
    def w_op(self) -> Tensor:
        """‖W_t‖_R."""
        return op_norm_R(self.w)

    @cached_property
    def w_next_op(self) -> Tensor:
        """‖W_{t+1}‖_R."""
        return op_norm_R(self.w_next)

    @cached_property
    def dw_op(self) -> Tensor:
        """‖W_{t+1} − W_t‖_R."""
        return op_norm_R(self.w_next - self.w)

    @cached_property
    def dw_cum_op(self) -> Tensor:
        """‖W_t − W_0‖_R."""
        return op_norm_R(self.w - self.w0)

    @property
    def w0_op(self) -> Tensor:
        """‖W_0‖_R (computed once per run)."""
        if self.group not in self.run_memo:
            self.run_memo[self.group] = op_norm_R(self.w0)
        return self.run_memo[self.group]

    @cached_property
    def singular_values(self) -> Tensor:
        """All singular values of W_t, descending."""
        return singular_values(self.w)

    @cached_property
    def u(self) -> Tensor:
        """The map's inputs [M, (L,) B, in] in the forward of W_t."""
        return self.cap.stacked(self.cap.inputs, self.group)

    @cached_property
    def z(self) -> Tensor:
        """The map's pre-activations W u + b."""
        return self.cap.stacked(self.cap.preacts, self.group)

    @cached_property
    def o(self) -> Tensor:
        """The map's outputs φ(z)."""
        return self.cap.stacked(self.cap.outputs, self.group)


def features_of(cap: Any, key: str) -> Tensor:
    """Features of a capture: "features" the residual stream h0..hL [M, L+1, B, n], "out" the output [M, B, d_out],
    a weight group its map outputs."""
    if key == "features":
        return torch.stack(cap.features[:-1], dim=1)
    if key == "out":
        return cap.features[-1]
    return cap.stacked(cap.outputs, key)


@dataclass(frozen=True)
class FeatureStep:
    """One set of features (FEATURES) on x_t: `h` = h(x_t; W_t), `h_next` = h(x_t; W_{t+1}) (Need.POST_FORWARD),
    `h_init` = h(x_t; W_0) (Need.INIT_FORWARD)."""

    key: str
    cap: Any
    cap_next: Any = None
    cap_init: Any = None

    @cached_property
    def h(self) -> Tensor:
        return features_of(self.cap, self.key)

    @cached_property
    def h_next(self) -> Tensor:
        return features_of(self.cap_next, self.key)

    @cached_property
    def h_init(self) -> Tensor:
        return features_of(self.cap_init, self.key)


@dataclass(frozen=True)
class ModelStep:
    """The whole step (BLOCKS, MODEL). PRE: `w` = W_t per group. POST: `w` = the snapshot of W_t (None without
    Need.SNAPSHOT), `w_next` = W_{t+1}. EVERY_STEP: `loss` = the step's training loss [M] (before the update)."""

    t: int
    depth: int
    k: int
    w: Mapping[str, Tensor] | None = None
    w_next: Mapping[str, Tensor] | None = None
    cap: Any = None
    cap_next: Any = None
    cap_init: Any = None
    test_loss: Tensor | None = None
    loss: Tensor | None = None
