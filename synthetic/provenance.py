"""What produced a set of results: engine and torch versions, device, dtype, seeds and the exact command.

Written into every figure summary JSON and every records CSV, so a number can always be traced to the code and the
command that made it (and a stale one recognised: `figures.results_table` marks rows whose engine version differs).
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys
from typing import Any, Iterable

import torch

from synthetic.records import SCHEMA_VERSION
from synthetic.version import ENGINE_VERSION, THREADED_VERSION, WEIGHT_GRAD_VERSION


def command_line(argv: Iterable[str] | None = None) -> str:
    """The command as a user would type it: `python <script or -m module> args…`."""
    args = list(sys.argv if argv is None else argv)
    if args and args[0].endswith("__main__.py"):
        args = ["-m", os.path.basename(os.path.dirname(args[0]))] + args[1:]
    return "python " + shlex.join(args)


def device_name(device: torch.device | str) -> str:
    """A device as the provenance names it; a string (e.g. "ray: cuda workers") is kept as it is."""
    if isinstance(device, str):
        return device
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what platform reports."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8", errors="replace"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def trained_on(device: torch.device | str, threads: int | None = None, cpu: str | None = None) -> dict[str, Any]:
    """Where runs are trained: device, torch threads and CPU model (recorded in every cache entry), and the version
    of the engine's threaded products (`synthetic.version.THREADED_VERSION`)."""
    name = device if isinstance(device, str) else ("cpu" if device.type == "cpu" else device_name(device))
    return {"device": name,
            "threads": int(threads if threads is not None else torch.get_num_threads()),
            "cpu": cpu if cpu is not None else cpu_model(),
            "threaded": THREADED_VERSION, "weight_grad": WEIGHT_GRAD_VERSION}


def threaded_stale(where: dict[str, Any] | None) -> bool:
    """Whether a cache entry trained `where` predates THREADED_VERSION and was (or may have been) trained on a CPU at
    more than one thread, where a lone run rounded otherwise: such an entry is a miss. Anything not on CUDA counts as
    a CPU (older Ray entries name the device they were asked for, such as "auto")."""
    if not where:
        return True
    if "cuda" in str(where.get("device")) or int(where.get("threads", 1)) <= 1:
        return False
    return int(where.get("threaded", 1)) < THREADED_VERSION


def weight_grad_stale(where: dict[str, Any] | None) -> bool:
    """Whether a cache entry trained `where` predates WEIGHT_GRAD_VERSION and was (or may have been) trained where the
    old probe could choose autograd's hidden-weight product: on a GPU or on a CPU at more than one thread. Such an
    entry is a miss."""
    if not where:
        return True
    if "cuda" not in str(where.get("device")) and int(where.get("threads", 1)) <= 1:
        return False
    return int(where.get("weight_grad", 1)) < WEIGHT_GRAD_VERSION


def stale(where: dict[str, Any] | None) -> bool:
    """Whether a cache entry trained `where` is a miss for this code (`threaded_stale`, `weight_grad_stale`)."""
    return threaded_stale(where) or weight_grad_stale(where)


def trained_on_set(results: Iterable[Any]) -> list[str]:
    """The distinct places a set of results was trained on, one line each ("unrecorded" for cache entries written
    before it was recorded), with their run counts: what a summary reports."""
    counts: dict[str, int] = {}
    for r in results:
        t = getattr(r, "trained_on", None)
        label = "unrecorded" if not t else f"{t.get('device')}, {t.get('threads')} threads, {t.get('cpu')}"
        counts[label] = counts.get(label, 0) + 1
    return [f"{label}: {n} runs" for label, n in sorted(counts.items())]


def provenance(runs: Iterable[Any], device: torch.device | str, command: str | None = None) -> dict[str, Any]:
    """Provenance of results trained from `runs` (RunConfigs) on `device`."""
    runs = list(runs)
    return {
        "engine_version": ENGINE_VERSION,
        "record_schema": SCHEMA_VERSION,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device_name(device),
        "dtype": ",".join(sorted({r.dtype for r in runs})),
        "seeds": sorted({int(r.seed) for r in runs}),
        "n_runs": len(runs),
        "command": command if command is not None else command_line(),
        "date": datetime.date.today().isoformat(),
    }
