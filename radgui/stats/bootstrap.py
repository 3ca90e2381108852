"""Percentile bootstrap confidence intervals for any metric.

Resampling is stratified on the outcome by default (as pROC's ``ci.auc(...,
method="bootstrap")``: each replicate keeps the number of events and
non-events), seedable, and the interval is the percentile interval of the
replicates. Replicates are drawn from one random generator in a fixed order,
in chunks that do not depend on ``n_jobs``, so a seed gives the same interval
whatever the number of processes.

References
----------
Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993.
Carpenter J, Bithell J. Bootstrap confidence intervals: when, which, what?
Stat Med 2000;19:1141-1164.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field

import numpy as np

from radgui.errors import StatsInputError
from radgui.progress import Step, run

from ._checks import check_level

CHUNK = 50  # replicates per task; fixed so that results do not depend on n_jobs


@dataclass(frozen=True)
class BootstrapCI:
    """Result of :func:`bootstrap_ci`.

    Attributes
    ----------
    estimate : float
        The metric on the original data.
    ci_low, ci_high : float
        Percentile interval of the replicates at ``level``.
    se : float
        Standard deviation of the replicates (ddof=1).
    level : float
    n_boot : int
        Replicates requested.
    n_failed : int
        Replicates whose metric raised ``ValueError`` or returned NaN (for
        example a replicate with one class only when ``stratified=False``);
        they are left out of the interval.
    replicates : ndarray
        The finite replicate values, in draw order.
    stratified : bool
        Whether resampling was stratified (False when ``stratified=True``
        was asked for a continuous ``y`` and fell back, with a warning).
    grouped : bool
        Whether whole groups (patients) were resampled.
    """

    estimate: float
    ci_low: float
    ci_high: float
    se: float
    level: float
    n_boot: int
    n_failed: int
    replicates: np.ndarray = field(repr=False, compare=False)
    stratified: bool = field(default=True, compare=False)
    grouped: bool = field(default=False, compare=False)


MAX_STRATA = 20


def can_stratify(y) -> bool:
    """True when ``y`` looks like a class label: at most 20 distinct values, fewer than half the rows.

    Stratifying on a continuous variable makes every stratum a single row,
    so every replicate is the original sample and the interval has zero
    width.

    Parameters
    ----------
    y : array-like
        The values a bootstrap would stratify on.

    Returns
    -------
    bool

    Examples
    --------
    >>> can_stratify([0, 1, 0, 1, 1, 0])
    True
    >>> can_stratify([0.1, 0.2, 0.3, 0.4])
    False
    """
    y = np.asarray(y)
    k = np.unique(y).size
    return k <= MAX_STRATA and 2 * k <= y.shape[0]


def _check_stratified(y, stratified: bool) -> bool:
    if stratified and not can_stratify(y):
        warnings.warn(
            f"stratified bootstrap asked for, but y has {np.unique(np.asarray(y)).size} distinct values in "
            f"{np.asarray(y).shape[0]} rows (a continuous statistic or outcome, not a class label): stratifying "
            "would give a zero-width interval, so the rows are resampled without stratification",
            RuntimeWarning, stacklevel=3)
        return False
    return stratified


def _take(a, idx):
    if hasattr(a, "iloc"):
        return a.iloc[idx]
    return np.asarray(a)[idx]


def resample_indices(y, n_boot: int, rng: np.random.Generator, stratified: bool = True,
                     groups=None) -> np.ndarray | list:
    """Bootstrap row indices, shape (n_boot, n).

    With ``stratified`` each replicate draws, with replacement, as many rows of
    each distinct ``y`` value as the data hold (class sizes are kept). With
    ``groups`` (the patient of each row) whole groups are drawn with
    replacement (a cluster bootstrap), stratified on each group's largest
    ``y``; replicates may then differ in length, so a list of index arrays is
    returned.

    Parameters
    ----------
    y : array-like
        Class labels (strata).
    n_boot : int
        Number of replicates.
    rng : numpy.random.Generator
    stratified : bool
        Keep the class sizes.
    groups : array-like, optional
        Patient of each row (cluster bootstrap).

    Returns
    -------
    ndarray of shape (n_boot, n), or list of ndarray with ``groups``

    Examples
    --------
    >>> idx = resample_indices([0, 0, 1, 1, 1], 3, np.random.default_rng(0))
    >>> idx.shape, [int((np.asarray([0, 0, 1, 1, 1])[row] == 1).sum()) for row in idx]
    ((3, 5), [3, 3, 3])
    """
    y = np.asarray(y)
    n = y.shape[0]
    if groups is not None:
        ug, inv = np.unique(np.asarray(groups).astype(str), return_inverse=True)
        members = [np.flatnonzero(inv == k) for k in range(len(ug))]
        glabel = np.array([y[m].max() for m in members])
        levels = [np.flatnonzero(glabel == v) for v in np.unique(glabel)] if stratified else [np.arange(len(ug))]
        out = []
        for _ in range(n_boot):
            pick = np.concatenate([lv[rng.integers(0, lv.size, lv.size)] for lv in levels])
            out.append(np.concatenate([members[k] for k in pick]))
        return out
    if not stratified:
        return rng.integers(0, n, size=(n_boot, n))
    parts = []
    for level in np.unique(y):
        members = np.flatnonzero(y == level)
        parts.append(members[rng.integers(0, members.size, size=(n_boot, members.size))])
    return np.concatenate(parts, axis=1)


def _eval_chunk(metric, y, arrays, idx_block):
    out = np.empty(len(idx_block))
    for i, idx in enumerate(idx_block):
        try:
            out[i] = float(metric(_take(y, idx), *(_take(a, idx) for a in arrays)))
        except (ValueError, ZeroDivisionError, FloatingPointError):
            out[i] = np.nan
    return out


def percentile_interval(reps: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval (numpy linear interpolation, R ``quantile`` type 7).

    Parameters
    ----------
    reps : ndarray
        Bootstrap replicates of a statistic.
    level : float
        Confidence level.

    Returns
    -------
    (float, float)

    Examples
    --------
    >>> percentile_interval(np.arange(101.0), 0.5)
    (25.0, 75.0)
    """
    alpha = (1 - level) / 2
    lo, hi = np.quantile(reps, [alpha, 1 - alpha])
    return float(lo), float(hi)


def iter_bootstrap_ci(
    metric: Callable,
    y,
    *arrays,
    n_boot: int = 2000,
    level: float = 0.95,
    stratified: bool = True,
    seed=None,
    n_jobs: int = 1,
    groups=None,
) -> Generator[Step, None, BootstrapCI]:
    """Generator twin of :func:`bootstrap_ci`: yields a :class:`~radgui.progress.Step` per chunk.

    Each ``yield`` (every 50 replicates) is a progress tick and a cancel point
    for the GUI; the result is the generator's return value.

    Parameters
    ----------
    metric, y, *arrays, n_boot, level, stratified, seed, n_jobs, groups
        As :func:`bootstrap_ci`.

    Returns
    -------
    BootstrapCI
        As the generator's return value (``radgui.progress.run(gen)``).
    """
    level = check_level(level)
    n_boot = int(n_boot)
    if n_boot < 2:
        raise StatsInputError(f"n_boot must be at least 2, got {n_boot}")
    y_arr = np.asarray(y)
    n = y_arr.shape[0]
    for k, a in enumerate(arrays):
        if len(a) != n:
            raise StatsInputError(f"array {k + 1} has {len(a)} rows but y has {n}")
    if groups is not None and len(groups) != n:
        raise StatsInputError(f"groups has {len(groups)} rows but y has {n}")
    stratified = _check_stratified(y_arr, stratified)
    estimate = float(metric(y, *arrays))
    rng = np.random.default_rng(seed)
    starts = list(range(0, n_boot, CHUNK))
    # Indices are drawn in the parent, chunk by chunk, from one generator: the
    # same seed gives the same replicates for any n_jobs.
    blocks = (resample_indices(y_arr, min(CHUNK, n_boot - s), rng, stratified, groups) for s in starts)
    reps = []
    if n_jobs == 1:
        results = (_eval_chunk(metric, y, arrays, b) for b in blocks)
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_eval_chunk)(metric, y, arrays, b) for b in blocks
        )
    done = 0
    for chunk in results:
        reps.append(chunk)
        done += chunk.size
        yield Step(done, n_boot, f"bootstrap {done}/{n_boot}")
    reps = np.concatenate(reps)
    finite = reps[np.isfinite(reps)]
    n_failed = int(reps.size - finite.size)
    if finite.size < 2:
        raise StatsInputError(
            f"only {finite.size} of {n_boot} bootstrap replicates gave a value; "
            "the metric fails on resampled data (too few cases of one class?)"
        )
    lo, hi = percentile_interval(finite, level)
    return BootstrapCI(estimate, lo, hi, float(np.std(finite, ddof=1)), level, n_boot, n_failed, finite,
                       stratified, groups is not None)


def bootstrap_ci(
    metric: Callable,
    y,
    *arrays,
    n_boot: int = 2000,
    level: float = 0.95,
    stratified: bool = True,
    seed=None,
    n_jobs: int = 1,
    groups=None,
) -> BootstrapCI:
    """Percentile bootstrap confidence interval of any metric.

    Parameters
    ----------
    metric : callable
        ``metric(y, *arrays) -> float`` (for example
        ``sklearn.metrics.roc_auc_score``, or a function that refits a model).
        Must be picklable when ``n_jobs != 1``.
    y : array-like, shape (n,)
        Outcome; resampling is stratified on its distinct values when
        ``stratified`` is True.
    *arrays : array-like or DataFrame, each with n rows
        Further inputs resampled row-wise with ``y``.
    n_boot : int
        Number of replicates (pROC's default is 2000).
    level : float
        Confidence level.
    stratified : bool
        Keep the number of cases of each ``y`` value in every replicate
        (pROC's default for ROC curves). For a continuous ``y`` (more than
        20 distinct values, or more than half the rows distinct) stratifying
        would return the original sample every time (a zero-width interval):
        resampling then falls back to unstratified with a ``RuntimeWarning``
        and ``result.stratified`` is False.
    seed : int, numpy Generator or None
        Random seed; the same seed gives the same interval for any ``n_jobs``.
    n_jobs : int
        Processes for joblib (``-1`` = all cores).
    groups : array-like, shape (n,), optional
        The patient of each row when a patient has several rows: whole
        patients are resampled (cluster bootstrap).

    Returns
    -------
    BootstrapCI

    Examples
    --------
    >>> from sklearn.metrics import roc_auc_score
    >>> y = [0, 0, 1, 1, 0, 1, 0, 1]
    >>> s = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.5, 0.6]
    >>> r = bootstrap_ci(roc_auc_score, y, s, n_boot=200, seed=1)
    >>> r.estimate
    0.875
    >>> r.ci_low <= r.estimate <= r.ci_high
    True
    """
    return run(
        iter_bootstrap_ci(
            metric, y, *arrays, n_boot=n_boot, level=level, stratified=stratified, seed=seed, n_jobs=n_jobs,
            groups=groups,
        )
    )


def bootstrap_cis(metrics: Mapping[str, Callable], y, *arrays, n_boot: int = 1000, level: float = 0.95,
                  stratified: bool = True, seed=None, groups=None) -> dict[str, BootstrapCI]:
    """Percentile bootstrap intervals of several metrics over the *same* replicates.

    One set of resamples serves every metric (as a paper's table of AUC,
    sensitivity, specificity, ...).

    Parameters
    ----------
    metrics : mapping name -> callable
        Each ``metric(y, *arrays) -> float``.
    y, *arrays, n_boot, level, stratified, seed, groups
        As :func:`bootstrap_ci`.

    Returns
    -------
    dict name -> BootstrapCI
        A metric that is undefined on the original data (e.g. PPV with no
        positive call) is left out.
    """
    level = check_level(level)
    n_boot = int(n_boot)
    if n_boot < 2:
        raise StatsInputError(f"n_boot must be at least 2, got {n_boot}")
    y_arr = np.asarray(y)
    stratified = _check_stratified(y_arr, stratified)
    idx = resample_indices(y_arr, n_boot, np.random.default_rng(seed), stratified, groups)
    out = {}
    for name, metric in metrics.items():
        try:
            est = float(metric(y, *arrays))
        except (ValueError, ZeroDivisionError, FloatingPointError):
            continue
        if not np.isfinite(est):
            continue
        reps = _eval_chunk(metric, y, arrays, idx)
        finite = reps[np.isfinite(reps)]
        if finite.size < 2:
            continue
        lo, hi = percentile_interval(finite, level)
        out[name] = BootstrapCI(est, lo, hi, float(np.std(finite, ddof=1)), level, n_boot,
                                int(reps.size - finite.size), finite, stratified, groups is not None)
    return out
