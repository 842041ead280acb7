"""The claims protocol: every verdict of the results table is a declared claim judged by an interval.

A claim names its estimand (one number a figure measures), the estimate with its interval method, and a criterion
declared before the data. The criterion uses the whole interval:

- `Within(center, tol)` (an equivalence test): *holds* when the whole interval lies inside center ± tol, *fails*
  when it lies wholly outside, *undecided* otherwise;
- `Outside(center, tol)`: the mirror (a quantity that should move: SP's drift, SP's coordinate growth);
- `Above(bound)`: *holds* when the whole interval lies above the bound, *fails* when wholly below (a paired contrast
  "μP beats SP" is `Above(0)`);
- `Shown()`: measured and shown, not judged (a number the paper gives for another setting).

Intervals are t-intervals over seeds (the seed is the replicate; `synthetic.fit.seed_t_interval`): an `Estimate`
keeps its mean, standard error and degrees of freedom, so that its interval can be formed at the protocol's level and
two estimates (a first run and its fresh-seed rerun) compared by a Welch interval on their difference. The level is
`LEVEL` at each of the sequential looks of `LOOKS`: seeds are doubled while a claim is undecided, and the Bonferroni
split 1 − ALPHA/len(LOOKS) bounds the chance that any look's interval misses the truth by ALPHA
(tests/test_claims.py measures the coverage of each method at the seed counts used).

Imports no figure module: the figures and the renderer (figures.results_table) both import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
from scipy import stats

ALPHA = 0.05
"""Error rate of a claim over all its looks."""
LOOKS = (1, 2)
"""Seed multipliers of the sequential schedule: a figure runs its declared seeds, and when one of its claims is
undecided it is run again with twice as many seeds (its seeds plus as many new ones), the cap: one doubling (the
2-hour budget aimed at for the whole catalogue and its rerun on a 2-core CPU is already exceeded with it,
docs/results.md, "The budget")."""
LEVEL = 1.0 - ALPHA / len(LOOKS)
"""Interval level at every look (Bonferroni over the looks: 1 − 0.05/2 = 97.5%)."""


SAME_ACROSS_SEEDS = 1e-9
"""Relative spread under which per-seed values count as equal (float64 round-off is about 1e-15; the smallest real
seed spread in the gallery is about 1e-6)."""


def _equal_across_seeds(sd: float, value: float) -> bool:
    """Whether per-seed values with sample standard deviation `sd` around `value` agree to round-off: their spread is
    then structural (a statistic clipped or read off a grid), not the sampling noise a t-interval describes, and a
    zero-width interval would decide a claim on a point."""
    return sd <= SAME_ACROSS_SEEDS * max(1.0, abs(value))

TOLERANCES: dict[str, "Tolerance"] = {}
"""Every declared tolerance by name (`tolerance`), for the README's list."""


class Verdict(str, Enum):
    HOLDS = "holds"
    FAILS = "fails"
    UNDECIDED = "undecided"
    SHOWN = "shown"

    @property
    def decided(self) -> bool:
        return self in (Verdict.HOLDS, Verdict.FAILS)


@dataclass(frozen=True)
class Tolerance:
    """A named tolerance with the one sentence that justifies it: the table's "expected" text names it, and the
    README lists every tolerance with its reason (`tolerances_markdown`)."""

    name: str
    value: float
    why: str


@dataclass(frozen=True)
class Estimate:
    """One measured number: `value` its mean over `n` seeds, `se` its standard error and `df` the degrees of freedom
    of its t-interval (`se` NaN: no interval, e.g. a deterministic quantity or too few seeds)."""

    value: float
    se: float = math.nan
    df: float = math.nan
    n: int = 0
    method: str = "seed_t"
    n_other: int = 0
    """For a difference of two independent estimates (`minus`): the other's seeds (`n` is the first's)."""

    @staticmethod
    def of_seeds(values: Sequence[float], method: str = "seed_t") -> "Estimate":
        """Mean, standard error and n − 1 degrees of freedom of per-seed estimates (non-finite ones dropped); no
        interval for fewer than two or for values equal to round-off (`_equal_across_seeds`)."""
        v = np.asarray([x for x in values if x is not None], dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size == 0:
            return Estimate(math.nan, n=0, method=method)
        mean = float(v.mean())
        sd = float(v.std(ddof=1)) if v.size >= 2 else math.nan
        if not sd > 0 or _equal_across_seeds(sd, mean):
            return Estimate(mean, n=int(v.size), method=method)
        return Estimate(mean, sd / math.sqrt(v.size), float(v.size - 1), int(v.size), method)

    @staticmethod
    def exact(value: float) -> "Estimate":
        """A deterministic quantity (an identity checked to round-off): no interval, judged at its value."""
        return Estimate(float(value), 0.0, math.inf, 1, "exact")

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.value) and math.isfinite(self.se) and self.df > 0

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        """The two-sided t-interval value ± t_{(1+level)/2, df}·se; (NaN, NaN) without one."""
        if not self.has_interval:
            return math.nan, math.nan
        if self.se == 0.0:
            return self.value, self.value
        half = float(stats.t.ppf(0.5 + level / 2, self.df)) * self.se
        return self.value - half, self.value + half

    def minus(self, other: "Estimate") -> "Estimate":
        """The difference of two independent estimates (another run on other seeds), Welch–Satterthwaite df."""
        if not (self.has_interval and other.has_interval):
            return Estimate(self.value - other.value, method="welch_t", n=self.n, n_other=other.n)
        v1, v2 = self.se ** 2, other.se ** 2
        se = math.sqrt(v1 + v2)
        if se == 0.0:
            return Estimate(self.value - other.value, 0.0, math.inf, self.n, "welch_t", other.n)
        df = (v1 + v2) ** 2 / ((v1 ** 2 / self.df if v1 else 0.0) + (v2 ** 2 / other.df if v2 else 0.0))
        return Estimate(self.value - other.value, se, df, self.n, "welch_t", other.n)

    def as_dict(self) -> dict[str, Any]:
        lo, hi = self.interval()
        d = {"value": _json(self.value), "se": _json(self.se), "df": _json(self.df), "n": self.n,
             "method": self.method, "lo": _json(lo), "hi": _json(hi), "level": LEVEL}
        if self.n_other:
            d["n_other"] = self.n_other
        return d

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> "Estimate":
        return Estimate(_num(d.get("value")), _num(d.get("se")), _num(d.get("df"), math.inf if d.get("method") ==
                                                                        "exact" else math.nan),
                        int(d.get("n") or 0), str(d.get("method", "seed_t")), int(d.get("n_other") or 0))

    @staticmethod
    def of_fit(d: Mapping[str, Any]) -> "Estimate":
        """From a fit dict (figures.zheng_common.slope: slope, se, df, n_seeds, method); without se and df, from its
        95% seed t-interval (ci_low/ci_high and n_seeds: se and df recovered exactly from the half-width)."""
        v = _num(d.get("slope", d.get("value")))
        n = int(d.get("n_seeds") or d.get("n") or 0)
        method = str(d.get("method", "seed_t"))
        if d.get("se") is not None and d.get("df") is not None:
            se, df = _num(d["se"]), _num(d["df"])
        else:
            lo, hi = _num(d.get("ci_low", d.get("lo"))), _num(d.get("ci_high", d.get("hi")))
            if d.get("n_seeds") is None or not all(map(math.isfinite, (v, lo, hi))) or n < 2:
                return Estimate(v, n=n, method=method)
            df = float(n - 1)
            se = (hi - lo) / 2 / float(stats.t.ppf(0.975, df))
        if method != "exact" and n >= 2 and _equal_across_seeds(se * math.sqrt(n), v):
            return Estimate(v, n=n, method=method)
        return Estimate(v, se, df, n, method)


def _num(x: Any, default: float = math.nan) -> float:
    return default if x is None else float(x)


def _json(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _band(center: float, tol: Tolerance) -> str:
    return f"{'0' if center == 0 else f'{center:g}'} ± {tol.value:g}"


@dataclass(frozen=True)
class Within:
    """Equivalence: holds when the whole interval lies in center ± tol, fails when it lies wholly outside."""

    center: float
    tol: Tolerance

    def judge(self, e: Estimate) -> Verdict:
        lo, hi = e.interval()
        a, b = self.center - self.tol.value, self.center + self.tol.value
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return Verdict.UNDECIDED
        if a <= lo and hi <= b:
            return Verdict.HOLDS
        if hi < a or lo > b:
            return Verdict.FAILS
        return Verdict.UNDECIDED

    def expected(self) -> str:
        return f"within {_band(self.center, self.tol)}"


@dataclass(frozen=True)
class Outside:
    """The mirror of `Within`: holds when the whole interval lies outside center ± tol, fails when wholly inside."""

    center: float
    tol: Tolerance

    def judge(self, e: Estimate) -> Verdict:
        inverse = Within(self.center, self.tol).judge(e)
        return {Verdict.HOLDS: Verdict.FAILS, Verdict.FAILS: Verdict.HOLDS}.get(inverse, Verdict.UNDECIDED)

    def expected(self) -> str:
        return f"outside {_band(self.center, self.tol)}"


@dataclass(frozen=True)
class Above:
    """Holds when the whole interval lies above `bound`, fails when it lies wholly below."""

    bound: float
    tol: Tolerance | None = None

    def judge(self, e: Estimate) -> Verdict:
        lo, hi = e.interval()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return Verdict.UNDECIDED
        if lo > self.bound:
            return Verdict.HOLDS
        if hi < self.bound:
            return Verdict.FAILS
        return Verdict.UNDECIDED

    def expected(self) -> str:
        return f"> {self.bound:g}"


@dataclass(frozen=True)
class Shown:
    """Measured and shown, not judged."""

    note: str = "shown"

    def judge(self, e: Estimate) -> Verdict:
        return Verdict.SHOWN

    def expected(self) -> str:
        return self.note


Criterion = Within | Outside | Above | Shown


@dataclass(frozen=True)
class Claim:
    """One declared claim: a stable `key` (the rerun is matched on it), the text, the criterion, the estimate, and
    `detail` (what else the row shows: secondary numbers, with no verdict read off them)."""

    key: str
    text: str
    criterion: Criterion
    estimate: Estimate
    detail: str = ""
    expected_note: str = ""
    conditions: tuple[str, ...] = field(default=())
    """Reasons that keep the claim from holding whatever its interval (e.g. an optimum that is not bracketed)."""
    fail_conditions: tuple[str, ...] = field(default=())
    """Reasons that keep the claim from failing whatever its interval (an optimum whose true position could move the
    estimate into the tolerance)."""
    parts: tuple[Estimate, ...] = field(default=())
    """A conjunction ("every panel is flat"): holds when every part holds, fails when one fails (an
    intersection-union test: no correction needed for holds); `estimate` is then the part shown."""

    @property
    def verdict(self) -> Verdict:
        judged = [self.criterion.judge(e) for e in (self.parts or (self.estimate,))]
        if Verdict.SHOWN in judged:
            return Verdict.SHOWN
        if Verdict.FAILS in judged:
            return Verdict.UNDECIDED if self.fail_conditions else Verdict.FAILS
        if all(v == Verdict.HOLDS for v in judged):
            return Verdict.UNDECIDED if self.conditions else Verdict.HOLDS
        return Verdict.UNDECIDED

    @property
    def expected(self) -> str:
        text = self.criterion.expected()
        if isinstance(self.criterion, (Within, Outside, Above)) and self.criterion.tol is not None:
            text += f" ({self.criterion.tol.name})"
        return f"{text}; {self.expected_note}" if self.expected_note else text

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "claim": self.text, "expected": self.expected, "estimate": self.estimate.as_dict(),
                "parts": [e.as_dict() for e in self.parts], "detail": self.detail,
                "conditions": list(self.conditions), "fail_conditions": list(self.fail_conditions),
                "verdict": self.verdict.value}


def farthest(parts: Sequence[Estimate], center: float = 0.0) -> Estimate:
    """The part whose interval (its value when it has none) reaches farthest from `center`: the one a conjunction
    shows."""
    def reach(e: Estimate) -> float:
        lo, hi = e.interval()
        vals = [v for v in (lo, hi, e.value) if math.isfinite(v)]
        return max((abs(v - center) for v in vals), default=math.inf)
    return max(parts, key=reach)


def weakest(parts: Sequence[Estimate], criterion: Criterion) -> Estimate:
    """The part nearest to breaking a conjunction: for `Within` the one reaching farthest from the center, for
    `Above` the one with the lowest lower bound."""
    if isinstance(criterion, Within):
        return farthest(parts, criterion.center)
    if isinstance(criterion, Above):
        return min(parts, key=lambda e: e.interval()[0] if math.isfinite(e.interval()[0]) else -math.inf)
    return parts[0]


def tolerance(name: str, value: float, why: str) -> Tolerance:
    """Declare a named tolerance (registered in TOLERANCES; a name declared twice with another value is an error)."""
    t = Tolerance(name, value, why)
    if TOLERANCES.setdefault(name, t) != t:
        raise ValueError(f"tolerance {name!r} declared twice with different values")
    return t


def tolerances_markdown(tolerances: Sequence[Tolerance] | None = None) -> str:
    """One bullet per tolerance (default: every declared one, by name, whatever the order modules were imported in):
    name, value, why."""
    return "".join(f"- **{t.name}** = {t.value:g}: {t.why}.\n"
                   for t in (tolerances if tolerances is not None else sorted(TOLERANCES.values(),
                                                                                     key=lambda t: t.name)))


def claims_undecided(claims: Sequence[Mapping[str, Any]]) -> list[str]:
    """Keys of the claims (as written to a summary) still undecided."""
    return [c["key"] for c in claims if c.get("verdict") == Verdict.UNDECIDED.value]


def rerun_verdict(first: Verdict, rerun: Verdict | None) -> str:
    """The table's verdict over a first run and its fresh-seed rerun: the shared verdict when they agree; "borderline"
    when they differ (holds vs fails, or either one undecided while the other decided)."""
    if rerun is None or rerun == first:
        return first.value
    return "borderline"


def fmt(e: Estimate, digits: int = 3) -> str:
    """'+v [lo, hi]' at the protocol's level, or '+v' without an interval, or 'n/a'."""
    if not math.isfinite(e.value):
        return "n/a"
    lo, hi = e.interval()
    texts = [f"{x:+.{digits}f}" for x in (e.value, lo, hi)] if math.isfinite(lo) else []
    if not texts or e.method == "exact" or len(set(texts)) == 1:
        return f"{e.value:+.{digits}f}"
    return f"{texts[0]} [{texts[1]}, {texts[2]}]"
