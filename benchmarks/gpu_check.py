"""Every GPU check in one call, within a time budget: `python -m benchmarks.gpu_check [--device cuda] [--smoke]`.

GPUs are lent rarely and briefly, so this script is ready before one is. In order, each part in a subprocess given its
share of `--budget-s` (a part that runs out is stopped and reported as such; what the others found is kept):

1. the device, torch and CUDA versions and the fp32/TF32 peak assumed (benchmarks.hardware);
2. the engine's device tests (`pytest -m engine_device` with SYNTHETIC_TEST_DEVICE: bucket independence, optimizer
   references, ragged buckets, divergence isolation, schedules; float32 and float64);
3. `bench_engine` on G1 and G2 at the GPU sizes (widths to 2048, depths to 64; the plain loop subsampled and
   extrapolated by parameter count), eager and with the fused (compiled) update, and the width-1024 G1 bucket's
   share of fp32 peak;
4. torch.profiler tables of the smallest G1 and G2 buckets (where a launch-bound step's time goes);
5. benchmarks.cuda_graph_probe on those buckets (the step replayed as a CUDA graph: how much faster, same losses?);
6. Fig. 1 at the default scale and, if the budget still allows, Fig. 3 at `--scale paper`, on the device, each until
   its claims are decided, with their verdicts and seeds compared with the committed CPU summaries
   (figures/gallery/summaries).

`--parts` runs a subset and `--bench-steps N` shortens the benchmark buckets, to fit a short lease.

`--smoke --device cpu` walks the same path at smoke sizes in under a minute (tests/test_gpu_check.py runs it), so the
script cannot rot before a GPU arrives. Writes `gpu_check.md` and `gpu_check.json` (every number and command) under
`--out`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
SUMMARIES = ROOT / "figures" / "gallery" / "summaries"
TARGETS = {"G1": 30.0, "G2": 8.0, "peak_share": 0.40}
"""The GPU targets of BENCHMARKS.md: engine / plain loop on G1 and G2, and the width-1024 G1 bucket's fp32 share."""


@dataclass
class Part:
    """One step of the check: its command, its share of the budget, and what happened."""

    name: str
    argv: list[str]
    share: float
    env: dict[str, str] = field(default_factory=dict)
    status: str = "not run"
    seconds: float = 0.0
    output_tail: str = ""
    result: dict | None = None


def plan(device: str, smoke: bool, out: Path, bench_steps: int | None = None) -> list[Part]:
    """The parts, in order, with their commands (smoke: the same path at smoke sizes; bench_steps: fewer training
    steps per benchmark bucket than the grid's, to fit a short lease; the ratio then spreads the fixed costs, the
    init included, over fewer steps, and is lower)."""
    py = sys.executable
    tests = [py, "-m", "pytest", "-q", "-rf", "-m", "engine_device", "-p", "no:cacheprovider",
             "--junitxml", str(out / "tests.xml"), "-o", "junit_family=legacy"]
    if smoke:
        tests += ["-k", "stacked_optimizer_equals_torch_optim and adamw or divergent_run_is_isolated and sgd"]
    bench = [py, "-m", "benchmarks.bench_engine", "--device", device]
    if smoke:
        bench += ["--quick", "--steps", "3", "--widths", "16"]
    else:
        bench += ["--plain-subsample", "2"] + (["--steps", str(bench_steps)] if bench_steps else [])
    parts = [Part("tests", tests, 0.15, env={"SYNTHETIC_TEST_DEVICE": device})]
    for grid in ("G1", "G2"):
        for mode, extra in (("eager", []), ("compiled", ["--compile"])):
            if smoke and mode == "compiled":
                continue
            js = out / f"bench_{grid}_{mode}.json"
            parts.append(Part(f"bench {grid} {mode}", [*bench, "--grid", grid, *extra, "--json", str(js)],
                              0.4 / (2 if smoke else 4)))
    profile = [py, "-m", "benchmarks.profile_paths", "--device", device, "--top", "12"]
    for grid, sizes in PROFILES[smoke]:
        parts.append(Part(f"profile {grid}", [*profile, "--grid", grid, *sizes], 0.05))
    graph = [py, "-m", "benchmarks.cuda_graph_probe", "--device", device, "--json", str(out / "graph_probe.json")]
    parts.append(Part("graph probe", graph + (["--quick", "--steps", "6"] if smoke else []), 0.08))
    for fig, scale, share in FIGURES[smoke]:
        parts.append(Part(f"figure {fig} {scale}", [py, str(ROOT / "paper_repro.py"), "--figure", fig, "--scale",
                                                    scale, "--until-decided", "--device", device, "--out",
                                                    str(out / f"fig_{fig}")], share))
    return parts


PROFILES = {False: (("G1", ["--width", "128", "--depth", "8", "--runs", "32", "--steps", "20"]),
                    ("G2", ["--width", "64", "--depth", "2", "4", "8", "16", "32", "64", "--steps", "20"])),
            True: (("G2", ["--width", "16", "--depth", "1", "2", "--steps", "2"]),)}
"""torch.profiler tables of the smallest (launch-bound) buckets of each grid: where a slow bucket's time goes."""


def part_id(name: str) -> str:
    """A part's name as `--parts` takes it: `bench G1 eager` -> `bench-G1-eager`."""
    return name.replace(" ", "-")


FIGURES = {False: (("1", "default", 0.2), ("3", "paper", 0.07)), True: (("e1", "smoke", 0.25), ("3", "smoke", 0.2))}
"""(figure, scale, budget share) of the figure parts; smoke: quick figures on the same path."""


def environment(device: str) -> dict:
    import torch

    from benchmarks.hardware import device_name, peak_for
    from synthetic.device import resolve_device

    dev = resolve_device(device)
    peak = peak_for(dev, None)
    return {"device": str(dev), "device_name": device_name(dev), "torch": torch.__version__,
            "cuda": torch.version.cuda, "python": sys.version.split()[0], "peak": asdict(peak),
            "cpu_threads": torch.get_num_threads()}


def run_part(part: Part, seconds: float) -> None:
    """Run one part with a hard time limit; its status says how it ended."""
    if "--json" in part.argv:  # never report an earlier run's numbers as this part's
        Path(part.argv[part.argv.index("--json") + 1]).unlink(missing_ok=True)
    if seconds < 5:
        part.status = "skipped: budget spent"
        return
    t0 = time.perf_counter()
    try:
        done = subprocess.run(part.argv, cwd=ROOT, env={**os.environ, **part.env, "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True, timeout=seconds)
        part.status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"
        part.output_tail = (done.stdout + done.stderr)[-3000:]
    except subprocess.TimeoutExpired as exc:
        part.status = f"stopped after its {seconds:.0f} s share"
        part.output_tail = ((exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes)
                            else (exc.stdout or ""))[-3000:]
    part.seconds = round(time.perf_counter() - t0, 1)


def bench_numbers(path: Path) -> dict | None:
    """Ratios and peak shares per bucket from a bench_engine JSON."""
    if not path.exists():
        return None
    report = json.loads(path.read_text())
    out = {}
    for g in report["grids"]:
        out[g["grid"]] = {"ratio": g["ratio"], "engine_tflops": g["engine_tflops"],
                          "plain_extrapolated": g["plain_extrapolated"], "losses_ok": g["losses"]["ok"],
                          "buckets": [{"width": b["width"], "depths": b["depths"], "ratio": b["ratio"],
                                       "peak_share": b.get("engine_peak_share")} for b in g["buckets_detail"]]}
    return out


def graph_numbers(path: Path) -> dict | None:
    """Per probed bucket: ms per step eagerly and replayed as a CUDA graph (benchmarks.cuda_graph_probe JSON)."""
    if not path.exists():
        return None
    return {f"{b['grid']} width {b['width']}": {k: b[k] for k in ("depths", "runs", "steps", "eager_ms", "graph",
                                                                   "graph_update") if k in b}
            for b in json.loads(path.read_text())["buckets"]}


def _graph_line(name: str, way: dict) -> str:
    if "error" in way:
        return f"{name}: failed ({way['error']})"
    return (f"{name} {way['ms_per_step']:.2f} ms/step ({way['speedup']:.1f}×; replay alone {way['replay_ms']:.2f} ms"
            + (f", eager update {way['update_ms']:.2f} ms" if "update_ms" in way else "")
            + "; losses vs eager: " + ("bit for bit" if way.get("first_diff_step") is None else
                                       f"first differ at step {way['first_diff_step']}, max rel diff "
                                       f"{way['max_rel_diff']:.2e}") + ")")


def verdicts(summary: Path) -> dict[str, tuple[str, int | None]]:
    """Each claim's verdict and the seeds it was reached with."""
    if not summary.exists():
        return {}
    return {c["key"]: (c["verdict"], (c.get("estimate") or {}).get("n"))
            for c in json.loads(summary.read_text()).get("claims", [])}


def compare_verdicts(fig: str, new_root: Path) -> dict:
    """The figure's claims on the device against the committed CPU summary (both run until decided, so each at
    the look that decided it): verdicts and seeds."""
    new = verdicts(new_root / fig / f"summary_{fig}.json")
    cpu = verdicts(SUMMARIES / f"summary_{fig}.json")
    return {key: {"device": v, "device_seeds": n, "cpu": cpu.get(key, (None, None))[0],
                  "cpu_seeds": cpu.get(key, (None, None))[1], "same": v == cpu.get(key, (None, None))[0]}
            for key, (v, n) in new.items()}


def report_markdown(rep: dict) -> str:
    env = rep["environment"]
    lines = [f"# GPU check, {rep['date']}", "",
             f"Device: {env['device_name']} ({env['device']}), torch {env['torch']}, CUDA {env['cuda']}; fp32 peak "
             f"{env['peak']['fp32']} TFLOP/s, TF32 {env['peak']['tf32']} ({env['peak']['name']}). Budget "
             f"{rep['budget_s']} s, used {rep['total_s']} s" + (" (smoke sizes)" if rep["smoke"] else "") + ".", "",
             "| part | status | seconds | command |", "|---|---|---|---|"]
    lines += [f"| {p['name']} | {p['status']} | {p['seconds']} | `{' '.join(p['argv'][1:])}` |" for p in rep["parts"]]
    for p in rep["parts"]:
        if p["result"] and p["name"].startswith("bench"):
            for grid, g in p["result"].items():
                target = TARGETS.get(grid)
                lines += ["", f"**{p['name']}**: total {g['ratio']:.2f}× the plain loop"
                          + (f" (target ≥ {target:g}×: {'met' if g['ratio'] >= target else 'NOT met'})"
                             if target and not rep["smoke"] else "")
                          + (", plain loop extrapolated from a subsample" if g["plain_extrapolated"] else "")
                          + f"; losses agree: {g['losses_ok']}."]
                lines += [f"- width {b['width']} depths {b['depths']}: {b['ratio']:.2f}×"
                          + (f", {100 * b['peak_share']:.1f}% of fp32 peak" if b["peak_share"] is not None else "")
                          for b in g["buckets"]]
    for p in rep["parts"]:
        if p["result"] and p["name"] == "graph probe":
            lines += ["", "**graph probe** (the step replayed as a CUDA graph, benchmarks.cuda_graph_probe):"]
            lines += [f"- {bucket} ({b['runs']} runs, depths {b['depths']}, {b['steps']} steps): eager "
                      f"{b['eager_ms']:.2f} ms/step" + "".join(f"; {_graph_line(w, b[w])}"
                                                            for w in ("graph", "graph_update") if w in b)
                      for bucket, b in p["result"].items()]
    share = rep.get("g1_width1024_peak_share")
    lines += ["", "Width-1024 G1 bucket, share of fp32 peak: "
              + ("not measured" if share is None else f"{100 * share:.1f}% (target ≥ 40%)")]
    for fig, comp in rep["verdicts"].items():
        same = sum(c["same"] for c in comp.values())
        lines += ["", f"**{fig}**: {same} of {len(comp)} verdicts equal the committed CPU summary's"]
        lines += [f"- {k}: device {c['device']} ({c['device_seeds']} seeds), CPU {c['cpu']} ({c['cpu_seeds']} seeds)"
                  for k, c in comp.items() if not c["same"]]
    for p in rep["parts"]:
        if p["status"] != "ok" and p["output_tail"]:
            lines += ["", f"Output of {p['name']} (tail):", "", "```", p["output_tail"][-1500:].rstrip(), "```"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    from theory.cli import OneLineParser, output_dir_problem

    ap = OneLineParser(prog="python -m benchmarks.gpu_check", description=__doc__.splitlines()[0],
                       raise_errors=False)
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (with --smoke)")
    ap.add_argument("--smoke", action="store_true", help="the same path at smoke sizes (a minute on a CPU)")
    ap.add_argument("--out", default="results/gpu_check", help="folder for gpu_check.md and gpu_check.json")
    ap.add_argument("--budget-s", type=float, default=540.0, help="wall-clock budget for every part together")
    ap.add_argument("--bench-steps", type=int, help="training steps per benchmark bucket (default: the grid's)")
    ap.add_argument("--parts", nargs="+", metavar="PART",
                    help="run only these parts (names as in the report, spaces as '-': tests, bench-G1-eager, "
                         "bench-G1-compiled, bench-G2-eager, bench-G2-compiled, profile-G1, profile-G2, "
                         "graph-probe, figure-1-default, figure-3-paper)")
    args = ap.parse_args(argv)
    if not args.budget_s > 0:
        ap.error(f"--budget-s must be > 0 (got {args.budget_s})")
    if args.bench_steps is not None and args.bench_steps < 1:
        ap.error(f"--bench-steps must be >= 1 (got {args.bench_steps})")
    if args.bench_steps is not None and args.smoke:
        ap.error("--bench-steps goes without --smoke (the smoke sizes fix their own steps)")
    problem = output_dir_problem(args.out)
    if problem:
        ap.error(f"--out: {problem}")
    out = Path(args.out).resolve()     # the parts run from the repository root
    known = {part_id(p.name) for p in plan(args.device, args.smoke, out)}
    unknown = sorted(set(args.parts or ()) - known)
    if unknown:
        ap.error(f"--parts: unknown {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    try:
        env = environment(args.device)
    except Exception as exc:  # an absent CUDA, a bad device string: one line
        ap.error(f"--device {args.device}: {' '.join(str(exc).split())}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "tests.xml").unlink(missing_ok=True)     # never report an earlier run's tests
    print(f"device {env['device_name']} ({env['device']}), torch {env['torch']}, CUDA {env['cuda']}, fp32 peak "
          f"{env['peak']['fp32']} TFLOP/s (TF32 {env['peak']['tf32']})", flush=True)
    start = time.perf_counter()
    parts = plan(env["device"], args.smoke, out, args.bench_steps)
    if args.parts:
        parts = [p for p in parts if part_id(p.name) in args.parts]
    total_share = sum(p.share for p in parts)
    for i, part in enumerate(parts):
        left = args.budget_s - (time.perf_counter() - start)
        remaining_share = sum(p.share for p in parts[i:])
        run_part(part, left * part.share / remaining_share if i < len(parts) - 1 else left)
        if part.name.startswith("bench"):
            part.result = bench_numbers(Path(part.argv[part.argv.index("--json") + 1]))
        elif part.name == "graph probe":
            part.result = graph_numbers(Path(part.argv[part.argv.index("--json") + 1]))
        print(f"{part.name}: {part.status} ({part.seconds} s)", flush=True)
    g1 = next((p.result for p in parts if p.name == "bench G1 eager" and p.result), None)
    share = None
    if g1:
        share = next((b["peak_share"] for b in g1["G1"]["buckets"] if b["width"] == 1024), None)
    comps = {fig: compare_verdicts(fig, out / f"fig_{fig}" / "figures") for fig, _, _ in FIGURES[args.smoke]
             if any(p.name.startswith(f"figure {fig} ") for p in parts)}
    import datetime

    rep = {"date": datetime.date.today().isoformat(), "environment": env, "smoke": args.smoke,
           "budget_s": args.budget_s, "total_s": round(time.perf_counter() - start, 1), "shares": total_share,
           "parts": [asdict(p) for p in parts], "g1_width1024_peak_share": share, "verdicts": comps,
           "targets": TARGETS}
    (out / "gpu_check.json").write_text(json.dumps(rep, indent=1) + "\n")
    (out / "gpu_check.md").write_text(report_markdown(rep))
    print(f"wrote {out / 'gpu_check.md'} and {out / 'gpu_check.json'}")
    return 0 if all(p.status == "ok" for p in parts) else 1


if __name__ == "__main__":
    sys.exit(main())
