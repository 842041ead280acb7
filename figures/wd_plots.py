"""Fan et al. figures wd1–wd4: the plots (each draws its analysis from `figures.wd_analysis`)."""

from __future__ import annotations

import numpy as np

from figures import wd_setup as ws
from figures.spec import FigureContext, FigureOutput
from figures.wd_analysis import Fit, JointFit, Law, analyze_wd1, analyze_wd2, analyze_wd3, analyze_wd4
from figures.wd_runs import ALPHA_PAPER, FAN_SIX, P_PAPER, PRIMARY, PRIMARY_LABEL, TYPES, WD3_COLORS, WD3_LABELS

RATIO_COLORS = {0.25: "#8c564b", 0.5: "#d62728", 1.0: "#1f77b4", 2.0: "#2ca02c", 4.0: "#ff7f0e"}
ETA_STYLES = {4.0: ":", 2.0: "--", 1.0: "-", 0.5: "-."}


def _ratio_key(em: float, lm: float) -> float:
    return em / lm


def _steady_note(st: dict) -> str:
    return (f"{st['timescales_min']:.0f}–{st['timescales_max']:.0f} timescales 1/(η₂λ₂); "
            f"steady (σ₁ within 15% over last 10%): {st['steady_ok']}/{st['runs']}")


def plot_wd1(ctx: FigureContext, results) -> FigureOutput:
    from figures.plotting import log2_axis, new_figure, note

    a = analyze_wd1(results, ctx.scale)
    s = ws.setting(ctx.scale)
    fig, axes = new_figure(1, 5, panel_w=3.7, panel_h=3.2,
                           title=f"wd1 (Fan Fig. 1 analogue): AdamW steady state, width {s.wd1_width}, depth "
                                 f"{s.depth}, pre-norm ReLU FFN; {PRIMARY_LABEL} averaged; {_steady_note(a['steady'])}")
    ax_g, ax_s, ax_n, ax_r, ax_j = axes[0]
    seed0 = min(r["seed"] for r in a["runs"])
    shown = sorted((r for r in a["runs"] if r["seed"] == seed0 and r["label"] in FAN_SIX),
                   key=lambda r: FAN_SIX.index(r["label"]))
    for r in shown:
        c = RATIO_COLORS.get(_ratio_key(r["eta_mult"], r["lam_mult"]), "0.3")
        ls = ETA_STYLES.get(r["eta_mult"], "-") if r["eta_mult"] == r["lam_mult"] else "-"
        lbl = f"{r['label']} (η/λ ×{r['ratio'] / shown[0]['ratio']:g}, ηλ ×{r['eta_mult'] * r['lam_mult']:g})"
        t, g = r["gain_series"]
        ax_g.plot(t, g, color=c, linestyle=ls, label=lbl)
        sp = r["spectrum"]
        idx = np.arange(1, sp.size + 1)
        ax_s.plot(idx, sp, color=c, linestyle=ls, label=lbl)
        ax_n.plot(idx, sp / sp[0], color=c, linestyle=ls, label=lbl)
    ax_g.set(xscale="log", yscale="log", xlabel="training step", ylabel="sublayer gain ‖Wx‖_rms / ‖x‖_rms",
             title=f"(a) gain over training (seed {seed0})")
    ax_s.set(xscale="log", yscale="log", xlabel="index i", ylabel="singular value σ_i (final)",
             title="(b) final singular spectra")
    ax_s.legend(loc="lower left", fontsize=6)
    ax_n.set(xscale="log", yscale="log", xlabel="index i", ylabel="σ_i / σ₁", title="(c) normalized spectra")
    note(ax_n, f"max |Δ log(σ_i/σ₁)| vs base:\ni ≤ rank/2: {a['spectrum_log_spread_half']:.2f}\n"
               f"i ≤ 0.8·rank: {a['spectrum_log_spread']:.2f} (digest: ≲ 0.1)", loc="lower left")
    # (d) every scale relative to its geometric mean, against η/λ relative to base, with the slope-0.5 reference
    base_ratio = next(r["ratio"] for r in a["runs"] if r["label"] == "base")
    rat = np.array([r["ratio"] for r in a["runs"]]) / base_ratio
    jitter = {"sigma1_W_up_inner": 0.94, "sigma1_W_down_inner": 0.98, "w_rms_W_up": 1.02, "sigma1_input": 1.06}
    for key, color, marker, name in (("sigma1_W_up_inner", "#1f77b4", "o", "σ₁ W_up (blocks 2..L)"),
                                     ("sigma1_W_down_inner", "#ff7f0e", "v", "σ₁ W_down (blocks 2..L)"),
                                     ("w_rms_W_up", "#2ca02c", "s", "entry RMS of W_up"),
                                     ("sigma1_input", "#7f7f7f", "^", "σ₁ input map")):
        y = np.array([r[key] for r in a["runs"]])
        y = y / np.exp(np.mean(np.log(y)))
        f = a["fits"][key]
        ax_r.scatter(rat * jitter[key], y, color=color, marker=marker, s=14, alpha=0.8,
                     label=f"{name}: {f.text()}")
        xs = np.geomspace(rat.min(), rat.max(), 20)
        ax_r.plot(xs, np.exp(f.slope * (np.log(xs) - np.mean(np.log(rat)))), color=color, linewidth=1)
    xs = np.geomspace(rat.min(), rat.max(), 20)
    ax_r.plot(xs, np.exp(0.5 * (np.log(xs) - np.mean(np.log(rat)))), color="black", linestyle="--", linewidth=1.2,
              label="expected slope 0.5 (√(η/λ))")
    log2_axis(ax_r, "x")
    ax_r.set(yscale="log", xlabel="η₂/λ₂ relative to base", ylabel="value / geometric mean over runs",
             title="(d) steady-state scale vs η/λ: fitted slopes [95% CI]")
    ax_r.legend(loc="upper left", fontsize=6)
    # (e) the joint law: measured σ1 against the per-seed fit exp(c_s) η^a_s λ^−b_s, every run, coloured by λ multiplier
    j: JointFit = a["joint"][f"sigma1_{PRIMARY}"]
    lam_colors = dict(zip(sorted({r["lam_mult"] for r in a["runs"]}), ("#8c564b", "#d62728", "#1f77b4", "#2ca02c",
                                                                     "#ff7f0e", "#7f7f7f")))
    for lm, color in lam_colors.items():
        mine = [r for r in a["runs"] if r["lam_mult"] == lm]
        ax_j.scatter([r["eta_mult"] for r in mine], [r[f"sigma1_{PRIMARY}"] for r in mine], color=color, s=12,
                     alpha=0.8, label=f"λ×{lm:g}")
        if np.isfinite(j.a.slope):
            ems = np.array(sorted({r["eta_mult"] for r in mine}))
            c = np.mean([np.log(r[f"sigma1_{PRIMARY}"]) - j.a.slope * np.log(r["eta_mult"])
                         + j.b.slope * np.log(r["lam_mult"]) for r in a["runs"]])
            ax_j.plot(ems, np.exp(c) * ems ** j.a.slope * lm ** -j.b.slope, color=color, linewidth=1)
    log2_axis(ax_j, "x")
    verdict = "rejected" if j.a_equals_b_rejected else "not rejected"
    ax_j.set(yscale="log", xlabel="η multiplier", ylabel=f"σ₁ ({PRIMARY_LABEL})",
             title=f"(e) joint fit σ₁ ∝ η^a λ^−b (lines: seed-mean fit)")
    note(ax_j, f"a = {j.a.text()}\nb = {j.b.text()}\na − b = {j.diff.text()}: a = b {verdict}", loc="lower right")
    ax_j.legend(loc="upper left", fontsize=6)
    _tidy(fig)
    rows = []
    for r in a["runs"]:
        base = {k: v for k, v in r.items() if k not in ("gain_series", "spectrum")}
        rows.append({**base, "kind": "final"})
        t, g = r["gain_series"]
        rows += [{"label": r["label"], "seed": r["seed"], "kind": "gain_series", "step": int(tt), "value": float(gg)}
                 for tt, gg in zip(t, g)]
        rows += [{"label": r["label"], "seed": r["seed"], "kind": "spectrum", "index": i + 1, "value": float(v)}
                 for i, v in enumerate(r["spectrum"])]
    summary = {**{f"slope_{k}_vs_eta_over_lambda": f.as_dict() for k, f in a["fits"].items()},
               "slope_input_sigma1_vs_eta_over_lambda": a["fits"]["sigma1_input"].as_dict(),
               "spectrum_log_spread": a["spectrum_log_spread"],
               "spectrum_log_spread_half_rank": a["spectrum_log_spread_half"], "matched_ratio_sigma1_max_over_min":
               a["matched_sigma1_spread"], "steady": a["steady"], "vector_like": ws.vector_like_note(),
               **{f"joint_{k}": j.as_dict() for k, j in a["joint"].items()},
               "joint_quantity": PRIMARY_LABEL}
    return FigureOutput(fig, rows, summary)


def _tidy(fig) -> None:
    """tight_layout without matplotlib's layout-engine warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()


def _ref_slope(ax, x, y0, slope, label, style):
    xs = np.array([min(x), max(x)], dtype=float)
    ax.plot(xs, y0 * (xs / xs[0]) ** slope, color="0.4", linestyle=style, linewidth=1, label=label)


def plot_wd2(ctx: FigureContext, results) -> FigureOutput:
    from figures.plotting import line_with_band, log2_axis, new_figure

    a = analyze_wd2(results)
    s = ws.setting(ctx.scale)
    widths = sorted({r["width"] for r in a["rows"]})
    fig, axes = new_figure(1, 3, panel_w=3.7, panel_h=3.1,
                           title=f"wd2: steady-state σ₁ vs width at fixed (η, λ) = ({s.eta:g}, {s.lam:g}) for every "
                                 f"layer; {len(s.seeds)} seeds, 95% bands; {_steady_note(a['steady'])}")
    ax1, ax2, ax3 = axes[0]
    colors = {"W_up": "#1f77b4", "W_down": "#ff7f0e"}
    for t in TYPES:
        per = [[r[f"sigma1_{t}_inner"] for r in a["rows"] if r["width"] == w] for w in widths]
        f = a["fits"][f"sigma1_{t}_inner"]
        line_with_band(ax1, widths, per, label=f"{t} (blocks 2..L): α = {f.text()}", color=colors[t])
    f = a["alpha"]
    m0 = np.mean([r[f"sigma1_{PRIMARY}"] for r in a["rows"] if r["width"] == widths[0]])
    _ref_slope(ax1, widths, m0, 0.5, "slope 0.5 (random bulk)", ":")
    _ref_slope(ax1, widths, m0, ALPHA_PAPER, "slope 0.75 (Fan, LLaMA)", "--")
    log2_axis(ax1, "x")
    ax1.set(yscale="log", xlabel="width d", ylabel="σ₁ (final, steady window)",
            title=f"(a) σ₁ ∝ d^α; α̂ ({PRIMARY_LABEL}) = {f.text()}")
    ax1.legend(fontsize=6.5, loc="upper left")
    for t in TYPES:
        per = [[r[f"w_rms_{t}"] for r in a["rows"] if r["width"] == w] for w in widths]
        line_with_band(ax2, widths, per, label=f"{t}: slope {a['fits'][f'w_rms_{t}'].text()}", color=colors[t])
    ax2.axhline(np.mean(per[0]), color="0.4", linestyle="--", linewidth=1, label="pure-noise prediction: flat")
    log2_axis(ax2, "x")
    ax2.set(yscale="log", xlabel="width d", ylabel="entry RMS of W", title="(b) weight RMS (bulk)")
    ax2.legend(fontsize=6.5)
    per = [[r["gain_W_up"] for r in a["rows"] if r["width"] == w] for w in widths]
    line_with_band(ax3, widths, per, label=f"W_up gain: slope {a['fits']['gain_W_up'].text()}", color="#9467bd")
    log2_axis(ax3, "x")
    ax3.set(yscale="log", xlabel="width d", ylabel="sublayer gain", title="(c) sublayer gain")
    ax3.legend(fontsize=6.5)
    _tidy(fig)
    summary = {"alpha": f.as_dict(), "alpha_quantity": PRIMARY_LABEL,
               **{f"alpha_{k}": v.as_dict() for k, v in a["fits"].items()},
               **{f"w_rms_width_exponent_{t}": a["fits"][f"w_rms_{t}"].as_dict() for t in TYPES},
               "alpha_paper": ALPHA_PAPER, "steady": a["steady"]}
    return FigureOutput(fig, a["rows"], summary)


def plot_wd3(ctx: FigureContext, results, law: Law) -> FigureOutput:
    from figures.plotting import log2_axis, new_figure, note

    alpha_fit: Fit = law.alpha
    a = analyze_wd3(results, law, ctx.scale)
    widths = a["widths"]
    joint_text = (f"; joint law â = {law.a.text()}, b̂ = {law.b.text()} (wd1), e* = {law.e_star:.2f}" if law.joint
                  else "")
    fig, axes = new_figure(1, 2, panel_w=4.3, panel_h=3.3,
                           title=f"wd3: weight-decay rules under μP η₂ ∝ 1/d (α̂ = {alpha_fit.text()} from wd2"
                                 f"{joint_text});\n{_steady_note(a['steady'])}")
    ax1, ax2 = axes[0]
    for rule in a["rules"]:
        mine = [r for r in a["rows"] if r["rule"] == rule]
        means = np.array([np.mean([r[f"sigma1_{PRIMARY}"] for r in mine if r["width"] == w]) for w in widths])
        f = a["fits"][rule]["sigma1"]
        ax1.plot(widths, means / means[0], marker="o", color=WD3_COLORS[rule],
                 label=f"{WD3_LABELS[rule]} (e={a['fits'][rule]['e']:.2f}): {f.text()}")
        for r in mine:
            ax1.scatter([r["width"]], [r[f"sigma1_{PRIMARY}"] / means[0]], color=WD3_COLORS[rule], s=8, alpha=0.5)
    ax1.axhline(1.0, color="black", linestyle="--", linewidth=1, label="invariant (exponent 0)")
    log2_axis(ax1, "x")
    ax1.set(yscale="log", xlabel="width d", ylabel="σ₁(d) / σ₁(d₀)  (seed mean; dots: seeds)",
            title="(a) steady-state σ₁ across width per rule")
    ax1.legend(fontsize=6, loc="upper left")
    es = np.linspace(-0.2, 1.2, 50)
    pred = np.array([ws.predicted_sigma1_exponent(e, alpha=alpha_fit.slope, p=P_PAPER) for e in es])
    ax2.plot(es, pred, color="black", label="predicted −1/2 + α̂ − e/2")
    if np.isfinite(alpha_fit.lo):
        lo = [ws.predicted_sigma1_exponent(e, alpha=alpha_fit.lo, p=P_PAPER) for e in es]
        hi = [ws.predicted_sigma1_exponent(e, alpha=alpha_fit.hi, p=P_PAPER) for e in es]
        ax2.fill_between(es, lo, hi, color="0.5", alpha=0.2, linewidth=0, label="α̂ 95% CI")
    ax2.plot(es, [ws.predicted_sigma1_exponent(e, alpha=ALPHA_PAPER, p=P_PAPER) for e in es], color="0.5",
             linestyle=":", label="paper's α = 0.75")
    if law.joint:
        ax2.plot(es, [law.predicted(e, "joint").slope for e in es], color="#ff7f0e", linestyle="--",
                 label="joint law â·a − b̂·e + α̂ (wd1+wd2)")
    ax2.axhline(0.0, color="0.3", linestyle="--", linewidth=0.8)
    ax2.axhspan(-0.1, 0.1, color="#1f77b4", alpha=0.07, label="|exponent| ≤ 0.1")
    for rule in a["rules"]:
        f = a["fits"][rule]["sigma1"]
        e = a["fits"][rule]["e"]
        ax2.errorbar([e], [f.slope], yerr=[[f.slope - f.lo], [f.hi - f.slope]], color=WD3_COLORS[rule], marker="o",
                     capsize=3, linestyle="none", label=WD3_LABELS[rule])
    ax2.set(xlabel="rule exponent e (λ₂ ∝ d^e)", ylabel="measured width exponent of σ₁",
            title="(b) σ₁ exponent vs rule")
    law_b = f"; joint law: b̂ = {law.b.slope:.2f}" if law.joint else ""
    note(ax2, f"fitted −dexp/de = {a['p_family']:.2f} (½-law: 0.5{law_b})", loc="lower left")
    ax2.legend(fontsize=6, loc="upper right")
    _tidy(fig)
    def rule_summary(r: str) -> dict:
        f = a["fits"][r]
        return {**f["sigma1"].as_dict(), "e": f["e"], "predicted": f["predicted"],
                "predicted_half": f["predicted_half"].as_dict(), "predicted_joint": f["predicted_joint"].as_dict(),
                "error_half": f["error_half"], "error_joint": f["error_joint"],
                "per_seed": {str(k): v for k, v in f["per_seed"].items()}}

    summary = {"alpha_hat": alpha_fit.as_dict(), "p_family": a["p_family"], "steady": a["steady"],
               "p_family_per_seed": {str(k): v for k, v in a["p_family_per_seed"].items()},
               "b_per_seed": {str(s_): b for s_, _, _, b in law.per_seed if b is not None},
               "rules": list(a["rules"]),
               "vector_like": ws.vector_like_note(), "law": law.as_dict(),
               **{f"sigma1_exponent_{r}": rule_summary(r) for r in a["rules"]}}
    return FigureOutput(fig, a["rows"], summary)


def plot_wd4(ctx: FigureContext, results) -> FigureOutput:
    from figures.plotting import new_figure
    from figures.sweep_panels import draw_sweep

    a = analyze_wd4(results, ctx.scale)
    s = ws.setting(ctx.scale)
    rules = a["rules"]
    fig, axes = new_figure(len(rules), 2, panel_w=4.8, panel_h=3.1,
                           title=f"wd4: zero-shot transfer of η_base and λ_base from d₀ = {s.d0} to "
                                 f"d = {', '.join(map(str, s.transfer_widths[1:]))}, μP η₂ ∝ 1/d, λ₂ ∝ d^e per rule; "
                                 f"{len(s.wd4_seeds)} seeds\n{_steady_note(a['steady'])}")
    for i, rule in enumerate(rules):
        for j, (knob, xl) in enumerate((("eta", "η_base"), ("lam", "λ_base"))):
            t = a["transfer"].get((rule, knob))
            if t is None:
                continue
            ax = axes[i, j]
            draw_sweep(ax, t["curves"], t["analysis"], symbol="d", ylabel="final test loss (clean labels)",
                       title=f"{WD3_LABELS[rule]} (e = {a['e'][rule]:.2f}): {xl} sweep")
            ax.set_xlabel(f"log₂ {xl} multiplier")
            sm = t["summary"]
            if not sm:
                continue
            ws_, wr = sm["worst_shift"], sm["worst_regret"]
            from figures.plotting import note

            note(ax, f"worst shift {ws_['value']:+.2f} oct at d={ws_['shape']}\n"
                     f"worst regret {100 * wr['value']:.1f}%", loc="upper left")
    _tidy(fig)
    summary = {"steady": a["steady"], "rules": list(rules), "e": a["e"],
               "d0": s.d0, "transfer_widths": list(s.transfer_widths), "seeds": list(s.wd4_seeds),
               **{f"transfer.{r}.{k}": t["analysis"] for (r, k), t in a["transfer"].items()},
               **{f"transfer_summary.{r}.{k}": t["summary"] for (r, k), t in a["transfer"].items()}}
    return FigureOutput(fig, a["rows"], summary)
