"""synthetic.cache: round trip, atomic layout, and detection of damaged files."""

import json
import math
import os

import pytest

from synthetic.cache import RunCache, cache_key
from synthetic.config import ModelConfig, RunConfig
from synthetic.engine import run_id
from synthetic.records import SCHEMA_VERSION, Record


def config(width=8, seed=0):
    return RunConfig(model=ModelConfig(width=width, depth=1, d_in=4), steps=3, batch_size=4, seed=seed)


def records(rid):
    return [Record(rid, 0, "model", "loss", 0, 0.5), Record(rid, 1, "model", "loss", 0, float("nan")),
            Record(rid, 2, "input", "spectrum", 3, 1.0 / 3.0), Record(rid, 2, "h1", "h_rms", 0, float("inf"))]


def test_round_trip_is_exact_and_keyed_by_config_and_schema(tmp_path):
    cfg = config()
    key = cache_key(cfg)
    assert key == run_id(cfg) and key != cache_key(config(seed=1))
    cache = RunCache(tmp_path)
    path = cache.store(key, "rid-1", cfg.to_dict(), records("rid-1"), diverged_at=1)
    assert path == os.path.join(str(tmp_path), SCHEMA_VERSION, f"{key}.json")
    assert os.listdir(os.path.dirname(path)) == [f"{key}.json"]  # no temporary file left behind
    json.loads(open(path).read())  # the file is plain JSON
    got = cache.load(key, cfg.to_dict())
    assert got.run_id == "rid-1" and got.diverged_at == 1 and got.config == cfg.to_dict()
    want = records("rid-1")
    assert [r[:5] for r in got.records] == [r[:5] for r in want]
    assert got.records[0].value == 0.5 and math.isnan(got.records[1].value)
    assert got.records[2].value == 1.0 / 3.0 and got.records[3].value == float("inf")
    assert cache.load(cache_key(config(seed=1))) is None  # absent: None, no warning


@pytest.mark.parametrize("damage", ["flip_payload_byte", "truncate", "garbage", "flip_checksum", "empty"])
def test_damaged_file_is_reported_deleted_and_not_used(tmp_path, capsys, damage):
    cfg = config()
    key = cache_key(cfg)
    cache = RunCache(tmp_path)
    path = cache.store(key, "rid", cfg.to_dict(), records("rid"), None)
    raw = bytearray(open(path, "rb").read())
    if damage == "flip_payload_byte":
        i = raw.index(b"0.5")
        raw[i:i + 3] = b"0.7"  # still valid JSON, wrong number
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "garbage":
        raw = bytearray(b"\x00\xff not json")
    elif damage == "flip_checksum":
        raw[11] = ord("0") if raw[11] != ord("0") else ord("1")
    else:
        raw = bytearray()
    open(path, "wb").write(bytes(raw))
    assert cache.load(key, cfg.to_dict()) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: corrupted cache file") and path in err
    assert not os.path.exists(path)


def test_config_mismatch_is_treated_as_damage(tmp_path, capsys):
    cfg = config()
    cache = RunCache(tmp_path)
    cache.store(cache_key(cfg), "rid", config(width=16).to_dict(), records("rid"), None)
    assert cache.load(cache_key(cfg), cfg.to_dict()) is None
    assert "stored config differs" in capsys.readouterr().err


def test_directory_at_entry_path_is_reported_removed_and_a_miss(tmp_path, capsys):
    cfg = config()
    key = cache_key(cfg)
    cache = RunCache(tmp_path)
    path = cache.path(key)
    os.makedirs(os.path.join(path, "inner"))
    open(os.path.join(path, "inner", "f"), "w").write("x")
    assert cache.load(key, cfg.to_dict()) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: corrupted cache file") and path in err
    assert "not a regular file" in err and "deleted" in err
    assert not os.path.exists(path)
    cache.store(key, "rid", cfg.to_dict(), records("rid"), None)  # the recomputed run can be stored again
    assert cache.load(key, cfg.to_dict()).run_id == "rid"


@pytest.mark.parametrize("kind", ["fifo", "symlink to /dev/zero"])
def test_a_fifo_or_a_device_link_at_an_entry_path_is_a_miss_not_a_hang(tmp_path, capsys, kind):
    """Issue 21: a FIFO hung the load, a symlink to /dev/zero ended in MemoryError."""
    cfg = config()
    key = cache_key(cfg)
    cache = RunCache(tmp_path)
    path = cache.path(key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mkfifo(path) if kind == "fifo" else os.symlink("/dev/zero", path)
    assert cache.load(key, cfg.to_dict()) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a regular file" in err and not os.path.lexists(path)


def test_unreadable_entry_is_reported_removed_and_a_miss(tmp_path, capsys, monkeypatch):
    cfg = config()
    key = cache_key(cfg)
    cache = RunCache(tmp_path)
    path = cache.store(key, "rid", cfg.to_dict(), records("rid"), None)
    real_open = open

    def denying_open(file, *args, **kwargs):
        if os.fspath(file) == path:
            raise PermissionError(13, "Permission denied", path)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", denying_open)
    assert cache.load(key, cfg.to_dict()) is None
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "PermissionError" in err and path in err
    assert not os.path.exists(path)


def stale_temp(root, key, age):
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, f".{key[:16]}.abc123.tmp")
    open(path, "wb").write(b'{"sha256":"partial')
    past = os.stat(path).st_mtime - age
    os.utime(path, (past, past))
    return path


def test_stale_temp_files_are_removed_on_construction_fresh_ones_kept(tmp_path):
    root = RunCache(tmp_path).root
    key = cache_key(config())
    old = stale_temp(root, key, age=3600)
    fresh = stale_temp(root, cache_key(config(seed=1)), age=0)
    other = os.path.join(root, "notes.tmp")  # not a name `store` writes: left alone whatever its age
    open(other, "w").write("x")
    os.utime(other, (0, 0))
    RunCache(tmp_path)
    assert not os.path.exists(old)
    assert os.path.exists(fresh) and os.path.exists(other)
    assert RunCache(tmp_path).clean_stale_temps(max_age=-1.0) == [fresh]  # once old enough, it goes too
