"""synthetic.cpu_cache: the chunk size of a bucket on a CPU, a closed form of the L2 size and the activation size."""

from __future__ import annotations

import torch

import synthetic.engine
from synthetic.config import ModelConfig, RunConfig
from synthetic.cpu_cache import L2_SHARE, cache_sizes, runs_per_chunk
from synthetic.engine import cpu_chunks

MIB = 2**20


def test_runs_per_chunk_keeps_one_activation_within_its_share_of_l2():
    assert L2_SHARE == 1
    # 1 MiB L2, batch 128, float32: a run's activation is 128·n·4 bytes; 1 MiB holds 2048 / n runs of it
    assert [runs_per_chunk(128, n, 4, l2_bytes=MIB) for n in (64, 128, 256, 512, 1024, 4096)] == [32, 16, 8, 4, 2, 1]
    assert runs_per_chunk(128, 256, 8, l2_bytes=MIB) == 4          # float64 halves it
    assert runs_per_chunk(128, 256, 4, l2_bytes=2 * MIB) == 16     # a 2 MiB L2 doubles it
    assert runs_per_chunk(8, 16, 4, l2_bytes=MIB) == 2048
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
