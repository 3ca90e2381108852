"""LASSO-Cox on scikit-survival's Coxnet path: recovery at p >> n, agreement with scikit-survival, CV rules,
the Breslow partial likelihood, HR per SD of the Radscore, and one-line errors when the solver fails."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radgui.errors import ModelFitError
from radgui.model.survival import LassoCox, _coxnet_path, breslow_loglik

TRUE = ["f0", "f1", "f2", "f3", "f4"]


def _wide(n=150, p=500, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"f{i}" for i in range(p)])
    lp = X[TRUE].to_numpy() @ np.array([1.0, -1.0, 0.8, -0.8, 0.6])
    t = rng.exponential(10 * np.exp(-lp))
    c = rng.exponential(15, n)
    return X, np.minimum(t, c), (t <= c).astype(int)


@pytest.fixture(scope="module")
def wide():
    X, time, event = _wide()
    model = LassoCox(folds=5, rule="min", n_lambdas=30, random_state=0).fit(X, time, event)
    return X, time, event, model


@pytest.mark.slow
def test_lasso_cox_p500_n150_recovers_truth_and_matches_scikit_survival(wide):
    from sksurv.linear_model import CoxnetSurvivalAnalysis
    from sksurv.util import Surv

    X, time, event, m = wide
    assert set(TRUE) <= set(m.selected_)                  # all five true features, with the right signs
    assert np.sign(m.coef_[TRUE]).tolist() == [1, -1, 1, -1, 1]
    assert len(m.selected_) < 60                          # and a sparse model, not half the features
    ref = CoxnetSurvivalAnalysis(l1_ratio=1.0, n_alphas=30).fit(X.to_numpy(), Surv.from_arrays(event > 0, time))
    np.testing.assert_allclose(m.lambdas_, ref.alphas_, rtol=1e-12)
    np.testing.assert_allclose(m.coef_path_, ref.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m.coef_.to_numpy(), ref.coef_[:, m.index_], rtol=1e-9, atol=1e-12)
    assert m.lambda_ == m.lambda_min_ == ref.alphas_[m.index_]


@pytest.mark.slow
def test_one_se_rule_is_the_largest_lambda_within_one_se(wide):
    X, time, event, m_min = wide
    m = LassoCox(folds=5, rule="1se", n_lambdas=30, random_state=0).fit(X, time, event)
    np.testing.assert_allclose(m.cv_mean_, m_min.cv_mean_)    # same folds, same curve
    best = int(np.argmin(m.cv_mean_))
    ok = m.cv_mean_ <= m.cv_mean_[best] + m.cv_se_[best]
    assert m.lambda_ == m.lambda_1se_ == m.lambdas_[np.flatnonzero(ok)[0]]
    assert m.lambda_1se_ >= m.lambda_min_ and len(m.selected_) <= len(m_min.selected_)
    assert set(TRUE) <= set(m.selected_)


def test_cv_deviance_is_verweij_van_houwelingen():
    """Fold k contributes -2 (l(b_-k) - l_-k(b_-k)) / d_k; recompute it by hand from sksurv fits."""
    from sklearn.model_selection import StratifiedKFold

    X, time, event = _wide(n=90, p=40, seed=3)
    m = LassoCox(folds=3, n_lambdas=10, random_state=1).fit(X, time, event)
    A = X.to_numpy()
    raw, w = [], []
    for tr, te in StratifiedKFold(3, shuffle=True, random_state=1).split(A, event):
        _, coef, ok = _coxnet_path(A[tr], time[tr], event[tr], alphas=m.lambdas_)
        assert ok
        d = event[te].sum()
        raw.append(-2 * (breslow_loglik(A @ coef, time, event) - breslow_loglik(A[tr] @ coef, time[tr], event[tr])) / d)
        w.append(d)
    np.testing.assert_allclose(m.cv_mean_, np.average(np.array(raw), axis=0, weights=w))


def test_cindex_score_and_path_stopped_where_the_solver_fails():
    """n > p: the unpenalised end of the path (min_ratio 1e-4) does not converge in some fold; the path stops
    there like glmnet's instead of failing, and the C-index picks lambda.min on what remains."""
    from lifelines.utils import concordance_index
    from sklearn.model_selection import StratifiedKFold

    X, time, event = _wide(n=120, p=60, seed=4)
    m = LassoCox(folds=4, n_lambdas=12, score="cindex", rule="min", random_state=0).fit(X, time, event)
    assert m.path_stopped_ and m.lambdas_.size < 12 and m.summary()["path_stopped_where_solver_failed"]
    assert (m.coef_path_[:, 0] == 0).all()                 # lambda_max: every coefficient zero
    assert m.lambda_ == m.lambdas_[int(np.argmax(m.cv_mean_))] and m.cv_mean_.max() > 0.7
    A = X.to_numpy()
    per_fold = []
    for tr, te in StratifiedKFold(4, shuffle=True, random_state=0).split(A, event):
        _, coef, _ = _coxnet_path(A[tr], time[tr], event[tr], alphas=m.lambdas_)
        per_fold.append(concordance_index(time[te], -(A[te] @ coef[:, m.index_]), event[te]))
    assert m.cv_mean_[m.index_] == pytest.approx(np.mean(per_fold))


def test_breslow_loglik_equals_lifelines_without_ties_and_hand_value_with_ties():
    from lifelines import CoxPHFitter

    X, time, event = _wide(n=80, p=5, seed=5)
    frame = X.assign(T=time, E=event)
    fit = CoxPHFitter().fit(frame, "T", "E")
    eta = X.to_numpy() @ fit.params_.to_numpy()
    assert breslow_loglik(eta, time, event) == pytest.approx(fit.log_likelihood_, rel=1e-9)
    # ties: times 1, 1, 2 all events, eta 0, log 2, 0: Breslow risk set of both t=1 is everyone
    ll = breslow_loglik(np.array([0.0, np.log(2), 0.0]), np.array([1.0, 1.0, 2.0]), np.array([1, 1, 1]))
    assert ll == pytest.approx((0 - np.log(4)) + (np.log(2) - np.log(4)) + (0 - 0))


def test_non_convergence_is_one_line_error():
    X, time, event = _wide(n=80, p=200, seed=6)
    with pytest.raises(ModelFitError) as info:
        LassoCox(folds=3, n_lambdas=20, min_ratio=1e-4, max_iter=2, random_state=0).fit(X, time, event)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("LASSO-Cox did not converge within 2 iterations")
    assert "raise steps.lasso.min_ratio" in msg


def test_hr_per_sd_of_radscore_equals_cox_on_standardised_radscore():
    from lifelines import CoxPHFitter

    from radgui.model.train_survival import final_terms
    from radgui.stats import cox

    rng = np.random.default_rng(7)
    rs = 0.02 * rng.normal(size=200)                      # a Radscore on a tiny scale: per-unit HR is huge
    t = rng.exponential(10 * np.exp(-rs / 0.02))
    frame = pd.DataFrame({"time": t, "event": np.ones(200, int), "radscore": rs})
    term = final_terms(cox(frame, "time", "event", ["radscore"]), rs)["radscore"]
    sd = rs.std(ddof=1)
    z = CoxPHFitter().fit(frame.assign(radscore=rs / sd), "time", "event")
    assert term["radscore_sd"] == pytest.approx(sd)
    assert term["hr_per_sd"] == pytest.approx(float(np.exp(z.params_["radscore"])), rel=1e-4)
    lo, hi = np.exp(z.confidence_intervals_.loc["radscore"].to_numpy())
    assert term["hr_per_sd_ci_low"] == pytest.approx(lo, rel=1e-3)
    assert term["hr_per_sd_ci_high"] == pytest.approx(hi, rel=1e-3)
    assert term["hr"] > 1e10 and term["hr_scale"] == "per 1 Radscore unit"   # the unscaled number, labelled
    assert 2 < term["hr_per_sd"] < 4


class _FixedRadscore:
    """A 'pipeline' whose Radscore is the first column (CoxCombined clones it): the screening is what is tested."""

    def fit(self, X, y):
        return self

    def decision_function(self, X):
        return X.iloc[:, 0].to_numpy(float)


def test_a_clinical_variable_the_cox_screen_cannot_fit_is_reported_not_silently_p1():
    from radgui.model.train_survival import CoxCombined

    rng = np.random.default_rng(3)
    n = 80
    X = pd.DataFrame({"f0": rng.normal(size=n), "age": rng.normal(60, 8, n), "constant": np.full(n, 2.0)})
    time = rng.exponential(np.exp(-X["f0"]) * 10)
    y = np.column_stack([time, rng.random(n) < 0.7])
    est = CoxCombined(radiomics=_Clonable(), radiomics_columns=("f0",),
                      variables={"age": {"type": "continuous"}, "constant": {"type": "continuous"}},
                      screen_p=1.0, horizon=5.0)
    est.fit(X, y)
    assert np.isnan(est.screening_["constant"]) and "constant" not in est.selected_
    assert set(est.screening_failures_) == {"constant"} and est.screening_failures_["constant"]
    assert 0 <= est.screening_["age"] <= 1 and "age" in est.selected_   # screen_p 1: every fitted variable kept


class _Clonable(_FixedRadscore):
    def get_params(self, deep=True):
        return {}
