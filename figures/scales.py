"""Figure scales: "smoke" (seconds on CPU, used by tests), "default" (minutes on a laptop CPU), "paper" (the paper's grid, GPU).

Each figure module keeps its own grid per scale; this module only names the scales and validates them.
"""

from __future__ import annotations

from typing import Literal, TypeVar

Scale = Literal["smoke", "default", "paper"]
SCALES: tuple[Scale, ...] = ("smoke", "default", "paper")

T = TypeVar("T")


class ScaleError(ValueError):
    """An unknown scale name (one-line message)."""


def check_scale(scale: str) -> Scale:
    if scale not in SCALES:
        raise ScaleError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    return scale  # type: ignore[return-value]


def pick(scale: str, *, smoke: T, default: T, paper: T) -> T:
    """The value for `scale`: one place per figure where the three grids sit side by side."""
    return {"smoke": smoke, "default": default, "paper": paper}[check_scale(scale)]


def dtype_for(scale: str) -> str:
    """float64 at smoke scale (CI: exponents deterministic to many digits), float32 otherwise."""
    return "float64" if check_scale(scale) == "smoke" else "float32"
