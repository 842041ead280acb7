"""Stacked optimizers: one registered update rule per parameter group, hyperparameters per row (a run, or a block of
a run in a packed hidden group) as broadcastable [rows, 1, …] tensors.

The rules live in synthetic.rules (one module per family, `register_rule`); an engine optimizer is a map from parameter
role to rule name (`register_engine_optimizer`), e.g. the hybrid `muon_kimi_adamw` = Muon-Kimi on hidden matrices and
AdamW on the rest. Each rule's lr / wd / eps come from the bridge table of its own theory optimizer (`run_hparams`).
A run frozen by the engine (`alive` false) keeps its weights bit-for-bit; its optimizer state is its own and never
touches another run. `step()` does no host synchronisation.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal, Sequence

import torch
from torch import Tensor
from theory.bridge import LayerHP, layer_hparams  # noqa: F401  (layer_hparams re-exported)
from theory.errors import TheoryError

from synthetic.config import RunConfig, OptimConfig
from synthetic.errors import ConfigError
from synthetic.rules import BIAS_ROLES, WEIGHT_ROLES, get_rule, role_rules
from synthetic.one_pass import OnePassPlan, require_one_pass
from synthetic.rules.base import compiled_multi, require_compiler
from synthetic.rules.muon import KIMI_SCALE, NS_CUBIC, NS_QUINTIC, newton_schulz  # noqa: F401  (re-exported)

__all__ = ["StackedOptimizer", "role_rules", "run_hparams", "newton_schulz", "NS_CUBIC", "NS_QUINTIC", "KIMI_SCALE",
           "WEIGHT_ROLES", "BIAS_ROLES"]


def run_hparams(run: RunConfig) -> dict[str, LayerHP]:
    """Every role's LayerHP for one run, from theory.bridge (the only source of these numbers); with
    `run.decay_roles`, the roles not listed get wd = 0 (a mask on the bridge's λ, Fan's λ1 = 0)."""
    m = run.model
    roles = WEIGHT_ROLES + (BIAS_ROLES if m.bias else ())
    rules = role_rules(run.optim.name)
    out: dict[str, LayerHP] = {}
    for rule in sorted(set(rules[r] for r in roles)):
        wanted = [r for r in roles if rules[r] == rule]
        try:
            hps = get_rule(rule).hparams(run.parameterization, wanted, width=m.width, depth=m.depth, k=m.k,
                                         d_in=m.d_in, d_out=m.d_out, base=run.base, input_kind=m.input_kind)
        except TheoryError as e:
            raise ConfigError(str(e)) from None
        out.update({r: hps[r] for r in wanted})
    if run.decay_roles is not None:
        out = {r: hp if r in run.decay_roles else replace(hp, wd=0.0) for r, hp in out.items()}
    return out


def _per_run(values: Sequence[float], like: Tensor) -> Tensor:
    t = torch.tensor([float(v) for v in values], dtype=like.dtype, device=like.device)
    return t.view(-1, *([1] * (like.ndim - 1)))


CPU_TILE_BYTES: int | None | Literal["measured"] = "measured"
"""On a CPU the element-wise update runs tile by tile (this many bytes per tensor), so the ~10 passes of one update
over p, g, state and scratch stay in cache and each tensor streams from memory once. "measured": the fastest of a few
sizes on this CPU, measured once per process by `synthetic.cpu_tiles.tile_bytes` when a group is larger than the
smallest of them (1 MiB on the AMD EPYC this was built on: one AdamW step on [32, 8, 256, 256] took 44.6 ms with
256 KiB tiles, 36.6 ms with 1 MiB, 35.9 ms with 2 MiB, 56 ms with 16 MiB and 97 ms untiled). Elsewhere (and on a CPU
when set to None: the GPU code path, tests/test_engine_ops.py) one tile is the whole group, every run in one kernel.
Tiling never changes a number (tests/test_optim_reference.py)."""


CPU_SKIP_MASKS = True
"""On a CPU, a step where every run is alive updates without the frozen-run masks (reading the alive flags of a CPU
tensor is no device sync; a GPU keeps the masks so that its step never waits for the host). Masking nothing is the
identity, so no number changes; it saves a pass over every weight (issue 22: 2.39 s → 2.11 s of AdamW updates for
20 steps of G1 at width 256 on an Intel Xeon, together with AdamW's `addcdiv_`)."""


CPU_HOST_SCALARS = True
"""On a CPU, AdamW reads each group's per-row factors on the host once a step: a tile whose rows share one step size
takes it as `addcdiv_`'s scalar (one pass fewer), and a tile whose rows have no weight decay skips the multiply by
exactly 1. Both give the same bits (benchmarks.bit_identity on every CPU kernel path)."""


def cpu_tile_bytes(group_bytes: int) -> int | None:
    """The tile size for a CPU group of `group_bytes` per tensor (None: untiled); measures only when it matters."""
    if CPU_TILE_BYTES != "measured":
        return CPU_TILE_BYTES
    from synthetic import cpu_tiles

    if group_bytes <= min(cpu_tiles.CANDIDATES):
        return min(cpu_tiles.CANDIDATES)
    return cpu_tiles.tile_bytes()


FLAT_MAX_BYTES: int | None = 256 * 1024
"""On a CPU, small groups of an element-local rule are updated together (`_Flat`), up to this many bytes of weights
per `_Flat` (0 or None: never). `python -m benchmarks.optimizer_step --quick --threads 1 --flat-bytes 0 262144
1048576`, ms per AdamW step: G2 quick width 16 0.280 → 0.113, width 64 0.368 → 0.284; a 600 KiB `_Flat` (G1 quick
width 64, 1 MiB cap) was slower than its four groups (1.318 against 0.604): its per-element factors, masks and
copies outgrow the cache."""


SPLIT_AT_FACTORS_MIN_ROW_BYTES = 128 * 1024
"""On a CPU, a tile never spans rows with different (lr, wd) once a row holds this many bytes, so that AdamW's tile
takes its step size as a scalar and skips the decay of rows without weight decay (`CPU_HOST_SCALARS`): a pass fewer
over a tile, worth its extra dispatches only for large rows (G1 at width 256 on an Intel Xeon: rows of 256 KiB,
1 MiB tiles that each held four runs of different learning rates). Tiles never change a number."""


def _tiles(M: int, R: int, tile: int | None, keys: Sequence | None = None) -> list[tuple[slice, slice]]:
    """(runs, columns) slices covering an [M, R] view, each at most `tile` elements (a whole row at least when rows
    fit); one slice pair when `tile` is None. With `keys` (one per row), a tile of whole rows ends where the key
    changes."""
    if tile is None:
        return [(slice(0, M), slice(0, R))]
    if R > tile:
        return [(slice(i, i + 1), slice(c, min(c + tile, R))) for i in range(M) for c in range(0, R, tile)]
    k, out, i = tile // R, [], 0
    while i < M:
        j = min(i + k, M)
        if keys is not None:
            j = next((e for e in range(i + 1, j) if keys[e] != keys[i]), j)
        out.append((slice(i, j), slice(0, R)))
        i = j
    return out


class _Group:
    """One parameter group seen as [rows, R]: its tiles, the tile views of the weights and of each state tensor, and
    per-row factors as [rows, 1] columns."""

    def __init__(self, p: Tensor, state: dict[str, Tensor], tile: int | None, keys: Sequence | None = None) -> None:
        self.M = p.shape[0]
        self.R = p[0].numel()
        self.tiles = _tiles(self.M, self.R, tile, keys)
        self.p = self.views(p.detach())
        self.state = {k: self.views(s) for k, s in state.items()}

    def views(self, x: Tensor) -> list[Tensor]:
        x2 = x.reshape(self.M, self.R)
        return [x2[rs, cs] for rs, cs in self.tiles]


class _Flat:
    """Small groups of one element-local rule (`Rule.element_local`) updated as one group of shape [N, 1]: one row
    per element, each with its own run's factors. On a CPU a small group's update is a dozen dispatches of a few
    microseconds each whatever its size; concatenated, the groups of a rule cost one update, plus a copy of the
    weights and gradients in and of the weights out. Every element sees the same operations on the same values as
    in its own group, so the numbers are the same (tests/test_optim_reference.py)."""

    def __init__(self, rule: str, members: list[str], params: dict[str, Tensor]) -> None:
        self.rule, self.members = rule, members
        self.params = [params[n].detach() for n in members]
        like = self.params[0]
        self.sizes = [q.numel() for q in self.params]
        self.N = sum(self.sizes)
        self.p = torch.empty(self.N, 1, dtype=like.dtype, device=like.device)
        self.g = torch.empty_like(self.p)
        self.p_views = self.views(self.p)
        self.g_views = self.views(self.g)

    def views(self, x: Tensor) -> list[Tensor]:
        """The members' parts of an [N, 1] tensor, each shaped like its member."""
        return [part.view(q.shape) for part, q in zip(x.split(self.sizes), self.params)]

    def cat(self, per_member: Sequence[Tensor]) -> Tensor:
        """Per-member tensors broadcastable against their members ([rows, 1, …] factors, state) as one [N, 1]."""
        return torch.cat([x.expand(q.shape).reshape(-1) for x, q in zip(per_member, self.params)]).view(-1, 1)


def _col(x: Tensor) -> Tensor:
    return x.reshape(-1, 1)


def _slice_len(s: slice, n: int) -> int:
    return len(range(*s.indices(n)))


class StackedOptimizer:
    """Updates a dict of stacked parameters in place; `hps[group] = {"lr", "wd", "eps"}` per-run value lists.

    A group's leading dimension is its rows: the runs, or for a packed hidden group (synthetic.models.BlockLayout)
    one row per block of a run, `row_runs[group]` naming each row's run (absent: row m is run m). Rules see per-row
    factors only. Every update is in place with per-row factors broadcast over [rows, 1] columns, through one scratch
    buffer reused by every group and step. A frozen run (`alive` false) gets a decay factor of exactly 1 and an update
    zeroed by `zero_dead_` (NaN-safe), so its weights stay bit-for-bit; its own state may become garbage."""

    def __init__(self, params: dict[str, Tensor], rules: dict[str, str], hps: dict[str, dict[str, Sequence[float]]],
                 cfg: OptimConfig, row_runs: dict[str, Sequence[int]] | None = None) -> None:
        self.params, self.rules, self.cfg = params, rules, cfg
        self.t = 0
        row_runs = row_runs or {}
        shared: dict[tuple[int, ...], Tensor] = {}
        for name, rr in row_runs.items():
            key = tuple(int(m) for m in rr)
            if key not in shared:
                shared[key] = torch.tensor(key, dtype=torch.long, device=params[name].device)
        self.row_index = {name: shared[tuple(int(m) for m in rr)] for name, rr in row_runs.items()}
        """Per packed group, each row's run as an index tensor (gathers the per-run step factors)."""
        hps = {name: {k: (v if name not in row_runs else [v[m] for m in row_runs[name]]) for k, v in h.items()}
               for name, h in hps.items()}
        self.lr, self.wd, self.eps = {}, {}, {}
        self.state: dict[str, dict[str, Tensor]] = {}
        self.groups: dict[str, _Group] = {}
        self.decay: dict[str, Tensor | None] = {}
        scratch, n_scratch = 0, 1
        one_pass: dict[str, list[str]] = {}
        self._rule_cfgs = {rule: cfg.for_rule(rule) for rule in set(rules.values())}
        for name, p in params.items():
            rule = rules[name]
            lr_factor, eps_factor = cfg.factors(rule)
            if lr_factor != 1.0:
                hps[name] = {**hps[name], "lr": [v * lr_factor for v in hps[name]["lr"]]}
            if eps_factor != 1.0 and hps[name].get("eps") is not None:
                hps[name] = {**hps[name], "eps": [None if v is None else v * eps_factor for v in hps[name]["eps"]]}
            self.lr[name] = _per_run(hps[name]["lr"], p)
            self.wd[name] = _per_run(hps[name]["wd"], p)
            self.decay[name] = (1 - _col(self.lr[name]) * _col(self.wd[name])
                                if any(float(w) != 0.0 for w in hps[name]["wd"]) else None)
            spec = get_rule(rule)
            fused = cfg.fused and spec.has_fused
            if fused:
                require_compiler()
            if spec.needs_eps:
                eps = hps[name]["eps"]
                if any(e is None for e in eps):
                    raise ConfigError(f"group {name!r} (rule {rule!r}) needs an epsilon from the bridge")
                self.eps[name] = _per_run(eps, p)
            self.state[name] = spec.init_state(p.detach(), self._rule_cfgs[rule])
            if cfg.one_pass and spec.has_one_pass:  # updated row by row (OnePassPlan): no tiles, no scratch
                one_pass.setdefault(rule, []).append(name)
                continue
            tile_bytes = cpu_tile_bytes(p.numel() * p.element_size()) if p.device.type == "cpu" and not fused else None
            tile = None if tile_bytes is None else tile_bytes // p.element_size()
            elementwise = self.state[name] if spec.elementwise else {}
            row_bytes = p[0].numel() * p.element_size()
            keys = (list(zip(hps[name]["lr"], hps[name]["wd"]))
                    if tile is not None and row_bytes >= SPLIT_AT_FACTORS_MIN_ROW_BYTES else None)
            self.groups[name] = _Group(p, elementwise, tile, keys)
            grp = self.groups[name]
            scratch = max([scratch] + [_slice_len(rs, grp.M) * _slice_len(cs, grp.R) for rs, cs in grp.tiles])
            n_scratch = max(n_scratch, spec.scratch)
        if cfg.one_pass:
            require_one_pass()
            if not one_pass:
                raise ConfigError(f"optim.one_pass: no rule of {cfg.name!r} has a one-pass update")
        n_runs = next(p.shape[0] for n, p in params.items() if n not in row_runs)
        self.one_pass = [OnePassPlan(get_rule(rule), names, params, self.state, hps, row_runs, n_runs)
                         for rule, names in one_pass.items()]
        self._one_pass_members = {n for names in one_pass.values() for n in names}
        self.flats = self._flatten_small_groups()
        self._flat_members = {n for fl in self.flats for n in fl.members}
        scratch = max([scratch] + [fl.N for fl in self.flats])
        self._scalars: dict[float, Tensor] = {}
        self._columns: dict[tuple, Tensor] = {}
        first = next(iter(params.values()))
        self._t_tensor = torch.zeros((), dtype=first.dtype, device=first.device)
        self._uniform: dict[tuple, tuple[Tensor, list[bool]]] = {}
        self.per_step: dict[tuple, object] = {}
        """Values a rule computes once per step for all its groups (keyed with the step count)."""
        like = next(iter(params.values()))
        self._scratch = torch.empty(n_scratch, scratch, dtype=like.dtype, device=like.device)

    def _flatten_small_groups(self) -> list[_Flat]:
        """On a CPU (tiled update, not fused): groups of an element-local rule joined first-fit into `_Flat`s of at
        most `FLAT_MAX_BYTES` (and one tile), keyed by rule and by whether they decay (so an element's operations
        are exactly those of its own group). The members' state becomes views of the `_Flat`'s."""
        if CPU_TILE_BYTES is None or not FLAT_MAX_BYTES or self.cfg.fused or self.cfg.one_pass:
            return []
        limit = FLAT_MAX_BYTES if CPU_TILE_BYTES == "measured" else min(FLAT_MAX_BYTES, CPU_TILE_BYTES)
        bins: dict[tuple[str, bool], list[list[str]]] = {}
        for name, p in self.params.items():  # first fit, in group order
            nbytes = p.numel() * p.element_size()
            if p.device.type != "cpu" or not get_rule(self.rules[name]).element_local or nbytes > limit:
                continue
            key = (self.rules[name], self.decay[name] is not None)
            fits = [b for b in bins.setdefault(key, [])
                    if sum(self.params[n].numel() * p.element_size() for n in b) + nbytes <= limit]
            if fits:
                fits[0].append(name)
            else:
                bins[key].append([name])
        chosen = [b for per_key in bins.values() for b in per_key]
        flats = []
        for members in (m for m in chosen if len(m) > 1):
            fl = _Flat(self.rules[members[0]], members, self.params)
            self.lr[fl] = fl.cat([self.lr[n] for n in members])
            self.wd[fl] = fl.cat([self.wd[n] for n in members])
            self.decay[fl] = (1 - self.lr[fl] * self.wd[fl]) if self.decay[members[0]] is not None else None
            if members[0] in self.eps:
                self.eps[fl] = fl.cat([self.eps[n] for n in members])
            self.state[fl] = {k: fl.cat([self.state[n][k] for n in members]) for k in self.state[members[0]]}
            for k, s in self.state[fl].items():
                for n, view in zip(members, fl.views(s)):
                    self.state[n][k] = view
            for n in members:
                self.groups[n] = _Group(self.params[n], self.state[n], None)
            self.groups[fl] = _Group(fl.p, self.state[fl], fl.N)
            dev = fl.p.device
            runs = [self.row_index[n] if n in self.row_index else torch.arange(self.params[n].shape[0], device=dev)
                    for n in members]
            self.row_index[fl] = torch.cat([r.repeat_interleave(q[0].numel()) for r, q in zip(runs, fl.params)])
            flats.append(fl)
        return flats

    def column(self, name: str, x: Tensor | None, rows: int, fill: float | bool) -> Tensor:
        """Per-row factors (any [rows, 1, …] shape) as an [rows, 1] view, or for None a constant column cached per
        group (never shared between groups: a compiled kernel guards on which of its inputs are the same tensor)."""
        if x is not None:
            return x.reshape(rows, 1)
        key = (name, rows, fill)
        if key not in self._columns:
            like = next(iter(self.params.values()))
            dtype = torch.bool if isinstance(fill, bool) else like.dtype
            self._columns[key] = torch.full((rows, 1), fill, dtype=dtype, device=like.device)
        return self._columns[key]

    @property
    def t_tensor(self) -> Tensor:
        """The step count as a 0-d tensor on the device, advanced in place by `step` (for kernels that need it, such
        as AdamW's bias corrections: a tensor built from `t` every step would be a host-to-device copy)."""
        return self._t_tensor

    def scalar(self, value: float) -> Tensor:
        """A 0-d tensor holding `value` (cached): constants handed to a compiled kernel as inputs, not baked in, so
        other betas or momenta reuse the kernel."""
        key = float(value)
        if key not in self._scalars:
            like = next(iter(self.params.values()))
            self._scalars[key] = torch.tensor(key, dtype=like.dtype, device=like.device)
        return self._scalars[key]

    def rule_cfg(self, rule: str) -> OptimConfig:
        """The constants `rule` reads: the run's, with the rule's own where `OptimConfig.rule_settings` names it."""
        return self._rule_cfgs[rule]

    @property
    def hessian_every(self) -> int | None:
        """Steps between Hessian-diagonal estimates (`OptimConfig.hessian_every`) if some group's rule needs them."""
        return self.cfg.hessian_every if any(get_rule(r).uses_hessian for r in self.rules.values()) else None

    def hessian_due(self, t: int) -> bool:
        """Whether the engine must estimate the Hessian diagonal at step t (0-based) for some group."""
        k = self.hessian_every
        return k is not None and t % k == 0

    @torch.no_grad()
    def set_hessian(self, h_hat: dict[str, Tensor], t: int) -> None:
        """Hand a Hessian-diagonal estimate per group to each rule due at step t."""
        for name, rule in self.rules.items():
            spec = get_rule(rule)
            if spec.uses_hessian and self.hessian_due(t):
                spec.update_hessian(self, name, h_hat[name])

    def host_scalars(self, p: Tensor) -> bool:
        """Whether a rule may read this group's per-row factors on the host to pick a cheaper pass sequence with the
        same bits (a CPU group under CPU_HOST_SCALARS; never on a GPU, whose step must not wait for the host)."""
        return CPU_HOST_SCALARS and p.device.type == "cpu"

    def uniform_tiles(self, name, x: Tensor | None, to: float | None = None) -> list[bool] | None:
        """Per tile of group `name`, whether the per-row factors `x` ([rows, 1, …]) are one number over the tile's rows
        (the number `to`, when given); None off `host_scalars` or for x None. Read on the host; kept for the group's
        own lr and decay columns, which do not change between steps (a schedule or a frozen run makes new ones)."""
        if x is None or not self.host_scalars(x):
            return None
        key = (name, to)
        hit = self._uniform.get(key)
        if hit is not None and hit[0] is x:
            return hit[1]
        values = x.reshape(-1).tolist()
        out = []
        for rs, _ in self.groups[name].tiles:
            first = values[rs.start] if to is None else to
            out.append(all(v == first for v in values[rs]))
        if x is self.lr.get(name) or x is self.decay.get(name):
            self._uniform[key] = (x, out)
        return out

    def _u(self, tile_view: Tensor, i: int = 0) -> Tensor:
        """Scratch buffer i (0 or 1) shaped like one tile."""
        return self._scratch[i, : tile_view.numel()].view(tile_view.shape)

    @torch.no_grad()
    def step(self, grads: dict[str, Tensor], alive: Tensor | None = None, lr_scale: Tensor | None = None) -> None:
        """One update of every group; runs with `alive[m] == False` keep their weights unchanged. `lr_scale` [M]
        multiplies each run's learning rate at this step (a schedule, synthetic.schedule), weight decay included."""
        self.t += 1
        self._t_tensor.add_(1)
        fused: dict[object, list[tuple]] = {}  # fused kernel -> the argument tuples of its groups
        if CPU_SKIP_MASKS and alive is not None and alive.device.type == "cpu" and bool(alive.all()):
            alive = None
        keep_runs = None if alive is None else alive.reshape(-1, 1)
        dead_runs = None if keep_runs is None else ~keep_runs
        by_rows: dict[int, tuple] = {}  # groups sharing a row layout (the hidden maps) gather the masks once
        args = (keep_runs, dead_runs, lr_scale, by_rows, fused)
        for plan in self.one_pass:
            plan.step(self, grads, alive, lr_scale)
        for name, p in self.params.items():
            if name not in self._flat_members and name not in self._one_pass_members:
                self._update(get_rule(self.rules[name]), name, p.detach(), grads[name].detach(), *args)
        for fl in self.flats:
            torch._foreach_copy_(fl.p_views, fl.params)
            torch._foreach_copy_(fl.g_views, [grads[n].detach() for n in fl.members])
            self._update(get_rule(fl.rule), fl, fl.p, fl.g, *args)
            torch._foreach_copy_(fl.params, fl.p_views)
        for kernel, arg_lists in fused.items():
            compiled_multi(kernel)(arg_lists)

    def _update(self, spec, name, p: Tensor, g: Tensor, keep_runs: Tensor | None, dead_runs: Tensor | None,
                lr_scale: Tensor | None, by_rows: dict[int, tuple], fused: dict[object, list[tuple]]) -> None:
        """One group's update by its rule `spec` (or its fused kernel's arguments, collected in `fused`); `name` is a
        parameter group's name or a `_Flat`."""
        rows = self.row_index.get(name)
        keep, dead = keep_runs, dead_runs
        if rows is not None and keep is not None:
            if id(rows) not in by_rows:  # a gather from the 1-D mask: on a CPU, rows of one element copy slowly
                kept = keep.view(-1).index_select(0, rows).view(-1, 1)
                by_rows[id(rows)] = (kept, ~kept)
            keep, dead = by_rows[id(rows)]
        lr, decay = self.lr[name], self.decay[name]
        if lr_scale is not None:
            lr = lr * (lr_scale if rows is None else lr_scale.index_select(0, rows)).view_as(lr)
            decay = None if decay is None else 1 - _col(lr) * _col(self.wd[name])
        if decay is not None and keep is not None:
            decay = torch.where(keep, decay, self.scalar(1.0))
        if self.cfg.fused and spec.has_fused:
            fused.setdefault(spec.fused_kernel, []).append(spec.fused_args(self, name, p, g, decay, dead, lr))
        else:
            spec.step(self, name, p, g, decay, dead, lr)
