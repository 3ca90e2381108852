"""Calibration of predicted probabilities: Hosmer-Lemeshow test, calibration
slope and intercept, Brier score, binned and smoothed calibration curves.

References
----------
Hosmer DW, Lemeshow S. Goodness of fit tests for the multiple logistic
regression model. Commun Stat Theory Methods 1980;9:1043-1069.
Hosmer DW, Lemeshow S, Sturdivant RX. Applied Logistic Regression, 3rd ed.
Wiley, 2013, section 5.2.2.
Lele SR, Keim JL, Solymos P. ResourceSelection: resource selection
(probability) functions for use-availability data. R package (``hoslem.test``).
StataCorp. Stata Base Reference Manual: ``estat gof`` after ``logistic``.
Van Calster B, et al. Calibration: the Achilles heel of predictive analytics.
BMC Med 2019;17:230.
Steyerberg EW. Clinical Prediction Models, 2nd ed. Springer, 2019, ch. 15.
Harrell FE. rms: Regression Modeling Strategies, R package (``val.prob``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as _st

from radgui.errors import StatsInputError

from ._checks import as_binary, probabilities, same_length

__all__ = ["HosmerLemeshow", "Calibration", "hosmer_lemeshow", "calibration", "DEGENERATE_EPS"]

#: A probability this close to 0 or 1 is "degenerate": its logit is clipped
#: and its Hosmer-Lemeshow term ``(O - E)^2 / E`` can be astronomically large.
DEGENERATE_EPS = 1e-10


def _refuse_degenerate(p: np.ndarray, what: str) -> None:
    """Refuse probabilities at 0 or 1 (separation or an overfitted model), saying so."""
    bad = (p <= DEGENERATE_EPS) | (p >= 1 - DEGENERATE_EPS)
    if bad.any():
        raise StatsInputError(
            f"{what} is not computed: {int(bad.sum())} of {p.size} predicted probabilities are 0 or 1 "
            f"(within {DEGENERATE_EPS:g}), which happens with complete separation or an overfitted model; "
            "validate out-of-fold or held-out predictions instead"
        )


@dataclass(frozen=True)
class HosmerLemeshow:
    """Hosmer-Lemeshow goodness-of-fit test.

    Attributes
    ----------
    statistic : float
        ``sum_g (O_g - E_g)^2 / (n_g pbar_g (1 - pbar_g))`` (equivalently the
        Pearson chi-square over the 2 x G table of events and non-events).
    df : int
    p_value : float
    table : DataFrame
        One row per group: ``group, n, observed, expected, observed_0,
        expected_0, prob_low, prob_high``.
    grouping : str
    """

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame = field(repr=False, compare=False)
    grouping: str = "quantile"


@dataclass(frozen=True)
class Calibration:
    """Calibration summary of predicted probabilities.

    Attributes
    ----------
    slope : float
        ``b`` in ``logit P(y=1) = a + b * logit(prob)`` (ideal 1; < 1 means
        predictions too extreme, i.e. overfitting).
    intercept : float
        Calibration-in-the-large: ``a`` in ``logit P(y=1) = a +
        logit(prob)`` (slope fixed at 1 by an offset; ideal 0; > 0 means
        risks are underestimated on average). This is the "calibration
        intercept" of Van Calster et al. (2019) and Steyerberg (2019).
    intercept_joint : float
        ``a`` of the two-parameter fit (what ``rms::val.prob`` prints as
        "Intercept").
    brier : float
        Mean squared error of the probabilities.
    curve : DataFrame
        Binned curve, one row per bin of ``bins`` equal-count groups:
        ``bin, n, predicted`` (mean predicted) ``, observed`` (event rate),
        ``ci_low, ci_high`` (Wilson 95% interval of the event rate).
    smooth : DataFrame
        ``predicted, observed``: LOWESS of y on prob (statsmodels, frac 2/3,
        no robustness iterations, delta 1% of the range: R ``lowess``
        defaults as used by ``rms::val.prob``), sorted by prob.
    slope_ci, intercept_ci : tuple
        Wald 95% intervals.
    """

    slope: float
    intercept: float
    brier: float
    curve: pd.DataFrame = field(repr=False, compare=False)
    smooth: pd.DataFrame = field(repr=False, compare=False)
    intercept_joint: float = float("nan")
    slope_ci: tuple = (float("nan"), float("nan"))
    intercept_ci: tuple = (float("nan"), float("nan"))


def _r_quantile_groups(p: np.ndarray, g: int) -> np.ndarray:
    """R: ``cut(p, unique(quantile(p, seq(0, 1, 1/g))), include.lowest=TRUE)``."""
    breaks = np.unique(np.quantile(p, np.linspace(0, 1, g + 1)))  # type 7 = numpy linear
    if breaks.size < 2:
        return np.zeros(p.size, dtype=int)
    # right-closed intervals (b_{i-1}, b_i], the first one closed on the left
    return np.clip(np.searchsorted(breaks, p, side="left") - 1, 0, breaks.size - 2)


def _stata_groups(p: np.ndarray, g: int) -> np.ndarray:
    """Stata ``xtile, nq(g)`` on the predicted probabilities.

    Cut points are Stata's default percentiles (``_pctile``): with sorted
    values x_(1..n) and ``P = n k / g``, the k-th cut point is
    ``(x_(P) + x_(P+1)) / 2`` when P is an integer, else ``x_(ceil(P))``. A
    value goes to the first group whose cut point it does not exceed, so tied
    risks always share a group and fewer than ``g`` groups may result.
    """
    x = np.sort(p)
    n = x.size
    cuts = []
    for k in range(1, g):
        P = n * k / g
        fl = int(np.floor(P + 1e-9))
        if abs(P - fl) < 1e-9:
            cuts.append((x[fl - 1] + x[fl]) / 2 if fl < n else x[-1])
        else:
            cuts.append(x[int(np.ceil(P)) - 1])
    cuts = np.asarray(cuts)
    return np.searchsorted(cuts, p, side="left")  # x <= cut_k -> group k


def hosmer_lemeshow(y, prob, groups: int = 10, grouping: str = "quantile") -> HosmerLemeshow:
    """Hosmer-Lemeshow goodness-of-fit test of predicted probabilities.

    Parameters
    ----------
    y : array-like of 0/1
        Observed outcome.
    prob : array-like in [0, 1]
        Predicted probability of ``y = 1``.
    groups : int
        Number of risk groups requested (``g``).
    grouping : {"quantile", "stata"}
        ``"quantile"`` (default) reproduces R
        ``ResourceSelection::hoslem.test(y, prob, g)``: breaks are
        ``unique(quantile(prob, seq(0, 1, 1/g)))`` (type 7), intervals are
        right-closed with the lowest included, and **df = g - 2 with the
        requested g**, even when tied risks merge breaks.
        ``"stata"`` reproduces ``estat gof, group(g)`` after ``logistic``:
        groups are Stata's ``xtile`` of the predicted risk (tied risks kept
        together) and df = (number of non-empty groups) - 2.

    Returns
    -------
    HosmerLemeshow
        ``statistic, df, p_value, table``.

    Raises :class:`~radgui.errors.StatsInputError` when a probability is 0 or
    1 (within :data:`DEGENERATE_EPS`): the statistic would be dominated by
    that patient's ``1 / E`` term (values like 1e72 are then printed).

    Notes
    -----
    Empty groups (possible with the quantile cut when many risks tie) are
    dropped from the sum; R would return NaN for them.

    References
    ----------
    Hosmer & Lemeshow, Commun Stat 1980;9:1043. ResourceSelection
    ``hoslem.test``; Stata ``estat gof``.

    Examples
    --------
    >>> hl = hosmer_lemeshow([0, 0, 1, 0, 1, 1, 0, 1, 1, 1],
    ...                      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95], groups=5)
    >>> round(hl.statistic, 3), hl.df, round(hl.p_value, 3)
    (3.016, 3, 0.389)
    """
    yb = as_binary(y, need_both=False)
    p = probabilities(prob)
    same_length(y=yb, prob=p)
    _refuse_degenerate(p, "the Hosmer-Lemeshow test")
    groups = int(groups)
    if groups < 3:
        raise StatsInputError(f"groups must be at least 3 (df = groups - 2), got {groups}")
    if grouping == "quantile":
        gid = _r_quantile_groups(p, groups)
    elif grouping == "stata":
        gid = _stata_groups(p, groups)
    else:
        raise StatsInputError(f"grouping must be 'quantile' or 'stata', got {grouping!r}")
    df_ = pd.DataFrame({"g": gid, "y": yb, "p": p})
    t = df_.groupby("g").agg(n=("y", "size"), observed=("y", "sum"), expected=("p", "sum"),
                             prob_low=("p", "min"), prob_high=("p", "max"))
    t = t[t["n"] > 0].reset_index(drop=True)
    t.insert(0, "group", np.arange(1, len(t) + 1))
    t["observed_0"] = t["n"] - t["observed"]
    t["expected_0"] = t["n"] - t["expected"]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (t["observed"] - t["expected"]) ** 2 / t["expected"] + (t["observed_0"] - t["expected_0"]) ** 2 / t[
            "expected_0"
        ]
    stat = float(np.nansum(terms.to_numpy()))
    dof = groups - 2 if grouping == "quantile" else len(t) - 2
    if dof < 1:
        raise StatsInputError(
            f"only {len(t)} distinct risk groups could be formed; the Hosmer-Lemeshow test needs at least 3"
        )
    t = t[["group", "n", "observed", "expected", "observed_0", "expected_0", "prob_low", "prob_high"]]
    return HosmerLemeshow(stat, int(dof), float(_st.chi2.sf(stat, dof)), t, grouping)


def _logit(p):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def _wilson(k, n, z=1.959963984540054):
    phat = k / n
    den = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / den
    half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / den
    # Exactly, the interval contains phat (and is 0 at k = 0, 1 at k = n); clip the
    # round-off that can put a bound a hair on the wrong side of phat.
    return np.clip(centre - half, 0.0, phat), np.clip(centre + half, phat, 1.0)


def calibration(y, prob, bins: int = 10) -> Calibration:
    """Calibration slope, calibration-in-the-large, Brier score and curves.

    Parameters
    ----------
    y : array-like of 0/1
    prob : array-like in [0, 1]
        Predicted probabilities; values within :data:`DEGENERATE_EPS` of 0
        or 1 are refused (their logit is not estimable).
    bins : int
        Number of equal-count bins (``pandas.qcut`` on the ranks) of the
        binned curve.

    Returns
    -------
    Calibration
        ``slope, intercept, brier, curve`` plus ``smooth`` (LOWESS),
        ``intercept_joint`` and Wald intervals.

    Raises :class:`~radgui.errors.StatsInputError` when a probability is 0 or
    1 (within :data:`DEGENERATE_EPS`), with the reason.

    Notes
    -----
    ``slope`` and ``intercept_joint`` come from the logistic fit
    ``y ~ logit(prob)``; ``intercept`` from ``y ~ offset(logit(prob))``
    (statsmodels GLM, binomial). These are the definitions of Van Calster et
    al. (2019) and ``rms::val.prob`` (which prints the joint-fit intercept).

    References
    ----------
    Van Calster B, et al. BMC Med 2019;17:230. Cox DR. Two further
    applications of a model for binary regression. Biometrika 1958;45:562-565.
    Brier GW. Mon Weather Rev 1950;78:1-3.

    Examples
    --------
    >>> c = calibration([0, 0, 1, 0, 1, 1, 0, 1, 1, 1],
    ...                 [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95], bins=5)
    >>> round(c.brier, 4), round(c.slope, 3), round(c.intercept, 3)
    (0.1652, 1.142, 0.326)
    """
    import statsmodels.api as sm
    from statsmodels.nonparametric.smoothers_lowess import lowess

    yb = as_binary(y)
    p = probabilities(prob)
    same_length(y=yb, prob=p)
    _refuse_degenerate(p, "calibration slope and intercept")
    lp = _logit(p)
    X = sm.add_constant(lp, has_constant="add")
    fit = sm.GLM(yb, X, family=sm.families.Binomial()).fit()
    a_joint, slope = (float(v) for v in fit.params)
    slope_ci = tuple(float(v) for v in fit.conf_int()[1])
    off = sm.GLM(yb, np.ones((yb.size, 1)), family=sm.families.Binomial(), offset=lp).fit()
    intercept = float(off.params[0])
    intercept_ci = tuple(float(v) for v in off.conf_int()[0])
    brier = float(np.mean((p - yb) ** 2))

    bins = int(bins)
    if bins < 1:
        raise StatsInputError(f"bins must be at least 1, got {bins}")
    order = pd.Series(p).rank(method="first").to_numpy()
    b = pd.qcut(order, min(bins, yb.size), labels=False)
    d = pd.DataFrame({"bin": b, "y": yb, "p": p})
    c = d.groupby("bin").agg(n=("y", "size"), predicted=("p", "mean"), events=("y", "sum")).reset_index()
    c["observed"] = c["events"] / c["n"]
    lo, hi = _wilson(c["events"].to_numpy(float), c["n"].to_numpy(float))
    c["ci_low"], c["ci_high"] = lo, hi
    c["bin"] = c["bin"] + 1
    curve = c[["bin", "n", "predicted", "observed", "ci_low", "ci_high"]]
    # R lowess defaults used by rms::val.prob: f = 2/3, iter = 0, delta = 1% of the range
    sm_xy = lowess(yb.astype(float), p, frac=2 / 3, it=0, delta=0.01 * float(np.ptp(p)), return_sorted=True)
    smooth = pd.DataFrame({"predicted": sm_xy[:, 0], "observed": np.clip(sm_xy[:, 1], 0, 1)})
    return Calibration(slope, intercept, brier, curve, smooth, a_joint, slope_ci, intercept_ci)
