"""Fan et al. (AdamW weight-decay steady state) figures wd1–wd4: runs, analysis (the numbers), and plots.

- wd1: sublayer gain over training and final singular spectra for Fan's six (η, λ) points (plus λ×4, λ×1/4 and a
  3×3 factorial η × λ grid, so η and λ vary independently) at one width; slope of log σ1 against log(η/λ) (expected
  0.5), the joint law σ1 ∝ η^a λ^−b fitted by per-seed least squares of log σ1 on (log η, log λ) (is a = b rejected?),
  normalized spectra.
- wd2: σ1 against width at one fixed (η, λ) for every layer (`sp` = every HP at its base value): α with a per-seed
  t-interval.
- wd3: μP (η2 ∝ 1/d) with λ2 ∝ d^e for e ∈ {0, ¼, ½, ¾, 1}, fixed in advance (μP fixed λ, Fan's √d and constant ηλ
  among them); σ1's width exponent, out of sample, against both fitted laws' predictions: the ½-law ½(a − e) + α̂
  and the joint law â·a − b̂·e + α̂ (α̂ from wd2's runs, â, b̂ from wd1's, which wd3 builds too), and the
  separability test: does the exponent fall with e at the rate b̂ that wd1 measured at fixed width?
- wd4: zero-shot transfer of η_base and λ_base from the proxy width d0: final test loss against each multiplier per
  width, for Fan's λ ∝ √d and fixed λ; the drift rate of each optimum over width (figures.drift); a sweep with an
  edge optimum is extended (sweep_extension).

Headline matrices: `PRIMARY` (W_up of blocks 2..L); W_down, block 1, the input map and weight RMS are reported beside
them. Every run is a `RunConfig` built in `figures.wd_setup` (numbers from theory; the vector-like choice is
`wd_setup.VECTOR_LIKE`). `analyze_*` return the headline numbers (used by the CI regression checks), `plot_*` draw them,
The runs are in `figures.wd_runs`, the analysis in `figures.wd_analysis`, the plots in `figures.wd_plots`; this
module holds the specs, `SPECS` (`python paper_repro.py --figure wd1` etc. draws them), and their claims are in
`figures.wd_verdicts`.
"""

from __future__ import annotations

from figures.spec import FigureContext, FigureOutput, FigureSpec
from figures.wd_analysis import (Fit, Law, analyze_wd1, analyze_wd2, analyze_wd3, analyze_wd4, extend_wd4, fitted_law,
                                 measured_alpha, measured_law, wd4_sweeps)
from figures.wd_plots import plot_wd1, plot_wd2, plot_wd3, plot_wd4
from figures.wd_runs import (FAN_SIX, PRIMARY, TYPES, WD1_POINTS, WD3_RULES, WD4_RULES, _seedless, wd1_point, wd1_runs,
                             wd2_runs, wd3_plan, wd3_runs, wd4_runs)
from figures.wd_verdicts import wd1_claims, wd2_claims, wd3_claims, wd4_claims

__all__ = ["SPECS", "FAN_SIX", "PRIMARY", "TYPES", "WD1_POINTS", "WD3_RULES", "WD4_RULES", "Fit", "Law", "analyze_wd1",
           "analyze_wd2", "analyze_wd3", "analyze_wd4", "extend_wd4", "fitted_law", "measured_alpha", "measured_law",
           "plot_wd1", "plot_wd2", "plot_wd3", "plot_wd4", "wd1_point", "wd1_runs", "wd2_runs", "wd3_plan", "wd3_runs",
           "wd4_runs", "wd4_sweeps", "split_wd3"]


def _build_wd3(ctx: FigureContext) -> list:
    """wd3's own runs and the wd1 and wd2 runs its law is fitted on (shared with those figures through the cache),
    so one set of run options (device, executor, --force, seed offset) reaches all of them."""
    return wd3_runs(ctx.scale) + wd1_runs(ctx.scale) + wd2_runs(ctx.scale)


def split_wd3(results, scale: str) -> tuple[list, list, list]:
    """(wd3, wd1, wd2) results of a wd3 build, each picked by its config (seed aside) from the plan of its figure."""
    plans = [{_seedless(c) for c in runs} for runs in (wd3_runs(scale), wd1_runs(scale), wd2_runs(scale))]
    return tuple([r for r in results if _seedless(r.config) in plan] for plan in plans)  # type: ignore[return-value]


def _plot_wd3(ctx: FigureContext, results) -> FigureOutput:
    own, r1, r2 = split_wd3(results, ctx.scale)
    return plot_wd3(ctx, own, measured_law(ctx.scale, wd1_results=r1, wd2_results=r2)[0])


SPECS: dict[str, FigureSpec] = {
    "wd1": FigureSpec("wd1", "Fan Fig. 1 analogue: sublayer gain over training and final spectra for six (η, λ); "
                             "σ1 ∝ (η/λ)^0.5", lambda ctx: wd1_runs(ctx.scale), plot_wd1, claims=wd1_claims),
    "wd2": FigureSpec("wd2", "σ1 vs width at fixed (η, λ): fitted α with a per-seed t-interval",
                      lambda ctx: wd2_runs(ctx.scale), plot_wd2, claims=wd2_claims),
    "wd3": FigureSpec("wd3", "WD rules λ2 ∝ d^e, e ∈ {0, ¼, ½, ¾, 1}, under μP η2 ∝ 1/d: σ1's width exponent against "
                             "the ½-law's and the joint law's predictions", _build_wd3, _plot_wd3, claims=wd3_claims),
    "wd4": FigureSpec("wd4", "zero-shot transfer of η_base and λ_base over width as a drift rate: Fan's √d vs fixed λ",
                      lambda ctx: wd4_runs(ctx.scale), plot_wd4,
                      lambda ctx, results: extend_wd4(results, ctx.scale), claims=wd4_claims),
}
FIGURES = SPECS
