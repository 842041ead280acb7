"""README.md's and docs/results.md's generated blocks equal what `python paper_repro.py --readme --render` renders from the committed
summaries, example outputs and manifest (figures/gallery/), and no row of its results table is stale."""

from __future__ import annotations

from figures import regenerate


def test_every_generated_block_is_present_and_current():
    rendered = regenerate.rendered_blocks()
    for path, names in regenerate.documents(regenerate.Target()).items():
        found = regenerate.readme_blocks(path.read_text(), names)
        assert set(found) == set(names), f"{path.name} lacks blocks {set(names) - set(found)}"
        stale = [name for name in names if found[name] != rendered[name]]
        assert not stale, (f"{path.name} blocks {stale} differ from their sources: run "
                           f"`python paper_repro.py --readme --render`")


def test_no_row_of_the_committed_results_table_is_stale():
    table = regenerate.rendered_blocks()["results-detail"]
    assert "**stale**" not in table and "| not run |" not in table


def test_the_manifest_names_the_current_engine():
    import json

    from synthetic.version import ENGINE_VERSION

    manifest = json.loads((regenerate.SUMMARIES / "manifest.json").read_text())
    assert manifest["engine_version"] == ENGINE_VERSION and manifest["total_seconds"] > 0
