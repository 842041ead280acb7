"""benchmarks.compiled_step: the compiled step trains the same losses as the eager engine step (to float32
round-off), on a tiny ragged bucket; bad input is one line and exit 2. No timing is asserted."""

from __future__ import annotations

import re

from benchmarks.compiled_step import bucket_runs, main


def test_bucket_is_deepest_first_with_runs_per_depth():
    runs = bucket_runs("G2", 8, [1, 3], 2, 4, 5)
    assert [r.model.depth for r in runs] == [3, 3, 1, 1]
    assert {r.model.width for r in runs} == {8} and {r.batch_size for r in runs} == {4}


def test_compiled_losses_equal_eager_to_round_off(capsys):
    assert main(["--width", "8", "--depth", "2", "1", "--batch", "4", "--steps", "3", "--repeats", "1",
                 "--threads", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "ms/step" in line]
    assert [r.split(":")[0].strip() for r in rows] == ["eager", "eager + fused update", "compiled step"]
    diffs = [float(re.search(r"difference ([0-9.e+-]+)", r).group(1)) for r in rows]
    assert diffs[0] == 0.0 and max(diffs) < 1e-5


def test_bad_input_is_one_line_exit_2(capsys):
    assert main(["--steps", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
