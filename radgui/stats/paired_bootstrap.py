"""Paired bootstrap comparison of several models' scores on one cohort (C-index, any metric).

Every model is scored on the *same* bootstrap replicates (the same patients
drawn, whole patients when ``groups`` is given), so the replicate
differences between two models carry their correlation: the interval of the
difference is narrower than two separate intervals suggest, and two
identical models differ by exactly 0 in every replicate.

The interval is the percentile interval of the replicate differences; the
two-sided p-value is ``min(1, 2 (k + 1) / (B + 1))`` where ``k`` is the
smaller of the number of replicate differences ``<= 0`` and ``>= 0`` and
``B`` the number of replicates that gave a value for both models (the
bootstrap test that inverts the percentile interval, with the usual +1 so
that it is never 0: it cannot be below ``2 / (B + 1)``).

References
----------
Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993
(section 16.4, the bootstrap test by inverting a confidence interval).
Davison AC, Hinkley DV. Bootstrap Methods and their Application. Cambridge
University Press, 1997 (eq. 4.11, the +1 correction of a Monte Carlo p-value).
Harrell FE, Lee KL, Mark DB. Multivariable prognostic models. Stat Med
1996;15:361-387 (comparing C-indices of two models on the same patients).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from radgui.errors import StatsInputError

from ._checks import check_level
from .bootstrap import _check_stratified, _take, percentile_interval, resample_indices

#: Most models one call compares (every pair is computed).
MAX_MODELS = 64


@dataclass(frozen=True)
class PairedDifference:
    """``metric(new) - metric(old)`` on one cohort with its paired bootstrap interval and p-value.

    Attributes
    ----------
    old, new : str
        Model names; ``diff`` is new minus old.
    estimate_old, estimate_new, diff : float
        The metric of each model, and their difference, on the original data.
    ci_low, ci_high : float
        Percentile interval of the replicate differences at ``level``.
    p_value : float
        Two-sided bootstrap p-value of ``diff == 0`` (module docstring).
    se : float
        Standard deviation of the replicate differences (ddof=1).
    n_boot, n_failed : int
        Replicates drawn, and those left out because the metric gave no value
        for either model.
    replicates : ndarray
        The finite replicate differences, in draw order.
    """

    old: str
    new: str
    estimate_old: float
    estimate_new: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    se: float
    level: float
    n_boot: int
    n_failed: int
    replicates: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict:
        """Plain numbers for ``metrics.json``."""
        return {"old": self.old, "new": self.new, "value_old": self.estimate_old, "value_new": self.estimate_new,
                "diff": self.diff, "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
                "se": self.se, "level": self.level, "n_boot": self.n_boot, "n_failed": self.n_failed}


@dataclass(frozen=True)
class PairedBootstrap:
    """What :func:`paired_bootstrap` returns: every model's metric with its interval, and every pair's difference.

    Attributes
    ----------
    estimates : dict name -> float
        The metric on the original data.
    intervals : dict name -> (float, float)
        Each model's own percentile interval over the same replicates (NaN
        when fewer than two replicates gave a value).
    pairs : dict "new vs old" -> PairedDifference
    replicates : dict name -> ndarray
        Every model's replicate values in draw order (NaN where the metric failed).
    n_boot : int
    level : float
    stratified, grouped : bool
    """

    estimates: dict
    intervals: dict
    pairs: dict
    n_boot: int
    level: float
    stratified: bool
    grouped: bool
    replicates: dict = field(repr=False, compare=False)


def _value(metric, y, score, arrays, idx=None) -> float:
    try:
        if idx is None:
            v = float(metric(y, score, *arrays))
        else:
            v = float(metric(_take(y, idx), _take(score, idx), *(_take(a, idx) for a in arrays)))
    except (ValueError, ZeroDivisionError, FloatingPointError):
        return float("nan")
    return v if np.isfinite(v) else float("nan")


def paired_p_value(diffs) -> float:
    """Two-sided bootstrap p-value of a zero difference from finite replicate differences.

    ``min(1, 2 (k + 1) / (B + 1))``, ``k`` the smaller count of replicates
    ``<= 0`` and ``>= 0``.

    Parameters
    ----------
    diffs : array-like
        Finite replicate differences.

    Returns
    -------
    float

    Examples
    --------
    >>> paired_p_value([0.0, 0.0, 0.0])
    1.0
    >>> round(paired_p_value([0.1] * 99), 3)
    0.02
    """
    d = np.asarray(diffs, float)
    if d.size == 0:
        raise StatsInputError("no bootstrap replicate difference to test")
    k = min(int(np.sum(d <= 0)), int(np.sum(d >= 0)))
    return float(min(1.0, 2 * (k + 1) / (d.size + 1)))


def paired_bootstrap(metric: Callable, y, scores: Mapping[str, Sequence], *arrays, pairs=None, n_boot: int = 2000,
                     level: float = 0.95, stratified: bool = True, seed=None, groups=None) -> PairedBootstrap:
    """Every model's ``metric`` and every pair's difference over the same bootstrap replicates.

    Parameters
    ----------
    metric : callable
        ``metric(y, score, *arrays) -> float`` (for Harrell's C:
        ``lambda e, r, t: concordance_index(t, e, r)``). A ``ValueError``
        (or NaN) on a replicate leaves that replicate out for the models it
        failed on and for their pairs.
    y : array-like, shape (n,)
        Outcome; resampling is stratified on it when ``stratified`` (for
        survival: the event indicator, so every replicate keeps the number of
        events).
    scores : mapping name -> array-like of shape (n,)
        Each model's score (risk, linear predictor) of the same rows.
    *arrays : array-like, each with n rows
        Further inputs resampled with ``y`` (survival time).
    pairs : list of (old, new), optional
        Pairs to compare (default: every pair, ``old`` listed before ``new``).
    n_boot : int
        Replicates (at least 2).
    level : float
        Confidence level.
    stratified : bool
        Keep the number of rows of each ``y`` value (as :func:`bootstrap_ci`).
    seed : int, numpy Generator or None
        The replicates are ``resample_indices(y, n_boot,
        numpy.random.default_rng(seed), stratified, groups)``, drawn once.
    groups : array-like, optional
        Patient of each row: whole patients are resampled.

    Returns
    -------
    PairedBootstrap

    Examples
    --------
    >>> from radgui.stats import concordance_index
    >>> t = [5.0, 8, 3, 9, 2, 7, 4, 6]; e = [1, 0, 1, 1, 1, 0, 1, 1]
    >>> r = paired_bootstrap(lambda e, s, t: concordance_index(t, e, s), e, {"a": [1.0, 2, 3, 4, 5, 6, 7, 8],
    ...                      "b": [1.0, 2, 3, 4, 5, 6, 7, 8]}, t, n_boot=50, seed=0)
    >>> d = r.pairs["b vs a"]
    >>> d.diff, d.ci_low, d.ci_high, d.p_value
    (0.0, 0.0, 0.0, 1.0)
    """
    level = check_level(level)
    n_boot = int(n_boot)
    if n_boot < 2:
        raise StatsInputError(f"n_boot must be at least 2, got {n_boot}")
    if not isinstance(scores, Mapping) or not scores:
        raise StatsInputError("scores must map at least one model name to its scores")
    if len(scores) > MAX_MODELS:
        raise StatsInputError(f"{len(scores)} models compared at once; at most {MAX_MODELS}")
    y_arr = np.asarray(y)
    if y_arr.ndim != 1 or y_arr.size == 0:
        raise StatsInputError("y must be a non-empty one-dimensional array")
    n = y_arr.shape[0]
    sc = {}
    for name, s in scores.items():
        s = np.asarray(s, dtype=float)
        if s.shape != (n,):
            raise StatsInputError(f"scores of model '{name}' have shape {s.shape} but y has {n} rows")
        if not np.all(np.isfinite(s)):
            raise StatsInputError(f"scores of model '{name}' have {int(np.sum(~np.isfinite(s)))} missing or "
                                  "infinite value(s)")
        sc[str(name)] = s
    for k, a in enumerate(arrays):
        if len(a) != n:
            raise StatsInputError(f"array {k + 1} has {len(a)} rows but y has {n}")
    if groups is not None and len(groups) != n:
        raise StatsInputError(f"groups has {len(groups)} rows but y has {n}")
    names = list(sc)
    if pairs is None:
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    for a, b in pairs:
        if a not in sc or b not in sc:
            raise StatsInputError(f"pair ({a!r}, {b!r}) names a model without scores (models: {', '.join(names)})")
    stratified = _check_stratified(y_arr, stratified)
    idx = resample_indices(y_arr, n_boot, np.random.default_rng(seed), stratified, groups)
    est = {m: _value(metric, y, s, arrays) for m, s in sc.items()}
    reps = {m: np.array([_value(metric, y, s, arrays, i) for i in idx]) for m, s in sc.items()}
    intervals = {}
    for m, r in reps.items():
        fin = r[np.isfinite(r)]
        intervals[m] = percentile_interval(fin, level) if fin.size >= 2 else (float("nan"), float("nan"))
    out = {}
    for a, b in pairs:
        d = reps[b] - reps[a]
        fin = d[np.isfinite(d)]
        if fin.size < 2 or not (np.isfinite(est[a]) and np.isfinite(est[b])):
            raise StatsInputError(f"only {fin.size} of {n_boot} bootstrap replicates gave a value for both "
                                  f"'{a}' and '{b}'; the metric fails on resampled data")
        lo, hi = percentile_interval(fin, level)
        out[f"{b} vs {a}"] = PairedDifference(a, b, est[a], est[b], est[b] - est[a], lo, hi, paired_p_value(fin),
                                              float(np.std(fin, ddof=1)), level, n_boot, int(d.size - fin.size),
                                              fin)
    return PairedBootstrap(est, intervals, out, n_boot, level, stratified, groups is not None, reps)


def paired_c_index(time, event, scores: Mapping[str, Sequence], *, pairs=None, n_boot: int = 2000,
                   level: float = 0.95, seed=None, groups=None) -> PairedBootstrap:
    """Harrell's C of several risk scores and their paired differences (:func:`paired_bootstrap`).

    Resampling is stratified on ``event`` (every replicate keeps the number
    of events; with ``groups``, whole patients are drawn, stratified on
    whether the patient has an event), as :func:`radgui.stats.bootstrap_ci`
    of the C-index.

    Parameters
    ----------
    time, event : array-like, shape (n,)
        Follow-up and event indicator (1 = event).
    scores : mapping name -> array-like
        Risk scores (higher = shorter survival), e.g. Cox linear predictors.
    pairs, n_boot, level, seed, groups
        As :func:`paired_bootstrap`.

    Returns
    -------
    PairedBootstrap
    """
    from ._checks import as_float
    from .survival import concordance_index

    t = as_float(time, "time")
    e = np.asarray(event)
    if e.shape != t.shape:
        raise StatsInputError(f"event has {e.size} rows but time has {t.size}")
    if not set(np.unique(e).tolist()) <= {0, 1}:
        raise StatsInputError("event must hold 0 (censored) or 1 (event)")
    if int(e.sum()) == 0:
        raise StatsInputError("the concordance index needs at least one event")
    return paired_bootstrap(lambda ev, r, tt: concordance_index(tt, ev, r), e.astype(int), scores, t, pairs=pairs,
                            n_boot=n_boot, level=level, stratified=True, seed=seed, groups=groups)
