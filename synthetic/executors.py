"""Where the buckets of a grid train: in this process (the default), or as Ray tasks on a local or remote cluster.

An executor takes buckets (lists of RunConfig that share a bucket key) and yields one `BucketOutcome` per bucket as
it finishes, in completion order. `synthetic.grid.run_grid` stores each outcome in the cache as it arrives, so the
cache and resume semantics are the executor's business nowhere: a worker needs no access to the driver's cache, and
an interrupted distributed grid resumes by training only the missing runs. (A cifar10 run reads its `data_dir` on
the worker, so that folder must exist there.) A Ray task that fails is retried
`RayOptions.max_retries` times (a dead worker included) and then reported for its runs; the other buckets still land.
Results do not depend on the executor: the engine's numbers are independent of bucket composition bit for bit, and
a worker runs `cpus_per_bucket` torch threads, so they equal an in-process run with that many threads (on a CPU some
reductions split by thread count, which changes the last bits).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Literal, Sequence

from synthetic.errors import ConfigError

if TYPE_CHECKING:
    from synthetic.config import RunConfig
    from synthetic.engine import RunResult

ExecutorName = Literal["local", "ray"]
EXECUTORS: tuple[str, ...] = ("local", "ray")
RAY_INSTALL_HINT = "the ray executor needs Ray: pip install -e '.[ray]'"


@dataclass(frozen=True)
class RayOptions:
    """Ray cluster address (None: start a local instance on this machine's cores) and each bucket's request."""

    address: str | None = None
    gpus_per_bucket: float = 0.0
    cpus_per_bucket: float = 1.0
    max_retries: int = 2

    def validate(self) -> "RayOptions":
        if not self.cpus_per_bucket > 0:
            raise ConfigError(f"--cpus-per-bucket must be > 0 (got {self.cpus_per_bucket})")
        if not self.gpus_per_bucket >= 0:
            raise ConfigError(f"--gpus-per-bucket must be >= 0 (got {self.gpus_per_bucket})")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0 (got {self.max_retries})")
        if self.address is not None:
            address_problem = unreachable(self.address)
            if address_problem:
                raise ConfigError(f"--address {self.address}: {address_problem}")
        return self


CONNECT_TIMEOUT_S = 5.0


def unreachable(address: str) -> str | None:
    """Why a Ray address cannot be a cluster (its host does not resolve, nothing accepts a TCP connection at its
    port within CONNECT_TIMEOUT_S), or None; "auto" and other forms without a port are left to Ray. Ray itself
    retries a wrong address for minutes, so this check comes first."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return None if address == "auto" else "not an address of the form host:port, ray://host:port or auto"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            return None
    except socket.gaierror:
        return f"cannot resolve host {host!r}"
    except OSError as exc:
        return f"nothing answers at {host}:{port} ({exc.strerror or type(exc).__name__})"


@dataclass(frozen=True)
class BucketOutcome:
    """A finished bucket: its results in run order, or the reason it failed (after the retries)."""

    runs: Sequence["RunConfig"]
    results: list["RunResult"] | None
    error: str | None = None


def in_process(buckets: Sequence[Sequence[RunConfig]], device, on_step=None) -> Iterator[BucketOutcome]:
    """Train bucket after bucket here (`on_step`: engine.train_bucket's); an exception propagates (nothing to retry
    in one process)."""
    from synthetic import engine

    for bucket in buckets:
        yield BucketOutcome(bucket, engine.train_bucket(bucket, device, on_step=on_step))


def import_ray():
    """The ray module, or ConfigError with the install line when Ray is absent."""
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_INSTALL_HINT) from None
    return ray


def plugin_imports(buckets: Sequence[Sequence[RunConfig]]) -> tuple[tuple[str, str], ...]:
    """(module, the sys.path folder it was imported from) of every update rule the runs use that is defined outside
    synthetic.rules (a `--plugin` or a user's own module): a Ray worker imports them before training, so that their
    registrations exist there too. ConfigError for a rule defined in __main__ (no worker can import it)."""
    import importlib

    from synthetic.rules import get_rule, role_rules

    found: dict[str, str] = {}
    for name in sorted({r for bucket in buckets for run in bucket for r in role_rules(run.optim.name).values()}):
        module = type(get_rule(name)).__module__
        if module.startswith("synthetic.rules"):
            continue
        if module == "__main__":
            raise ConfigError(f"rule {name!r} is defined in __main__: put it in a module (and name it with --plugin) "
                              "so that Ray workers can import it")
        path = getattr(importlib.import_module(module), "__file__", None) or ""
        root = os.path.dirname(os.path.abspath(path))
        for _ in range(module.count(".") + (os.path.basename(path) == "__init__.py")):
            root = os.path.dirname(root)
        found[module] = root
    return tuple(sorted(found.items()))


def _train_task(bucket: Sequence[RunConfig], device: str, threads: int,
                plugins: Sequence[tuple[str, str]] = ()) -> list[RunResult]:
    """One bucket on a Ray worker (module-level, so that workers import it by name); `plugins` (`plugin_imports`) are
    imported first, their folders put on the worker's path where they exist there."""
    import importlib
    import sys

    import torch

    from synthetic import engine

    for module, root in plugins:
        if root and os.path.isdir(root) and root not in sys.path:
            sys.path.insert(0, root)
        importlib.import_module(module)
    torch.set_num_threads(max(1, threads))
    return engine.train_bucket(bucket, device)


def start_ray(options: RayOptions):
    """Ray, connected: to `options.address`, or to a local instance on this machine's cores started here."""
    ray = import_ray()
    if not ray.is_initialized():
        if options.address is None:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=options.address, log_to_driver=False)
    return ray


def ray_bucket_size(n_missing: int, options: RayOptions) -> int:
    """Runs per task: the missing runs split into at least two tasks per bucket-sized slot of the cluster (at most
    256 runs a task), so that no task holds the whole grid and every worker stays busy."""
    ray = start_ray(options)
    resources = ray.cluster_resources()
    slots = resources.get("CPU", 1.0) / options.cpus_per_bucket
    if options.gpus_per_bucket > 0:
        slots = min(slots, resources.get("GPU", 0.0) / options.gpus_per_bucket)
    tasks = max(1, int(2 * slots))
    return max(1, min(256, math.ceil(n_missing / tasks)))


def on_ray(buckets: Sequence[Sequence[RunConfig]], device: str, options: RayOptions,
           task=_train_task) -> Iterator[BucketOutcome]:
    """Each bucket as one Ray task with its resource request, yielded as tasks finish; `task(bucket, device,
    threads)` trains one bucket on a worker (replaceable for fault-injection tests)."""
    ray = start_ray(options.validate())
    have = ray.cluster_resources()
    for name, want in (("GPU", options.gpus_per_bucket), ("CPU", options.cpus_per_bucket)):
        if want > have.get(name, 0.0):
            raise ConfigError(f"each bucket asks for {want:g} {name}(s) but the Ray cluster has {have.get(name, 0.0):g}")
    on = worker_device(device, options)
    remote = ray.remote(task).options(num_cpus=options.cpus_per_bucket, num_gpus=options.gpus_per_bucket,
                                      max_retries=options.max_retries, retry_exceptions=True)
    threads = max(1, int(options.cpus_per_bucket))
    plugins = plugin_imports(buckets)
    extra = (plugins,) if plugins else ()
    pending = {remote.remote(list(bucket), on, threads, *extra): bucket for bucket in buckets}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            bucket = pending.pop(done[0])
            try:
                results = ray.get(done[0])
            except Exception as exc:  # a task that failed after its retries: reported for its runs, not raised
                yield BucketOutcome(bucket, None, _one_line(exc))
            else:
                yield BucketOutcome(bucket, results)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def add_executor_options(parser) -> None:
    """The executor options of `python -m synthetic grid` and `paper_repro.py --figure` (argparse)."""
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="local: train in this process; ray: each bucket as a Ray task (pip install -e '.[ray]')")
    parser.add_argument("--address", default=None,
                        help="Ray cluster address, e.g. auto or ray://host:10001 (default: start a local instance)")
    parser.add_argument("--gpus-per-bucket", type=float, default=0.0, help="GPUs each Ray task asks for")
    parser.add_argument("--cpus-per-bucket", type=float, default=1.0,
                        help="CPUs each Ray task asks for (also its torch threads)")
    parser.add_argument("--retries", type=int, default=2, help="times a failed Ray task is retried")
    parser.add_argument("--max-bucket", type=int, default=None,
                        help="most runs trained as one stacked model, to cap its memory (default: 256 here; on Ray, "
                             "the missing runs split into two tasks per bucket slot of the cluster); numbers unchanged")


def worker_device(device: str, options: RayOptions) -> str:
    """The device the Ray workers train on, as a name checked on the driver (the driver may have no GPU)."""
    name = str(device).strip().lower()
    if name == "auto":
        return "cuda" if options.gpus_per_bucket > 0 else "cpu"
    if name == "cpu" or name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if name.startswith("cuda") and options.gpus_per_bucket <= 0:
            raise ConfigError(f"--device {name} on Ray needs --gpus-per-bucket > 0")
        return name
    raise ConfigError(f"unknown device {name!r}; expected auto, cpu, cuda or cuda:N")


def ray_device_name(device: str, options: RayOptions) -> str:
    """How the provenance names the device of a Ray grid."""
    return f"ray ({worker_device(device, options)} workers, {options.cpus_per_bucket:g} CPU per bucket)"


RAY_ONLY = (("--address", "address", None), ("--gpus-per-bucket", "gpus_per_bucket", 0.0),
            ("--cpus-per-bucket", "cpus_per_bucket", 1.0), ("--retries", "retries", 2))
"""The options (flag, attribute, default) that only the Ray executor reads: refused with the local one."""


def ray_options(args) -> RayOptions | None:
    """RayOptions from parsed executor options (None for the local executor)."""
    if args.executor != "ray":
        given = [flag for flag, attr, default in RAY_ONLY if getattr(args, attr, default) != default]
        if given:
            raise ConfigError(f"{', '.join(given)} only apply to --executor ray")
        return None
    import_ray()
    return RayOptions(address=args.address, gpus_per_bucket=args.gpus_per_bucket,
                      cpus_per_bucket=args.cpus_per_bucket, max_retries=args.retries).validate()


def _one_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}".strip()
