"""Survival analysis: Kaplan-Meier with R ``survfit`` conventions, k-group
log-rank test, Cox proportional hazards (Efron ties) and Harrell's C.

Conventions
-----------
* ``event`` is 1 for an observed event (death, progression) and 0 for
  censoring; ``time`` is in the user's unit (days, months), >= 0.
* Kaplan-Meier variance is Greenwood's: ``std_err`` in the table is the
  standard error of S(t) (what R ``summary(survfit)`` prints) and
  ``se_cumhaz = sqrt(sum d/(n(n-d)))`` the one of the cumulative hazard
  (``survfit``'s ``std.err`` component), on which the intervals are built.
* Pointwise CI ``"log-log"`` (default here; Kalbfleisch & Prentice, the
  "exponential Greenwood" of lifelines and Stata's ``sts``) or ``"log"``
  (R ``survfit``'s default): ``exp(log S +/- z * se_cumhaz)`` with the upper
  limit capped at 1.
* Median and its CI as R ``survfit``/``quantile.survfit``: the median is the
  first time the curve is <= 0.5 (the midpoint of the flat stretch when the
  curve equals 0.5 exactly); the CI limits apply the same rule to the upper
  and lower pointwise confidence curves, i.e. the set of times whose
  pointwise interval contains 0.5 (Brookmeyer & Crowley 1982).

References
----------
Kaplan EL, Meier P. J Am Stat Assoc 1958;53:457-481.
Greenwood M. Reports on Public Health and Medical Subjects 1926;33.
Brookmeyer R, Crowley J. A confidence interval for the median survival time.
Biometrics 1982;38:29-41.
Kalbfleisch JD, Prentice RL. The Statistical Analysis of Failure Time Data,
2nd ed. Wiley, 2002.
Therneau TM. survival: A Package for Survival Analysis in R.
Harrell FE, Lee KL, Mark DB. Multivariable prognostic models. Stat Med
1996;15:361-387.
Davidson-Pilon C. lifelines: survival analysis in Python. JOSS 2019;4:1317.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as _st

from radgui.errors import StatsInputError

from ._checks import as_binary, as_float, check_level, same_length

__all__ = [
    "KaplanMeier",
    "Logrank",
    "CoxTerm",
    "CoxResult",
    "kaplan_meier",
    "logrank",
    "cox",
    "concordance_index",
]

_TOL = 1e-8


def _survival_inputs(time, event):
    t = as_float(time, "time")
    e = as_binary(event, "event", need_both=False)
    same_length(time=t, event=e)
    if t.min() < 0:
        raise StatsInputError(f"time must be >= 0, got minimum {t.min()}")
    return t, e


@dataclass(frozen=True)
class KaplanMeier:
    """Kaplan-Meier estimate (see :func:`kaplan_meier`).

    Attributes
    ----------
    table : DataFrame
        One row per distinct time: ``time, n_risk, n_event, n_censor,
        survival, std_err, se_cumhaz, ci_low, ci_high`` (as R
        ``summary(survfit, censored=TRUE)``; ``std_err`` is Greenwood's SE
        of S(t)).
    median, median_ci_low, median_ci_high : float
        NaN when not reached.
    ci : str
        ``"log-log"`` or ``"log"``.
    level : float
    n, n_events : int
    """

    table: pd.DataFrame = field(repr=False, compare=False)
    median: float
    median_ci_low: float
    median_ci_high: float
    ci: str = "log-log"
    level: float = 0.95
    n: int = 0
    n_events: int = 0

    def _step(self, column: str, t):
        tab = self.table
        t_arr = np.atleast_1d(np.asarray(t, dtype=float))
        idx = np.searchsorted(tab["time"].to_numpy(), t_arr, side="right") - 1
        vals = np.r_[1.0, tab[column].to_numpy(float)][idx + 1]
        return vals if np.ndim(t) else float(vals[0])

    def survival_at(self, t):
        """Survival probability S(t) (right-continuous step function; 1 before the first time).

        Beyond the last observed time the last value is carried forward (R
        ``summary(fit, times=, extend=TRUE)`` gives the same value).
        """
        return self._step("survival", t)

    def ci_at(self, t):
        """Pointwise ``(ci_low, ci_high)`` at time(s) ``t``."""
        return self._step("ci_low", t), self._step("ci_high", t)

    def n_at_risk(self, t):
        """Number at risk at time(s) ``t`` (subjects with time >= t)."""
        times = self._times
        t_arr = np.atleast_1d(np.asarray(t, dtype=float))
        out = times.size - np.searchsorted(times, t_arr, side="left")
        return out if np.ndim(t) else int(out[0])

    def quantile(self, p: float = 0.5) -> tuple[float, float, float]:
        """Time at which survival drops to ``p`` with its CI, R ``quantile.survfit`` rules."""
        tab = self.table
        time = tab["time"].to_numpy()
        return (
            _curve_quantile(time, tab["survival"].to_numpy(), p),
            _curve_quantile(time, tab["ci_low"].to_numpy(), p),
            _curve_quantile(time, tab["ci_high"].to_numpy(), p),
        )

    _times: np.ndarray = field(default=None, repr=False, compare=False)


def _curve_quantile(time: np.ndarray, curve: np.ndarray, p: float) -> float:
    """First time the step curve is <= p; midpoint of the flat stretch at exactly p."""
    ok = np.isfinite(curve)
    time, curve = time[ok], curve[ok]
    if curve.size == 0:
        return float("nan")
    # keep the first time of each run of equal values (R: duplicated() removal)
    keep = np.r_[True, np.abs(np.diff(curve)) > _TOL]
    time, curve = time[keep], curve[keep]
    at = np.flatnonzero(np.abs(curve - p) < _TOL)
    if at.size:
        k = at[0]
        return float(time[k]) if k == time.size - 1 else float((time[k] + time[k + 1]) / 2)
    below = np.flatnonzero(curve < p)
    return float(time[below[0]]) if below.size else float("nan")


def kaplan_meier(time, event, ci: str = "log-log", level: float = 0.95) -> KaplanMeier:
    """Kaplan-Meier survival curve with Greenwood CI and median survival.

    Parameters
    ----------
    time : array-like, shape (n,)
        Follow-up time (>= 0), any unit.
    event : array-like of 0/1, shape (n,)
        1 = event observed, 0 = censored.
    ci : {"log-log", "log"}
        Pointwise CI transform. ``"log-log"`` (default): ``S^exp(+/- z
        se_cumhaz / log S)``, always inside (0, 1) (lifelines, Stata ``sts``,
        R ``conf.type="log-log"``). ``"log"``: R ``survfit``'s default,
        ``S exp(+/- z se_cumhaz)`` capped at 1.
    level : float
        Confidence level.

    Returns
    -------
    KaplanMeier
        ``table``, ``median, median_ci_low, median_ci_high`` and the
        methods ``survival_at(t)``, ``ci_at(t)``, ``n_at_risk(t)``,
        ``quantile(p)``.

    Notes
    -----
    Where ``S = 1`` the log-log interval is set to (1, 1) (R gives NA), and
    where ``S = 0`` both intervals are NaN (as R). The median CI limits are
    the first times the upper and the lower pointwise curve drop to 0.5
    (Brookmeyer-Crowley style, exactly what R ``survfit`` prints).

    References
    ----------
    Kaplan & Meier 1958; Greenwood 1926; Brookmeyer & Crowley 1982;
    Therneau, R package survival (``survfit``, ``quantile.survfit``).

    Examples
    --------
    Six patients, four events; survival drops below one half at t = 4:

    >>> km = kaplan_meier([1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 0, 1])
    >>> km.median, km.n, km.n_events
    (4.0, 6, 4)
    """
    level = check_level(level)
    if ci not in ("log-log", "log"):
        raise StatsInputError(f"ci must be 'log-log' or 'log', got {ci!r}")
    t, e = _survival_inputs(time, event)
    order = np.argsort(t, kind="stable")
    ts, es = t[order], e[order]
    uniq, first = np.unique(ts, return_index=True)
    n_event = np.add.reduceat(es.astype(int), first)
    n_total = np.diff(np.r_[first, ts.size])
    n_censor = n_total - n_event
    n_risk = ts.size - first
    frac = 1.0 - n_event / n_risk
    surv = np.cumprod(frac)
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    var_h = np.cumsum(inc)  # Greenwood: var(S) = S^2 * var_h
    se = np.sqrt(var_h)
    z = _st.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if ci == "log":
            lo = np.where(surv > 0, surv * np.exp(-z * se), np.nan)
            hi = np.where(surv > 0, np.minimum(surv * np.exp(z * se), 1.0), np.nan)
        else:
            ls = np.log(surv)
            inner = np.log(-ls)
            # log S < 0, so subtracting z*se/log S raises log(-log S) and lowers S
            lo = np.exp(-np.exp(inner - z * se / ls))
            hi = np.exp(-np.exp(inner + z * se / ls))
            lo = np.where(surv >= 1, 1.0, np.where(surv > 0, lo, np.nan))
            hi = np.where(surv >= 1, 1.0, np.where(surv > 0, hi, np.nan))
    with np.errstate(invalid="ignore"):
        se_surv = surv * se  # NaN where S = 0 (0 * inf), as R prints
    table = pd.DataFrame(
        {
            "time": uniq,
            "n_risk": n_risk,
            "n_event": n_event,
            "n_censor": n_censor,
            "survival": surv,
            "std_err": se_surv,
            "se_cumhaz": se,
            "ci_low": lo,
            "ci_high": hi,
        }
    )
    med = _curve_quantile(uniq, surv, 0.5)
    med_lo = _curve_quantile(uniq, lo, 0.5)  # the lower curve reaches 0.5 first
    med_hi = _curve_quantile(uniq, hi, 0.5)
    return KaplanMeier(table, med, med_lo, med_hi, ci, level, int(t.size), int(e.sum()), ts)


@dataclass(frozen=True)
class Logrank:
    """Log-rank test across k groups: chi-square ``statistic`` on ``df = k - 1``."""

    statistic: float
    df: int
    p_value: float
    groups: tuple = ()


def logrank(time, event, group) -> Logrank:
    """Log-rank (Mantel-Cox) test of equal survival across k >= 2 groups.

    Parameters
    ----------
    time : array-like
    event : array-like of 0/1
    group : array-like
        Group label per subject (any hashable values).

    Returns
    -------
    Logrank
        ``statistic, df, p_value``; identical to R ``survdiff(Surv(time,
        event) ~ group)`` (rho = 0), computed by lifelines'
        ``multivariate_logrank_test``.

    References
    ----------
    Mantel N. Cancer Chemother Rep 1966;50:163-170. Peto R, Peto J. J R Stat
    Soc A 1972;135:185-207.

    Examples
    --------
    >>> lr = logrank([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 1, 1, 1, 1, 0, 1], [0, 0, 0, 0, 1, 1, 1, 1])
    >>> round(lr.statistic, 3), lr.df, round(lr.p_value, 4), lr.groups
    (7.344, 1, 0.0067, (0, 1))
    """
    from lifelines.statistics import multivariate_logrank_test

    t, e = _survival_inputs(time, event)
    g = np.asarray(group)
    same_length(time=t, group=g)
    if pd.isna(g).any():
        raise StatsInputError("group has missing labels")
    labels = pd.unique(g)
    if labels.size < 2:
        raise StatsInputError(f"log-rank needs at least 2 groups, got only {labels.tolist()}")
    if e.sum() == 0:
        raise StatsInputError("log-rank test needs at least one event")
    r = multivariate_logrank_test(t, g, e)
    return Logrank(float(r.test_statistic), int(r.degrees_of_freedom), float(r.p_value), tuple(labels.tolist()))


@dataclass(frozen=True)
class CoxTerm:
    """One covariate of a Cox model: hazard ratio per unit increase with Wald CI and p."""

    hr: float
    ci_low: float
    ci_high: float
    p_value: float
    coef: float
    se: float


@dataclass(frozen=True)
class CoxResult:
    """Cox proportional-hazards fit (see :func:`cox`).

    Attributes
    ----------
    summary : DataFrame
        Index = covariate; columns ``hr, ci_low, ci_high, p_value, coef, se``.
    concordance : float
        Harrell's C of the linear predictor on the fitting data.
    log_likelihood : float
        Partial log-likelihood at the estimate.
    n, n_events : int
    model : lifelines.CoxPHFitter
        The fitted lifelines model (for prediction or diagnostics).

    ``result["age"]`` returns that covariate's :class:`CoxTerm`.
    """

    summary: pd.DataFrame = field(repr=False, compare=False)
    concordance: float
    log_likelihood: float
    n: int
    n_events: int
    level: float = 0.95
    model: object = field(default=None, repr=False, compare=False)

    def __getitem__(self, name: str) -> CoxTerm:
        if name not in self.summary.index:
            raise KeyError(f"{name!r} is not a covariate of this model ({list(self.summary.index)})")
        row = self.summary.loc[name]
        return CoxTerm(*(float(row[c]) for c in ("hr", "ci_low", "ci_high", "p_value", "coef", "se")))

    @property
    def covariates(self) -> list[str]:
        return list(self.summary.index)


def cox(frame: pd.DataFrame, duration: str, event: str, covariates=None, level: float = 0.95) -> CoxResult:
    """Cox proportional-hazards regression with Efron's tie handling.

    Parameters
    ----------
    frame : DataFrame
        One row per subject.
    duration, event : str
        Column names of follow-up time and event indicator (1 = event).
    covariates : list of str, optional
        Numeric columns to include (default: every other column). Encode
        categorical covariates as 0/1 columns first.
    level : float
        Confidence level of the hazard-ratio intervals.

    Returns
    -------
    CoxResult
        Per covariate ``hr, ci_low, ci_high, p_value`` (Wald), plus
        ``concordance``.

    Notes
    -----
    Fitted by lifelines' ``CoxPHFitter`` (Newton-Raphson, Efron ties, no
    penalty), which reproduces R ``coxph(..., ties="efron")`` (R's default)
    coefficients, standard errors and Wald p-values. Rows with a missing value
    in the used columns are refused, not silently dropped.

    References
    ----------
    Cox DR. J R Stat Soc B 1972;34:187-220. Efron B. J Am Stat Assoc
    1977;72:557-565.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    level = check_level(level)
    if not isinstance(frame, pd.DataFrame):
        raise StatsInputError("frame must be a pandas DataFrame")
    for col in (duration, event):
        if col not in frame.columns:
            raise StatsInputError(f"column {col!r} not in the data (columns: {list(frame.columns)})")
    if covariates is None:
        covariates = [c for c in frame.columns if c not in (duration, event)]
    covariates = list(covariates)
    if not covariates:
        raise StatsInputError("no covariates given for the Cox model")
    missing = [c for c in covariates if c not in frame.columns]
    if missing:
        raise StatsInputError(f"covariate column(s) {missing} not in the data")
    nonnum = [c for c in covariates if not pd.api.types.is_numeric_dtype(frame[c])]
    if nonnum:
        raise StatsInputError(f"covariate(s) {nonnum} are not numeric; encode them as 0/1 columns first")
    data = frame[[duration, event, *covariates]]
    nan_rows = int(data.isna().any(axis=1).sum())
    if nan_rows:
        raise StatsInputError(f"{nan_rows} row(s) have missing values in {[duration, event, *covariates]}")
    t, e = _survival_inputs(data[duration], data[event])
    if e.sum() == 0:
        raise StatsInputError("the Cox model needs at least one event")
    fitter = CoxPHFitter(alpha=1 - level)
    try:
        fitter.fit(data.assign(**{duration: t, event: e}), duration_col=duration, event_col=event)
    except ConvergenceError as exc:
        raise StatsInputError(f"the Cox model did not converge ({str(exc).splitlines()[0]})") from None
    s = fitter.summary
    z = _st.norm.ppf(0.5 + level / 2)
    out = pd.DataFrame(
        {
            "hr": np.exp(s["coef"]),
            "ci_low": np.exp(s["coef"] - z * s["se(coef)"]),
            "ci_high": np.exp(s["coef"] + z * s["se(coef)"]),
            "p_value": s["p"],
            "coef": s["coef"],
            "se": s["se(coef)"],
        }
    )
    out.index.name = "covariate"
    return CoxResult(out, float(fitter.concordance_index_), float(fitter.log_likelihood_), int(t.size),
                     int(e.sum()), level, fitter)


def concordance_index(time, event, risk) -> float:
    """Harrell's concordance index C.

    Parameters
    ----------
    time : array-like
    event : array-like of 0/1
    risk : array-like
        Higher risk = shorter expected survival (e.g. a Cox linear predictor
        or a radiomics score).

    Returns
    -------
    float
        Proportion of usable pairs ordered correctly. A pair is usable when
        the shorter time is an event (a subject censored at the same time as
        another's event counts as outliving it); pairs tied in risk count 1/2;
        pairs tied in event time are not usable. Computed by lifelines'
        ``concordance_index`` on ``-risk``; equals R ``survival::concordance``
        and ``Hmisc::rcorr.cens`` for untied times.

    References
    ----------
    Harrell FE, Califf RM, Pryor DB, Lee KL, Rosati RA. Evaluating the yield
    of medical tests. JAMA 1982;247:2543-2546.

    Examples
    --------
    Risk ranked exactly against survival time gives 1:

    >>> concordance_index([1, 2, 3, 4], [1, 1, 1, 1], [4, 3, 2, 1])
    1.0
    """
    from lifelines.utils import concordance_index as _ci

    t, e = _survival_inputs(time, event)
    r = as_float(risk, "risk")
    same_length(time=t, event=e, risk=r)
    if e.sum() == 0:
        raise StatsInputError("the concordance index needs at least one event")
    try:
        return float(_ci(t, -r, e))
    except ZeroDivisionError:
        raise StatsInputError("no usable pairs: the concordance index is undefined") from None
