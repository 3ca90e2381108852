"""Model-building figures: LASSO path and CV curve, coefficients, waterfall, confusion matrix.

Each is a ``*Display`` drawing into a given matplotlib Axes (no pyplot), as
scikit-learn's displays do. ROC, calibration, decision and Kaplan-Meier
curves live in :mod:`radgui.plots.curves`.
"""

from __future__ import annotations

import numpy as np


def _axes(ax, figsize=(5.5, 4.0)):
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=figsize, layout="constrained").add_subplot()
    return ax


class LassoPathDisplay:
    """Coefficient paths of a LASSO over log(lambda), with lambda.min and lambda.1se marked.

    Parameters
    ----------
    lambdas : ndarray (k,)
    coef_path : ndarray (k, p)
    feature_names : sequence of str
    lambda_min, lambda_1se : float, optional
    label_top : int
        Label the paths of this many features with the largest final |coef|.
    """

    def __init__(self, lambdas, coef_path, feature_names, lambda_min=None, lambda_1se=None, label_top: int = 6):
        self.lambdas = np.asarray(lambdas, float)
        self.coef_path = np.asarray(coef_path, float)
        self.feature_names = list(feature_names)
        self.lambda_min, self.lambda_1se = lambda_min, lambda_1se
        self.label_top = label_top

    @classmethod
    def from_estimator(cls, lasso, **kwargs):
        """From a fitted :class:`radgui.model.steps.LassoLogisticCV`."""
        return cls(lasso.lambdas_, lasso.coef_path_, lasso.feature_names_in_, lasso.lambda_min_, lasso.lambda_1se_,
                   **kwargs)

    def plot(self, ax=None):
        ax = _axes(ax)
        x = np.log(self.lambdas)
        active = np.flatnonzero(np.any(self.coef_path != 0, axis=0))
        for j in active:
            ax.plot(x, self.coef_path[:, j], lw=0.9)
        order = active[np.argsort(-np.abs(self.coef_path[-1, active]))][: self.label_top]
        for j in order:
            ax.annotate(_short(self.feature_names[j]), (x[-1], self.coef_path[-1, j]), fontsize=6,
                        xytext=(2, 0), textcoords="offset points", va="center")
        _mark_lambdas(ax, self.lambda_min, self.lambda_1se)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set(xlabel="log(lambda)", ylabel="Coefficient (standardised)", title="LASSO coefficient path")
        ax.invert_xaxis()
        self.ax_, self.figure_ = ax, ax.figure
        return self


class LassoCVDisplay:
    """Cross-validated binomial deviance (mean +/- 1 SE) over log(lambda), as ``plot(cv.glmnet)``."""

    def __init__(self, lambdas, cv_mean, cv_se, lambda_min=None, lambda_1se=None, n_nonzero=None):
        self.lambdas = np.asarray(lambdas, float)
        self.cv_mean, self.cv_se = np.asarray(cv_mean, float), np.asarray(cv_se, float)
        self.lambda_min, self.lambda_1se = lambda_min, lambda_1se
        self.n_nonzero = n_nonzero

    @classmethod
    def from_estimator(cls, lasso):
        return cls(lasso.lambdas_, lasso.cv_mean_, lasso.cv_se_, lasso.lambda_min_, lasso.lambda_1se_,
                   (lasso.coef_path_ != 0).sum(axis=1))

    def plot(self, ax=None):
        ax = _axes(ax)
        x = np.log(self.lambdas)
        ax.errorbar(x, self.cv_mean, yerr=self.cv_se, fmt="o", ms=3, color="#d62728", ecolor="0.6", capsize=2, lw=0.8)
        _mark_lambdas(ax, self.lambda_min, self.lambda_1se)
        if self.n_nonzero is not None:
            top = ax.secondary_xaxis("top")
            idx = np.linspace(0, len(x) - 1, min(8, len(x))).astype(int)
            top.set_xticks(x[idx], [str(int(v)) for v in np.asarray(self.n_nonzero)[idx]], fontsize=7)
            top.set_xlabel("non-zero coefficients", fontsize=7)
        ax.set(xlabel="log(lambda)", ylabel="Binomial deviance (CV)")
        ax.invert_xaxis()
        ax.legend(loc="best", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _mark_lambdas(ax, lam_min, lam_1se):
    if lam_min is not None:
        ax.axvline(np.log(lam_min), color="0.3", ls="--", lw=0.8, label="lambda.min")
    if lam_1se is not None:
        ax.axvline(np.log(lam_1se), color="0.3", ls=":", lw=0.8, label="lambda.1se")


def _short(name: str, n: int = 38) -> str:
    return name if len(name) <= n else "\u2026" + name[-(n - 1):]


class CoefficientDisplay:
    """Horizontal bar chart of the selected features' coefficients (the Radscore formula)."""

    def __init__(self, coefficients: dict, intercept: float | None = None):
        self.coefficients = dict(coefficients)
        self.intercept = intercept

    def plot(self, ax=None):
        ax = _axes(ax, (5.5, 0.6 + 0.3 * max(len(self.coefficients), 1)))
        items = sorted(self.coefficients.items(), key=lambda kv: kv[1])
        names = [_short(k, 45) for k, _ in items]
        vals = [v for _, v in items]
        colors = ["#1f77b4" if v >= 0 else "#d62728" for v in vals]
        ax.barh(range(len(vals)), vals, color=colors)
        ax.set_yticks(range(len(vals)), names, fontsize=7)
        for i, v in enumerate(vals):
            ax.text(v, i, f" {v:+.3f} ", va="center", ha="left" if v >= 0 else "right", fontsize=7)
        ax.axvline(0, color="0.3", lw=0.6)
        title = "Radscore coefficients"
        if self.intercept is not None:
            title += f" (intercept {self.intercept:+.3f})"
        ax.set(xlabel="Coefficient (per SD)", title=title)
        lo, hi = min(vals + [0]), max(vals + [0])
        pad = 0.35 * (hi - lo or 1)
        ax.set_xlim(lo - pad, hi + pad)
        self.ax_, self.figure_ = ax, ax.figure
        return self


class WaterfallDisplay:
    """Waterfall plot: each patient's predicted probability minus the cutoff, sorted, coloured by outcome."""

    def __init__(self, y, prob, cutoff: float, labels=("no event", "event")):
        self.y = np.asarray(y).astype(int)
        self.prob = np.asarray(prob, float)
        self.cutoff = float(cutoff)
        self.labels = labels

    def plot(self, ax=None, *, title=None):
        ax = _axes(ax, (6, 3.5))
        order = np.argsort(-self.prob)
        d = self.prob[order] - self.cutoff
        yy = self.y[order]
        colors = np.where(yy == 1, "#d62728", "#1f77b4")
        ax.bar(np.arange(len(d)), d, color=colors, width=0.85)
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color="#d62728", label=self.labels[1]), Patch(color="#1f77b4", label=self.labels[0])],
                  fontsize="small", loc="upper right")
        ax.axhline(0, color="0.2", lw=0.7)
        ax.set(xlabel="Patients (sorted)", ylabel=f"Probability - cutoff ({self.cutoff:.2f})", xticks=[],
               title=title or "Waterfall plot")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class ConfusionMatrixDisplay:
    """2 x 2 confusion matrix at a cutoff with counts and row percentages."""

    def __init__(self, tp: int, fp: int, tn: int, fn: int, labels=("0", "1")):
        self.matrix = np.array([[tn, fp], [fn, tp]])
        self.labels = labels

    @classmethod
    def from_metrics(cls, m, **kwargs):
        """From :class:`radgui.stats.BinaryMetrics` or its dict."""
        g = m.get if isinstance(m, dict) else lambda k: getattr(m, k)
        return cls(int(g("tp")), int(g("fp")), int(g("tn")), int(g("fn")), **kwargs)

    def plot(self, ax=None, *, title=None):
        ax = _axes(ax, (3.5, 3.2))
        m = self.matrix
        ax.imshow(m, cmap="Blues", vmin=0, vmax=max(m.max(), 1))
        rows = m.sum(axis=1, keepdims=True).clip(1)
        for i in range(2):
            for j in range(2):
                ax.text(j, i, f"{m[i, j]}\n({100 * m[i, j] / rows[i, 0]:.0f}%)", ha="center", va="center",
                        color="white" if m[i, j] > m.max() / 2 else "black", fontsize=10)
        ax.set_xticks([0, 1], [f"pred {self.labels[0]}", f"pred {self.labels[1]}"])
        ax.set_yticks([0, 1], [f"true {self.labels[0]}", f"true {self.labels[1]}"])
        ax.set_title(title or "Confusion matrix", fontsize=9)
        self.ax_, self.figure_ = ax, ax.figure
        return self


class ModelComparisonDisplay:
    """Several models' ROC, precision-recall and decision curves overlaid, on one cohort's predictions.

    Parameters
    ----------
    y : array-like of 0/1
    predictions : mapping model name -> probabilities
        Validated predictions (out-of-fold, held-out or external) as the
        comparison of :mod:`radgui.model.designs` uses them.
    cohort : str
        Shown in the titles (with how the predictions were obtained).
    """

    def __init__(self, y, predictions, cohort: str = ""):
        self.y = np.asarray(y, int)
        self.predictions = {str(k): np.asarray(v, float) for k, v in predictions.items()}
        self.cohort = cohort

    def plot(self, roc_ax=None, pr_ax=None, dca_ax=None):
        """Draw into up to three Axes (None: that panel is skipped); returns the Axes drawn."""
        from radgui.plots.curves import DecisionCurveDisplay, PrecisionRecallDisplay, RocDisplay

        drawn = []
        for i, (name, p) in enumerate(self.predictions.items()):
            short = _short(name, 24)
            if roc_ax is not None:
                RocDisplay.from_predictions(self.y, p, name=short, ax=roc_ax, chance_level=i == 0)
            if pr_ax is not None:
                PrecisionRecallDisplay.from_predictions(self.y, p, name=short, ax=pr_ax)
            if dca_ax is not None:
                DecisionCurveDisplay.from_predictions(self.y, p, np.arange(0.01, 0.96, 0.01), name=short,
                                                      ax=dca_ax, references=i == 0)
        for ax, what in ((roc_ax, "ROC"), (pr_ax, "Precision-recall"), (dca_ax, "Decision curves")):
            if ax is not None:
                ax.set_title(f"{what}: {self.cohort}", fontsize=8)
                handles, labels = ax.get_legend_handles_labels()
                seen = {}
                for h, lab in zip(handles, labels):  # one "No skill"/"Chance"/"Treat all" entry, not one per model
                    seen.setdefault(lab, h)
                if seen:
                    ax.legend(list(seen.values()), list(seen), fontsize=6,
                              loc="lower left" if what == "Precision-recall" else "best")
                drawn.append(ax)
        return drawn
