"""Selection steps and learners: glmnet-equivalent LASSO, ComBat vs neuroCombat, leakage and recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from radgui.errors import ClinicalValueError, ConfigError
from radgui.model import steps as st
from radgui.model.learners import build_pipeline
from radgui.model.validation import holdout_split, repeated_cv


# --------------------------------------------------------------------------- LASSO = glmnet
def _std_data(n=120, p=15, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 20, p) + rng.normal(0, 5, p)
    y = (rng.random(n) < expit(0.3 + 0.1 * X[:, 0] - 0.05 * X[:, 1])).astype(int)
    return X, y


def test_zscore_uses_population_sd():
    X, _ = _std_data()
    z = st.ZScore().fit(pd.DataFrame(X))
    np.testing.assert_allclose(z.scale_, X.std(axis=0, ddof=0))
    out = z.transform(pd.DataFrame(X)).to_numpy()
    np.testing.assert_allclose(out.std(axis=0, ddof=0), 1.0)


@pytest.mark.parametrize("frac", [0.5, 0.2, 0.05])
def test_lasso_matches_glmnet_objective(frac):
    """glmnet minimises -loglik/n + lambda*||b||_1 on population-SD standardised X.

    statsmodels' ``Logit.fit_regularized`` minimises -loglik + sum(alpha_j |b_j|),
    so alpha = n * lambda (0 for the intercept) is the same problem; it is an
    independent solver (SLSQP) of the same objective.
    """
    X, y = _std_data()
    n = len(y)
    Z = (X - X.mean(0)) / X.std(0, ddof=0)
    lam = frac * st.lambda_path(Z, y, 2)[0]
    alpha = np.r_[0.0, np.full(Z.shape[1], n * lam)]
    ref = sm.Logit(y, sm.add_constant(Z)).fit_regularized(alpha=alpha, disp=0, acc=1e-12, maxiter=10000).params
    exact = st.lasso_logistic(Z, y, lam, exact=True)
    np.testing.assert_allclose(exact.intercept_[0], ref[0], atol=2e-4)
    np.testing.assert_allclose(exact.coef_[0], ref[1:], atol=2e-4)
    assert set(np.flatnonzero(exact.coef_[0])) == set(np.flatnonzero(np.abs(ref[1:]) > 1e-6))
    fast = st.lasso_logistic(Z, y, lam)  # liblinear, intercept penalised by lambda/1000
    np.testing.assert_allclose(fast.coef_[0], ref[1:], atol=5e-3)


def test_lambda_max_is_glmnet_first_lambda():
    """glmnet's first lambda is the smallest one with every coefficient zero."""
    X, y = _std_data()
    Z = (X - X.mean(0)) / X.std(0, ddof=0)
    lam_max = st.lambda_path(Z, y, 2)[0]
    assert np.all(st.lasso_logistic(Z, y, lam_max * 1.01, exact=True).coef_ == 0)
    assert np.any(st.lasso_logistic(Z, y, lam_max * 0.95, exact=True).coef_ != 0)
    path = st.lambda_path(Z, y, 100)
    assert path[-1] / path[0] == pytest.approx(1e-4)  # n > p: lambda.min.ratio = 1e-4


def test_lasso_cv_rules():
    X, y = _std_data(n=150, p=30, seed=3)
    m = st.LassoLogisticCV(folds=5, n_lambdas=30, random_state=0).fit(pd.DataFrame(st.ZScore().fit_transform(X)), y)
    assert m.lambda_1se_ >= m.lambda_min_
    i_min = int(np.argmin(m.cv_mean_))
    assert m.lambda_min_ == m.lambdas_[i_min]
    ok = m.cv_mean_ <= m.cv_mean_[i_min] + m.cv_se_[i_min]
    assert m.lambda_1se_ == m.lambdas_[np.flatnonzero(ok)[0]]
    assert "x0" in m.selected_


# --------------------------------------------------------------------------- ComBat = neuroCombat
def _combat_data():
    rng = np.random.default_rng(2024)
    n_per, p = 20, 6
    batch = np.repeat(["A", "B", "C"], n_per)
    age = rng.uniform(40, 80, 3 * n_per)
    shift = {"A": 0.0, "B": 2.0, "C": -1.5}
    scale = {"A": 1.0, "B": 2.5, "C": 0.6}
    base = rng.normal(size=(3 * n_per, p)) + 0.05 * age[:, None]
    X = np.array([base[i] * scale[b] + shift[b] * np.arange(1, p + 1) / p for i, b in enumerate(batch)])
    index = pd.MultiIndex.from_arrays([np.arange(3 * n_per), batch, age], names=["patient_id", "batch", "cov:age"])
    return pd.DataFrame(X, index=index, columns=[f"f{j}" for j in range(p)])


# neuroCombat 0.2.12 (Fortin), run on _combat_data() with continuous_cols=["age"]: rows 0, 20, 40.
NEUROCOMBAT = {
    (True, False): [[5.3647981099, 4.0367504932, 3.4420594035, 3.275927637, 3.1936352334, 3.1976648332],
                    [-0.0946753268, -0.7206454377, 1.3490658815, 3.4656909513, 2.0557033269, 3.9524188593],
                    [3.566759094, 2.2416444176, 5.3922992084, 5.5182951952, 3.3256084242, 5.5756317365]],
    (True, True): [[5.3637167799, 4.2262912487, 3.7123201322, 3.8380943348, 3.8358182023, 4.1147979975],
                   [-2.870947468, -2.9720386751, 0.6323576408, 3.6652854879, 1.6050966904, 4.2083779617],
                   [4.6069278073, 2.8550030585, 4.1796993301, 4.5132586534, 2.8815303682, 4.4200983869]],
    (False, False): [[5.5954056645, 4.1175764108, 3.3183367713, 3.414427438, 3.1949533162, 2.75430934],
                     [-0.7263727489, -0.782153917, 1.6803305796, 3.43882628, 2.0993584206, 3.9057058803],
                     [5.3740428254, 2.7036259606, 5.5051825697, 5.1305672753, 3.4412364113, 5.1733653943]],
    (False, True): [[5.3406486508, 4.2069578917, 3.6925985641, 3.8268578117, 3.811268057, 4.0868871748],
                    [-2.9530648303, -3.1596291357, 0.6036072893, 3.5735824429, 1.5479174234, 4.0910287247],
                    [4.5776560422, 2.9724791881, 4.3853022104, 4.6371265537, 3.134800942, 4.5891514289]],
}


@pytest.mark.parametrize("parametric, mean_only", list(NEUROCOMBAT))
def test_combat_matches_neurocombat(parametric, mean_only):
    X = _combat_data()
    out = st.ComBat(parametric=parametric, mean_only=mean_only).fit_transform(X)
    np.testing.assert_allclose(out.to_numpy()[[0, 20, 40]], NEUROCOMBAT[(parametric, mean_only)], rtol=2e-3, atol=2e-3)


def test_combat_removes_known_batch_effects_and_applies_to_one_patient():
    X = _combat_data()
    cb = st.ComBat().fit(X)
    out = cb.transform(X)
    batch = X.index.get_level_values("batch")
    means = out.groupby(batch.to_numpy()).mean()
    sds = out.groupby(batch.to_numpy()).std()
    raw_sds = X.groupby(batch.to_numpy()).std()
    assert (means.max() - means.min()).max() < 0.6       # raw shift up to 3.5
    raw_ratio = raw_sds.max() / raw_sds.min()
    assert raw_ratio.min() > 2.5                             # scale effects 0.6 to 2.5
    assert ((sds.max() / sds.min()) < 0.75 * raw_ratio).all()
    # the stored estimates harmonise a single new patient exactly as transform does
    est = cb.to_dict(list(X.columns), "center")
    row = X.iloc[25]
    one = st.combat_apply_one(est, row.to_dict(), {"center": "B", "age": X.index[25][2]})
    np.testing.assert_allclose([one[c] for c in X.columns], out.iloc[25].to_numpy(), rtol=1e-12)
    with pytest.raises(ClinicalValueError, match="'Z' is not one of the training centers"):
        st.combat_apply_one(est, row.to_dict(), {"center": "Z", "age": 50})


def test_combat_needs_center():
    with pytest.raises(ConfigError, match="needs the center"):
        st.ComBat().fit(pd.DataFrame(np.ones((4, 2))))


# --------------------------------------------------------------------------- filters
def test_correlation_filter_keeps_more_associated():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 50)
    a = y + rng.normal(0, 0.5, 100)
    b = a + rng.normal(0, 0.05, 100)         # near copy of a, slightly less associated
    c = rng.normal(size=100)
    X = pd.DataFrame({"a": a, "b": b, "c": c})
    assoc = {k: abs(roc_auc_score(y, X[k]) - 0.5) for k in "ab"}
    keep = st.CorrelationFilter(0.9).fit(X, y).selected_
    assert "c" in keep and len(keep) == 2
    assert max(assoc, key=assoc.get) in keep


def test_nzv_icc_univariate_mrmr():
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], 40)
    X = pd.DataFrame({"const": np.ones(80), "rare": np.r_[np.zeros(78), 1, 2], "good": y * 2 + rng.normal(size=80),
                      "noise": rng.normal(size=80), "dup": y * 2 + rng.normal(size=80) * 0.1})
    assert st.NearZeroVariance().fit(X).selected_ == ["good", "noise", "dup"]
    assert st.ICCFilter({"good": 0.9, "noise": 0.5}, 0.75).fit(X).selected_ == ["good"]
    with pytest.raises(ConfigError, match="no feature has ICC"):
        st.ICCFilter({"other": 0.9}).fit(X)
    uni = st.UnivariateFilter("ttest", 0.01).fit(X.drop(columns=["const", "rare"]), y)
    assert set(uni.selected_) == {"good", "dup"}
    assert st.UnivariateFilter("kruskal", 0.01).fit(X[["good", "noise"]], y).selected_ == ["good"]
    m = st.MRMR(k=2).fit(X[["good", "noise", "dup"]], y)
    assert m.order_[0] == "dup"           # most relevant first
    assert "noise" not in m.order_ or len(m.order_) == 2


def test_stability_and_rfe_find_signal():
    rng = np.random.default_rng(4)
    n = 120
    X = pd.DataFrame(rng.normal(size=(n, 20)), columns=[f"f{i}" for i in range(20)])
    y = (rng.random(n) < expit(2 * X["f3"] - 2 * X["f7"])).astype(int)
    stab = st.StabilitySelection(n_bootstrap=20, top_k=2, random_state=0).fit(X, y)
    assert set(stab.selected_) == {"f3", "f7"}
    assert set(st.RFESelector(2).fit(X, y).selected_) == {"f3", "f7"}


# --------------------------------------------------------------------------- leakage and recovery
@pytest.mark.slow
def test_no_leakage_in_nested_cv_but_leakage_when_selecting_first():
    rng = np.random.default_rng(11)
    X = pd.DataFrame(rng.normal(size=(80, 500)), columns=[f"f{i}" for i in range(500)])
    y = rng.permutation(np.repeat([0, 1], 40))
    # selection inside CV: keep the 10 best t-test features of each training fold
    pipe = build_pipeline({"zscore": {}, "univariate": {"test": "ttest", "alpha": 0.0, "min_features": 10}},
                          {"name": "logistic"})
    honest = repeated_cv(pipe, X, y, repeats=5, folds=5, seed=0)
    # the classic mistake: select the 10 best features on all patients, then cross-validate
    sel = st.UnivariateFilter("ttest", alpha=0.0, min_features=10).fit(X, y).selected_
    leaky = repeated_cv(LogisticRegression(C=np.inf, max_iter=5000), X[sel], y, repeats=5, folds=5, seed=0)
    assert abs(honest.auc - 0.5) < 0.1, honest.summary()
    assert abs(np.mean(honest.repeat_auc) - 0.5) < 0.1
    assert leaky.auc > 0.75, leaky.summary()


def _recovery_cohort(n=300, p=300, seed=5):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)) * 3 + 10, columns=[f"original_glcm_F{i}" for i in range(p)])
    truth = ["original_glcm_F3", "original_glcm_F50", "original_glcm_F200"]
    age = rng.uniform(35, 85, n)
    z = (X[truth] - 10) / 3
    lp = -0.3 + 1.5 * z.iloc[:, 0] - 1.3 * z.iloc[:, 1] + 1.2 * z.iloc[:, 2] + 0.04 * (age - 60)
    y = (rng.random(n) < expit(lp)).astype(int)
    return X, y, truth, pd.DataFrame({"age": age, "sex": rng.choice(["F", "M"], n)}, index=X.index)


@pytest.mark.slow
def test_recovery_lasso_selects_truth_and_combined_auc():
    from radgui.model.clinical import CombinedModel

    X, y, truth, clin = _recovery_cohort()
    tr, te = holdout_split(y, 0.3, seed=1)
    pipe = build_pipeline({"zscore": {}, "lasso": {"folds": 5, "n_lambdas": 30, "rule": "1se"}},
                          {"name": "lasso"}, seed=0)
    pipe.fit(X.iloc[tr], y[tr])
    chosen = set(pipe[-1].selected_)
    assert set(truth) <= chosen, sorted(chosen)
    assert len(chosen) <= 15
    both = pd.concat([X, clin], axis=1)
    combined = CombinedModel(pipe, list(X.columns), {"age": {"type": "continuous"},
                                                     "sex": {"type": "categorical", "categories": ["F", "M"]}},
                             screen_p=0.1).fit(both.iloc[tr], y[tr])
    auc = roc_auc_score(y[te], combined.predict_proba(both.iloc[te])[:, 1])
    assert auc > 0.8
    assert combined.clinical_.selected_[0] == "radscore"


def test_pipeline_rejects_unknown_step_and_learner():
    with pytest.raises(ConfigError, match="unknown step"):
        build_pipeline({"lassoo": {}})
    with pytest.raises(ConfigError, match="unknown learner 'svmm'"):
        build_pipeline({"zscore": {}}, {"name": "svmm"})


@pytest.mark.slow
def test_strong_rule_path_equals_unscreened_path():
    """glmnet's strong rule + KKT check must not change the LASSO path."""
    rng = np.random.default_rng(1)
    n, p = 60, 300
    Z = rng.normal(size=(n, p))
    Z = (Z - Z.mean(0)) / Z.std(0)
    y = (rng.random(n) < expit(1.5 * Z[:, 0] - 1.2 * Z[:, 1] + Z[:, 2])).astype(int)
    lams = st.lambda_path(Z, y, 30)
    fits = st.LassoLogisticCV._path(Z, y, lams)
    assert len(fits) > 10
    for fit, lam in zip(fits, lams):
        ref = st.lasso_logistic(Z, y, lam)   # all 300 features in the solver
        # equal to solver tolerance; a feature wrongly screened out would differ by its whole coefficient
        np.testing.assert_allclose(fit.coef_, ref.coef_, atol=2e-2)
        big = np.abs(ref.coef_) > 2e-2
        assert np.all(fit.coef_[big] != 0)
