"""Kaplan-Meier placement: where one patient falls in a model's reference cohort.

Left: the reference cohort's Kaplan-Meier curves by risk group (pointwise
log-log confidence bands, censoring marks, log-rank p and a numbers-at-risk
table, drawn by :class:`radgui.plots.curves.KaplanMeierDisplay` from
:func:`radgui.stats.kaplan_meier`), with the patient's group drawn bold and
labelled; a box gives that group's median time-to-event with its 95 % CI and
its event-free rate at a chosen time. Right: the distribution of the
reference cohort's linear predictor by risk group, the cutoff, and this
patient's linear predictor with its percentile.

Everything is computed from ``bundle.reference_cohort`` (columns
``linear_predictor``, ``risk_group`` and, for the curves, ``time`` and
``event``); nothing is drawn with pyplot.
"""

from __future__ import annotations

import math

import numpy as np

_PATIENT = "#d62728"
_GROUP_COLORS = {"low": "#1f77b4", "high": "#ff7f0e"}
_TABLE_PT = 50 + 13 * 3 + 16  # room under the KM axes for the numbers-at-risk table (points)


def group_label(group: str, direction: str = "adverse", outcome: str = "the outcome") -> str:
    """Display name of a risk group (``"high"`` -> ``"High risk"``; for a favourable outcome
    ``"High probability of <outcome>"``)."""
    from radgui.model.config import risk_group_label

    return risk_group_label(group, direction, outcome)


def _group_colour(group: str, direction: str = "adverse", default=None):
    """The worse-prognosis group is orange, the better one blue, whatever the outcome's direction."""
    if str(group) not in _GROUP_COLORS:
        return default
    from radgui.model.config import is_worse_group

    return _GROUP_COLORS["high" if is_worse_group(group, direction) else "low"]


def probability_text(p) -> str:
    """A probability as the Predict panel prints it (``"63.2%"``; ``"n/a"`` when missing)."""
    return "n/a" if p is None or not math.isfinite(p) else f"{100 * p:.1f}%"


def percentile_text(pct) -> str:
    """The percentile worded so it cannot be read as a probability."""
    if pct is None or not math.isfinite(pct):
        return ""
    return f"Linear predictor higher than {pct:.0f}% of the reference cohort's linear predictors"


def reference_cohort_text(bundle) -> str:
    """Which patients the K-M curves and the percentile show (the model card's "Cohort" may be larger)."""
    ref = bundle.reference_cohort
    if ref is None or not len(ref):
        return "no reference cohort in this model"
    meta = (bundle.provenance or {}).get("reference_cohort") or {}
    meta = meta if isinstance(meta, dict) else {}
    txt = f"{len(ref)} patients of the reference cohort"
    if meta.get("description"):
        txt += f" ({meta['description']})"
    if "event" in ref.columns and ref["event"].notna().any():
        txt += f", {int(ref['event'].fillna(0).sum())} events"
    card = bundle.card().cohort
    if card and card != "not stated" and not card.startswith(f"{len(ref)} "):
        txt += f"; not the model card's cohort ({card})"
    return txt


def patient_survival(bundle, prediction, times=None, level: float = 0.95):
    """The patient's predicted survival curve S(t | x) with its pointwise CI, or None.

    Cox bundles use the stored baseline; other bundles with survival data in the
    reference cohort use a Cox model of ``time, event`` on the linear predictor:
    the one stored in the bundle (``bundle.reference_cox``) or, when absent, one
    fitted now with lifelines (``source`` says which).

    Returns
    -------
    dict or None
        ``times, survival, ci_low, ci_high, source`` (arrays over ``times``).
    """
    ref = bundle.reference_cohort
    lp = getattr(prediction, "linear_predictor", None)
    if ref is None or lp is None or not math.isfinite(lp) or not {"time", "event"} <= set(ref.columns):
        return None
    fit = reference_cox(bundle)
    if fit is None:
        return None
    return _curve(fit, float(lp), times, level)


def reference_cox(bundle):
    """The Cox model of the reference cohort on the linear predictor (lifelines ``CoxPHFitter``), or None.

    Fitted once per bundle object from ``reference_cohort`` (``time``, ``event``,
    ``linear_predictor``) and kept on the bundle; ``fit.radgui_source_`` says where it came from.
    """
    cached = getattr(bundle, "_reference_cox", None)
    if cached is not None:
        return cached
    ref = bundle.reference_cohort
    if ref is None or not {"time", "event", "linear_predictor"} <= set(ref.columns):
        return None
    df = ref[["time", "event", "linear_predictor"]].dropna()
    df = df[df["time"] > 0]
    if len(df) < 10 or df["event"].sum() < 2:
        return None
    import warnings

    from lifelines import CoxPHFitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = CoxPHFitter().fit(df.astype(float), duration_col="time", event_col="event")
    fit.radgui_source_ = "Cox model of the reference cohort on the linear predictor, fitted at load time " \
                         "from reference_cohort.csv"
    fit.radgui_data_ = df.astype(float)
    try:
        bundle._reference_cox = fit
    except AttributeError:  # pragma: no cover - frozen bundle
        pass
    return fit


def _curve(fit, lp, times, level):
    from scipy.stats import norm

    df = fit.radgui_data_
    x = __import__("pandas").DataFrame({"linear_predictor": [lp]})
    if times is None:
        times = np.unique(np.concatenate([[0.0], df["time"].to_numpy()]))
    times = np.asarray(times, dtype=float)
    surv = fit.predict_survival_function(x, times=times).to_numpy()[:, 0]
    # delta method on log H(t | x) = log H0(t) + b (x - mean): Breslow variance of H0, var(b); covariance ignored
    beta = float(fit.params_.iloc[0])
    var_b = float(fit.variance_matrix_.iloc[0, 0])
    xc = lp - float(fit._norm_mean.iloc[0])
    t_obs = df["time"].to_numpy()
    e_obs = df["event"].to_numpy()
    risk = np.exp(beta * (df["linear_predictor"].to_numpy() - float(fit._norm_mean.iloc[0])))
    ev_times = np.unique(t_obs[e_obs > 0])
    d = np.array([e_obs[t_obs == u].sum() for u in ev_times])
    s0 = np.array([risk[t_obs >= u].sum() for u in ev_times])
    h0 = np.cumsum(d / s0)
    v0 = np.cumsum(d / s0 ** 2)
    idx = np.searchsorted(ev_times, times, side="right") - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        H0 = np.where(idx >= 0, h0[np.clip(idx, 0, None)], 0.0)
        V0 = np.where(idx >= 0, v0[np.clip(idx, 0, None)], 0.0)
        se = np.sqrt(V0 / H0 ** 2 + xc ** 2 * var_b)
    z = norm.ppf(0.5 + level / 2)
    logH = np.log(np.maximum(-np.log(np.clip(surv, 1e-300, 1.0)), 1e-300))
    lo = np.where(H0 > 0, np.exp(-np.exp(logH + z * se)), surv)
    hi = np.where(H0 > 0, np.exp(-np.exp(logH - z * se)), surv)
    return {"times": times, "survival": surv, "ci_low": lo, "ci_high": hi, "source": fit.radgui_source_}


def _fmt_time(v) -> str:
    return "not reached" if v is None or not math.isfinite(v) else f"{v:.1f}"


def _cutoff_lp(bundle) -> float | None:
    c = bundle.cutoff
    if not c:
        return None
    if c["scale"] == "linear_predictor":
        return float(c["value"])
    p = float(c["value"])
    lm = bundle.linear_model
    if not 0 < p < 1 or lm is None:
        return None
    if lm.link == "logit":
        return math.log(p / (1 - p))
    # cox: p = 1 - S0^exp(lp)  ->  lp = log(log(1 - p) / log(S0))
    return math.log(math.log(1 - p) / math.log(lm.baseline_survival))


class KMPlacementDisplay:
    """The K-M placement panel of one patient, drawn into a given Figure.

    Parameters
    ----------
    bundle : radgui.model.ModelBundle
        Needs ``reference_cohort`` (with ``time`` and ``event`` for the curves).
    prediction : radgui.model.predict.Prediction, optional
        The patient (``risk_group``, ``linear_predictor``, ``percentile``).
    time_point : float, optional
        Time at which the event-free rate is reported; default
        ``provenance.reference_cohort.landmark``, else 12 when the unit is
        months, else the median follow-up.
    time_unit : str, optional
        Default from ``provenance.reference_cohort.time_unit``.

    Attributes (after :meth:`plot`)
    -------------------------------
    figure_, ax_km_, ax_dist_ : the Figure and its two Axes (``ax_km_`` None
        without survival times).
    km_ : radgui.plots.curves.KaplanMeierDisplay or None
    curves_ : dict group -> radgui.stats.KaplanMeier
    summary_ : dict with ``group, median, median_ci_low, median_ci_high,
        time_point, rate, rate_ci_low, rate_ci_high, percentile, n, events``.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> KMPlacementDisplay(bundle, prediction, time_point=12).plot(Figure(figsize=(9, 4)))  # doctest: +SKIP
    """

    def __init__(self, bundle, prediction=None, *, time_point: float | None = None, time_unit: str | None = None):
        from radgui.errors import BundleError

        ref = bundle.reference_cohort
        if ref is None or not len(ref):
            raise BundleError(f"model '{bundle.name}' has no reference cohort to place the patient in")
        self.bundle = bundle
        self.prediction = prediction
        outcome = bundle.outcome or {}
        self.direction = outcome.get("direction", "adverse")
        self._label = lambda g: group_label(g, self.direction, outcome.get("name", "the outcome"))
        self._colour = lambda g, default=None: _group_colour(g, self.direction, default)
        meta = (bundle.provenance or {}).get("reference_cohort") or {}
        meta = meta if isinstance(meta, dict) else {}
        self.time_unit = time_unit or meta.get("time_unit") or ""
        self.endpoint = meta.get("endpoint") or "event-free survival"
        self.has_survival = {"time", "event"} <= set(ref.columns) and ref["time"].notna().any()
        if time_point is None and self.has_survival:
            if meta.get("landmark") is not None:
                time_point = float(meta["landmark"])
            elif self.time_unit == "months" and float(ref["time"].max()) > 12:
                time_point = 12.0
            else:
                time_point = float(np.median(ref["time"]))
        self.time_point = time_point

    # ------------------------------------------------------------------
    def _groups(self):
        ref = self.bundle.reference_cohort
        groups = [g for g in ("low", "high") if g in set(ref["risk_group"].astype(str))]
        groups += sorted(set(ref["risk_group"].astype(str)) - set(groups))
        return groups

    def plot(self, figure=None, *, fontsize: float = 8.0):
        """Draw into ``figure`` (cleared first; a new one when None); returns ``self``."""
        from matplotlib.figure import Figure

        from radgui.stats import kaplan_meier, logrank

        fig = figure if figure is not None else Figure(figsize=(9.0, 4.2))
        fig.clear()
        ref = self.bundle.reference_cohort
        groups = self._groups()
        pred = self.prediction
        mine = getattr(pred, "risk_group", None)
        w, h = fig.bbox.width / fig.dpi, fig.bbox.height / fig.dpi  # a Figure or a SubFigure
        bottom = min(0.55, (_TABLE_PT / 72 + 0.1) / h)
        self.curves_ = {}
        self.summary_ = {"group": mine, "percentile": getattr(pred, "percentile", None),
                         "time_point": self.time_point}
        unit = f" ({self.time_unit})" if self.time_unit else ""

        if self.has_survival:
            n_leg = len(groups) + (pred is not None and {"time", "event"} <= set(ref.columns))
            leg_rows = math.ceil(n_leg / 2)
            # room above the axes: two title lines, the legend rows, paddings (points)
            room_pt = 3 * 1.3 * fontsize + leg_rows * 1.45 * fontsize + 14
            top = 1.0 - (room_pt / 72) / h
            left = min(0.3, 1.55 / w)  # room for "Number at risk" left of the axis
            ax_km = fig.add_axes((left, bottom, 0.68 - left, top - bottom))
            ax_dist = fig.add_axes((0.78, bottom, 0.20, top - bottom))
            t = ref["time"].to_numpy(float)
            e = ref["event"].to_numpy(int)
            g = ref["risk_group"].astype(str).to_numpy()
            self.curves_ = {self._label(k): kaplan_meier(t[g == k], e[g == k]) for k in groups}
            lr = logrank(t, e, g) if len(groups) > 1 else None
            from radgui.plots.curves import KaplanMeierDisplay

            km = KaplanMeierDisplay(self.curves_, lr, time_label=f"Time{unit}")
            # colours by group, patient's group emphasised
            km.plot(ax=ax_km)
            for k in groups:
                line = km.lines_[self._label(k)]
                line.set_color(self._colour(k, line.get_color()))
                if mine is not None:
                    line.set_linewidth(1.8 if k == mine else 1.0)
                    line.set_alpha(0.9 if k == mine else 0.55)
                    line.set_label(f"{line.get_label()} group, reference cohort"
                                   + (" (this patient's)" if k == mine else ""))
            # recolour bands and censor marks to the group colours
            self._recolour(ax_km, km, groups)
            self.patient_curve_ = None
            if pred is not None:
                self.patient_curve_ = patient_survival(self.bundle, pred)
            pc = self.patient_curve_
            if pc is not None:
                ax_km.fill_between(pc["times"], pc["ci_low"], pc["ci_high"], step="post", color=_PATIENT,
                                   alpha=0.12, lw=0)
                ax_km.step(pc["times"], pc["survival"], where="post", color=_PATIENT, lw=2.2, ls="--",
                           label="This patient, predicted (95% CI)", zorder=5)
                stored = "stored in the bundle" if "stored" in pc["source"] else "fitted at load time\nfrom reference_cohort.csv"
                self.source_text_ = fig.text(0.99, 0.01, "This patient's curve: a Cox model of\nthe reference cohort "
                                             f"on the linear\npredictor, {stored}", ha="right", va="bottom",
                                             fontsize=fontsize - 1.5, color="0.35")
            ax_km.set_ylim(0, 1.02)
            ax_km.set_ylabel(f"{self.endpoint.capitalize()}", fontsize=fontsize + 0.5)
            ax_km.tick_params(labelsize=fontsize)
            ax_km.xaxis.label.set_fontsize(fontsize + 0.5)
            if self.time_point is not None:
                ax_km.axvline(self.time_point, color="0.4", lw=0.8, ls=":")
            self.km_ = km
            lines = []
            if mine is not None and self._label(mine) in self.curves_:
                c = self.curves_[self._label(mine)]
                rate = float(c.survival_at(self.time_point))
                lo, hi = (float(v) for v in c.ci_at(self.time_point))
                self.summary_.update(median=c.median, median_ci_low=c.median_ci_low,
                                     median_ci_high=c.median_ci_high, rate=rate, rate_ci_low=lo,
                                     rate_ci_high=hi, n=c.n, events=c.n_events)
                u = unit  # " (months)", as the Predict panel tests read it
                lines.append(f"{self._label(mine)} group (n={c.n}, {c.n_events} events): median "
                             f"{_fmt_time(c.median)} [{_fmt_time(c.median_ci_low)}, {_fmt_time(c.median_ci_high)}]"
                             f"{u},\nevent-free at {self.time_point:g}{u}: {100 * rate:.0f}% "
                             f"[{100 * lo:.0f}, {100 * hi:.0f}]")
            if pc is not None and self.time_point is not None:
                i = max(0, int(np.searchsorted(pc["times"], self.time_point, side="right")) - 1)
                ps, pl, ph = (float(pc[k][i]) for k in ("survival", "ci_low", "ci_high"))
                self.summary_.update(patient_rate=ps, patient_rate_ci_low=pl, patient_rate_ci_high=ph)
                u = unit  # " (months)", as the Predict panel tests read it
                lines.append(f"This patient (predicted): event-free at {self.time_point:g}{u}: "
                             f"{100 * ps:.0f}% [{100 * pl:.0f}, {100 * ph:.0f}]")
                if math.isfinite(ps):
                    ax_km.plot([self.time_point], [ps], "o", color=_PATIENT, ms=6, zorder=6)
            if lines:
                self.summary_text_ = "\n".join(lines)
                ax_km.set_title(self.summary_text_, fontsize=fontsize, color=_PATIENT, fontweight="bold",
                                loc="left", pad=8 + 1.45 * fontsize * leg_rows)
            self.legend_ = ax_km.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=fontsize - 0.5,
                                        ncol=2, frameon=False, borderaxespad=0.2, handlelength=1.6)
        else:
            ax_km = None
            self.km_ = None
            ax_dist = fig.add_axes((0.12, 0.18, 0.83, 0.68))
            fig.text(0.5, 0.96, "The reference cohort has no survival times: only the score distribution "
                     "is shown", ha="center", va="top", fontsize=fontsize)
        self._plot_distribution(ax_dist, groups, fontsize)
        self.figure_, self.ax_km_, self.ax_dist_ = fig, ax_km, ax_dist
        return self

    def _recolour(self, ax, km, groups):
        from matplotlib.collections import PolyCollection

        colours = [self._colour(k) for k in groups]
        polys = [c for c in ax.collections if isinstance(c, PolyCollection)]
        for poly, col in zip(polys, colours):
            if col:
                poly.set_facecolor(col)
        marks = [ln for ln in ax.lines if ln.get_marker() == "|"]
        for ln, col in zip(marks, colours):
            if col:
                ln.set_color(col)

    def _plot_distribution(self, ax, groups, fontsize):
        ref = self.bundle.reference_cohort
        lp = ref["linear_predictor"].to_numpy(float)
        g = ref["risk_group"].astype(str).to_numpy()
        bins = np.histogram_bin_edges(lp, bins=min(25, max(8, len(lp) // 6)))
        data = [lp[g == k] for k in groups]
        ax.hist(data, bins=bins, stacked=True, orientation="horizontal",
                color=[self._colour(k, "0.6") for k in groups], alpha=0.75,
                label=[self._label(k) for k in groups])
        span = float(lp.max() - lp.min()) or 1.0
        lo_lim, hi_lim = float(lp.min()) - 0.08 * span, float(lp.max()) + 0.08 * span
        cut = _cutoff_lp(self.bundle)
        if cut is not None:
            lo_lim, hi_lim = min(lo_lim, cut - 0.05 * span), max(hi_lim, cut + 0.05 * span)
        ax.set_ylim(lo_lim, hi_lim)
        box = dict(facecolor="white", edgecolor="none", alpha=0.8, pad=0.5)
        if cut is not None:
            ax.axhline(cut, color="0.3", lw=0.9, ls="--")
            y_pat = getattr(self.prediction, "linear_predictor", None)
            below = y_pat is not None and math.isfinite(y_pat) and y_pat >= cut  # the patient's label is above
            ax.text(0.98, cut, "cutoff", transform=ax.get_yaxis_transform(), va="top" if below else "bottom",
                    ha="right",
                    fontsize=fontsize - 1, color="0.3", bbox=box, clip_on=True)
        pred = self.prediction
        self.patient_clipped_ = False
        if pred is not None and math.isfinite(getattr(pred, "linear_predictor", float("nan"))):
            y = float(pred.linear_predictor)
            pct = pred.percentile
            label = "this patient" + (f"\n> {pct:.0f}% of cohort" if pct is not None else "")
            if lo_lim <= y <= hi_lim:
                ax.axhline(y, color=_PATIENT, lw=2.0)
                up = y >= cut if cut is not None else y < (lo_lim + hi_lim) / 2
                ax.text(0.97, y, label, transform=ax.get_yaxis_transform(), ha="right",
                        va="bottom" if up else "top", fontsize=fontsize - 0.5, color=_PATIENT, fontweight="bold",
                        bbox=box)
            else:  # clipped at the edge with an arrow, never drawn into the label area
                self.patient_clipped_ = True
                yt = 0.97 if y > hi_lim else 0.03
                ax.annotate("", xy=(0.5, 1.0 if y > hi_lim else 0.0), xytext=(0.5, 0.86 if y > hi_lim else 0.14),
                            xycoords="axes fraction", arrowprops=dict(arrowstyle="-|>", color=_PATIENT, lw=2))
                ax.text(0.5, yt - (0.17 if y > hi_lim else -0.17), f"{label}\nLP {y:.2f}: beyond the\n"
                        "training range", transform=ax.transAxes, ha="center",
                        va="top" if y > hi_lim else "bottom", fontsize=fontsize - 1, color=_PATIENT,
                        fontweight="bold", bbox=box)
        ax.set_xlabel("Patients", fontsize=fontsize + 0.5)
        ax.set_ylabel("Linear predictor", fontsize=fontsize + 0.5)
        ax.set_title("Reference cohort", fontsize=fontsize + 0.5)
        ax.tick_params(labelsize=fontsize)


def plot_km_placement(bundle, prediction=None, figure=None, **kwargs) -> KMPlacementDisplay:
    """Function twin of :class:`KMPlacementDisplay`: ``KMPlacementDisplay(...).plot(figure)``."""
    return KMPlacementDisplay(bundle, prediction, **kwargs).plot(figure)
