"""Make the repository root importable when pytest runs from any folder."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


import os  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def engine_device() -> str:
    """The device the `engine_device` tests train on: SYNTHETIC_TEST_DEVICE (default cpu), so that
    `SYNTHETIC_TEST_DEVICE=cuda pytest -m engine_device` runs them on a GPU (benchmarks.gpu_check)."""
    import torch

    device = os.environ.get("SYNTHETIC_TEST_DEVICE", "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip("SYNTHETIC_TEST_DEVICE asks for CUDA, which this machine lacks")
    return device
