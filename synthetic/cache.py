"""On-disk cache of finished runs: one checksummed JSON file per run.

Layout: `<cache_dir>/<SCHEMA_VERSION>/<key>.json`, key = sha256(canonical config JSON + SCHEMA_VERSION), so a
changed config or a new record schema never reads an old file. A file is written to a temporary name and then
`os.replace`d, so a crash leaves either the old state or the whole new file. Its bytes are

    {"sha256":"<64 hex>","payload":<payload JSON>}

with the checksum taken over the exact payload bytes. The payload holds the config dict, `diverged_at` and the
records as columns (step, layer, quantity, index, value; the run id is the file's). On read, an unparsable file, a
checksum mismatch or a config that is not the requested one is reported on stderr as one warning line, the file is
deleted and the caller recomputes the run: a damaged entry is never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, Sequence

from synthetic.engine import run_id
from synthetic.records import SCHEMA_VERSION, Record

_PREFIX = b'{"sha256":"'
_MIDDLE = b'","payload":'
_SUFFIX = b"}"
_HEX = 64


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


class RunCache:
    """Checksummed one-file-per-run store under `<cache_dir>/<SCHEMA_VERSION>/`."""

    def __init__(self, cache_dir: str | os.PathLike) -> None:
        self.root = os.path.join(os.fspath(cache_dir), SCHEMA_VERSION)

    def path(self, key: str) -> str:
        return os.path.join(self.root, f"{key}.json")

    def store(self, key: str, run_id: str, config: dict[str, Any], records: Sequence[Record],
              diverged_at: int | None) -> str:
        """Write one run atomically; returns the file path."""
        payload = json.dumps({
            "schema": SCHEMA_VERSION,
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
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return None
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
            sys.stderr.write(f"warning: corrupted cache file {path} ({problem}); deleted, the run will be recomputed\n")
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            return None
        return CachedRun(payload["run_id"], payload["config"], records, payload["diverged_at"])


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
