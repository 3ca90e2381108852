"""Hosmer-Lemeshow, calibration slope/intercept/Brier and decision curves.

Truth:
* ResourceSelection::hoslem.test (R) as published in its source: breaks
  ``unique(quantile(yhat, seq(0, 1, 1/g)))``, ``cut(..., include.lowest=TRUE)``,
  statistic ``sum((observed - expected)^2 / expected)`` over the 2 x g table,
  df ``g - 2``. Re-implemented below independently with pandas ``cut``.
* Stata ``estat gof, group(10)``: ``xtile`` groups (ties stay together),
  df = groups - 2; checked on a hand-made table with heavy ties.
* statsmodels GLM for the calibration slope and intercept, scikit-learn's
  brier_score_loss.
* Vickers AJ, Elkin EB. Med Decis Making 2006;26:565-574 (net benefit
  formula), checked on hand-computed values.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from sklearn.metrics import brier_score_loss

from radgui.errors import StatsInputError
from radgui.stats import calibration, decision_curve, hosmer_lemeshow


def r_hoslem(y, yhat, g=10):
    """ResourceSelection::hoslem.test written with pandas.cut (R semantics)."""
    qq = np.unique(np.quantile(yhat, np.linspace(0, 1, g + 1)))
    cut = pd.cut(yhat, qq, include_lowest=True, right=True)
    obs1 = pd.Series(y).groupby(cut, observed=True).sum()
    n = pd.Series(y).groupby(cut, observed=True).size()
    exp1 = pd.Series(yhat).groupby(cut, observed=True).sum()
    chisq = (((obs1 - exp1) ** 2 / exp1) + (((n - obs1) - (n - exp1)) ** 2 / (n - exp1))).sum()
    return chisq, g - 2, stats.chi2.sf(chisq, g - 2)


def simulated(seed, n=400, ties=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    if ties:
        x = np.round(x, 0)
    p = 1 / (1 + np.exp(-(-0.3 + 1.1 * x)))
    y = (rng.random(n) < 1 / (1 + np.exp(-(-0.2 + 0.9 * x)))).astype(int)
    return y, p


@pytest.mark.parametrize("seed, ties", [(0, False), (1, False), (2, True), (3, True)])
def test_hosmer_lemeshow_matches_resourceselection(seed, ties):
    y, p = simulated(seed, ties=ties)
    r = hosmer_lemeshow(y, p)
    chisq, df, pv = r_hoslem(y, p)
    assert r.statistic == pytest.approx(chisq, rel=1e-10)
    assert r.df == df == 8
    assert r.p_value == pytest.approx(pv, rel=1e-10)
    assert r.table.n.sum() == y.size and r.table.observed.sum() == y.sum()
    assert r.table.expected.sum() == pytest.approx(p.sum())


def test_hosmer_lemeshow_stata_grouping_keeps_ties_together():
    # 20 patients, risks with big ties: Stata's xtile nq(4) cut points at the
    # 25/50/75th percentiles (n*k/g = 5, 10, 15 are integers, so each cut is
    # the mean of the 5th/6th, 10th/11th, 15th/16th sorted values).
    p = np.array([0.1] * 7 + [0.3] * 6 + [0.6] * 4 + [0.8] * 3)
    y = np.array([0] * 6 + [1] + [0] * 4 + [1] * 2 + [0, 1, 1, 1] + [1] * 3)
    r = hosmer_lemeshow(y, p, groups=4, grouping="stata")
    # cuts: (0.1+0.1)/2=0.1, (0.3+0.3)/2=0.3, (0.6+0.6)/2=0.6 -> groups {0.1},{0.3},{0.6},{0.8}
    assert r.table.n.tolist() == [7, 6, 4, 3]
    assert r.df == 2
    o, e, n = r.table.observed.to_numpy(), r.table.expected.to_numpy(), r.table.n.to_numpy()
    hand = np.sum((o - e) ** 2 / (e * (1 - e / n)))
    assert r.statistic == pytest.approx(hand)
    assert r.p_value == pytest.approx(stats.chi2.sf(hand, 2))
    # hoslem.test on the same data: breaks unique(quantile) = 0.1, 0.3, 0.6, 0.8 -> 3 intervals, df stays g-2
    q = hosmer_lemeshow(y, p, groups=4)
    assert q.df == 2 and len(q.table) == 3
    assert q.statistic == pytest.approx(r_hoslem(y, p, 4)[0])


def test_hosmer_lemeshow_stata_equals_quantile_without_ties():
    y, p = simulated(7, n=200)
    a, b = hosmer_lemeshow(y, p), hosmer_lemeshow(y, p, grouping="stata")
    assert a.table.n.tolist() == b.table.n.tolist() == [20] * 10
    assert a.statistic == pytest.approx(b.statistic)


def test_hosmer_lemeshow_bad_inputs():
    with pytest.raises(StatsInputError, match="probabilities"):
        hosmer_lemeshow([0, 1, 1], [0.2, 1.4, 0.5])
    with pytest.raises(StatsInputError, match="grouping"):
        hosmer_lemeshow([0, 1, 1], [0.2, 0.4, 0.5], grouping="sas")
    with pytest.raises(StatsInputError, match="at least 3"):
        hosmer_lemeshow([0, 1, 1, 0], [0.2, 0.2, 0.2, 0.2], grouping="stata")


def test_calibration_against_statsmodels_and_sklearn():
    y, p = simulated(11, n=600)
    c = calibration(y, p)
    lp = np.log(p / (1 - p))
    fit = sm.Logit(y, sm.add_constant(lp)).fit(disp=0)
    assert c.slope == pytest.approx(fit.params[1], rel=1e-6)
    assert c.intercept_joint == pytest.approx(fit.params[0], rel=1e-6)
    off = sm.GLM(y, np.ones(y.size), family=sm.families.Binomial(), offset=lp).fit()
    assert c.intercept == pytest.approx(off.params[0], rel=1e-6)
    assert c.brier == pytest.approx(brier_score_loss(y, p))
    assert c.slope_ci[0] < c.slope < c.slope_ci[1]
    assert len(c.curve) == 10 and c.curve.n.sum() == y.size
    assert np.all(np.diff(c.curve.predicted) > 0)
    assert c.smooth.predicted.is_monotonic_increasing


def test_calibration_of_true_probabilities_is_ideal():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 20000)
    y = (rng.random(p.size) < p).astype(int)
    c = calibration(y, p)
    assert c.slope == pytest.approx(1, abs=0.06)
    assert c.intercept == pytest.approx(0, abs=0.05)
    # over-confident predictions: slope < 1
    lp = np.log(p / (1 - p)) * 2
    assert calibration(y, 1 / (1 + np.exp(-lp))).slope == pytest.approx(0.5, abs=0.05)


def test_decision_curve_hand_computed():
    # 10 patients, 4 events. At pt=0.2 the model treats p >= 0.2.
    y = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.7, 0.5, 0.4, 0.15, 0.3, 0.1, 0.05, 0.25, 0.02])
    d = decision_curve(y, p, [0.1, 0.2, 0.5])
    # pt=0.1: treated p>=0.1: idx 0,1,2,3,4,5,6,8 -> TP 4, FP 4; NB = 0.4 - 0.4*(1/9)
    # pt=0.2: treated 0,1,2,3,5,8 -> TP 3, FP 3; NB = 0.3 - 0.3*0.25 = 0.225
    # pt=0.5: treated 0,1,2 -> TP 3, FP 0; NB = 0.3
    assert d.net_benefit.tolist() == pytest.approx([0.4 - 0.4 / 9, 0.225, 0.3])
    assert d.net_benefit_all.tolist() == pytest.approx([0.4 - 0.6 / 9, 0.4 - 0.6 * 0.25, 0.4 - 0.6])
    assert (d.net_benefit_none == 0).all()
    assert list(d.columns[:3]) == ["threshold", "net_benefit", "net_benefit_all"]


def test_decision_curve_default_grid_and_bad_threshold():
    y, p = simulated(1, n=100)
    d = decision_curve(y, p)
    assert len(d) == 99 and d.threshold.iloc[0] == 0.01
    with pytest.raises(StatsInputError, match=r"\[0, 1\)"):
        decision_curve(y, p, [0.5, 1.0])


def lowbwt():
    from pathlib import Path

    return pd.read_csv(Path(__file__).parent / "data" / "stats" / "lowbwt.csv", comment="#")


def test_hosmer_lemeshow_low_birth_weight_matches_stata_manual():
    """Stata: logistic low age lwt i.race smoke ptl ht ui; estat gof, group(10)
    -> Hosmer-Lemeshow chi2(8) = 9.65, Prob > chi2 = 0.290 (Stata Base Reference
    Manual, logistic postestimation; data of Hosmer & Lemeshow 2000)."""
    d = lowbwt()
    assert d.shape == (189, 10) and d.low.sum() == 59
    assert ((d.bwt < 2500) == (d.low == 1)).all()
    X = pd.get_dummies(d[["age", "lwt", "race", "smoke", "ptl", "ht", "ui"]], columns=["race"],
                       drop_first=True).astype(float)
    fit = sm.Logit(d.low, sm.add_constant(X)).fit(disp=0)
    # Hosmer & Lemeshow (2000) / Stata coefficients of this model
    assert fit.params["smoke"] == pytest.approx(0.923, abs=5e-4)
    assert fit.params["ht"] == pytest.approx(1.833, abs=1e-3)
    p = fit.predict()
    r = hosmer_lemeshow(d.low, p, groups=10, grouping="stata")
    assert round(r.statistic, 2) == 9.65 and r.df == 8
    assert r.p_value == pytest.approx(0.290, abs=1e-3)
    first, last = r.table.iloc[0], r.table.iloc[-1]
    assert (first.n, first.observed, round(first.expected, 1)) == (19, 0, 1.2)
    assert (last.n, last.observed, round(last.expected, 1), round(last.prob_high, 4)) == (18, 13, 12.8, 0.8392)
    # hoslem.test on the same fit groups the tie-free risks differently (type-7 quantiles)
    q = hosmer_lemeshow(d.low, p)
    assert q.statistic == pytest.approx(r_hoslem(d.low.to_numpy(), p)[0])
    assert q.statistic != pytest.approx(r.statistic, abs=0.1)


def test_wilson_bounds_always_contain_the_observed_rate():
    """A bin with no event (or all events) has ci_low == 0 (ci_high == 1) exactly,
    so the curve can be drawn as error bars (matplotlib refuses negative lengths)."""
    from radgui.stats.calibration import _wilson

    k = np.array([0.0, 0.0, 3.0, 7.0, 7.0])
    n = np.array([7.0, 13.0, 9.0, 7.0, 11.0])
    lo, hi = _wilson(k, n)
    assert np.all(lo <= k / n) and np.all(hi >= k / n)
    assert lo[0] == 0 and lo[1] == 0 and hi[3] == 1


@pytest.mark.parametrize("p_bad", [0.0, 1.0, 9e-65, 1 - 1e-12])
def test_degenerate_probabilities_are_refused_with_the_reason(p_bad):
    """Probabilities at 0/1 (separation, overfit trees) gave HL chi2 4.6e72 and intercepts of 5e7 (issue 12)."""
    rng = np.random.default_rng(0)
    y = (rng.random(80) < 0.4).astype(int)
    p = np.clip(rng.random(80), 0.05, 0.95)
    p[3] = p_bad
    for fn, what in ((hosmer_lemeshow, "the Hosmer-Lemeshow test"), (calibration, "calibration slope and intercept")):
        with pytest.raises(StatsInputError) as err:
            fn(y, p)
        assert str(err.value) == (f"{what} is not computed: 1 of 80 predicted probabilities are 0 or 1 (within "
                                  "1e-10), which happens with complete separation or an overfitted model; "
                                  "validate out-of-fold or held-out predictions instead")
    p[3] = 1e-6   # extreme but not degenerate: still computed
    assert np.isfinite(hosmer_lemeshow(y, p).statistic) and np.isfinite(calibration(y, p).slope)
