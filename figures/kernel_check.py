"""The second CPU kernel path the chaotic figures (`figures.regenerate.KERNEL_CHECK`) are checked on: the first of
`benchmarks.kernel_paths.distinct_paths()` on which a short run of their kind trains to other bits than on the
native path.

Why a training probe rather than the instruction sets alone: on an AMD EPYC Zen 4 (AVX512) MKL runs its AVX2 code
natively, and ATen's AVX512 and AVX2 kernels round the Fan figures' operations alike. So wd1–wd3 trained on the
`avx2` path repeat the native runs bit for bit, and a check there shows nothing. Measured 2026-12-05: every number of
their summaries, and 81 of 81 smoke exponents of tests/golden/fan.json; the `default` path differs in all 81.
`tests/test_kernel_paths.py`'s battery of kernels tells the paths apart on that machine, through exp and softmax,
which these runs do not use. The probe is deterministic, so a given machine always picks the same path.
"""

from __future__ import annotations

import functools

PROBE = """
import hashlib, torch
torch.set_num_threads(1)
from figures import wd_setup as ws
from synthetic.grid import run_grid
s = ws.setting("default")
cfg = ws.run_config(s, width=64, seed=0, steps=PROBE_STEPS, base=ws.base_hp(s, width=64, e=0.5))
(res,) = run_grid([cfg], cache_dir=None, device="cpu", progress=False)
h = hashlib.sha256()
for r in sorted(res.records, key=lambda r: (r.step, r.layer, r.quantity, r.index)):
    h.update(f"{r.step} {r.layer} {r.quantity} {r.index} {r.value!r};".encode())
print(h.hexdigest())
"""
"""One wd3 run of the default scale (float32, the one-pass AdamW, batch 16, width 64), hashed record by record."""
PROBE_STEPS = 60


def probe_digest(path: str) -> str:
    """The probe's digest trained on kernel path `path` (a subprocess: the variables act when the libraries load)."""
    from benchmarks.kernel_paths import run_under

    done = run_under(path, ["-c", PROBE.replace("PROBE_STEPS", str(PROBE_STEPS))], check=True)
    return done.stdout.split()[-1]


@functools.lru_cache(maxsize=None)
def second_path() -> str:
    """The first of `distinct_paths()` whose probe digest differs from the native one; the last of them when none
    does (then no forced path can perturb these runs here, and the check is a repeat of the native runs)."""
    from benchmarks.kernel_paths import distinct_paths

    paths = distinct_paths()
    native = probe_digest("native")
    return next((p for p in paths if probe_digest(p) != native), paths[-1])

