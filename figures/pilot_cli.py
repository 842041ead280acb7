"""The command line the wd pilots share (figures.wd4_pilot, figures.wd3_timescales): --scale, --threads and --cache,
checked before any training (one error line, exit 2), and the torch threads set."""

from __future__ import annotations

import argparse

from theory.cli import OneLineParser, output_dir_problem


def pilot_parser(prog: str, doc: str) -> OneLineParser:
    """A parser with the pilots' shared options; a pilot adds its own, then calls `parse_pilot`."""
    p = OneLineParser(prog=prog, description=doc.splitlines()[0], raise_errors=False)
    p.add_argument("--scale", default="default", choices=("smoke", "default", "paper"))
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cache", default="results/cache")
    return p


def parse_pilot(p: OneLineParser, argv: list[str] | None) -> argparse.Namespace:
    """Parsed arguments, the shared ones checked (exit 2 with one line otherwise) and torch's threads set."""
    a = p.parse_args(argv)
    if a.threads is not None and a.threads < 1:
        p.error("--threads must be at least 1")
    if (problem := output_dir_problem(a.cache)) is not None:
        p.error(f"--cache: {problem}")
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    return a
