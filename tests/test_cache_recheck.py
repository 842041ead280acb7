"""benchmarks.cache_recheck: runs cached by this code come back identical; a cached value changed by one ulp is
reported (exit 1); a folder without runs is one error line (exit 2)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

from theory.bridge import BaseHP

from benchmarks.cache_recheck import main, recheck
from synthetic.cache import RunCache, cache_key
from synthetic.config import ModelConfig, OptimConfig, RunConfig
from synthetic.grid import run_grid

ROOT = Path(__file__).resolve().parents[1]


def runs() -> list[RunConfig]:
    return [RunConfig(model=ModelConfig(width=32, depth=2), optim=OptimConfig(name=opt), steps=5, batch_size=8,
                      seed=seed, base=BaseHP(sigma2=2.0, eta=1e-2, n_base=1, L_base=1), measure_at=(0, 5),
                      measurements=("loss", "sigma1"))
            for opt in ("adamw", "muon_kimi_adamw") for seed in (0, 1)]


def test_a_fresh_cache_rechecks_identical_and_a_changed_value_is_caught(tmp_path):
    lines: list[str] = []
    run_grid(runs(), cache_dir=tmp_path, progress=False)
    assert recheck(str(tmp_path), per_key=2, log=lines.append) == 0
    assert lines[-1].startswith("4 of 4 runs identical")

    cache = RunCache(tmp_path)
    victim = runs()[0]
    hit = cache.load(cache_key(victim))
    records = list(hit.records)
    last = records[-1]
    records[-1] = last._replace(value=math.nextafter(last.value, math.inf))
    cache.store(cache_key(victim), hit.run_id, hit.config, records, hit.diverged_at, hit.trained_on)
    assert recheck(str(tmp_path), per_key=2, log=lines.append) == 1
    assert main([str(tmp_path)]) == 1


def test_runs_trained_elsewhere_are_skipped(tmp_path):
    run_grid(runs()[:1], cache_dir=tmp_path, progress=False)
    cache = RunCache(tmp_path)
    key = cache_key(runs()[0])
    hit = cache.load(key)
    cache.store(key, hit.run_id, hit.config, hit.records, hit.diverged_at, {**hit.trained_on, "cpu": "another CPU"})
    lines: list[str] = []
    assert recheck(str(tmp_path), log=lines.append) == 0
    assert lines[-1] == "0 of 0 runs identical; skipped 1 trained elsewhere and 0 longer than 1000 steps"


def test_an_empty_folder_is_one_error_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchmarks.cache_recheck", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no cached runs" in done.stderr
