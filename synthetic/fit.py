"""Scaling exponents: least-squares fits on log-log axes, with confidence intervals.

`loglog_fit` fits log y = intercept + slope·log x by ordinary least squares (`scipy.stats.linregress`). Without
`groups` the CI is the t-interval slope ± t_{(1+ci)/2, n-2}·stderr. With `groups` (usually the seed of each point),
points of one seed are correlated (same data stream, same init), so the seed is the replicate: each seed's slope is
fitted on its own, the estimate is their mean and the CI the t-interval mean ± t_{(1+ci)/2, G-1}·sd/√G over the G
seeds ("seed_t"; for a balanced design the mean equals the pooled OLS slope). It has its nominal coverage for any
G ≥ 2 when per-seed slopes are normal (tests/test_fit_loglog.py measures it: 0.95 at G = 5, where the percentile
cluster bootstrap used before covered 0.87 and, at G = 2, 0.53). `interval="bootstrap"` keeps that bootstrap.
Points where x or y is not finite and positive (e.g. a diverged run's NaN loss) are dropped and counted.

`fit_table` does the usual job on a tidy table (columns as written by `python -m synthetic grid`): pick one quantity
at one step, and fit it against a config column (width, depth, lr, wd) separately for every combination of the
other config columns that vary, with the seed as the bootstrap cluster. A group that cannot be fitted (say every run
of it diverged) does not stop the others: it comes back with the reason instead of a fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import stats

from synthetic.errors import SyntheticError

CONFIG_COLUMNS = ("width", "depth", "lr", "wd", "seed", "parameterization", "optimizer")
"""The columns that may split fits; outcome columns such as `diverged_at` are deliberately absent."""


class FitError(SyntheticError):
    """Too few usable points, or a degenerate design (all x equal)."""


@dataclass(frozen=True)
class FitResult:
    """slope ± CI of log y against log x; `method` is "t", "seed_t" or "cluster_bootstrap"."""

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    stderr: float
    n: int
    n_dropped: int = 0
    n_groups: int = 0
    method: str = "t"
    per_group: tuple[tuple[str, float], ...] = ()
    """("seed_t" only) each group's own slope, by group label: the replicates a paired contrast between two fits
    on the same seeds is formed from."""


def loglog_fit(x: Sequence[float], y: Sequence[float], groups: Sequence[Any] | None = None, n_boot: int = 1000,
               ci: float = 0.95, seed: int = 0, interval: str = "seed_t") -> FitResult:
    """OLS slope of log y on log x with a t-based CI; with groups (seeds), the per-seed t-interval ("seed_t") or the
    cluster bootstrap ("bootstrap")."""
    if interval not in ("seed_t", "bootstrap"):
        raise FitError(f"unknown interval {interval!r}; choose seed_t or bootstrap")
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise FitError(f"x and y differ in length ({x.size} != {y.size})")
    if not 0 < ci < 1:
        raise FitError(f"ci must be in (0, 1) (got {ci})")
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    g = None
    if groups is not None:
        g = np.asarray(groups, dtype=object).ravel()
        if g.shape != x.shape:
            raise FitError(f"groups and x differ in length ({g.size} != {x.size})")
        g = g[keep]
    lx, ly = np.log(x[keep]), np.log(y[keep])
    n, dropped = int(lx.size), int((~keep).sum())
    if n < 3:
        raise FitError(f"a log-log fit needs at least 3 positive finite points (got {n}, dropped {dropped})")
    if np.ptp(lx) == 0:
        raise FitError("a log-log fit needs at least two distinct x values")
    reg = stats.linregress(lx, ly)
    slope, intercept, stderr = float(reg.slope), float(reg.intercept), float(reg.stderr)
    if g is not None:
        labels, cluster = np.unique(g.astype(str), return_inverse=True)
        if labels.size >= 2 and interval == "seed_t":
            per_group = _per_group_slopes(lx, ly, cluster, labels)
            per_seed = np.asarray([v for _, v in per_group], dtype=np.float64)
            if per_seed.size < 2:
                raise FitError(f"a per-seed interval needs two seeds with two distinct x values each "
                               f"(got {per_seed.size} of {labels.size} seeds)")
            if per_seed.size >= 2:
                mean = float(per_seed.mean())
                half = float(stats.t.ppf(0.5 + ci / 2, per_seed.size - 1)) * float(per_seed.std(ddof=1)) \
                    / np.sqrt(per_seed.size)
                return FitResult(mean, intercept, mean - half, mean + half, stderr, n, dropped, int(per_seed.size),
                                 "seed_t", per_group)
        elif labels.size >= 2:
            lo, hi = _cluster_bootstrap(lx, ly, cluster, labels.size, n_boot, ci, seed)
            return FitResult(slope, intercept, lo, hi, stderr, n, dropped, int(labels.size), "cluster_bootstrap")
    half = float(stats.t.ppf(0.5 + ci / 2, n - 2)) * stderr
    return FitResult(slope, intercept, slope - half, slope + half, stderr, n, dropped,
                     0 if g is None else int(np.unique(g.astype(str)).size), "t")


def _per_group_slopes(lx: np.ndarray, ly: np.ndarray, cluster: np.ndarray,
                      labels: np.ndarray) -> tuple[tuple[str, float], ...]:
    """(label, OLS slope) of every group that has at least two distinct x values."""
    slopes = []
    for c, label in enumerate(labels):
        gx, gy = lx[cluster == c], ly[cluster == c]
        if gx.size >= 2 and np.ptp(gx) > 0:
            slopes.append((str(label), float(stats.linregress(gx, gy).slope)))
    return tuple(slopes)


def _cluster_bootstrap(lx: np.ndarray, ly: np.ndarray, cluster: np.ndarray, n_clusters: int, n_boot: int,
                       ci: float, seed: int) -> tuple[float, float]:
    """Percentile CI of the OLS slope when whole clusters are resampled with replacement (vectorised as weights)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    counts = np.zeros((n_boot, n_clusters))
    np.add.at(counts, (np.arange(n_boot)[:, None], draws), 1.0)
    w = counts[:, cluster]
    sw = w.sum(axis=1, keepdims=True)
    xm = (w * lx).sum(axis=1, keepdims=True) / sw
    ym = (w * ly).sum(axis=1, keepdims=True) / sw
    sxx = (w * (lx - xm) ** 2).sum(axis=1)
    sxy = (w * (lx - xm) * (ly - ym)).sum(axis=1)
    ok = sxx > 1e-12 * max(1.0, float(np.ptp(lx)) ** 2)
    if not ok.any():
        raise FitError("every bootstrap resample had a single x value; cannot form a CI")
    slopes = sxy[ok] / sxx[ok]
    tail = (1 - ci) / 2
    lo, hi = np.quantile(slopes, [tail, 1 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True)
class GroupFit:
    """One group of `fit_table`: the fixed config values and the result, or why there is none (`fit` None)."""

    group: dict[str, Any]
    fit: FitResult | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.fit is not None

    @property
    def label(self) -> str:
        return _describe(self.group) or "all runs"


def fit_table(table: Mapping[str, np.ndarray], *, quantity: str, over: str, at_step: int = -1,
              layer: str = "model", index: int = 0, groupby: Sequence[str] = (), cluster: str = "seed",
              n_boot: int = 1000, ci: float = 0.95, seed: int = 0, interval: str = "seed_t") -> list[GroupFit]:
    """Fit `quantity` (at `layer`, `index`) against config column `over` at one step of each run.

    `at_step` = -1 means each run's last recorded step for that quantity (other negatives count back from the end).
    A separate fit is made for every combination of the config columns that vary other than `over` and `cluster`;
    `groupby` names the columns to list first. `cluster` (the seed) defines the bootstrap clusters. A group whose fit
    fails is returned with `fit` None and the reason; errors that concern the whole table still raise FitError.
    Runs that diverged (`diverged_at` ≥ 0; `diverged_runs`) are left out: their last recorded values are not results.
    """
    for col in (over, cluster, "run_id", "step", "layer", "quantity", "index", "value", *groupby):
        if col not in table:
            raise FitError(f"records have no column {col!r}; columns are {', '.join(table)}")
    layers = np.asarray(table["layer"]).astype(str)
    if layer == LAST_BLOCK:
        if "depth" not in table:
            raise FitError("--layer last needs the depth column")
        at_layer = layers == np.char.add("h", np.asarray(table["depth"]).astype(int).astype(str))
    else:
        if over == "depth" and _is_block_output(layer) and np.unique(np.asarray(table["depth"]).astype(int)).size > 1:
            raise FitError(f"layer {layer!r} is a different block at each depth (and absent from shallower nets); "
                           f"fit the last block's output with --layer {LAST_BLOCK}")
        at_layer = layers == layer
    rows = (np.asarray(table["quantity"]) == quantity) & at_layer & (np.asarray(table["index"]).astype(int) == index)
    if not rows.any():
        have = sorted({f"{q}@{l}" for q, l in zip(table["quantity"], table["layer"])})
        raise FitError(f"no records for quantity {quantity!r} at layer {layer!r}; available: {', '.join(have[:12])}")
    idx = np.flatnonzero(rows)
    diverged = diverged_runs(table)
    idx = idx[~np.isin(np.asarray(table["run_id"])[idx], list(diverged))] if diverged else idx
    if idx.size == 0:
        raise FitError(f"every run with {quantity!r} recorded diverged ({len(diverged)} runs); nothing to fit")
    run_ids = np.asarray(table["run_id"])[idx]
    steps = np.asarray(table["step"]).astype(int)[idx]
    chosen = []
    for rid in np.unique(run_ids):
        mine, mine_steps = idx[run_ids == rid], steps[run_ids == rid]
        uniq = np.unique(mine_steps)
        want = uniq[at_step] if at_step < 0 and -at_step <= uniq.size else at_step
        hit = mine[mine_steps == want]
        if hit.size:
            chosen.append(hit[0])
    if not chosen:
        raise FitError(f"no run has {quantity!r} recorded at step {at_step}")
    chosen = np.asarray(chosen)
    cols = [c for c in CONFIG_COLUMNS if c in table and c not in (over, cluster)]
    varying = [c for c in cols if np.unique(np.asarray(table[c])[chosen].astype(str)).size > 1]
    keys = [c for c in groupby if c in varying] + [c for c in varying if c not in groupby]
    out: list[GroupFit] = []
    combos = {}
    for r in chosen:
        combos.setdefault(tuple(table[c][r] for c in keys), []).append(r)
    for combo in sorted(combos, key=lambda t: tuple(_sort_key(v) for v in t)):
        members = np.asarray(combos[combo])
        xs = np.asarray(table[over])[members].astype(float)
        ys = np.asarray(table["value"])[members].astype(float)
        gs = np.asarray(table[cluster])[members]
        group = dict(zip(keys, combo))
        try:
            out.append(GroupFit(group, loglog_fit(xs, ys, groups=gs, n_boot=n_boot, ci=ci, seed=seed, interval=interval)))
        except FitError as exc:
            out.append(GroupFit(group, None, str(exc)))
    return out


LAST_BLOCK = "last"
"""The `layer` that names each run's last block output h_L (h{depth}), whatever its depth."""


def _is_block_output(layer: str) -> bool:
    """True for a block output's record name hN (h0 the input map's output, h1… the blocks')."""
    return layer.startswith("h") and layer[1:].isdigit()


def diverged_runs(table: Mapping[str, np.ndarray]) -> set:
    """Run ids whose `diverged_at` column is ≥ 0 (the tidy table's mark of a diverged run; -1: it did not)."""
    if "diverged_at" not in table:
        return set()
    def step(v: Any) -> float:
        try:
            return float(v)
        except (TypeError, ValueError):
            return -1.0
    d = np.array([step(v) for v in table["diverged_at"]])
    return set(np.asarray(table["run_id"])[d >= 0].tolist())


def _sort_key(v: Any) -> tuple:
    try:
        return (0, float(v), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(v))


def _describe(group: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in group.items())


def format_fits(fits: Sequence[GroupFit], *, quantity: str, over: str, ci: float = 0.95) -> str:
    """A plain-text table: one line per fit with slope, CI, CI method and number of points/seeds, then one line per
    group that could not be fitted, with the reason."""
    lines = [f"exponent of {quantity} vs {over} ({round(ci * 100)}% CI)"]
    for gf in fits:
        f = gf.fit
        if f is None:
            continue
        how = {"cluster_bootstrap": f"per-seed bootstrap, {f.n_groups} seeds",
               "seed_t": f"per-seed t, {f.n_groups} seeds"}.get(f.method, "t-interval")
        drop = f", {f.n_dropped} dropped" if f.n_dropped else ""
        lines.append(f"{gf.label}: slope {f.slope:+.4f}  CI [{f.ci_low:+.4f}, {f.ci_high:+.4f}]  "
                     f"({how}; n={f.n}{drop})")
    failed = [gf for gf in fits if not gf.ok]
    if failed:
        lines.append(f"not fitted ({len(failed)}):")
        lines += [f"{gf.label}: {gf.reason}" for gf in failed]
    return "\n".join(lines)


def seed_t_interval(values: Sequence[float], ci: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi): the t-interval mean ± t_{(1+ci)/2, G-1}·sd/√G over G per-seed estimates (non-finite dropped)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2:
        raise FitError(f"a per-seed t-interval needs at least two finite per-seed estimates (got {v.size})")
    mean = float(v.mean())
    half = float(stats.t.ppf(0.5 + ci / 2, v.size - 1)) * float(v.std(ddof=1)) / np.sqrt(v.size)
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class MultiFit:
    """Per-seed least-squares fit of log y on several log x: `coef[name]` is the mean over seeds of the seed's
    coefficient, `ci[name]` its per-seed t-interval ("seed_t"), `per_seed[seed][name]` the seed's own estimate."""

    coef: dict[str, float]
    ci: dict[str, tuple[float, float]]
    per_seed: dict[Any, dict[str, float]]
    n: int
    n_dropped: int = 0
    method: str = "seed_t"

    def contrast(self, weights: Mapping[str, float], ci: float = 0.95) -> tuple[float, float, float]:
        """(mean, lo, hi) of Σ w·coef over seeds (e.g. {"a": 1, "b": -1} for a − b), per-seed t-interval."""
        return seed_t_interval([sum(w * c[k] for k, w in weights.items()) for c in self.per_seed.values()], ci)


def loglog_fit_multi(xs: Mapping[str, Sequence[float]], y: Sequence[float], groups: Sequence[Any],
                     ci: float = 0.95) -> MultiFit:
    """Fit log y = c + Σ_k β_k log x_k by OLS within each seed (`groups`), then per-seed t-intervals over the seeds'
    β_k (the seed is the replicate, as `loglog_fit`'s "seed_t"). Points with a non-finite or non-positive value are
    dropped and counted; a seed whose design is rank-deficient is left out; fewer than two usable seeds raise."""
    names = list(xs)
    if not names:
        raise FitError("loglog_fit_multi needs at least one regressor")
    y = np.asarray(y, dtype=np.float64).ravel()
    cols = [np.asarray(xs[k], dtype=np.float64).ravel() for k in names]
    g = np.asarray(groups, dtype=object).ravel()
    if any(c.shape != y.shape for c in cols) or g.shape != y.shape:
        raise FitError("regressors, y and groups differ in length")
    keep = np.isfinite(y) & (y > 0)
    for c in cols:
        keep &= np.isfinite(c) & (c > 0)
    X = np.column_stack([np.ones(int(keep.sum()))] + [np.log(c[keep]) for c in cols])
    ly, g = np.log(y[keep]), g[keep]
    per_seed: dict[Any, dict[str, float]] = {}
    for label in sorted(set(g.tolist()), key=_sort_key):
        m = g == label
        if m.sum() <= X.shape[1] - 1 or np.linalg.matrix_rank(X[m]) < X.shape[1]:
            continue
        beta, *_ = np.linalg.lstsq(X[m], ly[m], rcond=None)
        per_seed[label] = {k: float(b) for k, b in zip(names, beta[1:])}
    if len(per_seed) < 2:
        raise FitError(f"a per-seed joint fit needs two seeds with a full-rank design (got {len(per_seed)})")
    coef, cis = {}, {}
    for k in names:
        mean, lo, hi = seed_t_interval([c[k] for c in per_seed.values()], ci)
        coef[k], cis[k] = mean, (lo, hi)
    return MultiFit(coef, cis, per_seed, int(keep.sum()), int((~keep).sum()))
