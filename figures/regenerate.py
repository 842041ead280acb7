"""Regenerate everything the README shows, with one command:

    python paper_repro.py --readme             # train (what DIR/cache lacks), write the gallery, render the README
    python paper_repro.py --readme --render    # only render the README from the committed files (seconds)

1. Every catalogue figure at the default scale into `DIR/figures` (DIR = `--out`, default `results/readme`, its own
   run cache `DIR/cache`, empty on a fresh clone), and each figure with a fitted claim a second time on fresh seeds
   (every seed shifted by `RERUN_SEED_OFFSET`) into `DIR/rerun`, and KERNEL_CHECK's figures under a second CPU
   kernel path into `DIR/kernel`: one step each, run one after another or side by side (`--jobs`,
   `figures.regenerate_steps`).
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
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from figures import results_table
from figures.regenerate_steps import Step, StepKind, Where, run_steps, worker_threads
from synthetic.errors import RunsFailedError

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "figures" / "gallery"
SUMMARIES = GALLERY / "summaries"
EXAMPLES = GALLERY / "examples"
README = ROOT / "README.md"
RESULTS_DOC = ROOT / "docs" / "results.md"
FIGURES_DOC = ROOT / "docs" / "figures.md"
USAGE_DOC = ROOT / "docs" / "usage.md"
RERUN_SEED_OFFSET = 1000
NO_RERUN: frozenset[str] = frozenset()
"""Figures not rerun on fresh seeds: none (wd4 was, while its runs were the longest of the catalogue)."""
KERNEL_CHECK = ("wd1", "wd2", "wd3")
"""Figures rerun on their first seeds under a second CPU kernel path (`figures.kernel_check.second_path`: the first
forced path on which a short run of theirs trains to other bits than natively), in a cache of their own: their
steady states are chaotic, a last-bit change acts like a new seed, so a verdict that holds only on one CPU shows up
as borderline. (The η-sweep figures are chaotic too; the 2-hour budget of a regeneration on a 2-core CPU leaves them
to the fresh-seed rerun.)"""

EXAMPLES_RUN = (
    ("grid", "python -m synthetic grid --widths 64 128 256 --depths 2 4 8 --lrs 1e-3 3e-3 1e-2 3e-2 --seeds 0 1 2 3 4 "
             "--optimizer adamw --parameterization mup_k2 --steps 200 --batch 64 --threads 1 --out records.csv"),
    ("fit", "python -m synthetic fit --records records.csv --quantity loss --over width --groupby lr"),
)
"""The README's example commands (name, command), run in this order in one folder."""


@dataclass(frozen=True)
class Target:
    """Where the pipeline writes and what it runs; the defaults are the README's (tests point it at a temp folder)."""

    gallery: Path = GALLERY
    readme: Path = README
    results_doc: Path = RESULTS_DOC
    figures_doc: Path = FIGURES_DOC
    usage_doc: Path = USAGE_DOC
    scale: str = "default"
    fig_ids: tuple[str, ...] | None = None
    examples: tuple[tuple[str, str], ...] = EXAMPLES_RUN
    only: tuple[str, ...] | None = None
    """`--only` selectors (`parse_only`): regenerate these steps alone and merge them into the gallery; None: all."""
    jobs: int = 1
    """Steps trained side by side, each in a worker process (`figures.regenerate_steps`); 1: one after another here."""
    threads: int | None = None
    """`--threads`: torch threads of each worker when `jobs` > 1 (None: the cores shared out among them); with one
    job, paper_repro.py has set this process's threads already, and this only names them in the command."""

    def wants(self, fid: str, step: str) -> bool:
        """Whether this regeneration runs `step` ("figures", "rerun", "kernel" or "examples") of figure `fid`."""
        if self.only is None:
            return True
        from fnmatch import fnmatchcase

        for sel in self.only:
            pattern, _, which = sel.partition(":")
            if step == "examples":
                if pattern == "examples":
                    return True
            elif pattern != "examples" and fnmatchcase(fid, pattern) and which in ("", step):
                return True
        return False

    @property
    def summaries(self) -> Path:
        return self.gallery / "summaries"

    @property
    def example_outputs(self) -> Path:
        return self.gallery / "examples"

    def ids(self) -> tuple[str, ...]:
        from figures.registry import figure_ids

        return self.fig_ids if self.fig_ids is not None else figure_ids()


def machine() -> str:
    """CPU model and core count (or the GPU), as the README's "as of" line names it."""
    from synthetic.provenance import cpu_model

    return f"{os.cpu_count()}-core {cpu_model()}"


def _plan(t: Target) -> list[Step]:
    """The steps this regeneration trains, in the order the manifest lists them: per figure its first seeds and
    fresh-seed rerun, then KERNEL_CHECK's figures on their first seeds under `second_path()`."""
    from figures.kernel_check import second_path

    steps = []
    for fid in t.ids():
        if t.wants(fid, "figures"):
            steps.append(Step(fid, StepKind.FIGURES))
        if fid not in NO_RERUN and t.wants(fid, "rerun"):
            steps.append(Step(fid, StepKind.RERUN, seed_offset=RERUN_SEED_OFFSET))
    checked = [fid for fid in t.ids() if fid in KERNEL_CHECK and t.wants(fid, "kernel")]
    if checked:  # the probe trains in subprocesses: only when a kernel-path step is planned
        path = second_path()
        steps += [Step(fid, StepKind.KERNEL, kernel_path=path) for fid in checked]
    return steps


def _expected_seconds(t: Target) -> dict[str, float]:
    """Each step's wall time in the gallery's manifest (the order parallel steps start in), if there is one."""
    path = t.summaries / "manifest.json"
    return json.loads(path.read_text()).get("wall_seconds", {}) if path.exists() else {}


def _collect(t: Target, out: Path) -> None:
    """Copy PNGs and summaries from `out` into the gallery: all of them, the old summaries removed first; with
    `t.only`, those of the selected steps, over the gallery's own."""
    if t.only is None:
        shutil.rmtree(t.summaries, ignore_errors=True)
    (t.summaries / "rerun").mkdir(parents=True, exist_ok=True)
    (t.summaries / "kernel").mkdir(parents=True, exist_ok=True)
    for sub, step, dest in (("figures", "figures", t.summaries), ("rerun", "rerun", t.summaries / "rerun"),
                            ("kernel/figures", "kernel", t.summaries / "kernel")):
        for summary in sorted((out / sub).glob("*/summary_*.json")):
            if t.wants(summary.parent.name, step):
                shutil.copyfile(summary, dest / summary.name)
    for png in sorted((out / "figures").glob("*/fig_*.png")):
        if t.wants(png.parent.name, "figures"):
            shutil.copyfile(png, t.gallery / f"{png.stem.removeprefix('fig_')}.png")


def _examples(t: Target, out: Path) -> dict[str, float]:
    """Run the example commands in `out/examples` (a fresh cache there) and keep what they print."""
    work = out / "examples"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.rmtree(t.example_outputs, ignore_errors=True)
    t.example_outputs.mkdir(parents=True)
    times = {}
    for name, cmd in t.examples:
        extra = ["--cache", "example-cache"] if " grid " in f" {cmd} " else []
        argv = [sys.executable, *shlex.split(cmd)[1:], *extra]
        t0 = time.perf_counter()
        done = subprocess.run(argv, cwd=work, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        times[f"{name} example"] = round(time.perf_counter() - t0, 1)
        if done.returncode != 0:
            raise RunsFailedError(f"example {name!r} failed: {' '.join(done.stderr.strip().splitlines()[-1:])}")
        (t.example_outputs / f"{name}.txt").write_text(done.stdout)
    return times


def _cache_entries(out: Path) -> set[str]:
    """Keys of the entries in the pipeline's run cache."""
    return {p.stem for p in (out / "cache").rglob("*.json")}


STEPS = ("figures", "rerun", "kernel")


def parse_only(selectors: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`--only` selectors checked: each `ID[:STEP]` (ID a figure id or a glob of them, STEP one of STEPS, a figure
    with that step) or `examples`; ValueError naming the first that selects nothing."""
    from fnmatch import fnmatchcase

    from figures.registry import figure_ids

    ids = figure_ids()
    for sel in selectors:
        if sel == "examples":
            continue
        pattern, colon, step = sel.partition(":")
        if colon and step not in STEPS:
            raise ValueError(f"--only {sel}: the step after ':' is one of {', '.join(STEPS)}")
        matched = [i for i in ids if fnmatchcase(i, pattern)]
        if not matched:
            raise ValueError(f"--only {sel}: no figure id matches {pattern!r} (python paper_repro.py --list)")
        if step == "kernel" and not set(matched) & set(KERNEL_CHECK):
            raise ValueError(f"--only {sel}: only {', '.join(KERNEL_CHECK)} run on a second kernel path")
        if step == "rerun" and set(matched) <= NO_RERUN:
            raise ValueError(f"--only {sel}: {', '.join(sorted(NO_RERUN))} has no fresh-seed rerun")
    return tuple(dict.fromkeys(selectors))


def readme_command(t: Target) -> str:
    """The command line of this regeneration, as the manifest records it."""
    cmd = "python paper_repro.py --readme"
    if t.only is not None:
        cmd += " --only " + " ".join(shlex.quote(s) for s in t.only)
    if t.jobs > 1:
        cmd += f" --jobs {t.jobs}"
    return cmd + (f" --threads {t.threads}" if t.threads is not None else "")


def _other_kernel_labels(times: dict[str, float]) -> set[str]:
    """Labels of a kernel-path step on another path of a figure whose kernel-path step is in `times` (a part that
    checks a figure on a new second path replaces its old one)."""
    from benchmarks.kernel_paths import KERNEL_PATHS

    labels = {fid: {Step(fid, StepKind.KERNEL, kernel_path=p).label for p in KERNEL_PATHS} for fid in KERNEL_CHECK}
    return {lab for fid, mine in labels.items() if mine & times.keys() for lab in mine - times.keys()}


def _manifest(t: Target, times: dict[str, float], total: float, device: str, runs: dict[str, int],
              looks: dict[str, int]) -> None:
    """The manifest of a whole regeneration; with `t.only`, the existing one with this part's wall times and looks
    merged in and the part listed under "parts" (its command, date, machine, steps, runs and time)."""
    import torch

    from synthetic.device import resolve_device
    from synthetic.provenance import device_name
    from synthetic.version import ENGINE_VERSION

    path = t.summaries / "manifest.json"
    dev = resolve_device(device)
    if t.jobs == 1:
        name, threads = device_name(dev), torch.get_num_threads()
    else:
        threads = worker_threads(t.jobs, t.threads)
        name = (f"{device_name(dev)}, {t.jobs} jobs side by side" if dev.type == "cuda" else
                f"cpu ({platform.machine()}, {t.jobs} jobs side by side of {threads} threads each)")
    here = {"engine_version": ENGINE_VERSION, "date": datetime.date.today().isoformat(), "machine": machine(),
            "device": name, "torch": torch.__version__, "scale": t.scale, "jobs": t.jobs,
            "threads": threads, "runs": runs, "total_seconds": round(total, 1)}
    if t.only is None:
        m = {**here, "command": readme_command(t), "wall_seconds": times,
             "rerun_seed_offset": RERUN_SEED_OFFSET, "examples": dict(t.examples), "looks": looks}
    else:
        m = json.loads(path.read_text())
        if m["engine_version"] != ENGINE_VERSION:
            raise RuntimeError(f"the gallery was made by {m['engine_version']}, this engine is {ENGINE_VERSION}: "
                               "regenerate everything (python paper_repro.py --readme)")
        stale = _other_kernel_labels(times)
        m["wall_seconds"] = {**{k: v for k, v in m["wall_seconds"].items() if k not in stale}, **times}
        m["looks"] = {**{k: v for k, v in m.get("looks", {}).items() if k not in stale}, **looks}
        m["parts"] = [*m.get("parts", []), {**here, "command": readme_command(t), "steps": sorted(times)}]
    path.write_text(json.dumps(m, indent=1) + "\n")


# ------------------------------------------------------------------------------------------------ rendering

def step_sources(m: dict) -> dict[str, int]:
    """For each step the manifest times, the regeneration its numbers come from: 0 the whole one, i its i-th part
    (the last part that ran the step)."""
    latest = {label: 0 for label in m["wall_seconds"]}
    for i, p in enumerate(m.get("parts", []), start=1):
        latest.update({label: i for label in p["steps"] if label in latest})
    return latest


def current_parts(m: dict) -> tuple[bool, list[dict]]:
    """Whether the manifest's whole regeneration still supplies a step's wall time (and so its numbers), and the
    parts that do, in order; a part whose every step a later part replaced is left out."""
    used = set(step_sources(m).values())
    return 0 in used, [p for i, p in enumerate(m.get("parts", []), start=1) if i in used]


def _as_of(t: Target, m: dict) -> str:
    runs = m["runs"]
    cache = ("from an empty cache" if runs["from_cache"] == 0 else
             f"training {runs['trained']} runs and reading {runs['from_cache']} from an earlier cache")
    whole_current, parts = current_parts(m)
    dropped = len(m.get("parts", [])) - len(parts)
    earlier = (f"{dropped} earlier part{'s' if dropped > 1 else ''}, all of whose steps a later one replaced, "
               f"{'are' if dropped > 1 else 'is'} listed in figures/gallery/summaries/manifest.json.\n"
               if dropped else "")
    if not whole_current:
        return (f"As of engine version `{m['engine_version']}`, every number, figure and example output of the "
                f"README and docs/ comes from the regenerations below. The first, `{m['command']}` on a "
                f"{m['machine']} on {m['date']}, has been replaced step by step.\n"
                + "".join(_part_line(p, "On") for p in parts) + earlier)
    return (f"As of engine version `{m['engine_version']}`, {m['date']}, on a {m['machine']} ({m['device']}, torch "
            f"{m['torch']}): `{m['command']}` regenerated every number, figure and example output of the README "
            f"and docs/ "
            f"({runs['trained'] + runs['from_cache']} figure runs) {cache} in {m['total_seconds'] / 60:.0f} min "
            f"({m['total_seconds']:.0f} s).\n" + "".join(_part_line(p) for p in parts) + earlier)


def _part_line(p: dict, lead: str = "Then,") -> str:
    runs = p["runs"]
    cache = ("from an empty cache" if runs["from_cache"] == 0 else
             f"training {runs['trained']} runs and reading {runs['from_cache']} from an earlier cache")
    replaced = " and replaced them above" if lead == "Then," else ""
    return (f"{lead} {p['date']}, on a {p['machine']} ({p['device']}, torch {p['torch']}): `{p['command']}` "
            f"regenerated the {len(p['steps'])} steps it selects {cache} in {p['total_seconds'] / 60:.0f} min"
            f"{replaced} (each step's wall time: docs/results.md).\n")


FIGURE_BUDGET_S = 7200.0
"""The verdicts issue's budget: every figure and its fresh-seed rerun from an empty cache within 2 hours at 2 threads
on a 2-core CPU."""


def budget_line(wall_seconds: dict[str, float], from_cache: int, fids, *, whole_seconds: float | None = None,
                jobs: int = 1, alone: bool = False) -> str:
    """The figures' and their reruns' step times added up, against FIGURE_BUDGET_S (the other steps apart); with
    `whole_seconds` (the wall time of a regeneration that trained them, steps side by side when `jobs` > 1; `alone`:
    it trained those steps and nothing else), that time against it too."""
    labels = figure_labels(fids)
    figs = sum(v for k, v in wall_seconds.items() if k in labels)
    rest = sum(wall_seconds.values()) - figs
    where = "within" if figs <= FIGURE_BUDGET_S else "over"
    cached = (f"; {from_cache} of the runs came from an earlier cache, so an empty cache takes longer"
              if from_cache else "")
    line = (f"Every figure and its fresh-seed rerun: {figs:.0f} s ({figs / 3600:.2f} h) added up step by step, "
            f"{where} the budget of {FIGURE_BUDGET_S / 3600:g} hours{cached}; the second kernel path and the "
            f"examples: {rest:.0f} s more.")
    if whole_seconds is None or jobs == 1:
        return line + "\n"
    if alone and not from_cache:
        side = "within" if whole_seconds <= FIGURE_BUDGET_S else "over"
        return (f"Every figure and its fresh-seed rerun, trained from an empty cache with `--jobs {jobs}` side by "
                f"side and nothing else: {whole_seconds:.0f} s ({whole_seconds / 3600:.2f} h) of wall time, {side} "
                f"the budget of {FIGURE_BUDGET_S / 3600:g} hours; their steps add up to {figs:.0f} s of "
                f"one-worker time; the second kernel path and the examples: {rest:.0f} s more.\n")
    what = ("the part that trained the figures and their reruns and nothing else" if alone else
            "the whole regeneration, which also trains the second kernel path and the examples,")
    whole = f" With `--jobs {jobs}` {what} took {whole_seconds:.0f} s ({whole_seconds / 3600:.2f} h) of wall time"
    if from_cache:
        return line + whole + ", with runs read from a cache, so it does not show them within the budget.\n"
    if whole_seconds <= FIGURE_BUDGET_S:
        return line + whole + ": the figures and their reruns, a part of it, fit the budget side by side.\n"
    return line + whole + ", so it does not show the figures and their reruns alone within the budget side by side.\n"


def figure_labels(fids) -> set[str]:
    """The step labels of `fids`' figures and their fresh-seed reruns (what FIGURE_BUDGET_S bounds)."""
    return {Step(fid, kind).label for fid in fids for kind in (StepKind.FIGURES, StepKind.RERUN)
            if not (kind is StepKind.RERUN and fid in NO_RERUN)}


def budget_sources(m: dict, labels: set[str]) -> tuple[int, dict | None]:
    """From a manifest: the runs read from a cache by the regenerations (the whole one, then its parts) whose wall
    times of `labels` the manifest still holds, and the one of them that timed all of `labels`, if one did."""
    sources = [m, *m.get("parts", [])]
    latest = {label: i for label, i in step_sources(m).items() if label in labels}
    used = sorted(set(latest.values()))
    cached = sum((sources[i].get("runs") or {}).get("from_cache", 0) for i in used)
    return cached, sources[used[0]] if len(used) == 1 and latest.keys() == labels else None


def _wall_times(t: Target, m: dict) -> str:
    from figures.registry import all_specs

    looks = m.get("looks", {})
    parts = [f"{k}: {v:.0f} s" + (f" (look {looks[k]})" if looks.get(k, 1) > 1 else "")
             for k, v in m["wall_seconds"].items()]
    by = f"`{m['command']}`" + (" and the parts the \"as of\" line lists" if m.get("parts") else "")
    specs = all_specs()
    labels = figure_labels(specs)
    cached, source = budget_sources(m, labels)
    alone = source is not None and source is not m and set(source["steps"]) == labels
    timed = source is not None and (source is m or alone)
    return (f"Wall time of each step of {by}: " + ", ".join(parts) + ".\n\n"
            + budget_line(m["wall_seconds"], cached, specs, whole_seconds=source["total_seconds"] if timed else None,
                          jobs=source.get("jobs", 1) if timed else 1, alone=alone))


def _protocol(t: Target, m: dict) -> str:
    """The claims protocol's constants and every declared tolerance (figures.claims)."""
    from figures.claims import ALPHA, LEVEL, LOOKS, tolerances_markdown
    from figures.registry import all_specs

    all_specs()
    return (f"Intervals: t-intervals over seeds at level {100 * LEVEL:.1f}% (error rate {ALPHA:g} split over the "
            f"{len(LOOKS)} looks of the seed schedule ×{', ×'.join(map(str, LOOKS))}). Tolerances:\n\n"
            + tolerances_markdown())


def _gallery(t: Target, m: dict) -> str:
    from figures.registry import all_specs

    lines = []
    for fid, spec in all_specs().items():
        png = t.gallery / f"{fid}.png"
        if png.exists():
            rel = os.path.relpath(png, t.figures_doc.parent)
            lines.append(f"**{fid}.** {spec.description}\n\n![{fid}]({rel})\n")
    return "\n".join(lines)


def _table(compact: bool) -> Callable[[Target, dict], str]:
    def render(t: Target, m: dict) -> str:
        kernel = t.summaries / "kernel"
        return results_table.markdown(t.summaries, t.summaries / "rerun",
                                      kernel_root=kernel if kernel.is_dir() else None, compact=compact)
    return render


def _example(name: str) -> Callable[[Target, dict], str]:
    def render(t: Target, m: dict) -> str:
        cmd = m["examples"][name]
        path = t.example_outputs / f"{name}.txt"
        text = path.read_text() if path.exists() else "(not run)\n"
        wrapped = cmd if len(cmd) < 110 else cmd.replace(" --optimizer", " \\\n        --optimizer")
        return f"    {wrapped}\n\n```\n{text.rstrip()}\n```\n"
    return render


BLOCKS: dict[str, Callable[[Target, dict], str]] = {
    "as-of": _as_of, "results-table": _table(compact=True), "results-detail": _table(compact=False),
    "gallery": _gallery, "wall-times": _wall_times, "protocol": _protocol,
    "grid-example": _example("grid"), "fit-example": _example("fit"),
}
DOCUMENT_BLOCKS = {"readme": ("as-of", "results-table"),
                   "results_doc": ("as-of", "results-detail", "protocol", "wall-times"),
                   "figures_doc": ("gallery",),
                   "usage_doc": ("grid-example", "fit-example")}
"""Which blocks each generated document holds: the README the front page's verdict table, docs/results.md every
number, docs/figures.md the gallery, docs/usage.md the example commands' outputs."""


def documents(t: Target) -> dict[Path, tuple[str, ...]]:
    return {getattr(t, attr): names for attr, names in DOCUMENT_BLOCKS.items()}


def block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated:{re.escape(name)} -->\n)(.*?)(<!-- /generated:{re.escape(name)} -->)", re.S)


def rendered_blocks(t: Target = Target()) -> dict[str, str]:
    """Every generated block's text, from the gallery's files only."""
    manifest = json.loads((t.summaries / "manifest.json").read_text())
    return {name: render(t, manifest) for name, render in BLOCKS.items()}


def readme_blocks(text: str, names: tuple[str, ...] | None = None) -> dict[str, str]:
    """The generated blocks (`names`, default all) as they stand in a document's text."""
    found = {}
    for name in names if names is not None else BLOCKS:
        m = block_pattern(name).search(text)
        if m:
            found[name] = m.group(2)
    return found


def render_readme(t: Target = Target()) -> None:
    """Every generated document's blocks (DOCUMENT_BLOCKS), rendered from the gallery's files."""
    rendered = rendered_blocks(t)
    for path, names in documents(t).items():
        text = path.read_text()
        for name in names:
            pattern = block_pattern(name)
            if not pattern.search(text):
                raise RuntimeError(f"{path.name} has no block <!-- generated:{name} -->")
            text = pattern.sub(lambda m, body=rendered[name]: m.group(1) + body + m.group(3), text)
        path.write_text(text)


REJUDGE_RTOL = 1e-9
"""Numbers of a re-judged claim within this relative difference of the committed ones count as the same: the claims'
fits (numpy's least squares) round differently in the last bits on another CPU, and a render must not rewrite the
committed summaries for that."""


def same_up_to_roundoff(a, b, rtol: float = REJUDGE_RTOL) -> bool:
    """Equal JSON values, floats within `rtol` of the larger magnitude (NaN equal to NaN, infinities to themselves)."""
    if isinstance(a, float) or isinstance(b, float):
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b)):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a == b
        return abs(a - b) <= rtol * max(abs(a), abs(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_up_to_roundoff(a[k], b[k], rtol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_up_to_roundoff(x, y, rtol) for x, y in zip(a, b))
    return a == b


def rejudge(t: Target = Target()) -> int:
    """Judge every committed summary's claims again from its numbers (`FigureSpec.claims` is a function of the
    summary alone), so a change of a criterion or a claim's text needs no retraining; returns the summaries
    rewritten (not those whose claims come out the same up to round-off, `same_up_to_roundoff`)."""
    from figures.registry import all_specs, claims_of

    specs, n = all_specs(), 0
    for path in sorted(t.summaries.rglob("summary_*.json")):
        fid = path.stem.removeprefix("summary_")
        if fid not in specs or specs[fid].claims is None:
            continue
        summary = json.loads(path.read_text())
        claims = claims_of(specs[fid], summary)
        if not same_up_to_roundoff(summary.get("claims"), claims):
            summary["claims"] = claims
            path.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
            n += 1
    return n


def regenerate(out: str | Path = "results/readme", device: str = "auto", render_only: bool = False,
               target: Target = Target(), echo: Callable[[str], None] = print) -> None:
    """The whole pipeline (or only the rendering, after judging the committed summaries' claims again)."""
    if not render_only:
        out = Path(out)
        t0 = time.perf_counter()
        before = _cache_entries(out)
        results = run_steps(_plan(target), Where(target.scale, out, device), jobs=target.jobs,
                            threads=target.threads, expected=_expected_seconds(target))
        times = {r.label: r.seconds for r in results}
        looks = {r.label: r.look for r in results}
        used = set().union(*(r.used for r in results))
        _collect(target, out)
        if target.wants("", "examples"):
            times |= _examples(target, out)
        runs = {"trained": len(used - before), "from_cache": len(used & before)}
        _manifest(target, times, time.perf_counter() - t0, device, runs, looks)
    else:
        n = rejudge(target)
        if n:
            echo(f"{n} summaries' claims judged again from their numbers")
    render_readme(target)
    echo(f"{target.readme} rendered from {target.summaries} and {target.example_outputs}")
