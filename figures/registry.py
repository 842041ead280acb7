"""The figure catalogue: one `FigureSpec` per ID, and `run_figure` that builds the runs, trains the missing ones through
`synthetic.grid.run_grid` (cached), plots, and writes `<out_dir>/<id>/fig_<id>.{png,pdf,csv}` + `summary_<id>.json`.

A spec is two functions: `build(ctx) -> list[RunConfig]` (the runs, every HP from theory via the engine's configs) and
`plot(ctx, results) -> FigureOutput` (figure, tidy rows, headline numbers). `figures.wd` contributes its own specs
(a dict of `FigureSpec`), merged in when that module is present.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from figures.scales import Scale, check_scale

ZHENG_IDS: tuple[str, ...] = ("3", "4", "5", "6", "1", "2", "depth-k", "e1", "e2")
WD_IDS: tuple[str, ...] = ("wd1", "wd2", "wd3", "wd4")
COORD_OPTIMIZERS: tuple[str, ...] = ("sgd", "adamw", "muon", "muon_kimi", "lion", "muon_kimi_adamw", "shampoo",
                                     "shampoo_adamw", "soap", "sso", "sophia")
"""The engine optimizers with a coordinate check (figures.coord: ETA_BASE / OPTIM_KW per optimizer); the one list
figures.results_table reads too."""
COORD_IDS: tuple[str, ...] = tuple(f"coord-{o}" for o in COORD_OPTIMIZERS)


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


def _zheng_specs() -> dict[str, FigureSpec]:
    from figures import coord, zheng_assumptions, zheng_claims, zheng_depth_k, zheng_transfer

    specs: dict[str, FigureSpec] = {}
    for mod in (zheng_assumptions, zheng_transfer, zheng_depth_k, zheng_claims, coord):
        specs.update(mod.SPECS)
    return specs


def _wd_specs() -> dict[str, FigureSpec]:
    """Specs from figures.wd (another module's figures), if that module exists: any dict of FigureSpec it exposes."""
    try:
        wd = importlib.import_module("figures.wd")
    except ModuleNotFoundError as exc:
        if exc.name in ("figures.wd",):
            return {}
        raise
    found: dict[str, FigureSpec] = {}
    for value in vars(wd).values():
        if isinstance(value, Mapping) and value and all(isinstance(v, FigureSpec) for v in value.values()):
            found.update({str(k): v for k, v in value.items()})
    return found


def all_specs() -> dict[str, FigureSpec]:
    """Every figure spec, in catalogue order."""
    zheng, wd = _zheng_specs(), _wd_specs()
    ordered: dict[str, FigureSpec] = {i: zheng[i] for i in ZHENG_IDS}
    ordered.update({i: wd[i] for i in WD_IDS if i in wd})
    ordered.update({i: v for i, v in wd.items() if i not in ordered})
    ordered.update({i: zheng[i] for i in COORD_IDS})
    return ordered


def figure_ids() -> tuple[str, ...]:
    return tuple(all_specs())


def __getattr__(name: str):
    if name == "FIGURE_IDS":  # computed lazily so that importing the registry never imports torch-heavy modules
        return figure_ids()
    raise AttributeError(name)


def get_spec(fig_id: str) -> FigureSpec:
    specs = all_specs()
    if fig_id not in specs:
        raise UnknownFigureError(f"unknown figure {fig_id!r}; known figures: {', '.join(specs)}")
    return specs[fig_id]


def default_cache_dir(out_dir: Path) -> Path:
    """Runs are cached next to the figures (`<out_dir>/../cache`)."""
    return Path(out_dir).resolve().parent / "cache"


def run_figure(fig_id: str, *, scale: str = "default", device: str = "auto", force: bool = False,
               out_dir: str | Path = "results/figures", data: str = "standin", data_dir: str | None = None,
               cache_dir: str | Path | None = None, progress: bool = True, seed_offset: int = 0,
               command: str | None = None, executor: str = "local", ray=None,
               used: set[str] | None = None) -> list[Path]:
    """Build, train (only what the cache lacks; everything if `force`), plot and write one figure; returns the paths
    written: PNG, PDF, CSV (tidy data) and the summary JSON (headline numbers and provenance).

    `seed_offset` shifts every run's seed by that amount (a fresh-seed rerun: new runs, new cache entries).
    `executor` / `ray` choose where the buckets train (synthetic.executors). `used`, when given, collects the cache
    keys of every run the figure read or trained (its extensions included)."""
    from synthetic.device import resolve_device
    from synthetic.provenance import provenance

    spec = get_spec(fig_id)
    scale = _checked(scale)
    if data not in ("standin", "cifar10"):
        raise FigureError(f"unknown data {data!r}; choose 'standin' or 'cifar10'")
    if data == "cifar10" and not data_dir:
        raise FigureError("--data cifar10 needs --data-dir DIR (the CIFAR-10 python batches)")
    if seed_offset < 0:
        raise FigureError(f"seed offset must be >= 0 (got {seed_offset})")
    out = Path(out_dir)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir(out)
    ctx = FigureContext(fig_id=fig_id, scale=scale, data=data, data_dir=data_dir, device=device, cache_dir=cache)
    t0 = time.perf_counter()
    runs = figure_runs(spec, ctx, seed_offset)
    results = train(runs, cache_dir=cache, device=device, force=force, progress=progress, executor=executor, ray=ray)
    if spec.extend is not None:
        from figures.sweep_extension import MAX_ROUNDS

        for _ in range(MAX_ROUNDS):
            more = spec.extend(ctx, results)
            if not more:
                break
            runs += more
            results += train(more, cache_dir=cache, device=device, force=force, progress=progress,
                             executor=executor, ray=ray)
    if used is not None:
        from synthetic.cache import cache_key

        used |= {cache_key(r) for r in runs}
    drawn = spec.plot(ctx, results)
    from figures.plotting import save_outputs

    summary = dict(drawn.summary)
    if seed_offset and "seeds" in summary:
        summary["seeds"] = [int(s) + seed_offset for s in summary["seeds"]]
    from synthetic.executors import ray_device_name

    from synthetic.executors import RayOptions

    on = ray_device_name(device, ray or RayOptions()) if executor == "ray" else resolve_device(device)
    prov = provenance(runs, on, command)
    summary.update(scale=scale, seed_offset=seed_offset, provenance=prov)
    paths = save_outputs(drawn.figure, out / fig_id, fig_id, drawn.rows, summary, provenance=prov)
    print(f"figure {fig_id} ({scale}, {len(runs)} runs, {time.perf_counter() - t0:.1f} s): wrote "
          + ", ".join(str(p) for p in paths))
    return paths


def figure_runs(spec: FigureSpec, ctx: FigureContext, seed_offset: int = 0) -> list:
    """The runs a figure trains, every seed shifted by `seed_offset`."""
    return [replace(r, seed=r.seed + seed_offset) for r in spec.build(ctx)]


def train(runs: list, *, cache_dir: Path, device: str = "auto", force: bool = False, progress: bool = True,
          executor: str = "local", ray=None) -> list:
    """`run_grid` through the cache, every finished bucket stored at once; with `force` every run is retrained and
    its cache entry rewritten."""
    from synthetic.grid import run_grid

    return run_grid(runs, cache_dir=cache_dir, device=device, progress=progress, force=force, executor=executor,
                    ray=ray)


def _checked(scale: str) -> Scale:
    try:
        return check_scale(scale)
    except ValueError as exc:
        raise FigureError(str(exc)) from None
