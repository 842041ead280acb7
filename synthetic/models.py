"""Stacked residual MLPs: M runs of one width (any depths) trained as one model (weights [M, out, in], forward by
batched matmul).

Network (Zheng et al. Eq. 2 / Eq. 28, general k, optional biases and pre-norm):

    h_0     = α_0 · φ_in(W_0 x + b_0)
    h_l     = h_{l-1} + α_l · φ_br(W_l^(k) φ(… φ(W_l^(1) norm(h_{l-1}) + b_l^(1)) …) + b_l^(k)),   l = 1..L
    out     = α_{L+1} · W_{L+1} norm_f(h_L)

φ acts between the k maps; φ_in / φ_br (the same activation) only when `act_after_input` / `act_after_branch`;
`norm` is RMSNorm / LayerNorm without learnable parameters (torch's default epsilon); `norm_f` is the identity unless
`final_norm` (then the `norm` kind, RMSNorm when `norm` is "none"; `ModelConfig.final_norm_kind`). A bias sits inside
its block's multiplier, so the bridge's bias-role multipliers are not used. Identity activation gives a deep linear
network.

Parameters are grouped by role so the optimizer touches few tensors: `"input"` [M, n, d_in], `"hidden.{i}"`
[P, out_i, in_i] (map i of every block of every run, packed), `"output"` [M, d_out, n], and when `bias`:
`"input_bias"` [M, n], `"hidden_bias.{i}"` [P, out_i]. Each run draws its init from its own CPU `torch.Generator`
seeded with the run seed (float64 normals scaled by the bridge's σ, then cast), so a run's init is independent of its
bucket, device and dtype.

Ragged depth: the runs of a bucket may differ in depth, sorted deepest first (`depths` non-increasing). Block l is
applied to the runs still active there, a prefix of M_l runs, so the hidden groups are packed block-major: rows
`BlockLayout.rows(l)` = [s_l, s_l + M_l) hold block l of runs 0 … M_l − 1, P = Σ_l M_l = Σ_m L_m. Every block's
weights are a contiguous view of its rows, no block is padded, and a bucket of equal depths is the case M_l = M.
A run's numbers do not depend on the depths of its companions (tests/test_bucket_independence.py).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from synthetic import groups, runwise
from synthetic.config import ModelConfig
from synthetic.groups import Group

def group_role(group: str) -> str:
    """Role (theory vocabulary) of a parameter group key such as "hidden.2" or "hidden_bias.1"."""
    return Group.of(group).role


def weight_groups(k: int) -> list[str]:
    return [g.key for g in groups.weight_groups(k)]


def bias_groups(k: int) -> list[str]:
    return [g.key for g in groups.bias_groups(k)]


def group_layer_names(group: str, depth: int) -> list[str]:
    """Layer names (records.py convention) of the matrices or biases stored in a parameter group."""
    return Group.of(group).layer_names(depth)


PARALLEL_INIT_MIN_NUMBERS = 1 << 18
"""A bucket's init is drawn on several threads from this many numbers on (~8 ms of one generator's float64 randn at
~35 M/s on the CPUs measured, against ~1 ms to start a thread pool)."""


@dataclass(frozen=True)
class BlockLayout:
    """Where block l of run m lives in a packed hidden group: row `start[l] + m`, for m < `active[l]`."""

    depths: tuple[int, ...]
    """Per run, non-increasing (deepest first)."""

    def __post_init__(self) -> None:
        if not self.depths or any(a < b for a, b in zip(self.depths, self.depths[1:])) or self.depths[-1] < 1:
            raise ValueError(f"depths must be positive and non-increasing (got {self.depths})")

    @property
    def M(self) -> int:
        return len(self.depths)

    @property
    def L(self) -> int:
        return self.depths[0]

    @property
    def active(self) -> tuple[int, ...]:
        """M_l: how many runs have a block l (0-based), l = 0 … L − 1."""
        return tuple(sum(1 for d in self.depths if d > l) for l in range(self.L))

    @property
    def start(self) -> tuple[int, ...]:
        out, s = [], 0
        for n in self.active:
            out.append(s)
            s += n
        return tuple(out)

    @property
    def P(self) -> int:
        return sum(self.depths)

    def row(self, m: int, l: int) -> int:
        if not (0 <= l < self.depths[m]):
            raise IndexError(f"run {m} has no block {l} (depth {self.depths[m]})")
        return self.start[l] + m

    def row_runs(self) -> list[int]:
        """The run of every packed row, in row order."""
        return [m for n in self.active for m in range(n)]

    def depth_groups(self) -> list[tuple[int, int, int]]:
        """(m0, m1, depth): the maximal ranges of runs sharing a depth, in run order."""
        out: list[tuple[int, int, int]] = []
        for m, d in enumerate(self.depths):
            if out and out[-1][2] == d:
                out[-1] = (out[-1][0], m + 1, d)
            else:
                out.append((m, m + 1, d))
        return out

    def rows_of(self, m0: int, m1: int, depth: int) -> list[int]:
        """Rows of runs m0 … m1 − 1, blocks 0 … depth − 1, run-major (the [m, l] order of an unpacked view)."""
        return [self.row(m, l) for m in range(m0, m1) for l in range(depth)]


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Per-run shape of every parameter group (without the leading M; hidden groups (L, …) of the run's own L)."""
    n, nh, L, k = cfg.width, cfg.hidden_width, cfg.depth, cfg.k
    shapes: dict[str, tuple[int, ...]] = {"input": (n, cfg.d_in)}
    for i in range(1, k + 1):
        fan_in = n if i == 1 else nh
        fan_out = n if i == k else nh
        shapes[f"hidden.{i}"] = (L, fan_out, fan_in)
    shapes["output"] = (cfg.d_out, n)
    if cfg.bias:
        shapes["input_bias"] = (n,)
        for i in range(1, k + 1):
            shapes[f"hidden_bias.{i}"] = (L, shapes[f"hidden.{i}"][1])
    return shapes


RUN_BY_RUN_ACTIVATIONS = {("gelu", "float64")}
"""(activation, dtype) pairs whose CPU kernel rounds by position (SIMD body, scalar tail), so they are applied run by
run (`synthetic.runwise.run_by_run`; `synthetic.version.ACTIVATION_VERSIONS`). Measured on the three kernel paths of
an AMD EPYC Zen 4 (tests/test_simd_tail.py); float32 GELU and ReLU round every element alike there."""


def activation_fn(name: str, dtype: torch.dtype = torch.float32):
    if name == "identity":
        return lambda z: z
    if name == "relu":
        return torch.relu
    if name == "gelu":
        if (name, str(dtype).removeprefix("torch.")) in RUN_BY_RUN_ACTIVATIONS:
            return lambda z: runwise.run_by_run(F.gelu, z)
        return F.gelu
    raise ValueError(f"unknown activation {name!r}")


@dataclass
class Capture:
    """What a forward pass saw, per weight group: layer inputs u, pre-activations z = W u + b, map outputs o = φ(z)
    (lists over blocks for hidden groups), and the residual-stream features h_0..h_L and the output."""

    inputs: dict[str, list[Tensor]] = field(default_factory=dict)
    preacts: dict[str, list[Tensor]] = field(default_factory=dict)
    outputs: dict[str, list[Tensor]] = field(default_factory=dict)
    features: list[Tensor] = field(default_factory=list)

    def add(self, group: str, u: Tensor, z: Tensor, o: Tensor) -> None:
        self.inputs.setdefault(group, []).append(u)
        self.preacts.setdefault(group, []).append(z)
        self.outputs.setdefault(group, []).append(o)

    @staticmethod
    def stacked(d: dict[str, list[Tensor]], group: str) -> Tensor:
        """[M, B, d] for input/output groups, [M, L, B, d] for hidden groups of a capture whose blocks all hold M runs
        (an equal-depth bucket, or one depth's slice of a ragged bucket's capture, engine._RunSlice)."""
        xs = d[group]
        return torch.stack(xs, dim=1) if Group.of(group).stacked_over_blocks else xs[0]


def _linear(u: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """u [M, B, in] @ w[M, out, in]ᵀ (+ b): one batched matmul for all M runs (a lone run through a stack of two
    where torch's CPU kernels would round it otherwise: `synthetic.runwise.matmul`)."""
    if b is None:
        return runwise.matmul(u, w.transpose(1, 2))
    return runwise.baddbmm(b.unsqueeze(1), u, w.transpose(1, 2))


class _SplitInto(torch.autograd.Function):
    """`w.split(sizes)` whose backward concatenates the per-block gradients into a caller-owned buffer instead of a
    fresh tensor (a fresh [P, out, in] allocation per step costs page faults on a CPU)."""

    @staticmethod
    def forward(ctx, w: Tensor, out: Tensor, sizes: tuple[int, ...]):
        ctx.out, ctx.sizes = out, sizes
        return w.split(sizes)

    @staticmethod
    def backward(ctx, *grads):
        parts = ctx.out.split(ctx.sizes)
        grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, parts)]
        return torch.cat(grads, dim=0, out=ctx.out), None, None


SPLIT_INTO_MIN_BYTES = 1024 * 1024
"""Packed hidden groups smaller than this are split into blocks by autograd's own `split` (its backward allocates the
gradient afresh) rather than by `_SplitInto`, whose Python forward and backward cost ~50 µs a step: 6% of a G2 quick
bucket step on a CPU. From 1 to 4 MiB the two measured the same (±3%, G1-like buckets at one thread); the buffer is
kept above, where a fresh allocation per step costs page faults on a CPU. Both give the same gradients bit for bit
(tests/test_optim_reference.py)."""

DIRECT_MIN_ELEMENTS = 128 * 128
"""Hidden matrices smaller than this keep autograd's product and copy: there the copy is cheaper than the Python
overhead of one `_BlockLinear` per block. Which side of it a run's matrices fall on does not depend on its bucket;
moving it changes numbers on a BLAS path where the two products round differently (DIRECT_WEIGHT_GRAD_DTYPES)."""
DIRECT_WEIGHT_GRAD_DTYPES = (torch.float32,)
"""Dtypes whose hidden-weight gradients `_BlockLinear` computes straight into the gradient buffer as gzᵀu (from
DIRECT_MIN_ELEMENTS on). Autograd's product is (uᵀgz)ᵀ, a transposed view whose copy into the buffer cost ~15% of a
CPU step at width 512. The two round differently on some BLAS paths (MKL's AVX2 path on an Intel Xeon), so the
choice is part of what a run computes: in float32 the hidden-weight gradient is gzᵀu on every machine (before
`synthetic.version.WEIGHT_GRAD_VERSION` 2, only where a probe found the two equal), and float64 keeps autograd's
product and one copy."""


CPU_DROP_FINISHED_RUNS = True
"""On a CPU, a ragged bucket's forward splits the runs that have reached their depth off the residual stream and
joins them again before the output map, so each block's norm, residual sum and their gradients touch only the runs
still active (G2 at width 512, depths 2–16: 30 run-blocks instead of 64), and no block pads its branch with zeros.
Every run sees the same operations on the same values as on the padded path a GPU takes, which keeps a step's
operation count independent of the bucket's depths; tests/test_engine_ops.py counts those operations and checks that
both paths give the same records bit for bit."""


class _BlockLinear(torch.autograd.Function):
    """z = u W_lᵀ (+ b) for block l of a packed hidden group: rows [start, start + n) of the leaf `w_all`. The
    backward writes dL/dW_l = gzᵀ u into `grad_rows` (those rows of the group's gradient buffer) and returns no
    gradient for `w_all`: the engine reads the buffer (`StackedResidualNet.gradients`)."""

    @staticmethod
    def forward(ctx, u: Tensor, w_all: Tensor, b: Tensor | None, start: int, n: int, grad_rows: Tensor):
        w = w_all.narrow(0, start, n)
        ctx.save_for_backward(u, w)
        ctx.grad_rows, ctx.has_bias = grad_rows, b is not None
        if b is None:
            return runwise.matmul(u, w.transpose(1, 2))
        return runwise.baddbmm(b.unsqueeze(1), u, w.transpose(1, 2))

    @staticmethod
    def backward(ctx, gz):
        u, w = ctx.saved_tensors
        runwise.bmm_into(ctx.grad_rows, gz.transpose(1, 2), u)
        gb = gz.sum(1) if ctx.has_bias else None
        return runwise.matmul(gz, w), None, gb, None, None, None


class StackedResidualNet:
    """M residual MLPs of one width (depths `layout.depths`, `cfg.depth` the largest); `params` maps group name ->
    leaf tensor with requires_grad."""

    def __init__(self, cfg: ModelConfig, multipliers: dict[str, Sequence[float]], init_vars: dict[str, Sequence[float]],
                 seeds: Sequence[int], *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 bias_init_zero: bool = True, depths: Sequence[int] | None = None) -> None:
        self.cfg = cfg
        self.M = len(seeds)
        self.layout = BlockLayout(tuple(depths) if depths is not None else (cfg.depth,) * self.M)
        if self.layout.M != self.M or self.layout.L != cfg.depth:
            raise ValueError("depths must give one depth per run, the largest equal to cfg.depth")
        self._active = self.layout.active
        self.device, self.dtype = torch.device(device), dtype
        self.alpha = {role: torch.tensor(list(multipliers[role]), dtype=dtype, device=self.device).view(-1, 1, 1)
                      for role in ("input", "hidden", "output")}
        self.act = activation_fn(cfg.activation, dtype)
        self._alpha_blocks = [self.alpha["hidden"].narrow(0, 0, n) for n in self._active]
        self.params = self._init_params(init_vars, seeds, bias_init_zero)
        self.grad_buffers: dict[str, Tensor] | None = None
        self._row_index: dict[tuple, Tensor] = {}
        self._direct_grads = False
        """Whether the last forward wrote the hidden-weight gradients of its backward into `grad_buffers`."""

    def reuse_grad_buffers(self) -> None:
        """From now on the gradient of each stacked hidden group is written into one buffer reused by every backward
        (by `_BlockLinear`, or `_SplitInto` from `SPLIT_INTO_MIN_BYTES`; smaller groups get autograd's fresh tensor),
        so a gradient is valid only until the next backward through this model: the engine consumes it at once."""
        self.grad_buffers = {g: torch.empty_like(p, memory_format=torch.contiguous_format)
                             for g, p in self.params.items() if Group.of(g).stacked_over_blocks}
        self._grad_rows = {g: [b.narrow(0, s, n) for s, n in zip(self.layout.start, self._active)]
                           for g, b in self.grad_buffers.items()}
        """Per hidden group, block l's rows of its gradient buffer (where `_BlockLinear` writes)."""

    def _init_params(self, init_vars, seeds, bias_init_zero) -> dict[str, Tensor]:
        """Each run's draws from its own CPU generator (float64, scaled, then cast), written into the packed tensors;
        the runs are drawn in parallel on torch's intra-op threads (a generator's randn is one thread, and the
        init of a large bucket is mostly that: 32 runs of width 1024 take ~15 s alone), which changes no number."""
        order = weight_groups(self.cfg.k) + (bias_groups(self.cfg.k) if self.cfg.bias else [])
        shapes = [param_shapes(replace(self.cfg, depth=d)) for d in self.layout.depths]
        stacked = {g: Group.of(g).stacked_over_blocks for g in order}
        packed = {g: torch.empty((self.layout.P, *shapes[0][g][1:]) if stacked[g] else (self.M, *shapes[0][g]),
                                 dtype=self.dtype) for g in order}

        def draw(m: int) -> None:
            gen = torch.Generator(device="cpu").manual_seed(int(seeds[m]))
            for g in order:
                rows = [self.layout.row(m, l) for l in range(self.layout.depths[m])] if stacked[g] else [m]
                if Group.of(g).is_bias and bias_init_zero:
                    for r in rows:
                        packed[g][r].zero_()
                    continue
                std = math.sqrt(float(init_vars[group_role(g)][m]))
                value = torch.randn(shapes[m][g], generator=gen, dtype=torch.float64) * std
                for i, r in enumerate(rows):
                    packed[g][r].copy_(value[i] if stacked[g] else value)

        workers = min(self.M, torch.get_num_threads())
        numbers = sum(math.prod(shape) for per_run in shapes for shape in per_run.values())
        if workers > 1 and numbers >= PARALLEL_INIT_MIN_NUMBERS:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(draw, range(self.M)))
        else:
            for m in range(self.M):
                draw(m)
        return {g: t.to(device=self.device).requires_grad_(True) for g, t in packed.items()}

    def block(self, params: dict[str, Tensor], group: str, m: int, l: int) -> Tensor:
        """Run m's matrix (or bias) of block l (0-based) in a packed hidden group."""
        return params[group][self.layout.row(m, l)]

    def unpacked(self, params: dict[str, Tensor], group: str, m0: int = 0, m1: int | None = None,
                 depth: int | None = None) -> Tensor:
        """A hidden group of runs m0 … m1 − 1 (all of depth ≥ `depth`) as a fresh, detached [m1 − m0, depth, …]
        tensor (the [M, L, …] layout of an equal-depth bucket)."""
        m1 = self.M if m1 is None else m1
        depth = self.layout.depths[m1 - 1] if depth is None else depth
        key = (m0, m1, depth, params[group].device)
        idx = self._row_index.get(key)
        if idx is None:
            idx = torch.tensor(self.layout.rows_of(m0, m1, depth), dtype=torch.long, device=params[group].device)
            self._row_index[key] = idx
        w = params[group].detach()
        return w.index_select(0, idx).view(m1 - m0, depth, *w.shape[1:])

    @staticmethod
    def _apply_norm(kind: str, h: Tensor) -> Tensor:
        if kind == "rms":
            return F.rms_norm(h, (h.shape[-1],))
        if kind == "layer":
            return F.layer_norm(h, (h.shape[-1],))
        return h

    def norm(self, h: Tensor) -> Tensor:
        """The pre-norm of every block."""
        return self._apply_norm(self.cfg.norm, h)

    def final_norm(self, h: Tensor) -> Tensor:
        """The norm of h_L before the output map (identity without `final_norm`)."""
        return self._apply_norm(self.cfg.final_norm_kind, h)

    def activation_after(self, group: str):
        """The activation applied right after a weight group's map (identity where there is none)."""
        cfg = self.cfg
        if group == "input":
            return self.act if cfg.act_after_input else (lambda z: z)
        if group == "output":
            return lambda z: z
        i = Group.of(group).map_index
        if i < cfg.k or cfg.act_after_branch:
            return self.act
        return lambda z: z

    def gradients(self, output: Tensor, names: Sequence[str], extra: Sequence[Tensor] = (),
                  retain_graph: bool = False) -> tuple[Tensor, ...]:
        """d output / d params[name] for each name, then d output / d extra: `torch.autograd.grad` on the graph of
        the last forward, with the hidden-weight gradients that forward's `_BlockLinear`s write into the buffers."""
        direct = [self._direct_grads and Group.of(g).stacked_over_blocks and not Group.of(g).is_bias for g in names]
        asked = [self.params[g] for g, d in zip(names, direct) if not d] + list(extra)
        grads = iter(torch.autograd.grad(output, asked, retain_graph=retain_graph))
        out = [self.grad_buffers[g] if d else next(grads) for g, d in zip(names, direct)]
        return tuple(out) + tuple(grads)

    def _layers(self, params: dict[str, Tensor], group: str) -> tuple[Tensor, ...]:
        """The per-block views [M_l, …] of a packed hidden group."""
        w = params[group]
        buf = None if self.grad_buffers is None else self.grad_buffers.get(group)
        if (buf is not None and w.requires_grad and torch.is_grad_enabled() and buf.shape == w.shape
                and w.numel() * w.element_size() >= SPLIT_INTO_MIN_BYTES):
            return _SplitInto.apply(w, buf, self._active)
        return w.split(self._active)

    def forward(self, params: dict[str, Tensor], x: Tensor, capture: bool = False) -> tuple[Tensor, Capture | None]:
        """x [M, B, d_in] -> output [M, B, d_out]; with `capture`, also the per-layer tensors of `Capture`."""
        cfg = self.cfg
        cap = Capture() if capture else None
        z = _linear(x, params["input"], params.get("input_bias"))
        o = self.act(z) if cfg.act_after_input else z
        h = self.alpha["input"] * o
        if cap is not None:
            cap.add("input", x, z, o)
            cap.features.append(h)
        direct = (self.grad_buffers is not None and torch.is_grad_enabled() and x.shape[1] > 1
                  and self.dtype in DIRECT_WEIGHT_GRAD_DTYPES and params is self.params
                  and all(self.params[f"hidden.{i}"][0].numel() >= DIRECT_MIN_ELEMENTS for i in range(1, cfg.k + 1)))
        if torch.is_grad_enabled():
            self._direct_grads = direct
        hidden = [f"hidden.{i}" for i in range(1, cfg.k + 1)]
        ws = None if direct else [self._layers(params, g) for g in hidden]
        bs = [self._layers(params, f"hidden_bias.{i}") for i in range(1, cfg.k + 1)] if cfg.bias else None
        starts = self.layout.start
        alphas = self._alpha_blocks
        segments = self.device.type == "cpu" and CPU_DROP_FINISHED_RUNS
        finished: list[Tensor] = []  # h of the runs whose last block is behind, latest first once reversed
        for l, n in enumerate(self._active):
            if segments:
                # the runs n … still in h finished before block l: their h is final; block l and later act on the
                # prefix alone, which is then all of h (the same operations, on the same values, as below)
                if n < h.shape[0]:
                    h, done = h.split([n, h.shape[0] - n])
                    finished.append(done)
                u = self.norm(h)
            else:
                # block l updates the prefix of n runs still active; the rest of h passes through unchanged (a zero
                # pad rather than a branch on n, so a step's operations do not depend on which depths the bucket
                # holds). The norm runs on all of h and is narrowed after: narrowing h first would change the order
                # in which autograd sums h's three gradient contributions (residual, and two inside the norm), and
                # with it the last bits
                u = self.norm(h).narrow(0, 0, n)
            for i in range(cfg.k):
                b = bs[i][l] if bs is not None else None
                if direct:
                    z = _BlockLinear.apply(u, params[hidden[i]], b, starts[l], n, self._grad_rows[hidden[i]][l])
                else:
                    z = _linear(u, ws[i][l], b)
                o = self.act(z) if (i < cfg.k - 1 or cfg.act_after_branch) else z
                if cap is not None:
                    cap.add(f"hidden.{i + 1}", u, z, o)
                u = o
            if segments:
                h = h + alphas[l] * u
                if cap is not None:
                    cap.features.append(torch.cat([h] + finished[::-1]) if finished else h)
            else:
                h = h + F.pad(alphas[l] * u, (0, 0, 0, 0, 0, self.M - n))
                if cap is not None:
                    cap.features.append(h)
        if finished:
            h = torch.cat([h] + finished[::-1])
        u = self.final_norm(h)
        z = _linear(u, params["output"], None)
        out = self.alpha["output"] * z
        if cap is not None:
            cap.add("output", u, z, z)
            cap.features.append(out)
        return out, cap
