"""`OptimConfig.one_pass`: the groups of a rule with a one-pass kernel (`Rule.one_pass_step`, AdamW's is torch's fused
AdamW) updated row by row, one kernel call per run and per (lr, wd, ε) of that run.

Why: the eager, tiled update (synthetic.optim) makes about seven passes over every weight and state tensor per step;
at small batches (the Fan figures train batches of 16) those passes cost a third of a step. A one-pass kernel reads
and writes each tensor once. It takes one lr, wd and ε per call, so a call holds the rows of one run that share them
(a packed hidden group has one row per block of a run, synthetic.models.BlockLayout; each row is contiguous). A
frozen run's calls are skipped on the device (the kernel's `found_inf` flag), so the step does no host sync. Each row
sees the same kernel on the same scalars in any bucket (gradients that autograd hands over strided, as the
transposed products of the small groups can be, are made contiguous first: the kernel reads memory in order), so a run's numbers do not depend on its companions; they do
differ in the last bits from the tiled update's (another order of operations), which is why the option is part of a
run's identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from synthetic.errors import ConfigError

ONE_PASS_MIN_TORCH = (2, 4)
"""torch's fused AdamW runs on a CPU from torch 2.4 on."""


def require_one_pass() -> None:
    """Raise one ConfigError line where this torch has no CPU one-pass kernel."""
    version = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
    if version < ONE_PASS_MIN_TORCH or not hasattr(torch, "_fused_adamw_"):
        raise ConfigError(f"optim.one_pass needs torch >= {'.'.join(map(str, ONE_PASS_MIN_TORCH))} "
                          f"(its fused AdamW kernel); this is torch {torch.__version__}")


@dataclass(frozen=True)
class Call:
    """One kernel call: run `run`'s rows that share (lr, wd, eps), as (group, row) pairs, with their weight and state
    rows (views, made once)."""

    run: int
    lr: float
    wd: float
    eps: float | None
    rows: tuple[tuple[str, int], ...]
    params: list[Tensor]
    state: dict[str, list[Tensor]]


class OnePassPlan:
    """The one-pass groups of one rule and their calls, in a fixed order (groups as given, runs ascending)."""

    def __init__(self, rule, names: Sequence[str], params: dict[str, Tensor], state: dict[str, dict[str, Tensor]],
                 hps: dict[str, dict[str, Sequence[float]]], row_runs: dict[str, Sequence[int]], n_runs: int) -> None:
        self.rule, self.names, self.n_runs = rule, list(names), n_runs
        for n in self.names:  # the kernel walks each tensor's memory in order: a strided view would be misread
            if not all(x.is_contiguous() for x in (params[n], *state[n].values())):
                raise ValueError(f"one-pass group {n!r} is not contiguous")
        p_rows = {n: params[n].detach().unbind(0) for n in self.names}
        s_rows = {n: {k: s.unbind(0) for k, s in state[n].items()} for n in self.names}
        keyed: dict[tuple, list[tuple[str, int]]] = {}
        for n in self.names:
            runs = row_runs.get(n, range(params[n].shape[0]))
            for row, m in enumerate(runs):
                h = hps[n]
                eps = h.get("eps")
                key = (int(m), float(h["lr"][row]), float(h["wd"][row]), None if eps is None else float(eps[row]))
                keyed.setdefault(key, []).append((n, row))
        self.calls = [Call(key[0], key[1], key[2], key[3], tuple(rows), [p_rows[n][r] for n, r in rows],
                           {k: [s_rows[n][k][r] for n, r in rows] for k in s_rows[rows[0][0]]})
                      for key, rows in sorted(keyed.items(), key=lambda kv: kv[0][0])]
        like = params[self.names[0]]
        self._lr_base = torch.tensor([c.lr for c in self.calls], dtype=like.dtype, device=like.device)
        self._call_run = torch.tensor([c.run for c in self.calls], dtype=torch.long, device=like.device)
        self._skip = torch.zeros(n_runs, dtype=torch.float32, device=like.device)
        self._skip_rows = self._skip.unbind(0)

    def step(self, opt, grads: dict[str, Tensor], alive: Tensor | None, lr_scale: Tensor | None) -> None:
        """One update of every call: `alive` [M] bool (None: all alive), `lr_scale` [M] this step's lr factors."""
        g_rows = {n: grads[n].detach().contiguous().unbind(0) for n in self.names}
        skip = None
        if alive is not None:
            self._skip.copy_(~alive.reshape(-1))
            skip = self._skip_rows
        lrs = None
        if lr_scale is not None:
            lrs = (self._lr_base * lr_scale.reshape(-1).index_select(0, self._call_run)).unbind(0)
        for i, c in enumerate(self.calls):
            self.rule.one_pass_step(opt, c.params, [g_rows[n][r] for n, r in c.rows], c.state,
                                    c.lr if lrs is None else lrs[i], c.wd, c.eps,
                                    None if skip is None else skip[c.run])
