"""Tidy measurement records and the layer-naming convention of ARCHITECTURE.md.

Layer names: matrices `"input"`, `"block{l}.{i}"` (block l = 1..L, map i = 1..k), `"output"`; biases `"input_bias"`,
`"block{l}.bias{i}"`; residual-stream features `"h0"`, `"h{l}"`, `"out"`; per-block quantities (claims E.1/E.2)
`"block{l}"`; run-level quantities `"model"`.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple

SCHEMA_VERSION = "synthetic-records-1"


class Record(NamedTuple):
    """One measured number; `index` is 0 except for spectra (i-th singular value, descending)."""

    run_id: str
    step: int
    layer: str
    quantity: str
    index: int
    value: float


def select(records: Iterable[Record], **filters: Any) -> list[Record]:
    """Records whose fields equal the given values; a tuple/list/set value means "any of these"."""
    unknown = set(filters) - set(Record._fields)
    if unknown:
        raise KeyError(f"unknown record field(s): {', '.join(sorted(unknown))}")
    out = []
    for r in records:
        for key, want in filters.items():
            have = getattr(r, key)
            if isinstance(want, (tuple, list, set, frozenset)):
                if have not in want:
                    break
            elif have != want:
                break
        else:
            out.append(r)
    return out


def matrix_layer_names(depth: int, k: int) -> list[str]:
    return ["input"] + [f"block{l}.{i}" for l in range(1, depth + 1) for i in range(1, k + 1)] + ["output"]


def bias_layer_names(depth: int, k: int) -> list[str]:
    return ["input_bias"] + [f"block{l}.bias{i}" for l in range(1, depth + 1) for i in range(1, k + 1)]


def feature_names(depth: int) -> list[str]:
    return [f"h{l}" for l in range(depth + 1)] + ["out"]


def block_names(depth: int) -> list[str]:
    return [f"block{l}" for l in range(1, depth + 1)]


def all_layer_names(depth: int, k: int, bias: bool) -> list[str]:
    names = matrix_layer_names(depth, k) + feature_names(depth) + block_names(depth) + ["model"]
    return names + (bias_layer_names(depth, k) if bias else [])
