"""The figure registry: catalogue order, one spec per ID, clear errors for bad requests (no training here)."""

import pytest

from figures import registry
from figures.registry import COORD_IDS, ZHENG_IDS, FigureError, UnknownFigureError, get_spec, run_figure


def test_catalogue_order_and_specs():
    ids = registry.FIGURE_IDS
    assert ids[: len(ZHENG_IDS)] == ("3", "4", "5", "6", "1", "2", "depth-k", "v2-shampoo", "v2-sophia", "e1", "e2")
    assert ids[-len(COORD_IDS):] == ("coord-sgd", "coord-adamw", "coord-muon", "coord-muon_kimi", "coord-lion",
                                     "coord-muon_kimi_adamw", "coord-shampoo", "coord-shampoo_adamw", "coord-soap", "coord-sso", "coord-sophia")
    wd = [i for i in ids if i.startswith("wd")]
    assert wd == sorted(wd)
    assert len(set(ids)) == len(ids)
    for fig_id in ids:
        spec = get_spec(fig_id)
        assert spec.fig_id == fig_id and spec.description and "\n" not in spec.description


def test_unknown_figure_is_one_clear_error():
    with pytest.raises(UnknownFigureError) as exc:
        run_figure("7")
    msg = str(exc.value)
    assert "unknown figure '7'" in msg and "\n" not in msg and "coord-sgd" in msg
    assert isinstance(exc.value, FigureError)


@pytest.mark.parametrize("kwargs, text", [({"scale": "huge"}, "unknown scale"),
                                          ({"data": "mnist"}, "unknown data"),
                                          ({"data": "cifar10"}, "needs --data-dir")])
def test_bad_options_are_figure_errors(kwargs, text, tmp_path):
    with pytest.raises(FigureError, match=text):
        run_figure("3", out_dir=tmp_path, **kwargs)


@pytest.mark.parametrize("fig_id", ZHENG_IDS + COORD_IDS)
def test_every_run_takes_its_hparams_from_theory(fig_id):
    """Builders only choose base HPs and parameterizations: each run's multipliers differ from its SP twin by exactly
    the paper's ratios (Tables 1-13: hidden 1/r_L for k >= 2, 1/sqrt(r_L) for k = 1, 1 width-only; output 1/r_n)."""
    import dataclasses
    import math

    from figures.registry import FigureContext
    from synthetic.optim import run_hparams

    hidden_ratio = {"sp": lambda r_l: 1.0, "mup_width": lambda r_l: 1.0, "mup_k1": lambda r_l: 1 / math.sqrt(r_l),
                    "mup_k2": lambda r_l: 1 / r_l}
    for scale in ("smoke", "default", "paper"):
        runs = get_spec(fig_id).build(FigureContext(fig_id, scale=scale))
        assert runs, (fig_id, scale)
        for run in runs[:: max(1, len(runs) // 7)]:
            run.validate()
            hp = run_hparams(run)
            sp_hp = run_hparams(dataclasses.replace(run, parameterization="sp"))
            r_n = run.model.width / run.base.n_base
            r_l = run.model.depth / run.base.L_base
            mup = run.parameterization != "sp"
            assert hp["hidden"].multiplier == pytest.approx(sp_hp["hidden"].multiplier
                                                            * hidden_ratio[run.parameterization](r_l), rel=1e-12)
            assert hp["output"].multiplier == pytest.approx(sp_hp["output"].multiplier / (r_n if mup else 1.0),
                                                            rel=1e-12)
            assert hp["input"].multiplier == sp_hp["input"].multiplier == run.base.alpha

def test_run_figure_trains_what_extend_asks_for_until_it_asks_nothing(tmp_path, monkeypatch):
    """The extension loop: `extend` is asked after every round; its runs are trained and handed to `plot` with the
    built ones, and `used` names the cache entries of all of them."""
    from dataclasses import replace

    import matplotlib.pyplot as plt

    from figures.registry import FigureOutput, FigureSpec
    from synthetic.config import ModelConfig, RunConfig

    base = RunConfig(model=ModelConfig(width=4, depth=1, d_in=3, d_out=1), steps=2, batch_size=2, dtype="float64")
    asked, seen = [], {}

    def extend(ctx, results):
        asked.append(len(results))
        return [replace(base, seed=len(results))] if len(results) < 3 else []

    def plot(ctx, results):
        seen["seeds"] = sorted(r.config.seed for r in results)
        return FigureOutput(plt.figure(), [], {})

    spec = FigureSpec("t", "test", lambda ctx: [base], plot, extend)
    monkeypatch.setattr(registry, "get_spec", lambda fig_id: spec)
    used: set[str] = set()
    run_figure("t", scale="smoke", out_dir=tmp_path / "figs", progress=False, used=used)
    assert asked == [1, 2, 3] and seen["seeds"] == [0, 1, 2] and len(used) == 3


def test_a_module_spec_missing_from_the_id_lists_is_a_loud_error(monkeypatch):
    """The catalogue is the explicit module list and ID order: an unlisted spec or a listed ID without a spec fails."""
    from figures import zheng_claims
    from figures.spec import FigureSpec

    monkeypatch.setitem(zheng_claims.SPECS, "extra", FigureSpec("extra", "x", lambda ctx: [], lambda ctx, r: None))
    with pytest.raises(TypeError, match="not in the ID lists \\['extra'\\]"):
        registry.all_specs()


def test_the_shared_figure_types_import_no_figure_module():
    import ast
    import pathlib

    import figures.catalogue
    import figures.spec

    for mod in (figures.spec, figures.catalogue):
        tree = ast.parse(pathlib.Path(mod.__file__).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert imported <= {"__future__", "collections.abc", "dataclasses", "pathlib", "typing", "figures.scales"}, imported


def test_the_extension_loop_stops_after_max_rounds(tmp_path, monkeypatch):
    from dataclasses import replace

    import matplotlib.pyplot as plt

    from figures.registry import FigureOutput, FigureSpec
    from figures.sweep_extension import MAX_ROUNDS
    from synthetic.config import ModelConfig, RunConfig

    base = RunConfig(model=ModelConfig(width=4, depth=1, d_in=3, d_out=1), steps=1, batch_size=2, dtype="float64")
    seen = {}

    def plot(ctx, results):
        seen["n"] = len(results)
        return FigureOutput(plt.figure(), [], {})

    spec = FigureSpec("t", "test", lambda ctx: [base], plot, lambda ctx, results: [replace(base, seed=len(results))])
    monkeypatch.setattr(registry, "get_spec", lambda fig_id: spec)
    run_figure("t", scale="smoke", out_dir=tmp_path / "figs", progress=False)
    assert seen["n"] == 1 + MAX_ROUNDS


def test_saved_figures_are_byte_reproducible(tmp_path):
    """Issue 21: the PDF carried its /CreationDate, so identical runs wrote different files."""
    import matplotlib.pyplot as plt

    from figures.plotting import save_outputs

    written = []
    for sub in ("a", "b"):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        written.append(save_outputs(fig, tmp_path / sub, "t", [{"x": 1}], {"v": 1.0}))
    for p, q in zip(*written):
        assert p.read_bytes() == q.read_bytes(), p.name
