"""Keep freed CPU buffers in the process heap rather than giving them back to the OS (glibc only).

glibc serves an allocation above its mmap threshold (dynamic, at most 32 MiB) with a fresh mapping and unmaps it on
free, and trims the heap's top once more than twice that threshold lies free there. A stacked bucket allocates the
same large temporaries every step (Newton–Schulz's Gram products of every hidden matrix of a chunk, the activations
of a ragged bucket), so each step page-faults them in again and the kernel zeroes every page first. Raising both
thresholds makes the heap keep and reuse that memory. Where the memory comes from changes no number: torch aligns
every CPU buffer to 64 bytes either way (tests/test_heap.py checks a bucket's records bit for bit both ways).
Measured in BENCHMARKS.md ("Freed memory kept in the heap").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""mallopt parameters (glibc's malloc.h)."""
KEEP_BYTES = 1 << 30
"""Both thresholds: allocations up to 1 GiB come from the heap, and up to 1 GiB of free memory stays at its top, so
a process holds at most its peak of live buffers plus that much."""

_state: dict[str, bool] = {}


def keep_freed_memory() -> bool:
    """Set glibc's thresholds once per process; True where glibc accepted them, False elsewhere (another C library,
    another OS) or where `enabled(False)` came first."""
    if "kept" not in _state:
        _state["kept"] = _state.get("enabled", True) and _set_thresholds()
    return _state["kept"]


def enabled(on: bool) -> None:
    """Before any training: False leaves the C library's defaults (a benchmark's baseline, `--system-malloc`). The
    first call in a process decides, and nothing changes once the engine has trained there;
    `keep_freed_memory()` says which holds."""
    _state.setdefault("enabled", on)


def _set_thresholds() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    mallopt = ctypes.CDLL(name).mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
