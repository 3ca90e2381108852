"""Kaplan-Meier, log-rank, Cox and Harrell's C.

Published reference values: R survival's ``lung`` data (NCCTG advanced lung
cancer, Loprinzi et al. J Clin Oncol 1994;12:601-607), which lifelines ships as
``load_lung`` (status recoded 1 = death, 0 = censored). The R outputs below
are what R 4.x / survival 3.x prints (as reproduced in Therneau's vignettes
and, e.g., Zabor EC, "Survival analysis in R" tutorial, 2018):

    survfit(Surv(time, status) ~ 1, data = lung)
        n events median 0.95LCL 0.95UCL
      228    165    310     285     363
    survfit(Surv(time, status) ~ sex, data = lung)
      sex=1 138 112 270 212 310 ;  sex=2 90 53 426 348 550
    summary(survfit(Surv(time, status) ~ 1, data = lung), times = 365.25)
      survival 0.409, std.err 0.0358, lower 95% CI 0.345, upper 0.486
    survdiff(Surv(time, status) ~ sex, data = lung)
      Chisq = 10.3 on 1 degrees of freedom, p = 0.001
    coxph(Surv(time, status) ~ sex, data = lung)
      coef -0.531 exp(coef) 0.588 se 0.167 p 0.00149; 95% CI 0.4237-0.816;
      Concordance = 0.579
    coxph(Surv(time, status) ~ age + sex, data = lung)
      age  coef 0.017045 exp 1.017191 se 0.009223 p 0.06459
      sex  coef -0.513219 exp 0.598566 se 0.167458 p 0.00218
      Concordance = 0.603
"""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_lung, load_rossi, load_waltons
from lifelines.statistics import logrank_test
from lifelines.utils import concordance_index as lifelines_c

from radgui.errors import StatsInputError
from radgui.stats import concordance_index, cox, kaplan_meier, logrank


@pytest.fixture(scope="module")
def lung():
    return load_lung()


def test_km_lung_matches_r_survfit(lung):
    km = kaplan_meier(lung.time, lung.status, ci="log")
    assert (km.n, km.n_events) == (228, 165)
    assert (km.median, km.median_ci_low, km.median_ci_high) == (310, 285, 363)
    assert km.survival_at(365.25) == pytest.approx(0.409, abs=5e-4)
    lo, hi = km.ci_at(365.25)
    assert (lo, hi) == (pytest.approx(0.345, abs=5e-4), pytest.approx(0.486, abs=5e-4))
    row = km.table[km.table.time <= 365.25].iloc[-1]
    assert row.std_err == pytest.approx(0.0358, abs=5e-5)


@pytest.mark.parametrize("sex, expected", [(1, (138, 112, 270, 212, 310)), (2, (90, 53, 426, 348, 550))])
def test_km_lung_by_sex_matches_r(lung, sex, expected):
    d = lung[lung.sex == sex]
    km = kaplan_meier(d.time, d.status, ci="log")
    assert (km.n, km.n_events, km.median, km.median_ci_low, km.median_ci_high) == expected


@pytest.mark.parametrize("loader", [load_lung, load_waltons, load_rossi])
def test_km_curve_and_loglog_ci_match_lifelines(loader):
    df = loader()
    t, e = {"load_lung": ("time", "status"), "load_waltons": ("T", "E"), "load_rossi": ("week", "arrest")}[
        loader.__name__
    ]
    km = kaplan_meier(df[t], df[e])  # default log-log = lifelines' exponential Greenwood
    ref = KaplanMeierFitter().fit(df[t], df[e])
    times = km.table.time.to_numpy()
    np.testing.assert_allclose(km.table.survival, ref.survival_function_at_times(times).to_numpy(), rtol=1e-10)
    ci = ref.confidence_interval_.loc[times]
    ok = (km.table.survival > 0) & (km.table.survival < 1)
    np.testing.assert_allclose(km.table.ci_low[ok], ci.iloc[:, 0].to_numpy()[ok], rtol=1e-8)
    np.testing.assert_allclose(km.table.ci_high[ok], ci.iloc[:, 1].to_numpy()[ok], rtol=1e-8)
    assert km.median == ref.median_survival_time_ or (np.isnan(km.median) and np.isinf(ref.median_survival_time_))


def test_km_median_midpoint_when_curve_is_exactly_half():
    # S drops to exactly 0.5 at t=2 and below at t=4: R reports (2+4)/2 = 3
    km = kaplan_meier([1, 2, 4, 5], [1, 1, 1, 1])
    assert km.median == 3.0
    never = kaplan_meier([1, 2, 3, 4], [1, 0, 0, 0])
    assert np.isnan(never.median)


def test_km_table_counts_and_at_risk():
    km = kaplan_meier([3, 1, 1, 2, 5, 5], [1, 1, 0, 0, 1, 0])
    tab = km.table
    assert tab.time.tolist() == [1, 2, 3, 5]
    assert tab.n_risk.tolist() == [6, 4, 3, 2]
    assert tab.n_event.tolist() == [1, 0, 1, 1]
    assert tab.n_censor.tolist() == [1, 1, 0, 1]
    assert km.survival_at(0.5) == 1.0
    assert km.survival_at([1, 2.5, 3]) == pytest.approx([5 / 6, 5 / 6, 5 / 6 * 2 / 3])
    assert km.n_at_risk(2) == 4 and km.n_at_risk([0, 6]).tolist() == [6, 0]


def test_logrank_lung_matches_r_survdiff(lung):
    r = logrank(lung.time, lung.status, lung.sex)
    assert r.df == 1
    assert r.statistic == pytest.approx(10.3267, abs=1e-3)
    assert r.p_value == pytest.approx(0.00131, abs=1e-5)
    two = logrank_test(lung.time[lung.sex == 1], lung.time[lung.sex == 2],
                       lung.status[lung.sex == 1], lung.status[lung.sex == 2])
    assert r.statistic == pytest.approx(two.test_statistic)


def test_logrank_k_groups(lung):
    d = lung.dropna(subset=["ph.ecog"])
    d = d[d["ph.ecog"] < 3]
    r = logrank(d.time, d.status, d["ph.ecog"])
    assert r.df == 2 and r.p_value < 0.001


def test_cox_lung_matches_r_coxph(lung):
    r = cox(lung, "time", "status", ["sex"])
    s = r["sex"]
    assert s.coef == pytest.approx(-0.5310, abs=1e-4)
    assert s.hr == pytest.approx(0.5880, abs=1e-4)
    assert s.se == pytest.approx(0.1672, abs=1e-4)
    assert s.p_value == pytest.approx(0.00149, abs=1e-5)
    assert (s.ci_low, s.ci_high) == (pytest.approx(0.4237, abs=1e-4), pytest.approx(0.8160, abs=1e-4))
    assert r.concordance == pytest.approx(0.579, abs=5e-4)
    r2 = cox(lung, "time", "status", ["age", "sex"])
    assert r2["age"].coef == pytest.approx(0.017045, abs=1e-5)
    assert r2["age"].se == pytest.approx(0.009223, abs=1e-5)
    assert r2["age"].p_value == pytest.approx(0.06459, abs=1e-4)
    assert r2["sex"].hr == pytest.approx(0.598566, abs=1e-5)
    assert r2["sex"].p_value == pytest.approx(0.00218, abs=1e-5)
    assert r2.concordance == pytest.approx(0.603, abs=5e-4)
    assert list(r2.summary.columns[:4]) == ["hr", "ci_low", "ci_high", "p_value"]


def test_cox_efron_ties_against_lifelines_on_rossi():
    rossi = load_rossi()
    r = cox(rossi, "week", "arrest")
    ref = CoxPHFitter().fit(rossi, "week", "arrest")
    np.testing.assert_allclose(r.summary.coef, ref.params_, rtol=1e-8)
    # R coxph(Surv(week, arrest) ~ ., data = rossi): fin coef -0.37942, se 0.19138
    assert r["fin"].coef == pytest.approx(-0.37942, abs=1e-4)
    assert r["fin"].se == pytest.approx(0.19138, abs=1e-4)


def test_cox_bad_inputs(lung):
    with pytest.raises(StatsInputError, match="missing values"):
        cox(lung, "time", "status", ["ph.ecog"])
    with pytest.raises(StatsInputError, match="not in the data"):
        cox(lung, "time", "status", ["tumour_size"])
    with pytest.raises(StatsInputError, match="not numeric"):
        cox(lung.assign(arm=np.where(lung.sex == 1, "a", "b")), "time", "status", ["arm"])


def test_concordance_index_against_lifelines_and_brute_force():
    rng = np.random.default_rng(4)
    n = 120
    t = np.round(rng.exponential(10, n))  # ties in time
    e = rng.integers(0, 2, n)
    risk = np.round(rng.normal(size=n), 1)  # ties in risk
    c = concordance_index(t, e, risk)
    assert c == pytest.approx(lifelines_c(t, -risk, e))
    num = den = 0.0
    for i in range(n):
        for j in range(n):
            if e[i] == 1 and (t[i] < t[j] or (t[i] == t[j] and e[j] == 0)):
                den += 1
                num += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    assert c == pytest.approx(num / den)


def test_concordance_perfect_and_reversed():
    t = np.arange(1, 11.0)
    e = np.ones(10)
    assert concordance_index(t, e, -t) == 1.0
    assert concordance_index(t, e, t) == 0.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: kaplan_meier([1, 2, -1], [1, 1, 1]), ">= 0"),
        (lambda: kaplan_meier([1, 2, 3], [1, 2, 1]), "0/1"),
        (lambda: kaplan_meier([1, 2, 3], [1, 1, 1], ci="plain"), "log-log"),
        (lambda: logrank([1, 2, 3], [1, 1, 1], [0, 0, 0]), "at least 2 groups"),
        (lambda: concordance_index([1, 2, 3], [0, 0, 0], [1, 2, 3]), "at least one event"),
        (lambda: kaplan_meier([1, np.nan], [1, 1]), "missing"),
    ],
)
def test_bad_survival_inputs(call, match):
    with pytest.raises(StatsInputError, match=match):
        call()


def test_cross_check_with_statsmodels(lung):
    """statsmodels is an implementation independent of lifelines."""
    from statsmodels.duration.hazard_regression import PHReg
    from statsmodels.duration.survfunc import SurvfuncRight, survdiff

    km = kaplan_meier(lung.time, lung.status)
    sf = SurvfuncRight(lung.time, lung.status)
    np.testing.assert_allclose(km.table.survival[km.table.n_event > 0], sf.surv_prob, rtol=1e-12)
    np.testing.assert_allclose(km.table.std_err[km.table.n_event > 0], sf.surv_prob_se, rtol=1e-10)

    d = lung.dropna(subset=["ph.ecog"])
    stat, p = survdiff(d.time, d.status, d["ph.ecog"])
    r = logrank(d.time, d.status, d["ph.ecog"])
    assert r.statistic == pytest.approx(stat, rel=1e-8) and r.p_value == pytest.approx(p, rel=1e-6)

    rossi = load_rossi()
    cov = [c for c in rossi.columns if c not in ("week", "arrest")]
    ph = PHReg(rossi.week, rossi[cov], status=rossi.arrest, ties="efron").fit()
    res = cox(rossi, "week", "arrest", cov)
    np.testing.assert_allclose(res.summary.coef.loc[cov], ph.params, rtol=1e-5)
    np.testing.assert_allclose(res.summary.se.loc[cov], ph.bse, rtol=1e-4)
