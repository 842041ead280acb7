"""The engine's golden records: a fixed set of small buckets whose every record value is pinned, with a tolerance that
holds on any CPU kernel path and still catches a change of the numbers.

    python -m benchmarks.engine_golden --check           # compare with tests/golden/engine_records.json, and by how much
    python -m benchmarks.engine_golden --spread          # the deviation of every kernel path × thread count
    python -m benchmarks.engine_golden --update          # rewrite the golden file (values, spread, tolerances)

Tolerance. A record value v of a run in dtype d at step t is compared as |v − v₀| ≤ C_d · u_d · (t + 1) · s, with u_d
the dtype's unit round-off, s the largest |value| of that quantity in that run (so a quantity that is 0 at step 0
is compared on the scale it reaches) and C_d a constant per dtype. `--spread` measures the largest deviation, in
those units, that another kernel path (`benchmarks.kernel_paths.KERNEL_PATHS`) or thread count produces on this CPU;
C_d is that times `MARGIN`, never below `C_FLOOR`. The measured spread is written into the golden file with the CPU
it was measured on. tests/test_engine_version.py checks that a real change (ε moved by 1e-6, one step of another
learning rate) still fails.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch
from theory.bridge import BaseHP
from theory.cli import OneLineParser

from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from synthetic.engine import train_bucket
from synthetic.schedule import ScheduleConfig
from synthetic.version import ENGINE_VERSION

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden" / "engine_records.json"
MEASURE = ("loss", "test_loss", "h_rms", "dh_rms", "w_rms", "dw_rms", "sigma1", "g1_weight")
UNIT_ROUNDOFF = {"float32": 2.0 ** -24, "float64": 2.0 ** -53}
MARGIN = 10.0
"""Tolerance constant over the largest measured cross-path deviation: deviations grow with the steps and differ
between CPUs (other cache sizes, other MKL blockings), and a margin of 10 keeps the float32 tolerance at ~1e-4 of a
quantity's scale, far below what a change of any HP moves (tests/test_engine_version.py)."""
C_FLOOR = 64.0
"""The smallest tolerance constant, in units of round-off per step: a path that happens to agree bit for bit on the
measuring CPU must not make the tolerance zero."""
THREADS = (1, 2)


def fixed_buckets() -> list[list[RunConfig]]:
    """Small buckets that together touch every engine path: AdamW and Muon-Kimi + AdamW (Newton–Schulz) in float64;
    SGD with Nesterov momentum, Lion and Muon on a classification task in float32; a lone run (the single-run
    kernel path) with d_out = 1; and runs under a warmup + cosine schedule."""
    model = ModelConfig(width=16, depth=3, k=2, d_in=8, d_out=2, norm="rms", bias=True)
    measure = dict(measure_at=(0, 6, 12), measurements=MEASURE)
    base = BaseHP(eta=1e-2, lam=0.1, sigma2=2.0, n_base=8, L_base=2)
    buckets = []
    for opt in ("adamw", "muon_kimi_adamw"):
        buckets.append([RunConfig(model=model, optim=OptimConfig(name=opt), parameterization=param,
                                  base=BaseHP(eta=eta, lam=0.1, sigma2=2.0, n_base=8, L_base=2),
                                  data=DataConfig(kind="teacher_regression"), loss="mse", steps=12, batch_size=8,
                                  seed=seed, dtype="float64", **measure)
                        for seed in (0, 1) for eta in (1e-3, 1e-2) for param in ("mup_k2", "sp")])
    classify = DataConfig(kind="teacher_classification")
    for optim in (OptimConfig(name="sgd", momentum=0.9, nesterov=True), OptimConfig(name="lion"),
                  OptimConfig(name="muon", momentum=0.95)):
        buckets.append([RunConfig(model=ModelConfig(width=16, depth=2, k=2, d_in=8, d_out=1), optim=optim,
                                  parameterization=param, base=base, data=classify, loss="bce", steps=12,
                                  batch_size=8, seed=seed, dtype="float32", **measure)
                        for seed in (0, 1) for param in ("mup_k1", "mup_k2")])
    lone = ModelConfig(width=16, depth=2, k=1, d_in=8, d_out=1)
    buckets.append([RunConfig(model=lone, optim=OptimConfig(name="adamw"), base=base, steps=12, batch_size=1,
                              dtype="float32", **measure)])
    warmup_cosine = ScheduleConfig(warmup_steps=3, warmup_start=0.1, decay="cosine", floor=0.1)
    buckets.append([RunConfig(model=model, optim=OptimConfig(name="adamw"), base=base, steps=12, batch_size=8,
                              seed=seed, dtype="float64", schedule=sched, **measure)
                    for seed, sched in ((0, warmup_cosine), (1, ScheduleConfig(decay="cosine")))])
    return buckets


def record_values(buckets: list[list[RunConfig]] | None = None, threads: int = 1) -> dict[str, dict]:
    """Every run of the buckets: {"b{i}.r{j}": {"dtype", "diverged_at", "values": {"step layer quantity index": v}}}."""
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    out: dict[str, dict] = {}
    try:
        for i, bucket in enumerate(fixed_buckets() if buckets is None else buckets):
            for j, res in enumerate(train_bucket(bucket, "cpu")):
                out[f"b{i}.r{j}"] = {"dtype": res.config.dtype, "diverged_at": res.diverged_at,
                                     "values": {f"{r.step} {r.layer} {r.quantity} {r.index}": float(r.value)
                                                for r in res.records}}
    finally:
        torch.set_num_threads(saved)
    return out


def _scales(values: dict[str, float]) -> dict[str, float]:
    """Per quantity, the largest finite |value| in one run."""
    out: dict[str, float] = {}
    for key, v in values.items():
        q = key.split(" ")[2]
        if math.isfinite(v):
            out[q] = max(out.get(q, 0.0), abs(v))
    return out


def deviations(current: dict[str, dict], golden: dict[str, dict]) -> dict[str, float]:
    """Per dtype, the largest |v − v₀| / (u_d · (t + 1) · s) over every record present in both (inf when a record,
    a run or its divergence step differs, or a value is finite in one and not the other)."""
    worst: dict[str, float] = {}
    for run, g in golden.items():
        d = g["dtype"]
        c = current.get(run)
        if c is None or c["diverged_at"] != g["diverged_at"] or set(c["values"]) != set(g["values"]):
            worst[d] = math.inf
            continue
        scales = _scales(g["values"])
        for key, old in g["values"].items():
            new = c["values"][key]
            if not (math.isfinite(old) and math.isfinite(new)):
                dev = 0.0 if (old == new or (math.isnan(old) and math.isnan(new))) else math.inf
            else:
                step, q = int(key.split(" ")[0]), key.split(" ")[2]
                unit = UNIT_ROUNDOFF[d] * (step + 1) * max(scales.get(q, 0.0), sys.float_info.min)
                dev = abs(new - old) / unit
            worst[d] = max(worst.get(d, 0.0), dev)
    return worst


def failures(current: dict[str, dict], golden_doc: dict) -> dict[str, list[str]]:
    """Per run with a record outside its tolerance (or another divergence step, or other records), what differs."""
    golden, const = golden_doc["runs"], golden_doc["tolerance_constant"]
    out: dict[str, list[str]] = {}
    for run, g in golden.items():
        c = current.get(run)
        if c is None:
            out[run] = ["no longer trained"]
            continue
        problems = []
        if c["diverged_at"] != g["diverged_at"]:
            problems.append(f"diverged at {c['diverged_at']}, golden {g['diverged_at']}")
        if set(c["values"]) != set(g["values"]):
            problems.append(f"other records than golden ({len(c['values'])} vs {len(g['values'])})")
        elif list(c["values"]) != list(g["values"]):
            problems.append("the same records in another order")
        else:
            scales = _scales(g["values"])
            for key, old in g["values"].items():
                new = c["values"][key]
                step, q = int(key.split(" ")[0]), key.split(" ")[2]
                tol = const[g["dtype"]] * UNIT_ROUNDOFF[g["dtype"]] * (step + 1) * scales.get(q, 0.0)
                same_nonfinite = not math.isfinite(old) and (old == new or (math.isnan(old) and math.isnan(new)))
                if not same_nonfinite and not abs(new - old) <= tol:
                    problems.append(f"step {key}: golden {old!r}, now {new!r} (tolerance {tol:.3g})")
        if problems:
            out[run] = problems
    return out


def mismatches(current: dict[str, dict], golden_doc: dict, limit: int = 10) -> list[str]:
    """One line per record outside its tolerance (at most `limit`, then a count), naming run, dtype and values."""
    dtypes = {run: g["dtype"] for run, g in golden_doc["runs"].items()}
    lines = [f"{run} ({dtypes[run]}): {p}" for run, ps in failures(current, golden_doc).items() for p in ps]
    return lines[:limit] + ([f"… and {len(lines) - limit} more"] if len(lines) > limit else [])


def load_golden(path: Path = GOLDEN) -> dict:
    return json.loads(path.read_text())


def measure_spread(reference: dict[str, dict]) -> dict[str, dict[str, float]]:
    """The deviation (units of `deviations`) of every kernel path × thread count from `reference`, each trained in
    its own subprocess: {"path/threads": {dtype: deviation}}."""
    from benchmarks.kernel_paths import KERNEL_PATHS, run_under

    out = {}
    for path in KERNEL_PATHS:
        for threads in THREADS:
            proc = run_under(path, ["-m", "benchmarks.engine_golden", "--dump", "-", "--threads", str(threads)],
                             check=True)
            out[f"{path}/{threads}"] = deviations(json.loads(proc.stdout), reference)
    return out


def tolerance_constants(spread: dict[str, dict[str, float]]) -> dict[str, float]:
    dtypes = sorted({d for dev in spread.values() for d in dev})
    return {d: max(C_FLOOR, MARGIN * max(dev.get(d, 0.0) for dev in spread.values())) for d in dtypes}


def main(argv: list[str] | None = None) -> int:
    from benchmarks.kernel_paths import describe, describe_line

    ap = OneLineParser(prog="python -m benchmarks.engine_golden", description=__doc__.splitlines()[0],
                       raise_errors=False)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare this process's records with the golden file")
    mode.add_argument("--spread", action="store_true", help="measure every kernel path × thread count against "
                                                             "this process's records")
    mode.add_argument("--update", action="store_true", help="measure the spread and rewrite the golden file")
    mode.add_argument("--dump", metavar="FILE", help="write this process's records as JSON (- for stdout)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for this process's records")
    args = ap.parse_args(argv)
    if args.threads < 1:
        ap.error("--threads must be at least 1")
    current = record_values(threads=args.threads)
    if args.dump:
        text = json.dumps(current)
        if args.dump == "-":
            sys.stdout.write(text)
        else:
            Path(args.dump).write_text(text)
        return 0
    if args.check:
        golden = load_golden()
        problems = mismatches(current, golden)
        print(describe_line())
        print("largest deviation from the golden values (units of round-off × (step + 1) × scale): "
              + ", ".join(f"{d} {v:.17g}" for d, v in sorted(deviations(current, golden["runs"]).items())))
        print("\n".join(problems) if problems else "every record within its tolerance")
        return 1 if problems else 0
    print(describe_line(), flush=True)
    spread = measure_spread(current)
    for name, dev in spread.items():
        print(f"{name:>12}: " + ", ".join(f"{d} {v:.3g}" for d, v in sorted(dev.items())), flush=True)
    const = tolerance_constants(spread)
    print("tolerance constants (units of round-off × (step + 1) × scale): "
          + ", ".join(f"{d} {c:.3g}" for d, c in const.items()))
    if args.update:
        d = describe()
        GOLDEN.write_text(json.dumps({
            "about": "Record values of benchmarks.engine_golden.fixed_buckets at one thread; rewrite with "
                     "`python -m benchmarks.engine_golden --update` after bumping ENGINE_VERSION.",
            "engine_version": ENGINE_VERSION,
            "measured_on": {"cpu": d["cpu"], "torch": d["torch"], "paths": list(spread)},
            "spread": spread, "margin": MARGIN, "tolerance_constant": const, "runs": current}, indent=None) + "\n")
        print(f"wrote {GOLDEN}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
