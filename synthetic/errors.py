"""Exceptions of synthetic/: each carries a single-line message meant for the user, never a traceback."""

from __future__ import annotations


class SyntheticError(ValueError):
    """Base class; the message is collapsed to one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ConfigError(SyntheticError):
    """A run configuration that cannot be trained (bad size, unknown name, inconsistent settings)."""


class DataError(SyntheticError):
    """Data settings that cannot be served (unknown kind, missing files, inconsistent sizes)."""


class CacheError(SyntheticError):
    """A cache entry that is missing, unreadable or corrupted."""


class RunsFailedError(SyntheticError):
    """Runs (or a regeneration step) that failed: a bucket on a distributed executor after its retries, a step of
    `paper_repro.py --readme`; every other run was stored. Picklable, so a worker process can raise it."""

    def __init__(self, message: str, run_ids: list[str] | None = None) -> None:
        super().__init__(message)
        self.run_ids = list(run_ids or [])

    def __reduce__(self):
        return type(self), (self.args[0], self.run_ids)
