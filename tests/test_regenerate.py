"""figures.regenerate: the README pipeline end to end at smoke scale, into a temporary gallery and README."""

from __future__ import annotations

import json

from figures import regenerate
from figures.regenerate import BLOCKS, Target, readme_blocks

TINY_GRID = ("python -m synthetic grid --widths 8 16 --depths 2 --lrs 1e-2 --seeds 0 1 --steps 3 --batch 4 --threads 1 "
             "--out records.csv")
TINY_FIT = "python -m synthetic fit --records records.csv --quantity loss --over width"


def _target(tmp_path) -> Target:
    t = Target(gallery=tmp_path / "gallery", readme=tmp_path / "README.md", results_doc=tmp_path / "results.md",
               scale="smoke", fig_ids=("e1",), examples=(("grid", TINY_GRID), ("fit", TINY_FIT)))
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
    text = t.readme.read_text()
    blocks = readme_blocks(text) | readme_blocks(t.results_doc.read_text())
    assert set(blocks) == set(BLOCKS) and "PLACEHOLDER" not in text + t.results_doc.read_text()
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
