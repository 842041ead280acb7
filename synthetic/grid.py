"""Many runs: group them into stacked buckets, train only what the cache lacks, return everything.

`run_grid` writes each run to the cache as soon as its bucket has trained, so an interrupted grid, when started
again, trains only the runs that are still missing. Identical configs in one grid are trained once.
`results_table` / `write_csv` / `read_csv` turn results into the tidy table that `synthetic.fit` reads.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import replace
from typing import Any, Iterable, Sequence

import numpy as np

from synthetic.cache import RunCache, cache_key
from synthetic.config import RunConfig
from synthetic.device import resolve_device
from synthetic.engine import RunResult
from synthetic.errors import ConfigError, DataError, RunsFailedError
from synthetic.executors import EXECUTORS, RayOptions, in_process, on_ray, ray_bucket_size, worker_device
from synthetic.estimate import check_fits
from synthetic.progress import Progress
from synthetic.provenance import stale, trained_on

DEFAULT_CACHE_DIR = os.path.join(".cache", "runs")
TABLE_COLUMNS = ("run_id", "width", "depth", "lr", "wd", "seed", "parameterization", "optimizer", "diverged_at",
                 "step", "layer", "quantity", "index", "value")
"""`diverged_at`: the run's first diverged step (see synthetic.version.DIVERGENCE_FACTOR), -1 when it did not diverge."""


def bucketize(runs: Iterable[RunConfig], max_bucket: int = 256) -> list[list[RunConfig]]:
    """Group runs by `bucket_key()` (first-appearance order), splitting a group into near-equal parts of at most
    `max_bucket` runs."""
    if max_bucket < 1:
        raise ConfigError(f"max_bucket must be >= 1 (got {max_bucket})")
    groups: dict[str, list[RunConfig]] = {}
    for run in runs:
        groups.setdefault(run.bucket_key(), []).append(run)
    buckets = []
    for members in groups.values():
        parts = math.ceil(len(members) / max_bucket)
        size, extra = divmod(len(members), parts)
        start = 0
        for i in range(parts):
            stop = start + size + (1 if i < extra else 0)
            buckets.append(members[start:stop])
            start = stop
    return buckets


def run_grid(runs: Sequence[RunConfig], cache_dir: str | os.PathLike | None = DEFAULT_CACHE_DIR,
             device: str = "auto", progress: bool | str = True, max_bucket: int | None = None,
             force: bool = False, executor: str = "local", ray: RayOptions | None = None) -> list[RunResult]:
    """Results for `runs` (same order), training only runs not in the cache; `cache_dir=None` disables caching.

    Every bucket is stored in the cache as soon as it has trained, so an interrupt loses only the buckets in progress.
    `force`: retrain every run (cached entries are not read) and overwrite its cache entry.
    `executor`: "local" trains in this process; "ray" sends each bucket as a Ray task (`ray` options: address,
    resources per bucket, retries). Buckets hold at most `max_bucket` runs (default 256 locally; on Ray the missing
    runs split over at least two tasks per CPU of the cluster, at most 256 each). Runs of a bucket that failed on
    Ray after its retries raise RunsFailedError at the end, after every other run was stored.

    `progress`: True shows a bar on a terminal when the grid lasts more than a couple of seconds, "force" shows it
    on any stream, False never.
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; choose {' or '.join(EXECUTORS)}")
    runs = [run.validate() for run in runs]
    dev = resolve_device(device) if executor == "local" else device
    cache = RunCache(cache_dir) if cache_dir is not None else None
    keys = [cache_key(run) for run in runs]
    unique: dict[str, RunConfig] = dict(zip(keys, runs))
    done: dict[str, RunResult] = {}
    if cache is not None and not force:
        for key, run in unique.items():
            hit = cache.load(key, run.to_dict())
            if hit is not None and not stale(hit.trained_on):
                done[key] = RunResult(run, hit.run_id, hit.records, hit.diverged_at, hit.trained_on)
    missing = [run for key, run in unique.items() if key not in done]
    bar = Progress(len(unique), total_steps=sum(run.steps for run in missing), enabled=bool(progress),
                   force=progress == "force")
    if executor == "ray":
        options = (ray or RayOptions()).validate()
        worker_device(device, options)
        outcomes = on_ray(bucketize(missing, max_bucket or ray_bucket_size(len(missing), options)), device, options)
        where = trained_on(f"ray ({worker_device(device, options)} workers)", options.cpus_per_bucket,
                           cpu="a Ray worker's")
    else:
        buckets = bucketize(missing, max_bucket or 256)
        check_fits(buckets, dev)
        outcomes = in_process(buckets, dev, on_step=bar.add_steps)
        where = trained_on(dev)
    failed: list[tuple[RunConfig, str]] = []
    with bar:
        bar.from_cache(len(done))
        for outcome in outcomes:
            if outcome.results is None:
                failed += [(run, outcome.error or "failed") for run in outcome.runs]
            else:
                for run, result in zip(outcome.runs, outcome.results, strict=True):
                    key = cache_key(run)
                    result = replace(result, trained_on=where)
                    if cache is not None:
                        cache.store(key, result.run_id, run.to_dict(), result.records, result.diverged_at, where)
                    done[key] = result
            bar.advance(len(outcome.runs), 0 if executor == "local" else sum(run.steps for run in outcome.runs))
    if failed:
        ids = [cache_key(run) for run, _ in failed]
        raise RunsFailedError(f"{len(failed)} of {len(unique)} runs failed after "
                              f"{(ray or RayOptions()).max_retries} retries (runs {', '.join(i[:12] for i in ids[:4])}"
                              f"{', …' if len(ids) > 4 else ''}): {failed[0][1]}; the other runs are stored", ids)
    return [done[key] for key in keys]


def results_table(results: Sequence[RunResult]) -> dict[str, np.ndarray]:
    """Tidy columns (`TABLE_COLUMNS`): the config columns of each run repeated on every record of it."""
    cols: dict[str, list[Any]] = {c: [] for c in TABLE_COLUMNS}
    for res in results:
        c = res.config
        fixed = {"run_id": res.run_id, "width": c.model.width, "depth": c.model.depth, "lr": c.base.eta,
                 "wd": c.base.lam, "seed": c.seed, "parameterization": c.parameterization,
                 "optimizer": c.optim.name, "diverged_at": -1 if res.diverged_at is None else res.diverged_at}
        for rec in res.records:
            for name, value in fixed.items():
                cols[name].append(value)
            cols["step"].append(rec.step)
            cols["layer"].append(rec.layer)
            cols["quantity"].append(rec.quantity)
            cols["index"].append(rec.index)
            cols["value"].append(rec.value)
    return _typed(cols)


def write_csv(table: dict[str, np.ndarray], path: str | os.PathLike,
              provenance: dict[str, Any] | None = None) -> None:
    """Write a tidy table as CSV (header = column names; floats in full precision), preceded by one `# key=value`
    comment line per provenance entry (engine version, torch, device, dtype, seeds, command)."""
    parent = os.path.dirname(os.fspath(path))
    if parent:
        os.makedirs(parent, exist_ok=True)
    names = list(table)
    with open(path, "w", newline="") as f:
        for key, value in (provenance or {}).items():
            f.write(f"# {key}={value}\n")
        w = csv.writer(f)
        w.writerow(names)
        for row in zip(*(table[n].tolist() for n in names)):
            w.writerow([repr(v) if isinstance(v, float) else v for v in row])


def read_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a tidy CSV written by `write_csv`; raises DataError on a missing or malformed file."""
    try:
        with open(path, newline="") as f:
            reader = csv.reader(line for line in f if not line.startswith("#"))
            header = next(reader)
            rows = list(reader)
    except FileNotFoundError:
        raise DataError(f"records file not found: {path}") from None
    except StopIteration:
        raise DataError(f"records file {path} is empty (no header)") from None
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read records file {path}: {type(exc).__name__}") from None
    if any(len(r) != len(header) for r in rows):
        raise DataError(f"records file {path} has rows whose length differs from its header")
    if not rows:
        raise DataError(f"records file {path} has a header and no records")
    cols = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    for name in ("width", "depth", "seed", "step", "index", "diverged_at"):
        if name in cols:
            cols[name] = _parse(cols[name], int, name, path)
    for name in ("lr", "wd", "value"):
        if name in cols:
            cols[name] = _parse(cols[name], float, name, path)
    return _typed(cols)


def _parse(values: list[str], kind, name: str, path) -> list:
    try:
        return [kind(v) for v in values]
    except ValueError:
        raise DataError(f"records file {path}: column {name!r} holds a non-{kind.__name__} value") from None


def _typed(cols: dict[str, list[Any]]) -> dict[str, np.ndarray]:
    out = {}
    for name, values in cols.items():
        if name in ("width", "depth", "seed", "step", "index", "diverged_at"):
            out[name] = np.asarray(values, dtype=np.int64)
        elif name in ("lr", "wd", "value"):
            out[name] = np.asarray(values, dtype=np.float64)
        else:
            out[name] = np.asarray(values, dtype=object)
    return out
