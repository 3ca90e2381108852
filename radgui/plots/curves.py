"""Display objects for the curves of :mod:`radgui.stats`.

Each ``*Display`` follows scikit-learn's plotting API
(``sklearn.metrics.RocCurveDisplay``): the constructor takes the computed
curve, ``from_predictions`` (or ``from_survival``) computes it with
:mod:`radgui.stats`, and ``plot(ax=None)`` draws into the given matplotlib
Axes and stores ``ax_``, ``figure_`` and the artists. Nothing touches pyplot's
global state: without an ``ax`` a fresh :class:`matplotlib.figure.Figure` is
made (``display.figure_.savefig(path)`` writes it), so the displays are safe
in the Qt GUI, in reports and on headless machines.

Examples
--------
>>> from matplotlib.figure import Figure
>>> fig = Figure(figsize=(8, 4))
>>> ax1, ax2 = fig.subplots(1, 2)
>>> y, p = [0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.7]
>>> RocDisplay.from_predictions(y, p, name="Radscore", ax=ax1).ax_ is ax1
True
>>> _ = DecisionCurveDisplay.from_predictions(y, p, ax=ax2)
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "RocDisplay",
    "PrecisionRecallDisplay",
    "CalibrationDisplay",
    "DecisionCurveDisplay",
    "KaplanMeierDisplay",
]

_REF = dict(color="0.6", linestyle="--", linewidth=1)
_TABLE_TOP_PT = 50  # numbers-at-risk table: first row this far below the x axis (points)
_ROW_PT = 13


def _new_axes(ax, figsize=(5.0, 5.0)):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained").add_subplot()


def _fmt_ci(value, lo, hi, digits=2):
    if lo is None or hi is None or not np.isfinite(lo):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{digits}f}-{hi:.{digits}f}]"


class RocDisplay:
    """ROC curve (sensitivity against 1 - specificity) with its AUC in the legend.

    Parameters
    ----------
    fpr, tpr : ndarray
        Curve points (from :func:`radgui.stats.roc_curve`).
    roc_auc : radgui.stats.RocAuc, optional
        Shown in the legend as ``AUC 0.81 [0.74-0.88]``.
    name : str, optional
        Legend name of the curve.
    cutoff : radgui.stats.YoudenCutoff, optional
        Marked as a point on the curve.

    Attributes (after :meth:`plot`)
    -------------------------------
    ax_, figure_, line_
    """

    def __init__(self, fpr, tpr, roc_auc=None, name=None, cutoff=None):
        self.fpr = np.asarray(fpr, float)
        self.tpr = np.asarray(tpr, float)
        self.roc_auc = roc_auc
        self.name = name
        self.cutoff = cutoff

    @classmethod
    def from_predictions(cls, y, score, *, name=None, ci="delong", show_cutoff=False, ax=None, **kwargs):
        """Compute the curve and AUC (``radgui.stats.roc_auc``) and plot it."""
        from radgui.stats import roc_auc, roc_curve, youden_cutoff

        fpr, tpr, _ = roc_curve(y, score)
        cut = youden_cutoff(y, score) if show_cutoff else None
        return cls(fpr, tpr, roc_auc(y, score, ci=ci), name, cut).plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, name=None, chance_level=True, **kwargs):
        """Draw into ``ax`` (a new Figure's Axes when None); returns self."""
        ax = _new_axes(ax)
        name = name if name is not None else self.name
        label = name or "ROC"
        if self.roc_auc is not None:
            r = self.roc_auc
            label = f"{label} (AUC {_fmt_ci(r.auc, r.ci_low, r.ci_high)})"
        (self.line_,) = ax.plot(self.fpr, self.tpr, drawstyle="steps-post", label=label, **kwargs)
        if self.cutoff is not None:
            c = self.cutoff
            ax.plot(1 - c.specificity, c.sensitivity, "o", color=self.line_.get_color(),
                    label=f"Youden cut-off {c.threshold:.3g}")
        # One chance diagonal per Axes, found by its gid (nothing planted on the Axes).
        if chance_level and not any(line.get_gid() == "radgui-chance" for line in ax.get_lines()):
            ax.plot([0, 1], [0, 1], **_REF, label="Chance", gid="radgui-chance")
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="1 - Specificity", ylabel="Sensitivity",
               aspect="equal")
        ax.legend(loc="lower right", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class PrecisionRecallDisplay:
    """Precision-recall curve with average precision and the no-skill line.

    Parameters
    ----------
    precision, recall : ndarray
    average_precision : float or radgui.stats.PrAuc, optional
    prevalence : float, optional
        Drawn as the horizontal no-skill line.
    name : str, optional
    """

    def __init__(self, precision, recall, average_precision=None, prevalence=None, name=None):
        self.precision = np.asarray(precision, float)
        self.recall = np.asarray(recall, float)
        self.average_precision = average_precision
        self.prevalence = prevalence
        self.name = name

    @classmethod
    def from_predictions(cls, y, score, *, name=None, n_boot=0, seed=None, ax=None, **kwargs):
        """Compute the curve (scikit-learn) and AP (:func:`radgui.stats.pr_auc`) and plot it."""
        from sklearn.metrics import precision_recall_curve

        from radgui.stats import pr_auc

        r = pr_auc(y, score, n_boot=n_boot, seed=seed)
        prec, rec, _ = precision_recall_curve(np.asarray(y), np.asarray(score, float))
        return cls(prec, rec, r, r.prevalence, name).plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, name=None, **kwargs):
        ax = _new_axes(ax)
        label = (name if name is not None else self.name) or "Model"
        ap = self.average_precision
        if ap is not None:
            label += " (AP " + (_fmt_ci(ap.auc, ap.ci_low, ap.ci_high) if hasattr(ap, "auc") else f"{ap:.2f}") + ")"
        (self.line_,) = ax.plot(self.recall, self.precision, drawstyle="steps-post", label=label, **kwargs)
        if self.prevalence is not None:
            ax.axhline(self.prevalence, **_REF, label=f"No skill (prevalence {self.prevalence:.2f})")
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="Recall (sensitivity)",
               ylabel="Precision (PPV)")
        ax.legend(loc="lower left", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class CalibrationDisplay:
    """Calibration plot: binned observed vs predicted risk with 95% CIs,
    LOWESS curve, ideal diagonal and slope/intercept/Brier in the corner.

    Parameters
    ----------
    calibration : radgui.stats.Calibration
    name : str, optional
    prob : array-like, optional
        Predicted risks, drawn as a rug (distribution) along the bottom.
    """

    def __init__(self, calibration, name=None, prob=None):
        self.calibration = calibration
        self.name = name
        self.prob = None if prob is None else np.asarray(prob, float)

    @classmethod
    def from_predictions(cls, y, prob, *, bins=10, name=None, ax=None, **kwargs):
        from radgui.stats import calibration

        return cls(calibration(y, prob, bins=bins), name, prob).plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, name=None, smooth=True, **kwargs):
        ax = _new_axes(ax)
        c = self.calibration
        name = (name if name is not None else self.name) or "Model"
        ax.plot([0, 1], [0, 1], **_REF, label="Ideal")
        cur = c.curve
        self.points_ = ax.errorbar(
            cur["predicted"], cur["observed"],
            yerr=[cur["observed"] - cur["ci_low"], cur["ci_high"] - cur["observed"]],
            fmt="o", capsize=2, label=f"{name}: grouped", **kwargs,
        )
        color = self.points_.lines[0].get_color()
        if smooth:
            (self.line_,) = ax.plot(c.smooth["predicted"], c.smooth["observed"], color=color,
                                    label=f"{name}: LOWESS")
        if self.prob is not None:
            ax.plot(self.prob, np.full(self.prob.shape, -0.02), "|", color=color, alpha=0.3, markersize=6)
        ax.text(0.03, 0.97, f"Slope {c.slope:.2f}\nIntercept {c.intercept:.2f}\nBrier {c.brier:.3f}",
                transform=ax.transAxes, va="top", fontsize="small")
        ax.set(xlim=(-0.03, 1.01), ylim=(-0.04, 1.01), xlabel="Predicted probability",
               ylabel="Observed proportion", aspect="equal")
        ax.legend(loc="lower right", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class DecisionCurveDisplay:
    """Decision curve: net benefit of the model, of treating all and of treating none.

    Parameters
    ----------
    frame : DataFrame
        Output of :func:`radgui.stats.decision_curve`.
    name : str, optional
    """

    def __init__(self, frame, name=None):
        self.frame = frame
        self.name = name

    @classmethod
    def from_predictions(cls, y, prob, thresholds=None, *, name=None, ax=None, **kwargs):
        from radgui.stats import decision_curve

        return cls(decision_curve(y, prob, thresholds), name).plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, name=None, references=True, **kwargs):
        """Draw; ``references=False`` skips treat-all/none (when adding a second model)."""
        ax = _new_axes(ax, figsize=(6.0, 4.5))
        f = self.frame
        name = (name if name is not None else self.name) or "Model"
        (self.line_,) = ax.plot(f["threshold"], f["net_benefit"], label=name, **kwargs)
        if references:
            ax.plot(f["threshold"], f["net_benefit_all"], color="0.45", linewidth=1, label="Treat all")
            ax.axhline(0, color="0.2", linewidth=1, label="Treat none")
        top = max(float(np.nanmax(f["net_benefit_all"])), float(np.nanmax(f["net_benefit"])), 0.01)
        lo, hi = ax.get_ylim() if getattr(ax, "_radgui_dca", False) else (np.inf, -np.inf)
        ax.set_ylim(min(lo, -0.05 * top - 0.01), max(hi, top * 1.1))
        ax._radgui_dca = True
        ax.set(xlim=(float(f["threshold"].min()), float(f["threshold"].max())), xlabel="Threshold probability",
               ylabel="Net benefit")
        ax.legend(loc="upper right", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class KaplanMeierDisplay:
    """Kaplan-Meier curves with CI bands, censoring marks, log-rank p and a
    numbers-at-risk table under the x axis.

    Parameters
    ----------
    curves : dict of str -> radgui.stats.KaplanMeier
        One entry per group, in legend order.
    logrank : radgui.stats.Logrank, optional
        Its p-value is printed on the plot.
    time_label : str
        x-axis label, with the unit (e.g. ``"Time (months)"``).

    Attributes (after :meth:`plot`)
    -------------------------------
    ax_, figure_, lines_ (dict), at_risk_ (DataFrame: groups x times),
    at_risk_times_ (ndarray).

    Notes
    -----
    The table is drawn as text in axes coordinates below the x axis, so the
    Axes must leave room underneath (``layout="constrained"`` figures and the
    figure made when ``ax`` is None do).
    """

    def __init__(self, curves, logrank=None, time_label="Time"):
        if not isinstance(curves, dict):
            curves = {"All": curves}
        self.curves = curves
        self.logrank = logrank
        self.time_label = time_label

    @classmethod
    def from_survival(cls, time, event, group=None, *, ci="log-log", time_label="Time", ax=None, **kwargs):
        """Fit one curve per group (:func:`radgui.stats.kaplan_meier`, log-rank when >1 group) and plot."""
        import pandas as pd

        from radgui.stats import kaplan_meier, logrank

        t = np.asarray(time, float)
        e = np.asarray(event)
        if group is None:
            return cls({"All": kaplan_meier(t, e, ci=ci)}, None, time_label).plot(ax=ax, **kwargs)
        g = np.asarray(group)
        labels = pd.unique(g)
        try:
            labels = sorted(labels)
        except TypeError:
            pass
        curves = {str(k): kaplan_meier(t[g == k], e[g == k], ci=ci) for k in labels}
        lr = logrank(t, e, g) if len(curves) > 1 else None
        return cls(curves, lr, time_label).plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, at_risk_times=None, ci=True, censor_marks=True, at_risk=True):
        import pandas as pd

        if ax is None:
            from matplotlib.figure import Figure

            k = len(self.curves)
            table_pt = (_TABLE_TOP_PT + _ROW_PT * (k + 1) + 8) if at_risk else 40
            height_in = 4.2 + table_pt / 72
            fig = Figure(figsize=(6.5, height_in))
            bottom = table_pt / 72 / height_in
            ax = fig.add_axes((0.2, bottom, 0.76, 0.95 - bottom))
        self.lines_ = {}
        t_max = max(float(km.table["time"].max()) for km in self.curves.values())
        for name, km in self.curves.items():
            tab = km.table
            x = np.r_[0.0, tab["time"].to_numpy()]
            y = np.r_[1.0, tab["survival"].to_numpy()]
            (line,) = ax.step(x, y, where="post", label=f"{name} (n={km.n})")
            color = line.get_color()
            self.lines_[name] = line
            if ci:
                lo = np.r_[1.0, tab["ci_low"].to_numpy()]
                hi = np.r_[1.0, tab["ci_high"].to_numpy()]
                ax.fill_between(x, lo, hi, step="post", color=color, alpha=0.15, linewidth=0)
            if censor_marks:
                cens = tab[tab["n_censor"] > 0]
                ax.plot(cens["time"], cens["survival"], "|", color=color, markersize=7)
        ax.set(xlim=(0, t_max * 1.02), ylim=(0, 1.02), xlabel=self.time_label, ylabel="Survival probability")
        if self.logrank is not None:
            p = self.logrank.p_value
            ax.text(0.97, 0.97, "Log-rank p " + ("< 0.001" if p < 0.001 else f"= {p:.3f}"),
                    transform=ax.transAxes, ha="right", va="top", fontsize="small")
        ax.legend(loc="lower left", fontsize="small")
        if at_risk_times is None:
            ticks = [t for t in ax.get_xticks() if 0 <= t <= t_max]
            at_risk_times = np.asarray(ticks, float)
        self.at_risk_times_ = np.asarray(at_risk_times, float)
        self.at_risk_ = pd.DataFrame(
            {f"{t:g}": [km.n_at_risk(t) for km in self.curves.values()] for t in self.at_risk_times_},
            index=list(self.curves),
        )
        if at_risk:
            self._draw_table(ax)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _draw_table(self, ax):
        from matplotlib.transforms import blended_transform_factory, offset_copy

        ax.set_xticks(self.at_risk_times_)
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        # rows start below the tick labels and the x label: offsets in points
        def at(transform, dy, dx=0.0):
            return offset_copy(transform, fig=ax.figure, x=dx, y=dy, units="points")

        # group names sit left of the axis, clear of the number centred on the first time
        ax.text(0, 0, "Number at risk", transform=at(ax.transAxes, -_TABLE_TOP_PT, -20), ha="right", va="top",
                fontsize="small", fontweight="bold")
        for i, (name, line) in enumerate(self.lines_.items()):
            dy = -_TABLE_TOP_PT - _ROW_PT * (i + 1)
            ax.text(0, 0, name, transform=at(ax.transAxes, dy, -20), ha="right", va="top", fontsize="small",
                    color=line.get_color())
            for t, n in zip(self.at_risk_times_, self.at_risk_.loc[name]):
                ax.text(t, 0, str(int(n)), transform=at(trans, dy), ha="center", va="top", fontsize="small")
