"""Fan et al. (AdamW weight-decay steady state) figures wd1–wd4: runs, analysis (the numbers), and plots.

- wd1: sublayer gain over training and final singular spectra for Fan's six (η, λ) points (plus λ×4, λ×1/4 and a
  3×3 factorial η × λ grid, so η and λ vary independently) at one width; slope of log σ1 against log(η/λ) (expected
  0.5), the joint law σ1 ∝ η^a λ^−b fitted by per-seed least squares of log σ1 on (log η, log λ) (is a = b rejected?),
  normalized spectra.
- wd2: σ1 against width at one fixed (η, λ) for every layer (`sp` = every HP at its base value): α with a per-seed
  t-interval.
- wd3: μP (η2 ∝ 1/d) with λ2 ∝ d^e for the `theory.wd_rules` rules (μP fixed λ, Fan's √d, constant ηλ), the rule
  built from the α̂ measured in wd2 (½-law: e = 2α̂ − 1) and the joint law's σ1-invariant rule e* = (â·a + α̂)/b̂
  (â, b̂ from wd1); σ1's width exponent, out of sample, against both predictions: the ½-law ½(a − e) + α̂ and the
  joint law â·a − b̂·e + α̂ (per-seed t-intervals).
- wd4: zero-shot transfer of η_base and λ_base from the proxy width d0: final test loss against each multiplier per
  width, for the joint law's flat rule, Fan's λ ∝ √d and fixed λ; sub-grid optima, shifts and regrets with
  seed-bootstrap intervals (figures.transfer_metric); a sweep with an edge optimum is extended (sweep_extension).

Headline matrices: `PRIMARY` (W_up of blocks 2..L); W_down, block 1, the input map and weight RMS are reported beside
them. Every run is a `RunConfig` built in `figures.wd_setup` (numbers from theory; the vector-like choice is
`wd_setup.VECTOR_LIKE`). `analyze_*` return the headline numbers (used by the CI regression checks), `plot_*` draw them,
The runs are in `figures.wd_runs`, the analysis in `figures.wd_analysis`, the plots in `figures.wd_plots`; this
module holds the specs, `SPECS` (`python paper_repro.py --figure wd1` etc. draws them). wd3/wd4 read α̂ from
wd2's runs and â, b̂ from wd1's runs in the cache (trained first if missing).
"""

from __future__ import annotations

from figures.spec import FigureContext, FigureOutput, FigureSpec
from figures.wd_analysis import (Fit, Law, analyze_wd1, analyze_wd2, analyze_wd3, analyze_wd4, extend_wd4, fitted_law,
                                 measured_alpha, measured_law, wd4_sweeps)
from figures.wd_plots import plot_wd1, plot_wd2, plot_wd3, plot_wd4
from figures.wd_runs import (FAN_SIX, PRIMARY, TYPES, WD1_POINTS, WD3_RULES, WD4_RULES, _ctx_cache, wd1_point, wd1_runs,
                             wd2_runs, wd3_plan, wd3_runs, wd4_runs)

__all__ = ["SPECS", "FAN_SIX", "PRIMARY", "TYPES", "WD1_POINTS", "WD3_RULES", "WD4_RULES", "Fit", "Law", "analyze_wd1",
           "analyze_wd2", "analyze_wd3", "analyze_wd4", "extend_wd4", "fitted_law", "measured_alpha", "measured_law",
           "plot_wd1", "plot_wd2", "plot_wd3", "plot_wd4", "wd1_point", "wd1_runs", "wd2_runs", "wd3_plan", "wd3_runs",
           "wd4_runs", "wd4_sweeps"]

def _law_for(ctx: FigureContext) -> Law:
    return measured_law(ctx.scale, device=ctx.device, cache_dir=_ctx_cache(ctx))[0]


def _build_wd3(ctx: FigureContext) -> list:
    law = _law_for(ctx)
    return wd3_runs(ctx.scale, law.alpha.slope, law)


def _plot_wd3(ctx: FigureContext, results) -> FigureOutput:
    return plot_wd3(ctx, results, _law_for(ctx))


def _build_wd4(ctx: FigureContext) -> list:
    return wd4_runs(ctx.scale, _law_for(ctx))


def _plot_wd4(ctx: FigureContext, results) -> FigureOutput:
    return plot_wd4(ctx, results, _law_for(ctx))


SPECS: dict[str, FigureSpec] = {
    "wd1": FigureSpec("wd1", "Fan Fig. 1 analogue: sublayer gain over training and final spectra for six (η, λ); "
                             "σ1 ∝ (η/λ)^0.5", lambda ctx: wd1_runs(ctx.scale), plot_wd1),
    "wd2": FigureSpec("wd2", "σ1 vs width at fixed (η, λ): fitted α with a per-seed t-interval",
                      lambda ctx: wd2_runs(ctx.scale), plot_wd2),
    "wd3": FigureSpec("wd3", "WD rules under μP η2 ∝ 1/d: σ1 width exponent vs the predicted −1/2 + α − e/2",
                      _build_wd3, _plot_wd3),
    "wd4": FigureSpec("wd4", "zero-shot transfer of η_base and λ_base with sub-grid optima and regret: the joint "
                             "law's flat rule, Fan's √d and fixed λ", _build_wd4, _plot_wd4,
                      lambda ctx, results: extend_wd4(results, ctx.scale, _law_for(ctx))),
}
FIGURES = SPECS
