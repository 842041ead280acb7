"""`python -m synthetic grid ...` trains a grid and writes tidy records; `python -m synthetic fit ...` fits exponents.

Bad input gives one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
from typing import Sequence

import torch

from theory.bridge import BaseHP
from theory.cli import PLUGIN_HELP, OneLineParser, UsageError, load_plugins, output_file_problem
from theory.errors import TheoryError

from synthetic.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from synthetic.device import resolve_device
from synthetic.errors import RunsFailedError, SyntheticError
from synthetic.estimate import check_fits, size_warning
from synthetic.executors import add_executor_options, ray_device_name, ray_options
from synthetic.provenance import provenance
from synthetic.schedule import ScheduleConfig
from synthetic.fit import FitError, diverged_runs, fit_table, format_fits
from synthetic.grid import DEFAULT_CACHE_DIR, bucketize, read_csv, results_table, run_grid, write_csv

EXIT_BAD_INPUT = 2
IMAGE_DATA = ("two_class_standin", "cifar10")
IMAGE_D_IN, DEFAULT_D_IN = 3072, 32


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m synthetic", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    g = sub.add_parser("grid", help="train width x depth x lr x wd x seed grid, write tidy records as CSV")
    g.add_argument("--widths", type=int, nargs="+", default=[64, 128, 256], help="hidden widths n")
    g.add_argument("--depths", type=int, nargs="+", default=[2, 4, 8], help="residual blocks L")
    g.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-3, 1e-2, 3e-2], help="η_base values")
    g.add_argument("--wds", type=float, nargs="+", default=[0.0], help="λ_base values")
    g.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds (data, teacher and init)")
    g.add_argument("--optimizer", default="adamw", help="an engine optimizer registered in synthetic.rules (sgd, adamw, lion, muon, muon_kimi, muon_kimi_adamw, muon_adamw, shampoo, shampoo_adamw, soap, sso, sophia)")
    g.add_argument("--parameterization", nargs="+", default=["mup_k2"],
                   help="one or more of sp mup_width mup_k1 mup_k2")
    g.add_argument("--steps", type=int, default=200, help="training steps")
    g.add_argument("--batch", type=int, default=64, help="batch size")
    g.add_argument("--warmup-steps", type=int, default=0, help="linear learning-rate warmup steps")
    g.add_argument("--warmup-start", type=float, default=0.0, help="learning-rate factor at the start of the warmup")
    g.add_argument("--decay", choices=["constant", "cosine"], default="constant",
                   help="learning rate after the warmup: constant, or cosine decay toward --lr-floor, reached at "
                        "step --steps (torch's CosineAnnealingLR with T_max = steps − warmup)")
    g.add_argument("--lr-floor", type=float, default=0.0, help="final learning-rate factor of the cosine decay")
    g.add_argument("--k", type=int, default=2, help="maps per residual block")
    g.add_argument("--activation", default="relu", help="identity, relu or gelu")
    g.add_argument("--norm", default="none", help="pre-norm: none, rms or layer")
    g.add_argument("--d-in", type=int, default=None,
                   help=f"input dimension (default: {DEFAULT_D_IN}; {IMAGE_D_IN} for the image data, the only value "
                        "it allows)")
    g.add_argument("--d-out", type=int, default=1, help="output dimension (classes for ce)")
    g.add_argument("--n-classes", type=int, default=None,
                   help="classes of --data teacher_classification (default: --d-out with --loss ce, else 2)")
    g.add_argument("--data", default="teacher_regression",
                   help="teacher_regression, teacher_classification, two_class_standin or cifar10")
    g.add_argument("--data-dir", default=None, help="folder with the CIFAR-10 python batches (--data cifar10)")
    g.add_argument("--n-train", type=int, default=None, help="fixed training-set size (default: fresh batches)")
    g.add_argument("--noise", type=float, default=0.1, help="label noise: std (regression) or flip probability")
    g.add_argument("--loss", default=None, help="mse, bce or ce (default: mse for regression, bce otherwise)")
    g.add_argument("--alpha", type=float, default=1.0, help="α_base")
    g.add_argument("--sigma2", type=float, default=2.0, help="σ²_base")
    g.add_argument("--sigma2-input", type=float, default=None,
                   help="the input layer's own base init variance (default: --sigma2)")
    g.add_argument("--n-base", type=int, default=1, help="base width (1 = absolute-n convention)")
    g.add_argument("--L-base", type=int, default=1, help="base depth (1 = absolute-L convention)")
    g.add_argument("--measure", nargs="+", default=["loss"], help="quantities to record (see synthetic.config)")
    g.add_argument("--measure-layers", nargs="+", default=(),
                   help="record only these layers (e.g. h0 h4; every layer by default); the loss is layer model, "
                        "so list model to keep it")
    g.add_argument("--measure-at", type=int, nargs="*", default=None,
                   help="steps for the non-loss quantities (default: 0, steps/2, steps when any are asked)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    g.add_argument("--dtype", default="float32", help="float32 or float64")
    g.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1 is faster on a busy machine)")
    g.add_argument("--cache", default=None, help=f"run cache folder (default: {DEFAULT_CACHE_DIR})")
    g.add_argument("--no-cache", action="store_true", help="neither read nor write the run cache")
    add_executor_options(g)
    g.add_argument("--out", default="records.csv", help="tidy records CSV to write")
    g.add_argument("--progress", choices=["auto", "always", "never"], default="auto",
                   help="progress bar: auto shows it on a terminal")
    g.add_argument("--plugin", action="append", default=[], metavar="MODULE", help=PLUGIN_HELP)

    f = sub.add_parser("fit", help="fit log-log exponents of one quantity over a config column")
    f.add_argument("--records", required=True, help="CSV written by `grid`")
    f.add_argument("--quantity", default="loss", help="quantity to fit")
    f.add_argument("--over", default="width", choices=["width", "depth", "lr", "wd"],
                   help="config column on the x axis")
    f.add_argument("--at-step", type=int, default=-1, help="step to fit at; -1 = each run's last recorded step")
    f.add_argument("--layer", default="model",
                   help="layer of the quantity (model: the whole network; last: each run's last block output h_L, "
                        "the one to fit against depth; hN: block N's output in every run)")
    f.add_argument("--index", type=int, default=0, help="singular-value index for spectra")
    f.add_argument("--groupby", nargs="*", default=[], help="config columns listed first (every varying config "
                                                            "column other than --over and seed splits the fits)")
    f.add_argument("--ci", type=float, default=0.95, help="confidence level of the intervals")
    f.add_argument("--interval", choices=["seed_t", "bootstrap"], default="seed_t",
                   help="CI over seeds: t-interval over per-seed slopes, or the percentile cluster bootstrap")
    f.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples per fit (--interval bootstrap)")
    return p


def grid_runs(a: argparse.Namespace) -> list[RunConfig]:
    """The RunConfigs of a `grid` command line (validated)."""
    check_grid_options(a)
    classification = a.data != "teacher_regression"
    loss = a.loss or ("bce" if classification else "mse")
    d_in = resolve_d_in(a.data, a.d_in)
    measurements = tuple(dict.fromkeys(["loss", *a.measure]))
    measure_at: tuple[int, ...] = ()
    if any(q not in ("loss", "sigma1_pi") for q in measurements):
        measure_at = tuple(sorted(set(a.measure_at if a.measure_at else (0, a.steps // 2, a.steps))))
    n_classes = a.n_classes if a.n_classes is not None else (a.d_out if loss == "ce" else 2)
    data = DataConfig(kind=a.data, n_train=a.n_train, noise=a.noise, n_classes=n_classes, data_dir=a.data_dir)
    runs = []
    for width, depth, param, lr, wd, seed in itertools.product(a.widths, a.depths, a.parameterization, a.lrs,
                                                               a.wds, a.seeds):
        model = ModelConfig(width=width, depth=depth, k=a.k, d_in=d_in, d_out=a.d_out, activation=a.activation,
                            norm=a.norm)
        base = BaseHP(alpha=a.alpha, sigma2=a.sigma2, eta=lr, lam=wd, n_base=a.n_base, L_base=a.L_base,
                      sigma2_input=a.sigma2_input)
        runs.append(RunConfig(model=model, optim=OptimConfig(name=a.optimizer), parameterization=param, base=base,
                              data=data, loss=loss, steps=a.steps, batch_size=a.batch, seed=seed, dtype=a.dtype,
                              measure_at=measure_at, measurements=measurements,
                              measure_layers=tuple(a.measure_layers),
                              schedule=ScheduleConfig(warmup_steps=a.warmup_steps, warmup_start=a.warmup_start,
                                                      decay=a.decay, floor=a.lr_floor)).validate())
    return runs


def check_grid_options(a: argparse.Namespace) -> None:
    """Refuse numbers that would train something other than what was asked (NaN noise trains without noise, an
    infinite lr diverges every run) and options that contradict each other, before any run is built."""
    if a.max_bucket is not None and a.max_bucket < 1:
        raise UsageError(f"--max-bucket must be >= 1 (got {a.max_bucket})")
    if a.steps < 0:
        raise UsageError(f"--steps must be >= 0 (got {a.steps})")
    bad_seed = next((s for s in a.seeds if not 0 <= s < MAX_SEED), None)
    if bad_seed is not None:
        raise UsageError(f"--seeds must be integers in 0..2^62 − 1 (got {bad_seed})")
    for name, values in (("--widths", a.widths), ("--depths", a.depths), ("--lrs", a.lrs), ("--wds", a.wds),
                         ("--seeds", a.seeds), ("--parameterization", a.parameterization)):
        dupes = sorted({v for v in values if values.count(v) > 1}, key=str)
        if dupes:
            raise UsageError(f"{name} repeats {' '.join(map(str, dupes))}: each run would be trained and written "
                             f"twice; give each value once")
    if a.decay == "constant" and a.lr_floor != 0.0:
        raise UsageError("--lr-floor sets the end of a cosine decay; with --decay constant it would be ignored")
    for name, values in (("--lrs", a.lrs), ("--wds", a.wds)):
        if any(not (math.isfinite(v) and v >= 0) for v in values):
            raise UsageError(f"{name} must be finite non-negative numbers (got {' '.join(map(str, values))})")
    for name, value in (("--alpha", a.alpha), ("--sigma2", a.sigma2), ("--sigma2-input", a.sigma2_input)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"{name} must be a finite number > 0 (got {value})")
    if a.n_base < 1 or a.L_base < 1:
        raise UsageError(f"--n-base and --L-base must be >= 1 (got {a.n_base}, {a.L_base})")
    check_noise(a.data, a.noise)
    if a.n_classes is not None and (a.data != "teacher_classification" or a.n_classes < 2):
        raise UsageError(f"--n-classes sets the classes of --data teacher_classification, at least 2 "
                         f"(got {a.n_classes} with --data {a.data})")
    if a.steps >= 0 and any(not 0 <= t <= a.steps for t in a.measure_at or ()):
        raise UsageError(f"--measure-at steps must be in 0..{a.steps} (--steps) "
                         f"(got {' '.join(map(str, a.measure_at))})")
    if a.no_cache and a.cache is not None:
        raise UsageError("--no-cache and --cache contradict each other; give one")
    if a.cache is not None and os.path.exists(a.cache) and not os.path.isdir(a.cache):
        raise UsageError(f"--cache {a.cache} is a file, not a folder")


MAX_SEED = 2 ** 62
"""Seeds stay below this: the engine derives further seeds from a run's seed, and torch's generators take 64 bits."""


def check_noise(data: str, noise: float) -> None:
    """Label noise is a standard deviation for regression and a flip probability for the classification data."""
    if data == "teacher_regression":
        if not (math.isfinite(noise) and noise >= 0):
            raise UsageError(f"--noise must be a finite number >= 0 for regression (got {noise})")
    elif not 0 <= noise <= 1:
        raise UsageError(f"--noise is a flip probability for --data {data} and must be in [0, 1] (got {noise})")


def resolve_d_in(data: str, d_in: int | None) -> int:
    """--d-in as given, or its default; the image data fixes it at 3072, so another explicit value is refused."""
    if data not in IMAGE_DATA:
        return DEFAULT_D_IN if d_in is None else d_in
    if d_in is not None and d_in != IMAGE_D_IN:
        raise UsageError(f"--data {data} has {IMAGE_D_IN} inputs; --d-in {d_in} contradicts it (leave --d-in out)")
    return IMAGE_D_IN


def cmd_grid(a: argparse.Namespace) -> int:
    runs = grid_runs(a)
    problem = output_file_problem(a.out)
    if problem:
        raise UsageError(f"--out: {problem}")
    if a.threads is not None:
        if a.threads < 1:
            raise UsageError(f"--threads must be >= 1 (got {a.threads})")
        torch.set_num_threads(a.threads)
    if a.executor == "local":
        check_fits(bucketize(runs, a.max_bucket or 256), resolve_device(a.device))
    warning = size_warning(runs)
    if warning:
        print(warning, file=sys.stderr)
    progress = {"auto": True, "always": "force", "never": False}[a.progress]
    start = time.monotonic()
    ray = ray_options(a)
    results = run_grid(runs, cache_dir=cache_dir(a), device=a.device, progress=progress, max_bucket=a.max_bucket,
                       executor=a.executor, ray=ray)
    table = results_table(results)
    device = ray_device_name(a.device, ray) if ray is not None else resolve_device(a.device)
    write_csv(table, a.out, provenance(runs, device))
    diverged = sum(r.diverged_at is not None for r in results)
    print(f"{len(results)} runs ({diverged} diverged), {len(table['value'])} records -> {a.out} "
          f"in {time.monotonic() - start:.1f}s")
    return 0


def cache_dir(a: argparse.Namespace) -> str | None:
    return None if a.no_cache else a.cache or DEFAULT_CACHE_DIR


def interrupted_message(a: argparse.Namespace | None) -> str:
    """What an interrupt leaves behind: run_grid stores each bucket as it finishes, unless caching is off."""
    if a is None or a.command != "grid":
        return "interrupted"
    if a.no_cache:
        return "interrupted; --no-cache: the runs trained so far are lost (nothing was cached)"
    return f"interrupted; finished buckets are cached in {cache_dir(a)} and will not be recomputed"


def cmd_fit(a: argparse.Namespace) -> int:
    if not 0 < a.ci < 1:
        raise UsageError(f"--ci must be in (0, 1) (got {a.ci})")
    if a.n_boot < 10:
        raise UsageError(f"--n-boot must be >= 10 (got {a.n_boot})")
    table = read_csv(a.records)
    fits = fit_table(table, quantity=a.quantity, over=a.over, at_step=a.at_step, layer=a.layer, index=a.index,
                     groupby=a.groupby, n_boot=a.n_boot, ci=a.ci, interval=a.interval)
    if not any(gf.ok for gf in fits):
        raise FitError("no group could be fitted: " + "; ".join(f"{gf.label}: {gf.reason}" for gf in fits))
    print(format_fits(fits, quantity=a.quantity, over=a.over, ci=a.ci))
    n_div = len(diverged_runs(table))
    if n_div:
        print(f"left out {n_div} diverged run(s): their last recorded values are not results")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    a = None
    try:
        argv = load_plugins(list(sys.argv[1:] if argv is None else argv))
        a = build_parser().parse_args(argv)
        return cmd_grid(a) if a.command == "grid" else cmd_fit(a)
    except RunsFailedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (UsageError, SyntheticError, TheoryError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(interrupted_message(a), file=sys.stderr)
        return 130
