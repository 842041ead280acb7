"""Stacked optimizers: one update rule per parameter group, hyperparameters per run as broadcastable [M,1,…] tensors.

Rules (ARCHITECTURE convention ΔW = −η(A + λW) unless PyTorch's own convention is stated):

- `sgd`: PyTorch SGD — d = g + λW; heavy ball b ← μ b + d (b_1 = d); Nesterov d ← d + μ b, else d ← b; W ← W − η d.
- `adamw`: PyTorch AdamW — W ← W(1 − ηλ); m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
  W ← W − η m̂ / (sqrt(v̂) + ε) with bias corrections m̂ = m/(1−β1^t), sqrt(v̂) = sqrt(v)/sqrt(1−β2^t).
- `lion`: c = β1 m + (1−β1) g; W ← W(1 − ηλ) − η sign(c); m ← β2 m + (1−β2) g.
- `muon`: PyTorch Muon momentum b ← μ b + (1−μ) g, Nesterov u = (1−μ) g + μ b else u = b (u = g when μ = 0);
  A = NS(u) ≈ U Vᵀ by batched Newton–Schulz; W ← W(1 − ηλ) − η A.
- `muon_kimi`: as `muon` with A = 0.2 · sqrt(max(n_in, n_out)) · NS(u).

Engine optimizers map roles to rules (`ROLE_RULES`); biases under a pure matrix optimizer use AdamW with the bridge's
AdamW rules, and the hybrid `muon_kimi_adamw` asks the bridge for "muon_kimi" (hidden) and "adamw" (the rest).
A run frozen by the engine (`alive` false) keeps its weights bit-for-bit; its optimizer state is its own and never
touches another run. `step()` does no host synchronisation.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Sequence

import torch
from torch import Tensor
from theory.bridge import LayerHP, layer_hparams
from theory.errors import TheoryError

from synthetic.config import OptimConfig, RunConfig
from synthetic.errors import ConfigError

NS_QUINTIC = (3.4445, -4.7750, 2.0315)
"""Keller Jordan's quintic Newton–Schulz coefficients (also torch.optim.Muon's default): fast, not convergent to U Vᵀ;
after 5 steps the singular values of the result lie in a band around 1 (tests/test_optim_reference.py, `test_newton_schulz_quintic_band`)."""
NS_CUBIC = (1.5, -0.5, 0.0)
"""The classical cubic Newton–Schulz iteration X ← 1.5 X − 0.5 X Xᵀ X: converges to U Vᵀ (slowly for small σ)."""
KIMI_SCALE = 0.2

WEIGHT_ROLES = ("input", "hidden", "output")
BIAS_ROLES = ("input_bias", "hidden_bias")


def role_rules(optimizer: str) -> dict[str, str]:
    """Update rule (and bridge optimizer name) per role for an engine optimizer."""
    if optimizer in ("sgd", "adamw", "lion"):
        return {r: optimizer for r in WEIGHT_ROLES + BIAS_ROLES}
    if optimizer in ("muon", "muon_kimi"):
        return {**{r: optimizer for r in WEIGHT_ROLES}, **{r: "adamw" for r in BIAS_ROLES}}
    if optimizer == "muon_kimi_adamw":
        return {"input": "adamw", "hidden": "muon_kimi", "output": "adamw", "input_bias": "adamw",
                "hidden_bias": "adamw"}
    raise ConfigError(f"unknown optimizer {optimizer!r}")


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
            hps = layer_hparams(rule, run.parameterization, width=m.width, depth=m.depth, k=m.k, d_in=m.d_in,
                                d_out=m.d_out, base=run.base, input_kind=m.input_kind, roles=wanted)
        except TheoryError as e:
            raise ConfigError(str(e)) from None
        out.update({r: hps[r] for r in wanted})
    if run.decay_roles is not None:
        out = {r: hp if r in run.decay_roles else replace(hp, wd=0.0) for r, hp in out.items()}
    return out


def newton_schulz(g: Tensor, steps: int, coefficients: tuple[float, float, float] = NS_QUINTIC) -> Tensor:
    """Batched orthogonalisation of the last two dims: X ← aX + (b XXᵀ + c (XXᵀ)²) X after X = G/‖G‖_F.

    Works on the wide orientation (transposes tall matrices), so the Gram matrix is the smaller one. A zero matrix
    stays zero; non-finite entries stay inside their own matrix."""
    a, b, c = coefficients
    transpose = g.shape[-2] > g.shape[-1]
    x = g.mT if transpose else g
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp_min(torch.finfo(g.dtype).tiny)
    for _ in range(steps):
        gram = x @ x.mT
        poly = b * gram + c * (gram @ gram) if c != 0.0 else b * gram
        x = a * x + poly @ x
    return x.mT if transpose else x


def _per_run(values: Sequence[float], like: Tensor) -> Tensor:
    t = torch.tensor([float(v) for v in values], dtype=like.dtype, device=like.device)
    return t.view(-1, *([1] * (like.ndim - 1)))


CPU_TILE_BYTES = 256 * 1024
"""On a CPU the element-wise update runs tile by tile (this many bytes per tensor), so the ~10 passes of one update
over p, g, state and scratch stay in the L2 cache and each tensor streams from memory once. Elsewhere one tile is the
whole group (every run in one kernel)."""


def _tiles(M: int, R: int, tile: int | None) -> list[tuple[slice, slice]]:
    """(runs, columns) slices covering an [M, R] view, each at most `tile` elements (a whole row at least when rows
    fit); one slice pair when `tile` is None."""
    if tile is None or M * R <= tile:
        return [(slice(0, M), slice(0, R))]
    if R <= tile:
        k = tile // R
        return [(slice(i, min(i + k, M)), slice(0, R)) for i in range(0, M, k)]
    return [(slice(i, i + 1), slice(c, min(c + tile, R))) for i in range(M) for c in range(0, R, tile)]


class _Group:
    """One parameter group seen as [M, R]: its tiles, the tile views of the weights and of each state tensor, and
    per-run factors as [M, 1] columns."""

    def __init__(self, p: Tensor, state: dict[str, Tensor], tile: int | None) -> None:
        self.M = p.shape[0]
        self.R = p[0].numel()
        self.tiles = _tiles(self.M, self.R, tile)
        self.p = self.views(p.detach())
        self.state = {k: self.views(s) for k, s in state.items()}

    def views(self, x: Tensor) -> list[Tensor]:
        x2 = x.reshape(self.M, self.R)
        return [x2[rs, cs] for rs, cs in self.tiles]


def _col(x: Tensor) -> Tensor:
    return x.reshape(-1, 1)


def _slice_len(s: slice, n: int) -> int:
    return len(range(*s.indices(n)))


class StackedOptimizer:
    """Updates a dict of stacked parameters in place; `hps[group] = {"lr", "wd", "eps"}` per-run value lists.

    Every update is in place with per-run factors broadcast over [M, 1] columns, through one scratch buffer reused by
    every group and step. A frozen run (`alive` false) gets a decay factor of exactly 1 and an update zeroed by
    `masked_fill_` (NaN-safe), so its weights stay bit-for-bit; its own state may become garbage."""

    def __init__(self, params: dict[str, Tensor], rules: dict[str, str], hps: dict[str, dict[str, Sequence[float]]],
                 cfg: OptimConfig) -> None:
        self.params, self.rules, self.cfg = params, rules, cfg
        self.t = 0
        self.lr, self.wd, self.eps = {}, {}, {}
        self.state: dict[str, dict[str, Tensor]] = {}
        self.groups: dict[str, _Group] = {}
        self.decay: dict[str, Tensor | None] = {}
        scratch = 0
        for name, p in params.items():
            rule = rules[name]
            self.lr[name] = _per_run(hps[name]["lr"], p)
            self.wd[name] = _per_run(hps[name]["wd"], p)
            self.decay[name] = (1 - _col(self.lr[name]) * _col(self.wd[name])
                                if any(float(w) != 0.0 for w in hps[name]["wd"]) else None)
            if rule == "adamw":
                eps = hps[name]["eps"]
                if any(e is None for e in eps):
                    raise ConfigError(f"AdamW group {name!r} needs an epsilon from the bridge")
                self.eps[name] = _per_run(eps, p)
            zeros = lambda: torch.zeros_like(p, memory_format=torch.contiguous_format).detach()  # noqa: E731
            if rule == "adamw":
                self.state[name] = {"m": zeros(), "v": zeros()}
            elif rule == "lion" or (rule in ("sgd", "muon", "muon_kimi") and cfg.momentum > 0):
                self.state[name] = {"m": zeros()}
            else:
                self.state[name] = {}
            tile = CPU_TILE_BYTES // p.element_size() if p.device.type == "cpu" else None
            elementwise = {k: v for k, v in self.state[name].items() if rule not in ("muon", "muon_kimi")}
            self.groups[name] = _Group(p, elementwise, tile)
            grp = self.groups[name]
            scratch = max([scratch] + [_slice_len(rs, grp.M) * _slice_len(cs, grp.R) for rs, cs in grp.tiles])
        like = next(iter(params.values()))
        self._scratch = torch.empty(2 if "adamw" in rules.values() else 1, scratch, dtype=like.dtype, device=like.device)

    def _u(self, tile_view: Tensor, i: int = 0) -> Tensor:
        """Scratch buffer i (0 or 1) shaped like one tile."""
        return self._scratch[i, : tile_view.numel()].view(tile_view.shape)

    @torch.no_grad()
    def step(self, grads: dict[str, Tensor], alive: Tensor | None = None, lr_scale: Tensor | None = None) -> None:
        """One update of every group; runs with `alive[m] == False` keep their weights unchanged. `lr_scale` [M]
        multiplies each run's learning rate at this step (a schedule, synthetic.schedule), weight decay included."""
        self.t += 1
        keep = None if alive is None else alive.reshape(-1, 1)
        dead = None if keep is None else ~keep
        for name, p in self.params.items():
            lr, decay = self.lr[name], self.decay[name]
            if lr_scale is not None:
                lr = lr * lr_scale.view_as(lr)
                decay = None if decay is None else 1 - _col(lr) * _col(self.wd[name])
            if decay is not None and keep is not None:
                decay = torch.where(keep, decay, torch.ones((), dtype=decay.dtype, device=decay.device))
            getattr(self, "_" + self.rules[name])(name, p.detach(), grads[name].detach(), decay, dead, lr)

    def _sgd(self, name: str, p: Tensor, g: Tensor, decay: Tensor | None, dead: Tensor | None,
            lr: Tensor) -> None:
        mu, nesterov = self.cfg.momentum, self.cfg.nesterov
        grp = self.groups[name]
        wd = _col(self.wd[name]) if self.decay[name] is not None else None
        neg_lr = -_col(lr)
        bufs = grp.state["m"] if mu > 0 else None
        for j, ((rs, cs), pt, gt) in enumerate(zip(grp.tiles, grp.p, grp.views(g))):
            u = self._u(pt)
            d = gt
            if wd is not None:
                d = torch.addcmul(gt, pt, wd[rs], out=u)
            if bufs is not None:
                buf = bufs[j]
                buf.mul_(mu).add_(d)
                if nesterov:
                    d = d.add_(buf, alpha=mu) if d is u else torch.add(d, buf, alpha=mu, out=u)
                else:
                    d = buf
            if dead is not None:
                if d is gt:
                    d = u.copy_(gt)
                d.masked_fill_(dead[rs], 0)
            pt.addcmul_(d, neg_lr[rs])

    def _adamw(self, name: str, p: Tensor, g: Tensor, decay: Tensor | None, dead: Tensor | None,
            lr: Tensor) -> None:
        b1, b2 = self.cfg.betas
        grp = self.groups[name]
        eps = _col(self.eps[name])
        step = _col(lr) / (1 - b1 ** self.t)
        bc2_sqrt = math.sqrt(1 - b2 ** self.t)
        for (rs, cs), pt, gt, m, v in zip(grp.tiles, grp.p, grp.views(g), grp.state["m"], grp.state["v"]):
            denom, u = self._u(pt), self._u(pt, 1)
            if decay is not None:
                pt.mul_(decay[rs])
            m.lerp_(gt, 1 - b1)
            v.mul_(b2).addcmul_(gt, gt, value=1 - b2)
            torch.sqrt(v, out=denom).div_(bc2_sqrt).add_(eps[rs])
            torch.mul(m, step[rs], out=u).div_(denom)
            if dead is not None:
                u.masked_fill_(dead[rs], 0)
            pt.sub_(u)

    def _lion(self, name: str, p: Tensor, g: Tensor, decay: Tensor | None, dead: Tensor | None,
            lr: Tensor) -> None:
        b1, b2 = self.cfg.betas
        grp = self.groups[name]
        neg_lr = -_col(lr)
        for (rs, cs), pt, gt, m in zip(grp.tiles, grp.p, grp.views(g), grp.state["m"]):
            u = torch.lerp(m, gt, 1 - b1, out=self._u(pt)).sign_()
            m.lerp_(gt, 1 - b2)
            if decay is not None:
                pt.mul_(decay[rs])
            if dead is not None:
                u.masked_fill_(dead[rs], 0)
            pt.addcmul_(u, neg_lr[rs])

    def _muon_direction(self, name: str, g: Tensor) -> Tensor:
        mu = self.cfg.momentum
        u = g
        if mu > 0:
            buf = self.state[name]["m"]
            buf.lerp_(g, 1 - mu)
            u = g.lerp(buf, mu) if self.cfg.nesterov else buf
        return newton_schulz(u, self.cfg.ns_steps)

    def _apply_direction(self, name: str, direction: Tensor, scale: float, decay: Tensor | None,
                         dead: Tensor | None, lr: Tensor) -> None:
        """W ← W·decay − η·scale·A for a freshly computed direction A (owned here, so it is masked in place)."""
        grp = self.groups[name]
        neg_lr = _col(lr) * -scale
        for (rs, cs), pt, a in zip(grp.tiles, grp.p, grp.views(direction)):
            if decay is not None:
                pt.mul_(decay[rs])
            if dead is not None:
                a.masked_fill_(dead[rs], 0)
            pt.addcmul_(a, neg_lr[rs])

    def _muon(self, name: str, p: Tensor, g: Tensor, decay: Tensor | None, dead: Tensor | None,
            lr: Tensor) -> None:
        self._apply_direction(name, self._muon_direction(name, g), 1.0, decay, dead, lr)

    def _muon_kimi(self, name: str, p: Tensor, g: Tensor, decay: Tensor | None, dead: Tensor | None,
            lr: Tensor) -> None:
        scale = KIMI_SCALE * math.sqrt(max(p.shape[-2], p.shape[-1]))
        self._apply_direction(name, self._muon_direction(name, g), scale, decay, dead, lr)
