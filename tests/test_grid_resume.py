"""synthetic.grid: bucketing, cache reuse, resume after an interruption, recompute after corruption."""

import os

import pytest
import torch

import synthetic.engine as engine
from synthetic.cache import RunCache, cache_key
from synthetic.config import ModelConfig, RunConfig
from synthetic.device import resolve_device
from synthetic.errors import ConfigError
from synthetic.grid import bucketize, read_csv, results_table, run_grid, write_csv
from theory.bridge import BaseHP

REAL_TRAIN = engine.train_bucket


def runs(widths=(8, 16), seeds=(0, 1), lrs=(1e-3,)):
    return [RunConfig(model=ModelConfig(width=w, depth=1, d_in=4), base=BaseHP(eta=lr, n_base=1, L_base=1, sigma2=2.0),
                      steps=3, batch_size=4, seed=s, dtype="float64")
            for w in widths for lr in lrs for s in seeds]


class Calls(list):
    """Buckets trained so far; training raises KeyboardInterrupt once `fail_after` buckets have trained."""

    fail_after = None


@pytest.fixture
def counting(monkeypatch):
    """Wrap engine.train_bucket; record the widths/seeds of each bucket it trains."""
    calls = Calls()

    def wrapped(bucket, device="cpu", data_source=None, on_step=None):
        if len(calls) == calls.fail_after:
            raise KeyboardInterrupt
        calls.append([(r.model.width, r.seed) for r in bucket])
        return REAL_TRAIN(bucket, device, data_source, on_step)

    monkeypatch.setattr(engine, "train_bucket", wrapped)
    return calls


def test_bucketize_groups_by_key_and_splits_evenly():
    grid = runs(widths=(8, 16), seeds=(0, 1, 2, 3, 4), lrs=(1e-3, 1e-2))
    buckets = bucketize(grid)
    assert [len(b) for b in buckets] == [10, 10]
    assert all(len({r.bucket_key() for r in b}) == 1 for b in buckets)
    assert {r.model.width for r in buckets[0]} == {8}
    split = bucketize(grid, max_bucket=4)
    assert [len(b) for b in split] == [4, 3, 3, 4, 3, 3]
    assert sorted(map(id, (r for b in split for r in b))) == sorted(map(id, grid))
    with pytest.raises(ConfigError):
        bucketize(grid, max_bucket=0)


def test_grid_caches_and_resumes_after_interruption(tmp_path, counting):
    grid = runs()
    first = run_grid(grid, cache_dir=tmp_path, device="cpu", progress=False)
    assert counting == [[(8, 0), (8, 1)], [(16, 0), (16, 1)]]
    assert [r.config for r in first] == grid and all(len(r.records) == 3 for r in first)

    counting.clear()
    again = run_grid(grid, cache_dir=tmp_path, device="cpu", progress=False)
    assert counting == []
    assert [r.records for r in again] == [r.records for r in first]

    os.remove(RunCache(tmp_path).path(cache_key(grid[3])))  # one run lost
    run_grid(grid, cache_dir=tmp_path, device="cpu", progress=False)
    assert counting == [[(16, 1)]]

    # an interruption after the first bucket: that bucket's runs are cached, the rest are not
    bigger = runs(widths=(8, 16, 32), lrs=(1e-2,))
    counting.clear()
    counting.fail_after = 1
    with pytest.raises(KeyboardInterrupt):
        run_grid(bigger, cache_dir=tmp_path, device="cpu", progress=False)
    assert counting == [[(8, 0), (8, 1)]]
    counting.clear()
    counting.fail_after = None
    resumed = run_grid(bigger, cache_dir=tmp_path, device="cpu", progress=False)
    assert counting == [[(16, 0), (16, 1)], [(32, 0), (32, 1)]]
    fresh = REAL_TRAIN(bigger[:2], "cpu")
    assert [r.records for r in resumed[:2]] == [r.records for r in fresh]


def test_corrupted_file_is_recomputed(tmp_path, counting, capsys):
    grid = runs(widths=(8,))
    first = run_grid(grid, cache_dir=tmp_path, device="cpu", progress=False)
    path = RunCache(tmp_path).path(cache_key(grid[1]))
    raw = open(path, "rb").read()
    open(path, "wb").write(raw[:-40] + b"0" + raw[-39:])
    counting.clear()
    again = run_grid(grid, cache_dir=tmp_path, device="cpu", progress=False)
    assert counting == [[(8, 1)]]
    assert "corrupted cache file" in capsys.readouterr().err
    assert [r.records for r in again] == [r.records for r in first]
    assert os.path.exists(path)  # rewritten


def test_duplicates_trained_once_and_no_cache_mode(tmp_path, counting):
    grid = runs(widths=(8,), seeds=(0,))
    out = run_grid(grid + grid, cache_dir=None, device="cpu", progress=False)
    assert counting == [[(8, 0)]] and out[0] is out[1]
    assert not os.listdir(tmp_path)


def test_tidy_table_csv_round_trip(tmp_path):
    res = run_grid(runs(), cache_dir=None, device="cpu", progress=False)
    table = results_table(res)
    assert len(table["value"]) == sum(len(r.records) for r in res)
    assert set(table["width"].tolist()) == {8, 16} and table["lr"][0] == 1e-3
    write_csv(table, tmp_path / "r.csv")
    back = read_csv(tmp_path / "r.csv")
    assert list(back) == list(table)
    for name in table:
        assert back[name].tolist() == table[name].tolist()


def test_device_resolution():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")


def test_force_stores_every_finished_bucket_before_an_interrupt(tmp_path, counting):
    grid = runs()
    counting.fail_after = 1
    with pytest.raises(KeyboardInterrupt):
        run_grid(grid, cache_dir=tmp_path, progress=False, force=True)
    cache = RunCache(tmp_path)
    stored = [cache.load(cache_key(r), r.to_dict()) is not None for r in grid]
    assert stored == [r.model.width == 8 for r in grid]   # the first bucket (width 8) landed before the interrupt


def test_entries_trained_at_several_threads_before_the_threaded_fix_are_retrained(tmp_path, counting):
    """synthetic.version.THREADED_VERSION: an entry trained on a CPU at more than one thread by older code (no
    `threaded` in its trained_on), or with no trained_on at all, is a miss; one at one thread, or on another device,
    or with the current version, is served."""
    from synthetic.provenance import threaded_stale
    from synthetic.version import THREADED_VERSION, WEIGHT_GRAD_VERSION

    grid = runs(widths=(8,), seeds=(0, 1, 2, 3))
    run_grid(grid, cache_dir=tmp_path, device="cpu", progress=False)
    cache = RunCache(tmp_path)
    places = [{"device": "cpu", "threads": 2, "cpu": "x"}, None, {"device": "cpu", "threads": 1, "cpu": "x"},
              {"device": "cpu", "threads": 4, "cpu": "x", "threaded": THREADED_VERSION, "weight_grad": WEIGHT_GRAD_VERSION}]
    for run, where in zip(grid, places):
        hit = cache.load(cache_key(run))
        cache.store(cache_key(run), hit.run_id, hit.config, hit.records, hit.diverged_at, where)
    assert [threaded_stale(w) for w in places] == [True, True, False, False]
    assert not threaded_stale({"device": "cuda:0 (NVIDIA H200)", "threads": 16})
    assert not threaded_stale({"device": "ray (cuda workers)", "threads": 4})
    assert threaded_stale({"device": "ray (cpu workers)", "threads": 2})
    assert threaded_stale({"device": "ray (auto workers)", "threads": 2})
    assert threaded_stale({"device": "cpu", "threads": 2, "threaded": THREADED_VERSION - 1})
    counting.clear()
    run_grid(grid, cache_dir=tmp_path, device="cpu", progress=False)
    assert counting == [[(8, 0), (8, 1)]]
    assert all(not threaded_stale(cache.load(cache_key(r)).trained_on) for r in grid)


def test_entries_that_may_hold_autograds_hidden_weight_product_are_retrained(tmp_path, counting):
    """synthetic.version.WEIGHT_GRAD_VERSION: an entry from before it trained on a GPU or on a CPU at more than one
    thread (where the old probe could keep autograd's (uᵀgz)ᵀ) is a miss; one at one CPU thread, or with the current
    version, is served."""
    from synthetic.provenance import weight_grad_stale
    from synthetic.version import THREADED_VERSION, WEIGHT_GRAD_VERSION

    grid = runs(widths=(8,), seeds=(0, 1, 2, 3))
    run_grid(grid, cache_dir=tmp_path, device="cpu", progress=False)
    cache = RunCache(tmp_path)
    now = {"threaded": THREADED_VERSION}
    places = [{"device": "cpu", "threads": 2, "cpu": "x", **now}, {"device": "cuda:0 (NVIDIA H200)", "threads": 1, **now},
              {"device": "cpu", "threads": 1, "cpu": "x", **now},
              {"device": "cpu", "threads": 2, "cpu": "x", **now, "weight_grad": WEIGHT_GRAD_VERSION}]
    for run, where in zip(grid, places):
        hit = cache.load(cache_key(run))
        cache.store(cache_key(run), hit.run_id, hit.config, hit.records, hit.diverged_at, where)
    assert [weight_grad_stale(w) for w in places] == [True, True, False, False]
    assert weight_grad_stale({"device": "ray (cpu workers)", "threads": 2, **now, "weight_grad": 1})
    assert weight_grad_stale(None)
    counting.clear()
    run_grid(grid, cache_dir=tmp_path, device="cpu", progress=False)
    assert counting == [[(8, 0), (8, 1)]]
    assert all(not weight_grad_stale(cache.load(cache_key(r)).trained_on) for r in grid)
