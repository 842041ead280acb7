"""Regenerate every table and figure of the catalogue.

    python paper_repro.py --list
    python paper_repro.py --table 6              # tables 1..13, wd-rules, residual
    python paper_repro.py --figure 3 [--scale smoke|default|paper] [--device auto|cpu|cuda] [--force]
    python paper_repro.py --figure all
    python paper_repro.py --figure 3 --seed-offset 1000   # the same figure on fresh seeds (new runs, new cache entries)
    python paper_repro.py --figure 1 --until-decided      # more seeds while a claim is undecided (figures.claims.LOOKS)
    python paper_repro.py --readme [--render]            # regenerate everything the README shows (figures.regenerate)

Bad input prints one line on stderr and exits with status 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from theory.cli import OneLineParser, UsageError


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="paper_repro.py", description=__doc__.split("\n")[0])
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--table", help="table id: 1..13, wd-rules, residual, or all")
    what.add_argument("--figure", help="figure id from --list, or all")
    what.add_argument("--list", action="store_true", help="list every figure and table")
    what.add_argument("--readme", action="store_true",
                      help="regenerate every figure, summary, example output and generated block of README.md")
    p.add_argument("--scale", default="default", choices=["smoke", "default", "paper"],
                   help="grid size: smoke (seconds), default (minutes on a CPU) or paper (a GPU); default: default")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto = CUDA when available, else CPU; default: auto")
    p.add_argument("--force", action="store_true", help="recompute runs even when cached")
    p.add_argument("--seed-offset", type=int, default=0, metavar="N",
                   help="shift every run's seed by N (a fresh-seed rerun); default 0")
    p.add_argument("--until-decided", action="store_true",
                   help="with --figure: rerun with twice the seeds while one of the figure's claims is undecided "
                        "(the sequential schedule of figures.claims.LOOKS)")
    p.add_argument("--only", nargs="+", default=None, metavar="SEL",
                   help="with --readme: regenerate only these steps and merge them into the gallery; SEL is a figure "
                        "id or glob (coord-*), optionally :figures, :rerun or :kernel, or the word examples")
    p.add_argument("--render", action="store_true",
                   help="with --readme: only render README.md from the committed summaries (no training)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch CPU threads for training (and OMP_NUM_THREADS of the subprocesses --readme starts); "
                        "with --jobs, each job's; default: torch's (with --jobs: the cores shared out)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="with --readme: train N steps side by side, each in a worker process (on a 2-core CPU, "
                        "--jobs 2 --threads 1 was about 1.5x faster than one process of 2 threads on an AMD EPYC "
                        "Zen 3); default 1")
    p.add_argument("--data", default="standin", choices=["standin", "cifar10"],
                   help="Figs 3-6 data: synthetic stand-in (default) or CIFAR-10 python batches")
    p.add_argument("--data-dir", default=None, metavar="DIR", help="directory holding the CIFAR-10 python batches")
    from synthetic.executors import add_executor_options

    add_executor_options(p)
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output root: tables/ and figures/ below it (default results; with --readme results/readme)")
    return p


def _list() -> int:
    from figures.registry import all_specs
    from theory.cli import TABLE_IDS, table_title

    print("Tables (python paper_repro.py --table ID):")
    for tid in TABLE_IDS:
        print(f"  {tid:<10} {table_title(tid)}")
    print("Figures (python paper_repro.py --figure ID [--scale smoke|default|paper]):")
    for fid, spec in all_specs().items():
        print(f"  {fid:<22} {spec.description}")
    return 0


def _tables(table: str, out: Path) -> int:
    from theory.cli import TABLE_IDS, run_table

    ids = list(TABLE_IDS) if table == "all" else [table]
    for tid in ids:
        if tid not in TABLE_IDS:
            raise UsageError(f"unknown table {tid!r}; choose from {', '.join(TABLE_IDS)} or all")
        status = run_table(tid, out / "tables")
        if status:
            return status
    return 0


def _figures(args: argparse.Namespace, out: Path) -> int:
    from figures.registry import figure_ids, run_figure, run_until_decided

    known = figure_ids()
    ids = list(known) if args.figure == "all" else [args.figure]
    for fid in ids:
        if fid not in known:
            raise UsageError(f"unknown figure {fid!r}; run --list to see the catalogue")
    if args.data == "cifar10" and not args.data_dir:
        raise UsageError("--data cifar10 needs --data-dir DIR holding the CIFAR-10 python batches")
    if args.seed_offset < 0:
        raise UsageError(f"--seed-offset must be >= 0 (got {args.seed_offset})")
    if args.max_bucket is not None and args.max_bucket < 1:
        raise UsageError(f"--max-bucket must be >= 1 (got {args.max_bucket})")
    check_writable_dir(out / "figures")
    from synthetic.executors import ray_options

    ray = ray_options(args)
    for fid in ids:
        options = dict(scale=args.scale, device=args.device, force=args.force, seed_offset=args.seed_offset,
                       out_dir=out / "figures", data=args.data, data_dir=args.data_dir, executor=args.executor, ray=ray,
                       max_bucket=args.max_bucket)
        if args.until_decided:
            _, look = run_until_decided(fid, **options)
            print(f"figure {fid}: decided at look {look}" if look == 1 or _decided(out, fid)
                  else f"figure {fid}: claims still undecided at the last look ({look})")
        else:
            run_figure(fid, **options)
    return 0


def _decided(out: Path, fid: str) -> bool:
    import json

    from figures.claims import claims_undecided

    summary = json.loads((out / "figures" / fid / f"summary_{fid}.json").read_text())
    return not claims_undecided(summary.get("claims", []))


def check_writable_dir(path: Path) -> None:
    """Refuse, before any training, an output folder in which a file could not be written (theory.cli's check)."""
    from theory.cli import output_file_problem

    problem = output_file_problem(str(path / "summary.json"))
    if problem:
        raise UsageError(problem)


def _readme(args: argparse.Namespace) -> int:
    from figures.regenerate import regenerate

    ignored = [flag for flag, on in (("--scale", args.scale != "default"), ("--force", args.force),
                                     ("--seed-offset", args.seed_offset != 0), ("--executor", args.executor != "local"),
                                     ("--data", args.data != "standin"), ("--data-dir", args.data_dir is not None),
                                     ("--max-bucket", args.max_bucket is not None),
                                     ("--until-decided", args.until_decided))
               if on]
    if ignored:
        raise UsageError(f"--readme regenerates the README's fixed setting; {', '.join(ignored)} cannot go with it")

    if args.render and args.jobs != 1:
        raise UsageError("--jobs runs training steps side by side; --render trains nothing")
    only = None
    if args.only is not None:
        if args.render:
            raise UsageError("--only selects what to train; --render trains nothing")
        from figures.regenerate import parse_only

        try:
            only = parse_only(args.only)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    out = Path(args.out) if args.out is not None else Path("results/readme")
    if not args.render:
        check_writable_dir(out)
    from figures.regenerate import Target

    regenerate(out, device=args.device, render_only=args.render,
               target=Target(only=only, jobs=args.jobs, threads=args.threads))
    return 0


def main(argv: list[str] | None = None) -> int:
    from synthetic.errors import RunsFailedError

    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.render and not args.readme:
            raise UsageError("--render goes with --readme")
        if args.until_decided and args.figure is None:
            raise UsageError("--until-decided goes with --figure")
        if args.jobs != 1 and not args.readme:
            raise UsageError("--jobs goes with --readme")
        if args.jobs < 1:
            raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
        if args.threads is not None:
            if args.threads < 1:
                raise UsageError(f"--threads must be at least 1, got {args.threads}")
            import torch

            torch.set_num_threads(args.threads)
            os.environ["OMP_NUM_THREADS"] = str(args.threads)
        if args.readme:
            return _readme(args)
        out = Path(args.out if args.out is not None else "results")
        if args.list:
            return _list()
        if args.table is not None:
            return _tables(args.table, out)
        return _figures(args, out)
    except UsageError as exc:
        print(f"paper_repro.py: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("paper_repro.py: interrupted; every finished bucket is cached and will be reused", file=sys.stderr)
        return 130
    except RunsFailedError as exc:
        print(f"paper_repro.py: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"paper_repro.py: error: cannot access{where}: {exc.strerror or type(exc).__name__}", file=sys.stderr)
        return 2
    except Exception as exc:
        if _user_facing(exc):
            print(f"paper_repro.py: error: {exc}", file=sys.stderr)
            return 2
        raise


def _user_facing(exc: Exception) -> bool:
    """Errors that name a user mistake (bad size, optimizer, device, data dir): one line, no traceback."""
    from figures.registry import FigureError
    from synthetic.errors import SyntheticError
    from theory.errors import TheoryError

    return isinstance(exc, (FigureError, SyntheticError, TheoryError))

if __name__ == "__main__":
    sys.exit(main())
