"""Would replaying the training step as a CUDA graph lift the GPU targets? A measurement, not an engine path.

    python -m benchmarks.cuda_graph_probe --device cuda [--steps 60] [--json OUT]

The GPU step is host-bound at small widths (BENCHMARKS.md, "NVIDIA H200"): hundreds of kernel launches per step, each
costing more host time than its device work. This probe takes the smallest bucket of each benchmark grid (G1 width
128: 32 runs of depth 8; G2 width 64: depths 2–64, one run each) and trains it `--steps` steps from the same init
three ways, each with the engine's own pieces (synthetic.engine.build, its data source, forward, loss, gradients
and StackedOptimizer.step):

- eager: each step as synthetic.engine._train makes it (on a CPU its losses equal the engine's bit for bit:
  tests/test_cuda_graph_probe.py);
- graph: forward, loss and backward captured once as a CUDA graph and replayed each step after the batch is copied
  into the graph's input; the data and the optimizer step stay eager;
- graph+update: the optimizer step captured as well. Its step-dependent numbers (AdamW's bias corrections) are
  computed on the host from the step count, so a graph keeps their capture-time values; the probe reports whether
  the losses then part from eager's, which tells what a capturable update must change.

Prints the milliseconds per step of each way, of the replay alone and of the eager update alone, and each way's
largest relative difference from eager's losses. On a CPU only the eager way runs (graphs need CUDA).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, replace
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
            if with_update:
                loss, grads = p.forward_backward(*p.data.train_batch(t))
                p.update(grads)
                first.append(loss.clone())
            else:
                p.forward_backward(x, y)
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
"""The captured ways, each over every bucket before the next: a capture that fails cannot spoil the other way."""


def eager_row(grid: str, dev: torch.device, steps: int, quick: bool) -> tuple[dict, Tensor]:
    runs = bucket(grid, quick, steps)
    row = {"grid": grid, "width": runs[0].model.width, "depths": sorted({r.model.depth for r in runs}),
           "runs": len(runs), "steps": steps}
    with full_precision():
        losses, row["eager_ms"] = train_eager(runs, dev, steps)
    return row, losses


def graph_way(row: dict, eager: Tensor, way: str, dev: torch.device, quick: bool) -> dict:
    """One captured way on the row's bucket, against its eager losses; a failed capture is a finding (one line)."""
    runs = bucket(row["grid"], quick, row["steps"])
    try:
        with full_precision():
            res = train_graph(runs, dev, row["steps"], with_update=way == "graph_update")
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"}
    out = {k: v for k, v in res.items() if k != "losses"}
    out["max_rel_diff"] = max_rel_diff(res["losses"], eager)
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
            text += f"; {way}: capture failed ({w['error']})"
            continue
        text += (f"; {way} {w['ms_per_step']:.2f} ms/step ({w['speedup']:.1f}x, replay alone {w['replay_ms']:.2f} ms"
                 + (f", eager update {w['update_ms']:.2f} ms" if "update_ms" in w else "")
                 + f"; losses vs eager: max rel diff {w['max_rel_diff']:.2e})")
    return text


def probe(grids: Sequence[str], dev: torch.device, steps: int, quick: bool) -> list[dict]:
    rows = [eager_row(g, dev, steps, quick) for g in grids]
    if dev.type == "cuda":
        for way in WAYS:
            for row, eager in rows:
                row[way] = graph_way(row, eager, way, dev, quick)
    return [row for row, _ in rows]


def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineParser(prog="python -m benchmarks.cuda_graph_probe", description=__doc__.split("\n\n")[0],
                      raise_errors=False)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--grid", nargs="+", default=["G1", "G2"], choices=("G1", "G2"))
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--quick", action="store_true", help="smoke sizes (seconds)")
    p.add_argument("--json", metavar="OUT", help="write every number to this JSON file")
    args = p.parse_args(argv)
    if args.steps < 2:
        p.error(f"--steps must be >= 2 (got {args.steps})")
    problem = args.json is not None and output_file_problem(args.json)
    if problem:
        p.error(f"--json: {problem}")
    try:
        dev = resolve_device(args.device)
    except SyntheticError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"device: {device_name(dev)}" + ("" if dev.type == "cpu" else
                                           f", torch {torch.__version__}, {torch.get_num_threads()} host threads"))
    rows = probe(args.grid, dev, args.steps, args.quick)
    for row in rows:
        print(describe(row) + ("" if dev.type == "cuda" else "; graphs need CUDA"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": str(dev), "device_name": device_name(dev), "torch": torch.__version__,
                       "buckets": rows}, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
