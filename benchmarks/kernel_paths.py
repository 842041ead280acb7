"""The CPU kernel paths a number must hold on, and a description of the one this process runs on.

A float32 result depends on the machine's kernel path: which instruction set ATen's vectorized kernels use
(`ATEN_CPU_CAPABILITY`), which MKL uses for BLAS (`MKL_ENABLE_INSTRUCTIONS`), and the thread count. Both variables
are read when the libraries load, so a path is chosen for a whole process: `run_under` starts a subprocess with it.
CI runs the golden tests natively and under every forced path of `KERNEL_PATHS` that differs from the native one
(`distinct_paths`, .ci/run), so a result that only holds on one CPU cannot land.

    python -m benchmarks.kernel_paths              # this process's CPU, caches, ATen and MKL instruction sets
    env $(python -m benchmarks.kernel_paths --env avx2) python -m pytest -m golden   # a command on another path
    python -m benchmarks.kernel_paths --distinct   # the forced paths that differ from this CPU's native one
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from synthetic.cpu_cache import cache_sizes
from synthetic.provenance import cpu_model

KERNEL_PATHS: dict[str, dict[str, str]] = {
    "native": {},
    "avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
    "default": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ATEN_CPU_CAPABILITY": "default"},
}
"""Name -> the environment that forces it. `native` is whatever the machine picks (AVX512 on this project's CPUs)."""

PATH_VARIABLES = ("MKL_ENABLE_INSTRUCTIONS", "ATEN_CPU_CAPABILITY")


def path_env(name: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with the kernel path `name` forced; `native` unsets both."""
    if name not in KERNEL_PATHS:
        raise ValueError(f"unknown kernel path {name!r} (known: {', '.join(KERNEL_PATHS)})")
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in PATH_VARIABLES}
    env.update(KERNEL_PATHS[name])
    return env


def run_under(name: str, argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    """`python argv…` in a subprocess on kernel path `name`, from the repository root, output captured as text."""
    root = Path(__file__).resolve().parent.parent
    return subprocess.run([sys.executable, *argv], env=path_env(name), cwd=root, capture_output=True, text=True,
                          **kwargs)


@functools.lru_cache(maxsize=None)
def native_aten_isa() -> str:
    """The instruction set ATen's vectorized kernels use on this CPU when nothing forces one (asked of a subprocess
    when this process runs on a forced path)."""
    if current_path() == "native":
        import torch

        return torch.backends.cpu.get_cpu_capability()
    done = run_under("native", ["-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"], check=True)
    return done.stdout.strip().splitlines()[-1]


def distinct_paths() -> tuple[str, ...]:
    """The forced paths whose kernels differ from this CPU's native ones: `avx2` and `default` where ATen's native
    kernels are AVX512, only `default` on an AVX2-only CPU (such as an AMD EPYC of the Zen 3 generation), where ATen
    picks AVX2 by itself and capping MKL at AVX2, its best instruction set there, changes nothing: a run on `avx2`
    would repeat the native one."""
    return ("avx2", "default") if native_aten_isa().startswith("AVX512") else ("default",)


def current_path() -> str:
    """The name of the path this process was started on (`custom` when the variables match none)."""
    here = {k: os.environ[k] for k in PATH_VARIABLES if k in os.environ}
    return next((name for name, env in KERNEL_PATHS.items() if env == here), "custom")


def describe() -> dict[str, object]:
    """CPU model, caches, and the instruction sets torch's ATen kernels and MKL use in this process."""
    import torch

    mkl = os.environ.get("MKL_ENABLE_INSTRUCTIONS")
    return {
        "cpu": cpu_model(),
        "caches": cache_sizes(),
        "kernel_path": current_path(),
        "aten_isa": torch.backends.cpu.get_cpu_capability(),
        "mkl": ("not used" if not torch.backends.mkl.is_available()
                else f"capped at {mkl} (MKL_ENABLE_INSTRUCTIONS)" if mkl else "best the CPU supports"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def describe_line() -> str:
    d = describe()
    caches = ", ".join(f"{k} {v // 1024} KiB" for k, v in d["caches"].items())
    return (f"CPU {d['cpu']} ({caches or 'caches unknown'}); kernel path {d['kernel_path']}: ATen {d['aten_isa']}, "
            f"MKL {d['mkl']}; torch {d['torch']}, {d['threads']} threads")


def main(argv: list[str] | None = None) -> int:
    from theory.cli import OneLineParser

    ap = OneLineParser(prog="python -m benchmarks.kernel_paths", description=__doc__.splitlines()[0],
                       raise_errors=False)
    ap.add_argument("--env", choices=list(KERNEL_PATHS), help="print the VAR=value assignments that force this path")
    ap.add_argument("--distinct", action="store_true",
                    help="print the forced paths whose kernels differ from this CPU's native ones (CI tests on these)")
    args = ap.parse_args(argv)
    if args.distinct:
        print(" ".join(distinct_paths()))
    elif args.env:
        print(" ".join(f"{k}={v}" for k, v in KERNEL_PATHS[args.env].items()))
    else:
        print(describe_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
