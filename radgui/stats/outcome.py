"""Outcome extras of a study: Cox tables, K-M group summaries with landmark rates,
time-dependent ROC, the Radscore by outcome and its change between time points.

* :func:`cox_table`: univariable, then multivariable Cox regression (HR, CI,
  p) of the Radscore and clinical variables (Efron ties, lifelines
  ``CoxPHFitter`` through :func:`radgui.stats.cox`).
* :func:`km_summary`: per group (observed: responders vs non-responders;
  predicted: high vs low) the number, events, median survival with its CI,
  landmark survival rates (e.g. 6 and 12 months) with pointwise log-log CIs,
  and the log-rank test.
* :func:`time_dependent_auc` / :func:`time_dependent_roc`:
  cumulative/dynamic ROC at chosen times with inverse-probability-of-
  censoring weights (Uno 2007), as scikit-survival's
  ``cumulative_dynamic_auc``.
* :func:`compare_by_outcome`: Mann-Whitney U (or Welch t) of a score between
  the two outcome classes.
* :func:`paired_change`: the paired Wilcoxon signed-rank test of a score
  between two time points (delta-radiomics), pairing by patient.

References
----------
Uno H, Cai T, Tian L, Wei LJ. Evaluating prediction rules for t-year
survivors with censored regression models. J Am Stat Assoc 2007;102:527-37.
Heagerty PJ, Zheng Y. Survival model predictive accuracy and ROC curves.
Biometrics 2005;61:92-105.
Wilcoxon F. Individual comparisons by ranking methods. Biometrics Bull
1945;1:80-3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as _st

from radgui.errors import StatsInputError

from ._checks import as_binary, as_float, same_length
from .survival import cox, kaplan_meier, logrank


# ------------------------------------------------------------------ Cox table
def cox_table(frame: pd.DataFrame, duration: str, event: str, variables, *, multivariable="all",
              screen_p: float = 0.1, level: float = 0.95) -> pd.DataFrame:
    """Univariable then multivariable Cox regression of each variable.

    Parameters
    ----------
    frame : DataFrame
        Numeric columns (encode categorical variables as dummies first, e.g.
        :func:`radgui.model.clinical.encode`).
    duration, event : str
        Columns of follow-up time and event (1) / censoring (0).
    variables : sequence of str
        Covariates (e.g. ``["radscore", "age", "ecog=1"]``).
    multivariable : {"all", "screened"} or sequence of str
        Which variables enter the multivariable model: all of them, those
        with univariable ``p < screen_p``, or the named ones.
    screen_p : float
    level : float

    Returns
    -------
    DataFrame
        Index = variable; columns ``uni_hr, uni_ci_low, uni_ci_high, uni_p,
        multi_hr, multi_ci_low, multi_ci_high, multi_p`` (NaN for a variable
        not in the multivariable model).
    """
    variables = list(variables)
    if not variables:
        raise StatsInputError("cox_table needs at least one variable")
    missing = [v for v in (duration, event, *variables) if v not in frame.columns]
    if missing:
        raise StatsInputError(f"column(s) {missing} are not in the table")
    rows = {}
    for v in variables:
        term = cox(frame[[duration, event, v]], duration, event, [v], level=level)[v]
        rows[v] = {"uni_hr": term.hr, "uni_ci_low": term.ci_low, "uni_ci_high": term.ci_high, "uni_p": term.p_value}
    out = pd.DataFrame(rows).T
    if isinstance(multivariable, str):
        if multivariable == "all":
            multi = variables
        elif multivariable == "screened":
            multi = [v for v in variables if out.loc[v, "uni_p"] < screen_p]
        else:
            raise StatsInputError(f"multivariable must be 'all', 'screened' or a list, got {multivariable!r}")
    else:
        multi = [v for v in variables if v in set(multivariable)]
    for c in ("multi_hr", "multi_ci_low", "multi_ci_high", "multi_p"):
        out[c] = np.nan
    if multi:
        res = cox(frame[[duration, event, *multi]], duration, event, multi, level=level)
        for v in multi:
            t = res[v]
            out.loc[v, ["multi_hr", "multi_ci_low", "multi_ci_high", "multi_p"]] = [t.hr, t.ci_low, t.ci_high,
                                                                                     t.p_value]
    out.index.name = "variable"
    return out.astype(float)


# ------------------------------------------------------------------ K-M summaries
@dataclass(frozen=True)
class KMSummary:
    """Per-group K-M summary (see :func:`km_summary`).

    Attributes
    ----------
    table : DataFrame
        Index = group; ``n, events, median, median_ci_low, median_ci_high``
        and, per landmark ``t``, ``S(t)``, ``S(t)_ci_low``, ``S(t)_ci_high``.
    curves : dict group -> KaplanMeier
    logrank : Logrank or None
    landmarks : tuple of float
    """

    table: pd.DataFrame = field(repr=False)
    curves: dict = field(repr=False)
    logrank: object = None
    landmarks: tuple = ()


def landmark_rates(km, times) -> pd.DataFrame:
    """Survival at each landmark time with its pointwise CI (one row per time).

    ``S(t)`` is the K-M step function at ``t`` (right-continuous); a time past
    the last follow-up is NaN (not estimable), not the carried-forward value.

    Parameters
    ----------
    km : KaplanMeier
    times : sequence of float

    Returns
    -------
    DataFrame
        ``time, survival, ci_low, ci_high``.
    """
    t = np.atleast_1d(np.asarray(times, dtype=float))
    last = float(km.table["time"].max()) if len(km.table) else 0.0
    s = np.atleast_1d(km.survival_at(t)).astype(float)
    lo, hi = (np.atleast_1d(a).astype(float) for a in km.ci_at(t))
    beyond = t > last
    s[beyond] = lo[beyond] = hi[beyond] = np.nan
    return pd.DataFrame({"time": t, "survival": s, "ci_low": lo, "ci_high": hi})


def km_summary(time, event, group, landmarks=(6, 12), *, ci: str = "log-log", level: float = 0.95) -> KMSummary:
    """K-M curves by group with median, landmark rates and the log-rank test.

    Parameters
    ----------
    time, event : array-like
    group : array-like
        Observed (e.g. responders vs non-responders) or predicted (high vs
        low risk) group of each patient.
    landmarks : sequence of float
        Times (in the time unit) at which survival rates are reported.
    ci, level : str, float
        As :func:`radgui.stats.kaplan_meier`.

    Returns
    -------
    KMSummary
    """
    t = as_float(time, "time")
    e = as_binary(event, "event", need_both=False)
    g = np.asarray(group)
    same_length(time=t, event=e, group=g)
    if pd.isna(g).any():
        raise StatsInputError("group has missing labels")
    labels = list(pd.unique(g))
    try:
        labels = sorted(labels)
    except TypeError:
        pass
    curves, rows = {}, {}
    for k in labels:
        km = kaplan_meier(t[g == k], e[g == k], ci=ci, level=level)
        curves[str(k)] = km
        row = {"n": km.n, "events": km.n_events, "median": km.median, "median_ci_low": km.median_ci_low,
               "median_ci_high": km.median_ci_high}
        for _, r in landmark_rates(km, landmarks).iterrows():
            lab = f"S({r['time']:g})"
            row[lab], row[f"{lab}_ci_low"], row[f"{lab}_ci_high"] = r["survival"], r["ci_low"], r["ci_high"]
        rows[str(k)] = row
    lr = logrank(t, e, g) if len(labels) > 1 and e.sum() > 0 else None
    table = pd.DataFrame(rows).T
    table.index.name = "group"
    return KMSummary(table, curves, lr, tuple(float(x) for x in landmarks))


# ------------------------------------------------------------------ time-dependent ROC
def _censoring_survival(time, event):
    """K-M estimate of the censoring distribution G(t) = P(C > t).

    At a time with both events and censorings the events come first (they
    are not at risk of censoring then), as scikit-survival's
    ``CensoringDistributionEstimator``.
    """
    u, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=event, minlength=u.size)
    c = np.bincount(inv, weights=1 - event, minlength=u.size)
    n = time.size - np.r_[0, np.cumsum(np.bincount(inv, minlength=u.size))[:-1]]
    at_risk = n - d
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(c > 0, 1 - c / at_risk, 1.0)
    return u, np.cumprod(factor)


def _g_at(u, g, t):
    idx = np.searchsorted(u, t, side="right") - 1
    return np.where(idx < 0, 1.0, g[np.clip(idx, 0, None)])


def _td_inputs(train_time, train_event, time, event, risk, times):
    tt = as_float(train_time, "train_time")
    te = as_binary(train_event, "train_event", need_both=False).astype(float)
    same_length(train_time=tt, train_event=te)
    t = as_float(time, "time")
    e = as_binary(event, "event", need_both=False).astype(bool)
    r = as_float(risk, "risk")
    same_length(time=t, event=e, risk=r)
    times = np.atleast_1d(np.asarray(times, dtype=float))
    if times.min() < t.min() or times.max() >= t.max():
        raise StatsInputError(f"time-dependent ROC times must lie within the follow-up [{t.min():g}, {t.max():g}), "
                              f"got {times.tolist()}")
    u, g = _censoring_survival(tt, te)
    w = np.zeros(t.size)
    ge = _g_at(u, g, t[e])
    if np.any(ge <= 0):
        raise StatsInputError("the censoring survival function is zero at an event time (IPCW undefined)")
    w[e] = 1.0 / ge
    return t, e, r, times, w


def time_dependent_auc(train_time, train_event, time, event, risk, times) -> np.ndarray:
    """Cumulative/dynamic AUC(t) with IPCW weights (Uno 2007).

    Cases at ``t``: events at or before ``t``, weighted by ``1/G(T_i)`` with
    ``G`` the K-M censoring distribution of the training data; controls:
    patients still event-free after ``t``. ``AUC(t)`` is the weighted share of
    case-control pairs in which the case has the higher ``risk`` (ties count
    one half). Equal to ``sksurv.metrics.cumulative_dynamic_auc``.

    Parameters
    ----------
    train_time, train_event : array-like
        Data the censoring distribution is estimated on.
    time, event, risk : array-like
        The evaluated cohort; higher ``risk`` = earlier event expected.
    times : sequence of float

    Returns
    -------
    ndarray of AUC, one per time.
    """
    t, e, r, times, w = _td_inputs(train_time, train_event, time, event, risk, times)
    out = np.empty(times.size)
    for k, tau in enumerate(times):
        case = e & (t <= tau)
        ctrl = t > tau
        if not case.any() or not ctrl.any():
            out[k] = np.nan
            continue
        diff = r[case][:, None] - r[ctrl][None, :]
        conc = (diff > 0) + 0.5 * (diff == 0)
        out[k] = float((w[case] @ conc).sum() / (w[case].sum() * ctrl.sum()))
    return out


def time_dependent_roc(train_time, train_event, time, event, risk, tau: float):
    """The cumulative/dynamic ROC curve at ``tau``: ``(fpr, tpr, auc)``.

    ``tpr(c)`` is the IPCW-weighted share of cases with ``risk >= c``, ``fpr(c)``
    the share of controls with ``risk >= c``; the area (trapezoids) is
    :func:`time_dependent_auc`.

    Parameters
    ----------
    train_time, train_event, time, event, risk : array-like
        As :func:`time_dependent_auc`.
    tau : float

    Returns
    -------
    fpr, tpr : ndarray
    auc : float
    """
    t, e, r, _, w = _td_inputs(train_time, train_event, time, event, risk, [tau])
    case = e & (t <= tau)
    ctrl = t > tau
    thr = np.unique(r)[::-1]
    tpr = np.r_[0.0, [(w[case] * (r[case] >= c)).sum() for c in thr]] / max(w[case].sum(), 1e-300)
    fpr = np.r_[0.0, [(r[ctrl] >= c).sum() for c in thr]] / max(ctrl.sum(), 1)
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


# ------------------------------------------------------------------ score by outcome, paired change
@dataclass(frozen=True)
class GroupComparison:
    """A two-sample test of a score between the outcome classes (see :func:`compare_by_outcome`)."""

    test: str
    statistic: float
    p_value: float
    n: tuple
    median: tuple
    labels: tuple


def compare_by_outcome(score, y, test: str = "mannwhitney") -> GroupComparison:
    """Mann-Whitney U (two-sided, default) or Welch's t-test of ``score`` between the classes of ``y``.

    Parameters
    ----------
    score : array-like
    y : array-like with two classes
    test : {"mannwhitney", "ttest"}

    Returns
    -------
    GroupComparison
        ``statistic`` and ``p_value`` of ``scipy.stats.mannwhitneyu`` / ``ttest_ind(equal_var=False)``.
    """
    s = as_float(score, "score")
    yb = np.asarray(y)
    same_length(score=s, y=yb)
    labels = sorted(pd.unique(yb).tolist())
    if len(labels) != 2:
        raise StatsInputError(f"the outcome must have two classes, found {labels}")
    a, b = s[yb == labels[0]], s[yb == labels[1]]
    if test == "mannwhitney":
        r = _st.mannwhitneyu(a, b, alternative="two-sided")
    elif test == "ttest":
        r = _st.ttest_ind(a, b, equal_var=False)
    else:
        raise StatsInputError(f"test must be 'mannwhitney' or 'ttest', got {test!r}")
    return GroupComparison(test, float(r.statistic), float(r.pvalue), (a.size, b.size),
                           (float(np.median(a)), float(np.median(b))), tuple(labels))


@dataclass(frozen=True)
class PairedChange:
    """Wilcoxon signed-rank test of a score between two time points (see :func:`paired_change`)."""

    statistic: float
    p_value: float
    n_pairs: int
    median_change: float
    table: pd.DataFrame = field(repr=False, compare=False)


def paired_change(before, after, *, ids=None, zero_method: str = "wilcox") -> PairedChange:
    """Paired Wilcoxon signed-rank test of ``after - before`` (delta-radiomics).

    Parameters
    ----------
    before, after : array-like or Series
        The score at the two time points. As Series (indexed by patient) they
        are paired by index; patients present at one time only are left out.
        As arrays, ``ids`` (optional) names the patients, in the same order.
    zero_method : str
        scipy's ``wilcoxon`` ``zero_method`` (zero differences).

    Returns
    -------
    PairedChange
        ``statistic`` and ``p_value`` are those of ``scipy.stats.wilcoxon``
        (two-sided); ``table`` has ``before, after, change`` per patient.
    """
    if isinstance(before, pd.Series) and isinstance(after, pd.Series):
        if before.index.has_duplicates or after.index.has_duplicates:
            raise StatsInputError("a patient appears twice at one time point")
        frame = pd.concat({"before": before, "after": after}, axis=1, join="inner")
    else:
        b, a = as_float(before, "before"), as_float(after, "after")
        same_length(before=b, after=a)
        frame = pd.DataFrame({"before": b, "after": a}, index=ids)
    frame = frame.astype(float)
    if frame.isna().any().any() or not np.isfinite(frame.to_numpy()).all():
        raise StatsInputError("before/after values must be finite numbers")
    if len(frame) < 2:
        raise StatsInputError(f"the paired Wilcoxon test needs at least 2 pairs, got {len(frame)}")
    frame["change"] = frame["after"] - frame["before"]
    if not (frame["change"] != 0).any():
        raise StatsInputError("every change is zero: the Wilcoxon test is undefined")
    r = _st.wilcoxon(frame["after"], frame["before"], zero_method=zero_method)
    return PairedChange(float(r.statistic), float(r.pvalue), int(len(frame)), float(frame["change"].median()),
                        frame)
