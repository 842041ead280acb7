"""benchmarks.fan_one_pass: bad input is one line and exit 2, before any training."""

import pytest

from benchmarks import fan_one_pass


def test_bad_threads_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        fan_one_pass.main(["--threads", "0"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "python -m benchmarks.fan_one_pass: error: --threads must be at least 1"
