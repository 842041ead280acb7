"""Would compiling the whole training step pay? The engine's step on one bucket, eager against `torch.compile`.

    python -m benchmarks.compiled_step --width 64 --depth 4 2 1 --batch 32 --steps 20 --threads 1   # a G2 quick bucket
    python -m benchmarks.compiled_step --grid G1 --width 64 --depth 2 --runs 8 --batch 32 --steps 20 --threads 1

Three variants train the same bucket from the same init on the same batches (no measurements):
- `eager`: the engine's step as `train_bucket` runs it (eager update);
- `eager + fused update`: the same with `OptimConfig.fused` (the update as one compiled kernel per rule);
- `compiled step`: forward and loss through `torch.compile` (AOTAutograd compiles the backward too), then the fused
  update. The compiled forward uses autograd's own split of the packed hidden groups (no `_SplitInto`/`_BlockLinear`,
  which write into buffers behind autograd's back).
Prints the one-time compile seconds, the steady per-step milliseconds (best of `--repeats` timings of `--steps`
steps), and the largest relative difference of any run's loss from the eager variant's over the steps.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from typing import Callable, Sequence

import torch

from benchmarks.grids import FULL
from synthetic.config import RunConfig
from synthetic.engine import build, full_precision, per_run_loss
from synthetic.errors import ConfigError, SyntheticError
from synthetic.inductor_cache import separate_inductor_cache
from synthetic.rules.base import require_compiler
from theory.cli import OneLineParser


def bucket_runs(grid: str, width: int, depths: Sequence[int], runs: int, batch: int, steps: int) -> list[RunConfig]:
    """`runs` runs per depth from the grid's run settings (its learning rates cycled), deepest first."""
    out = []
    for depth in sorted(depths, reverse=True):
        spec = replace(FULL[grid], widths=(width,), depths=(depth,), steps=steps, batch=batch)
        out += [replace(r, seed=i) for i, r in enumerate((spec.runs() * runs)[:runs])]
    return out


class Trainer:
    """One bucket's model, optimizer and data, stepped by `step()`; `losses` collects each step's per-run losses."""

    def __init__(self, runs: list[RunConfig], compiled: bool, fused: bool) -> None:
        from synthetic.data import make_data_source

        runs = [replace(r, optim=replace(r.optim, fused=fused)) for r in runs]
        cfg = runs[0]
        self.model, self.opt = build(runs, torch.device("cpu"))
        if not compiled:
            self.model.reuse_grad_buffers()
        self.data = make_data_source(cfg.data, d_in=cfg.model.d_in, d_out=cfg.model.d_out, loss=cfg.loss,
                                     batch_size=cfg.batch_size, seeds=[r.seed for r in runs],
                                     device=torch.device("cpu"), dtype=torch.float32)
        self.names = list(self.model.params)
        self.alive = torch.ones(len(runs), dtype=torch.bool)
        self.loss_kind = cfg.loss
        forward: Callable = self._loss
        if compiled:
            separate_inductor_cache()
        self.forward = torch.compile(forward, dynamic=False) if compiled else forward
        self.t = 0
        self.losses: list[torch.Tensor] = []

    def _loss(self, params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return per_run_loss(self.loss_kind, self.model.forward(params, x)[0], y)

    def step(self) -> None:
        x, y = self.data.train_batch(self.t)
        loss = self.forward(self.model.params, x, y)
        grads = self.model.gradients(loss.sum(), self.names)
        self.opt.step(dict(zip(self.names, grads)), self.alive)
        self.losses.append(loss.detach())
        self.t += 1


def measure(runs: list[RunConfig], compiled: bool, fused: bool, steps: int, repeats: int) -> dict:
    with full_precision():
        start = time.perf_counter()
        tr = Trainer(runs, compiled, fused)
        tr.step()  # compiles, where anything is compiled
        first = time.perf_counter() - start
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(steps):
                tr.step()
            best = min(best, (time.perf_counter() - start) / steps)
    return {"first_s": first, "step_ms": best * 1e3, "losses": torch.stack(tr.losses)}


def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineParser(prog="python -m benchmarks.compiled_step", description=__doc__.split("\n\n")[0],
                      raise_errors=False)
    p.add_argument("--grid", default="G2", choices=("G1", "G2"), help="grid whose run settings are used")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, nargs="+", default=[4, 2, 1], help="depth(s); several make a ragged bucket")
    p.add_argument("--runs", type=int, default=1, help="runs per depth")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=20, help="steps per timing")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int)
    args = p.parse_args(argv)
    if min(args.width, *args.depth, args.runs, args.batch, args.steps, args.repeats) < 1 or (
            args.threads is not None and args.threads < 1):
        print("error: --width, --depth, --runs, --batch, --steps, --repeats and --threads must be >= 1",
              file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        require_compiler()
        runs = bucket_runs(args.grid, args.width, args.depth, args.runs, args.batch, args.steps)
        print(f"{args.grid} width {args.width} depths {args.depth} × {args.runs} runs, batch {args.batch}, "
              f"{torch.get_num_threads()} threads, torch {torch.__version__}")
        base = None
        for label, compiled, fused in (("eager", False, False), ("eager + fused update", False, True),
                                       ("compiled step", True, True)):
            r = measure(runs, compiled, fused, args.steps, args.repeats)
            if base is None:
                base = r
            diff = ((r["losses"] - base["losses"]).abs() / base["losses"].abs()).max().item()
            print(f"  {label:22s}: first step {r['first_s']:7.3f} s, then {r['step_ms']:7.3f} ms/step "
                  f"({base['step_ms'] / r['step_ms']:.2f}x eager), max relative loss difference {diff:.1e}")
    except (SyntheticError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
