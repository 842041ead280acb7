"""synthetic.heap: the thresholds take effect (glibc's own accounting says where a large buffer lives), and a bucket
trains the same bits with them and without. Each check runs in a fresh process: the setting is process-wide."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="the thresholds are glibc's")

PROBE = textwrap.dedent("""
    import ctypes, hashlib, json, sys
    import torch
    from synthetic import heap
    heap.enabled(sys.argv[1] == "keep")
    kept = heap.keep_freed_memory()

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")]
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    big = torch.empty(64 * 2**20 // 4)
    mapped = libc.mallinfo2().hblkhd

    from theory.bridge import BaseHP
    from synthetic import engine
    from synthetic.config import ModelConfig, OptimConfig, RunConfig
    torch.set_num_threads(1)
    engine.CPU_CHUNKS = False
    runs = [RunConfig(model=ModelConfig(width=128, depth=4), optim=OptimConfig(name="muon_kimi_adamw"), steps=3,
                      batch_size=32, seed=seed, base=BaseHP(sigma2=2.0, eta=eta, n_base=1, L_base=1),
                      measure_at=(0, 3), measurements=("loss", "sigma1", "dw_rms"))
            for eta in (1e-3, 1e-2) for seed in range(8)]
    digest = hashlib.sha256(repr([(r.step, r.layer, r.quantity, r.index, r.value)
                                  for res in engine.train_bucket(runs) for r in res.records]).encode()).hexdigest()
    print(json.dumps({"kept": kept, "mapped": mapped, "digest": digest}))
""")


def probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc
def test_a_large_buffer_lives_in_the_heap_only_with_the_thresholds_raised():
    kept, system = probe("keep"), probe("system")
    assert kept["kept"] is True and system["kept"] is False
    assert system["mapped"] >= 64 * 2**20, "glibc's default maps a 64 MiB buffer of its own"
    assert kept["mapped"] < 64 * 2**20, "with the thresholds raised the buffer comes from the heap"
    assert kept["digest"] == system["digest"], "where the memory comes from changed a trained number"


def test_enabled_false_before_training_leaves_the_defaults():
    out = subprocess.run([sys.executable, "-c", "from synthetic import heap; heap.enabled(False); "
                          "print(heap.keep_freed_memory())"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
