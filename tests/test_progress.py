"""synthetic.progress: what the display says, on a terminal and in a log, and that the engine reports its steps."""

from __future__ import annotations

import io
import time

import pytest

import synthetic.progress as progress
from synthetic.config import ModelConfig, RunConfig
from synthetic.grid import run_grid
from synthetic.progress import Progress, clock


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_counts_runs_steps_rate_and_eta():
    bar = Progress(10, total_steps=1000, stream=io.StringIO())
    bar.from_cache(2)
    bar.start -= 10.0                       # 10 s elapsed
    bar.add_steps(250)
    bar.advance(3)
    line = bar.line()
    assert "5/10 runs (2 cached)" in line and "250/1000 steps" in line
    assert "25 steps/s" in line and f"ETA {clock(30)}" in line and "00:10 elapsed" in line
    assert line.startswith("[######" + "." * 18 + "]")      # a quarter of 24


@pytest.fixture(params=["this machine's clock", "a machine booted a minute ago"])
def clock_since_boot(request, monkeypatch):
    """time.monotonic counts from an unspecified point, on Linux the boot: a machine up for less than `log_every`
    must log its first line too."""
    if request.param != "this machine's clock":
        booted = time.perf_counter() - 60.0
        monkeypatch.setattr(progress.time, "monotonic", lambda: time.perf_counter() - booted)


def test_a_log_gets_a_line_every_log_every_seconds_and_a_terminal_one_redrawn_line(clock_since_boot):
    log = io.StringIO()
    with Progress(4, total_steps=40, stream=log, delay=0.0, log_every=3600.0) as bar:
        bar.add_steps(10)
        bar.advance(1)                      # first line at once (delay 0), the next not before an hour
        bar.add_steps(10)
        bar.advance(1)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in log.getvalue()            # one while working, one at the end
    assert "1/4 runs" in lines[0] and "2/4 runs, 20/40 steps" in lines[1]
    tty = Terminal()
    with Progress(4, total_steps=40, stream=tty, delay=0.0) as bar:
        bar.advance(1, 10)
        bar.advance(1, 10)
    assert tty.getvalue().count("\r") >= 3 and tty.getvalue().endswith("\n")
    quiet = io.StringIO()
    with Progress(4, stream=quiet, delay=3600.0) as bar:   # short work shows nothing
        bar.advance(4)
    assert quiet.getvalue() == ""


def test_run_grid_reports_every_training_step_of_every_run(tmp_path, monkeypatch):
    seen = []
    import synthetic.grid as grid

    class Recording(Progress):
        def __exit__(self, *exc):
            seen.append((self.done, self.steps, self.total_steps))
            super().__exit__(*exc)

    monkeypatch.setattr(grid, "Progress", Recording)
    runs = [RunConfig(model=ModelConfig(width=8, depth=d, d_in=4, d_out=2), steps=5, batch_size=4, seed=s)
            for d in (1, 2) for s in (0, 1)]
    run_grid(runs, cache_dir=tmp_path, device="cpu", progress=False)
    run_grid(runs, cache_dir=tmp_path, device="cpu", progress=False)   # all cached: no steps to train
    assert seen == [(4, 20, 20), (4, 0, 0)]
