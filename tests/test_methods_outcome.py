"""Issue 13 item 6: Cox tables, K-M landmarks, time-dependent ROC, Radscore by outcome and its paired change,
each against lifelines / scikit-survival / scipy on the same data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats

from radgui.errors import StatsInputError
from radgui.stats import (compare_by_outcome, cox_table, km_summary, landmark_rates, paired_change, kaplan_meier,
                          time_dependent_auc, time_dependent_roc)


def _surv(n=120, seed=0):
    rng = np.random.default_rng(seed)
    radscore = rng.normal(size=n)
    age = rng.normal(60, 8, n)
    stage = rng.integers(0, 2, n)
    T = rng.exponential(14 * np.exp(-0.7 * radscore - 0.4 * stage))
    C = rng.uniform(4, 30, n)
    time = np.round(np.minimum(T, C), 1)
    event = (T <= C).astype(int)
    response = (rng.random(n) < 1 / (1 + np.exp(radscore))).astype(int)
    return pd.DataFrame({"time": time, "event": event, "radscore": radscore, "age": age, "stage": stage,
                         "response": response})


# --------------------------------------------------------------------------- K-M landmarks = lifelines
def test_landmark_rates_equal_lifelines_kaplan_meier():
    from lifelines import KaplanMeierFitter

    d = _surv()
    for g in (0, 1):
        sub = d[d.response == g]
        km = kaplan_meier(sub.time, sub.event)
        mine = landmark_rates(km, [6, 12])
        ref = KaplanMeierFitter().fit(sub.time, sub.event)
        np.testing.assert_allclose(mine["survival"], ref.survival_function_at_times([6, 12]).to_numpy(), atol=1e-12)
        ci = ref.confidence_interval_survival_function_
        idx = [ci.index[ci.index <= t].max() for t in (6, 12)]
        np.testing.assert_allclose(mine["ci_low"], ci.iloc[:, 0].loc[idx].to_numpy(), atol=1e-9)
        np.testing.assert_allclose(mine["ci_high"], ci.iloc[:, 1].loc[idx].to_numpy(), atol=1e-9)


def test_km_summary_by_observed_and_predicted_group():
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test

    d = _surv()
    s = km_summary(d.time, d.event, np.where(d.response == 1, "responders", "non-responders"), landmarks=(6, 12))
    assert list(s.table.index) == ["non-responders", "responders"]
    r = d[d.response == 1]
    ref = KaplanMeierFitter().fit(r.time, r.event)
    assert s.table.loc["responders", "S(12)"] == pytest.approx(float(ref.survival_function_at_times(12).iloc[0]))
    assert s.table.loc["responders", "n"] == len(r) and s.table.loc["responders", "events"] == r.event.sum()
    med = ref.median_survival_time_
    assert (np.isinf(med) and np.isnan(s.table.loc["responders", "median"])) or \
        s.table.loc["responders", "median"] == pytest.approx(med)
    lr = logrank_test(r.time, d[d.response == 0].time, r.event, d[d.response == 0].event)
    assert s.logrank.p_value == pytest.approx(lr.p_value, rel=1e-9)
    high = np.where(d.radscore > np.median(d.radscore), "High risk", "Low risk")
    p = km_summary(d.time, d.event, high)
    assert p.table.loc["High risk", "S(6)"] < p.table.loc["Low risk", "S(6)"]
    late = landmark_rates(kaplan_meier(d.time, d.event), [1000])
    assert late["survival"].isna().all()  # past the last follow-up: not estimable


# --------------------------------------------------------------------------- Cox table = lifelines
def test_cox_table_equals_lifelines_coxphfitter():
    from lifelines import CoxPHFitter

    d = _surv()
    tab = cox_table(d, "time", "event", ["radscore", "age", "stage"])
    for v in ("radscore", "age", "stage"):
        ref = CoxPHFitter().fit(d[["time", "event", v]], "time", "event").summary.loc[v]
        assert tab.loc[v, "uni_hr"] == pytest.approx(ref["exp(coef)"], rel=1e-6)
        assert tab.loc[v, "uni_ci_low"] == pytest.approx(ref["exp(coef) lower 95%"], rel=1e-6)
        assert tab.loc[v, "uni_ci_high"] == pytest.approx(ref["exp(coef) upper 95%"], rel=1e-6)
        assert tab.loc[v, "uni_p"] == pytest.approx(ref["p"], rel=1e-5)
    ref = CoxPHFitter().fit(d[["time", "event", "radscore", "age", "stage"]], "time", "event").summary
    np.testing.assert_allclose(tab["multi_hr"], ref.loc[tab.index, "exp(coef)"], rtol=1e-6)
    np.testing.assert_allclose(tab["multi_ci_low"], ref.loc[tab.index, "exp(coef) lower 95%"], rtol=1e-6)
    np.testing.assert_allclose(tab["multi_p"], ref.loc[tab.index, "p"], rtol=1e-5)
    screened = cox_table(d, "time", "event", ["radscore", "age", "stage"], multivariable="screened", screen_p=0.05)
    kept = [v for v in tab.index if tab.loc[v, "uni_p"] < 0.05]
    assert screened["multi_hr"].notna().tolist() == [v in kept for v in tab.index]
    with pytest.raises(StatsInputError, match=r"column\(s\) \['nope'\] are not in the table"):
        cox_table(d, "time", "event", ["nope"])


# --------------------------------------------------------------------------- time-dependent ROC = sksurv
def test_time_dependent_auc_equals_sksurv_cumulative_dynamic_auc():
    from sksurv.metrics import cumulative_dynamic_auc
    from sksurv.util import Surv

    d = _surv(n=150, seed=3)
    train, test = d.iloc[:90], d.iloc[90:]
    risk = np.round(test.radscore.to_numpy(), 1)  # with ties
    times = [4, 8, 12]
    ytr = Surv.from_arrays(train.event.astype(bool), train.time)
    yte = Surv.from_arrays(test.event.astype(bool), test.time)
    ref = cumulative_dynamic_auc(ytr, yte, risk, times)[0]
    mine = time_dependent_auc(train.time, train.event, test.time, test.event, risk, times)
    np.testing.assert_allclose(mine, ref, atol=1e-12)
    for k, t in enumerate(times):
        fpr, tpr, auc = time_dependent_roc(train.time, train.event, test.time, test.event, risk, t)
        assert auc == pytest.approx(ref[k], abs=1e-12)
        assert fpr[0] == tpr[0] == 0 and fpr[-1] == pytest.approx(1) and tpr[-1] == pytest.approx(1)
    with pytest.raises(StatsInputError, match="must lie within the follow-up"):
        time_dependent_auc(train.time, train.event, test.time, test.event, risk, [1e6])


# --------------------------------------------------------------------------- Radscore by outcome, paired change
def test_compare_by_outcome_equals_scipy():
    d = _surv()
    c = compare_by_outcome(d.radscore, d.response)
    ref = stats.mannwhitneyu(d.radscore[d.response == 0], d.radscore[d.response == 1], alternative="two-sided")
    assert (c.statistic, c.p_value) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue))
    t = compare_by_outcome(d.radscore, d.response, test="ttest")
    assert t.p_value == pytest.approx(stats.ttest_ind(d.radscore[d.response == 0], d.radscore[d.response == 1],
                                                      equal_var=False).pvalue)


def test_paired_wilcoxon_equals_scipy_and_pairs_by_patient():
    rng = np.random.default_rng(2)
    ids = [f"p{i}" for i in range(25)]
    before = pd.Series(rng.normal(size=25), index=ids)
    after = pd.Series(before.to_numpy() - 0.4 + rng.normal(0, 0.5, 25), index=ids)
    res = paired_change(before, after.iloc[::-1])  # order does not matter: paired by patient
    ref = stats.wilcoxon(after, before)
    assert (res.statistic, res.p_value) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue))
    assert res.n_pairs == 25 and res.median_change == pytest.approx(float(np.median(after - before)))
    part = paired_change(before, after.drop(["p0", "p1"]))
    assert part.n_pairs == 23
    assert part.p_value == pytest.approx(stats.wilcoxon(after.drop(["p0", "p1"]), before.drop(["p0", "p1"])).pvalue)
    with pytest.raises(StatsInputError, match="every change is zero"):
        paired_change(before, before)
    with pytest.raises(StatsInputError, match="a patient appears twice"):
        paired_change(pd.Series([1.0, 2.0], index=["a", "a"]), pd.Series([1.0, 3.0], index=["a", "b"]))


# --------------------------------------------------------------------------- figures draw into the given Axes
def test_study_figures_draw_into_given_axes():
    from radgui.plots.study_figures import (CoxForestDisplay, KMLandmarkDisplay, PairedChangeDisplay,
                                            ScoreByOutcomeDisplay, TimeDependentRocDisplay)

    d = _surv()
    fig = Figure(figsize=(10, 8))
    axes = fig.subplots(2, 3).ravel()
    box = ScoreByOutcomeDisplay(d.radscore, d.response, {0: "No response", 1: "Response"}).plot(ax=axes[0])
    assert box.ax_ is axes[0] and box.comparison_.p_value < 0.05 and "p" in axes[0].get_title()
    vio = ScoreByOutcomeDisplay(d.radscore, d.response, kind="violin").plot(ax=axes[1])
    assert vio.ax_ is axes[1]
    roc = TimeDependentRocDisplay.from_survival(d.time, d.event, d.time, d.event, d.radscore, [6, 12], "months",
                                                ax=axes[2])
    assert set(roc.lines_) == {6.0, 12.0}
    ch = paired_change(d.radscore, d.radscore + 0.3 + np.random.default_rng(0).normal(0, 0.2, len(d)))
    assert PairedChangeDisplay(ch).plot(ax=axes[3]).ax_ is axes[3]
    km = KMLandmarkDisplay(km_summary(d.time, d.event, d.response), "Time (months)").plot(ax=axes[4])
    assert "median" in km.text_.get_text() and "12:" in km.text_.get_text()
    forest = CoxForestDisplay(cox_table(d, "time", "event", ["radscore", "age"])).plot(ax=axes[5])
    assert forest.ax_ is axes[5] and axes[5].get_xscale() == "log"
