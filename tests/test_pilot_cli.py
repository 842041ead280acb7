"""figures.pilot_cli: the pilots' shared options, checked before training, and torch's threads set."""

import pytest
import torch

from figures.pilot_cli import parse_pilot, pilot_parser


def test_threads_are_set_and_defaults_kept():
    saved = torch.get_num_threads()
    try:
        a = parse_pilot(pilot_parser("prog", "Doc line.\nmore"), ["--threads", "1"])
        assert torch.get_num_threads() == 1
        assert (a.scale, a.cache, a.threads) == ("default", "results/cache", 1)
    finally:
        torch.set_num_threads(saved)


@pytest.mark.parametrize("argv, message", [(["--threads", "0"], "--threads must be at least 1"),
                                           (["--cache", __file__], "is a file, not a folder"),
                                           (["--scale", "huge"], "invalid choice")])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        parse_pilot(pilot_parser("prog", "Doc."), argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("prog: error:") and message in err
