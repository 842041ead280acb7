"""synthetic.cpu_cache: the chunk size of a bucket on a CPU, a closed form of the L2 size and the activation size."""

from __future__ import annotations

import torch

import synthetic.engine
from synthetic.config import ModelConfig, RunConfig
from synthetic.cpu_cache import L2_SHARE, cache_sizes, runs_per_chunk
from synthetic.engine import cpu_chunks

MIB = 2**20


def test_runs_per_chunk_keeps_one_blocks_working_set_within_its_share_of_l2():
    assert L2_SHARE == 1
    # 1 MiB L2, batch 128, float32: a run's block needs (128·n + n²)·4 bytes (activation and weight)
    per_run = {n: (128 * n + n * n) * 4 for n in (64, 128, 256, 512, 1024, 4096)}
    assert per_run[64] == 49152 and per_run[256] == 393216
    assert [runs_per_chunk(128, n, 4, l2_bytes=MIB) for n in per_run] == [21, 8, 2, 1, 1, 1]
    assert runs_per_chunk(128, 128, 8, l2_bytes=MIB) == 4          # float64 halves it
    assert runs_per_chunk(128, 256, 4, l2_bytes=2 * MIB) == 5      # a 2 MiB L2: 2097152 // 393216
    assert runs_per_chunk(8, 16, 4, l2_bytes=MIB) == 682           # 1048576 // 1536
    assert runs_per_chunk(128, 256, 4, l2_bytes=0) is None         # unknown L2: the bucket trains whole


def test_cache_sizes_are_positive_where_the_os_reports_them():
    sizes = cache_sizes()
    assert all(isinstance(v, int) and v > 0 for v in sizes.values())
    assert set(sizes) <= {"L1d", "L2", "L3", "L4"}


def test_a_bucket_is_cut_into_consecutive_chunks_on_a_cpu_only(monkeypatch):
    runs = [RunConfig(model=ModelConfig(width=256, depth=d), seed=s, batch_size=128) for s, d in enumerate((4, 4, 2, 1, 1))]
    monkeypatch.setattr(synthetic.engine, "runs_per_chunk", lambda batch, width, itemsize: MIB // (4 * batch * width * itemsize))
    assert cpu_chunks(runs, torch.device("cpu")) == [runs[0:2], runs[2:4], runs[4:5]]
    assert cpu_chunks(runs, torch.device("meta")) == [runs]
    monkeypatch.setattr(synthetic.engine, "CPU_CHUNKS", False)
    assert cpu_chunks(runs, torch.device("cpu")) == [runs]
