"""README.md's generated blocks equal what `python paper_repro.py --readme --render` renders from the committed
summaries, example outputs and manifest (figures/gallery/), and no row of its results table is stale."""

from __future__ import annotations

from figures import regenerate


def test_every_generated_block_is_present_and_current():
    text = regenerate.README.read_text()
    found = regenerate.readme_blocks(text)
    assert set(found) == set(regenerate.BLOCKS), f"README lacks blocks {set(regenerate.BLOCKS) - set(found)}"
    rendered = regenerate.rendered_blocks()
    stale = [name for name in regenerate.BLOCKS if found[name] != rendered[name]]
    assert not stale, f"README blocks {stale} differ from their sources: run `python paper_repro.py --readme --render`"


def test_no_row_of_the_committed_results_table_is_stale():
    table = regenerate.rendered_blocks()["results-table"]
    assert "**stale**" not in table and "| not run |" not in table


def test_the_manifest_names_the_current_engine():
    import json

    from synthetic.version import ENGINE_VERSION

    manifest = json.loads((regenerate.SUMMARIES / "manifest.json").read_text())
    assert manifest["engine_version"] == ENGINE_VERSION and manifest["total_seconds"] > 0
