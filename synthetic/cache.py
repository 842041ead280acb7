"""On-disk cache of finished runs: one checksummed JSON file per run.

Layout: `<cache_dir>/<SCHEMA_VERSION>/<key>.json`, key = sha256(canonical config JSON + SCHEMA_VERSION), so a
changed config or a new record schema never reads an old file. A file is written to a temporary name and then
`os.replace`d, so a crash leaves either the old state or the whole new file. Its bytes are

    {"sha256":"<64 hex>","payload":<payload JSON>}

with the checksum taken over the exact payload bytes. The payload holds the config dict, `diverged_at` and the
records as columns (step, layer, quantity, index, value; the run id is the file's). On read, an unparsable file, a
checksum mismatch, a config that is not the requested one, or an entry that cannot be opened (a directory, no read
permission, any other OSError) is reported on stderr as one warning line, removed (a directory with its contents) and
the caller recomputes the run: a damaged entry is never used.

A process killed between writing its temporary file (`.<key16>.<random>.tmp`) and the rename leaves that file behind.
Constructing a `RunCache` removes such files once they are older than `STALE_TEMP_SECONDS` (60 s): a writer renames
its file within milliseconds of creating it, so a concurrent process's file in flight is never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Sequence

from synthetic.engine import run_id
from synthetic.records import SCHEMA_VERSION, Record

_PREFIX = b'{"sha256":"'
_MIDDLE = b'","payload":'
_SUFFIX = b"}"
_HEX = 64
_TEMP_NAME = re.compile(r"\.[0-9a-f]{16}\..*\.tmp")
_ENTRY_NAME = re.compile(r"[0-9a-f]{64}\.json")
STALE_TEMP_SECONDS = 60.0
"""Temporary files in the cache root older than this are leftovers of a killed writer and are removed."""


def cache_key(config) -> str:
    """sha256 of the run's canonical config JSON plus the record schema version (the engine's run id)."""
    return run_id(config)


@dataclass(frozen=True)
class CachedRun:
    """What the cache returns for one run."""

    run_id: str
    config: dict[str, Any]
    records: list[Record]
    diverged_at: int | None
    trained_on: dict[str, Any] | None = None


class RunCache:
    """Checksummed one-file-per-run store under `<cache_dir>/<SCHEMA_VERSION>/`."""

    def __init__(self, cache_dir: str | os.PathLike) -> None:
        self.root = os.path.join(os.fspath(cache_dir), SCHEMA_VERSION)
        self.clean_stale_temps()

    def clean_stale_temps(self, max_age: float = STALE_TEMP_SECONDS) -> list[str]:
        """Remove temporary files (see `store`) older than `max_age` seconds, left by a writer killed before its
        rename; younger ones may belong to a live writer and are kept. Returns the removed paths."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        removed = []
        now = time.time()
        for name in filter(_TEMP_NAME.fullmatch, names):
            path = os.path.join(self.root, name)
            try:
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode) and now - st.st_mtime > max_age:
                    os.unlink(path)
                    removed.append(path)
            except OSError:
                continue
        return removed

    def keys(self) -> list[str]:
        """The keys of the runs stored here, sorted (temporary and foreign files left out)."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        return sorted(name[:-5] for name in names if _ENTRY_NAME.fullmatch(name))

    def path(self, key: str) -> str:
        return os.path.join(self.root, f"{key}.json")

    def store(self, key: str, run_id: str, config: dict[str, Any], records: Sequence[Record],
              diverged_at: int | None, trained_on: dict[str, Any] | None = None) -> str:
        """Write one run atomically (with where it was trained, when given); returns the file path."""
        payload = json.dumps({
            "schema": SCHEMA_VERSION,
            **({"trained_on": trained_on} if trained_on is not None else {}),
            "key": key,
            "config": config,
            "diverged_at": diverged_at,
            "run_id": run_id,
            "records": {
                "step": [int(r.step) for r in records],
                "layer": [r.layer for r in records],
                "quantity": [r.quantity for r in records],
                "index": [int(r.index) for r in records],
                "value": [float(r.value) for r in records],
            },
        }, sort_keys=True, separators=(",", ":")).encode()
        digest = hashlib.sha256(payload).hexdigest().encode()
        os.makedirs(self.root, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_PREFIX + digest + _MIDDLE + payload + _SUFFIX)
            os.replace(tmp, self.path(key))
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return self.path(key)

    def load(self, key: str, config: dict[str, Any] | None = None) -> CachedRun | None:
        """The cached run, or None if absent; a damaged or mismatching file is reported, deleted, and None returned."""
        path = self.path(key)
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                return _discard(path, "not a regular file")
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return _discard(path, f"cannot open: {type(exc).__name__}")
        problem = _check(raw)
        payload = None
        if problem is None:
            try:
                payload = json.loads(raw[len(_PREFIX) + _HEX + len(_MIDDLE):-len(_SUFFIX)])
                cols = payload["records"]
                run_id = payload["run_id"]
                records = [Record(run_id, int(s), str(l), str(q), int(i), float(v)) for s, l, q, i, v in
                           zip(cols["step"], cols["layer"], cols["quantity"], cols["index"], cols["value"],
                               strict=True)]
                if payload["schema"] != SCHEMA_VERSION or payload["key"] != key:
                    problem = "schema or key mismatch"
                elif config is not None and payload["config"] != config:
                    problem = "stored config differs from the requested one"
            except (ValueError, KeyError, TypeError) as exc:
                problem = f"unreadable payload ({type(exc).__name__})"
        if problem is not None:
            return _discard(path, problem)
        return CachedRun(payload["run_id"], payload["config"], records, payload["diverged_at"],
                         payload.get("trained_on"))


def _discard(path: str, problem: str) -> None:
    """Report a damaged entry on stderr (one line) and remove it, a directory with its contents; the caller then
    recomputes the run."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
        outcome = "deleted"
    except FileNotFoundError:
        outcome = "deleted"
    except OSError as exc:
        outcome = f"could not delete it ({type(exc).__name__})"
    sys.stderr.write(f"warning: corrupted cache file {path} ({problem}); {outcome}, the run will be recomputed\n")


def _check(raw: bytes) -> str | None:
    """None if the framing and checksum are intact, else what is wrong."""
    head = len(_PREFIX) + _HEX + len(_MIDDLE)
    if len(raw) < head + len(_SUFFIX) or not raw.startswith(_PREFIX) or raw[len(_PREFIX) + _HEX:head] != _MIDDLE \
            or not raw.endswith(_SUFFIX):
        return "not a cache file"
    stored = raw[len(_PREFIX):len(_PREFIX) + _HEX].decode("ascii", errors="replace")
    if hashlib.sha256(raw[head:-len(_SUFFIX)]).hexdigest() != stored:
        return "checksum mismatch"
    return None
