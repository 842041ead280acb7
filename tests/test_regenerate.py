"""figures.regenerate: the README pipeline end to end at smoke scale, into a temporary gallery and README."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from figures import regenerate
from figures.regenerate import BLOCKS, Target, readme_blocks

TINY_GRID = ("python -m synthetic grid --widths 8 16 --depths 2 --lrs 1e-2 --seeds 0 1 --steps 3 --batch 4 --threads 1 "
             "--out records.csv")
TINY_FIT = "python -m synthetic fit --records records.csv --quantity loss --over width"


def _target(tmp_path) -> Target:
    t = Target(gallery=tmp_path / "gallery", readme=tmp_path / "README.md", results_doc=tmp_path / "results.md",
               figures_doc=tmp_path / "figures.md", usage_doc=tmp_path / "usage.md", scale="smoke", fig_ids=("e1",), examples=(("grid", TINY_GRID), ("fit", TINY_FIT)))
    for path, names in regenerate.documents(t).items():
        path.write_text("# t\n" + "".join(f"<!-- generated:{b} -->\nPLACEHOLDER\n<!-- /generated:{b} -->\n"
                                          for b in names))
    return t


def test_the_pipeline_writes_gallery_summaries_examples_and_renders_every_block(tmp_path):
    t = _target(tmp_path)
    t.gallery.mkdir()
    regenerate.regenerate(tmp_path / "out", device="cpu", target=t, echo=lambda s: None)
    assert (t.gallery / "e1.png").read_bytes()[:4] == b"\x89PNG"
    first = json.loads((t.summaries / "summary_e1.json").read_text())
    rerun = json.loads((t.summaries / "rerun" / "summary_e1.json").read_text())
    assert first["seed_offset"] == 0 and rerun["seed_offset"] == regenerate.RERUN_SEED_OFFSET
    assert min(rerun["provenance"]["seeds"]) == regenerate.RERUN_SEED_OFFSET + min(first["provenance"]["seeds"])
    manifest = json.loads((t.summaries / "manifest.json").read_text())
    n_runs = first["provenance"]["n_runs"] + rerun["provenance"]["n_runs"]
    assert manifest["runs"] == {"trained": n_runs, "from_cache": 0}
    assert manifest["looks"] == {"e1": first["look"], "e1 (rerun)": rerun["look"]}
    text = "".join(path.read_text() for path in regenerate.documents(t))
    blocks = readme_blocks(text)
    assert set(blocks) == set(BLOCKS) and "PLACEHOLDER" not in text
    assert "from an empty cache" in blocks["as-of"]
    assert "4 runs (0 diverged)" in blocks["grid-example"] and "exponent of loss vs width" in blocks["fit-example"]
    rows = [r for r in blocks["results-detail"].splitlines() if r.startswith("| Claim E.1")]
    assert len(rows) == 2 and all(r.count("at the widest") == 1 for r in rows)
    assert all(r.split("|")[5].strip() not in ("", "not rerun") for r in rows)     # the rerun beside the first run
    assert "![e1](gallery/e1.png)" in blocks["gallery"]

    stale = next((tmp_path / "out" / "cache").iterdir()) / ("0" * 64 + ".json")
    stale.write_text("an entry of another engine version")   # present, but not a run of these figures
    regenerate.regenerate(tmp_path / "out", device="cpu", target=t, echo=lambda s: None)
    assert "reading" in readme_blocks(t.readme.read_text())["as-of"]   # a warm cache is said, not hidden
    again = json.loads((t.summaries / "manifest.json").read_text())["runs"]
    assert again == {"trained": 0, "from_cache": n_runs}


def test_render_judges_the_committed_claims_again(tmp_path):
    """`--readme --render` re-judges each summary's claims from its numbers: a claim edited by hand is restored."""
    t = _target(tmp_path)
    t.gallery.mkdir()
    regenerate.regenerate(tmp_path / "out", device="cpu", target=t, echo=lambda s: None)
    path = t.summaries / "summary_e1.json"
    good = json.loads(path.read_text())
    path.write_text(json.dumps({**good, "claims": [{**c, "verdict": "fails"} for c in good["claims"]]}))
    regenerate.regenerate(tmp_path / "out", device="cpu", render_only=True, target=t, echo=lambda s: None)
    assert json.loads(path.read_text())["claims"] == good["claims"]
    # numbers off in the last bits (another CPU's least squares) are not a reason to rewrite the committed file
    nudged = [{**c, "estimate": {k: v * (1 + 1e-13) if isinstance(v, float) else v
                                 for k, v in c["estimate"].items()}} if c.get("estimate") else c
              for c in good["claims"]]
    assert nudged != good["claims"]
    text = json.dumps({**good, "claims": nudged})
    path.write_text(text)
    regenerate.regenerate(tmp_path / "out", device="cpu", render_only=True, target=t, echo=lambda s: None)
    assert path.read_text() == text


def test_same_up_to_roundoff():
    same = regenerate.same_up_to_roundoff
    assert same({"a": [1.0, "x", None, 3]}, {"a": [1.0 + 1e-12, "x", None, 3]})
    assert not same({"a": [1.0]}, {"a": [1.0 + 1e-6]}) and not same({"a": 1.0}, {"b": 1.0})
    assert same(float("nan"), float("nan")) and not same(float("nan"), 1.0)
    assert same(float("inf"), float("inf")) and not same(float("inf"), -float("inf"))
    assert not same(1.0, True) and not same(1.0, "1.0") and same(0.0, 0) and not same("holds", "fails")


def test_only_regenerates_the_selected_steps_and_merges_them_into_the_manifest(tmp_path):
    """`--only e1:rerun` on top of a whole regeneration: the rerun summary is replaced (fresh cache, so every run is
    retrained), the first summary and the examples stay, and the manifest lists the part and merges its wall time."""
    t = _target(tmp_path)
    t.gallery.mkdir()
    regenerate.regenerate(tmp_path / "out", device="cpu", target=t, echo=lambda s: None)
    first = (t.summaries / "summary_e1.json").read_text()
    grid_example = (t.example_outputs / "grid.txt").read_text()
    (t.summaries / "rerun" / "summary_e1.json").write_text("{}")
    part = Target(**{**t.__dict__, "only": regenerate.parse_only(["e1:rerun"])})
    regenerate.regenerate(tmp_path / "out2", device="cpu", target=part, echo=lambda s: None)
    rerun = json.loads((t.summaries / "rerun" / "summary_e1.json").read_text())
    assert rerun["seed_offset"] == regenerate.RERUN_SEED_OFFSET
    assert (t.summaries / "summary_e1.json").read_text() == first
    assert (t.example_outputs / "grid.txt").read_text() == grid_example
    manifest = json.loads((t.summaries / "manifest.json").read_text())
    (p,) = manifest["parts"]
    assert p["steps"] == ["e1 (rerun)"] and p["runs"] == {"trained": rerun["provenance"]["n_runs"], "from_cache": 0}
    assert p["command"] == "python paper_repro.py --readme --only e1:rerun"
    assert set(manifest["wall_seconds"]) >= {"e1", "e1 (rerun)", "grid example"}
    as_of = readme_blocks(t.readme.read_text())["as-of"]
    assert as_of.count("from an empty cache") == 2 and "`python paper_repro.py --readme --only e1:rerun`" in as_of


def test_only_refuses_selectors_that_select_nothing(monkeypatch):
    import pytest

    monkeypatch.setattr(regenerate, "NO_RERUN", frozenset({"wd4"}))
    assert regenerate.parse_only(["coord-*", "wd3:kernel", "examples", "coord-*"]) == ("coord-*", "wd3:kernel",
                                                                                       "examples")
    for bad in ("nope", "wd1:foo", "3:kernel", "wd4:rerun"):
        with pytest.raises(ValueError, match="--only"):
            regenerate.parse_only([bad])
    t = Target(only=("coord-*", "wd3:kernel"))
    assert t.wants("coord-sgd", "rerun") and t.wants("wd3", "kernel") and not t.wants("wd3", "figures")
    assert not t.wants("", "examples") and Target().wants("", "examples")


def test_the_kernel_path_step_runs_the_figure_under_the_second_path_into_its_own_cache(tmp_path, monkeypatch):
    """The kernel-path step (e1 standing in for wd1–wd3): a subprocess under the second path's variables, its own cache, its
    summary collected into summaries/kernel and rendered in the kernel column."""
    from figures.kernel_check import second_path

    t = _target(tmp_path)
    t.gallery.mkdir()
    regenerate.regenerate(tmp_path / "out", device="cpu", target=t, echo=lambda s: None)
    monkeypatch.setattr(regenerate, "KERNEL_CHECK", ("e1",))
    part = Target(**{**t.__dict__, "only": ("e1:kernel",)})
    regenerate.regenerate(tmp_path / "out", device="cpu", target=part, echo=lambda s: None)
    kernel = json.loads((t.summaries / "kernel" / "summary_e1.json").read_text())
    first = json.loads((t.summaries / "summary_e1.json").read_text())
    assert kernel["provenance"]["seeds"] == first["provenance"]["seeds"]
    assert any((tmp_path / "out" / "kernel" / "cache").rglob("*.json"))
    detail = readme_blocks(t.results_doc.read_text())["results-detail"]
    assert regenerate.results_table.KERNEL_COLUMN in detail
    manifest = json.loads((t.summaries / "manifest.json").read_text())
    assert manifest["parts"][-1]["steps"] == [f"e1 ({second_path()} kernel path)"]


def test_steps_in_parallel_workers_give_the_numbers_of_steps_one_after_another(tmp_path, monkeypatch):
    """`jobs=2`: e1, its rerun and its kernel-path check in two spawned one-thread workers write the summaries a
    one-thread regeneration in this process writes, and the manifest names the jobs and threads."""
    import torch

    from figures.kernel_check import second_path

    monkeypatch.setattr(regenerate, "KERNEL_CHECK", ("e1",))
    t = _target(tmp_path)
    t.gallery.mkdir()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")     # what paper_repro.py --threads 1 sets, for the kernel subprocess
    try:
        regenerate.regenerate(tmp_path / "one", device="cpu", target=t, echo=lambda s: None)
    finally:
        torch.set_num_threads(threads)
    one = {p.relative_to(t.summaries): json.loads(p.read_text()) for p in t.summaries.rglob("summary_*.json")}
    side = Target(**{**t.__dict__, "gallery": tmp_path / "gallery2", "jobs": 2, "threads": 1})
    side.gallery.mkdir()
    regenerate.regenerate(tmp_path / "two", device="cpu", target=side, echo=lambda s: None)
    two = {p.relative_to(side.summaries): json.loads(p.read_text()) for p in side.summaries.rglob("summary_*.json")}
    assert len(one) == 3 and one.keys() == two.keys()
    for key in one:
        assert {k: v for k, v in two[key].items() if k != "provenance"} == \
            {k: v for k, v in one[key].items() if k != "provenance"} and two[key]["claims"], key
        assert two[key]["provenance"]["trained_on"] == one[key]["provenance"]["trained_on"], key
        assert all(", 1 threads, " in t for t in two[key]["provenance"]["trained_on"])
    manifest = json.loads((side.summaries / "manifest.json").read_text())
    assert manifest["jobs"] == 2 and manifest["threads"] == 1
    assert manifest["command"] == "python paper_repro.py --readme --jobs 2 --threads 1"
    assert list(manifest["wall_seconds"])[:3] == ["e1", "e1 (rerun)", f"e1 ({second_path()} kernel path)"]
    assert manifest["runs"]["trained"] == one[Path("summary_e1.json")]["provenance"]["n_runs"] * 2
    assert "2 jobs side by side of 1 threads each" in readme_blocks(side.readme.read_text())["as-of"]


def test_budget_line_adds_up_figures_and_their_reruns_only():
    times = {"1": 3000.0, "1 (rerun)": 3000.0, "e1": 100.0, "e1 (rerun)": 100.0, "wd1 (avx2 kernel path)": 500.0,
             "grid example": 70.0}
    line = regenerate.budget_line(times, 0, ["1", "e1"])
    assert "6200 s (1.72 h)" in line and "within the budget of 2 hours" in line and "570 s more" in line
    assert "cache" not in line
    over = regenerate.budget_line({**times, "1": 4000.0}, 12, ["1", "e1"])
    assert "7200 s (2.00 h)" in over and "within" in over                      # the budget itself is within
    over = regenerate.budget_line({**times, "1": 4001.0}, 12, ["1", "e1"])
    assert "over the budget" in over and "12 of the runs came from an earlier cache" in over


def test_budget_line_judges_a_side_by_side_regeneration_by_its_whole_wall_time():
    times = {"1": 5000.0, "1 (rerun)": 5000.0, "wd1 (avx2 kernel path)": 500.0}
    side = regenerate.budget_line(times, 0, ["1"], whole_seconds=7000.0, jobs=2)
    assert "over the budget" in side                                         # the steps added up: 10000 s
    assert "`--jobs 2`" in side and "7000 s (1.94 h)" in side and "fit the budget side by side" in side
    late = regenerate.budget_line(times, 0, ["1"], whole_seconds=7201.0, jobs=2)
    assert "does not show" in late and "fit the budget" not in late
    cached = regenerate.budget_line(times, 3, ["1"], whole_seconds=7000.0, jobs=2)
    assert "does not show" in cached                                         # runs read from a cache cost nothing
    assert regenerate.budget_line(times, 0, ["1"], whole_seconds=7000.0, jobs=1) == regenerate.budget_line(
        times, 0, ["1"])


def test_a_part_that_trained_the_figures_and_reruns_alone_is_judged_by_its_wall_time():
    times = {"1": 5000.0, "1 (rerun)": 5000.0}
    alone = regenerate.budget_line(times, 0, ["1"], whole_seconds=7000.0, jobs=2, alone=True)
    assert "with `--jobs 2` side by side and nothing else: 7000 s (1.94 h) of wall time, within the budget" in alone
    assert "their steps add up to 10000 s of one-worker time" in alone and "over" not in alone
    late = regenerate.budget_line(times, 0, ["1"], whole_seconds=7300.0, jobs=2, alone=True)
    assert "7300 s (2.03 h) of wall time, over the budget" in late
    cached = regenerate.budget_line(times, 5, ["1"], whole_seconds=7000.0, jobs=2, alone=True)
    assert "does not show" in cached and "within the budget side by side" not in cached


def test_budget_sources_finds_the_regeneration_that_timed_every_figure_and_rerun():
    labels = regenerate.figure_labels(["1", "e1"])
    assert labels == {"1", "1 (rerun)", "e1", "e1 (rerun)"}
    whole = {"runs": {"trained": 10, "from_cache": 7}, "total_seconds": 9000.0, "jobs": 2,
             "wall_seconds": {label: 1.0 for label in [*sorted(labels), "wd3 (default kernel path)"]}}
    assert regenerate.budget_sources(whole, labels) == (7, whole)
    part = {"steps": sorted(labels), "runs": {"trained": 10, "from_cache": 0}, "total_seconds": 6000.0, "jobs": 2}
    kernel = {"steps": ["wd3 (default kernel path)"], "runs": {"trained": 3, "from_cache": 0}}
    assert regenerate.budget_sources({**whole, "parts": [part, kernel]}, labels) == (0, part)
    some = {**part, "steps": ["1", "1 (rerun)"], "runs": {"trained": 4, "from_cache": 2}}
    assert regenerate.budget_sources({**whole, "parts": [some]}, labels) == (9, None)   # two sources: no one time
    assert regenerate.budget_sources({**whole, "parts": [part, some]}, labels) == (2, None)
    untimed = {**whole, "wall_seconds": {"1": 1.0, "1 (rerun)": 1.0}}                  # e1 never timed: no one time
    assert regenerate.budget_sources(untimed, labels) == (7, None)


def test_the_as_of_line_lists_only_the_regenerations_whose_numbers_are_still_shown():
    part = {"date": "d", "machine": "M", "device": "cpu", "torch": "t", "runs": {"trained": 1, "from_cache": 0},
            "total_seconds": 60.0}
    m = {"engine_version": "engine-x", "date": "d0", "machine": "M0", "device": "cpu", "torch": "t", "command": "cmd0",
         "runs": {"trained": 5, "from_cache": 0}, "total_seconds": 600.0,
         "wall_seconds": {"1": 1.0, "1 (rerun)": 1.0, "grid example": 1.0},
         "parts": [{**part, "command": "a", "steps": ["1", "wd3 (avx2 kernel path)"]},   # a path since dropped
                   {**part, "command": "b", "steps": ["1", "1 (rerun)"]}]}
    assert regenerate.current_parts(m) == (True, [m["parts"][1]])
    text = regenerate._as_of(Target(), m)
    assert "`cmd0` regenerated every number" in text and "`b`" in text and "`a`" not in text
    assert "1 earlier part, all of whose steps a later one replaced, is listed" in text
    m["parts"].append({**part, "command": "c", "steps": ["grid example"]})
    assert regenerate.current_parts(m) == (False, m["parts"][1:])
    text = regenerate._as_of(Target(), m)
    assert "comes from the regenerations below. The first, `cmd0` on a M0 on d0, has been replaced" in text
    assert text.count("On d, on a M") == 2 and "Then" not in text


def test_a_part_that_checks_a_figure_on_a_new_path_drops_its_old_paths_wall_time():
    times = {"wd3 (default kernel path)": 1.0, "wd1": 2.0}
    assert regenerate._other_kernel_labels(times) == {"wd3 (native kernel path)", "wd3 (avx2 kernel path)"}
    assert regenerate._other_kernel_labels({"wd3": 1.0, "wd3 (rerun)": 1.0}) == set()


def test_a_kernel_folder_holding_another_paths_runs_is_refused_not_read(tmp_path):
    from figures.regenerate_steps import KERNEL_PATH_FILE, _claim_kernel_folder
    from synthetic.errors import RunsFailedError

    folder = tmp_path / "kernel"
    _claim_kernel_folder(folder, "default")                       # a fresh folder is claimed
    assert (folder / KERNEL_PATH_FILE).read_text() == "default\n"
    (folder / "cache").mkdir()
    (folder / "cache" / "x.json").write_text("{}")
    _claim_kernel_folder(folder, "default")                       # its own path again: fine
    with pytest.raises(RunsFailedError, match="the default kernel path, not avx2"):
        _claim_kernel_folder(folder, "avx2")
    (folder / KERNEL_PATH_FILE).unlink()                          # runs of an unnamed path: refused too
    with pytest.raises(RunsFailedError, match="an unnamed kernel path"):
        _claim_kernel_folder(folder, "default")
