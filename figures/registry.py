"""The figure catalogue: one `FigureSpec` per ID, and `run_figure` that builds the runs, trains the missing ones through
`synthetic.grid.run_grid` (cached), plots, and writes `<out_dir>/<id>/fig_<id>.{png,pdf,csv}` + `summary_<id>.json`.

A spec (figures.spec) is two functions and an optional third: `build(ctx) -> list[RunConfig]` (the runs, every HP from
theory via the engine's configs), `plot(ctx, results) -> FigureOutput` (figure, tidy rows, headline numbers) and
`extend(ctx, results) -> list[RunConfig]` (runs still missing, e.g. an η sweep extended past an edge optimum). Each
module of `FIGURE_MODULES` exposes its specs as `SPECS`; the catalogue order is `ZHENG_IDS + WD_IDS + COORD_IDS`.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import replace
from pathlib import Path

from figures.catalogue import COORD_IDS, COORD_OPTIMIZERS, WD_IDS, ZHENG_IDS
from figures.scales import Scale, check_scale
from figures.spec import (FigureContext, FigureError, FigureOutput, FigureSpec, UnknownFigureError,
                          default_cache_dir)

__all__ = ["COORD_IDS", "COORD_OPTIMIZERS", "WD_IDS", "ZHENG_IDS", "FigureContext", "FigureError", "FigureOutput",
           "FigureSpec", "UnknownFigureError", "all_specs", "figure_ids", "get_spec", "run_figure", "run_until_decided", "claims_of", "figure_runs",
           "train", "default_cache_dir"]

FIGURE_MODULES: tuple[str, ...] = ("figures.zheng_assumptions", "figures.zheng_transfer", "figures.zheng_depth_k",
                                   "figures.zheng_v2_optimizers", "figures.zheng_claims", "figures.wd", "figures.coord")
"""The modules whose `SPECS` make the catalogue (imported when the catalogue is first asked for: torch-heavy)."""


def _module_specs() -> dict[str, FigureSpec]:
    """Every module's SPECS; an ID defined twice, a module without SPECS or a spec under the wrong ID is an error."""
    found: dict[str, FigureSpec] = {}
    for name in FIGURE_MODULES:
        specs = getattr(importlib.import_module(name), "SPECS", None)
        if not isinstance(specs, dict):
            raise TypeError(f"figure module {name} has no SPECS dict")
        for fig_id, spec in specs.items():
            if fig_id in found or spec.fig_id != fig_id:
                raise TypeError(f"figure {fig_id!r} of {name}: defined twice or under another ID")
            found[fig_id] = spec
    return found


def all_specs() -> dict[str, FigureSpec]:
    """Every figure spec, in catalogue order; a spec missing from the modules, or one the order does not name, is an
    error (a new figure is added to its module's SPECS and to the ID lists above)."""
    found = _module_specs()
    order = ZHENG_IDS + WD_IDS + COORD_IDS
    missing, unlisted = [i for i in order if i not in found], [i for i in found if i not in order]
    if missing or unlisted:
        raise TypeError(f"figure catalogue mismatch: missing {missing}, not in the ID lists {unlisted}")
    return {i: found[i] for i in order}


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


def run_figure(fig_id: str, *, scale: str = "default", device: str = "auto", force: bool = False,
               out_dir: str | Path = "results/figures", data: str = "standin", data_dir: str | None = None,
               cache_dir: str | Path | None = None, progress: bool = True, seed_offset: int = 0,
               command: str | None = None, executor: str = "local", ray=None,
               used: set[str] | None = None, max_bucket: int | None = None, look: int = 1) -> list[Path]:
    """Build, train (only what the cache lacks; everything if `force`), plot and write one figure; returns the paths
    written: PNG, PDF, CSV (tidy data) and the summary JSON (headline numbers and provenance).

    `seed_offset` shifts every run's seed by that amount (a fresh-seed rerun: new runs, new cache entries).
    `executor` / `ray` choose where the buckets train (synthetic.executors), `max_bucket` caps the runs per bucket. `used`, when given, collects the cache
    keys of every run the figure read or trained (its extensions included). `look` multiplies the figure's seeds
    (figures.claims.LOOKS; `figure_runs`); the summary records it with the claims (`spec.claims`)."""
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
    if look < 1:
        raise FigureError(f"look must be >= 1 (got {look})")
    ctx = FigureContext(fig_id=fig_id, scale=scale, data=data, data_dir=data_dir, device=device, cache_dir=cache,
                        look=look)
    t0 = time.perf_counter()
    runs = figure_runs(spec, ctx, seed_offset)
    results = train(runs, cache_dir=cache, device=device, force=force, progress=progress, executor=executor, ray=ray,
                    max_bucket=max_bucket)
    if spec.extend is not None:
        from figures.sweep_extension import MAX_ROUNDS

        for _ in range(MAX_ROUNDS):
            more = spec.extend(ctx, results)
            if not more:
                break
            runs += more
            results += train(more, cache_dir=cache, device=device, force=force, progress=progress,
                             executor=executor, ray=ray, max_bucket=max_bucket)
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
    from synthetic.provenance import trained_on_set

    prov = {**provenance(runs, on, command), "trained_on": trained_on_set(results)}
    summary.update(scale=scale, seed_offset=seed_offset, provenance=prov, look=look)
    if spec.claims is not None:
        summary["claims"] = claims_of(spec, summary)
    paths = save_outputs(drawn.figure, out / fig_id, fig_id, drawn.rows, summary, provenance=prov)
    print(f"figure {fig_id} ({scale}, {len(runs)} runs, {time.perf_counter() - t0:.1f} s): wrote "
          + ", ".join(str(p) for p in paths))
    return paths


LOOK_SEED_STRIDE = 100_000
"""Seed shift of each further copy of a figure's runs at look > 1: far above any figure's seeds and the rerun's
offset (figures.regenerate.RERUN_SEED_OFFSET), so no two looks or reruns share a seed."""


def figure_runs(spec: FigureSpec, ctx: FigureContext, seed_offset: int = 0) -> list:
    """The runs a figure trains, every seed shifted by `seed_offset`; at look k (FigureContext.look) k copies of
    them, copy i with its seeds shifted by a further i·LOOK_SEED_STRIDE (copy 0: the declared seeds)."""
    runs = spec.build(ctx)
    return [replace(r, seed=r.seed + seed_offset + i * LOOK_SEED_STRIDE) for i in range(ctx.look) for r in runs]


def claims_of(spec: FigureSpec, summary: dict) -> list[dict]:
    """The figure's claims judged on its summary as it is written (JSON: non-finite numbers as null, keys sorted, so
    that judging the written file again (figures.rejudge) sums per-seed values in the same order)."""
    import json

    from figures.plotting import _jsonable

    written = json.loads(json.dumps(_jsonable(summary), sort_keys=True))
    return [c.as_dict() for c in spec.claims(written)]


def run_until_decided(fig_id: str, **options) -> tuple[list[Path], int]:
    """`run_figure` at each look of figures.claims.LOOKS until none of the figure's claims is undecided (or the
    cap); returns the last look's paths and that look."""
    import json

    from figures.claims import LOOKS, claims_undecided

    for look in LOOKS:
        paths = run_figure(fig_id, look=look, **options)
        summary = json.loads(next(p for p in paths if p.suffix == ".json").read_text())
        if not claims_undecided(summary.get("claims", [])):
            break
    return paths, look


def train(runs: list, *, cache_dir: Path, device: str = "auto", force: bool = False, progress: bool = True,
          executor: str = "local", ray=None, max_bucket: int | None = None) -> list:
    """`run_grid` through the cache, every finished bucket stored at once; with `force` every run is retrained and
    its cache entry rewritten."""
    from synthetic.grid import run_grid

    return run_grid(runs, cache_dir=cache_dir, device=device, progress=progress, force=force, executor=executor,
                    ray=ray, max_bucket=max_bucket)


def _checked(scale: str) -> Scale:
    try:
        return check_scale(scale)
    except ValueError as exc:
        raise FigureError(str(exc)) from None
