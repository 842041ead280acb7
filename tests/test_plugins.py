"""`--plugin MODULE`: a user's optimizer (theory registration, engine rule, engine optimizer) from their own module,
used by both CLIs; editing the rule changes its runs' ids, so the cache never serves the old numbers."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = '''
import torch
from theory.optimizers import register_optimizer
from synthetic.rules import Rule, register_engine_optimizer, register_rule


class Signum(Rule):
    name = "signum_plugin"
    theory = "signum_plugin"

    def init_state(self, p, cfg):
        return {{"m": torch.zeros_like(p, memory_format=torch.contiguous_format)}}

    def step(self, opt, name, p, g, decay, dead, lr):
        m = opt.state[name]["m"]
        m.lerp_(g, 1 - opt.cfg.betas[0])
        u = torch.sign(m) * {scale}
        if dead is not None:
            u.masked_fill_(dead.view(-1, *([1] * (u.ndim - 1))), 0)
        if decay is not None:
            p.mul_(decay.view(-1, *([1] * (p.ndim - 1))))
        p.sub_(u * lr)


register_optimizer("signum_plugin", update_norm=lambda ctx: ctx.n_in, biases=True, epsilon=None, display="Signum")
register_rule(Signum())
register_engine_optimizer("signum_plugin", "signum_plugin")
'''


def _run(args, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def _losses(path):
    rows = [r for r in csv.DictReader(line for line in open(path) if not line.startswith("#"))]
    return [(r["run_id"], float(r["value"])) for r in rows if r["quantity"] == "loss"]


def test_a_plugin_rule_trains_from_the_cli_and_an_edit_changes_its_run_ids(tmp_path):
    (tmp_path / "myrules.py").write_text(PLUGIN.format(scale="1.0"))
    grid = ["synthetic", "grid", "--plugin", "myrules", "--optimizer", "signum_plugin", "--widths", "8",
            "--depths", "2", "--lrs", "1e-2", "--seeds", "0", "--steps", "5", "--batch", "4", "--cache",
            str(tmp_path / "cache"), "--progress", "never", "--out"]
    done = _run([*grid, "a.csv"], tmp_path)
    assert done.returncode == 0, done.stderr
    first = _losses(tmp_path / "a.csv")
    assert _run([*grid, "b.csv"], tmp_path).returncode == 0
    assert _losses(tmp_path / "b.csv") == first                       # unchanged rule: the cache serves it
    (tmp_path / "myrules.py").write_text(PLUGIN.format(scale="2.0"))  # the user edits their rule
    assert _run([*grid, "c.csv"], tmp_path).returncode == 0
    edited = _losses(tmp_path / "c.csv")
    assert edited[0][0] != first[0][0]                                 # another run id
    assert edited[-1][1] != first[-1][1]                               # retrained: other numbers

    hp = _run(["theory", "hparams", "--plugin", "myrules", "--optimizer", "signum_plugin", "--parameterization",
               "mup_k2", "--width", "64", "--depth", "4"], tmp_path)
    assert hp.returncode == 0 and "hidden" in hp.stdout, hp.stderr


def test_a_plugin_that_does_not_import_is_one_line(tmp_path):
    for args in (["synthetic", "grid", "--plugin", "no_such_module_here"], ["theory", "--plugin", "no_such_module_here",
                                                                              "--list"]):
        done = _run(args, tmp_path)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and "no_such_module_here" in lines[0], done.stderr


def test_a_plugin_rule_trains_on_ray_workers_too(tmp_path):
    """The workers import the rule's module (synthetic.executors.plugin_imports) before training; the numbers are the
    in-process ones (one torch thread on both sides)."""
    import pytest

    pytest.importorskip("ray")
    (tmp_path / "myrules.py").write_text(PLUGIN.format(scale="1.0"))
    grid = ["synthetic", "grid", "--plugin", "myrules", "--optimizer", "signum_plugin", "--widths", "8",
            "--depths", "2", "--lrs", "1e-2", "--seeds", "0", "1", "--steps", "5", "--batch", "4", "--progress",
            "never", "--threads", "1"]
    here = _run([*grid, "--cache", str(tmp_path / "c1"), "--out", "here.csv"], tmp_path)
    there = _run([*grid, "--cache", str(tmp_path / "c2"), "--executor", "ray", "--out", "there.csv"], tmp_path)
    assert here.returncode == 0 and there.returncode == 0, there.stderr
    assert _losses(tmp_path / "there.csv") == _losses(tmp_path / "here.csv")


def test_plugin_imports_names_the_module_and_its_folder_and_refuses_main(tmp_path, monkeypatch):
    import importlib

    import pytest

    from synthetic.config import ModelConfig, OptimConfig, RunConfig
    from synthetic.errors import ConfigError
    from synthetic.executors import plugin_imports
    from synthetic.rules import get_rule, unregister_engine_optimizer, unregister_rule
    from theory.optimizers import unregister_optimizer

    (tmp_path / "myrules.py").write_text(PLUGIN.format(scale="1.0"))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("myrules")
    try:
        run = RunConfig(model=ModelConfig(width=8, depth=2), optim=OptimConfig(name="signum_plugin"), steps=2)
        assert plugin_imports([[run]]) == (("myrules", str(tmp_path)),)
        assert plugin_imports([[RunConfig(model=ModelConfig(width=8, depth=2), steps=2)]]) == ()
        monkeypatch.setattr(type(get_rule("signum_plugin")), "__module__", "__main__")
        with pytest.raises(ConfigError, match="defined in __main__"):
            plugin_imports([[run]])
    finally:
        unregister_engine_optimizer("signum_plugin")
        unregister_rule("signum_plugin")
        unregister_optimizer("signum_plugin")
        monkeypatch.delitem(__import__("sys").modules, "myrules")
