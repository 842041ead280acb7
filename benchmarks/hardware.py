"""Timing and the table of known peak throughputs used to express achieved TFLOP/s as a share of peak.

Devices are resolved by synthetic.device.resolve_device (the repository's one resolver) and command lines parsed by
theory.cli.OneLineParser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, TypeVar

import torch

T = TypeVar("T")


@dataclass(frozen=True)
class Peak:
    """Dense peak throughput of one device, TFLOP/s: plain fp32 (non-tensor) and TF32 tensor cores."""

    name: str
    fp32: float | None
    tf32: float | None


# Vendor datasheet figures (dense, no sparsity). Matched as substrings of torch.cuda.get_device_name(), first hit wins.
KNOWN_PEAKS: tuple[tuple[str, Peak], ...] = (
    ("H200", Peak("NVIDIA H200", 67.0, 494.7)),
    ("H100 PCIe", Peak("NVIDIA H100 PCIe", 51.2, 378.0)),
    ("H100", Peak("NVIDIA H100 SXM", 67.0, 494.7)),
    ("A100", Peak("NVIDIA A100", 19.5, 156.0)),
)
UNKNOWN = Peak("unknown", None, None)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    from benchmarks.kernel_paths import describe_line

    return describe_line()


def peak_for(device: torch.device, override_tflops: float | None) -> Peak:
    """The peak table entry for this device; --peak-tflops overrides the fp32 figure (and is the only source on CPU)."""
    peak = UNKNOWN
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = next((p for key, p in KNOWN_PEAKS if key in name), UNKNOWN)
    if override_tflops is not None:
        peak = Peak(f"{peak.name} (fp32 peak from --peak-tflops)", override_tflops, peak.tf32)
    return peak


def set_precision(tf32: bool) -> str:
    """Fix matmul precision for the whole process and return a label saying which was used."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    return "float32 with TF32 matmuls" if tf32 else "float32, TF32 off (full fp32 matmuls)"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], T], device: torch.device) -> tuple[T, float, float]:
    """(fn(), wall seconds, process CPU seconds), with the device drained before and after so queued GPU work is
    counted. CPU seconds (all threads of this process) are the steadier figure on a CPU shared with other jobs."""
    synchronize(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    out = fn()
    synchronize(device)
    return out, time.perf_counter() - start, time.process_time() - cpu_start
