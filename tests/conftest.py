"""Make the repository root importable when pytest runs from any folder."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


import os  # noqa: E402

import pytest  # noqa: E402


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
