"""Your model, the derived rules: a pre-norm residual MLP written here in plain PyTorch (not the engine's model),
parameterized by `synthetic.parameterize`, trained with torch.optim.AdamW, and coordinate-checked over width and depth
by `synthetic.coord_check`, under μP (mup_k2) and SP.

    python -m examples.coord_check [--widths 64 128 256] [--depths 2 4 8] [--steps 5] [--seeds 0 1 2]

Prints the log-log slope of ‖h_L‖_RMS (the last block's output) against width and against depth at every step, with
its 95% interval over seeds, and the same for ‖Δh_L‖_RMS (its change since initialization): μP's slopes stay near 0
(flat), SP's grow. The base HPs are the catalogue's coordinate checks' (figures/coord.py: AdamW base lr, hidden and
input base init variances, base width and depth of the default grid). Under the k ≥ 2 rule ‖h_L‖² = A + c/L at
initialization (the 1/√L random part of the residual sum), so ‖h_L‖'s depth slope is slightly negative before any
training; how much depends on the branch's size at the base shape.
"""

from __future__ import annotations

import sys
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from figures.coord import ETA_BASE, SIGMA2_BASE, SIGMA2_INPUT, grid
from synthetic.coord_check import coord_check, slopes
from synthetic.parameterize import Shape, hparams, initialize, param_groups, scale_outputs
from theory.bridge import BaseHP
from theory.cli import OneLineParser

D_IN, D_OUT, BATCH = 32, 4, 16
BASE = BaseHP(eta=ETA_BASE["adamw"], sigma2=SIGMA2_BASE, sigma2_input=SIGMA2_INPUT, n_base=grid("default").n_base,
              L_base=grid("default").L_base)
ROLES = {"embed.weight": "input", "blocks.*.weight": "hidden", "head.weight": "output"}


class Branch(nn.Module):
    """norm → W1 → ReLU → W2: one residual branch (its output is what the branch multiplier scales)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.up, self.down = nn.Linear(width, width, bias=False), nn.Linear(width, width, bias=False)

    def forward(self, h):
        return self.down(F.relu(self.up(F.rms_norm(h, (h.shape[-1],)))))


class PreNormMLP(nn.Module):
    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        self.embed = nn.Linear(D_IN, width, bias=False)
        self.blocks = nn.ModuleList(Branch(width) for _ in range(depth))
        self.final = nn.Identity()          # h_L, watched by the coordinate check
        self.head = nn.Linear(width, D_OUT, bias=False)

    def forward(self, x):
        h = self.embed(x)
        for block in self.blocks:
            h = h + block(h)
        return self.head(self.final(h))


def shape(width: int, depth: int) -> Shape:
    return Shape(width=width, depth=depth, k=2, d_in=D_IN, d_out=D_OUT)


def make_model(parameterization: str):
    def build(width: int, depth: int, seed: int) -> nn.Module:
        model = PreNormMLP(width, depth)
        hp = hparams("adamw", parameterization, shape(width, depth), BASE, biases=False)
        initialize(model, ROLES, hp, torch.Generator().manual_seed(seed))
        scale_outputs({"input": [model.embed], "hidden": list(model.blocks), "output": [model.head]}, hp)
        return model
    return build


def make_optimizer(parameterization: str):
    def build(model: nn.Module, width: int, depth: int) -> torch.optim.Optimizer:
        hp = hparams("adamw", parameterization, shape(width, depth), BASE, biases=False)
        return torch.optim.AdamW(param_groups(model, ROLES, hp))
    return build


def batches(seed: int, t: int):
    """A fixed random linear teacher per seed; batch t is a function of (seed, t)."""
    g = torch.Generator().manual_seed(seed)
    teacher = torch.randn(D_IN, D_OUT, generator=g) / D_IN ** 0.5
    x = torch.randn(BATCH, D_IN, generator=torch.Generator().manual_seed(seed * 100_003 + t + 1))
    return x, x @ teacher


def run(widths: Sequence[int], depths: Sequence[int], steps: int, seeds: Sequence[int]) -> dict:
    """{(parameterization, quantity, over): {step: FitResult}} for ‖h_L‖_RMS ("rms") and ‖Δh_L‖_RMS ("delta_rms")."""
    out = {}
    for p in ("mup_k2", "sp"):
        records = coord_check(make_model(p), make_optimizer(p), widths=widths, depths=depths, batches=batches,
                              loss_fn=F.mse_loss, watch=lambda m: {"h_L": m.final}, steps=steps, seeds=seeds)
        for q in ("rms", "delta_rms"):
            for over in ("width", "depth"):
                out[(p, q, over)] = {step: fit for (_, step), fit in slopes(records, over=over, quantity=q).items()}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m examples.coord_check", description=__doc__.splitlines()[0],
                       raise_errors=False)
    ap.add_argument("--widths", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--depths", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    a = ap.parse_args(argv)
    if min(a.widths + a.depths) < 1 or a.steps < 1 or len(set(a.seeds)) < 2:
        ap.error("widths and depths must be >= 1, --steps >= 1, and at least two distinct seeds")
    if len(set(a.widths)) < 2 or len(set(a.depths)) < 2:
        ap.error("a slope needs at least two widths and two depths")
    torch.manual_seed(0)
    result = run(a.widths, a.depths, a.steps, a.seeds)
    print(f"log-log slopes, 95% interval over {len(a.seeds)} seeds (widths {a.widths}, depths {a.depths}); "
          f"rms = ‖h_L‖_RMS, delta_rms = ‖h_L − h_L at init‖_RMS on a fixed batch")
    for (p, q, over), fits in result.items():
        cells = ", ".join(f"step {s}: {f.slope:+.3f} [{f.ci_low:+.3f}, {f.ci_high:+.3f}]" for s, f in fits.items())
        print(f"{p:>6} {q:>9} vs {over:<5}  {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
