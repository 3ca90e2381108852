"""Issue 13 item 5: Relief, PCA, bootstrap LASSO stability, RFE with SVM/RF, fixed clinical model,
user step order, grid search; each against its library or a hand-computed case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from radgui.errors import ConfigError
from radgui.model import steps as st
from radgui.model.learners import GRIDS, build_pipeline, bundle_radscore, deployable, grid_size


def _cohort(n=120, p=12, seed=0, signal=("f2", "f5")):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"f{i}" for i in range(p)])
    lp = 2.5 * X[signal[0]] - 2.5 * X[signal[1]] if signal else 0 * X["f0"]
    y = (rng.random(n) < expit(lp)).astype(int)
    return X, y


# --------------------------------------------------------------------------- Relief = scikit-rebate
@pytest.mark.parametrize("method", ["relieff", "multisurf"])
def test_relief_scores_equal_skrebate(method):
    import skrebate

    X, y = _cohort(n=60, p=8, seed=1)
    step = st.ReliefSelector(method=method, k=3, n_neighbors=7).fit(X, y)
    ref = (skrebate.ReliefF(n_neighbors=7) if method == "relieff" else skrebate.MultiSURF()).fit(X.to_numpy(), y)
    np.testing.assert_allclose(step.scores_.to_numpy(), ref.feature_importances_, rtol=1e-12, atol=1e-12)
    top = list(X.columns[np.argsort(-ref.feature_importances_, kind="stable")[:3]])
    assert step.order_ == top
    assert set(step.selected_) == set(top) and {"f2", "f5"} <= set(top)
    assert list(step.transform(X).columns) == sorted(top, key=list(X.columns).index)


def test_relief_hand_computed_tiny_case():
    """ReliefF with 1 neighbour on 12 points, by hand: each point's nearest hit and miss by Manhattan
    distance on range-scaled features; weight_j = mean_i(|x_ij - miss_j| - |x_ij - hit_j|) / range_j."""
    rng = np.random.default_rng(3)
    n = 12
    X = pd.DataFrame({"a": np.r_[rng.uniform(0, 0.4, 6), rng.uniform(0.6, 1, 6)], "b": rng.uniform(0, 1, n),
                      "c": rng.normal(size=n)})
    y = np.r_[np.zeros(6, int), np.ones(6, int)]
    w = st.ReliefSelector(k=1, n_neighbors=1).fit(X, y)
    D = X.to_numpy()
    R = D.max(0) - D.min(0)
    ref = np.zeros(3)
    for i in range(n):
        dist = [np.inf if j == i else float(np.sum(np.abs(D[i] - D[j]) / R)) for j in range(n)]
        hit = min((d, j) for j, d in enumerate(dist) if y[j] == y[i])[1]
        miss = min((d, j) for j, d in enumerate(dist) if y[j] != y[i])[1]
        ref += (np.abs(D[i] - D[miss]) - np.abs(D[i] - D[hit])) / R
    np.testing.assert_allclose(w.scores_.to_numpy(), ref / n, atol=1e-12)
    assert w.selected_ == ["a"] and w.scores_["a"] > 0.5


# --------------------------------------------------------------------------- PCA
def test_pca_equals_sklearn_and_folds_back_to_the_features():
    from sklearn.decomposition import PCA

    X, y = _cohort(n=50, p=6)
    step = st.PCAStep(n_components=3).fit(X)
    ref = PCA(3, svd_solver="full").fit(X.to_numpy())
    out = step.transform(X)
    assert list(out.columns) == ["PC1", "PC2", "PC3"] and out.index.equals(X.index)
    np.testing.assert_allclose(np.abs(out.to_numpy()), np.abs(ref.transform(X.to_numpy())), atol=1e-10)
    a, coefs = step.fold_linear(0.5, {"PC1": 1.0, "PC3": -2.0})
    direct = 0.5 + out["PC1"] - 2 * out["PC3"]
    folded = a + X.to_numpy() @ np.array([coefs[c] for c in X.columns])
    np.testing.assert_allclose(folded, direct, atol=1e-10)
    frac = st.PCAStep(n_components=0.8).fit(X)
    k = len(frac.names_)
    assert frac.explained_variance_ratio_.sum() >= 0.8 > frac.explained_variance_ratio_[: k - 1].sum()


@pytest.mark.slow
def test_pca_inside_folds_leaks_nothing():
    """Noise features, PCA + LASSO refitted in every fold of nested CV: AUC ~0.5."""
    from radgui.model.validation import repeated_cv

    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(80, 60)), columns=[f"n{i}" for i in range(60)])
    y = rng.integers(0, 2, 80)
    pipe = build_pipeline({"zscore": {}, "pca": {"n_components": 10}, "lasso": {"folds": 3, "n_lambdas": 10}},
                          {"name": "lasso"}, seed=0)
    res = repeated_cv(pipe, X, y, repeats=2, folds=4, seed=0)
    auc = res.summary()["auc_of_mean_prediction"]
    assert 0.3 < auc < 0.68, auc


def test_pca_radscore_folds_through_zscore_for_the_bundle():
    X, y = _cohort(n=90, p=8)
    pipe = build_pipeline({"zscore": {}, "pca": {"n_components": 4}, "lasso": {"folds": 3, "n_lambdas": 15}},
                          {"name": "lasso"}, seed=0).fit(X, y)
    formula = bundle_radscore(pipe, pipe[-1].radscore_formula())
    assert set(formula["coefficients"]) == set(X.columns)
    z = pipe.named_steps["zscore"].transform(X)
    mine = formula["intercept"] + z.to_numpy() @ np.array([formula["coefficients"][c] for c in X.columns])
    np.testing.assert_allclose(mine, pipe.decision_function(X), atol=1e-9)


# --------------------------------------------------------------------------- bootstrap LASSO
def test_bootstrap_lasso_frequencies_equal_a_hand_loop():
    X, y = _cohort(n=60, p=10, seed=2)
    step = st.StabilitySelection(n_bootstrap=12, top_k=3, resample="bootstrap", folds=3, random_state=5).fit(X, y)
    lam = st.LassoLogisticCV(folds=3, rule="min", n_lambdas=30, random_state=5).fit(X, y).lambda_
    rng = np.random.default_rng(5)
    counts, done, data = np.zeros(10), 0, X.to_numpy()
    while done < 12:
        idx = rng.choice(60, 60, replace=True)
        if y[idx].min() == y[idx].max():
            continue
        counts += st.lasso_logistic(data[idx], y[idx], lam).coef_[0] != 0
        done += 1
    np.testing.assert_array_equal(step.frequency_.to_numpy(), counts / 12)
    assert {"f2", "f5"} <= set(step.selected_)


def test_selection_frequency_bar_plot():
    from matplotlib.figure import Figure

    from radgui.plots.study_figures import SelectionFrequencyDisplay

    X, y = _cohort(n=60, p=10, seed=2)
    step = st.StabilitySelection(n_bootstrap=8, top_k=2, resample="bootstrap", folds=3, random_state=0).fit(X, y)
    ax = Figure().add_subplot()
    d = SelectionFrequencyDisplay.from_estimator(step, top=6).plot(ax=ax)
    assert d.ax_ is ax and len(d.bars_) == 6
    heights = [b.get_width() for b in d.bars_][::-1]
    np.testing.assert_allclose(heights, step.frequency_.sort_values(ascending=False, kind="stable")[:6])
    red = [b for b in d.bars_ if b.get_facecolor()[0] > 0.7 and b.get_facecolor()[1] < 0.3]
    assert len(red) == len(step.selected_)


# --------------------------------------------------------------------------- RFE with any estimator
@pytest.mark.parametrize("estimator", ["svm", "rf", "logistic"])
def test_rfe_with_svm_and_rf_selects_the_true_features(estimator):
    X, y = _cohort(n=150, p=10, seed=3)
    rfe = st.RFESelector(n_features=2, estimator=estimator, random_state=0).fit(X, y)
    assert set(rfe.selected_) == {"f2", "f5"}
    assert rfe.ranking_[["f2", "f5"]].tolist() == [1, 1]


# --------------------------------------------------------------------------- clinical model with fixed variables
def test_clinical_model_with_fixed_variables_keeps_every_variable():
    import statsmodels.api as sm

    from radgui.model.clinical import ClinicalLogistic, CombinedModel

    rng = np.random.default_rng(0)
    n = 120
    C = pd.DataFrame({"age": rng.normal(60, 10, n), "noise": rng.normal(size=n),
                      "stage": rng.choice(["1", "2", "3"], n)})
    y = (rng.random(n) < expit(0.08 * (C["age"] - 60))).astype(int)
    spec = {"age": {}, "noise": {}, "stage": {"type": "categorical", "categories": ["1", "2", "3"]}}
    fixed = ClinicalLogistic(spec, select=False).fit(C, y)
    assert fixed.selected_ == ["age", "noise", "stage"]
    design = pd.DataFrame({"age": C["age"], "noise": C["noise"], "stage=2": (C["stage"] == "2") * 1.0,
                           "stage=3": (C["stage"] == "3") * 1.0})
    ref = sm.Logit(y, sm.add_constant(design)).fit(disp=0).params
    np.testing.assert_allclose(fixed.result_.params.to_numpy(), ref.to_numpy(), rtol=1e-6)
    stepwise = ClinicalLogistic(spec).fit(C, y)
    assert len(stepwise.selected_) < 3  # screening + stepwise drop a variable; the fixed model keeps all
    X, _ = _cohort(n=n, p=5, seed=1, signal=("f1", "f3"))
    both = pd.concat([X, C], axis=1)
    rad = build_pipeline({"zscore": {}}, {"name": "logistic"})
    comb = CombinedModel(rad, list(X.columns), spec, select=False, random_state=0).fit(both, y)
    assert comb.clinical_.selected_ == ["radscore", "age", "noise", "stage"]


# --------------------------------------------------------------------------- user step order
def _batched(n=90, seed=0):
    X, y = _cohort(n=n, p=6, seed=seed)
    rng = np.random.default_rng(seed)
    batch = np.where(np.arange(n) % 2 == 0, "A", "B")
    X = X + np.where(batch == "A", 1.5, -0.5)[:, None] * rng.uniform(0.5, 2, 6)
    X.index = pd.MultiIndex.from_arrays([np.arange(n), batch], names=["row", st.BATCH_LEVEL])
    return X, y


def test_user_step_order_is_honoured_and_bundle_combat_matches_predict_order():
    X, y = _batched()
    steps = {"zscore": {}, "combat": {}, "lasso": {"folds": 3, "n_lambdas": 10},
             "order": ["combat", "zscore", "lasso"]}
    pipe = build_pipeline(steps, {"name": "lasso"}, seed=0)
    assert [n for n, _ in pipe.steps] == ["combat", "zscore", "learner"]
    assert [n for n, _ in build_pipeline({k: v for k, v in steps.items() if k != "order"},
                                         {"name": "lasso"}).steps] == ["zscore", "combat", "learner"]
    pipe.fit(X, y)
    feats = list(X.columns)
    expected = pipe[:-1].transform(X)
    # what radgui predict does (fixed order: z-score, then ComBat) with the estimates the bundle stores
    z = pipe.named_steps["zscore"].to_dict(feats)
    cb = pipe.named_steps["combat"].to_dict(feats, "center")
    assert pipe.named_steps["combat"].zscore_after
    for i in (0, 1, 7):
        vals = {f: (X.iloc[i][f] - m) / s for f, m, s in zip(z["features"], z["mean"], z["sd"])}
        out = st.combat_apply_one(cb, vals, {"center": X.index.get_level_values(st.BATCH_LEVEL)[i]})
        np.testing.assert_allclose([out[f] for f in feats], expected.iloc[i].to_numpy(), atol=1e-9)


@pytest.mark.parametrize("order, message", [
    (["lasso", "zscore"], "steps.order puts 'lasso' before 'zscore', which cannot work: the LASSO penalty"),
    (["zscore"], "steps.order must list exactly the configured steps ['zscore', 'lasso']; it leaves out ['lasso']"),
    (["zscore", "lasso", "lasso"], "steps.order names ['lasso'] more than once"),
    (["zscore", "lasso", "rfe"], "it lists ['rfe'], which are not configured"),
    (["zscore", "lassoo"], "steps.order names unknown step(s) ['lassoo']"),
    ("zscore", "steps.order must be a list of step names"),
])
def test_nonsensical_step_order_is_refused_in_one_line(order, message):
    with pytest.raises(ConfigError) as err:
        build_pipeline({"zscore": {}, "lasso": {}, "order": order}, {"name": "lasso"})
    assert message in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------- grid search
@pytest.mark.slow
def test_gridsearch_explores_the_full_grid():
    from sklearn.model_selection import GridSearchCV

    X, y = _cohort(n=80, p=6, seed=4)
    pipe = build_pipeline({"zscore": {}}, {"name": "svm", "tune": {"method": "grid", "folds": 2}}, seed=0).fit(X, y)
    search = pipe[-1]
    assert isinstance(search, GridSearchCV)
    params = search.cv_results_["params"]
    assert len(params) == grid_size("svm") == 25  # every combination, each fitted on both folds
    assert len({(p["estimator__C"], p["estimator__gamma"]) for p in params}) == 25
    assert {p["estimator__C"] for p in params} == set(GRIDS["svm"]["estimator__C"])
    assert search.n_splits_ == 2 and np.isfinite(search.cv_results_["split1_test_score"]).all()
    assert deployable(search) is not search and type(deployable(search)).__name__ == "CalibratedClassifierCV"
    assert roc_auc_score(y, pipe.predict_proba(X)[:, 1]) > 0.7


def test_random_search_still_default():
    from sklearn.model_selection import RandomizedSearchCV

    pipe = build_pipeline({"zscore": {}}, {"name": "svm", "tune": {"n_iter": 3}}, seed=0)
    assert isinstance(pipe[-1], RandomizedSearchCV) and pipe[-1].n_iter == 3
    with pytest.raises(ConfigError, match="learner.tune.method must be one of random, grid, got 'grdi'"):
        build_pipeline({"zscore": {}}, {"name": "svm", "tune": {"method": "grdi"}})


def test_new_steps_add_no_trusted_types():
    """Only the final learner reaches a bundle: nothing new to allow in skops."""
    assert st.NEW_TRUSTED_TYPES == ()
