"""The two benchmark grids of the issue, their small CPU versions, and overrides (--steps, --widths).

G1, HP sweep (shared shapes): residual ReLU MLP, k = 2, d_in 32, d_out 8, depth 8, widths {128, 256, 512, 1024},
AdamW with 8 base learning rates × 2 base weight decays × 2 seeds (32 runs per width), batch 128, 300 steps,
a fresh Gaussian-teacher batch every step. G2, width × depth (every shape distinct): widths {64, …, 2048} ×
depths {2, …, 64}, k = 2, AdamW, batch 128, 500 steps, one run per shape.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from theory.bridge import BaseHP

G1_ETAS = tuple(2.0 ** e for e in range(-12, -4))  # 8 base learning rates, ×2 apart: 2.4e-4 … 3.1e-2
G1_LAMS = (0.0, 0.1)
G1_SEEDS = (0, 1)
G2_ETA, G2_LAM = 2.0 ** -8, 0.0
PARAMETERIZATION = "mup_k2"
# The paper's absolute-n convention (multipliers 1/L and 1/n, hidden init variance 2/n, output init variance 2), so
# every width and depth starts at an O(1) loss; the lr and wd values then scale from there.
SIGMA2_BASE = 2.0
D_IN, D_OUT, K, BATCH = 32, 8, 2, 128


@dataclass(frozen=True)
class GridSpec:
    """A grid's sizes; `runs()` expands it to RunConfigs."""

    name: str
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    etas: tuple[float, ...]
    lams: tuple[float, ...]
    seeds: tuple[int, ...]
    steps: int
    batch: int = BATCH

    def runs(self) -> list[RunConfig]:
        """Width-major order, so the runs of one (width, depth) are contiguous."""
        out = []
        for width in self.widths:
            for depth in self.depths:
                model = ModelConfig(width=width, depth=depth, k=K, d_in=D_IN, d_out=D_OUT, activation="relu")
                for eta in self.etas:
                    for lam in self.lams:
                        for seed in self.seeds:
                            out.append(RunConfig(model=model, optim=OptimConfig(name="adamw"),
                                                 parameterization=PARAMETERIZATION, base=BaseHP(eta=eta, lam=lam, sigma2=SIGMA2_BASE, n_base=1, L_base=1),
                                                 data=DataConfig(kind="teacher_regression", n_train=None),
                                                 loss="mse", steps=self.steps, batch_size=self.batch, seed=seed,
                                                 dtype="float32", measurements=("loss",)).validate())
        return out


FULL = {
    "G1": GridSpec("G1", widths=(128, 256, 512, 1024), depths=(8,), etas=G1_ETAS, lams=G1_LAMS, seeds=G1_SEEDS,
                   steps=300),
    "G2": GridSpec("G2", widths=(64, 128, 256, 512, 1024, 2048), depths=(2, 4, 8, 16, 32, 64), etas=(G2_ETA,),
                   lams=(G2_LAM,), seeds=(0,), steps=500),
}
QUICK = {  # seconds on a 2-core CPU: the CI smoke run
    "G1": replace(FULL["G1"], widths=(32, 64), depths=(2,), etas=G1_ETAS[::2], seeds=(0,), steps=20, batch=32),
    "G2": replace(FULL["G2"], widths=(16, 32, 64), depths=(1, 2, 4), steps=20, batch=32),
}


def select_spec(name: str, quick: bool, steps: int | None, widths: Sequence[int] | None,
                depths: Sequence[int] | None = None) -> GridSpec:
    spec = (QUICK if quick else FULL)[name]
    if steps is not None:
        spec = replace(spec, steps=steps)
    if widths:
        spec = replace(spec, widths=tuple(widths))
    if depths:
        spec = replace(spec, depths=tuple(depths))
    return spec
