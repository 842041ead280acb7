"""synthetic.cpu_cache and synthetic.engine.train_in_chunks: when a bucket is cut into chunks on a CPU (a closed form
of the L2 size and a block's working set) and which chunk size the timed search keeps (on a fake clock)."""

from __future__ import annotations

from types import SimpleNamespace

import torch

import synthetic.engine
from synthetic.config import ModelConfig, RunConfig
from synthetic.cpu_cache import L2_SHARE, cache_sizes, chunk_candidates, runs_per_chunk
from synthetic.engine import chunk_sizes_to_try, train_in_chunks

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


class FakeTraining:
    """Stands in for `synthetic.engine._train`: each step of a chunk of k runs takes cost[k] seconds per run-block on
    a fake clock; records the chunks it was given."""

    def __init__(self, cost: dict[int, float]) -> None:
        self.cost, self.now, self.chunks = cost, 0.0, []

    def clock(self) -> float:
        return self.now

    def train(self, runs, dev, data_source, on_step):
        self.chunks.append(len(runs))
        for _ in range(runs[0].steps):
            self.now += self.cost[len(runs)] * sum(r.model.depth for r in runs)
            if on_step is not None:
                on_step(len(runs))
        return [r.seed for r in runs]


def search(monkeypatch, cost, runs, fit=1):
    fake = FakeTraining(cost)
    monkeypatch.setattr(synthetic.engine, "_train", fake.train)
    monkeypatch.setattr(synthetic.engine, "time", SimpleNamespace(perf_counter=fake.clock))
    monkeypatch.setattr(synthetic.engine, "runs_per_chunk", lambda batch, width, itemsize: fit)
    out = list(train_in_chunks(runs, torch.device("cpu")))
    assert [r for chunk, _ in out for r in chunk] == runs                       # consecutive, every run once
    assert [s for _, res in out for s in res] == [r.seed for r in runs]
    assert [len(chunk) for chunk, _ in out] == fake.chunks
    return fake.chunks


def bucket(n, depths=None, steps=6):
    return [RunConfig(model=ModelConfig(width=256, depth=(depths or [4] * n)[s]), seed=s, batch_size=128, steps=steps)
            for s in range(n)]


def test_chunk_candidates_are_powers_of_two_below_the_bucket_and_the_whole_bucket_up_to_16():
    assert chunk_candidates(32) == (1, 2, 4, 8, 16)
    assert chunk_candidates(16) == (1, 2, 4, 8, 16)
    assert chunk_candidates(5) == (1, 2, 4, 5)
    assert chunk_candidates(4) == (1, 2, 4)
    assert chunk_candidates(1) == (1,)


def test_the_search_trains_growing_chunks_then_the_fastest_size_and_remembers_it(monkeypatch):
    monkeypatch.setattr(synthetic.engine, "_CHUNK_SIZES", {})
    cost = {1: 1.0, 2: 0.8, 4: 0.7, 8: 0.75, 16: 0.9}
    assert search(monkeypatch, cost, bucket(40)) == [1, 2, 4, 8, 16, 4, 4, 1]
    assert search(monkeypatch, cost, bucket(10)) == [4, 4, 2]              # same key: no second search
    monkeypatch.setattr(synthetic.engine, "_CHUNK_SIZES", {})
    assert search(monkeypatch, {1: 1.0, 2: 1.5, 4: 0.9}, bucket(9)) == [1, 2, 4, 2]   # a slow size does not stop it
    monkeypatch.setattr(synthetic.engine, "_CHUNK_SIZES", {})
    assert search(monkeypatch, {1: 1.0, 2: 1.5, 4: 1.2}, bucket(9)) == [1, 2, 4, 1, 1]


def test_the_search_compares_time_per_run_block_in_a_ragged_bucket(monkeypatch):
    monkeypatch.setattr(synthetic.engine, "_CHUNK_SIZES", {})
    # depths 8 | 4, 4 | 2, 2, 2, 2 | 1 …: each chunk's step takes the same 8 s; per run-block none is faster than the
    # single run (per run the chunk of 4 would be, and the last four runs would train together)
    depths = [8, 4, 4, 2, 2, 2, 2, 1, 1, 1, 1]
    assert search(monkeypatch, {1: 1.0, 2: 1.0, 4: 1.0}, bucket(11, depths)) == [1, 2, 4, 1, 1, 1, 1]


def test_a_bucket_trains_whole_off_a_cpu_where_it_fits_l2_or_l2_is_unknown(monkeypatch):
    monkeypatch.setattr(synthetic.engine, "_CHUNK_SIZES", {})
    runs = bucket(6)
    assert search(monkeypatch, {6: 1.0}, runs, fit=6) == [6]
    assert search(monkeypatch, {6: 1.0}, runs, fit=None) == [6]
    assert [len(c) for c, _ in train_in_chunks(runs, torch.device("meta"))] == [6]
    monkeypatch.setattr(synthetic.engine, "CPU_CHUNKS", False)
    assert search(monkeypatch, {6: 1.0}, runs, fit=1) == [6]


def test_too_few_steps_to_time_take_the_l2_rules_chunks(monkeypatch):
    monkeypatch.setattr(synthetic.engine, "_CHUNK_SIZES", {})
    assert search(monkeypatch, {2: 1.0, 1: 1.0}, bucket(5, steps=3), fit=2) == [2, 2, 1]


def test_no_chunk_is_tried_that_would_not_fit_the_memory(monkeypatch):
    import synthetic.estimate as est

    runs = bucket(32)
    monkeypatch.setattr(est, "available_bytes", lambda device: 5 * est.run_bytes(runs[0]))
    assert chunk_sizes_to_try(runs, torch.device("cpu")) == (1, 2, 4)
    monkeypatch.setattr(est, "available_bytes", lambda device: 1)
    assert chunk_sizes_to_try(runs, torch.device("cpu")) == (1,)
    monkeypatch.setattr(est, "available_bytes", lambda device: None)
    assert chunk_sizes_to_try(runs, torch.device("cpu")) == (1, 2, 4, 8, 16)


def test_the_memory_check_sees_the_largest_chunk_the_engine_may_train(monkeypatch):
    import synthetic.estimate as est
    from synthetic.engine import largest_cpu_chunk

    runs, cpu = bucket(32), torch.device("cpu")
    monkeypatch.setattr(est, "available_bytes", lambda device: None)
    monkeypatch.setattr(synthetic.engine, "runs_per_chunk", lambda batch, width, itemsize: 20)
    assert largest_cpu_chunk(runs, cpu) == 16                    # cut: no chunk above the largest size tried
    monkeypatch.setattr(est, "available_bytes", lambda device: 5 * est.run_bytes(runs[0]))
    assert largest_cpu_chunk(runs, cpu) == 4
    monkeypatch.setattr(synthetic.engine, "runs_per_chunk", lambda batch, width, itemsize: 32)
    assert largest_cpu_chunk(runs, cpu) == 32                    # fits L2 together: trains whole
    assert largest_cpu_chunk(runs, torch.device("meta")) == 32
    # too few steps to time: the L2 rule's size, capped by the memory and by the largest size tried
    monkeypatch.setattr(synthetic.engine, "_CHUNK_SIZES", {})
    assert search(monkeypatch, {4: 1.0, 2: 1.0}, bucket(10, steps=3), fit=6) == [4, 4, 2]
    monkeypatch.setattr(est, "available_bytes", lambda device: None)
    assert search(monkeypatch, {16: 1.0}, bucket(32, steps=3), fit=20) == [16, 16]
