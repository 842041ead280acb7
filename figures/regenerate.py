"""Regenerate everything the README shows, with one command:

    python paper_repro.py --readme             # train (what DIR/cache lacks), write the gallery, render the README
    python paper_repro.py --readme --render    # only render the README from the committed files (seconds)

1. Every catalogue figure at the default scale into `DIR/figures` (DIR = `--out`, default `results/readme`, its own
   run cache `DIR/cache`, empty on a fresh clone), and each figure with a fitted claim a second time on fresh seeds
   (every seed shifted by `RERUN_SEED_OFFSET`) into `DIR/rerun`.
2. The gallery: `figures/gallery/<id>.png`, the summaries `figures/gallery/summaries/[rerun/]summary_<id>.json` (committed),
   the outputs of the README's grid and fit example commands (`figures/gallery/examples/*.txt`), and
   `figures/gallery/summaries/manifest.json`: engine version, date, machine, wall time of each step and in total.
3. The README's generated blocks (between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`): the "as of" line,
   the results table, the gallery, and the example outputs, rendered from those committed files only, so
   `tests/test_readme_generated.py` can check that the README equals what they render.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from figures import results_table

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "figures" / "gallery"
SUMMARIES = GALLERY / "summaries"
EXAMPLES = GALLERY / "examples"
README = ROOT / "README.md"
RERUN_SEED_OFFSET = 1000
NO_RERUN = frozenset({"wd4"})
"""Figures without a fitted claim (wd4 reads grid optima), not rerun on fresh seeds."""

GRID_EXAMPLE = ("python -m synthetic grid --widths 64 128 256 --depths 2 4 8 --lrs 1e-3 3e-3 1e-2 3e-2 "
                "--seeds 0 1 2 3 4 --optimizer adamw --parameterization mup_k2 --steps 200 --batch 64 --threads 1 "
                "--out records.csv")
FIT_EXAMPLE = "python -m synthetic fit --records records.csv --quantity loss --over width --groupby lr"


def machine() -> str:
    """CPU model and core count (or the GPU), as the README's "as of" line names it."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()}-core {model}"


def _figures(out: Path, device: str) -> dict[str, float]:
    from figures.registry import figure_ids, run_figure

    times: dict[str, float] = {}
    cache = out / "cache"
    for fid in figure_ids():
        for label, offset, sub in (("first", 0, "figures"), ("rerun", RERUN_SEED_OFFSET, "rerun")):
            if label == "rerun" and fid in NO_RERUN:
                continue
            t0 = time.perf_counter()
            cmd = f"python paper_repro.py --figure {fid}" + (f" --seed-offset {offset}" if offset else "")
            run_figure(fid, scale="default", device=device, out_dir=out / sub, cache_dir=cache, seed_offset=offset,
                       command=cmd)
            times[f"{fid}{'' if offset == 0 else ' (rerun)'}"] = round(time.perf_counter() - t0, 1)
    return times


def _collect(out: Path) -> None:
    """Copy PNGs and summaries from `out` into the committed gallery (old summaries removed first)."""
    shutil.rmtree(SUMMARIES, ignore_errors=True)
    (SUMMARIES / "rerun").mkdir(parents=True)
    for sub, dest in (("figures", SUMMARIES), ("rerun", SUMMARIES / "rerun")):
        for summary in sorted((out / sub).glob("*/summary_*.json")):
            shutil.copyfile(summary, dest / summary.name)
    for png in sorted((out / "figures").glob("*/fig_*.png")):
        shutil.copyfile(png, GALLERY / f"{png.stem.removeprefix('fig_')}.png")


def _examples(out: Path) -> dict[str, float]:
    """Run the README's grid and fit commands in `out/examples` (fresh cache) and keep what they print."""
    work = out / "examples"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    times = {}
    for name, cmd in (("grid", GRID_EXAMPLE + " --cache example-cache"), ("fit", FIT_EXAMPLE)):
        argv = [sys.executable, *shlex.split(cmd)[1:]]
        t0 = time.perf_counter()
        done = subprocess.run(argv, cwd=work, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        times[f"{name} example"] = round(time.perf_counter() - t0, 1)
        if done.returncode != 0:
            raise RuntimeError(f"example {name!r} failed: {done.stderr.strip().splitlines()[-1:]}")
        (EXAMPLES / f"{name}.txt").write_text(done.stdout)
    return times


def _manifest(times: dict[str, float], total: float, device: str) -> None:
    import torch

    from synthetic.device import resolve_device
    from synthetic.provenance import device_name
    from synthetic.version import ENGINE_VERSION

    SUMMARIES.mkdir(parents=True, exist_ok=True)
    (SUMMARIES / "manifest.json").write_text(json.dumps({
        "engine_version": ENGINE_VERSION, "date": datetime.date.today().isoformat(), "machine": machine(),
        "device": device_name(resolve_device(device)), "torch": torch.__version__,
        "command": "python paper_repro.py --readme", "wall_seconds": times, "total_seconds": round(total, 1),
        "rerun_seed_offset": RERUN_SEED_OFFSET}, indent=1) + "\n")


# ------------------------------------------------------------------------------------------------ rendering

def _as_of(m: dict) -> str:
    return (f"As of engine version `{m['engine_version']}`, {m['date']}, on a {m['machine']} ({m['device']}, torch "
            f"{m['torch']}): `{m['command']}` regenerated every number, figure and example output below from an "
            f"empty cache in {m['total_seconds'] / 60:.0f} min ({m['total_seconds']:.0f} s).\n")


def _wall_times(m: dict) -> str:
    parts = [f"{k} {v:.0f} s" for k, v in m["wall_seconds"].items()]
    return "Wall time of each step (`" + m["command"] + "`, from an empty cache): " + ", ".join(parts) + ".\n"


def _gallery(_: dict) -> str:
    from figures.registry import all_specs

    lines = []
    for fid, spec in all_specs().items():
        if (GALLERY / f"{fid}.png").exists():
            lines.append(f"**{fid}.** {spec.description}\n\n![{fid}](figures/gallery/{fid}.png)\n")
    return "\n".join(lines)


def _table(_: dict) -> str:
    return results_table.markdown(SUMMARIES, SUMMARIES / "rerun")


def _example(name: str, cmd: str) -> Callable[[dict], str]:
    def render(_: dict) -> str:
        text = (EXAMPLES / f"{name}.txt").read_text() if (EXAMPLES / f"{name}.txt").exists() else "(not run)\n"
        wrapped = cmd if len(cmd) < 110 else cmd.replace(" --optimizer", " \\\n        --optimizer")
        return f"    {wrapped}\n\n```\n{text.rstrip()}\n```\n"
    return render


BLOCKS: dict[str, Callable[[dict], str]] = {
    "as-of": _as_of, "results-table": _table, "gallery": _gallery, "wall-times": _wall_times,
    "grid-example": _example("grid", GRID_EXAMPLE), "fit-example": _example("fit", FIT_EXAMPLE),
}


def block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated:{re.escape(name)} -->\n)(.*?)(<!-- /generated:{re.escape(name)} -->)", re.S)


def rendered_blocks() -> dict[str, str]:
    """Every generated block's text, from the committed gallery files only."""
    manifest = json.loads((SUMMARIES / "manifest.json").read_text())
    return {name: render(manifest) for name, render in BLOCKS.items()}


def readme_blocks(text: str) -> dict[str, str]:
    """The generated blocks as they stand in a README text."""
    found = {}
    for name in BLOCKS:
        m = block_pattern(name).search(text)
        if m:
            found[name] = m.group(2)
    return found


def render_readme(path: Path = README) -> None:
    text = path.read_text()
    for name, body in rendered_blocks().items():
        pattern = block_pattern(name)
        if not pattern.search(text):
            raise RuntimeError(f"README has no block <!-- generated:{name} -->")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(3), text)
    path.write_text(text)


def regenerate(out: str | Path = "results/readme", device: str = "auto", render_only: bool = False,
               echo: Callable[[str], None] = print) -> None:
    """The whole pipeline (or only the rendering)."""
    if not render_only:
        out = Path(out)
        t0 = time.perf_counter()
        times = _figures(out, device)
        _collect(out)
        times |= _examples(out)
        _manifest(times, time.perf_counter() - t0, device)
    render_readme()
    echo(f"README.md rendered from {SUMMARIES.relative_to(ROOT)} and {EXAMPLES.relative_to(ROOT)}")
