"""The training steps of a README regeneration and how they run.

A step is one figure on the sequential seed schedule (figures.claims.LOOKS): its first seeds, its fresh-seed rerun,
or its first seeds under a second CPU kernel path. Each writes its own summary, so steps can run one after another in
this process (`jobs=1`, the default) or in `jobs` worker processes of `threads` torch threads each; two steps that
plan a shared run (wd3 fits its law on wd1's and wd2's runs, depth-k reuses Fig. 1's sweeps) never run side by side,
so the later one reads what the earlier trained. A run's numbers depend on its threads, never on which process trains
it. On a 2-core AMD EPYC (Zen 3) two one-thread workers did more per second than one two-thread process:
v2-sophia and its rerun took 142 s side by side against 212 s one after another at 2 threads; wd1 and wd2 on the
`default` kernel path took 368 s and 70 s at 1 thread beside another step, against 323 s and 79 s alone at 2
threads (docs/results.md, "Across CPUs"). The figures' small matrices do not keep two threads busy.
"""

from __future__ import annotations

import datetime
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Callable

from synthetic.errors import RunsFailedError

ROOT = Path(__file__).resolve().parent.parent


class StepKind(str, Enum):
    FIGURES = "figures"
    RERUN = "rerun"
    KERNEL = "kernel"


@dataclass(frozen=True)
class Step:
    """One figure's regeneration: `seed_offset` shifts its seeds (the rerun), `kernel_path` names the CPU kernel path
    it runs under in a subprocess of its own (the kernel check; None: this process's path)."""

    fid: str
    kind: StepKind
    seed_offset: int = 0
    kernel_path: str | None = None

    @property
    def label(self) -> str:
        if self.kind is StepKind.RERUN:
            return f"{self.fid} (rerun)"
        if self.kind is StepKind.KERNEL:
            return f"{self.fid} ({self.kernel_path} kernel path)"
        return self.fid


@dataclass(frozen=True)
class StepResult:
    label: str
    seconds: float
    look: int
    used: frozenset[str]
    """Cache keys of the runs the step read or trained (the kernel check's own cache is not counted)."""


@dataclass(frozen=True)
class Where:
    """What every step shares: the scale, the output root (`figures/`, `rerun/`, `kernel/` and `cache/` below it)
    and the device."""

    scale: str
    out: Path
    device: str


def run_step(step: Step, where: Where) -> StepResult:
    """Train one step (what the cache lacks) and write its summary and figure."""
    t0 = time.perf_counter()
    if step.kind is StepKind.KERNEL:
        look, used = _kernel_step(step, where), frozenset()
    else:
        from figures.registry import run_until_decided

        used: set[str] = set()
        cmd = (f"python paper_repro.py --figure {step.fid} --until-decided"
               + (f" --seed-offset {step.seed_offset}" if step.seed_offset else ""))
        _, look = run_until_decided(step.fid, scale=where.scale, device=where.device,
                                    out_dir=where.out / step.kind.value, cache_dir=where.out / "cache",
                                    seed_offset=step.seed_offset, command=cmd, used=used)
        used = frozenset(used)
    return StepResult(step.label, round(time.perf_counter() - t0, 1), look, used)


def _kernel_step(step: Step, where: Where) -> int:
    """The figure in a subprocess under the kernel path's variables (they act at start up), into `out/kernel` with
    its own cache; returns its last look."""
    from benchmarks.kernel_paths import path_env

    _claim_kernel_folder(where.out / "kernel", step.kernel_path)
    argv = [sys.executable, str(ROOT / "paper_repro.py"), "--figure", step.fid, "--until-decided",
            "--scale", where.scale, "--out", str(where.out / "kernel")]
    done = subprocess.run(argv, cwd=ROOT, env={**path_env(step.kernel_path), "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RunsFailedError(f"{step.label} failed: {' '.join(done.stderr.strip().splitlines()[-1:])}; every "
                              "finished bucket is cached")
    summary = json.loads((where.out / "kernel" / "figures" / step.fid / f"summary_{step.fid}.json").read_text())
    return int(summary.get("look", 1))


KERNEL_PATH_FILE = "kernel_path.txt"
"""Names the kernel path the runs of a kernel-path folder's cache were trained on (run ids do not say it)."""


def _claim_kernel_folder(folder: Path, path: str) -> None:
    """Mark `folder` as `path`'s; refuse (one line) a folder whose cache holds runs of another or an unnamed path,
    which the check would otherwise read as this path's."""
    marker = folder / KERNEL_PATH_FILE
    old = marker.read_text().strip() if marker.exists() else None
    if old != path and (old is not None or any((folder / "cache").rglob("*.json"))):
        raise RunsFailedError(f"{folder} holds runs trained on the {old or 'an unnamed'} kernel path, not {path}: "
                              "remove it (or name another --out) to check on this one")
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(path + "\n")


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)


def longest_first(steps: list[Step], expected: dict[str, float]) -> list[Step]:
    """The order to start steps in parallel: steps of unknown length first, then by expected seconds (a previous
    regeneration's), longest first, so no long step starts last."""
    return sorted(steps, key=lambda s: -expected.get(s.label, math.inf))


def worker_threads(jobs: int, threads: int | None) -> int:
    """Torch threads of each of `jobs` workers: `threads`, or the cores shared out among them."""
    return threads or max(1, (os.cpu_count() or 1) // jobs)


def planned_runs(step: Step, where: Where) -> frozenset[tuple[str, str]]:
    """(cache, key) of every run the step plans up to its last look (its figure's runs and the runs it borrows from
    other figures; not the sweep extensions, which depend on results): two steps that share one must not train side
    by side, or both would train it."""
    from figures.claims import LOOKS
    from figures.registry import figure_runs, get_spec
    from figures.spec import FigureContext
    from synthetic.cache import cache_key

    cache = "kernel" if step.kind is StepKind.KERNEL else "main"
    ctx = FigureContext(fig_id=step.fid, scale=where.scale, device=where.device, look=max(LOOKS))
    return frozenset((cache, cache_key(r)) for r in figure_runs(get_spec(step.fid), ctx, step.seed_offset))


def next_startable(pending: list[Step], running: list[Step], runs: dict[Step, frozenset]) -> Step | None:
    """The first pending step that shares no planned run with a running one (None: each waits for one)."""
    busy = frozenset().union(*(runs[s] for s in running))
    return next((s for s in pending if not runs[s] & busy), None)


STEP_LOG = "steps.jsonl"
"""Under the output root: one JSON line per start of `run_steps` and per finished step (its time, look, and the wall
time since the start), so an interrupted regeneration still records what finished and when."""


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _log(where: Where, entry: dict) -> None:
    where.out.mkdir(parents=True, exist_ok=True)
    with open(where.out / STEP_LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


def run_steps(steps: list[Step], where: Where, *, jobs: int = 1, threads: int | None = None,
              expected: dict[str, float] | None = None,
              echo: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
              run: Callable[[Step, Where], StepResult] = run_step) -> list[StepResult]:
    """Every step's result (`run`'s), in the order of `steps`. `jobs=1`: one after another in this process (its
    threads); more: in that many spawned workers of `threads` torch threads each, longest first (`expected`), never
    two that share a planned run at once (`next_startable`). Each finished step is echoed with its wall time
    and logged (`STEP_LOG`)."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    results: dict[Step, StepResult] = {}
    t0 = time.perf_counter()
    _log(where, {"started": _now(), "steps": len(steps), "jobs": jobs, "threads": threads})

    def done(step: Step, result: StepResult) -> None:
        results[step] = result
        echo(f"step {result.label}: {result.seconds:.0f} s, look {result.look} ({len(results)}/{len(steps)} steps)")
        _log(where, {"step": result.label, "seconds": result.seconds, "look": result.look,
                     "wall_seconds": round(time.perf_counter() - t0, 1), "finished": _now()})

    if jobs == 1:
        for s in steps:
            done(s, run(s, where))
        return [results[s] for s in steps]
    runs = {s: planned_runs(s, where) for s in steps}
    pending, running = longest_first(steps, expected or {}), {}
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_set_threads, initargs=(worker_threads(jobs, threads),))
    try:
        while pending or running:
            while len(running) < jobs and (step := next_startable(pending, list(running.values()), runs)):
                pending.remove(step)
                running[pool.submit(run, step, where)] = step
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                step = running.pop(f)
                try:
                    done(step, f.result())
                except BrokenProcessPool as exc:
                    raise RunsFailedError(f"the worker training step {step.label} died ({exc}); every finished "
                                          "bucket is cached and will be reused", []) from None
    except BaseException as exc:
        pool.shutdown(wait=not isinstance(exc, (KeyboardInterrupt, RunsFailedError)), cancel_futures=True)
        raise
    pool.shutdown()
    return [results[s] for s in steps]
