"""benchmarks.bit_identity: its fingerprint is exact (floats as float.hex), repeatable, and moves with a number."""

from __future__ import annotations

from dataclasses import replace

from benchmarks.bit_identity import buckets, fingerprint, main


def test_fingerprint_is_exact_and_repeatable():
    bucket = buckets("elementwise")[0]
    a, b = fingerprint([bucket]), fingerprint([bucket])
    assert a == b and len(a) == len(bucket)
    assert any(v[0] is not None for v in a.values()) and any(v[0] is None for v in a.values())  # η = 10 diverges
    loss = next(val for k, val in a["0.0"][1:] if k == "value")
    assert isinstance(loss, str) and float.fromhex(loss) == float.fromhex(loss)
    moved = fingerprint([[replace(bucket[0], base=replace(bucket[0].base, eta=bucket[0].base.eta * (1 + 2 ** -20)))]
                         + bucket[1:]])
    assert moved["0.0"] != a["0.0"] and all(moved[k] == a[k] for k in a if k != "0.0")


def test_unwritable_output_is_one_line_exit_2(tmp_path, capsys):
    assert main(["--json", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
