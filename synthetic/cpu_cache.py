"""How many runs of a bucket train together on a CPU: the whole bucket where every run's block fits the core's L2
cache together, otherwise the chunk size its first chunks, timed, show fastest on this machine.

A stacked bucket processes every run breadth-first, one block at a time, so each activation tensor is [M, B, n]; a
plain one-model loop goes depth-first through one run, whose [B, n] activations stay in cache from one op to the
next. Once M·B·n outgrows the L2 cache, every op of the stacked step streams from L3 or memory and the engine falls
behind the plain loop (G1 at width 512, 32 runs, AMD EPYC with 1 MiB L2, process CPU seconds for 5 steps: 17.4–20.5
in one bucket, 11.8–13.4 in chunks of 4, 12.0–12.2 one run at a time). So on a CPU `synthetic.engine.train_bucket`
trains a bucket in chunks of consecutive runs.

How many runs past L2 still pay off depends on the machine, not on L2 alone. On a Zen 3 EPYC with 512 KiB of L2, G1 at
width 256 (one run's block 384 KiB) trained 50 steps in 24.4 s in chunks of 4, 24.7 s in chunks of 16 and 26.5 s one
run at a time (process CPU, best of 2; `python -m benchmarks.chunk_sizes --grid G1 --width 256 --steps 50 --chunks
16 4 1 --repeats 2`), while on an Intel Xeon with 2 MiB of L2 a chunk of 16 at width 256 was 11% slower than single
runs (BENCHMARKS.md). So where the whole bucket does not fit (`runs_per_chunk`), the engine trains its first runs in
chunks of growing size from `chunk_candidates`, times their steps and keeps the fastest
(synthetic.engine.train_in_chunks), once per process and bucket key. A run's numbers do not depend on its bucket
companions (tests/test_bucket_independence.py), so the chunk size changes no number, only time.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


@lru_cache(maxsize=1)
def cache_sizes() -> dict[str, int]:
    """Per-core data cache sizes in bytes as Linux reports them for cpu0 ({"L1d": …, "L2": …, "L3": …}); {} where the
    OS does not say."""
    out: dict[str, int] = {}
    root = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(root.glob("index*")) if root.exists() else []:
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        m = re.fullmatch(r"(\d+)([KMG]?)", size)
        if kind != "Instruction" and m:
            out[f"L{level}" + ("d" if kind == "Data" else "")] = int(m[1]) * _UNITS[m[2]]
    return out


L2_SHARE = 1
"""A chunk's per-block working set may take 1/L2_SHARE of the L2 cache. On the AMD EPYC above, with a quarter of L2
G2's ragged buckets of 4 runs, cut into single runs at width 512 and pairs at 256, fell to 0.99× and 0.97× of the
plain loop against 1.04× and 1.07× whole (one invocation each, within that VM's ±5%)."""


def runs_per_chunk(batch: int, width: int, itemsize: int, l2_bytes: int | None = None) -> int | None:
    """The most runs whose per-block working set, one [batch, width] activation and one [width, width] weight each,
    fits 1/L2_SHARE of the L2 cache (at least 1); None when the L2 size is unknown (then a bucket trains whole).

    The weight counts because a block's forward and backward read it next to the activation: a plain loop keeps both
    of its one run in L2. Counting the activation alone (the rule before) kept 16 runs together at width 256 on an
    Intel Xeon with 2 MiB of L2, whose G1 bucket then trained 11% slower than one run at a time (3.84 s against
    3.42 s for 10 steps, `python -m benchmarks.chunk_sizes --grid G1 --width 256 --steps 10 --chunks 32 16 8 4 1`);
    G2 at width 512 7% slower in one bucket than in single runs."""
    l2 = cache_sizes().get("L2") if l2_bytes is None else l2_bytes
    if not l2:
        return None
    return max(1, l2 // (L2_SHARE * (batch * width + width * width) * itemsize))


CHUNK_CANDIDATES = (1, 2, 4, 8, 16)
"""Chunk sizes the engine times, and the whole bucket where it has at most 16 runs (a whole bucket of more runs was
slower than chunks of 16 at every width measured)."""


def chunk_candidates(n_runs: int) -> tuple[int, ...]:
    """The chunk sizes the engine times for a bucket of n_runs runs, ascending."""
    return tuple(k for k in CHUNK_CANDIDATES if k < n_runs) + ((n_runs,) if n_runs <= CHUNK_CANDIDATES[-1] else ())

