"""The declared claims of the Fan et al. figures wd1–wd4, read off their summaries (figures.claims).

- wd1: σ₁ and the weight RMS ∝ (η/λ)^p with p = ½ (an equivalence test on p's interval), and the ½-law's form a = b
  (η and λ varied independently: a − b near 0).
- wd2: α̂ (σ₁ ∝ d^α at fixed η, λ) is shown: the paper's 0.75 is for its LLaMA runs.
- wd3: Fan's rule keeps σ₁ flat; per fixed rule, the joint law's prediction of σ₁'s width exponent against the
  measurement (a Welch interval on the difference: the prediction's seeds are other experiments); and separability,
  −d(exponent)/de on wd3's μP runs against the b̂ wd1 measured at fixed width.
- wd4: zero-shot transfer of η and λ as drift rates over width (figures.transfer_claims).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from figures.claims import Claim, Estimate, Shown, Within, fmt, tolerance
from figures.transfer_claims import drift_claims

Summary = Mapping[str, Any]

EXPONENT = tolerance("EXPONENT", 0.1, "an exponent off by 0.1 is 1.07× per doubling, 1.3× over 16× in η/λ or width")
"""How far a measured scaling exponent may lie from its prediction for the prediction to hold."""
LABELS = {"mup_fixed": "λ₂ const (e = 0)", "e_quarter": "λ₂ ∝ d^¼", "fan_paper": "Fan's λ₂ ∝ √d",
          "e_three_quarters": "λ₂ ∝ d^¾", "constant_eta_lambda": "λ₂ ∝ d (constant ηλ)"}


def wd1_claims(s: Summary) -> list[Claim]:
    f, g = s["slope_sigma1_W_up_inner_vs_eta_over_lambda"], s["slope_w_rms_W_up_vs_eta_over_lambda"]
    out = [Claim("wd1.p_sigma1", "wd1: σ₁ ∝ (η/λ)^p at steady state (W_up, blocks 2..L)", Within(0.5, EXPONENT),
                 Estimate.of_fit(f), expected_note="paper: p = ½"),
           Claim("wd1.p_w_rms", "wd1: weight RMS ∝ (η/λ)^p (W_up)", Within(0.5, EXPONENT), Estimate.of_fit(g),
                 expected_note="paper: p = ½"),
           Claim("wd1.matched", "wd1: matched η/λ runs overlap (max/min σ₁ over η = λ multipliers)",
                 Shown("paper: overlap"), Estimate(float(s["matched_ratio_sigma1_max_over_min"]), method="none"))]
    j = s.get("joint_sigma1_W_up_inner")
    if j:
        out.append(Claim("wd1.a_equals_b", "wd1: joint fit σ₁ ∝ η^a λ^−b, η and λ varied independently: a − b",
                         Within(0.0, EXPONENT), Estimate.of_fit(j["a_minus_b"]),
                         f"a = {fmt(Estimate.of_fit(j['a']))}, b = {fmt(Estimate.of_fit(j['b']))}",
                         "the ½-law's form a = b = ½"))
    return out


def wd2_claims(s: Summary) -> list[Claim]:
    return [Claim("wd2.alpha", "wd2: σ₁ ∝ d^α at fixed (η, λ)", Shown("α ≈ 0.75 in the paper's LLaMA runs"),
                  Estimate.of_fit(s["alpha"]))]


def wd3_claims(s: Summary) -> list[Claim]:
    rules = s.get("rules") or sorted(k.removeprefix("sigma1_exponent_") for k in s if k.startswith("sigma1_exponent_"))
    out = []
    fan = s.get("sigma1_exponent_fan_paper")
    if fan:
        out.append(Claim("wd3.fan_flat", "wd3: Fan's rule λ₂ ∝ √d keeps σ₁'s width exponent at 0 under μP η₂ ∝ 1/d",
                         Within(0.0, EXPONENT), Estimate.of_fit(fan), expected_note="paper (with α = 0.75)"))
    for rule in rules:
        f = s[f"sigma1_exponent_{rule}"]
        measured = Estimate.of_fit(f)
        joint, half = Estimate.of_fit(f["predicted_joint"]), Estimate.of_fit(f["predicted_half"])
        detail = (f"measured {fmt(measured)}; joint law predicts {fmt(joint)}; ½-law (α̂) predicts {fmt(half)}, error "
                  f"{fmt(measured.minus(half))}")
        out.append(Claim(f"wd3.joint.{rule}", f"wd3 out of sample, {LABELS.get(rule, rule)} (e = {f['e']:.2f}): "
                                              f"measured − joint-law prediction of σ₁'s width exponent",
                         Within(0.0, EXPONENT), measured.minus(joint), detail))
    per = s.get("p_family_per_seed")
    law_b = (s.get("law") or {}).get("b")
    if per and law_b:
        p_fam, b = Estimate.of_seeds(list(per.values())), Estimate.of_fit(law_b)
        out.append(Claim("wd3.separable", "wd3: separability: −d(σ₁ exponent)/de on wd3's μP runs minus b̂ from wd1 "
                                          "(fixed width)", Within(0.0, EXPONENT), p_fam.minus(b),
                         f"−d exponent/de = {fmt(p_fam)}; b̂ = {fmt(b)}",
                         "a separable law σ₁ ∝ η^a λ^−b d^α: no λ × width interaction"))
    return out


def wd4_claims(s: Summary) -> list[Claim]:
    out = []
    for knob, name in (("eta", "η"), ("lam", "λ")):
        if f"transfer.fan_paper.{knob}" not in s or f"transfer.mup_fixed.{knob}" not in s:
            continue
        out += drift_claims(s, key=f"wd4.{knob}", label="wd4", rule="fan_paper", other="mup_fixed", axis=knob,
                            over="width", knob=f"{name}_base", analysis_key="transfer.{param}.{axis}",
                            summary_key="transfer_summary.{param}.{axis}",
                            other_transfers=knob == "eta", with_contrast=knob == "lam",
                            other_expected="μP's η rule holds for both" if knob == "eta"
                            else "paper: fixed λ drifts (λ ∝ √d is the fix)")
    return out
