"""Extra report pages built from a :class:`radgui.model.train.TrainResult` (issue 13, items 5-6).

:func:`extra_pages` returns the pages that apply to a run, each a callable
``page(pdf)`` that draws one :class:`matplotlib.figure.Figure` and saves it
into an open :class:`~matplotlib.backends.backend_pdf.PdfPages`:

* the bootstrap LASSO selection frequencies (``stability`` step) and the
  Relief weights (``relief`` step) of the final radiomics pipeline;
* the Radscore by outcome (box plot, Mann-Whitney U) in each scored cohort;
* for a binary-outcome run that carries survival data (``survival:``):
  the univariable then multivariable Cox table (HR, 95% CI, p) of the
  Radscore and the clinical variables, Kaplan-Meier curves by the observed
  outcome (e.g. responders vs non-responders) and by the predicted group,
  with medians, landmark survival rates with CIs and the log-rank test, and
  the time-dependent ROC (cumulative/dynamic, IPCW) of the combined model's
  linear predictor at the landmark times.

A page whose data are missing or too small (no events, one group) is
replaced by a one-line note on a text page rather than failing the report.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from radgui.errors import RadguiError

A4 = (8.27, 11.69)
#: Landmark times (in the survival unit) of the K-M rates and time-dependent ROC.
LANDMARKS = {"months": (6.0, 12.0), "month": (6.0, 12.0), "days": (182.5, 365.0), "day": (182.5, 365.0),
             "weeks": (26.0, 52.0), "years": (0.5, 1.0), "year": (0.5, 1.0)}


def _figure(size=A4):
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def _fmt(v, d=2):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "NA"
    return "NA" if not np.isfinite(v) else f"{v:.{d}f}"


def _p(v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "NA"
    return "NA" if not np.isfinite(v) else ("<0.001" if v < 0.001 else f"{v:.3f}")


def landmarks_for(survival: dict | None, times=None) -> tuple[float, ...]:
    """Landmark times for a survival unit: 6/12 months (182.5/365 days, 0.5/1 year), else half and all of the horizon."""
    unit = str((survival or {}).get("unit", "")).lower()
    if unit in LANDMARKS:
        return LANDMARKS[unit]
    h = (survival or {}).get("horizon")
    if h:
        return (float(h) / 2, float(h))
    if times is not None and len(times):
        q = np.quantile(np.asarray(times, float), [0.25, 0.5])
        return tuple(float(x) for x in q)
    return ()


# ------------------------------------------------------------------ pages
def _note_page(pdf, title: str, lines: list[str]) -> None:
    fig = _figure()
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0, 1, title, fontsize=13, fontweight="bold", va="top", transform=ax.transAxes)
    ax.text(0, 0.94, "\n".join(textwrap.fill(s, 110) for s in lines), fontsize=8, va="top", transform=ax.transAxes)
    pdf.savefig(fig)


def selection_page(pipeline):
    """Bootstrap LASSO frequencies and/or Relief weights of a fitted pipeline, or None when it has neither."""
    named = getattr(pipeline, "named_steps", {})
    if "stability" not in named and "relief" not in named:
        return None

    def page(pdf):
        from radgui.plots.study_figures import SelectionFrequencyDisplay

        fig = _figure()
        panels = [k for k in ("stability", "relief") if k in named]
        axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
        for ax, k in zip(axes, panels):
            step = named[k]
            if k == "stability":
                d = SelectionFrequencyDisplay.from_estimator(step).plot(ax=ax)
                how = getattr(step, "resample", "subsample")
                d.ax_.set_title(f"Bootstrap LASSO selection frequency ({step.n_bootstrap} {how} resamples; "
                                f"kept in red)", fontsize=9)
            else:
                s = step.scores_.sort_values(ascending=False, kind="stable").iloc[:25][::-1]
                ax.barh([str(n)[:34] for n in s.index], s.to_numpy(),
                        color=["C3" if n in step.selected_ else "0.6" for n in s.index])
                ax.tick_params(axis="y", labelsize=6)
                ax.set(xlabel="Relief weight", title=f"{step.method} feature weights (top {step.k} kept, in red)")
        pdf.savefig(fig)

    return page


def radscore_by_outcome_page(predictions: dict, labels=None, name: str = "Radscore"):
    """Box plots of the Radscore by outcome class in each cohort that has it (Mann-Whitney U)."""
    frames = {c: f for c, f in predictions.items() if "radscore" in f.columns and f["y"].nunique() == 2}
    if not frames:
        return None

    def page(pdf):
        from radgui.plots.study_figures import ScoreByOutcomeDisplay

        fig = _figure()
        axes = fig.subplots(1, len(frames), squeeze=False)[0]
        for ax, (c, f) in zip(axes, frames.items()):
            d = ScoreByOutcomeDisplay(f["radscore"], f["y"], labels, name=name).plot(ax=ax)
            ax.set_title(f"{c}: Mann-Whitney {_p(d.comparison_.p_value)}", fontsize=9)
        fig.suptitle(f"{name} by outcome", fontsize=11)
        pdf.savefig(fig)

    return page


def cox_frame(frame: pd.DataFrame, clinical: pd.DataFrame | None, variables: dict) -> tuple[pd.DataFrame, list[str]]:
    """``time, event, radscore`` and the encoded clinical variables of one cohort, for :func:`radgui.stats.cox_table`."""
    from radgui.model.clinical import encode

    out = frame[["time", "event", "radscore"]].copy()
    cols = ["radscore"]
    if clinical is not None and variables:
        design, groups = encode(clinical, variables)
        design.index = out.index
        for v in variables:
            for col in groups[v]:
                out[col] = design[col].to_numpy(float)
                cols.append(col)
    return out, cols


def cox_page(frames: dict, clinical: dict, variables: dict, unit: str = ""):
    """Univariable then multivariable Cox table (and forest plot) of the Radscore and clinical variables per cohort."""

    def page(pdf):
        from radgui.plots.study_figures import CoxForestDisplay
        from radgui.stats import cox_table

        fig = _figure()
        axes = fig.subplots(2 * len(frames), 1, squeeze=False)[:, 0]
        for i, (c, f) in enumerate(frames.items()):
            tab_ax, forest_ax = axes[2 * i], axes[2 * i + 1]
            tab_ax.axis("off")
            try:
                data, cols = cox_frame(f, clinical.get(c), variables)
                tab = cox_table(data, "time", "event", cols)
            except (RadguiError, ValueError, np.linalg.LinAlgError) as exc:
                tab_ax.text(0, 1, f"{c}: Cox regression not estimable ({exc})", fontsize=8, va="top")
                forest_ax.axis("off")
                continue
            rows = [[v, f"{_fmt(r.uni_hr)} ({_fmt(r.uni_ci_low)}-{_fmt(r.uni_ci_high)})", _p(r.uni_p),
                     f"{_fmt(r.multi_hr)} ({_fmt(r.multi_ci_low)}-{_fmt(r.multi_ci_high)})", _p(r.multi_p)]
                    for v, r in tab.iterrows()]
            t = tab_ax.table(cellText=rows, colLabels=["variable", "univariable HR (95% CI)", "p",
                                                       "multivariable HR (95% CI)", "p"],
                             loc="upper left", cellLoc="left", colLoc="left")
            t.auto_set_font_size(False)
            t.set_fontsize(7)
            tab_ax.set_title(f"{c} cohort: Cox regression of {'time' if not unit else unit} to event "
                             f"(n={len(data)}, {int(data['event'].sum())} events; Efron ties, Wald CI)",
                             fontsize=9, loc="left")
            CoxForestDisplay(tab, f"{c}: hazard ratios").plot(ax=forest_ax)
        pdf.savefig(fig)

    return page


def km_page(frames: dict, cutoff: float, landmarks, unit: str = "", labels=None, direction: str = "adverse",
            outcome_name: str = "the outcome", score: str = "combined", observed: bool = True):
    """K-M by the observed outcome and by the predicted group (``score >= cutoff``), per cohort, with landmarks.

    ``observed=False`` (a survival model, whose only outcome is the event) draws the predicted groups only.
    """

    def page(pdf):
        from radgui.model.config import is_worse_group, risk_group_label
        from radgui.plots.study_figures import KMLandmarkDisplay
        from radgui.stats import km_summary

        fig = _figure()
        axes = fig.subplots(len(frames), 2 if observed else 1, squeeze=False)
        tl = f"Time ({unit})" if unit else "Time"
        for row, (c, f) in zip(axes, frames.items()):
            seen = f["y"].map(lambda v: (labels or {}).get(v, f"{outcome_name} = {v}")).to_numpy()
            high = f[score].to_numpy() >= cutoff
            names = {g: risk_group_label(g, direction, outcome_name) for g in ("high", "low")}
            predicted = np.where(high, names["high"], names["low"])
            worse = {names[g]: is_worse_group(g, direction) for g in names}
            panels = ((row[0], seen, "observed outcome"), (row[1], predicted, "predicted group")) if observed \
                else ((row[0], predicted, "predicted group"),)
            for ax, g, what in panels:
                try:
                    if what == "predicted group":  # the worse-prognosis group in the warning colour
                        ax.set_prop_cycle(color=["#d62728" if worse[k] else "#1f77b4" for k in sorted(set(g))])
                    s = km_summary(f["time"], f["event"], g, landmarks)
                    d = KMLandmarkDisplay(s, tl).plot(ax=ax, annotate=False)
                    lr = f", log-rank {_p(s.logrank.p_value)}" if s.logrank is not None else ""
                    d.ax_.set_title(f"{c}: by {what}{lr}\n" + "\n".join(d.landmark_lines()), fontsize=6,
                                    loc="left")
                except (RadguiError, ValueError) as exc:
                    ax.axis("off")
                    ax.text(0, 0.5, f"{c}, by {what}: not estimable ({exc})", fontsize=7)
        pdf.savefig(fig)

    return page


def td_roc_page(frames: dict, train: pd.DataFrame, landmarks, unit: str = "", score: str = "linear_predictor",
                direction: str = "adverse", what: str = "combined linear predictor"):
    """Time-dependent ROC (cumulative/dynamic, IPCW from the training cohort) of ``score`` at the landmarks.

    The risk of the event is ``score`` for an adverse modelled outcome and ``-score`` for a favourable one
    (a high probability of response is a low risk of progression).
    """
    sign = -1.0 if direction == "favourable" else 1.0

    def page(pdf):
        from radgui.plots.study_figures import TimeDependentRocDisplay

        fig = _figure()
        axes = fig.subplots(1, len(frames), squeeze=False)[0]
        for ax, (c, f) in zip(axes, frames.items()):
            t = f["time"].to_numpy(float)
            times = [x for x in landmarks if t.min() <= x < t.max()]
            try:
                if not times:
                    raise ValueError(f"no landmark within the follow-up {t.min():g}-{t.max():g}")
                TimeDependentRocDisplay.from_survival(train["time"], train["event"], f["time"], f["event"],
                                                      sign * f[score].to_numpy(float), times, unit, ax=ax)
                ax.set_box_aspect(1)
                ax.set_title(f"{c}: time-dependent ROC\n({'negated ' if sign < 0 else ''}{what})", fontsize=8)
            except (RadguiError, ValueError) as exc:
                ax.axis("off")
                ax.text(0, 0.5, f"{c}: time-dependent ROC not estimable ({exc})", fontsize=7)
        pdf.savefig(fig)

    return page


def paired_change_page(metrics: dict, name: str = "Radscore"):
    """The paired change of the Radscore between the two time points, per cohort (``metrics["paired_change"]``),
    or None when the run has no ``timepoints:``."""
    pc = metrics.get("paired_change") or {}
    if not pc:
        return None

    def page(pdf):
        from radgui.plots.study_figures import PairedChangeDisplay
        from radgui.stats.outcome import PairedChange

        fig = _figure()
        axes = fig.subplots(2, len(pc), squeeze=False)
        for j, (c, m) in enumerate(pc.items()):
            ax, txt = axes[0, j], axes[1, j]
            txt.axis("off")
            lines = [f"{c} ({m['validation']}): {m['baseline']} -> {m['followup']}, {m.get('n_pairs', 0)} pairs"]
            if "error" in m:
                ax.axis("off")
                lines.append(f"paired Wilcoxon not computed: {m['error']}")
            else:
                tab = pd.DataFrame(m["pairs"], index=["before", "after"]).T
                tab["change"] = tab["after"] - tab["before"]
                ch = PairedChange(m["statistic"], m["p_value"], m["n_pairs"], m["median_change"], tab)
                PairedChangeDisplay(ch, (m["baseline"], m["followup"]), name).plot(ax=ax)
                ax.set_title(f"{c}: {name} change\n(paired Wilcoxon W={_fmt(m['statistic'], 1)}, "
                             f"{_p(m['p_value'])})", fontsize=8)
                lines.append(f"median change {_fmt(m['median_change'], 3)}; W = {_fmt(m['statistic'], 1)}, "
                             f"p = {_p(m['p_value'])}")
            if m.get("unpaired"):
                shown = ", ".join(m["unpaired"][:20]) + (" ..." if len(m["unpaired"]) > 20 else "")
                lines.append(f"excluded, only one of the two time points ({len(m['unpaired'])}): {shown}")
            if m.get("other_rows"):
                lines.append(f"{m['other_rows']} row(s) at other time points not used")
            txt.text(0, 1, "\n".join(textwrap.fill(x, 60) for x in lines), fontsize=7, va="top",
                     transform=txt.transAxes)
        fig.suptitle(f"{name} change between time points", fontsize=11)
        pdf.savefig(fig)

    return page


# ------------------------------------------------------------------ entry point
def _clinical_by_cohort(result, frames: dict) -> dict:
    """Clinical variables of each cohort's patients (re-read from the config's tables), by cohort name."""
    cfg = result.config
    if not cfg.clinical_variables or cfg.clinical is None:
        return {}
    from radgui.model.train import load_cohort

    out = {}
    full = load_cohort(cfg, cfg.features, cfg.clinical).clinical
    full.index = full.index.get_level_values("patient_id")
    ext = None
    for c, f in frames.items():
        source = full
        if c == "external" and cfg.split.get("features") is not None:
            if ext is None:
                ext = load_cohort(cfg, cfg.split["features"], cfg.split.get("clinical")).clinical
                ext.index = ext.index.get_level_values("patient_id")
            source = ext
        if source.index.has_duplicates:  # several rows per patient: one row each, in the predictions' order
            source = source[~source.index.duplicated()]
        out[c] = source.loc[f.index, list(cfg.clinical_variables)]
    return out


def extra_pages(result) -> list:
    """The extra report pages of a binary-outcome :class:`TrainResult`, as callables ``page(pdf)``."""
    cfg = result.config
    pages = []
    sel = selection_page(result.radiomics)
    if sel is not None:
        pages.append(sel)
    if cfg.outcome is None:
        return pages
    direction = cfg.outcome.get("direction", "adverse")
    outcome_name = str(cfg.outcome.get("label", cfg.outcome["column"]))
    labels = {0: f"No {outcome_name}", 1: outcome_name[:1].upper() + outcome_name[1:]}
    scored = {c: f for c, f in result.predictions.items() if c != "cross-validated"}
    box = radscore_by_outcome_page(scored, labels)
    if box is not None:
        pages.append(box)
    change = paired_change_page(result.metrics)
    if change is not None:
        pages.append(change)
    if not cfg.survival:
        return pages
    endpoints = list(getattr(cfg, "endpoints", None) or [cfg.survival])
    secondary = getattr(result, "endpoint_frames", None) or {}
    for i, ep in enumerate(endpoints):
        source = scored if i == 0 else {c: f for c, f in secondary.get(ep.get("name"), {}).items()
                                        if c != "cross-validated"}
        pages += _endpoint_pages(result, ep, source, labels, direction, outcome_name,
                                 prefix=f"{ep.get('name')}, " if len(endpoints) > 1 else "")
    return pages


def _endpoint_pages(result, ep: dict, scored: dict, labels, direction, outcome_name, prefix: str = "") -> list:
    """Cox table, K-M with landmark rates and time-dependent ROC of one survival endpoint (binary-outcome run).

    ``prefix`` (``"OS, "``) names the endpoint in every panel title when the run has several endpoints.
    """
    cfg, pages = result.config, []
    frames = {c: f for c, f in scored.items() if {"time", "event"} <= set(f.columns) and f["event"].sum() > 0}
    if not frames:
        if prefix:
            pages.append(lambda pdf: _note_page(pdf, f"Endpoint {ep.get('name')}", [
                "no cohort of this endpoint has an event: no Cox table, K-M or time-dependent ROC"]))
        return pages
    unit = ep.get("unit", "")
    marks = landmarks_for(ep, frames[next(iter(frames))]["time"])
    try:
        clinical = _clinical_by_cohort(result, frames)
        note = None
    except (RadguiError, OSError, KeyError) as exc:
        clinical, note = {}, f"clinical variables could not be re-read for the Cox table ({exc}); Radscore only"
    named = {f"{prefix}{c}": f for c, f in frames.items()}
    clinical = {f"{prefix}{c}": v for c, v in clinical.items()}
    pages.append(cox_page(named, clinical, cfg.clinical_variables if clinical else {}, unit))
    if note:
        pages.append(lambda pdf: _note_page(pdf, f"{prefix}Cox regression", [note]))
    cutoff = result.metrics.get("cutoff", {}).get("value", 0.5)
    pages.append(km_page(named, cutoff, marks, unit, labels, direction, outcome_name))
    if "train" in frames and "linear_predictor" in frames["train"].columns:
        pages.append(td_roc_page(named, frames["train"], marks, unit, direction=direction))
    return pages


def survival_extra_pages(result) -> list:
    """Extra pages of a survival-only :class:`TrainResult`: time-dependent ROC of the Cox linear predictor at the
    landmark times and the horizon, and K-M by predicted group with medians and landmark rates."""
    cfg = result.config
    frames = {c: f for c, f in result.predictions.items() if {"time", "event", "linear_predictor"} <= set(f.columns)
              and f["event"].sum() > 0}
    if not frames or "train" not in frames:
        return []
    unit = cfg.survival.get("unit", "")
    marks = tuple(sorted(set(landmarks_for(cfg.survival, frames["train"]["time"]))
                         | {float(cfg.survival.get("horizon") or 0)} - {0.0}))
    cutoff = result.metrics.get("cutoff", {}).get("value", float(np.median(frames["train"]["linear_predictor"])))
    pages = [td_roc_page(frames, frames["train"], marks, unit, what="Cox linear predictor"),
             km_page(frames, cutoff, marks, unit, score="linear_predictor", observed=False)]
    for ep in list(getattr(cfg, "endpoints", None) or [])[1:]:  # secondary endpoints of the same Radscore
        own = (result.endpoint_frames or {}).get(ep["name"], {})
        sec = {f"{ep['name']} (secondary), {c}": f for c, f in own.items() if f["event"].sum() > 0}
        if not sec:
            pages.append(lambda pdf, n=ep["name"]: _note_page(pdf, f"Secondary endpoint {n}", [
                "no cohort has an event of this endpoint: no K-M by predicted group"]))
            continue
        t0 = next(iter(sec.values()))["time"]
        pages.append(km_page(sec, cutoff, landmarks_for(ep, t0), ep.get("unit", ""), score="linear_predictor",
                             observed=False))
        pages.append(_endpoint_cindex_page(ep, result.metrics.get("endpoints", {}).get(ep["name"], {})))
    change = paired_change_page(result.metrics)
    if change is not None:
        pages.append(change)
    comp = result.metrics.get("comparison")
    if comp and "horizon" in comp:  # models: of a survival-only config
        pages.insert(0, survival_comparison_page(comp, cfg.survival.get("unit", "")))
    return pages


def survival_comparison_rows(comp: dict, external: bool | None = None) -> list[list[str]]:
    """The survival model comparison as table rows: cohort (how predicted), model, C-index [CI], AUC at horizon.

    ``external`` True keeps the external cohorts only, False the others, None every cohort.
    """
    rows = []
    for c, block in comp["cohorts"].items():
        if external is not None and bool(block.get("external")) != external:
            continue
        for name, r in block["models"].items():
            auc = _fmt(r.get("auc_at_horizon"), 3)
            if r.get("auc_ci_low") is not None:
                auc += f" [{_fmt(r['auc_ci_low'], 3)}, {_fmt(r['auc_ci_high'], 3)}]"
            rows.append([f"{c} (n={block['n']}, {block['events']} events)", name + (" *" if name == comp["final"]
                                                                                     else ""),
                         f"{_fmt(r['c_index'], 3)} [{_fmt(r['ci_low'], 3)}, {_fmt(r['ci_high'], 3)}]",
                         auc, _fmt(r.get("uno_c"), 3)])
    return rows


def _signed(v, d=3) -> str:
    s = _fmt(v, d)
    return s if s == "NA" or s.startswith("-") else "+" + s


def survival_pairwise_rows(comp: dict) -> list[list[str]]:
    """Every pair of survival models per validated cohort: delta C-index [CI] p, delta AUC at the horizon [CI] p.

    Deltas are the first named model minus the second (``"B vs A"``: B - A), from
    ``comp["pairwise"]`` (:func:`radgui.model.designs.survival_pairwise`).
    """
    rows = []
    for c, pairs in (comp.get("pairwise") or {}).items():
        block = comp["cohorts"].get(c, {})
        label = f"{c} ({'external' if block.get('external') else 'internal'})"
        for key, v in pairs.items():
            dc, da = v["c_index"], v.get("auc_at_horizon") or {}
            rows.append([label, key, "NA" if "diff" not in dc else
                         f"{_signed(dc['diff'])} [{_signed(dc['ci_low'])}, {_signed(dc['ci_high'])}]",
                         _p(dc.get("p_value")),
                         "NA" if "diff" not in da else
                         f"{_signed(da['diff'])} [{_signed(da['ci_low'])}, {_signed(da['ci_high'])}]",
                         _p(da.get("p_value"))])
    return rows


#: Table rows per page of the survival comparison pages, and the column shares of the per-model tables.
ROWS_PER_PAGE = 40
WIDTHS = (2.6, 1.6, 2.0, 2.2, 1.1)


def _models_note(comp: dict) -> str:
    parts = []
    for m in comp.get("models", []):
        if m["kind"] == "clinical":
            what = f"clinical Cox on {', '.join(m['clinical'])} (screened)"
        elif m["kind"] == "combined":
            what = f"combined Cox: Radscore of {m['n_features']} features + {', '.join(m['clinical'])} (screened)"
        else:
            what = f"radiomics Cox: Radscore of {m['n_features']} features"
        parts.append(f"{m['name']} = {what}")
    return "Models: " + "; ".join(parts) + "." if parts else ""


def _table_axes(ax, rows, labels, fontsize=7, top: float = 0.92, widths=None):
    """A table filling ``ax`` below its text (the top ``1 - top`` of the axes); ``widths``: column shares."""
    ax = ax.inset_axes([0, 0, 1, top])
    ax.axis("off")
    w = None if widths is None else [x / sum(widths) for x in widths]
    t = ax.table(cellText=rows, colLabels=labels, loc="upper left", cellLoc="left", colLoc="left", colWidths=w)
    t.auto_set_font_size(False)
    t.set_fontsize(fontsize)
    return t


def survival_comparison_page(comp: dict, unit: str = ""):
    """Every survival model's C-index (bootstrap CI) and time-dependent AUC per cohort; external cohorts apart."""

    def page(pdf):
        h = f"{comp['horizon']:g} {unit}".strip()
        labels = ["cohort", "model", "C-index [95% CI]", f"AUC({h}) [95% CI]", "Uno's C"]
        internal, external = survival_comparison_rows(comp, False), survival_comparison_rows(comp, True)
        chunks = [internal[i:i + ROWS_PER_PAGE] for i in range(0, len(internal), ROWS_PER_PAGE)] or [[]]
        for k, chunk in enumerate(chunks):
            fig = _figure()
            ax = fig.add_subplot()
            ax.axis("off")
            ax.set_title("Survival model comparison (Cox models: radiomics, clinical, combined)"
                         + (f", continued ({k + 1})" if k else ""), fontsize=12, loc="left")
            if k == 0:
                notes = [f"Final (bundled) model, marked *: {comp['final']} ({comp['final_reason']}).",
                         _models_note(comp),
                         f"C-index: Harrell's C of the linear predictor, CI {comp['c_index_ci']}. AUC({h}): "
                         f"{comp['auc_at_horizon']}; Uno's C truncated at {h}.",
                         "; ".join(f"{c}: {b['prediction']}" for c, b in comp["cohorts"].items()) + ".",
                         "Choosing the best out-of-fold model makes its out-of-fold C-index optimistic; its held-out "
                         "and external numbers are the honest ones. The bundled model is the final model's own "
                         "procedure (its C-index is on the following pages)."]
                ax.text(0, 1, "\n".join(textwrap.fill(x, 120) for x in notes if x), fontsize=7, va="top",
                        transform=ax.transAxes)
            if chunk:
                _table_axes(ax, chunk, labels, top=0.8 if k == 0 else 0.98, widths=WIDTHS)
            pdf.savefig(fig)
        for k in range(0, len(external), ROWS_PER_PAGE):
            fig = _figure()
            ax = fig.add_subplot()
            ax.axis("off")
            ax.set_title("External cohorts, validated (every survival model)", fontsize=12, loc="left")
            ax.text(0, 1.0, textwrap.fill("Each external cohort was scored by every model as trained on the training "
                                          "cohort (no refit, no recalibration); the AUC's censoring distribution is "
                                          "the training cohort's. A horizon beyond a cohort's follow-up leaves its AUC "
                                          "undefined (NA).", 120), fontsize=7, va="top", transform=ax.transAxes)
            _table_axes(ax, external[k:k + ROWS_PER_PAGE], labels, widths=WIDTHS)
            pdf.savefig(fig)
        rows = survival_pairwise_rows(comp)
        for k in range(0, len(rows), ROWS_PER_PAGE):
            fig = _figure()
            ax = fig.add_subplot()
            ax.axis("off")
            ax.set_title("Pairwise comparisons of the survival models (validated cohorts)", fontsize=12, loc="left")
            ax.text(0, 1.0, textwrap.fill(f"'B vs A': B minus A. {comp.get('pairwise_method', '')}. The p-values are "
                                          "not adjusted for multiple comparisons.", 120),
                    fontsize=7, va="top", transform=ax.transAxes)
            _table_axes(ax, rows[k:k + ROWS_PER_PAGE],
                        ["cohort", "comparison", "delta C-index [95% CI]", "p", f"delta AUC({h}) [95% CI]", "p"],
                        fontsize=6.5, widths=(2.2, 2.4, 2.2, 0.7, 2.2, 0.7))
            pdf.savefig(fig)

    return page


def _endpoint_cindex_page(ep: dict, m: dict):
    """One text page: the secondary endpoint's C-index of the primary model's linear predictor per cohort."""
    lines = [f"Endpoint {ep['name']}: time '{ep['time']}', event '{ep['event']}'. The model was trained on the "
             "primary endpoint; these are the same linear predictor's numbers on this endpoint."]
    for c, r in (m.get("cohorts") or {}).items():
        lines.append(f"{c} ({r.get('validation', '')}): n={r.get('n')}, {r.get('events')} events, Harrell's C "
                     f"{_fmt(r.get('c_index_linear_predictor'), 3)}; log-rank high vs low "
                     f"{_p((r.get('logrank') or {}).get('p_value'))}")
    return lambda pdf: _note_page(pdf, f"Secondary endpoint {ep['name']}", lines)
