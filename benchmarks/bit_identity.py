"""Does a change leave the engine's numbers alone? Train a fixed set of buckets and write every record value exactly.

    python -m benchmarks.bit_identity --json /tmp/before.json          # on the old commit
    python -m benchmarks.bit_identity --json /tmp/after.json           # on the new one
    cmp /tmp/before.json /tmp/after.json && echo identical

The buckets cover the optimizers (`--set elementwise`: AdamW, SGD plain / heavy-ball / Nesterov, Lion, Muon-Kimi-AdamW,
Shampoo-AdamW; `--set matrix`: Sophia, SOAP, SSO, Muon), float32 and float64, with and without biases and RMS norm,
ragged depths, a warmup + cosine schedule on some runs, and η = 10 runs that diverge. Floats are written as
`float.hex`, so equal files mean equal bits. One thread, on the CPU. This is how an engine change that must not move
a number (and so keeps `ENGINE_VERSION`) is checked against the code before it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Sequence

import torch
from theory.bridge import BaseHP

from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from synthetic.engine import train_bucket
from synthetic.schedule import ScheduleConfig
from theory.cli import OneLineParser, output_file_problem

MEASURE = ("loss", "test_loss", "h_rms", "dh_rms", "w_rms", "dw_rms", "sigma1", "g1_weight")
OPTIMIZERS = {
    "elementwise": (OptimConfig(name="adamw"), OptimConfig(name="sgd"), OptimConfig(name="sgd", momentum=0.9),
                    OptimConfig(name="sgd", momentum=0.9, nesterov=True), OptimConfig(name="lion"),
                    OptimConfig(name="muon_kimi_adamw"), OptimConfig(name="shampoo_adamw")),
    "matrix": (OptimConfig(name="sophia"), OptimConfig(name="soap"), OptimConfig(name="sso", momentum=0.9),
               OptimConfig(name="muon", momentum=0.95)),
}
SHAPES = ((16, (3, 2, 1)), (48, (2,)), (96, (2, 1)))  # width, depths of one bucket
HPS = ((1e-2, 0.0), (3e-2, 0.1), (10.0, 0.1))  # (η, λ); η = 10 diverges in most buckets


def buckets(which: str) -> list[list[RunConfig]]:
    warmup_cosine = ScheduleConfig(warmup_steps=3, warmup_start=0.1, decay="cosine", floor=0.1)
    out = []
    for optim in OPTIMIZERS[which]:
        for dtype in ("float32", "float64"):
            for bias, norm in ((False, "none"), (True, "rms")):
                for width, depths in SHAPES:
                    out.append([RunConfig(model=ModelConfig(width=width, depth=d, k=2, d_in=8, d_out=3, norm=norm,
                                                            bias=bias),
                                          optim=optim, base=BaseHP(eta=eta, lam=lam, sigma2=2.0, n_base=8, L_base=2),
                                          data=DataConfig(kind="teacher_regression"), steps=10, batch_size=8,
                                          seed=i, dtype=dtype, measure_at=(0, 5, 10), measurements=MEASURE,
                                          schedule=warmup_cosine if i % 2 else ScheduleConfig())
                                for i, d in enumerate(depths) for eta, lam in HPS])
    return out


def exact(value):
    return float(value).hex() if isinstance(value, float) else value


def fingerprint(bucket_list: Sequence[Sequence[RunConfig]]) -> dict[str, list]:
    """Per run (bucket.run index): its `diverged_at` and every record field, floats as `float.hex`."""
    out = {}
    for b, runs in enumerate(bucket_list):
        for r, res in enumerate(train_bucket(runs)):
            out[f"{b}.{r}"] = [res.diverged_at] + [[k, exact(v)] for rec in res.records
                                                   for k, v in sorted(rec._asdict().items())]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineParser(prog="python -m benchmarks.bit_identity", description=__doc__.split("\n\n")[0],
                      raise_errors=False)
    p.add_argument("--json", required=True, help="file to write the fingerprint to")
    p.add_argument("--set", default="elementwise", choices=sorted(OPTIMIZERS), help="which optimizers")
    args = p.parse_args(argv)
    problem = output_file_problem(args.json)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    fp = fingerprint(buckets(args.set))
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(fp, f)
    print(f"{len(fp)} runs ({sum(v[0] is not None for v in fp.values())} diverged) -> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
