"""Make the repository root importable when pytest runs from any folder."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


import contextlib  # noqa: E402
import os  # noqa: E402

import pytest  # noqa: E402


@contextlib.contextmanager
def torch_threads(n: int):
    """torch's intra-op thread count set to n for the block, restored after."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(saved)


def pytest_configure(config):
    """Under pytest-xdist (the README's `-n auto`), the workers share the cores: each gets its share as torch threads
    and as OMP_NUM_THREADS of the subprocesses it starts, so N workers never run N x cores threads."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers:
        return
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    share = max(1, cores // int(workers))
    os.environ["OMP_NUM_THREADS"] = str(share)
    torch.set_num_threads(share)


SLOW_FIRST = ("test_regression_zheng.py", "test_figures_wd.py", "test_rules_fused.py",
              "test_gpu_check.py", "test_zheng_v2_optimizers.py", "test_regenerate.py", "test_paper_repro.py")
"""Files whose tests take longest (`python -m pytest --durations=40`, over 30 s each): collected first, so that
pytest-xdist's per-file scheduling (`--dist loadfile`) starts them early, not last on one worker while the other
idles."""


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture
def engine_device() -> str:
    """The device the `engine_device` tests train on: SYNTHETIC_TEST_DEVICE (default cpu), so that
    `SYNTHETIC_TEST_DEVICE=cuda pytest -m engine_device` runs them on a GPU (benchmarks.gpu_check)."""
    import torch

    device = os.environ.get("SYNTHETIC_TEST_DEVICE", "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip("SYNTHETIC_TEST_DEVICE asks for CUDA, which this machine lacks")
    return device


CUDA_ROUNDOFF_RTOL = {"float32": 1e-3, "float64": 1e-9}
"""On CUDA a run trained alone and the same run in a bucket agree to round-off, not bit for bit: cuBLAS chooses its
batched-GEMM algorithm by the batch count, so the two round differently at step 1 (one ulp, seen on an H200) and
the difference grows over the steps (a ReLU pre-activation near zero can flip). On a CPU they are bit-identical.
Measured on an H200 (torch 2.11, CUDA 13, `python -m benchmarks.gpu_check`, tests.xml): worst relative differences
1.15e-3 (float32; a difference past 1e-3 only where the values are under 1e-3, inside the absolute floor) and
2.2e-16 (float64)."""

CUDA_EIGH_RTOL = 3e-2
"""Shampoo and SOAP on CUDA, float32: a bucket's preconditioners go to cuSOLVER's batched eigensolver (Jacobi, to a
tolerance), a lone run's to the single-matrix one, and the inverse root amplifies their difference: at least 8.1e-3
on an H200 after 12 steps (the first value past 1e-3 in a ragged bucket), so the check allows 3e-2; on the next
H200 call (benchmarks/reports/h200_2026-12-04/run3_tests.xml) every device test passed, Shampoo-AdamW at a worst
8.1e-3."""


def same_numbers_check(device: str, record=lambda name, value: None):
    """`check(a, b, dtype, what)`: equal lists of numbers, bit for bit on a CPU; on CUDA within
    CUDA_ROUNDOFF_RTOL (CUDA_EIGH_RTOL for an eigendecomposing rule) of the larger magnitude (floor 1e-3; NaN
    matches NaN, an infinity only itself), the worst relative difference over all values passed to
    `record("max_rel_diff", value)` before the check fails."""
    import math

    worst = [0.0]

    def check(a, b, dtype: str, what: str = "", eigh: bool = False) -> None:
        a, b = [float(v) for v in a], [float(v) for v in b]
        assert len(a) == len(b), what
        if not device.startswith("cuda"):
            assert a == b, what
            return
        rtol = max(CUDA_ROUNDOFF_RTOL[dtype], CUDA_EIGH_RTOL if eigh and dtype == "float32" else 0.0)
        bad = []
        for i, (x, y) in enumerate(zip(a, b)):
            if x == y or (math.isnan(x) and math.isnan(y)):
                continue
            if not (math.isfinite(x) and math.isfinite(y)):
                bad.append(f"value {i}: {x} vs {y}")
                continue
            worst[0] = max(worst[0], abs(x - y) / max(abs(x), abs(y)))
            if abs(x - y) > rtol * max(abs(x), abs(y), 1e-3):
                bad.append(f"value {i}: {x} vs {y}")
        record("max_rel_diff", worst[0])
        assert not bad, f"{what}: {len(bad)} values past rtol {rtol:g} (worst relative {worst[0]:.3g}): {bad[:3]}"

    return check


@pytest.fixture
def same_numbers(engine_device, record_property):
    """same_numbers_check on the engine_device tests' device; pytest --junitxml keeps each test's max_rel_diff."""
    return same_numbers_check(engine_device, record_property)
