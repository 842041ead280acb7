"""A coordinate check of any model (mup's `get_coord_data`, over width and depth): train each shape a few steps and
record the RMS of chosen activations and of their change since initialization, then fit their log-log slopes.

    records = coord_check(make_model, make_optimizer, widths=(64, 128, 256), depths=(2, 4, 8), batches=batches,
                          loss_fn=F.mse_loss, watch=lambda model: {"h_L": model.final}, steps=5, seeds=(0, 1, 2))
    slopes(records, over="width", quantity="rms")             # {(module, step): FitResult}

`make_model(width, depth, seed)` builds a model with its parameterization applied (synthetic.parameterize),
`make_optimizer(model, width, depth)` its optimizer, `batches(seed, t)` the (x, y) of step t, and `watch(model)`
names the modules whose outputs are recorded (forward hooks). Per step t (t = 0 before any update): "rms", the RMS
of the module's output on step t's batch, and "delta_rms", the RMS of its output on a fixed probe batch (step 0's)
minus the same at initialization. Slopes are `synthetic.fit.loglog_fit` over seeds (a t-interval over per-seed
slopes); at fixed width the depths average out of a width slope only on a full grid, which this always is.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

from synthetic.fit import FitResult, loglog_fit


def _rms(t: torch.Tensor) -> float:
    return float(t.detach().double().pow(2).mean().sqrt())


def coord_check(make_model: Callable[[int, int, int], nn.Module],
                make_optimizer: Callable[[nn.Module, int, int], torch.optim.Optimizer], *,
                widths: Sequence[int], depths: Sequence[int], batches: Callable[[int, int], tuple],
                loss_fn: Callable, watch: Callable[[nn.Module], Mapping[str, nn.Module]], steps: int = 5,
                seeds: Iterable[int] = (0, 1, 2)) -> list[dict]:
    """Tidy records {width, depth, seed, step, module, quantity, value} of every shape, seed and step."""
    records: list[dict] = []
    for width in widths:
        for depth in depths:
            for seed in seeds:
                records += _one(make_model(width, depth, seed), make_optimizer, width, depth, seed, batches,
                                loss_fn, watch, steps)
    return records


def _one(model, make_optimizer, width, depth, seed, batches, loss_fn, watch, steps) -> list[dict]:
    opt = make_optimizer(model, width, depth)
    seen: dict[str, torch.Tensor] = {}
    handles = [m.register_forward_hook(lambda mod, args, out, name=name: seen.__setitem__(name, out))
               for name, m in watch(model).items()]
    probe_x, _ = batches(seed, 0)

    def probe() -> dict[str, torch.Tensor]:
        with torch.no_grad():
            model(probe_x)
        return {k: v.detach().clone() for k, v in seen.items()}

    out: list[dict] = []
    row = {"width": width, "depth": depth, "seed": seed}
    try:
        init = probe()
        for t in range(steps + 1):
            x, y = batches(seed, t)
            loss = loss_fn(model(x), y)
            out += [{**row, "step": t, "module": k, "quantity": "rms", "value": _rms(v)} for k, v in seen.items()]
            now = probe() if t else init
            out += [{**row, "step": t, "module": k, "quantity": "delta_rms", "value": _rms(now[k] - init[k])}
                    for k in now]
            if t < steps:
                opt.zero_grad()
                loss.backward()
                opt.step()
    finally:
        for h in handles:
            h.remove()
    return out


def slopes(records: Sequence[dict], *, over: str, quantity: str = "rms",
           steps: Iterable[int] | None = None) -> dict[tuple[str, int], FitResult]:
    """(module, step) -> the log-log slope of `quantity` against `over` ("width" or "depth") with its interval over
    seeds; steps with a zero value (delta_rms at step 0) are left out."""
    keys = sorted({(r["module"], r["step"]) for r in records if r["quantity"] == quantity
                   and (steps is None or r["step"] in set(steps))})
    fits = {}
    for module, step in keys:
        rows = [r for r in records if r["quantity"] == quantity and r["module"] == module and r["step"] == step]
        if all(r["value"] > 0 for r in rows):
            fits[(module, step)] = loglog_fit([r[over] for r in rows], [r["value"] for r in rows],
                                              groups=[r["seed"] for r in rows])
    return fits
