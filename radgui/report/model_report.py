"""The model validation report: a multi-page PDF plus ``metrics.json``.

Pages: summary with the TRIPOD-style methods paragraph and the cohort
tables; LASSO path, CV curve and Radscore coefficients; ROC curves with AUC
CIs and pairwise DeLong p-values; calibration curves with Hosmer-Lemeshow;
decision curves; confusion matrices and metrics at the Youden cutoff and
waterfall plots; Kaplan-Meier curves by predicted risk group with log-rank p
and Cox HR; the nomogram. Every number printed is also in ``metrics.json``.

Figures are built with :class:`matplotlib.figure.Figure` and written with
:class:`matplotlib.backends.backend_pdf.PdfPages` (no pyplot, no Qt). Every
file is written atomically through :mod:`radgui.files`; the outputs of a
training run form one set with a ``manifest.json`` written last.

References
----------
Collins GS, Reitsma JB, Altman DG, Moons KGM. Transparent reporting of a
multivariable prediction model for individual prognosis or diagnosis
(TRIPOD). Ann Intern Med 2015;162:55-63.
"""

from __future__ import annotations

import contextlib
import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from radgui.files import atomic_path, output_set, write_csv, write_text

A4 = (8.27, 11.69)
#: File names of a training run's outputs (with ``manifest.json``, see :func:`radgui.files.output_set`).
BUNDLE_NAME, REPORT_NAME, METRICS_NAME = "model.radgui-model", "report.pdf", "metrics.json"
PREDICTIONS_NAME = "predictions.csv"
NAMES = {"radiomics": "Radiomics (Radscore)", "clinical": "Clinical", "combined": "Combined (nomogram)",
         "model": "Model"}


@contextlib.contextmanager
def _pdf_pages(pdf_path):
    """:class:`PdfPages` on a temporary file that becomes ``pdf_path`` only when every page is written.

    On a full disk matplotlib raises the ``OSError`` from ``savefig`` and then,
    closing, a ``zlib.error`` from the half-written stream; the close is made
    quiet so the ``OSError`` (reported as "disk full" naming the report)
    is what propagates, and the partial file is removed.
    """
    from matplotlib.backends.backend_pdf import PdfPages

    with atomic_path(pdf_path) as tmp:
        pdf = PdfPages(tmp)
        try:
            yield pdf
        except BaseException:
            with contextlib.suppress(Exception):
                pdf.close()
            raise
        pdf.close()


def _figure(size=A4):
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def _fmt(v, d=3):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "NA"
    return f"{v:.{d}f}"


def _p(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "NA"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


#: Colours of the predicted groups: the worse-prognosis group is drawn in the warning colour.
_WORSE, _BETTER = "#d62728", "#1f77b4"


def _km_page(pdf, frames, score, cutoff, time_unit, survival, title, direction: str = "adverse",
             outcome_name: str = "the outcome") -> None:
    """One PDF page: Kaplan-Meier by predicted group (``score >= cutoff`` is "high") for each cohort.

    ``frames`` maps cohort -> predictions (``time``, ``event``, ``score``);
    ``survival`` maps cohort -> its survival metrics; ``title(cohort, metrics)``
    gives the start of each panel's title, which ends with the Cox HR and its CI.
    Group names and colours follow the outcome ``direction``: "High risk" /
    "Low risk" for an adverse outcome, "High probability of <outcome>" / "Low
    probability of <outcome>" for a favourable one; the group with the worse
    prognosis is red.
    """
    from radgui.model.config import is_worse_group, risk_group_label
    from radgui.plots.curves import KaplanMeierDisplay

    fig = _figure()
    axes = fig.subplots(len(frames), 1, squeeze=False)[:, 0]
    names = {g: risk_group_label(g, direction, outcome_name) for g in ("high", "low")}
    for ax, (c, frame) in zip(axes, frames.items()):
        group = np.where(frame[score].to_numpy() >= cutoff, names["high"], names["low"])
        present = sorted(set(group))  # KaplanMeierDisplay draws groups in sorted order
        ax.set_prop_cycle(color=[_WORSE if is_worse_group("high" if g == names["high"] else "low", direction)
                                 else _BETTER for g in present])
        KaplanMeierDisplay.from_survival(frame["time"], frame["event"], group,
                                         time_label=f"Time ({time_unit})" if time_unit else "Time", ax=ax)
        s = survival[c]
        hr = s.get("cox_hr_high_vs_low", {})
        ax.set_title(textwrap.fill(f"{title(c, s)} {_fmt(hr.get('hr'), 2)} [{_fmt(hr.get('ci_low'), 2)}-"
                                   f"{_fmt(hr.get('ci_high'), 2)}]", 120), fontsize=8)
    pdf.savefig(fig)


#: How each cohort's predictions were obtained, for figure titles.
KIND = {"train": "apparent: training patients scored by the model fitted on them",
        "test": "held-out test cohort", "external": "external cohort",
        "cross-validated": "validated: out-of-fold predictions of nested cross-validation"}


def _kind(c: str) -> str:
    return KIND.get(c, c)


def _cohort_label(c: str) -> str:
    """Table label of a cohort: the training predictions are marked as apparent."""
    return {"train": "train (apparent)", "cross-validated": "nested CV (OOF)"}.get(c, c)


def figure_cohorts(cohorts) -> list[str]:
    """The cohorts whose predictions the figures are drawn from: validated ones when the design has them.

    Held-out/external cohorts and the cross-validated (out-of-fold)
    predictions; the training (apparent) predictions only when there is no
    validated one, and then labelled as apparent.
    """
    validated = [c for c in cohorts if c != "train"]
    return validated or [c for c in cohorts if c == "train"]


def to_json(metrics: dict) -> str:
    """``metrics`` as JSON: numpy types converted, NaN/inf written as null."""
    def clean(o):
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if isinstance(o, np.ndarray):
            return clean(o.tolist())
        if isinstance(o, (np.floating, float)):
            return float(o) if math.isfinite(o) else None
        if isinstance(o, (np.integer,)):
            return int(o)
        if isinstance(o, np.bool_):
            return bool(o)
        return o
    return json.dumps(clean(metrics), indent=1, allow_nan=False)


def _table(ax, frame: pd.DataFrame, title=None, fontsize=7, col_widths=None):
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    cells = frame.astype(str).to_numpy().tolist()
    tab = ax.table(cellText=cells, colLabels=list(frame.columns), loc="upper left", cellLoc="left",
                   colLoc="left", colWidths=col_widths)
    tab.auto_set_font_size(False)
    tab.set_fontsize(fontsize)
    tab.scale(1, 1.25)
    return tab


def _text_page(pdf, title, paragraphs, tables=()):
    fig = _figure()
    n_tab = len(tables)
    gs = fig.add_gridspec(1 + n_tab, 1, height_ratios=[1.2] + [1.0] * n_tab)
    ax = fig.add_subplot(gs[0])
    ax.axis("off")
    y = 1.0
    ax.text(0, y, title, fontsize=14, fontweight="bold", va="top", transform=ax.transAxes)
    y -= 0.07
    for para in paragraphs:
        wrapped = textwrap.fill(para, 110)
        ax.text(0, y, wrapped, fontsize=8, va="top", transform=ax.transAxes, family="DejaVu Sans")
        y -= 0.035 * (wrapped.count("\n") + 1) + 0.03
    for i, (name, frame) in enumerate(tables):
        _table(fig.add_subplot(gs[1 + i]), frame, name, col_widths=[0.34, 0.2, 0.2, 0.13, 0.1])
    pdf.savefig(fig)


def write_report(pdf_path, *, title: str, summary: list[str], metrics: dict, predictions: dict,
                 models: list[str], cutoff: float, bundle=None, lasso=None, cohort_tables: dict | None = None,
                 survival: bool = False, time_unit: str = "", outcome_labels=("0", "1"),
                 direction: str = "adverse", outcome_name: str = "the outcome", extra_pages=(),
                 comparison=None) -> Path:
    """Write the validation report PDF.

    Parameters
    ----------
    pdf_path : path
    title : str
    summary : list of str
        Paragraphs of the first page (the methods paragraph among them).
    metrics : dict
        ``metrics["models"][cohort][model]`` with ``auc``, CIs, ``hosmer_lemeshow``,
        ``calibration``, ``at_cutoff``; ``metrics["models"][cohort]["delong"]``;
        ``metrics["survival"][cohort]`` when ``survival``.
    predictions : dict cohort -> DataFrame
        Columns ``y``, one per model (probabilities), optional ``time``/``event``.
    models : list of str
        Model columns to draw.
    cutoff : float
        Probability cutoff (Youden, from training).
    bundle : ModelBundle, optional
        Its nomogram is drawn when it has one.
    lasso : fitted LassoLogisticCV, optional
    direction : {"adverse", "favourable"}
        The outcome's direction: names and colours of the Kaplan-Meier groups.
    outcome_name : str
        The outcome's name in group labels ("High probability of <outcome_name>").
    extra_pages : sequence of callable(pdf)
        Pages drawn at the end (:func:`radgui.report.extras.extra_pages`: selection frequencies,
        Radscore by outcome, Cox tables, Kaplan-Meier landmarks, time-dependent ROC).
    comparison : callable(pdf), optional
        Draws the model comparison of a multi-model run before the metrics tables.

    Notes
    -----
    Figures (ROC, calibration, decision curves, confusion matrices, waterfall,
    Kaplan-Meier) are drawn from validated predictions (held-out, external,
    out-of-fold) when the design has them, and from the apparent training
    predictions only when it has none; every title says which.
    """
    from radgui.plots.curves import CalibrationDisplay, DecisionCurveDisplay, RocDisplay
    from radgui.plots.model_figures import (
        CoefficientDisplay,
        ConfusionMatrixDisplay,
        LassoCVDisplay,
        LassoPathDisplay,
        WaterfallDisplay,
    )
    from radgui.errors import StatsInputError
    from radgui.stats import calibration, roc_auc, roc_curve

    pdf_path = Path(pdf_path)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    all_cohorts = [c for c in predictions if c in metrics.get("models", {})]
    cohorts = figure_cohorts(all_cohorts)
    final = "combined" if "combined" in models else models[-1]
    with _pdf_pages(pdf_path) as pdf:
        tables = [(f"Cohort characteristics by outcome: {k}", t.assign(
            p_value=t["p_value"].map(_p))) for k, t in (cohort_tables or {}).items()]
        _text_page(pdf, title, summary, tables[:2])

        # LASSO
        if lasso is not None and hasattr(lasso, "coef_path_"):
            fig = _figure()
            axes = fig.subplots(3, 1, height_ratios=[1, 1, 0.8])
            LassoPathDisplay.from_estimator(lasso).plot(axes[0])
            LassoCVDisplay.from_estimator(lasso).plot(axes[1])
            if bundle is not None and bundle.radscore is not None:
                CoefficientDisplay(bundle.radscore["coefficients"], bundle.radscore["intercept"]).plot(axes[2])
            else:
                axes[2].axis("off")
            fig.suptitle(f"LASSO: lambda.min {lasso.lambda_min_:.4g}, lambda.1se {lasso.lambda_1se_:.4g} "
                         f"(used: {lasso.lambda_:.4g}), {len(lasso.selected_)} features selected", fontsize=10)
            pdf.savefig(fig)

        # ROC + DeLong
        fig = _figure()
        axes = fig.subplots(len(cohorts) + 1, 1, squeeze=False,
                            height_ratios=[1] * len(cohorts) + [0.35 * len(cohorts)])[:, 0]
        rows = []
        for ax, c in zip(axes, cohorts):
            frame = predictions[c]
            y = frame["y"].to_numpy()
            for mname in models:
                fpr, tpr, _ = roc_curve(y, frame[mname].to_numpy())
                RocDisplay(fpr, tpr, roc_auc(y, frame[mname].to_numpy()), NAMES.get(mname, mname)).plot(ax)
            ax.set_title(f"ROC curves: {c} (n={len(y)}, events={int(y.sum())}; {_kind(c)})", fontsize=9)
            for pair, d in metrics["models"][c].get("delong", {}).items():
                a, b = pair.split(" vs ")
                rows.append([c, f"{NAMES.get(a, a)} vs {NAMES.get(b, b)}", _fmt(d["auc_a"]), _fmt(d["auc_b"]),
                             f"{_fmt(d['diff_ci_low'])} to {_fmt(d['diff_ci_high'])}", _p(d["p_value"])])
        if rows:
            _table(axes[-1], pd.DataFrame(rows, columns=["cohort", "comparison", "AUC a", "AUC b",
                                                         "difference 95% CI", "DeLong p"]), "Pairwise DeLong tests",
                   col_widths=[0.1, 0.44, 0.09, 0.09, 0.18, 0.1])
        else:
            axes[-1].axis("off")
        pdf.savefig(fig)

        # Calibration + decision curves
        fig = _figure()
        axes = fig.subplots(len(cohorts), 2, squeeze=False)
        for row, c in zip(axes, cohorts):
            frame = predictions[c]
            y = frame["y"].to_numpy()
            p = frame[final].to_numpy()
            hl = metrics["models"][c][final].get("hosmer_lemeshow", {})
            try:
                CalibrationDisplay(calibration(y, p), NAMES.get(final, final), p).plot(row[0])
            except StatsInputError as exc:  # degenerate probabilities: say why instead of drawing nonsense
                row[0].axis("off")
                row[0].text(0, 0.5, textwrap.fill(f"Calibration not computed: {exc.reason}", 60), fontsize=7,
                            va="center", transform=row[0].transAxes)
            hl_text = (f"Hosmer-Lemeshow chi2 {_fmt(hl.get('statistic'), 2)}, p {_p(hl.get('p_value'))}"
                       if "error" not in hl else "Hosmer-Lemeshow not computed (see text)")
            row[0].set_title(f"Calibration, {c} ({_kind(c)}):\n{hl_text}", fontsize=7)
            for i, mname in enumerate(models):
                DecisionCurveDisplay.from_predictions(y, frame[mname].to_numpy(), np.arange(0.01, 0.96, 0.01),
                                                      name=NAMES.get(mname, mname), ax=row[1], references=i == 0)
            row[1].set_title(f"Decision curves, {c}\n({_kind(c)})", fontsize=7)
        pdf.savefig(fig)

        # Confusion matrix + waterfall
        fig = _figure()
        axes = fig.subplots(len(cohorts), 2, squeeze=False, width_ratios=[1, 1.6])
        for row, c in zip(axes, cohorts):
            frame = predictions[c]
            m = metrics["models"][c][final].get("at_cutoff")
            if m:
                ci = metrics["models"][c][final].get("bootstrap_ci", {})

                def w(k, m=m, ci=ci):
                    b = ci.get(k)
                    return _fmt(m[k], 2) + (f" ({_fmt(b['ci_low'], 2)}-{_fmt(b['ci_high'], 2)})" if b else "")
                ConfusionMatrixDisplay.from_metrics(m, labels=outcome_labels).plot(row[0], title=(
                    f"{c}, cutoff {cutoff:.3f}\nsens {w('sensitivity')}, spec {w('specificity')}\n"
                    f"acc {w('accuracy')}, F1 {w('f1')}\nPPV {w('ppv')}, NPV {w('npv')}"))
            else:
                row[0].axis("off")
            WaterfallDisplay(frame["y"], frame[final], cutoff, labels=(f"outcome {outcome_labels[0]}",
                                                                        f"outcome {outcome_labels[1]}")).plot(
                row[1], title=f"Waterfall, {c} ({NAMES.get(final, final)}; {_kind(c)})")
        pdf.savefig(fig)

        # Kaplan-Meier by risk group
        if survival and metrics.get("survival"):
            surv_cohorts = [c for c in cohorts if c in metrics["survival"]]
            _km_page(pdf, {c: predictions[c] for c in surv_cohorts}, final, cutoff, time_unit, metrics["survival"],
                     lambda c, s: f"{c} ({_kind(c)}): predicted-probability group (cutoff {cutoff:.3f}); C-index "
                                  f"{_fmt(s.get('c_index_linear_predictor'), 2)}; log-rank p "
                                  f"{_p(s.get('logrank', {}).get('p_value'))}; Cox HR high vs low",
                     direction=direction, outcome_name=outcome_name)

        # Nomogram
        if bundle is not None and bundle.nomogram is not None:
            from radgui.plots.nomogram import NomogramDisplay

            fig = _figure((A4[0], 0.9 + 0.6 * (len(bundle.nomogram["axes"]) + 4)))
            ax = fig.add_subplot()
            NomogramDisplay(bundle).plot(ax)
            ax.set_title(f"Nomogram: {bundle.name}", fontsize=10)
            pdf.savefig(fig)

        if comparison is not None:
            comparison(pdf)

        # Metrics table
        fig = _figure()
        rows = []
        for c in all_cohorts:
            for mname in models:
                m = metrics["models"][c][mname]
                cal = m.get("calibration", {})
                rows.append([_cohort_label(c), NAMES.get(mname, mname), _fmt(m["auc"]),
                             f"{_fmt(m['auc_ci_low'])}-{_fmt(m['auc_ci_high'])}", _fmt(cal.get("slope"), 2),
                             _fmt(cal.get("intercept"), 2), _fmt(cal.get("brier")),
                             _p(m.get("hosmer_lemeshow", {}).get("p_value"))])
        gs = fig.add_gridspec(2, 1, height_ratios=[1, 1])
        _table(fig.add_subplot(gs[0]), pd.DataFrame(rows, columns=["cohort", "model", "AUC", "95% CI", "cal. slope",
                                                                   "cal. intercept", "Brier", "HL p"]),
               "Discrimination and calibration", col_widths=[0.14, 0.24, 0.08, 0.14, 0.1, 0.12, 0.08, 0.08])
        extra = []
        for k, v in metrics.get("cross_validation", {}).items():
            extra.append([f"{v['repeats']} x {v['folds']}-fold nested CV", NAMES.get(k, k),
                          _fmt(v["auc_of_mean_prediction"]), f"{_fmt(v['auc_mean'])} (SD {_fmt(v['auc_sd'])})"])
        b = metrics.get("bootstrap_optimism")
        if b:
            extra.append([f"bootstrap optimism ({b['n_boot']})", NAMES.get(final, final),
                          _fmt(b["optimism_corrected_auc"]), f"apparent {_fmt(b['apparent_auc'])}, "
                                                             f"optimism {_fmt(b['optimism'])}"])
        if extra:
            _table(fig.add_subplot(gs[1]), pd.DataFrame(extra, columns=["internal validation", "model",
                                                                        "AUC", "detail"]), "Internal validation",
                   col_widths=[0.3, 0.25, 0.1, 0.35])
        pdf.savefig(fig)
        boot_rows = []
        for c in all_cohorts:
            ci = metrics["models"][c][final].get("bootstrap_ci", {})
            for k in ("auc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "f1"):
                if k in ci:
                    b = ci[k]
                    boot_rows.append([_cohort_label(c), k.upper() if k in ("auc", "ppv", "npv") else k, _fmt(b["estimate"]),
                                      f"{_fmt(b['ci_low'])}-{_fmt(b['ci_high'])}",
                                      f"{b['n_boot']}{', grouped' if b.get('grouped') else ''}"])
        if boot_rows:
            fig = _figure()
            _table(fig.add_subplot(), pd.DataFrame(boot_rows, columns=["cohort", "metric", "value",
                                                                       "95% CI (bootstrap percentile)", "resamples"]),
                   f"{NAMES.get(final, final)}: AUC and metrics at the cutoff {cutoff:.3f}, stratified bootstrap "
                   "percentile intervals", col_widths=[0.16, 0.16, 0.12, 0.3, 0.16])
            pdf.savefig(fig)
        for page in extra_pages:  # radgui.report.extras: selection, Radscore by outcome, Cox, K-M landmarks, td-ROC
            page(pdf)
        info = pdf.infodict()
        info["Title"] = title
        info["Creator"] = "radgui"
    return pdf_path


def write_survival_report(pdf_path, result) -> Path:
    """Report of a survival-only model (see :func:`radgui.report.survival_report.write_training_report`)."""
    from radgui.report.survival_report import write_training_report

    return write_training_report(pdf_path, result)


def headline_text(metrics: dict) -> str:
    """The validated AUC with its CI and method, the apparent AUC beside it, labelled as such."""
    h = metrics.get("headline")
    if not h:
        return ""
    text = (f"Headline (validated): combined model AUC {_fmt(h['auc'])} (95% CI {_fmt(h.get('ci_low'))}-"
            f"{_fmt(h.get('ci_high'))}), {h['method']}. Apparent (training patients, optimistic) AUC "
            f"{_fmt(h.get('apparent_auc'))}; apparent numbers are not estimates of performance on new patients.")
    if h.get("validated") is False:
        text = ("WARNING: no validation was run (split none, no cross-validation, no bootstrap): every number "
                "in this report is apparent. " + text)
    return text


def summary_paragraphs(result) -> list[str]:
    """Paragraphs of the first page: outcome and cohorts, headline, warnings, methods, intended use."""
    cfg, m = result.config, result.metrics
    coh = m["cohort"]
    direction = cfg.outcome.get("direction", "adverse")
    paras = [
        f"Outcome: {cfg.outcome.get('label', cfg.outcome['column'])} (positive = {cfg.outcome.get('positive', 1)}; "
        f"{'a favourable outcome: groups are named by the probability of it' if direction == 'favourable' else 'an adverse outcome: groups are named by risk'}). "
        f"Training cohort {coh['n_train']} patients ({coh['events_train']} events)"
        + (f"; {coh['test_cohort']} cohort {coh['n_test']} patients ({coh['events_test']} events)." if coh['n_test']
           else "."),
    ]
    if headline_text(m):
        paras.append(headline_text(m))
    warns = m.get("warnings", [])
    for w in warns[:6]:
        paras.append(f"WARNING: {w}")
    if len(warns) > 6:
        paras.append(f"({len(warns) - 6} more warning(s) in metrics.json)")
    paras += ["Methods. " + result.methods, f"Intended use: {cfg.intended_use}"]
    return paras


def report_from_training(result, out_dir) -> tuple[Path, Path, Path]:
    """Write ``model.radgui-model``, ``report.pdf``, ``metrics.json`` and ``predictions.csv`` of a :class:`TrainResult`.

    They are written as one set (:func:`radgui.files.output_set`): to
    temporary names first, then renamed over the previous run's files, then
    ``manifest.json`` with their hashes. A run killed at any point leaves the
    previous set or the new one, each matching its manifest.
    """
    with output_set(out_dir) as outputs:
        result.bundle.save(outputs.path(BUNDLE_NAME))
        if result.config.outcome is None:
            write_survival_report(outputs.path(REPORT_NAME), result)
        else:
            _training_report(result, outputs.path(REPORT_NAME))
        write_text(outputs.path(METRICS_NAME), to_json(result.metrics))
        if getattr(result, "prediction_table", None) is not None:
            write_csv(outputs.path(PREDICTIONS_NAME), result.prediction_table, index=False)
    return tuple(outputs.target(name) for name in (BUNDLE_NAME, REPORT_NAME, METRICS_NAME))


def _training_report(result, pdf_path) -> Path:
    from radgui.report.extras import extra_pages

    models = [m for m in ("radiomics", "clinical", "combined") if m in result.metrics["models"]["train"]]
    lasso = result.radiomics.named_steps.get("lasso") or result.radiomics[-1]
    cfg = result.config
    return write_report(pdf_path, title=f"Model validation report: {cfg.name}", summary=summary_paragraphs(result),
                        metrics=result.metrics, predictions=result.predictions, models=models,
                        cutoff=result.metrics["cutoff"]["value"], bundle=result.bundle,
                        lasso=lasso if hasattr(lasso, "coef_path_") else None, cohort_tables=result.cohort_tables,
                        survival=bool(cfg.survival), time_unit=(cfg.survival or {}).get("unit", ""),
                        direction=cfg.outcome.get("direction", "adverse"),
                        outcome_name=cfg.outcome.get("label", cfg.outcome["column"]),
                        extra_pages=extra_pages(result),
                        comparison=(lambda pdf: comparison_pages(pdf, result))
                        if result.metrics.get("comparison") else None)


def _rec(r) -> str:
    if not r:
        return "NA"
    return f"{_fmt(r['value'])} [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] p {_p(r['p_value'])}"


def _chunks(rows, n):
    return [rows[i:i + n] for i in range(0, len(rows), n)] or [[]]


def comparison_pages(pdf, result) -> None:
    """Pages of a multi-model run (``models:``/``grid:``): design, per-cohort tables, pairwise tests, curves.

    Every number comes from ``metrics["comparison"]``; the curves are drawn
    from validated predictions (out-of-fold, held-out, external), and the
    apparent training rows are labelled as such.
    """
    from radgui.errors import StatsInputError
    from radgui.plots.curves import CalibrationDisplay
    from radgui.plots.model_figures import ModelComparisonDisplay
    from radgui.stats import calibration

    comp = result.metrics["comparison"]
    split = comp.get("split", {})
    folds = comp.get("folds", {})
    paras = [f"{len(comp['models'])} models were trained on one split and validated on one fold plan "
             f"({folds.get('repeats')} x {folds.get('folds')}-fold nested cross-validation, the same folds for every "
             f"model{'; a patient' + chr(39) + 's rows always in one fold' if folds.get('grouped') else ''}); each "
             "model's selection and tuning were refitted inside every fold.",
             f"Final (bundled) model: {comp['final']} ({comp['final_reason']}). Its own pages precede this "
             "section; the bundle is its combined logistic model (Radscore"
             + (" plus clinical variables" if any(m["final"] and m["clinical"] for m in comp["models"]) else "")
             + ").",
             "Cutoffs: each model's Youden cutoff on its training out-of-fold predictions; accuracy, sensitivity, "
             "specificity, PPV and NPV in every cohort are at that cutoff. NRI and IDI are of the newer (row) model "
             f"over the older; categorical NRI at risk cutoffs {comp.get('nri_cutoffs')}."]
    if split.get("smd") is not None:
        paras.append(f"Split: holdout re-drawn until every clinical variable's |SMD| <= {split['target_max_smd']} "
                     f"({split['tries']} tries; split seed {split['seed']}; largest SMD {_fmt(split['max_smd'])}"
                     f"{'' if split['balanced'] else ', TARGET NOT MET: the most balanced split was used'}): "
                     + ", ".join(f"{k} {_fmt(v)}" for k, v in split["smd"].items()) + ".")
    elif split.get("seed") is not None:
        paras.append(f"Split: holdout, split seed {split['seed']}.")
    rows = []
    for m in comp["models"]:
        sub = ", ".join(f"{k}: {'/'.join(v)}" for k, v in (m["subset"] or {}).items()) or \
            ("clinical only" if m["kind"] == "clinical" else "all columns")
        steps = ", ".join(m["steps"] or {}) if m["steps"] is not None else "-"
        rows.append([("* " if m["final"] else "") + _short_name(m["name"]), m["kind"], textwrap.shorten(sub, 40),
                     str(m["n_features"]), textwrap.shorten(steps, 30),
                     (m["learner"] or {}).get("name", "clinical logistic"), _fmt(m["cutoff"]["value"])])
    for chunk in _chunks(rows, 24):
        fig = _figure()
        gs = fig.add_gridspec(2, 1, height_ratios=[0.8, 1.2])
        ax = fig.add_subplot(gs[0])
        ax.axis("off")
        ax.text(0, 1, "Model comparison: study design", fontsize=14, fontweight="bold", va="top",
                transform=ax.transAxes)
        ax.text(0, 0.9, "\n\n".join(textwrap.fill(p, 110) for p in paras), fontsize=7.5, va="top",
                transform=ax.transAxes)
        _table(fig.add_subplot(gs[1]), pd.DataFrame(chunk, columns=["model (* final)", "kind", "feature subset",
                                                                    "features", "steps", "learner", "cutoff"]),
               "Models", fontsize=6.5, col_widths=[0.16, 0.1, 0.3, 0.08, 0.2, 0.1, 0.07])
        pdf.savefig(fig)
    # resolved feature lists
    lines = []
    for m in comp["models"]:
        if m["kind"] == "clinical":
            lines.append(f"{m['name']}: clinical variables {', '.join(m['clinical'])}")
            continue
        feats = m["features"]
        shown = ", ".join(feats[:12]) + (f", ... and {len(feats) - 12} more (all in metrics.json)"
                                         if len(feats) > 12 else "")
        lines.append(f"{m['name']} ({len(feats)} columns"
                     + (f"; clinical: {', '.join(m['clinical'])}" if m["clinical"] else "") + f"): {shown}"
                     + (f". Scout: kept {m['scout']['kept_on_training']} on the training cohort (AUC "
                        + ", ".join(f"{k} {_fmt(v)}" for k, v in m["scout"]["auc_on_training"].items())
                        + f"; threshold {m['scout']['threshold']})" if m.get("scout") else ""))
    for chunk in _chunks(lines, 14):
        fig = _figure()
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0, 1, "Feature subsets, resolved", fontsize=12, fontweight="bold", va="top", transform=ax.transAxes)
        ax.text(0, 0.95, "\n".join(textwrap.fill(t, 120, subsequent_indent="    ") for t in chunk), fontsize=6.5,
                va="top", transform=ax.transAxes, family="DejaVu Sans Mono")
        pdf.savefig(fig)
    # per-cohort tables
    for c, cm in comp["cohorts"].items():
        rows = [[_short_name(n), f"{_fmt(e['auc'])} [{_fmt(e['auc_ci_low'])}-{_fmt(e['auc_ci_high'])}]",
                 f"{_fmt(e['pr_auc'])}", *(_fmt(e[k], 2) for k in ("accuracy", "sensitivity", "specificity", "ppv",
                                                                   "npv")),
                 _fmt(e.get("calibration", {}).get("slope"), 2), _fmt(e.get("calibration", {}).get("brier"))]
                for n, e in cm["models"].items()]
        pairs = [[_short_name(k.split(" vs ")[0]) + " vs " + _short_name(k.split(" vs ")[1]),
                  f"{_fmt(d['delong']['diff'])} p {_p(d['delong']['p_value'])}", _rec(d["nri_continuous"]),
                  _rec(d["nri_categorical"]), _rec(d["idi"])] for k, d in cm["pairs"].items()]
        title = (f"{_cohort_label(c)}: n={cm['n']}, events={cm['events']}; predictions: {cm['prediction']}")
        for i, chunk in enumerate(_chunks(pairs, 22)):
            fig = _figure()
            gs = fig.add_gridspec(2, 1, height_ratios=[1, 1.3])
            if i == 0:
                _table(fig.add_subplot(gs[0]), pd.DataFrame(rows, columns=[
                    "model", "AUC [95% CI]", "PR-AUC", "acc", "sens", "spec", "PPV", "NPV", "cal. slope", "Brier"]),
                       textwrap.fill("Model comparison, " + title, 110), fontsize=6.5,
                       col_widths=[0.17, 0.2, 0.08, 0.07, 0.07, 0.07, 0.07, 0.07, 0.1, 0.08])
            else:
                fig.add_subplot(gs[0]).axis("off")
            _table(fig.add_subplot(gs[1]), pd.DataFrame(chunk, columns=[
                "new vs old", "AUC diff, DeLong p", "NRI continuous [CI] p", "NRI categorical [CI] p",
                "IDI [CI] p"]), f"Pairwise comparisons, {c}", fontsize=5.5,
                   col_widths=[0.2, 0.14, 0.22, 0.22, 0.22])
            pdf.savefig(fig)
    # curves overlaid (validated cohorts), calibration per model
    for c, frame in result.comparison.items():
        if c == "train" and len(result.comparison) > 1:
            continue
        names = [n for n in frame.columns if n != "y"]
        fig = _figure()
        axes = fig.subplots(3, 1)
        ModelComparisonDisplay(frame["y"], {n: frame[n] for n in names},
                               f"{c} ({_kind(c)})").plot(*axes)
        pdf.savefig(fig)
        k = len(names)
        ncol = 3
        nrow = math.ceil(k / ncol)
        for start in range(0, nrow, 4):
            fig = _figure()
            axes = fig.subplots(4, ncol, squeeze=False).ravel()
            for ax, n in zip(axes, names[start * ncol:(start + 4) * ncol]):
                try:
                    CalibrationDisplay(calibration(frame["y"], frame[n]), None, frame[n].to_numpy()).plot(ax)
                except StatsInputError as exc:
                    ax.axis("off")
                    ax.text(0, 0.5, textwrap.fill(f"not computed: {exc.reason}", 40), fontsize=6,
                            transform=ax.transAxes)
                ax.set_title(f"Calibration: {_short_name(n)}", fontsize=7)
                leg = ax.get_legend()
                if leg is not None:
                    leg.remove()
            for ax in axes[len(names[start * ncol:(start + 4) * ncol]):]:
                ax.axis("off")
            fig.suptitle(f"Calibration per model, {c} ({_kind(c)})", fontsize=9)
            pdf.savefig(fig)


def _short_name(n: str, k: int = 28) -> str:
    return n if len(n) <= k else n[:k - 1] + "\u2026"
