"""How fast can the stacked AdamW update be? The engine's StackedOptimizer step against leaner ways to apply the
same per-run update to one stacked hidden group [M, L, n, n] (same numbers, checked against the engine's result).

    python -m benchmarks.adamw_variants --runs 32 --depth 8 --width 256 --threads 1

Variants: `engine` (synthetic.optim.StackedOptimizer, with the `alive` mask as the engine passes it), `engine_fused`
(the same with OptimConfig.fused: one torch.compile'd kernel per group), `inplace`
(the same formulas with in-place ops and two temporaries), `per_run` (`inplace` applied run by run, so each run's
slice stays in cache on a CPU), `fused` (torch._fused_adamw_ on per-run views, one call per distinct (lr, wd, eps)),
`torch_optim` (torch.optim.AdamW over M·L separate tensors, as the plain loop has them) and `foreach` (the same with
foreach=True).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Sequence

import torch

from benchmarks.hardware import synchronize
from synthetic.config import OptimConfig
from synthetic.optim import StackedOptimizer
from theory.cli import OneLineParser

B1, B2 = 0.9, 0.999


def make_state(M: int, L: int, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shape = (M, L, n, n)
    return {"p": torch.randn(shape, generator=g) * n ** -0.5, "g": torch.randn(shape, generator=g) * 1e-3,
            "m": torch.randn(shape, generator=g) * 1e-4, "v": torch.rand(shape, generator=g) * 1e-6}


def per_run_hps(M: int) -> tuple[list[float], list[float], list[float]]:
    lrs = [2.0 ** (-12 + (m // 4) % 8) for m in range(M)]
    wds = [0.1 * ((m // 2) % 2) for m in range(M)]
    return lrs, wds, [1e-8] * M


def engine_variant(st, lrs, wds, epss, t: int, fused: bool = False):
    p = st["p"].clone()
    opt = StackedOptimizer({"hidden": p}, {"hidden": "adamw"}, {"hidden": {"lr": lrs, "wd": wds, "eps": epss}},
                           OptimConfig(name="adamw", betas=(B1, B2), fused=fused))
    opt.state["hidden"]["m"].copy_(st["m"])
    opt.state["hidden"]["v"].copy_(st["v"])
    opt.t = t - 1
    opt.t_tensor.fill_(t - 1)
    alive = torch.ones(p.shape[0], dtype=torch.bool)
    return lambda: opt.step({"hidden": st["g"]}, alive), lambda: p


def _inplace(p, g, m, v, lr, wd, eps, t):
    p.mul_(1 - lr * wd)
    m.lerp_(g, 1 - B1)
    v.mul_(B2).addcmul_(g, g, value=1 - B2)
    denom = v.sqrt().div_(math.sqrt(1 - B2 ** t)).add_(eps)
    p.sub_(m.div(denom).mul_(lr / (1 - B1 ** t)))


def inplace_variant(st, lrs, wds, epss, t: int):
    p, m, v = st["p"].clone(), st["m"].clone(), st["v"].clone()
    shape = (-1, 1, 1, 1)
    lr, wd, eps = (torch.tensor(x).view(shape) for x in (lrs, wds, epss))
    return lambda: _inplace(p, st["g"], m, v, lr, wd, eps, t), lambda: p


def per_run_variant(st, lrs, wds, epss, t: int):
    p, m, v = st["p"].clone(), st["m"].clone(), st["v"].clone()

    def step():
        for i in range(p.shape[0]):
            _inplace(p[i], st["g"][i], m[i], v[i], lrs[i], wds[i], epss[i], t)
    return step, lambda: p


def fused_variant(st, lrs, wds, epss, t: int):
    p, m, v = st["p"].clone(), st["m"].clone(), st["v"].clone()
    groups: dict[tuple[float, float, float], list[int]] = {}
    for i, key in enumerate(zip(lrs, wds, epss)):
        groups.setdefault(key, []).append(i)
    steps = [torch.tensor(float(t)) for _ in range(p.shape[0])]  # the fused kernel reads the count as is

    def step():
        for (lr, wd, eps), idx in groups.items():
            torch._fused_adamw_([p[i] for i in idx], [st["g"][i] for i in idx], [m[i] for i in idx],
                                [v[i] for i in idx], [], [steps[i] for i in idx], lr=lr, beta1=B1, beta2=B2,
                                weight_decay=wd, eps=eps, amsgrad=False, maximize=False)
    return step, lambda: p


def torch_optim_variant(st, lrs, wds, epss, t: int, foreach: bool | None = None):
    M, L = st["p"].shape[:2]
    params = [torch.nn.Parameter(st["p"][i, l].clone()) for i in range(M) for l in range(L)]
    for j, q in enumerate(params):
        q.grad = st["g"][j // L, j % L].clone()
    opt = torch.optim.AdamW([{"params": params[i * L:(i + 1) * L], "lr": lrs[i], "weight_decay": wds[i],
                              "eps": epss[i]} for i in range(M)], betas=(B1, B2), foreach=foreach)
    for j, q in enumerate(params):
        opt.state[q] = {"step": torch.tensor(float(t - 1)), "exp_avg": st["m"][j // L, j % L].clone(),
                        "exp_avg_sq": st["v"][j // L, j % L].clone()}
    return opt.step, lambda: torch.stack([q.detach() for q in params]).view(st["p"].shape)


def engine_fused_variant(st, lrs, wds, epss, t: int):
    """The engine with OptimConfig.fused: one torch.compile'd kernel over the group (compiled at the first repeat)."""
    return engine_variant(st, lrs, wds, epss, t, fused=True)


def foreach_variant(st, lrs, wds, epss, t: int):
    """torch.optim.AdamW(foreach=True) on the M·L separate tensors."""
    return torch_optim_variant(st, lrs, wds, epss, t, foreach=True)


VARIANTS = {"engine": engine_variant, "engine_fused": engine_fused_variant, "inplace": inplace_variant,
            "per_run": per_run_variant, "fused": fused_variant, "torch_optim": torch_optim_variant,
            "foreach": foreach_variant}


def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineParser(prog="python -m benchmarks.adamw_variants", description=__doc__.split("\n\n")[0],
                      raise_errors=False)
    p.add_argument("--runs", type=int, default=32)
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int)
    args = p.parse_args(argv)
    if min(args.runs, args.depth, args.width, args.repeats) < 1 or (args.threads is not None and args.threads < 1):
        p.error("--runs, --depth, --width, --repeats and --threads must be >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    M, L, n = args.runs, args.depth, args.width
    st, (lrs, wds, epss) = make_state(M, L, n), per_run_hps(M)
    numel = M * L * n * n
    print(f"stacked AdamW step on [{M}, {L}, {n}, {n}] ({numel / 1e6:.1f}M floats, {4 * numel / 2**20:.0f} MiB per "
          f"tensor), {torch.get_num_threads()} threads; best of {args.repeats} steps")
    reference = None
    for name, make in VARIANTS.items():
        best = math.inf
        for r in range(args.repeats):
            step, result = make(st, lrs, wds, epss, t=3)
            synchronize(torch.device("cpu"))
            start = time.perf_counter()
            step()
            best = min(best, time.perf_counter() - start)
        out = result()
        reference = out if reference is None else reference
        diff = (out - reference).abs().max().item()
        # 7 = the fewest full passes an AdamW step needs: read p, g, m, v and write p, m, v
        print(f"  {name:12s} {1e3 * best:9.2f} ms  {7 * 4 * numel / best / 1e9:6.2f} GB/s effective (7 passes)  "
              f"max |Δ| vs engine {diff:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
