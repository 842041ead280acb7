"""The engine's step launches the same kernels whatever the bucket holds: the number of (non-view) aten operations per
training step does not depend on how many runs a bucket has nor on how many different depths they have (ragged depth,
synthetic.models.BlockLayout), only on the largest depth. Counted with a TorchDispatchMode on the code path a GPU
takes (`gpu_code_path`: no CPU tiling of the element-wise update, no CPU chunks, finished runs padded rather than
split off); no timing. Runs share one seed so the data source (one generator
per distinct seed) draws the same batches whatever the bucket size."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from theory.bridge import BaseHP

import synthetic.engine
import synthetic.models
import synthetic.optim
import synthetic.runwise
from synthetic.config import ModelConfig, OptimConfig, RunConfig
from synthetic.engine import train_bucket


class KernelCount(TorchDispatchMode):
    """Counts the aten operations that are not views (views launch no kernel)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not func.is_view:
            self.ops[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


def gpu_code_path(monkeypatch) -> None:
    """Turn off every CPU-only choice of the engine: what a GPU runs, on this CPU."""
    monkeypatch.setattr(synthetic.optim, "CPU_TILE_BYTES", None)
    monkeypatch.setattr(synthetic.engine, "CPU_CHUNKS", False)
    monkeypatch.setattr(synthetic.models, "CPU_DROP_FINISHED_RUNS", False)
    monkeypatch.setattr(synthetic.optim, "CPU_SKIP_MASKS", False)
    monkeypatch.setattr(synthetic.optim, "CPU_HOST_SCALARS", False)
    monkeypatch.setattr(synthetic.runwise, "CPU_RUNWISE", False)


def bucket(depths, steps: int, opt: str, width: int = 16) -> list[RunConfig]:
    return [RunConfig(model=ModelConfig(width=width, depth=d, d_out=4, bias=True), optim=OptimConfig(name=opt),
                      steps=steps, batch_size=8, seed=0, base=BaseHP(sigma2=2.0, eta=1e-3 * (i + 1), n_base=1, L_base=1))
            for i, d in enumerate(depths)]


def ops_per_step(depths, opt: str, width: int = 16) -> Counter:
    """Operations of 5 steps minus those of 3 steps (set-up and the final host copy cancel), halved."""
    counts = []
    for steps in (3, 5):
        with KernelCount() as c:
            train_bucket(bucket(depths, steps, opt, width))
        counts.append(c.ops)
    diff = counts[1] - counts[0]
    assert all(v % 2 == 0 for v in diff.values())
    return Counter({k: v // 2 for k, v in diff.items()})


@pytest.mark.parametrize("opt, width", [("adamw", 16), ("sgd", 16), ("muon_kimi_adamw", 16), ("shampoo_adamw", 16),
                                        ("lion", 16), ("adamw", 128)])
def test_ops_per_step_do_not_depend_on_runs_or_depths(opt, width, monkeypatch):
    """Width 128 takes the direct hidden-weight gradient path (models.DIRECT_MIN_ELEMENTS), width 16 autograd's."""
    gpu_code_path(monkeypatch)
    one = ops_per_step((4,), opt, width)
    assert sum(one.values()) > 50   # a real step was counted
    for depths in ((4, 4), (4,) * 8, (4, 2, 1), (4, 3, 2, 1, 1, 1)):
        assert ops_per_step(depths, opt, width) == one, depths
    assert sum(ops_per_step((8,), opt, width).values()) > sum(one.values())   # the count does see depth


@pytest.mark.parametrize("opt", ["adamw", "muon_kimi_adamw", "sophia"])
@pytest.mark.parametrize("norm, dtype", [("none", "float32"), ("rms", "float64")])
def test_gpu_code_path_trains_like_the_cpu_choices(opt, norm, dtype, monkeypatch):
    """The engine's CPU choices (tiled update, buckets in chunks of sizes it times, finished runs split off the residual
    stream) give the records of the code path a GPU takes bit for bit, features and updates included, on a ragged
    bucket."""
    runs = [replace(r, model=replace(r.model, norm=norm), dtype=dtype, measure_at=(0, 5),
                    measurements=("loss", "w_rms", "dw_rms", "h_rms", "dh_rms"))
            for r in bucket((4, 2, 2, 1), 5, opt)]
    monkeypatch.setattr(synthetic.optim, "CPU_TILE_BYTES", 64)   # many tiles
    monkeypatch.setattr(synthetic.engine, "runs_per_chunk", lambda *a, **k: 3)   # cut into chunks
    monkeypatch.setattr(synthetic.engine, "_CHUNK_SIZES", {})
    chunks = [len(c) for c, _ in synthetic.engine.train_in_chunks(runs, torch.device("cpu"))]
    assert len(chunks) > 1 and chunks[:2] == [1, 2], chunks
    monkeypatch.setattr(synthetic.engine, "_CHUNK_SIZES", {})   # train_bucket searches again, in the same chunks
    cpu = train_bucket(runs)
    gpu_code_path(monkeypatch)
    whole = train_bucket(runs)
    for a, b in zip(cpu, whole):
        assert a.records and [r.value for r in a.records] == [r.value for r in b.records]
