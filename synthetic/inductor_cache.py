"""One torch-inductor cache per forced CPU kernel path.

Inductor keys the C++ it caches by the kernel's source, not by `ATEN_CPU_CAPABILITY`: a kernel vectorized for the
native AVX512 path and then built in a process that forces the `default` (or `avx2`) path does not compile there
(`at::vec has not been declared`; torch 2.13, seen on an AMD EPYC Zen 4 when the test suite ran natively and then
under `benchmarks.kernel_paths --env default`). A process that forces a path therefore gets a cache of its own.
"""

from __future__ import annotations

import getpass
import os
import tempfile


def _default_dir() -> str:
    return os.path.join(tempfile.gettempdir(), f"torchinductor_{getpass.getuser()}")


def cache_dir_for_kernel_path(environ: dict[str, str] | os._Environ = os.environ) -> str | None:
    """The inductor cache folder this process should use: None (leave it) unless ATEN_CPU_CAPABILITY forces a path
    and TORCHINDUCTOR_CACHE_DIR is unset or inductor's default folder (importing torch._dynamo sets it to that)."""
    capability = environ.get("ATEN_CPU_CAPABILITY")
    if not capability or environ.get("TORCHINDUCTOR_CACHE_DIR", _default_dir()) != _default_dir():
        return None
    return f"{_default_dir()}_{capability}"


def separate_inductor_cache() -> None:
    """Point inductor at this kernel path's cache before the process compiles (a process keeps one kernel path, so
    its own compiles never mix)."""
    path = cache_dir_for_kernel_path()
    if path is not None:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = path
