"""Study figures of the selection methods and outcome extras.

Each is a ``*Display`` drawing into a given matplotlib Axes (no pyplot), as
:mod:`radgui.plots.curves`:

* :class:`SelectionFrequencyDisplay`: bootstrap LASSO selection frequency
  of each feature (bar plot, the kept features highlighted).
* :class:`ScoreByOutcomeDisplay`: box or violin plot of the Radscore by
  outcome class with the Mann-Whitney (or t) p-value.
* :class:`TimeDependentRocDisplay`: cumulative/dynamic ROC curves at chosen
  times with their IPCW AUC.
* :class:`PairedChangeDisplay`: the score of each patient at two time points
  joined by a line, with the paired Wilcoxon p-value.
* :class:`KMLandmarkDisplay`: Kaplan-Meier curves by group with the landmark
  survival rates (and CIs) and medians written under the legend.
* :class:`CoxForestDisplay`: a forest plot of a univariable/multivariable
  Cox table.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SelectionFrequencyDisplay", "ScoreByOutcomeDisplay", "TimeDependentRocDisplay", "PairedChangeDisplay",
           "KMLandmarkDisplay", "CoxForestDisplay"]


def _axes(ax, figsize=(5.5, 4.0)):
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=figsize, layout="constrained").add_subplot()
    return ax


def _short(name: str, n: int = 34) -> str:
    name = str(name)
    return name if len(name) <= n else name[: n - 1] + "\u2026"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


class SelectionFrequencyDisplay:
    """Selection frequency of each feature over bootstrap LASSO fits.

    Parameters
    ----------
    frequency : Series (feature -> frequency in [0, 1])
    selected : sequence of str, optional
        Features the step kept (drawn in the accent colour).
    threshold : float, optional
        Drawn as a vertical line.
    top : int
        Show the ``top`` most frequent features.
    """

    def __init__(self, frequency, selected=(), threshold=None, top: int = 25):
        import pandas as pd

        self.frequency = pd.Series(frequency, dtype=float).sort_values(ascending=False, kind="stable")
        self.selected = list(selected)
        self.threshold = threshold
        self.top = top

    @classmethod
    def from_estimator(cls, step, **kwargs):
        """From a fitted :class:`radgui.model.steps.StabilitySelection`."""
        return cls(step.frequency_, step.selected_, step.threshold or None, **kwargs)

    def plot(self, ax=None):
        f = self.frequency.iloc[: self.top][::-1]
        ax = _axes(ax, (5.5, max(2.5, 0.22 * len(f) + 1)))
        colours = ["C3" if n in self.selected else "0.6" for n in f.index]
        self.bars_ = ax.barh([_short(n) for n in f.index], f.to_numpy(), color=colours)
        if self.threshold:
            ax.axvline(self.threshold, color="0.3", ls="--", lw=0.8)
        ax.set(xlim=(0, 1), xlabel="Selection frequency", title="Bootstrap LASSO selection frequency")
        ax.tick_params(axis="y", labelsize=6)
        self.ax_, self.figure_ = ax, ax.figure
        return self


class ScoreByOutcomeDisplay:
    """Box or violin plot of a score by outcome class, with the two-sample test.

    Parameters
    ----------
    score, y : array-like
    labels : mapping class -> label, optional
    kind : {"box", "violin"}
    test : {"mannwhitney", "ttest"}
    name : str
        y-axis label (default ``"Radscore"``).
    """

    def __init__(self, score, y, labels=None, kind: str = "box", test: str = "mannwhitney", name: str = "Radscore"):
        self.score = np.asarray(score, float)
        self.y = np.asarray(y)
        self.labels = dict(labels or {})
        self.kind = kind
        self.test = test
        self.name = name

    def plot(self, ax=None):
        from radgui.stats import compare_by_outcome

        ax = _axes(ax, (4.0, 4.0))
        self.comparison_ = cmp = compare_by_outcome(self.score, self.y, self.test)
        data = [self.score[self.y == k] for k in cmp.labels]
        names = [f"{self.labels.get(k, k)}\n(n={len(d)})" for k, d in zip(cmp.labels, data)]
        if self.kind == "violin":
            parts = ax.violinplot(data, showmedians=True)
            for body, c in zip(parts["bodies"], ("C0", "C3")):
                body.set_facecolor(c)
        elif self.kind == "box":
            ax.boxplot(data, widths=0.5)
        else:
            raise ValueError(f"kind must be 'box' or 'violin', got {self.kind!r}")
        rng = np.random.default_rng(0)
        for i, d in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.08, 0.08, len(d)), d, s=6, color="0.3", alpha=0.6, zorder=3)
        ax.set_xticks([1, 2], names)
        test = "Mann-Whitney U" if cmp.test == "mannwhitney" else "Welch t-test"
        ax.set(ylabel=self.name, title=f"{self.name} by outcome ({test}, {_p(cmp.p_value)})")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class TimeDependentRocDisplay:
    """Cumulative/dynamic ROC curves at chosen times (:func:`radgui.stats.time_dependent_roc`).

    Parameters
    ----------
    curves : dict time -> (fpr, tpr, auc)
    unit : str
    """

    def __init__(self, curves, unit: str = ""):
        self.curves = dict(curves)
        self.unit = unit

    @classmethod
    def from_survival(cls, train_time, train_event, time, event, risk, times, unit="", ax=None):
        from radgui.stats import time_dependent_roc

        curves = {float(t): time_dependent_roc(train_time, train_event, time, event, risk, t) for t in times}
        return cls(curves, unit).plot(ax=ax)

    def plot(self, ax=None):
        ax = _axes(ax, (4.5, 4.5))
        self.lines_ = {}
        for t, (fpr, tpr, auc) in self.curves.items():
            (self.lines_[t],) = ax.plot(fpr, tpr, label=f"{t:g} {self.unit}".strip() + f": AUC {auc:.2f}")
        ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1)
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="1 - specificity", ylabel="Sensitivity",
               title="Time-dependent ROC (cumulative/dynamic, IPCW)")
        ax.legend(loc="lower right", fontsize=8)
        self.ax_, self.figure_ = ax, ax.figure
        return self


class PairedChangeDisplay:
    """A score at two time points per patient, with the paired Wilcoxon test.

    Parameters
    ----------
    change : radgui.stats.PairedChange
    names : (str, str)
        Labels of the two time points.
    """

    def __init__(self, change, names=("Baseline", "Follow-up"), name: str = "Radscore"):
        self.change = change
        self.names = tuple(names)
        self.name = name

    def plot(self, ax=None):
        ax = _axes(ax, (4.0, 4.0))
        tab = self.change.table
        for b, a in zip(tab["before"], tab["after"]):
            ax.plot([0, 1], [b, a], color="C3" if a > b else "C0", lw=0.8, alpha=0.7, marker="o", ms=3)
        ax.set_xticks([0, 1], list(self.names))
        ax.set_xlim(-0.3, 1.3)
        ax.set(ylabel=self.name, title=f"{self.name} change (paired Wilcoxon, n={self.change.n_pairs}, "
                                       f"{_p(self.change.p_value)})")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class KMLandmarkDisplay:
    """Kaplan-Meier curves by group with medians and landmark rates (:func:`radgui.stats.km_summary`).

    Parameters
    ----------
    summary : radgui.stats.KMSummary
    time_label : str
    title : str
    """

    def __init__(self, summary, time_label: str = "Time", title: str = ""):
        self.summary = summary
        self.time_label = time_label
        self.title = title

    def landmark_lines(self) -> list[str]:
        """One line per group: median and landmark rates with their CIs (percent)."""
        lines = []
        for g, row in self.summary.table.iterrows():
            med = "not reached" if not np.isfinite(row["median"]) else f"{row['median']:.1f}"
            rates = [f"{t:g}: {100 * row[f'S({t:g})']:.0f}% ({100 * row[f'S({t:g})_ci_low']:.0f}-"
                     f"{100 * row[f'S({t:g})_ci_high']:.0f})" if np.isfinite(row[f"S({t:g})"]) else f"{t:g}: n/a"
                     for t in self.summary.landmarks]
            lines.append(f"{g}: median {med}; " + "; ".join(rates))
        return lines

    def plot(self, ax=None, *, annotate: bool = True):
        """Draw; with ``annotate`` the landmark lines go in the upper right corner (else use :meth:`landmark_lines`)."""
        from radgui.plots.curves import KaplanMeierDisplay

        ax = _axes(ax, (6.0, 5.0))
        KaplanMeierDisplay(self.summary.curves, self.summary.logrank, self.time_label).plot(ax=ax)
        for t in self.summary.landmarks:
            ax.axvline(t, color="0.75", lw=0.7, ls=":")
        self.text_ = ax.text(0.98, 0.88, "\n".join(self.landmark_lines()), transform=ax.transAxes, fontsize=6,
                             va="top", ha="right") if annotate else None
        if self.title:
            ax.set_title(self.title)
        self.ax_, self.figure_ = ax, ax.figure
        return self


class CoxForestDisplay:
    """Forest plot of a Cox table (:func:`radgui.stats.cox_table`): univariable and multivariable HR with CI."""

    def __init__(self, table, title: str = "Cox regression"):
        self.table = table
        self.title = title

    def plot(self, ax=None):
        tab = self.table
        ax = _axes(ax, (6.0, max(2.5, 0.45 * len(tab) + 1.2)))
        y = np.arange(len(tab))[::-1]
        for off, pre, colour, lab in ((0.15, "uni", "C0", "univariable"), (-0.15, "multi", "C3", "multivariable")):
            hr = tab[f"{pre}_hr"].to_numpy(float)
            ok = np.isfinite(hr)
            if not ok.any():
                continue
            lo, hi = tab[f"{pre}_ci_low"].to_numpy(float), tab[f"{pre}_ci_high"].to_numpy(float)
            ax.errorbar(hr[ok], y[ok] + off, xerr=[hr[ok] - lo[ok], hi[ok] - hr[ok]], fmt="s", color=colour,
                        ms=4, capsize=2, lw=1, label=lab)
        ax.axvline(1, color="0.5", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yticks(y, [_short(v) for v in tab.index])
        ax.set(xlabel="Hazard ratio (95% CI)", title=self.title)
        ax.legend(fontsize=7, loc="best")
        self.ax_, self.figure_ = ax, ax.figure
        return self
