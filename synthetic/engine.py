"""Batched trainer: one stacked model per bucket of runs, measurements kept on the device until the end.

`train_bucket(runs)` trains runs that share `bucket_key()` (same width and shapes but depth, optimizer family, data
kind, steps, measurements) as one stacked model; they may differ in depth (a ragged bucket, synthetic.models
.BlockLayout: runs are trained deepest first and returned in the order given), `base`, `seed`, `parameterization` and
`schedule`. Each run gets its own init (its seed), its own data stream (its seed), and its own multipliers, lr, wd
and eps (theory.bridge).

The step: forward all M runs, per-run loss vector [M], gradient of its sum (so runs never mix), per-run divergence
check on the device (`diverged_at` = first step whose loss is NaN/inf or above `DIVERGENCE_FACTOR`·(1 + the step-0
loss); from then the run is frozen: its weights stop changing and its numbers never reach another run), stacked
optimizer update. Nothing in the step synchronises with the host. Step t = `steps` is executed only when it is a
measurement step (to measure ΔW and Δh at T); its update is never used for anything else.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from synthetic.config import RunConfig
from synthetic.cpu_cache import chunk_candidates, runs_per_chunk
from synthetic.device import resolve_device
from synthetic.errors import ConfigError
from synthetic.measure import Measurer
from synthetic.groups import Group
from synthetic.heap import keep_freed_memory
from synthetic.models import Capture, StackedResidualNet, group_role
from synthetic.optim import StackedOptimizer, role_rules, run_hparams
from synthetic.rules.sophia import gnb_generators, gnb_targets
from synthetic.records import SCHEMA_VERSION, Record
from synthetic.runwise import reduce_per_run, run_by_run
from synthetic.schedule import factor_table
from synthetic.version import ACTIVATION_VERSIONS, DIVERGENCE_FACTOR, ENGINE_VERSION, LOSS_VERSIONS

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class RunResult:
    config: RunConfig
    run_id: str
    records: list[Record]
    diverged_at: int | None
    trained_on: dict | None = field(default=None, compare=False)
    """Where the run was trained (device, torch threads, CPU model: synthetic.provenance.trained_on), as its cache
    entry records it; None for an entry written before it was recorded. Not part of the result's identity."""


def run_id(config: RunConfig) -> str:
    """sha256 of the canonical config JSON, the records schema version, the engine version, the version of every
    measured quantity, loss and activation past its first and the identity of every update rule that declares one or
    comes from outside this package (`synthetic.rules.rule_identity`), so a run trained or measured by other code is
    never served from the cache."""
    from synthetic.quantities import get_quantity
    from synthetic.rules import get_rule, role_rules
    from synthetic.rules.base import rule_identity

    bumped = "".join(f"|{q}@{v}" for q in sorted(set(config.measurements))
                     if (v := get_quantity(q).version) > 1)
    bumped += "".join(f"|rule:{r}@{v}" for r in sorted(set(role_rules(config.optim.name).values()))
                      if (v := rule_identity(get_rule(r))) is not None)
    if (v := LOSS_VERSIONS.get(config.loss, 1)) > 1:
        bumped += f"|loss:{config.loss}@{v}"
    if (v := ACTIVATION_VERSIONS.get((config.model.activation, config.dtype), 1)) > 1:
        bumped += f"|act:{config.model.activation}:{config.dtype}@{v}"
    return hashlib.sha256((config.canonical_json() + SCHEMA_VERSION + ENGINE_VERSION + bumped).encode()).hexdigest()


@contextlib.contextmanager
def full_precision() -> Iterator[None]:
    """TF32 off for the duration (float32 measurements feed exponent fits)."""
    saved = (torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[1], saved[2]


def per_run_loss(kind: str, out: Tensor, y: Tensor) -> Tensor:
    """Mean loss of each run over its batch: out [M, B, d_out] -> [M]. bce runs run by run on a CPU
    (`synthetic.runwise`; `synthetic.version.LOSS_VERSIONS`); mse's and ce's kernels round every element alike."""
    if kind == "mse":
        return reduce_per_run(lambda d: d.square().mean(dim=(1, 2)), out - y)
    if kind == "bce":
        return run_by_run(lambda o, t: F.binary_cross_entropy_with_logits(o, t, reduction="none").mean(dim=(-2, -1)),
                          out, y)
    if kind == "ce":
        return reduce_per_run(lambda c: c.mean(dim=1), F.cross_entropy(out.transpose(1, 2), y, reduction="none"))
    raise ConfigError(f"unknown loss {kind!r}")


def build(runs: Sequence[RunConfig], device: torch.device) -> tuple[StackedResidualNet, StackedOptimizer]:
    """The stacked model and optimizer of a bucket (runs deepest first), every number from theory.bridge."""
    first = runs[0]
    hps = [run_hparams(r) for r in runs]
    roles = list(hps[0])
    multipliers = {r: [h[r].multiplier for h in hps] for r in roles}
    init_vars = {r: [h[r].init_var for h in hps] for r in roles}
    model = StackedResidualNet(first.model, multipliers, init_vars, [r.seed for r in runs], device=device,
                               dtype=DTYPES[first.dtype], bias_init_zero=first.bias_init_zero,
                               depths=[r.model.depth for r in runs])
    rules = role_rules(first.optim.name)
    group_rules = {g: rules[group_role(g)] for g in model.params}
    group_hps = {g: {hp: [getattr(h[group_role(g)], hp) for h in hps] for hp in ("lr", "wd", "eps")}
                 for g in model.params}
    row_runs = {g: model.layout.row_runs() for g in model.params if Group.of(g).stacked_over_blocks}
    return model, StackedOptimizer(model.params, group_rules, group_hps, first.optim, row_runs)


def _gnb_hessian(loss_kind: str, opt: StackedOptimizer, model: StackedResidualNet, names: list[str], out: Tensor,
                 gens, t: int) -> None:
    """Gauss–Newton–Bartlett Hessian diagonal (synthetic.rules.sophia): ĥ = N·ĝ², ĝ the gradient of each run's loss at
    labels sampled from its own predictive distribution; one extra backward on the step's graph."""
    y_hat, n_terms = gnb_targets(loss_kind, out, gens)
    g_hat = model.gradients(per_run_loss(loss_kind, out, y_hat).sum(), names)
    opt.set_hessian({g: n_terms * gh.detach() * gh.detach() for g, gh in zip(names, g_hat)}, t)


def train_bucket(runs: Sequence[RunConfig], device: str | torch.device = "cpu", data_source=None,
                 on_step: Callable[[int], None] | None = None) -> list[RunResult]:
    """Train runs sharing one bucket key as one stacked model; returns one RunResult per run, in order.

    `data_source` (optional) follows synthetic.data's protocol: `train_batch(step) -> (x [M,B,d_in], y)`,
    `test_set() -> (x [M,N,d_in], y)`; by default `synthetic.data.make_data_source` builds it from the runs' seeds.
    `on_step(n)` (optional) is called on the host after each training step of n runs (a progress display; it reads
    nothing from the device)."""
    runs = list(runs)
    if not runs:
        return []
    for r in runs:
        r.validate()
    key = runs[0].bucket_key()
    if any(r.bucket_key() != key for r in runs[1:]):
        raise ConfigError("runs in one bucket must differ only in depth, base, seed, parameterization and schedule")
    dev = resolve_device(device)
    if dev.type == "cpu":
        keep_freed_memory()
    order = sorted(range(len(runs)), key=lambda i: -runs[i].model.depth)  # deepest first (BlockLayout), stable
    if data_source is not None and order != list(range(len(runs))):
        raise ConfigError("a bucket given its own data source must list its runs deepest first")
    ordered = [runs[i] for i in order]
    with full_precision(), torch.random.fork_rng(devices=[]):
        if data_source is None:
            results = [res for _, chunk_results in train_in_chunks(ordered, dev, on_step) for res in chunk_results]
        else:
            results = _train(ordered, dev, data_source, on_step)
    out: list[RunResult] = [None] * len(runs)  # type: ignore[list-item]
    for i, res in zip(order, results):
        out[i] = res
    return out


CPU_CHUNKS = True
"""On a CPU, train a bucket in chunks of consecutive runs (synthetic.cpu_cache; the same numbers; False, and any GPU:
the whole bucket at once)."""
MIN_TIMED_STEPS = 4
"""A bucket with fewer steps than this is not timed: it trains in chunks of `synthetic.cpu_cache.runs_per_chunk`."""
_CHUNK_SIZES: dict[str, int] = {}
"""The chunk size this process found fastest per bucket key (`train_in_chunks`)."""


def l2_chunk_size(runs: Sequence[RunConfig], dev: torch.device) -> int | None:
    """None where a bucket trains whole on this device (off a CPU, L2 size unknown, or every run's block fits L2
    together: `synthetic.cpu_cache.runs_per_chunk`); otherwise the L2 rule's runs per chunk."""
    if dev.type != "cpu" or not CPU_CHUNKS:
        return None
    m = runs[0].model
    fit = runs_per_chunk(runs[0].batch_size, max(m.width, m.hidden_width), DTYPES[runs[0].dtype].itemsize)
    return None if fit is None or fit >= len(runs) else fit


def chunk_sizes_to_try(runs: Sequence[RunConfig], dev: torch.device) -> tuple[int, ...]:
    """`synthetic.cpu_cache.chunk_candidates` whose chunk of the bucket's largest runs fits the device's memory
    (synthetic.estimate); (1,) where none does."""
    from synthetic.estimate import available_bytes, run_bytes

    have, per_run = available_bytes(dev), max(run_bytes(r) for r in runs)
    return tuple(k for k in chunk_candidates(len(runs)) if have is None or k * per_run <= have) or (1,)


def largest_cpu_chunk(runs: Sequence[RunConfig], dev: torch.device) -> int:
    """The most runs `train_in_chunks` may put in one chunk, known without timing anything (for memory estimates):
    every chunk of a bucket it cuts is at most the largest size it may try."""
    return len(runs) if l2_chunk_size(runs, dev) is None else chunk_sizes_to_try(runs, dev)[-1]


def found_chunk_size(run: RunConfig) -> int | None:
    """The chunk size this process's search kept for `run`'s bucket key; None where none was searched."""
    return _CHUNK_SIZES.get(run.bucket_key())


def forget_chunk_sizes() -> None:
    """Forget the chunk sizes this process has found (a benchmark charges each timing its own search)."""
    _CHUNK_SIZES.clear()


def train_in_chunks(runs: list[RunConfig], dev: torch.device,
                    on_step: Callable[[int], None] | None = None) -> Iterator[tuple[list[RunConfig], list[RunResult]]]:
    """Train a bucket (deepest run first) in consecutive chunks on this device, yielding each chunk with its results.

    Where the bucket trains whole (`l2_chunk_size`) that is one chunk. Otherwise, the first time this process meets the
    bucket's key, its first runs train in one chunk of each size 1, 2, 4, … that the bucket still holds
    (`chunk_sizes_to_try`), each timed by its median step time per run-block; the rest, and every later bucket of that
    key, train in chunks of the fastest size (with fewer than MIN_TIMED_STEPS steps: the L2 rule's size, at most the
    largest size it may try). The search never stops early: on a VM one chunk's steps can all run 20% slow (G1 at
    width 256 on a Zen 3 EPYC once timed chunks of 2 slower than single runs, which otherwise measured 5–9% faster).
    The search is real training, so it costs only the time of its slower chunks, and chunking changes no number
    (tests/test_bucket_independence.py)."""
    fit = l2_chunk_size(runs, dev)
    if fit is None:
        yield runs, _train(runs, dev, None, on_step)
        return
    key = runs[0].bucket_key()
    start = 0
    if key not in _CHUNK_SIZES and runs[0].steps >= MIN_TIMED_STEPS:
        best: tuple[float, int] | None = None
        for k in chunk_sizes_to_try(runs, dev):
            if start + k > len(runs):
                break
            chunk, stamps = runs[start:start + k], []
            yield chunk, _train(chunk, dev, None, _stamping(stamps, on_step))
            start += k
            seconds = statistics.median(b - a for a, b in zip(stamps, stamps[1:])) / sum(r.model.depth for r in chunk)
            if best is None or seconds < best[0]:
                best = (seconds, k)
        _CHUNK_SIZES[key] = best[1] if best is not None else fit
    size = min(_CHUNK_SIZES.get(key, fit), chunk_sizes_to_try(runs, dev)[-1])
    for i in range(start, len(runs), size):
        yield runs[i:i + size], _train(runs[i:i + size], dev, None, on_step)


def _stamping(stamps: list[float], on_step: Callable[[int], None] | None) -> Callable[[int], None]:
    def step(n: int) -> None:
        stamps.append(time.perf_counter())
        if on_step is not None:
            on_step(n)
    return step


class _RunSlice:
    """The runs m0 … m1 − 1 of a bucket that share one depth, seen as a bucket of their own by a `Measurer`: their
    parameters with the hidden groups unpacked to [runs, L, …], and their slice of a step's capture."""

    def __init__(self, model: StackedResidualNet, cfg, m0: int, m1: int) -> None:
        self.model, self.cfg, self.m0, self.m1 = model, cfg, m0, m1
        self.M, self.device, self.dtype = m1 - m0, model.device, model.dtype
        self.whole = m0 == 0 and m1 == model.M and cfg.depth == model.cfg.depth

    @property
    def params(self) -> dict[str, Tensor]:
        """The slice's current parameters (hidden groups a fresh [runs, L, …] copy; read by the Measurer at set-up)."""
        return self.of(self.model.params)

    def of(self, params: dict[str, Tensor], copy: bool = False) -> dict[str, Tensor]:
        out = {}
        for g, p in params.items():
            p = p.detach()
            if Group.of(g).stacked_over_blocks:
                out[g] = self.model.unpacked(params, g, self.m0, self.m1, self.cfg.depth)
            else:
                v = p if self.whole else p.narrow(0, self.m0, self.M)
                out[g] = v.clone() if copy else v
        return out

    def rows(self, x: Tensor) -> Tensor:
        return x if self.whole else x.narrow(0, self.m0, self.M)

    def capture(self, cap: Capture | None) -> Capture | None:
        if cap is None:
            return None
        L = self.cfg.depth
        part = Capture()
        for name in ("inputs", "preacts", "outputs"):
            d = getattr(part, name)
            for g, xs in getattr(cap, name).items():
                d[g] = [self.rows(x) for x in (xs[:L] if Group.of(g).stacked_over_blocks else xs)]
        part.features = [self.rows(h) for h in cap.features[: L + 1]] + [self.rows(cap.features[-1])]
        return part


def _train(runs: list[RunConfig], dev: torch.device, data_source, on_step=None) -> list[RunResult]:
    cfg = runs[0]
    model, opt = build(runs, dev)
    model.reuse_grad_buffers()
    if data_source is None:
        from synthetic.data import make_data_source
        data_source = make_data_source(cfg.data, d_in=cfg.model.d_in, d_out=cfg.model.d_out, loss=cfg.loss,
                                       batch_size=cfg.batch_size, seeds=[r.seed for r in runs], device=dev,
                                       dtype=DTYPES[cfg.dtype])
    measure_at = set(cfg.measure_at)
    quantities = set(cfg.measurements) | {"loss"}
    n_iter = cfg.steps + (1 if cfg.steps in measure_at else 0)
    M = len(runs)
    loss_buf = torch.full((n_iter, M), math.nan, dtype=DTYPES[cfg.dtype], device=dev)
    slices = [_RunSlice(model, runs[m0].model, m0, m1) for m0, m1, _ in model.layout.depth_groups()]
    meters = []
    for s in slices:
        meters.append(Measurer(s, sorted(quantities), sorted(measure_at), n_iter, [r.seed for r in runs[s.m0:s.m1]],
                               loss_buffer=loss_buf[:, s.m0:s.m1]))
    first = meters[0]
    test = data_source.test_set() if first.need_test else None
    w0 = ({g: p.detach().clone() for g, p in model.params.items()} if first.need_init_forward else None)
    names = list(model.params)
    weight_groups = [g for g in names if not Group.of(g).is_bias]
    lr_scale = factor_table([r.schedule for r in runs], cfg.steps, n_iter, dev, DTYPES[cfg.dtype])
    alive = torch.ones(M, dtype=torch.bool, device=dev)
    gnb_gens = gnb_generators([r.seed for r in runs], dev) if opt.hessian_every is not None else None
    diverged = torch.full((M,), -1, dtype=torch.int64, device=dev)

    for t in range(n_iter):
        x, y = data_source.train_batch(t)
        measuring = t in measure_at
        out, cap = model.forward(model.params, x, capture=measuring)
        loss = per_run_loss(cfg.loss, out, y)
        zs: list[Tensor] = []
        if measuring and first.need_zgrad:
            zs = [z for g in weight_groups for z in cap.preacts[g]]
        hessian = opt.hessian_due(t)
        grads = model.gradients(loss.sum(), names, zs, retain_graph=hessian)
        if hessian:  # the second backward reuses the hidden gradient buffers: keep this step's gradients apart
            grads = tuple(g.clone() for g in grads)
            _gnb_hessian(cfg.loss, opt, model, names, out, gnb_gens, t)
        loss = loss.detach()
        loss_buf[t].copy_(loss)
        for s, meas in zip(slices, meters):
            if meas.needs_loss_step:
                meas.loss_step(t, s.rows(loss))
        if t == 0:
            limit = DIVERGENCE_FACTOR * (1.0 + torch.nan_to_num(loss, nan=0.0, posinf=0.0))
        ok = loss <= limit  # False for NaN
        diverged.masked_fill_(alive > ok, t)  # alive and not ok: diverges at this step
        alive = alive & ok
        if first.pi:
            for s, meas in zip(slices, meters):
                meas.pi_step(t, s.of(model.params))
        before = None
        if measuring:
            zparts = None
            if zs:
                zparts, it = {}, iter(grads[len(names):])
                for g in weight_groups:
                    zparts[g] = [next(it) for _ in cap.preacts[g]]
            test_loss = None
            if test is not None:
                with torch.no_grad():
                    test_loss = per_run_loss(cfg.loss, model.forward(model.params, test[0])[0], test[1])
            cap_init = None
            if w0 is not None:
                # h(x_t; W_0) on the step's batch; at t = 0 the weights are W_0, so the step's own capture serves
                with torch.no_grad():
                    cap_init = cap if t == 0 else model.forward(w0, x, capture=True)[1]
            before = []
            for s, meas in zip(slices, meters):
                zgrads = None
                if zparts is not None:
                    zgrads = {g: (torch.stack([s.rows(z) for z in parts[: s.cfg.depth]], dim=1)
                                  if Group.of(g).stacked_over_blocks else s.rows(parts[0]))
                              for g, parts in zparts.items()}
                w_t = s.of(model.params, copy=meas.need_snapshot)
                meas.pre(t, w_t, s.capture(cap), zgrads, None if test_loss is None else s.rows(test_loss),
                         s.capture(cap_init))
                before.append(w_t if meas.need_snapshot else None)
        opt.step(dict(zip(names, grads[: len(names)])), alive, None if lr_scale is None else lr_scale[t])
        if on_step is not None and t < cfg.steps:
            on_step(M)
        if measuring:
            cap_next = None
            if first.need_post_forward:
                with torch.no_grad():
                    cap_next = model.forward(model.params, x, capture=True)[1]
            for s, meas, w_prev in zip(slices, meters, before):
                meas.post(t, w_prev, s.of(model.params), s.capture(cap), s.capture(cap_next))

    div = [None if d < 0 else int(d) for d in diverged.cpu().tolist()]
    ids = [run_id(r) for r in runs]
    recs: list[list[Record]] = []
    for s, meas in zip(slices, meters):
        recs += meas.records(ids[s.m0:s.m1], div[s.m0:s.m1], n_iter, cfg.measure_layers)
    return [RunResult(r, i, rec, d) for r, i, rec, d in zip(runs, ids, recs, div)]
