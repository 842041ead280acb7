"""synthetic.inductor_cache: a process that forces a CPU kernel path compiles into a cache of its own, and the
compiled update builds under a forced path after a native build of the same kernel (torch 2.13's inductor reuses the
native C++ otherwise, which does not compile there)."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import tempfile

import pytest

from benchmarks.kernel_paths import path_env
from synthetic.inductor_cache import cache_dir_for_kernel_path


def test_only_a_forced_path_without_a_chosen_cache_gets_its_own():
    assert cache_dir_for_kernel_path({}) is None
    assert cache_dir_for_kernel_path({"ATEN_CPU_CAPABILITY": "default", "TORCHINDUCTOR_CACHE_DIR": "/x"}) is None
    default = os.path.join(tempfile.gettempdir(), f"torchinductor_{getpass.getuser()}")   # set by torch._dynamo
    assert cache_dir_for_kernel_path({"ATEN_CPU_CAPABILITY": "avx2", "TORCHINDUCTOR_CACHE_DIR": default}) \
        == default + "_avx2"
    a = cache_dir_for_kernel_path({"ATEN_CPU_CAPABILITY": "default"})
    b = cache_dir_for_kernel_path({"ATEN_CPU_CAPABILITY": "avx2"})
    assert a and b and a != b and a.endswith("_default") and b.endswith("_avx2")


SCRIPT = """
import torch
from synthetic.rules.base import compiled
def step(w, g, lr):
    return w.sub_(lr * g.sign())
f = compiled(step)
w = torch.ones(64, 48); g = torch.linspace(-1, 1, 64 * 48).reshape(64, 48)
f(w, g, 0.5)
print(float(w.sum()))
"""


def test_a_forced_path_builds_after_a_native_build(tmp_path):
    """The same kernel compiled natively, then under the `default` path with the same TORCHINDUCTOR_CACHE_DIR unset
    (inductor's default folder redirected to tmp_path through TMPDIR, as a fresh machine's /tmp): both build, and
    give Σ(w − 0.5·sign g)."""
    sums = []
    for path in ("native", "default"):
        env = path_env(path, {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"})
        env["TMPDIR"] = str(tmp_path)
        proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        sums.append(float(proc.stdout.split()[-1]))
    assert sums == [64.0 * 48, 64.0 * 48]   # g has as many negative entries as positive, none zero
