"""A dependency-free progress display on stderr: runs and training steps done, rate, ETA and elapsed time.

It appears only when the work has lasted longer than `delay` seconds. On a terminal (or with `force=True`) one line is
redrawn every second; on any other stream (a log file, a pipe) a full line is written every `log_every` seconds, so a
long job is never silent in a log. Steps are run-steps (one step of one run): a bucket of 32 runs trained for 100 steps
is 3200; the engine reports them as it trains (`synthetic.engine.train_bucket`'s `on_step`), so the display moves
within a bucket too. Runs read from the cache count as done and not in the rate.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import TextIO


def clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Context manager. `total`: runs; `total_steps`: run-steps to train (the runs not cached). Call `add_steps(n)`
    as steps finish and `advance(runs, steps=0)` as runs finish (with their steps where nothing reported them)."""

    def __init__(self, total: int, *, total_steps: int = 0, label: str = "runs", enabled: bool = True,
                 force: bool = False, delay: float = 2.0, log_every: float = 10.0, width: int = 24,
                 stream: TextIO | None = None) -> None:
        self.total, self.total_steps, self.label, self.width = int(total), int(total_steps), label, width
        self.delay, self.log_every = delay, log_every
        self.stream = stream if stream is not None else sys.stderr
        self.redraw = force or bool(getattr(self.stream, "isatty", lambda: False)())
        self.active = enabled and self.total > 0
        self.done = self.steps = self.cached = 0
        self.start = time.monotonic()
        self.shown = False
        self._last_log = -math.inf   # the first line is due at once, however recently the machine booted
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Progress":
        self.start = time.monotonic()
        if self.active:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self.shown:
                self._draw(final=True)

    def from_cache(self, runs: int) -> None:
        with self._lock:
            self.done += runs
            self.cached += runs

    def advance(self, runs: int = 1, steps: int = 0) -> None:
        with self._lock:
            self.done += runs
            self.steps += steps
            self._maybe_draw()

    def add_steps(self, n: int) -> None:
        with self._lock:
            self.steps += n

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        frac = self.steps / self.total_steps if self.total_steps else self.done / self.total
        fill = int(round(min(frac, 1.0) * self.width))
        text = f"[{'#' * fill}{'.' * (self.width - fill)}] {self.done}/{self.total} {self.label}"
        if self.cached:
            text += f" ({self.cached} cached)"
        if self.total_steps:
            text += f", {self.steps}/{self.total_steps} steps"
            rate = self.steps / elapsed if elapsed > 0 else 0.0
            if rate > 0:
                text += f", {rate:,.0f} steps/s, ETA {clock((self.total_steps - self.steps) / rate)}"
        return text + f", {clock(elapsed)} elapsed"

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                self._maybe_draw()

    def _maybe_draw(self) -> None:
        now = time.monotonic()
        if not self.active or now - self.start < self.delay:
            return
        if self.redraw or now - self._last_log >= self.log_every:
            self._draw()

    def _draw(self, final: bool = False) -> None:
        self.shown = True
        self._last_log = time.monotonic()
        if self.redraw:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
