"""Golden exponents: the fitted numbers of the smoke-scale figures, pinned with tolerances that hold on every CPU
kernel path and still catch a change of a scaling rule.

    python -m figures.golden --set zheng|fan            # measure here and compare with the golden file
    python -m figures.golden --set zheng|fan --update   # measure on every kernel path × thread count, rewrite it
    python -m figures.golden --set zheng|fan --widen    # the same on another CPU: keep the values, widen the spreads

A set is a module with `GOLDEN_PATH`, `ABOUT` and `measure() -> {name: (value, base tolerance)}` (`GOLDEN_SETS`), and
`THREADS` when it fixes its own thread count.
`--update` measures the set in a subprocess on every path of `benchmarks.kernel_paths.KERNEL_PATHS` at 1 and 2
threads and takes the spread of each exponent, the largest |value − reference| over those and over
`REPORTED_ELSEWHERE` (values a teammate measured on another CPU). An exponent's tolerance is the larger of its base
tolerance and `MARGIN` × its spread; an exponent whose spread exceeds `LEAVE_OUT_ABOVE` is left out, listed in the
file with its spread: it moves by as much as a change of rule would, so pinning it would only pin the CPU.
`--widen` measures the same way on another machine and keeps the file's values: each spread becomes the larger of
the file's and of the largest |value here − file's value|, and the machine joins the file's `measured_on` list.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

from theory.cli import OneLineParser

GOLDEN_SETS = {"zheng": "figures.zheng_golden", "fan": "figures.fan_golden"}
THREADS = (1, 2)
MARGIN = 3.0
"""Tolerance over the measured spread: another CPU's caches and BLAS blocking perturb the runs differently from the
three paths measured here, and chaotic quantities can move further than any one perturbation showed."""
LEAVE_OUT_ABOVE = 0.25
"""An exponent whose cross-path spread exceeds this is not pinned: a change of a scaling rule moves an exponent by
0.25 or more (a factor r^(1/4) per width doubling), so a tolerance wider than that would catch nothing."""
REPORTED_ELSEWHERE: dict[str, tuple[float, str]] = {
    "coord-soap.sp.dh_rms.width": (3.295, "Intel Xeon (AVX512, MKL), native path: issue 22"),
}
"""Values measured by a teammate on another CPU at the golden's engine version, counted in the spread."""


def golden_set(name: str) -> ModuleType:
    if name not in GOLDEN_SETS:
        raise ValueError(f"unknown golden set {name!r} (known: {', '.join(GOLDEN_SETS)})")
    return importlib.import_module(GOLDEN_SETS[name])


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def compare(current: dict[str, float | None], doc: dict) -> list[str]:
    """One message per pinned exponent that moved beyond its tolerance, appeared, or disappeared (left-out exponents
    are neither compared nor reported as new)."""
    golden, left_out = doc["exponents"], doc.get("left_out", {})
    problems = []
    for name, g in golden.items():
        if name not in current:
            problems.append(f"exponent {name} is no longer measured (golden {g['value']})")
            continue
        old, new, tol = g["value"], current[name], g["tol"]
        if old is None or new is None:
            if old != new:
                problems.append(f"exponent {name}: old {old}, new {new} (one of them not finite)")
        elif abs(new - old) > tol:
            problems.append(f"exponent {name} moved: old {old:+.4f}, new {new:+.4f} (|Δ| {abs(new - old):.4f} > "
                            f"tol {tol:.4g})")
    for name in current:
        if name not in golden and name not in left_out:
            problems.append(f"exponent {name} is new (value {current[name]}); regenerate the golden file")
    return problems


def _finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def measure_here(name: str) -> dict[str, tuple[float | None, float]]:
    return {k: (_finite(v), tol) for k, (v, tol) in golden_set(name).measure().items()}


def parallel_jobs(jobs: int, threads: int, cores: int | None = None) -> int:
    """At most `jobs` subprocesses, and no more than the cores hold at `threads` threads each: on a 2-core machine two
    subprocesses at two threads each spun against each other for over six times their run time (2026-12-05)."""
    cores = cores if cores is not None else os.cpu_count() or 1
    return max(1, min(jobs, cores // threads))


def measure_paths(name: str, jobs: int = 2) -> dict[str, dict[str, float | None]]:
    """{"path/threads": {exponent: value}}, each measured in its own subprocess (`jobs` at a time)."""
    from benchmarks.kernel_paths import KERNEL_PATHS, run_under

    def one(key):
        path, threads = key
        proc = run_under(path, ["-m", "figures.golden", "--set", name, "--dump", "--threads", str(threads)])
        if proc.returncode != 0:
            raise RuntimeError(f"{name} on {path}/{threads} failed: {proc.stderr.strip().splitlines()[-1:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    threads = getattr(golden_set(name), "THREADS", THREADS)
    keys = [(p, t) for p in KERNEL_PATHS for t in threads]
    with ThreadPoolExecutor(max_workers=parallel_jobs(jobs, max(threads))) as pool:
        values = list(pool.map(one, keys))
    return {f"{p}/{t}": {k: v for k, (v, _) in vals.items()} for (p, t), vals in zip(keys, values)}


def build(reference: dict[str, tuple[float | None, float]], paths: dict[str, dict[str, float | None]]) -> tuple[dict, dict]:
    """(exponents, left_out) of a golden file from the reference values and every path's values."""
    exponents, left_out = {}, {}
    for name, (value, base_tol) in sorted(reference.items()):
        others = [vals.get(name) for vals in paths.values()]
        reported = REPORTED_ELSEWHERE.get(name)
        if reported is not None:
            others.append(reported[0])
        spread = _spread(value, others)
        if spread > LEAVE_OUT_ABOVE:
            left_out[name] = _left_out(value, spread, "" if reported is None else f" (includes {reported[1]})")
        else:
            exponents[name] = {"value": value, "tol": max(base_tol, MARGIN * spread), "spread": spread}
    return exponents, left_out


def _spread(value: float | None, others: list[float | None]) -> float:
    """The largest |other − value| (inf where only one of them is finite, 0 with no others)."""
    if value is None:
        return 0.0 if all(v is None for v in others) else math.inf
    return max((math.inf if v is None else abs(v - value) for v in others), default=0.0)


def _left_out(value: float | None, spread: float, note: str) -> dict:
    why = "non-finite on some path" if math.isinf(spread) else f"moves by {spread:.3f} across kernel paths"
    return {"value": value, "spread": None if math.isinf(spread) else spread, "why": why + note}


def widen(doc: dict, paths: dict[str, dict[str, float | None]]) -> dict:
    """The golden file `doc` with its values kept and each spread widened by this machine's `paths` values (an
    exponent measured here but absent from the file is reported by `compare` as new, not added)."""
    exponents, left_out = {}, dict(doc.get("left_out", {}))
    for name, g in sorted(doc["exponents"].items()):
        spread = max(g["spread"], _spread(g["value"], [vals.get(name) for vals in paths.values()]))
        if spread > LEAVE_OUT_ABOVE:
            left_out[name] = _left_out(g["value"], spread, " (widened on another CPU)")
        else:   # the file's tol is max(base, MARGIN · its spread), so this is max(base, MARGIN · spread)
            exponents[name] = {"value": g["value"], "tol": max(g["tol"], MARGIN * spread), "spread": spread}
    return {**doc, "exponents": exponents, "left_out": left_out}


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m figures.golden", description=__doc__.splitlines()[0], raise_errors=False)
    ap.add_argument("--set", required=True, choices=sorted(GOLDEN_SETS), help="which golden file")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--update", action="store_true", help="measure on every kernel path and rewrite the file")
    mode.add_argument("--widen", action="store_true",
                      help="measure on every kernel path here, keep the file's values and widen its spreads")
    mode.add_argument("--dump", action="store_true", help="print this process's values as one JSON line")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--jobs", type=int, default=2,
                    help="subprocesses at a time for --update and --widen (fewer where their threads outnumber the cores)")
    args = ap.parse_args(argv)
    if args.threads is not None and args.threads < 1 or args.jobs < 1:
        ap.error("--threads and --jobs must be at least 1")
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    module = golden_set(args.set)
    if args.dump:
        print(json.dumps(measure_here(args.set)))
        return 0
    if args.update:
        from benchmarks.kernel_paths import describe

        paths = measure_paths(args.set, args.jobs)
        reference = measure_here(args.set)
        exponents, left_out = build(reference, paths)
        d = describe()
        doc = {"about": module.ABOUT, "measured_on": {"cpu": d["cpu"], "torch": d["torch"], "paths": sorted(paths)},
               "margin": MARGIN, "leave_out_above": LEAVE_OUT_ABOVE, "exponents": exponents, "left_out": left_out}
        module.GOLDEN_PATH.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(exponents)} exponents ({len(left_out)} left out) to {module.GOLDEN_PATH}")
        for name, entry in left_out.items():
            print(f"  left out {name}: {entry['why']}")
        return 0
    if args.widen:
        from benchmarks.kernel_paths import describe

        doc, d = load(module.GOLDEN_PATH), describe()
        paths = measure_paths(args.set, args.jobs)
        new = widen(doc, paths)
        before = doc["measured_on"] if isinstance(doc["measured_on"], list) else [doc["measured_on"]]
        new["measured_on"] = [*before, {"cpu": d["cpu"], "torch": d["torch"], "paths": sorted(paths)}]
        module.GOLDEN_PATH.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
        moved = [n for n, g in new["exponents"].items() if g["spread"] > doc["exponents"][n]["spread"]]
        print(f"widened {len(moved)} of {len(doc['exponents'])} spreads in {module.GOLDEN_PATH} "
              f"({len(new['left_out']) - len(doc.get('left_out', {}))} newly left out)")
        for name in sorted(set(new["left_out"]) - set(doc.get("left_out", {}))):
            print(f"  left out {name}: {new['left_out'][name]['why']}")
        return 0
    problems = compare({k: v for k, (v, _) in measure_here(args.set).items()}, load(module.GOLDEN_PATH))
    print("\n".join(problems) if problems else "every pinned exponent within its tolerance")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
