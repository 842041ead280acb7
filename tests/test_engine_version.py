"""synthetic.version: the engine's numbers are pinned to ENGINE_VERSION by a hash of a small fixed bucket's records.

When this fails, the engine's numbers changed. If that was intended, bump `ENGINE_VERSION` in synthetic/version.py
(every cached run then becomes a miss) and record the new hash with

    python tests/test_engine_version.py --update
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch
from theory.bridge import BaseHP

from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from synthetic.engine import run_id, train_bucket
from synthetic.schedule import ScheduleConfig
from synthetic.version import ENGINE_VERSION

GOLDEN = Path(__file__).resolve().parent / "golden" / "engine_records.json"
MEASURE = ("loss", "test_loss", "h_rms", "dh_rms", "w_rms", "dw_rms", "sigma1", "g1_weight")


def fixed_buckets() -> list[list[RunConfig]]:
    """Small buckets that together touch every engine path: AdamW and Muon-Kimi + AdamW (Newton–Schulz) in float64;
    SGD with Nesterov momentum, Lion and Muon on a classification task in float32; a lone run (the single-run
    kernel path) with d_out = 1; and runs under a warmup + cosine schedule."""
    model = ModelConfig(width=16, depth=3, k=2, d_in=8, d_out=2, norm="rms", bias=True)
    measure = dict(measure_at=(0, 6, 12), measurements=MEASURE)
    base = BaseHP(eta=1e-2, lam=0.1, sigma2=2.0, n_base=8, L_base=2)
    buckets = []
    for opt in ("adamw", "muon_kimi_adamw"):
        buckets.append([RunConfig(model=model, optim=OptimConfig(name=opt), parameterization=param,
                                  base=BaseHP(eta=eta, lam=0.1, sigma2=2.0, n_base=8, L_base=2),
                                  data=DataConfig(kind="teacher_regression"), loss="mse", steps=12, batch_size=8,
                                  seed=seed, dtype="float64", **measure)
                        for seed in (0, 1) for eta in (1e-3, 1e-2) for param in ("mup_k2", "sp")])
    classify = DataConfig(kind="teacher_classification")
    for optim in (OptimConfig(name="sgd", momentum=0.9, nesterov=True), OptimConfig(name="lion"),
                  OptimConfig(name="muon", momentum=0.95)):
        buckets.append([RunConfig(model=ModelConfig(width=16, depth=2, k=2, d_in=8, d_out=1), optim=optim,
                                  parameterization=param, base=base, data=classify, loss="bce", steps=12,
                                  batch_size=8, seed=seed, dtype="float32", **measure)
                        for seed in (0, 1) for param in ("mup_k1", "mup_k2")])
    lone = ModelConfig(width=16, depth=2, k=1, d_in=8, d_out=1)
    buckets.append([RunConfig(model=lone, optim=OptimConfig(name="adamw"), base=base, steps=12, batch_size=1,
                              dtype="float32", **measure)])
    warmup_cosine = ScheduleConfig(warmup_steps=3, warmup_start=0.1, decay="cosine", floor=0.1)
    buckets.append([RunConfig(model=model, optim=OptimConfig(name="adamw"), base=base, steps=12, batch_size=8,
                              seed=seed, dtype="float64", schedule=sched, **measure)
                    for seed, sched in ((0, warmup_cosine), (1, ScheduleConfig(decay="cosine")))])
    return buckets


def records_hash() -> str:
    """sha256 over every record of the fixed buckets, values to 10 significant digits (robust to the last bits)."""
    h = hashlib.sha256()
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for bucket in fixed_buckets():
            for res in train_bucket(bucket, "cpu"):
                h.update(f"{res.diverged_at}\n".encode())
                for r in res.records:
                    h.update(f"{r.step} {r.layer} {r.quantity} {r.index} {r.value:.10g}\n".encode())
    finally:
        torch.set_num_threads(saved)
    return h.hexdigest()


def test_records_match_the_golden_hash_of_this_engine_version():
    golden = json.loads(GOLDEN.read_text())
    digest = records_hash()
    if golden["engine_version"] != ENGINE_VERSION:
        assert False, (f"ENGINE_VERSION is {ENGINE_VERSION} but the golden hash is for {golden['engine_version']}: "
                       f"record it with `python tests/test_engine_version.py --update`")
    assert digest == golden["sha256"], (
        f"the engine's numbers changed but ENGINE_VERSION is still {ENGINE_VERSION}: bump it in synthetic/version.py "
        f"(cached runs of {ENGINE_VERSION} would otherwise be served), then `python tests/test_engine_version.py --update`")


def test_the_run_key_depends_on_the_engine_version(monkeypatch):
    run = fixed_buckets()[0][0]
    before = run_id(run)
    monkeypatch.setattr("synthetic.engine.ENGINE_VERSION", ENGINE_VERSION + "-next")
    assert run_id(run) != before


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    GOLDEN.write_text(json.dumps({"engine_version": ENGINE_VERSION, "sha256": records_hash()}, indent=1) + "\n")
    print(f"wrote {GOLDEN}")
