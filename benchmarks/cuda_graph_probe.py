"""Would replaying the training step as a CUDA graph lift the GPU targets? A measurement, not an engine path.

    python -m benchmarks.cuda_graph_probe --device cuda [--steps 60] [--json OUT]

The GPU step is host-bound at small widths (BENCHMARKS.md, "NVIDIA H200"): hundreds of kernel launches per step, each
costing more host time than its device work. This probe takes the smallest bucket of each benchmark grid (G1 width
128: 32 runs of depth 8; G2 width 64: depths 2–64, one run each) and trains it `--steps` steps from the same init
three ways, each with the engine's own pieces (synthetic.engine.build, its data source, forward, loss, gradients
and StackedOptimizer.step):

- eager: each step as synthetic.engine._train makes it, less its divergence bookkeeping (on a CPU its losses equal
  the engine's bit for bit: tests/test_cuda_graph_probe.py); the speed-ups below are over this loop;
- graph: forward, loss and backward captured once as a CUDA graph and replayed each step after the batch is copied
  into the graph's input; the data and the optimizer step stay eager;
- graph+update: the optimizer step captured as well. Its step-dependent numbers (AdamW's bias corrections) are
  computed on the host from the step count, so a graph keeps their capture-time values; the probe reports whether
  the losses then part from eager's, which tells what a capturable update must change.

Prints the milliseconds per step of each way, of the replay alone and of the eager update alone, and whether each
way's losses equal eager's bit for bit (else the first step that differs and the largest relative difference). Each
captured way runs in a process of its own, which trains its own eager reference first: a failed capture cannot spoil
the others, and is reported by its first cause; the last warm-up step before a capture runs under
`torch.cuda.set_sync_debug_mode("error")`, so a host sync is named before it breaks a capture. The JSON is written
after each bucket and way. On a CPU only the eager way runs (graphs need CUDA).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from benchmarks.grids import FULL
from benchmarks.hardware import device_name, synchronize
from synthetic.config import RunConfig
from synthetic.data import make_data_source
from synthetic.device import resolve_device
from synthetic.engine import DTYPES, build, full_precision, per_run_loss
from synthetic.errors import SyntheticError
from theory.cli import OneLineParser, output_file_problem

BUCKETS = {"G1": (128, None), "G2": (64, None)}
"""(width, depths) of each grid's probed bucket; None: the grid's own depths."""
QUICK = {"G1": (16, (2,)), "G2": (16, (1, 2))}
"""The same at smoke sizes (gpu_check --smoke, tests)."""
WARM_STEPS = 3
"""Steps each way trains before its clock starts (one-time costs: allocator, cuBLAS handles, the capture)."""
ROOT = Path(__file__).resolve().parent.parent


def bucket(grid: str, quick: bool, steps: int) -> list[RunConfig]:
    """The probed bucket of `grid`, deepest run first (synthetic.models.BlockLayout's order)."""
    width, depths = (QUICK if quick else BUCKETS)[grid]
    spec = FULL[grid]
    spec = replace(spec, widths=(width,), depths=depths or spec.depths, steps=steps)
    if quick:
        spec = replace(spec, etas=spec.etas[:2], lams=spec.lams[:1], seeds=spec.seeds[:1])
    return sorted(spec.runs(), key=lambda r: -r.model.depth)


@dataclass
class Pieces:
    """A bucket's engine pieces, built afresh (the same init and data every time)."""

    model: object
    opt: object
    data: object
    names: list[str]
    loss_kind: str
    alive: Tensor

    def forward_backward(self, x: Tensor, y: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        out, _ = self.model.forward(self.model.params, x)
        loss = per_run_loss(self.loss_kind, out, y)
        return loss.detach(), self.model.gradients(loss.sum(), self.names)

    def update(self, grads: Sequence[Tensor]) -> None:
        self.opt.step(dict(zip(self.names, grads)), self.alive, None)


def pieces(runs: Sequence[RunConfig], dev: torch.device) -> Pieces:
    model, opt = build(runs, dev)
    model.reuse_grad_buffers()
    cfg = runs[0]
    data = make_data_source(cfg.data, d_in=cfg.model.d_in, d_out=cfg.model.d_out, loss=cfg.loss,
                            batch_size=cfg.batch_size, seeds=[r.seed for r in runs], device=dev,
                            dtype=DTYPES[cfg.dtype])
    return Pieces(model, opt, data, list(model.params), cfg.loss, torch.ones(len(runs), dtype=torch.bool, device=dev))


def _clocked(steps: int, dev: torch.device, step: Callable[[int], Tensor]) -> tuple[Tensor, float]:
    """Run step(t) for t < steps; (the losses [steps, M], ms per step after WARM_STEPS)."""
    losses, start = [], None
    for t in range(steps):
        if t == min(WARM_STEPS, steps - 1):
            synchronize(dev)
            start = time.perf_counter()
        losses.append(step(t).clone())
    synchronize(dev)
    timed = steps - min(WARM_STEPS, steps - 1)
    return torch.stack(losses), 1e3 * (time.perf_counter() - start) / timed


def train_eager(runs: Sequence[RunConfig], dev: torch.device, steps: int) -> tuple[Tensor, float]:
    """(losses [steps, M], ms per step) of the engine's step, eagerly."""
    p = pieces(runs, dev)

    def step(t: int) -> Tensor:
        loss, grads = p.forward_backward(*p.data.train_batch(t))
        p.update(grads)
        return loss

    return _clocked(steps, dev, step)


def train_graph(runs: Sequence[RunConfig], dev: torch.device, steps: int, with_update: bool) -> dict:
    """The same steps with forward, loss and backward (and with `with_update` the optimizer step) replayed as one
    CUDA graph; also the replay alone and the eager update alone, in ms. With `with_update` the first WARM_STEPS
    steps train eagerly (the update's one-time allocations must not fall inside the capture) and the graph takes
    over from there."""
    p = pieces(runs, dev)
    x, y = (t.clone() for t in p.data.train_batch(0))
    first: list[Tensor] = []
    side = torch.cuda.Stream(dev)
    side.wait_stream(torch.cuda.current_stream(dev))
    with torch.cuda.stream(side):  # torch.cuda.graph's rule: warm the captured code up on a side stream first
        for t in range(WARM_STEPS):
            xt, yt = p.data.train_batch(t) if with_update else (x, y)
            # the last warm-up step refuses any host sync (what would break the capture), with a readable message
            torch.cuda.set_sync_debug_mode("error" if t == WARM_STEPS - 1 else "default")
            try:
                loss, grads = p.forward_backward(xt, yt)
                if with_update:
                    p.update(grads)
                    first.append(loss.clone())
            finally:
                torch.cuda.set_sync_debug_mode("default")
    torch.cuda.current_stream(dev).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        loss, grads = p.forward_backward(x, y)
        if with_update:
            p.update(grads)
    offset = len(first)

    def step(t: int) -> Tensor:
        xt, yt = p.data.train_batch(t + offset)
        x.copy_(xt)
        y.copy_(yt)
        graph.replay()
        if not with_update:
            p.update(grads)
        return loss

    losses, ms = _clocked(steps - offset, dev, step)
    out = {"losses": torch.cat([torch.stack(first), losses]) if first else losses, "ms_per_step": ms,
           "replay_ms": _time_ms(graph.replay, dev)}
    if not with_update:
        out["update_ms"] = _time_ms(lambda: p.update(grads), dev)
    return out


def _time_ms(fn: Callable[[], object], dev: torch.device, n: int = 20) -> float:
    fn()
    synchronize(dev)
    start = time.perf_counter()
    for _ in range(n):
        fn()
    synchronize(dev)
    return 1e3 * (time.perf_counter() - start) / n


def max_rel_diff(a: Tensor, b: Tensor) -> float:
    """Largest |a − b| / max(|a|, |b|) over entries finite in both; inf where only one of a pair is finite."""
    a, b = a.double().cpu(), b.double().cpu()
    fa, fb = torch.isfinite(a), torch.isfinite(b)
    if bool((fa != fb).any()):
        return math.inf
    both = fa & fb
    if not bool(both.any()):
        return 0.0
    scale = torch.maximum(a[both].abs(), b[both].abs()).clamp_min(1e-30)
    return float(((a[both] - b[both]).abs() / scale).max())


WAYS = ("graph", "graph_update")
"""The captured ways. Each (grid, way) runs in a process of its own (`--way`): a capture that fails can leave CUDA's
stream or allocator in a state that breaks every later capture of the process."""
MIN_STEPS = 2 * WARM_STEPS
"""Fewest steps: the captured update trains WARM_STEPS of them eagerly before its graph takes over."""


def eager_row(grid: str, dev: torch.device, steps: int, quick: bool) -> tuple[dict, Tensor]:
    runs = bucket(grid, quick, steps)
    row = {"grid": grid, "width": runs[0].model.width, "depths": sorted({r.model.depth for r in runs}),
           "runs": len(runs), "steps": steps}
    with full_precision():
        losses, row["eager_ms"] = train_eager(runs, dev, steps)
    return row, losses


def first_difference(a: Tensor, b: Tensor) -> int | None:
    """The first step whose losses differ in any bit (NaN equal to NaN), None where every step agrees."""
    same = (a == b) | (torch.isnan(a) & torch.isnan(b))
    bad = (~same.all(dim=1)).nonzero()
    return None if bad.numel() == 0 else int(bad[0, 0])


def innermost(exc: BaseException) -> BaseException:
    """The first cause of a chain of exceptions (a failed capture's own error is usually the context of the
    error capture_end raises after it)."""
    seen = {id(exc)}
    while (exc.__cause__ or exc.__context__) is not None and id(exc.__cause__ or exc.__context__) not in seen:
        exc = exc.__cause__ or exc.__context__
        seen.add(id(exc))
    return exc


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"


def graph_way(row: dict, eager: Tensor, way: str, dev: torch.device, quick: bool) -> dict:
    """One captured way on the row's bucket, against its eager losses (bit for bit, then relative difference); a
    failure is a finding: its first cause and the error it ended with, in one line each."""
    runs = bucket(row["grid"], quick, row["steps"])
    try:
        with full_precision(), torch.cuda.device(dev):
            res = train_graph(runs, dev, row["steps"], with_update=way == "graph_update")
    except Exception as exc:
        first = innermost(exc)
        return {"error": _one_line(first) + ("" if first is exc else f" (then {_one_line(exc)})")}
    out = {k: v for k, v in res.items() if k != "losses"}
    out["max_rel_diff"] = max_rel_diff(res["losses"], eager)
    out["first_diff_step"] = first_difference(res["losses"], eager)
    out["speedup"] = row["eager_ms"] / res["ms_per_step"]
    return out


def describe(row: dict) -> str:
    text = (f"{row['grid']} width {row['width']} depths {row['depths']} ({row['runs']} runs, {row['steps']} steps): "
            f"eager {row['eager_ms']:.2f} ms/step")
    for way in WAYS:
        w = row.get(way)
        if w is None:
            continue
        if "error" in w:
            text += f"; {way}: failed ({w['error']})"
            continue
        diff = "bit for bit" if w["first_diff_step"] is None else (
            f"first differ at step {w['first_diff_step']}, max rel diff {w['max_rel_diff']:.2e}")
        text += (f"; {way} {w['ms_per_step']:.2f} ms/step ({w['speedup']:.1f}x its process's eager loop, replay "
                 f"alone {w['replay_ms']:.2f} ms" + (f", eager update {w['update_ms']:.2f} ms" if "update_ms" in w
                                                     else "") + f"; losses vs eager: {diff})")
    return text


def _child(grid: str, way: str, dev: torch.device, steps: int, quick: bool) -> dict:
    """Run one (grid, way) in a fresh process; its row's way, or the failure its process ended with."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        argv = [sys.executable, "-m", "benchmarks.cuda_graph_probe", "--device", str(dev), "--grid", grid,
                "--steps", str(steps), "--way", way, "--json", str(out)] + (["--quick"] if quick else [])
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        if out.exists():
            (row,) = json.loads(out.read_text())["buckets"]
            if way in row:
                return row[way]
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"its process ended with exit {done.returncode}: {tail}"}


def probe(grids: Sequence[str], dev: torch.device, steps: int, quick: bool, way: str | None = None,
          save: Callable[[list[dict]], None] = lambda rows: None) -> list[dict]:
    """Every grid's eager row, then (on CUDA) each captured way per grid, each in its own process (`_child`);
    `way` runs that one way here instead (the child's side). `save` gets the rows after each addition."""
    rows = []
    for g in grids:
        row, eager = eager_row(g, dev, steps, quick)
        rows.append(row)
        if way is not None:
            row[way] = graph_way(row, eager, way, dev, quick)
        save(rows)
    if dev.type == "cuda" and way is None:
        for w in WAYS:
            for row in rows:
                row[w] = _child(row["grid"], w, dev, steps, quick)
                save(rows)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineParser(prog="python -m benchmarks.cuda_graph_probe", description=__doc__.split("\n\n")[0],
                      raise_errors=False)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--grid", nargs="+", default=["G1", "G2"], choices=("G1", "G2"))
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--quick", action="store_true", help="smoke sizes (seconds)")
    p.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)  # one captured way, in a child process
    p.add_argument("--json", metavar="OUT", help="write every number to this JSON file (after each bucket and way)")
    args = p.parse_args(argv)
    if args.steps < MIN_STEPS:
        p.error(f"--steps must be >= {MIN_STEPS} (got {args.steps})")
    problem = args.json is not None and output_file_problem(args.json)
    if problem:
        p.error(f"--json: {problem}")
    try:
        dev = resolve_device(args.device)
    except SyntheticError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.way is not None and dev.type != "cuda":
        p.error("--way needs CUDA")
    print(f"device: {device_name(dev)}" + ("" if dev.type == "cpu" else
                                           f", torch {torch.__version__}, {torch.get_num_threads()} host threads"))

    def save(rows: list[dict]) -> None:
        if args.json:
            Path(args.json).write_text(json.dumps({"device": str(dev), "device_name": device_name(dev),
                                                   "torch": torch.__version__, "buckets": rows}, indent=2))

    rows = probe(args.grid, dev, args.steps, args.quick, args.way, save)
    for row in rows:
        print(describe(row) + ("" if dev.type == "cuda" else "; graphs need CUDA"))
    if args.json:
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
