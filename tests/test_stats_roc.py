"""ROC/AUC, DeLong, Youden, PR-AUC and threshold metrics.

References used as truth:
* Hanley JA, McNeil BJ. The meaning and use of the area under a receiver
  operating characteristic (ROC) curve. Radiology 1982;143:29-36, Table 1
  (CT ratings of 109 patients) and its published area 0.893.
* A direct O(n^2) implementation of DeLong et al. (Biometrics 1988) eqs. for
  the structural components, written independently below.
* scikit-learn's roc_auc_score, average_precision_score, matthews_corrcoef,
  cohen_kappa_score.
"""

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from radgui.errors import StatsInputError
from radgui.stats import (
    binary_metrics,
    bootstrap_ci,
    delong_test,
    pr_auc,
    roc_auc,
    roc_curve,
    youden_cutoff,
)


def hanley_mcneil_ct():
    """Hanley & McNeil 1982, Table 1: 5-point CT ratings (1 = definitely normal)."""
    normal = [33, 6, 6, 11, 2]
    abnormal = [3, 2, 2, 11, 33]
    score = np.r_[np.repeat(np.arange(1, 6), normal), np.repeat(np.arange(1, 6), abnormal)]
    y = np.r_[np.zeros(sum(normal)), np.ones(sum(abnormal))]
    return y, score


def naive_delong(y, scores):
    """DeLong 1988 structural components by the O(n^2) definition."""
    pos = [s[y == 1] for s in scores]
    neg = [s[y == 0] for s in scores]
    m, n = pos[0].size, neg[0].size

    def psi(x, z):
        return (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])

    aucs, v10, v01 = [], [], []
    for p, q in zip(pos, neg):
        k = psi(p, q)
        aucs.append(k.mean())
        v10.append(k.mean(axis=1))
        v01.append(k.mean(axis=0))
    s = np.cov(np.array(v10)) / m + np.cov(np.array(v01)) / n
    return np.array(aucs), np.atleast_2d(s)


def test_hanley_mcneil_published_area():
    y, s = hanley_mcneil_ct()
    r = roc_auc(y, s)
    assert round(r.auc, 3) == 0.893
    assert r.n_pos == 51 and r.n_neg == 58
    # Hanley-McNeil's SE (exponential approximation) is 0.032; DeLong's is close
    assert r.se == pytest.approx(0.032, abs=0.004)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_and_delong_match_naive_definition_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = 150
    y = rng.integers(0, 2, n)
    a = np.round(y + rng.normal(0, 1.2, n), 1)  # rounded: many ties
    b = np.round(0.5 * y + rng.normal(0, 1, n), 1)
    aucs, cov = naive_delong(y, [a, b])
    ra = roc_auc(y, a)
    assert ra.auc == pytest.approx(aucs[0], abs=1e-12)
    assert ra.auc == pytest.approx(skm.roc_auc_score(y, a), abs=1e-12)
    assert ra.se == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-10)
    z = stats.norm.ppf(0.975)
    assert ra.ci_low == pytest.approx(aucs[0] - z * np.sqrt(cov[0, 0]), rel=1e-10)
    t = delong_test(y, a, b)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    assert t.z == pytest.approx((aucs[0] - aucs[1]) / np.sqrt(var), rel=1e-10)
    assert t.p_value == pytest.approx(2 * stats.norm.sf(abs(t.z)), rel=1e-10)
    assert t.diff_ci_low < aucs[0] - aucs[1] < t.diff_ci_high
    assert (t.auc_a, t.auc_b) == pytest.approx(tuple(aucs))


def test_delong_identical_scores_and_antisymmetry():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 80)
    a = y + rng.normal(size=80)
    same = delong_test(y, a, a)
    assert same.z == 0 and same.p_value == 1.0
    b = rng.normal(size=80)
    ab, ba = delong_test(y, a, b), delong_test(y, b, a)
    assert ab.z == pytest.approx(-ba.z) and ab.p_value == pytest.approx(ba.p_value)


def test_ci_clipped_to_unit_interval_and_higher_score_is_positive():
    y = np.r_[np.zeros(5), np.ones(5)]
    r = roc_auc(y, np.arange(10.0))
    assert r.auc == 1.0 and r.ci_high <= 1.0
    flipped = roc_auc(y, -np.arange(10.0))
    assert flipped.auc == 0.0  # no automatic direction flip (pROC direction "<")


def test_bootstrap_auc_ci_is_stratified_percentile_bootstrap():
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(60, int), np.zeros(90, int)]
    s = y + rng.normal(0, 1.3, y.size)
    fast = roc_auc(y, s, ci="bootstrap", n_boot=50, seed=11)
    generic = bootstrap_ci(skm.roc_auc_score, y, s, n_boot=50, seed=11)
    assert fast.ci_low == pytest.approx(generic.ci_low, abs=1e-12)
    assert fast.ci_high == pytest.approx(generic.ci_high, abs=1e-12)
    big = roc_auc(y, s, ci="bootstrap", n_boot=2000, seed=1)
    dl = roc_auc(y, s)
    assert big.se == pytest.approx(dl.se, rel=0.15)
    assert big.ci_low == pytest.approx(dl.ci_low, abs=0.02)
    assert roc_auc(y, s, ci="bootstrap", n_boot=200, seed=4) == roc_auc(y, s, ci="bootstrap", n_boot=200, seed=4)


def test_roc_curve_matches_sklearn():
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.normal(size=60) + y, 1)
    fpr, tpr, thr = roc_curve(y, s)
    f2, t2, th2 = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, f2)
    np.testing.assert_allclose(tpr, t2)
    np.testing.assert_allclose(thr[1:], th2[1:])


def test_youden_cutoff_brute_force():
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, 100)
    s = np.round(y + rng.normal(size=100), 2)
    best = max(
        ((s[y == 1] >= t).mean() + (s[y == 0] < t).mean() - 1, t) for t in sorted(set(s), reverse=True)
    )
    r = youden_cutoff(y, s)
    assert r.j == pytest.approx(best[0])
    assert r.sensitivity == pytest.approx((s[y == 1] >= r.threshold).mean())
    assert r.specificity == pytest.approx((s[y == 0] < r.threshold).mean())
    assert r.j == pytest.approx(r.sensitivity + r.specificity - 1)


def test_binary_metrics_against_sklearn():
    rng = np.random.default_rng(10)
    y = rng.integers(0, 2, 120)
    s = y + rng.normal(size=120)
    m = binary_metrics(y, s, 0.5)
    pred = (s >= 0.5).astype(int)
    assert m.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert m.sensitivity == pytest.approx(skm.recall_score(y, pred))
    assert m.specificity == pytest.approx(skm.recall_score(1 - y, 1 - pred))
    assert m.ppv == pytest.approx(skm.precision_score(y, pred))
    assert m.npv == pytest.approx(skm.precision_score(1 - y, 1 - pred))
    assert m.f1 == pytest.approx(skm.f1_score(y, pred))
    assert m.mcc == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert m.kappa == pytest.approx(skm.cohen_kappa_score(y, pred))
    assert m.accuracy_ci is None
    c = binary_metrics(y, s, 0.5, ci=True, n_boot=300, seed=0)
    for name in ("accuracy", "sensitivity", "specificity", "ppv", "npv", "f1", "mcc", "kappa"):
        lo, hi = getattr(c, f"{name}_ci")
        assert lo <= getattr(c, name) <= hi, name


def test_binary_metrics_undefined_ratio_is_nan():
    m = binary_metrics([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], threshold=0.9)
    assert np.isnan(m.ppv) and m.sensitivity == 0 and m.specificity == 1


def test_pr_auc_is_average_precision():
    rng = np.random.default_rng(12)
    y = (rng.random(200) < 0.2).astype(int)
    s = y + rng.normal(size=200)
    r = pr_auc(y, s, n_boot=300, seed=1)
    assert r.auc == pytest.approx(skm.average_precision_score(y, s))
    assert r.ci_low < r.auc < r.ci_high
    assert r.prevalence == pytest.approx(y.mean())


@pytest.mark.parametrize(
    "y, s, match",
    [
        ([0, 0, 0], [0.1, 0.2, 0.3], "only one class"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "0/1"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "missing"),
        ([0, 1, 1, 0], [0.1, 0.3], "same length"),
    ],
)
def test_bad_inputs_name_the_problem(y, s, match):
    with pytest.raises(StatsInputError, match=match):
        roc_auc(y, s)


def test_bad_ci_method():
    with pytest.raises(StatsInputError, match="delong"):
        roc_auc([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], ci="wald")


def test_low_birth_weight_classification_matches_stata():
    """Stata Base Reference Manual, logistic postestimation, after
    ``logistic low age lwt i.race smoke ptl ht ui`` (Hosmer & Lemeshow data):
    ``estat classification`` (positive when Pr(D) >= .5): sensitivity 35.59%,
    specificity 90.77%, PPV 63.64%, NPV 75.64%, correctly classified 73.54%;
    ``lroc``: area under ROC curve 0.746."""
    from pathlib import Path

    import pandas as pd
    import statsmodels.api as sm

    d = pd.read_csv(Path(__file__).parent / "data" / "stats" / "lowbwt.csv", comment="#")
    X = pd.get_dummies(d[["age", "lwt", "race", "smoke", "ptl", "ht", "ui"]], columns=["race"],
                       drop_first=True).astype(float)
    p = sm.Logit(d.low, sm.add_constant(X)).fit(disp=0).predict()
    m = binary_metrics(d.low, p, 0.5)
    assert (m.tp, m.fp, m.tn, m.fn) == (21, 12, 118, 38)
    assert [round(100 * v, 2) for v in (m.sensitivity, m.specificity, m.ppv, m.npv, m.accuracy)] == [
        35.59, 90.77, 63.64, 75.64, 73.54]
    assert round(roc_auc(d.low, p).auc, 3) == 0.746
