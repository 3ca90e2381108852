"""rms-style nomogram of a model bundle, optionally with one patient marked.

Rows, top to bottom: ``Points`` (0-100), one axis per model term (Radscore,
clinical variables) placed so that a value's x position is its points,
``Total Points``, ``Linear Predictor`` and the probability axis. A patient's
values are marked on every axis with their points, and a vertical guide drops
from the total points to the probability.

The scales come from ``bundle.nomogram`` (see
:func:`radgui.model.bundle.nomogram_scales`), so what is drawn is exactly what
:func:`radgui.model.predict.predict_from_features` computes.

References
----------
Harrell FE. Regression Modeling Strategies, 2nd ed. Springer 2015 (``rms::nomogram``).
Iasonos A et al. How to build and interpret a nomogram for cancer prognosis.
J Clin Oncol 2008;26:1364-70.
"""

from __future__ import annotations

import math

import numpy as np

_PROB_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
_PATIENT = "#d62728"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * mag >= v - 1e-9:
            return m * mag
    return 10 * mag


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.2e}"


class NomogramDisplay:
    """Nomogram of a bundle, drawn into a given matplotlib Axes.

    Parameters
    ----------
    bundle : radgui.model.ModelBundle
        Needs ``linear_model`` and ``nomogram``.
    prediction : radgui.model.predict.Prediction, optional
        A patient's prediction; its ``values`` and ``points`` are marked.
    probability_label : str, optional
        Label of the last axis (default from the outcome).

    Attributes (after :meth:`plot`)
    -------------------------------
    ax_, figure_ : the matplotlib Axes and Figure.
    rows_ : dict mapping row name -> y coordinate.
    x_of_points_ : callable mapping term points (0-100) to x.
    x_of_total_ : callable mapping total points to x.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(8, 5))
    >>> NomogramDisplay(bundle, prediction).plot(ax=fig.add_subplot())  # doctest: +SKIP
    """

    def __init__(self, bundle, prediction=None, probability_label: str | None = None):
        if bundle.nomogram is None or bundle.linear_model is None:
            from radgui.errors import BundleError

            raise BundleError(f"model '{bundle.name}' has no nomogram (it is not a linear model "
                              "with known predictor ranges)")
        self.bundle = bundle
        self.prediction = prediction
        if probability_label is None:
            o = bundle.outcome
            if bundle.linear_model.link == "cox":
                probability_label = f"P({o.get('name', 'event')} by {bundle.linear_model.horizon:g})"
            else:
                probability_label = f"P({o.get('name', 'outcome')})"
        self.probability_label = probability_label

    # ------------------------------------------------------------------
    def plot(self, ax=None, *, fontsize: float = 8.0):
        """Draw into ``ax`` (a new Agg figure when None); returns ``self``."""
        from radgui.model.predict import lp_to_probability, total_points_to_lp

        if ax is None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(9, 1.0 + 0.55 * (len(self.bundle.nomogram["axes"]) + 4)))
            ax = fig.add_subplot()
        nomo = self.bundle.nomogram
        terms = {t.name: t for t in self.bundle.linear_model.terms}
        scale = nomo["points_per_lp"]
        total_max = _nice_max(nomo["max_total_points"])
        x_pts = lambda p: np.asarray(p, dtype=float)  # noqa: E731 - points axis is x itself
        x_tot = lambda t: np.asarray(t, dtype=float) * 100.0 / total_max  # noqa: E731
        pred = self.prediction
        row_names = ["Points"] + [a["label"] or a["term"] for a in nomo["axes"]] + \
            ["Total Points", "Linear Predictor", self.probability_label]
        step_y = 1.0 if pred is None else 1.4  # room under each axis for the patient's value
        rows = {name: -i * step_y for i, name in enumerate(row_names)}
        self.clipped_ = []
        line_kw = dict(color="black", lw=0.9, solid_capstyle="butt")
        tick_len = 0.12

        def axis(y, xs, labels, xmin=None, xmax=None):
            xs = np.asarray(xs, dtype=float)
            lo = xs.min() if xmin is None else xmin
            hi = xs.max() if xmax is None else xmax
            ax.plot([lo, hi], [y, y], **line_kw)
            for x, lab in zip(xs, labels):
                ax.plot([x, x], [y, y + tick_len], **line_kw)
                ax.text(x, y + tick_len * 1.4, lab, ha="center", va="bottom", fontsize=fontsize)

        def label(y, text):
            ax.text(-4, y, text, ha="right", va="center", fontsize=fontsize + 0.5, fontweight="bold")

        def mark(x, y, text=None, lo=0.0, hi=100.0, name=""):
            if x > hi or x < lo:  # beyond the axis: clipped to its end with an arrow, never into the labels
                self.clipped_.append(name)
                end = hi if x > hi else lo
                ax.annotate("", xy=(end + (3 if x > hi else -3), y), xytext=(end, y),
                            arrowprops=dict(arrowstyle="-|>", color=_PATIENT, lw=1.6), zorder=5)
                text = f"{text}: beyond the training range" if text else "beyond the training range"
                x = end
            ax.plot([x], [y], marker="v", color=_PATIENT, ms=7, zorder=5, clip_on=False)
            if text:
                ha = "center" if 12 < x < 88 else ("left" if x <= 12 else "right")
                ax.text(x, y - 0.16, text, ha=ha, va="top", fontsize=fontsize - 0.5,
                        color=_PATIENT, fontweight="bold")

        # Points
        y = rows["Points"]
        label(y, "Points")
        axis(y, np.arange(0, 101, 10), [str(v) for v in range(0, 101, 10)])
        for v in range(0, 101, 2):
            if v % 10:
                ax.plot([v, v], [y, y + tick_len * 0.5], **line_kw)

        # One axis per term
        for a in nomo["axes"]:
            t = terms[a["term"]]
            name = a["label"] or a["term"]
            y = rows[name]
            label(y, name)
            if a["type"] == "categorical":
                contrib = {t.reference: 0.0, **t.coefficients}
                xs = [(contrib[lvl] - a["min_contribution"]) * scale for lvl in a["levels"]]
                axis(y, xs, [str(lvl) for lvl in a["levels"]])
            else:
                ticks = [v for v in a["ticks"] if a["low"] - 1e-12 <= v <= a["high"] + 1e-12]
                xs = [(t.coefficient * v - a["min_contribution"]) * scale for v in ticks]
                ends = [(t.coefficient * v - a["min_contribution"]) * scale for v in (a["low"], a["high"])]
                keep = _declutter(xs, min_gap=4.0) if xs else []   # short axes: fewer labels, same positions
                axis(y, [xs[i] for i in keep], [_fmt(ticks[i]) for i in keep], min(ends), max(ends))
            if pred is not None and a["term"] in pred.points:
                v = pred.values.get(a["term"])
                shown = _fmt(v) if isinstance(v, (int, float)) else str(v)
                p = pred.points[a["term"]]
                if a["type"] == "categorical":
                    lo_x, hi_x = min(xs), max(xs)
                else:
                    lo_x, hi_x = min(ends), max(ends)
                mark(float(x_pts(p)), y, f"{shown} \u2192 {p:.0f} pts", lo_x - 1e-9, hi_x + 1e-9, name)
                pc = min(max(p, lo_x), hi_x)
                ax.plot([pc, pc], [rows["Points"], y], color=_PATIENT, lw=0.6, ls=":", zorder=1)

        # Total points
        y = rows["Total Points"]
        label(y, "Total Points")
        step = total_max / 10
        tot_ticks = np.arange(0, total_max + step / 2, step)
        axis(y, x_tot(tot_ticks), [_fmt(v) for v in tot_ticks])

        # Linear predictor
        y = rows["Linear Predictor"]
        label(y, "Linear Predictor")
        lp_lo, lp_hi = total_points_to_lp(self.bundle, [0.0, total_max])
        from radgui.model.bundle import _nice_ticks

        lp_ticks = [v for v in _nice_ticks(float(lp_lo), float(lp_hi), 8) if lp_lo <= v <= lp_hi]
        axis(y, x_tot((np.asarray(lp_ticks) - nomo["lp_at_zero_points"]) * scale), [_fmt(v) for v in lp_ticks],
             0.0, 100.0)

        # Probability
        y = rows[self.probability_label]
        label(y, self.probability_label)
        grid = np.linspace(0, total_max, 2001)
        probs = lp_to_probability(self.bundle, total_points_to_lp(self.bundle, grid))
        increasing = probs[-1] >= probs[0]
        ticks, xs = [], []
        for p in _PROB_TICKS:
            if min(probs[0], probs[-1]) <= p <= max(probs[0], probs[-1]):
                tp = np.interp(p, probs if increasing else probs[::-1], grid if increasing else grid[::-1])
                ticks.append(p)
                xs.append(float(x_tot(tp)))
        if xs:
            keep = _declutter(xs, min_gap=6.5)  # "0.98" and "0.99" side by side would touch
            axis(y, [xs[i] for i in keep], [f"{ticks[i]:g}" for i in keep])

        if pred is not None and pred.total_points is not None:
            xt = float(x_tot(pred.total_points))
            mark(xt, rows["Total Points"], f"{pred.total_points:.0f}", name="Total Points")
            mark(xt, rows["Linear Predictor"], f"{pred.linear_predictor:.2f}", name="Linear Predictor")
            mark(xt, y, f"{pred.probability:.2f}", name=self.probability_label)
            xt = min(max(xt, 0.0), 100.0)
            ax.plot([xt, xt], [rows["Total Points"], y], color=_PATIENT, lw=0.8, ls="--", zorder=1)

        ax.set_xlim(-40, 108)
        ax.set_ylim(min(rows.values()) - 0.8 * step_y, 0.7)
        ax.axis("off")
        self.ax_, self.figure_ = ax, ax.figure
        self.rows_ = rows
        self.x_of_points_, self.x_of_total_ = x_pts, x_tot
        self.total_max_ = total_max
        return self


def _declutter(xs, min_gap):
    keep, last = [], -np.inf
    for i in np.argsort(xs):
        if xs[i] - last >= min_gap:
            keep.append(int(i))
            last = xs[i]
    return sorted(keep)


def plot_nomogram(bundle, prediction=None, ax=None, **kwargs) -> NomogramDisplay:
    """Function twin of :class:`NomogramDisplay`: ``NomogramDisplay(...).plot(ax)``."""
    return NomogramDisplay(bundle, prediction, **kwargs).plot(ax)
