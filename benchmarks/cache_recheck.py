"""Do a cache's runs still come out of this code bit for bit? Retrain a few runs of every bucket key and compare.

    python -m benchmarks.cache_recheck results/readme/cache [--per-key 2] [--max-steps 1000] [--ignore-run-id]

A cached run is reused only while the code that trained it would train the same numbers (the engine version says
so); a change meant to move no number (a CPU choice, a kernel that only reorders memory) is checked here against runs
the gallery actually trained, where `benchmarks.bit_identity` uses a fixed synthetic set. Only runs trained where
this process trains are compared: the same device, CPU model and thread count (the kernel path is not recorded, so
run it under the path the cache was trained on); the others are counted as skipped. Every record (step, layer,
quantity, index, value) and the divergence step must be equal, and the run id unless `--ignore-run-id` (a version
bump of a rule, loss or quantity changes run ids on purpose; this checks that it left these runs' numbers unchanged);
exit status 1 when one run differs, 2 on bad input.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from typing import Sequence

import torch

from synthetic.cache import CachedRun, RunCache
from synthetic.config import RunConfig
from synthetic.engine import RunResult, train_bucket
from synthetic.errors import SyntheticError
from synthetic.provenance import trained_on
from theory.cli import OneLineParser


def records_of(run: CachedRun | RunResult) -> list[tuple]:
    """Every record as (step, layer, quantity, index, repr(value)): repr keeps NaN equal to NaN."""
    return [(r.step, r.layer, r.quantity, r.index, repr(float(r.value))) for r in run.records]


def pick(cache: RunCache, per_key: int, max_steps: int) -> tuple[dict[str, list[tuple[str, CachedRun]]], int, int]:
    """Up to `per_key` runs of each bucket key trained here with at most `max_steps` steps (in key order), and the
    counts of runs skipped for where they were trained and for their length."""
    here = trained_on("cpu")
    chosen: dict[str, list[tuple[str, CachedRun]]] = defaultdict(list)
    elsewhere = too_long = 0
    for key in cache.keys():
        hit = cache.load(key)
        if hit is None:
            continue
        where = dict(hit.trained_on or {})
        if {k: where.get(k) for k in ("device", "cpu")} != {k: here[k] for k in ("device", "cpu")}:
            elsewhere += 1
            continue
        if hit.config["steps"] > max_steps:
            too_long += 1
            continue
        bucket = (RunConfig.from_dict(hit.config).bucket_key(), where.get("threads"))
        group = chosen[repr(bucket)]
        if len(group) < per_key:
            group.append((key, hit))
    return chosen, elsewhere, too_long


def recheck(cache_dir: str, per_key: int = 2, max_steps: int = 1000, log=print, ignore_run_id: bool = False) -> int:
    """Retrain the picked runs in one bucket per key and thread count; the number of runs that differ."""
    cache = RunCache(cache_dir)
    chosen, elsewhere, too_long = pick(cache, per_key, max_steps)
    differ = total = 0
    saved = torch.get_num_threads()
    for group in chosen.values():
        hits = [hit for _, hit in group]
        threads = (hits[0].trained_on or {}).get("threads") or torch.get_num_threads()
        torch.set_num_threads(int(threads))
        start = time.perf_counter()
        fresh = train_bucket([RunConfig.from_dict(h.config) for h in hits], "cpu")
        bad = sum(records_of(h) != records_of(f) or h.diverged_at != f.diverged_at
                  or (not ignore_run_id and h.run_id != f.run_id) for h, f in zip(hits, fresh, strict=True))
        c = hits[0].config
        log(f"{c['optim']['name']} width {c['model']['width']} steps {c['steps']} batch {c['batch_size']} "
            f"{c['dtype']}, {threads} thread(s): {len(hits) - bad}/{len(hits)} identical "
            f"({time.perf_counter() - start:.1f} s)")
        differ, total = differ + bad, total + len(hits)
    torch.set_num_threads(saved)
    log(f"{total - differ} of {total} runs identical; skipped {elsewhere} trained elsewhere and {too_long} longer than "
        f"{max_steps} steps")
    return differ


def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineParser(prog="python -m benchmarks.cache_recheck", description=__doc__.split("\n\n")[0],
                      raise_errors=False)
    p.add_argument("cache", help="a run cache folder (e.g. results/readme/cache)")
    p.add_argument("--per-key", type=int, default=2, help="runs retrained per bucket key and thread count")
    p.add_argument("--max-steps", type=int, default=1000, help="skip runs longer than this")
    p.add_argument("--ignore-run-id", action="store_true",
                   help="compare records and divergence only (after a version bump that changed run ids)")
    args = p.parse_args(argv)
    if args.per_key < 1 or args.max_steps < 1:
        p.error("--per-key and --max-steps must be >= 1")
    cache = RunCache(args.cache)
    if not cache.keys():
        p.error(f"no cached runs under {args.cache}")
    try:
        return 1 if recheck(args.cache, args.per_key, args.max_steps, ignore_run_id=args.ignore_run_id) else 0
    except SyntheticError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
