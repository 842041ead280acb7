"""The figure types every figure module shares: a figure request (`FigureContext`), its drawn output
(`FigureOutput`), a figure's definition (`FigureSpec`) and its errors. Imports no figure module (and none imports
figures.registry for these), so the catalogue has no import cycle."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from figures.scales import Scale


class FigureError(ValueError):
    """Bad figure request (unknown ID, scale or data option): paper_repro prints the message on one line, exit 2."""


class UnknownFigureError(FigureError):
    """A figure ID that is not in the catalogue."""


@dataclass(frozen=True)
class FigureContext:
    """What a figure is asked for: scale, data choice for the image-set figures, device."""

    fig_id: str
    scale: Scale = "default"
    data: str = "standin"
    data_dir: str | None = None
    device: str = "auto"
    cache_dir: Path | None = None
    look: int = 1
    """Seed multiplier of the sequential schedule (figures.claims.LOOKS): the figure's runs on its declared seeds
    and on look − 1 more copies of them with new seeds (figures.registry.figure_runs)."""


@dataclass
class FigureOutput:
    """A drawn figure, the tidy rows behind it (one dict per plotted value) and its headline numbers."""

    figure: Any
    rows: Sequence[Mapping[str, object]]
    summary: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class FigureSpec:
    fig_id: str
    description: str
    build: Callable[[FigureContext], list]
    plot: Callable[[FigureContext, list], FigureOutput]
    extend: Callable[[FigureContext, list], list] | None = None
    """Runs still missing once `build`'s runs are trained (e.g. an η sweep whose optimum sits on the grid's edge,
    figures.sweep_extension); asked again after each round, until it returns none or MAX_ROUNDS have run."""
    claims: Callable[[Mapping[str, Any]], list] | None = None
    """The figure's declared claims (figures.claims.Claim), read off its summary as written (JSON); the registry
    stores them in the summary under "claims", and the results table renders only those."""


def default_cache_dir(out_dir: Path) -> Path:
    """Runs are cached next to the figures (`<out_dir>/../cache`)."""
    return Path(out_dir).resolve().parent / "cache"
