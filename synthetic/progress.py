"""A dependency-free progress line on stderr: runs done/total and elapsed time.

It appears only when it is worth it: the stream is a terminal (or `force=True`) and the work has lasted longer than
`delay` seconds. A daemon thread redraws it once a second, so elapsed time moves even while one long bucket trains.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Context manager; call `advance(n)` as runs finish."""

    def __init__(self, total: int, *, label: str = "runs", enabled: bool = True, force: bool = False,
                 delay: float = 2.0, width: int = 30, stream: TextIO | None = None) -> None:
        self.total, self.label, self.width, self.delay = int(total), label, width, delay
        self.stream = stream if stream is not None else sys.stderr
        is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.active = enabled and self.total > 0 and (force or is_tty)
        self.done = 0
        self.start = time.monotonic()
        self.shown = False
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
                self._draw()
                self.stream.write("\n")
                self.stream.flush()

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            self._maybe_draw()

    def line(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        fill = int(round(frac * self.width))
        return (f"[{'#' * fill}{'.' * (self.width - fill)}] {self.done}/{self.total} {self.label}  "
                f"{_clock(time.monotonic() - self.start)}")

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                self._maybe_draw()

    def _maybe_draw(self) -> None:
        if self.active and (self.shown or time.monotonic() - self.start >= self.delay):
            self._draw()

    def _draw(self) -> None:
        self.shown = True
        self.stream.write("\r" + self.line())
        self.stream.flush()
