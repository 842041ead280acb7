"""Parameter-group identities: which role (theory vocabulary) a stacked parameter tensor plays and, for the hidden
maps, which map of the block it is. The engine's parameter dicts are keyed by `Group.key` strings ("input",
"hidden.2", "hidden_bias.1", "output", …, the names cached runs and records use); every question about a group
(its role, whether it is a bias, whether it is stacked over blocks) is answered by `Group.of(key)`, never by matching
the string."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import get_args

from theory.roles import BIAS_ROLES, Role


@dataclass(frozen=True)
class Group:
    role: Role
    map_index: int | None = None
    """1 … k for the hidden maps and their biases; None for the input and output groups."""

    def __post_init__(self) -> None:
        if self.role not in get_args(Role):
            raise ValueError(f"unknown role {self.role!r}")
        if (self.map_index is None) != (self.role in ("input", "output", "input_bias")):
            raise ValueError(f"role {self.role!r} and map index {self.map_index!r} do not go together")

    @property
    def is_bias(self) -> bool:
        return self.role in BIAS_ROLES

    @property
    def stacked_over_blocks(self) -> bool:
        """True for the hidden groups: one tensor holds map `map_index` of every block of every run (packed [P, …],
        synthetic.models.BlockLayout; [M, L, …] once unpacked)."""
        return self.map_index is not None

    @property
    def key(self) -> str:
        return self.role if self.map_index is None else f"{self.role}.{self.map_index}"

    @staticmethod
    @lru_cache(maxsize=None)
    def of(key: str) -> "Group":
        """The group a parameter-dict key names (the inverse of `key`)."""
        role, _, index = key.partition(".")
        return Group(role, int(index) if index else None)  # type: ignore[arg-type]

    def layer_names(self, depth: int) -> list[str]:
        """Layer names (records.py convention) of the matrices or biases the group holds."""
        if not self.stacked_over_blocks:
            return [self.key]
        if self.is_bias:
            return [f"block{l}.bias{self.map_index}" for l in range(1, depth + 1)]
        return [f"block{l}.{self.map_index}" for l in range(1, depth + 1)]


def weight_groups(k: int) -> list[Group]:
    return [Group("input")] + [Group("hidden", i) for i in range(1, k + 1)] + [Group("output")]


def bias_groups(k: int) -> list[Group]:
    return [Group("input_bias")] + [Group("hidden_bias", i) for i in range(1, k + 1)]
