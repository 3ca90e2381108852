"""Reports of survival (Cox) models: the training report and the external-validation report.

Training (:func:`write_training_report`, called by
:func:`radgui.report.model_report.report_from_training` for a survival-only
config): summary and methods; the LASSO-Cox cross-validation curve over the
penalty path with ``lambda.min`` / ``lambda.1se`` and the Radscore
coefficients; Kaplan-Meier by risk group; the nomogram; the final Cox model
(HR per unit and, for the Radscore, per SD of the training Radscore) and the
C-indices.

Validation (:func:`write_survival_evaluation_report`, ``radgui evaluate`` of a
Cox bundle): summary; Harrell's and Uno's C, time-dependent AUC and Brier
score at the horizon; calibration at the horizon (predicted vs Kaplan-Meier
observed risk by risk group); Kaplan-Meier by the bundle's risk groups.
Every number printed is also in ``metrics.json``. PDFs are written
atomically (:func:`radgui.files.atomic_path`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from radgui.report.extras import survival_extra_pages
from radgui.report.model_report import A4, _figure, _fmt, _km_page, _p, _pdf_pages, _table, _text_page


def _hr_rows(terms: dict) -> list[list[str]]:
    rows = []
    for k, v in terms.items():
        rows.append([k, f"{_fmt(v['hr'], 3)} [{_fmt(v.get('ci_low'), 3)}-{_fmt(v.get('ci_high'), 3)}]",
                     v.get("hr_scale", "per unit"), _p(v.get("p_value")), _fmt(v["coef"], 3)])
        if "hr_per_sd" in v:
            rows.append([f"{k} (per SD)", f"{_fmt(v['hr_per_sd'], 3)} [{_fmt(v['hr_per_sd_ci_low'], 3)}-"
                                          f"{_fmt(v['hr_per_sd_ci_high'], 3)}]",
                         f"per SD ({_fmt(v['radscore_sd'], 3)})", _p(v.get("p_value")), ""])
    return rows


def write_training_report(pdf_path, result) -> Path:
    """Report of a survival-only model: summary, LASSO-Cox, Kaplan-Meier by risk group, nomogram, metrics."""
    from radgui.plots.model_figures import CoefficientDisplay

    cfg, m, bundle = result.config, result.metrics, result.bundle
    unit = cfg.survival.get("unit", "")
    cutoff = m["cutoff"]["value"]
    with _pdf_pages(pdf_path) as pdf:
        coh = m["cohort"]
        _text_page(pdf, f"Survival model report: {cfg.name}",
                   [f"Event: {cfg.survival['event']}; time: {cfg.survival['time']} ({unit}); risk predicted at "
                    f"{cfg.survival['horizon']} {unit}. Training cohort {coh['n_train']} patients "
                    f"({coh['events_train']} events).", "Methods. " + result.methods,
                    f"Intended use: {cfg.intended_use}"])
        lasso = result.radiomics[-1].lasso_
        fig = _figure()
        ax1, ax2 = fig.subplots(2, 1)
        ax1.errorbar(lasso.lambdas_, lasso.cv_mean_, yerr=lasso.cv_se_, fmt="o-", ms=3, lw=0.8, capsize=1.5)
        ax1.axvline(lasso.lambda_min_, color="0.5", ls=":", label=f"lambda.min {lasso.lambda_min_:.3g}")
        ax1.axvline(lasso.lambda_1se_, color="0.2", ls="--", label=f"lambda.1se {lasso.lambda_1se_:.3g}")
        label = "partial-likelihood deviance per event" if lasso.score == "deviance" else "C-index"
        ax1.set(xscale="log", xlabel="lambda (L1 penalty, scikit-survival Coxnet)", ylabel=f"CV {label}",
                title=f"LASSO-Cox: {lasso.folds}-fold CV, chosen lambda.{lasso.rule} = {lasso.lambda_:.3g}"
                      + (" (no feature there: first lambda with one)" if lasso.fallback_ else ""))
        ax1.legend(fontsize="small")
        CoefficientDisplay(bundle.radscore["coefficients"]).plot(ax2)
        ax2.set_title("Radscore coefficients (log hazard per SD of each feature)")
        pdf.savefig(fig)
        _km_page(pdf, {c: result.predictions[c] for c in m["survival"]}, "linear_predictor", cutoff, unit,
                 m["survival"], lambda c, s: f"{c}{' (' + s['prediction'] + ')' if s.get('prediction') else ''}: "
                                             f"C-index {_fmt(s.get('c_index_linear_predictor'), 2)}; "
                                             f"log-rank p {_p(s.get('logrank', {}).get('p_value'))}; HR high vs low")
        if bundle.nomogram is not None:
            from radgui.plots.nomogram import NomogramDisplay

            fig = _figure((A4[0], 0.9 + 0.6 * (len(bundle.nomogram["axes"]) + 4)))
            ax = fig.add_subplot()
            NomogramDisplay(bundle).plot(ax)
            ax.set_title(f"Nomogram: {bundle.name}", fontsize=10)
            pdf.savefig(fig)
        fig = _figure()
        gs = fig.add_gridspec(2, 1)
        _table(fig.add_subplot(gs[0]), pd.DataFrame(_hr_rows(m["final_model"]["terms"]),
                                                    columns=["term", "HR [95% CI]", "scale", "p", "coefficient"]),
               "Final Cox model (the Radscore's unit is arbitrary: read its HR per SD)")
        rows = [[c + (" (external)" if s.get("prediction") else ""), _fmt(s.get("c_index_linear_predictor")),
                 _fmt(s.get("time_dependent", {}).get("auc")),
                 _fmt(s.get("calibration_at_horizon", {}).get("observed_expected"), 2),
                 _p(s.get("logrank", {}).get("p_value")), _fmt(s.get("cox_hr_high_vs_low", {}).get("hr"), 2)]
                for c, s in m["survival"].items()]
        for v in m.get("cross_validation", {}).values():
            rows.append([f"{v['repeats']} x {v['folds']}-fold CV", _fmt(v["c_index_of_mean_prediction"]), "", "", "",
                         ""])
        h = cfg.survival["horizon"]
        _table(fig.add_subplot(gs[1]), pd.DataFrame(rows, columns=["cohort", "C-index", f"AUC({h:g} {unit})",
                                                                   "observed/expected", "log-rank p", "HR high/low"]),
               f"Discrimination and calibration at {h:g} {unit} (training row: apparent)")
        pdf.savefig(fig)
        for page in survival_extra_pages(result):  # time-dependent ROC at the landmarks, K-M landmark rates
            page(pdf)
    return Path(pdf_path)


def write_survival_evaluation_report(pdf_path, *, bundle, frame: pd.DataFrame, metrics: dict,
                                     cohort_name: str = "") -> Path:
    """External-validation report of a Cox bundle (see the module docstring)."""
    td, c, cal = metrics["time_dependent"], metrics["c_index"], metrics["calibration_at_horizon"]
    unit = td.get("time_unit", "")
    h = td["horizon"]
    coh = metrics["cohort"]
    summary = [f"Model: {bundle.name} (Cox; risk of {bundle.outcome.get('name', 'the event')} by {h:g} {unit}); "
               f"intended use: {bundle.intended_use}",
               f"Validation cohort: {cohort_name} with {coh['n_test']} patients ({coh['events_test']} events; longest "
               f"follow-up {coh['longest_follow_up']:g} {unit}). Harrell's C {_fmt(c['harrell'])}, Uno's C "
               f"{_fmt(c['uno'])}; time-dependent AUC at {h:g} {unit} {_fmt(td['auc'])}; Brier score "
               f"{_fmt(td['brier'])}; observed/expected risk at the horizon {_fmt(cal['observed_expected'], 2)}; "
               f"calibration slope {_fmt(cal['slope']['value'], 2)} "
               f"[{_fmt(cal['slope']['ci_low'], 2)}-{_fmt(cal['slope']['ci_high'], 2)}]. Censoring is respected "
               f"throughout (censoring distribution: {td['censoring_distribution']}).", *metrics.get("notes", [])]
    rows = [["Harrell's C (linear predictor)", _fmt(c["harrell"])], [f"Uno's C (truncated at {h:g})", _fmt(c["uno"])],
            [f"time-dependent AUC at {h:g} {unit}", _fmt(td["auc"])],
            [f"Brier score at {h:g} {unit}", _fmt(td["brier"])],
            ["observed risk (1 - KM)", _fmt(cal["observed"])], ["mean predicted risk", _fmt(cal["mean_predicted"])],
            ["observed / expected", _fmt(cal["observed_expected"], 2)],
            ["calibration slope", _fmt(cal["slope"]["value"], 2)]]
    with _pdf_pages(pdf_path) as pdf:
        _text_page(pdf, f"External validation: {bundle.name}", summary,
                   [("Discrimination and calibration at the horizon", pd.DataFrame(rows, columns=["metric", "value"]))])
        fig = _figure((A4[0], A4[0]))
        ax = fig.add_subplot()
        g = pd.DataFrame(cal["groups"])
        err = np.vstack([g["observed"] - g["observed_ci_low"], g["observed_ci_high"] - g["observed"]])
        ax.errorbar(g["predicted"], g["observed"], yerr=np.clip(err, 0, None), fmt="o", capsize=3,
                    label="risk group (1 - Kaplan-Meier, 95% CI)")
        top = float(np.nanmax([g["predicted"].max(), g["observed_ci_high"].max(), 0.05])) * 1.05
        ax.plot([0, top], [0, top], color="0.5", ls="--", lw=0.8, label="ideal")
        ax.set(xlim=(0, top), ylim=(0, top), xlabel=f"Predicted risk of an event by {h:g} {unit}",
               ylabel=f"Observed risk by {h:g} {unit}",
               title=f"Calibration at {h:g} {unit}: O/E {_fmt(cal['observed_expected'], 2)}, slope "
                     f"{_fmt(cal['slope']['value'], 2)}")
        ax.legend(fontsize="small")
        pdf.savefig(fig)
        s = metrics["survival"]["external"]
        title = (f"external: C-index {_fmt(s.get('c_index_linear_predictor'), 2)}; "
                 f"log-rank p {_p(s.get('logrank', {}).get('p_value'))}; HR high vs low")
        _km_page(pdf, {"external": frame}, "linear_predictor", metrics["cutoff"]["value"], unit,
                 metrics["survival"], lambda _c, _s: title)
        info = pdf.infodict()
        info["Title"] = f"External validation: {bundle.name}"
        info["Creator"] = "radgui"
    return Path(pdf_path)
