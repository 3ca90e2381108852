"""ROC analysis: AUC with DeLong or bootstrap CI, paired DeLong test, Youden
cut-off, precision-recall AUC and threshold metrics.

Conventions (the same as R pROC with ``direction = "<"``):

* ``y`` is 0/1 with 1 = positive (event); a *higher* score means more likely
  positive. No automatic direction flip: an AUC below 0.5 is reported as is.
* Tied scores between a positive and a negative count 1/2
  (Mann-Whitney/midrank AUC).
* DeLong variances use the structural components (placement values) of DeLong
  et al. (1988), computed with the O(n log n) midrank algorithm of Sun & Xu
  (2014); sample covariances use ``n - 1``. The DeLong CI is
  ``AUC +/- z * SE`` clipped to [0, 1], as pROC's ``ci.auc(method="delong")``.

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more
correlated receiver operating characteristic curves: a nonparametric approach.
Biometrics 1988;44:837-845.
Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas
under correlated receiver operating characteristic curves. IEEE Signal Process
Lett 2014;21:1389-1393.
Robin X, et al. pROC: an open-source package for R and S+ to analyze and
compare ROC curves. BMC Bioinformatics 2011;12:77.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy import stats as _st

from radgui.errors import StatsInputError

from ._checks import as_binary, as_float, check_level, same_length
from .bootstrap import percentile_interval, resample_indices

__all__ = [
    "RocAuc",
    "DelongTest",
    "YoudenCutoff",
    "PrAuc",
    "BinaryMetrics",
    "roc_auc",
    "delong_test",
    "youden_cutoff",
    "pr_auc",
    "binary_metrics",
    "roc_curve",
]


@dataclass(frozen=True)
class RocAuc:
    """Area under the ROC curve with its confidence interval.

    Attributes
    ----------
    auc : float
    ci_low, ci_high : float
    se : float
        DeLong standard error (``ci="delong"``) or the standard deviation of
        the bootstrap replicates (``ci="bootstrap"``).
    level : float
    method : str
        ``"delong"`` or ``"bootstrap"``.
    n_pos, n_neg : int
    """

    auc: float
    ci_low: float
    ci_high: float
    se: float
    level: float = 0.95
    method: str = "delong"
    n_pos: int = 0
    n_neg: int = 0


@dataclass(frozen=True)
class DelongTest:
    """Paired DeLong test of two correlated AUCs (``auc_a - auc_b``).

    Attributes
    ----------
    auc_a, auc_b : float
    z : float
        ``(auc_a - auc_b) / SE(diff)``.
    p_value : float
        Two-sided.
    diff_ci_low, diff_ci_high : float
        ``(auc_a - auc_b) +/- z_{1-alpha/2} SE(diff)``.
    se_diff : float
    level : float
    """

    auc_a: float
    auc_b: float
    z: float
    p_value: float
    diff_ci_low: float
    diff_ci_high: float
    se_diff: float = float("nan")
    level: float = 0.95


@dataclass(frozen=True)
class YoudenCutoff:
    """Threshold maximising Youden's J = sensitivity + specificity - 1.

    A case is called positive when ``score >= threshold``.
    """

    threshold: float
    sensitivity: float
    specificity: float
    j: float


@dataclass(frozen=True)
class PrAuc:
    """Area under the precision-recall curve (average precision).

    Attributes
    ----------
    auc : float
        Average precision (step-wise, scikit-learn's ``average_precision_score``).
    ci_low, ci_high : float
        Stratified percentile bootstrap interval (NaN when ``n_boot=0``).
    prevalence : float
        The no-skill baseline.
    """

    auc: float
    ci_low: float
    ci_high: float
    prevalence: float
    level: float = 0.95


_METRICS = ("accuracy", "sensitivity", "specificity", "ppv", "npv", "f1", "mcc", "kappa")


@dataclass(frozen=True)
class BinaryMetrics:
    """Confusion-matrix metrics at one threshold (positive when ``score >= threshold``).

    Each ``<name>_ci`` is a ``(low, high)`` percentile bootstrap interval
    when ``binary_metrics(..., ci=True)``, else None. A metric whose
    denominator is zero (e.g. PPV with no predicted positive) is NaN.
    """

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    accuracy: float
    sensitivity: float
    specificity: float
    ppv: float
    npv: float
    f1: float
    mcc: float
    kappa: float
    accuracy_ci: tuple | None = None
    sensitivity_ci: tuple | None = None
    specificity_ci: tuple | None = None
    ppv_ci: tuple | None = None
    npv_ci: tuple | None = None
    f1_ci: tuple | None = None
    mcc_ci: tuple | None = None
    kappa_ci: tuple | None = None
    level: float = 0.95

    def as_dict(self) -> dict:
        """Plain dict of every field (JSON-friendly)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# --------------------------------------------------------------------------- core


def _split(y, score, name="score"):
    y = as_binary(y)
    s = as_float(score, name)
    same_length(y=y, **{name: s})
    return s[y == 1], s[y == 0]


def _placements(pos: np.ndarray, neg: np.ndarray):
    """AUC and DeLong structural components by midranks (Sun & Xu 2014).

    ``pos``/``neg`` are (k, m) and (k, n) arrays of k scores. Returns
    ``auc`` (k,), ``v10`` (k, m) and ``v01`` (k, n).
    """
    m, n = pos.shape[1], neg.shape[1]
    tx = _st.rankdata(pos, axis=1)
    ty = _st.rankdata(neg, axis=1)
    tz = _st.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    auc = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:, :m] - tx) / n  # share of negatives below each positive (ties 1/2)
    v01 = 1.0 - (tz[:, m:] - ty) / m  # share of positives above each negative
    return auc, v10, v01


def _delong_cov(pos, neg):
    m, n = pos.shape[1], neg.shape[1]
    auc, v10, v01 = _placements(pos, neg)
    if m < 2 or n < 2:
        raise StatsInputError(
            f"DeLong variance needs at least 2 positives and 2 negatives (got {m} and {n})"
        )
    s10 = np.atleast_2d(np.cov(v10))
    s01 = np.atleast_2d(np.cov(v01))
    return auc, s10 / m + s01 / n


def roc_auc(y, score, ci: str = "delong", level: float = 0.95, n_boot: int = 2000, seed=None) -> RocAuc:
    """Area under the ROC curve with a DeLong or bootstrap confidence interval.

    Parameters
    ----------
    y : array-like of 0/1, shape (n,)
        Outcome, 1 = positive.
    score : array-like, shape (n,)
        Higher = more likely positive (no direction flip).
    ci : {"delong", "bootstrap"}
        ``"delong"``: ``AUC +/- z*SE`` with DeLong's structural-component
        variance, clipped to [0, 1] (pROC ``ci.auc`` default).
        ``"bootstrap"``: stratified percentile bootstrap with ``n_boot``
        replicates (pROC ``ci.auc(method="bootstrap")``).
    level : float
        Confidence level.
    n_boot : int
        Bootstrap replicates (``ci="bootstrap"`` only).
    seed : int or None
        Bootstrap seed.

    Returns
    -------
    RocAuc
        ``auc, ci_low, ci_high, se`` (+ ``level, method, n_pos, n_neg``).

    Notes
    -----
    Ties between a positive and a negative score count 1/2, so the AUC equals
    the Mann-Whitney U statistic divided by ``n_pos * n_neg``.

    References
    ----------
    DeLong et al., Biometrics 1988;44:837-845. Sun & Xu, IEEE SPL 2014;21:1389.

    Examples
    --------
    >>> r = roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> r.auc, round(r.se, 4), r.method
    (0.75, 0.3536, 'delong')
    """
    level = check_level(level)
    pos, neg = _split(y, score)
    m, n = pos.size, neg.size
    z = _st.norm.ppf(0.5 + level / 2)
    if ci == "delong":
        auc, cov = _delong_cov(pos[None], neg[None])
        auc = float(auc[0])
        se = float(np.sqrt(cov[0, 0]))
        return RocAuc(auc, float(max(0.0, auc - z * se)), float(min(1.0, auc + z * se)), se, level, "delong", m, n)
    if ci == "bootstrap":
        auc = float(_placements(pos[None], neg[None])[0][0])
        reps = _bootstrap_auc(pos, neg, int(n_boot), seed)
        lo, hi = percentile_interval(reps, level)
        return RocAuc(auc, lo, hi, float(np.std(reps, ddof=1)), level, "bootstrap", m, n)
    raise StatsInputError(f"ci must be 'delong' or 'bootstrap', got {ci!r}")


def _bootstrap_auc(pos, neg, n_boot, seed, block: int = 500) -> np.ndarray:
    """Stratified bootstrap AUC replicates, vectorised over replicates."""
    if n_boot < 2:
        raise StatsInputError(f"n_boot must be at least 2, got {n_boot}")
    rng = np.random.default_rng(seed)
    scores = np.concatenate([pos, neg])
    labels = np.r_[np.ones(pos.size, int), np.zeros(neg.size, int)]
    m, n = pos.size, neg.size
    out = []
    for start in range(0, n_boot, block):
        idx = resample_indices(labels, min(block, n_boot - start), rng, stratified=True)
        # resample_indices puts the 0-class columns first, then the 1-class ones
        s = scores[idx]
        ranks = _st.rankdata(s, axis=1)
        out.append((ranks[:, n:].sum(axis=1) - m * (m + 1) / 2) / (m * n))
    return np.concatenate(out)


def delong_test(y, score_a, score_b, level: float = 0.95) -> DelongTest:
    """Paired two-sided DeLong test comparing two AUCs on the same cases.

    Parameters
    ----------
    y : array-like of 0/1
        Outcome, 1 = positive.
    score_a, score_b : array-like
        Two scores for the same cases (higher = positive).
    level : float
        Confidence level of the difference interval.

    Returns
    -------
    DelongTest
        ``auc_a, auc_b, z, p_value, diff_ci_low, diff_ci_high``; the
        difference is ``auc_a - auc_b``. ``z = diff / sqrt(var_a + var_b -
        2 cov_ab)`` with the structural-component covariance matrix, as
        ``pROC::roc.test(method="delong", paired=TRUE)``.

    References
    ----------
    DeLong et al., Biometrics 1988;44:837-845. Sun & Xu, IEEE SPL 2014;21:1389.

    Examples
    --------
    >>> t = delong_test([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.6, 0.4, 0.8, 0.9], [0.3, 0.1, 0.2, 0.5, 0.4, 0.7])
    >>> round(t.auc_a, 4), t.auc_b, round(t.p_value, 3)
    (0.8889, 1.0, 0.48)
    """
    level = check_level(level)
    y = as_binary(y)
    a = as_float(score_a, "score_a")
    b = as_float(score_b, "score_b")
    same_length(y=y, score_a=a, score_b=b)
    scores = np.vstack([a, b])
    auc, cov = _delong_cov(scores[:, y == 1], scores[:, y == 0])
    diff = float(auc[0] - auc[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    zq = _st.norm.ppf(0.5 + level / 2)
    if var <= 0:
        # identical (or perfectly equivalent) scores: no difference to test
        z = 0.0 if diff == 0 else np.copysign(np.inf, diff)
        p = 1.0 if diff == 0 else 0.0
        se = 0.0
    else:
        se = np.sqrt(var)
        z = diff / se
        p = float(2 * _st.norm.sf(abs(z)))
    return DelongTest(
        float(auc[0]), float(auc[1]), float(z), float(p), float(diff - zq * se), float(diff + zq * se), float(se), level
    )


def roc_curve(y, score):
    """ROC points at every distinct score (positive when ``score >= threshold``).

    Returns
    -------
    fpr, tpr, thresholds : ndarray
        Starting at (0, 0) with threshold ``+inf``, thresholds decreasing.

    Examples
    --------
    >>> fpr, tpr, thresholds = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    pos, neg = _split(y, score)
    thr = np.unique(np.concatenate([pos, neg]))[::-1]
    pos_s, neg_s = np.sort(pos), np.sort(neg)
    tp = pos.size - np.searchsorted(pos_s, thr, side="left")
    fp = neg.size - np.searchsorted(neg_s, thr, side="left")
    tpr = np.r_[0.0, tp / pos.size]
    fpr = np.r_[0.0, fp / neg.size]
    return fpr, tpr, np.r_[np.inf, thr]


def youden_cutoff(y, score) -> YoudenCutoff:
    """Threshold that maximises Youden's J (sensitivity + specificity - 1).

    Candidate thresholds are the observed scores; a case is positive when
    ``score >= threshold``. When several thresholds reach the same J the
    highest one (the most specific) is returned.

    Parameters
    ----------
    y : array-like of 0/1
    score : array-like (higher = positive)

    Returns
    -------
    YoudenCutoff
        ``threshold, sensitivity, specificity, j``.

    Notes
    -----
    pROC's ``coords(roc, "best")`` reports the midpoint between two adjacent
    scores instead; both classify the data identically.

    References
    ----------
    Youden WJ. Index for rating diagnostic tests. Cancer 1950;3:32-35.

    Examples
    --------
    >>> c = youden_cutoff([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> c.threshold, c.sensitivity, c.specificity, c.j
    (0.8, 0.5, 1.0, 0.5)
    """
    fpr, tpr, thr = roc_curve(y, score)
    fpr, tpr, thr = fpr[1:], tpr[1:], thr[1:]
    j = tpr - fpr
    k = int(np.argmax(j))  # first = highest threshold among ties
    return YoudenCutoff(float(thr[k]), float(tpr[k]), float(1 - fpr[k]), float(j[k]))


def pr_auc(y, score, n_boot: int = 2000, level: float = 0.95, seed=None) -> PrAuc:
    """Area under the precision-recall curve (average precision) with bootstrap CI.

    Parameters
    ----------
    y : array-like of 0/1
    score : array-like (higher = positive)
    n_boot : int
        Stratified bootstrap replicates for the CI; 0 skips the CI (NaN).
    level : float
    seed : int or None

    Returns
    -------
    PrAuc
        ``auc`` is average precision, ``AP = sum_k (R_k - R_{k-1}) P_k``
        (step interpolation, scikit-learn's ``average_precision_score``; no
        trapezoids, which overestimate). ``prevalence`` is the no-skill
        baseline.

    References
    ----------
    Saito T, Rehmsmeier M. The precision-recall plot is more informative than
    the ROC plot when evaluating binary classifiers on imbalanced datasets.
    PLoS One 2015;10:e0118432.

    Examples
    --------
    >>> p = pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], n_boot=0)
    >>> round(p.auc, 4), p.prevalence
    (0.8333, 0.5)
    """
    from sklearn.metrics import average_precision_score

    from .bootstrap import bootstrap_ci

    level = check_level(level)
    yb = as_binary(y)
    s = as_float(score, "score")
    same_length(y=yb, score=s)
    ap = float(average_precision_score(yb, s))
    if n_boot:
        r = bootstrap_ci(average_precision_score, yb, s, n_boot=n_boot, level=level, seed=seed)
        lo, hi = r.ci_low, r.ci_high
    else:
        lo = hi = float("nan")
    return PrAuc(ap, lo, hi, float(yb.mean()), level)


def _confusion_metrics(y, pred):
    tp = int(np.sum((pred == 1) & (y == 1)))
    fp = int(np.sum((pred == 1) & (y == 0)))
    tn = int(np.sum((pred == 0) & (y == 0)))
    fn = int(np.sum((pred == 0) & (y == 1)))
    n = tp + fp + tn + fn

    def div(a, b):
        return a / b if b else float("nan")

    acc = div(tp + tn, n)
    sens = div(tp, tp + fn)
    spec = div(tn, tn + fp)
    ppv = div(tp, tp + fp)
    npv = div(tn, tn + fn)
    f1 = div(2 * tp, 2 * tp + fp + fn)
    mcc_den = np.sqrt(float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = float(div(tp * tn - fp * fn, mcc_den))
    pe = div((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn), n * n)
    kappa = div(acc - pe, 1 - pe) if pe == pe else float("nan")
    if pe == 1:
        kappa = float("nan")
    return (tp, fp, tn, fn), dict(
        accuracy=acc, sensitivity=sens, specificity=spec, ppv=ppv, npv=npv, f1=f1, mcc=mcc, kappa=kappa
    )


def binary_metrics(
    y, score, threshold: float, ci: bool = False, n_boot: int = 2000, level: float = 0.95, seed=None
) -> BinaryMetrics:
    """Accuracy, sensitivity, specificity, PPV, NPV, F1, MCC and Cohen's kappa at a threshold.

    Parameters
    ----------
    y : array-like of 0/1
    score : array-like
        A case is positive when ``score >= threshold`` (pass 0/1 predictions
        with ``threshold=0.5`` or ``1``).
    threshold : float
    ci : bool
        Add stratified percentile bootstrap intervals ``<name>_ci``.
    n_boot, level, seed
        Bootstrap settings.

    Returns
    -------
    BinaryMetrics

    Notes
    -----
    MCC is Matthews' correlation coefficient; kappa is Cohen's kappa between
    the prediction and the outcome. Undefined ratios are NaN; bootstrap
    intervals ignore NaN replicates.

    References
    ----------
    Matthews BW. Biochim Biophys Acta 1975;405:442-451. Cohen J. Educ Psychol
    Meas 1960;20:37-46. Chicco D, Jurman G. BMC Genomics 2020;21:6.

    Examples
    --------
    >>> m = binary_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.5)
    >>> (m.tp, m.fp, m.tn, m.fn), m.sensitivity, m.specificity, m.accuracy
    ((1, 0, 2, 1), 0.5, 1.0, 0.75)
    """
    level = check_level(level)
    yb = as_binary(y, need_both=False)
    s = as_float(score, "score")
    same_length(y=yb, score=s)
    pred = (s >= threshold).astype(np.int8)
    (tp, fp, tn, fn), vals = _confusion_metrics(yb, pred)
    cis = {}
    if ci:
        rng = np.random.default_rng(seed)
        idx = resample_indices(yb, int(n_boot), rng, stratified=True)
        reps = {k: np.empty(len(idx)) for k in _METRICS}
        for i, ix in enumerate(idx):
            _, v = _confusion_metrics(yb[ix], pred[ix])
            for k in _METRICS:
                reps[k][i] = v[k]
        for k in _METRICS:
            r = reps[k][np.isfinite(reps[k])]
            cis[f"{k}_ci"] = percentile_interval(r, level) if r.size >= 2 else (float("nan"), float("nan"))
    return BinaryMetrics(float(threshold), tp, fp, tn, fn, **vals, **cis, level=level)
