"""The CLI end to end: files written, JSON contents, and one-line errors without tracebacks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from theory.cli import main, run_table
from theory.tables import TABLE_IDS

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "theory", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_table_6_subprocess_writes_all_formats(tmp_path: Path) -> None:
    proc = _run("--table", "6", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "η_base/r_n (SP: η_base)" in proc.stdout and "wrote" in proc.stdout
    for suffix in ("md", "tex", "csv", "json"):
        assert (tmp_path / f"table_6.{suffix}").stat().st_size > 0
    data = json.loads((tmp_path / "table_6.json").read_text(encoding="utf-8"))
    assert data["optimizers"] == ["adamw", "lion", "sophia"] and data["parameterization"] == "mup_k2"
    assert data["entries"]["lr"]["hidden"] == {"mup": {"r_n": "-1", "r_L": "0"}, "sp": {"r_n": "0", "r_L": "0"}, "fixed": "1"}
    assert data["entries"]["eps"]["hidden_bias"]["mup"] == {"r_n": "-1", "r_L": "-1"}
    assert "\\frac" in (tmp_path / "table_6.tex").read_text(encoding="utf-8")


def test_every_table_id_runs_in_process(tmp_path: Path, capsys) -> None:
    for tid in TABLE_IDS:
        assert run_table(tid, tmp_path) == 0, tid
    out = capsys.readouterr().out
    assert "CompleteP-style" in out and "Fan et al." in out
    assert json.loads((tmp_path / "table_residual.json").read_text(encoding="utf-8"))["rows"][1]["alpha_l"]["how"] == "forced"
    assert main(["--list"]) == 0


def test_bad_input_one_line_no_traceback(tmp_path: Path) -> None:
    for args in (("--table", "99"), ("--bogus",), (), ("--table", "6", "--out", "/proc/nope")):
        proc = _run(*args, *(() if "--out" in args else ("--out", str(tmp_path))))
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    proc = subprocess.run([sys.executable, "-c",
                           "from theory.bridge import layer_hparams, BaseHP\n"
                           "layer_hparams('nope', 'mup_k2', width=8, depth=2, k=2, d_in=1, d_out=1, base=BaseHP())"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "unknown optimizer 'nope'" in proc.stderr.strip().splitlines()[-1]


def test_table_all_writes_every_table(tmp_path: Path) -> None:
    proc = _run("--table", "all", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for tid in TABLE_IDS:
        assert (tmp_path / f"table_{tid}.json").stat().st_size > 0, tid
    assert proc.stdout.count("wrote ") == len(TABLE_IDS)


def test_help_states_each_default_once_and_never_none(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "(default: None)" not in text and "(default: results/tables)" in text
    for entry in re.split(r"\n(?=  -)", text.split("options:", 1)[1]):
        assert entry.lower().count("default") <= 1, entry


# --- python -m theory hparams: the bridge at the command line ----------------------------------------------------

HPARAMS = ("hparams", "--optimizer", "adamw", "--parameterization", "mup_k2", "--width", "2048", "--depth", "32",
           "--base-width", "256", "--base-depth", "4", "--lr", "3e-3", "--wd", "0.1", "--multiplier", "1.5",
           "--init-var", "0.02", "--eps", "1e-8", "--d-in", "32")


def _hparams_json(capsys, *args: str) -> dict:
    assert main([*args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_hparams_numbers_equal_the_bridge_and_the_papers_table_6(capsys) -> None:
    from theory.bridge import BaseHP, layer_hparams

    report = _hparams_json(capsys, *HPARAMS)
    base = BaseHP(alpha=1.5, sigma2=0.02, eta=3e-3, lam=0.1, eps=1e-8, n_base=256, L_base=4)
    bridge = layer_hparams("adamw", "mup_k2", width=2048, depth=32, k=2, d_in=32, d_out=1, base=base)
    assert set(report["roles"]) == set(bridge) == {"input", "hidden", "output", "input_bias", "hidden_bias",
                                                   "block_norm", "final_norm", "output_bias"}
    for role, hp in bridge.items():
        for name in ("multiplier", "init_var", "lr", "wd", "eps"):
            assert report["roles"][role][name]["value"] == getattr(hp, name), (role, name)
    # Independent check, by hand from the paper's Table 6 (AdamW, k = 2; digest in shared/papers):
    r_n, r_L = 2048 / 256, 32 / 4
    eta, lam, alpha, s2, eps = 3e-3, 0.1, 1.5, 0.02, 1e-8
    expected = {
        "input": (alpha, s2 / 32, eta, lam, eps / r_n),
        "hidden": (alpha / r_L, s2 / r_n, eta / r_n, lam * r_n, eps / (r_L * r_n)),
        "output": (alpha / r_n, s2, eta, lam, eps / r_n),
        "input_bias": (alpha, s2, eta, lam, eps / r_n),
        "hidden_bias": (alpha / r_L, s2, eta, lam, eps / (r_L * r_n)),
    }
    for role, values in expected.items():
        got = tuple(report["roles"][role][n]["value"] for n in ("multiplier", "init_var", "lr", "wd", "eps"))
        assert got == pytest.approx(values, rel=1e-12), role
    hidden_lr = report["roles"]["hidden"]["lr"]
    assert hidden_lr["rule"] == "η_base · r_n^-1 · r_L^0" and hidden_lr["exponents"] == {"r_n": "-1", "r_L": "0"}
    assert (hidden_lr["table"], hidden_lr["column"]) == ("6", "Hidden weights")
    assert report["roles"]["input"]["init_var"]["rule"] == "σ²_base · r_n^0 · r_L^0 · d_in^-1"
    assert report["r_n"] == r_n and report["r_L"] == r_L and report["base"]["eta"] == eta


def test_hparams_markdown_prints_the_bridge_values_with_their_entries(capsys) -> None:
    assert main(list(HPARAMS)) == 0
    out = capsys.readouterr().out
    assert "| hidden | learning rate | 0.000375 | η_base · r_n^-1 · r_L^0 | η_base/r_n | Table 6, hidden weights |" in out
    assert "| hidden | weight decay | 0.8 | λ_base · r_n^1 · r_L^0 | λ_base·r_n | Table 6, hidden weights |" in out
    from theory.bridge import BaseHP, layer_hparams
    from theory.hparams import HP_NAMES

    bridge = layer_hparams("adamw", "mup_k2", width=2048, depth=32, k=2, d_in=32, d_out=1,
                           base=BaseHP(alpha=1.5, sigma2=0.02, eta=3e-3, lam=0.1, eps=1e-8, n_base=256, L_base=4))
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| role")]
    assert len(rows) == 8 * 5
    by_name = {v: k for k, v in HP_NAMES.items()}
    for role, hp, value, *_ in rows:
        expected = getattr(bridge[role], by_name[hp])
        assert (value == "—" and expected is None) or float(value) == expected, (role, hp)


def test_hparams_json_round_trips_and_other_families(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sub" / "hp.json"
    assert main([*HPARAMS, "--format", "json", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(printed)
    assert json.loads(json.dumps(data)) == data and json.loads(out.read_text(encoding="utf-8")) == data
    muon = _hparams_json(capsys, "hparams", "--optimizer", "muon", "--parameterization", "mup_k1", "--width", "1024",
                         "--depth", "16")
    assert muon["k"] == 1 and set(muon["roles"]) == {"input", "hidden", "output"}
    assert muon["roles"]["hidden"]["lr"]["table"] == "10" and muon["roles"]["hidden"]["eps"]["value"] is None
    sp_ = _hparams_json(capsys, "hparams", "--parameterization", "sp", "--width", "1024", "--depth", "16", "--lr", "0.01")
    assert all(sp_["roles"][r]["lr"]["value"] == 0.01 for r in sp_["roles"])
    k4 = _hparams_json(capsys, "hparams", "--k", "4", "--width", "512", "--depth", "8")
    assert k4["k"] == 4 and k4["roles"]["hidden"]["lr"]["table"] == "6"
    width_only = _hparams_json(capsys, "hparams", "--parameterization", "mup_width", "--width", "512", "--depth", "8")
    assert width_only["roles"]["hidden"]["lr"]["table"] is None


@pytest.mark.parametrize("args", [
    ("--optimizer", "nope"), ("--parameterization", "mup_k3"), ("--width", "0"), ("--width", "-8"),
    ("--lr", "-1e-3"), ("--width", "2.5"), ("--out", "/proc/nope/hp.md"), ("--base-depth", "0"), ("--eps", "nan"),
])
def test_hparams_bad_input_one_line_exit_2(args: tuple[str, ...]) -> None:
    base = {"--width": "64", "--depth": "4"}
    flat = [x for k, v in base.items() if k not in args for x in (k, v)]
    proc = _run("hparams", *flat, *args)
    assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_an_unwritable_out_is_refused_before_the_table_is_printed(tmp_path: Path, capsys) -> None:
    """Issue 21: the whole table was printed, then the error; a file given as --out said "File exists"."""
    from theory.cli import main

    afile = tmp_path / "afile"
    afile.write_text("")
    for out, message in (("/proc/x", "cannot write /proc/x"), (str(afile), "it is a file, not a folder")):
        assert main(["--table", "6", "--out", out]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err


def test_a_negative_number_with_an_exponent_reaches_the_values_own_check():
    """argparse took "-1e-8" for an option ("expected one argument"); now the value's own check answers."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "theory", "hparams", "--optimizer", "adamw", "--parameterization",
                           "mup_k2", "--width", "64", "--depth", "4", "--eps", "-1e-8"], capture_output=True, text=True)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "eps" in lines[0] and "expected one argument" not in lines[0]


def test_decoupled_wd_is_lr_times_wd_per_role_and_json_carries_it(capsys):
    import json

    from theory.cli import main

    assert main(["hparams", "--optimizer", "adamw", "--parameterization", "mup_k2", "--width", "1024", "--depth", "16",
                 "--base-width", "256", "--base-depth", "4", "--lr", "1e-3", "--wd", "0.1", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for role, cells in report["roles"].items():
        assert cells["decoupled_wd"]["value"] == cells["lr"]["value"] * cells["wd"]["value"], role
    assert report["warning"] is None
    assert main(["hparams", "--optimizer", "adamw", "--parameterization", "mup_k2", "--width", "1024", "--depth", "16",
                 "--lr", "1e-3", "--wd", "0.1", "--decoupled-wd"]) == 0
    assert capsys.readouterr().out.count("decay per step") == len(report["roles"])
