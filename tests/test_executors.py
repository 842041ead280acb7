"""synthetic.executors: the Ray executor on a local 2-CPU instance gives the in-process executor's results bit for
bit, keeps the cache and resume semantics, retries a dead worker and reports a failing bucket per run."""

from __future__ import annotations

import os
import sys

import pytest
from theory.bridge import BaseHP

import synthetic.grid as grid
from synthetic.cache import RunCache, cache_key
from synthetic.cli import main as cli_main
from synthetic.config import ModelConfig, RunConfig
from synthetic.errors import ConfigError, RunsFailedError
from synthetic.executors import BucketOutcome, RayOptions, import_ray, on_ray
from synthetic.grid import run_grid


def runs(seeds=(0, 1, 2)):
    return [RunConfig(model=ModelConfig(width=w, depth=d, d_in=4), steps=4, batch_size=4, seed=s, dtype="float64",
                      base=BaseHP(eta=lr, n_base=1, L_base=1, sigma2=2.0), measurements=("loss", "h_rms"),
                      measure_at=(0, 4))
            for w in (8, 16) for d in (1, 2) for lr in (1e-3, 1e-2) for s in seeds]


def values(results):
    return [[tuple(r) for r in res.records] for res in results]


def test_ray_absent_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[ray\]'"):
        import_ray()
    assert cli_main(["grid", "--widths", "8", "--depths", "1", "--steps", "2", "--no-cache", "--executor", "ray",
                     "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ".[ray]" in err


def test_a_failed_bucket_is_reported_per_run_and_the_others_are_stored(monkeypatch, tmp_path):
    grid_runs = runs(seeds=(0,))

    def fake_ray(buckets, device, options):
        for i, bucket in enumerate(buckets):
            if i == 0:
                yield BucketOutcome(bucket, None, "WorkerCrashedError: gone")
            else:
                from synthetic.engine import train_bucket
                yield BucketOutcome(bucket, train_bucket(bucket, "cpu"))

    monkeypatch.setattr(grid, "on_ray", fake_ray)
    with pytest.raises(RunsFailedError, match="runs failed after 2 retries") as info:
        run_grid(grid_runs, cache_dir=tmp_path, executor="ray", max_bucket=2, progress=False)
    cache = RunCache(tmp_path)
    stored = {cache_key(r) for r in grid_runs if cache.load(cache_key(r), r.to_dict()) is not None}
    assert set(info.value.run_ids) == {cache_key(r) for r in grid_runs} - stored and len(stored) == len(grid_runs) - 2


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 2**20)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()


def one_thread(fn):
    """`fn()` with one torch thread, as on a Ray worker with one CPU (some CPU reductions split by thread count)."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(saved)


def test_ray_results_equal_the_in_process_results_bit_for_bit(local_ray, tmp_path):
    grid_runs = runs()
    here = one_thread(lambda: run_grid(grid_runs, cache_dir=None, progress=False))
    there = run_grid(grid_runs, cache_dir=tmp_path, executor="ray", progress=False)   # other bucket splits
    assert values(there) == values(here)
    assert [r.run_id for r in there] == [r.run_id for r in here]


def test_an_interrupted_ray_grid_resumes_training_only_the_missing_runs(local_ray, tmp_path):
    grid_runs = runs()
    run_grid(grid_runs[::2], cache_dir=tmp_path, executor="ray", progress=False)
    cached = {p.name: p.stat().st_mtime_ns for p in tmp_path.rglob("*.json")}
    assert len(cached) == len(grid_runs[::2])
    full = run_grid(grid_runs, cache_dir=tmp_path, executor="ray", progress=False)
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.rglob("*.json")}
    assert len(after) == len(grid_runs) and all(after[name] == t for name, t in cached.items())
    assert values(full) == values(one_thread(lambda: run_grid(grid_runs, cache_dir=None, progress=False)))


def _dies_once(marker_dir):
    """A Ray task that kills its worker process on the first attempt of each bucket, then trains normally."""
    def task(bucket, device, threads):
        marker = os.path.join(marker_dir, f"seed{bucket[0].seed}-w{bucket[0].model.width}-d{bucket[0].model.depth}")
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        from synthetic.engine import train_bucket
        return train_bucket(bucket, device)
    return task


def _always_fails(marker_dir):
    def task(bucket, device, threads):
        open(os.path.join(marker_dir, f"attempt-{os.getpid()}-{len(os.listdir(marker_dir))}"), "w").close()
        raise RuntimeError("injected failure")
    return task


def test_a_dead_worker_is_retried(local_ray, tmp_path):
    buckets = grid.bucketize(runs(seeds=(0,)), max_bucket=4)
    outcomes = list(on_ray(buckets, "cpu", RayOptions(max_retries=1), task=_dies_once(str(tmp_path))))
    assert all(o.results is not None for o in outcomes) and len(outcomes) == len(buckets)


def test_a_failing_task_is_retried_then_reported(local_ray, tmp_path):
    buckets = grid.bucketize(runs(seeds=(0,))[:2], max_bucket=2)
    outcomes = list(on_ray(buckets, "cpu", RayOptions(max_retries=2), task=_always_fails(str(tmp_path))))
    assert len(outcomes) == 1 and outcomes[0].results is None and "injected failure" in outcomes[0].error
    assert len(os.listdir(tmp_path)) == 3   # the first attempt and two retries


def test_a_bucket_asking_for_a_gpu_the_cluster_lacks_is_refused(local_ray):
    with pytest.raises(ConfigError, match="GPU"):
        list(on_ray([runs()[:1]], "auto", RayOptions(gpus_per_bucket=1)))


def test_a_ray_grid_names_its_workers_device_and_checks_it_on_the_driver(monkeypatch, tmp_path):
    from synthetic.executors import ray_device_name, worker_device

    assert worker_device("auto", RayOptions(gpus_per_bucket=1)) == "cuda"
    assert ray_device_name("auto", RayOptions()) == "ray (cpu workers, 1 CPU per bucket)"
    with pytest.raises(ConfigError, match="unknown device"):
        worker_device("tpu", RayOptions())
    with pytest.raises(ConfigError, match="needs --gpus-per-bucket"):
        worker_device("cuda", RayOptions())
    monkeypatch.setattr(grid, "on_ray", lambda *a, **k: iter(()))
    with pytest.raises(ConfigError, match="unknown device"):
        run_grid(runs(seeds=(0,)), cache_dir=None, executor="ray", device="tpu", max_bucket=4, progress=False)


def test_an_address_without_a_cluster_is_refused_at_once():
    """Ray retries a wrong address for minutes; RayOptions.validate refuses one whose host does not resolve, or where
    nothing listens (only unresolvable names and loopback ports are tried here)."""
    import socket

    from synthetic.executors import RayOptions, unreachable

    assert "cannot resolve" in unreachable("notahost.invalid:6379")
    assert "cannot resolve" in unreachable("ray://notahost.invalid:10001")
    with socket.socket() as s:                   # a loopback port that was free a moment ago: nothing answers
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert "nothing answers" in unreachable(f"127.0.0.1:{free}")
    with socket.create_server(("127.0.0.1", 0)) as server:
        assert unreachable(f"127.0.0.1:{server.getsockname()[1]}") is None
    assert unreachable("auto") is None and "not an address" in unreachable("foo")
    with pytest.raises(ConfigError, match="--address notahost.invalid:1"):
        RayOptions(address="notahost.invalid:1").validate()
