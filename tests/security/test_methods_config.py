"""Bad settings of the new selection steps, step order and tuning: one-line ConfigError naming the problem,
before anything is fitted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radgui.errors import ConfigError
from radgui.model import steps as st
from radgui.model.config import config_from_dict


def _doc(**changes):
    doc = {"features": "f.csv", "clinical": "c.csv", "outcome": {"column": "y", "positive": 1},
           "steps": {"zscore": {}, "lasso": {}}, "learner": {"name": "lasso"}}
    doc.update(changes)
    return doc


def _refused(doc, message):
    with pytest.raises(ConfigError) as err:
        config_from_dict(doc, source="cfg.yaml")
    text = str(err.value)
    assert message in text, text
    assert "\n" not in text and text.startswith("cfg.yaml: ")
    return text


@pytest.mark.parametrize("steps, message", [
    ({"zscore": {}, "relief": {"kk": 3}, "lasso": {}}, "unknown key(s) ['kk'] under 'steps.relief'"),
    ({"zscore": {}, "relief": {"method": "surf"}, "lasso": {}},
     "steps.relief.method must be one of relieff, multisurf, got 'surf'"),
    ({"zscore": {}, "relief": {"k": 0}, "lasso": {}}, "steps.relief.k must be a positive integer (at most 100000), got 0"),
    ({"zscore": {}, "relief": {"n_neighbors": 2.5}, "lasso": {}},
     "steps.relief.n_neighbors must be a positive integer (at most 1000), got 2.5"),
    ({"zscore": {}, "stability": {"n_bootstrap": 10**9}, "lasso": {}},
     "steps.stability.n_bootstrap must be a positive integer (at most 5000), got 1000000000"),
    ({"zscore": {}, "pca": {"n_components": 0}, "lasso": {}},
     "steps.pca.n_components must be an integer >= 1 (components) or a fraction in (0, 1) (share of variance), got 0"),
    ({"zscore": {}, "pca": {"n_components": 1.5}, "lasso": {}}, "got 1.5"),
    ({"zscore": {}, "pca": {"n_components": True}, "lasso": {}}, "got True"),
    ({"zscore": {}, "pca": {"n_components": "all"}, "lasso": {}}, "got 'all'"),
    ({"zscore": {}, "pca": {"whiten": True}, "lasso": {}}, "unknown key(s) ['whiten'] under 'steps.pca'"),
    ({"zscore": {}, "stability": {"resample": "jackknife"}, "lasso": {}},
     "steps.stability.resample must be one of subsample, bootstrap, got 'jackknife'"),
    ({"zscore": {}, "stability": {"sample_fraction": 1.5}, "lasso": {}},
     "steps.stability.sample_fraction must be in (0, 1], got 1.5"),
    ({"zscore": {}, "stability": {"n_bootstrap": -1}, "lasso": {}},
     "steps.stability.n_bootstrap must be a positive integer (at most 5000), got -1"),
    ({"zscore": {}, "rfe": {"estimator": "xgboost"}, "lasso": {}},
     "steps.rfe.estimator must be one of logistic, svm, rf, got 'xgboost'"),
    ({"zscore": {}, "rfe": {"n_features": 0}, "lasso": {}}, "steps.rfe.n_features must be a positive integer (at most 100000), got 0"),
    ({"zscore": {}, "lasso": {}, "order": ["lasso", "zscore"]},
     "steps.order puts 'lasso' before 'zscore', which cannot work: the LASSO penalty needs standardised features"),
    ({"zscore": {}, "pca": {}, "lasso": {}, "order": ["pca", "zscore", "lasso"]},
     "steps.order puts 'pca' before 'zscore', which cannot work: PCA needs standardised features"),
    ({"zscore": {}, "lasso": {}, "order": ["zscore"]}, "it leaves out ['lasso']"),
    ({"zscore": {}, "lasso": {}, "order": ["zscore", "lasso", "rfe"]}, "it lists ['rfe'], which are not configured"),
    ({"zscore": {}, "lasso": {}, "order": "zscore, lasso"}, "steps.order must be a list of step names"),
    ({"zscore": {}, "lasso": {}, "order": ["zscore", "lasso", "zscore"]}, "steps.order names ['zscore'] more than once"),
])
def test_bad_new_step_settings_are_one_line_config_errors(steps, message):
    _refused(_doc(steps=steps), message)


def test_pca_needs_a_linear_learner():
    _refused(_doc(steps={"zscore": {}, "pca": {}}, learner={"name": "rf"}),
             "step 'pca' needs a linear learner (lasso or logistic)")


def test_relief_on_a_survival_model_is_refused():
    doc = _doc(outcome=None, survival={"time": "t", "event": "e", "horizon": 12},
               steps={"zscore": {}, "relief": {}, "lasso": {}})
    doc.pop("outcome")
    _refused(doc, "step 'relief' needs a binary outcome ('outcome: {column: ...}'): it weighs features by their "
                  "nearest neighbours")


def test_pca_on_a_survival_model_is_refused():
    doc = _doc(survival={"time": "t", "event": "e", "horizon": 12}, steps={"zscore": {}, "pca": {}, "lasso": {}})
    doc.pop("outcome")
    _refused(doc, "step 'pca' is not implemented for survival models")


def test_bad_tune_method():
    from radgui.model.learners import build_pipeline

    _refused(_doc(learner={"name": "svm", "tune": {"mode": "grid"}}), "unknown key(s) ['mode'] under 'learner.tune'")
    cfg = config_from_dict(_doc(learner={"name": "svm", "tune": {"method": "grdi"}}))
    with pytest.raises(ConfigError, match="learner.tune.method must be one of random, grid, got 'grdi'"):
        build_pipeline(cfg.steps, cfg.learner)


def test_good_new_settings_are_accepted_and_keep_the_user_order():
    cfg = config_from_dict(_doc(steps={"zscore": {}, "combat": {}, "relief": {"k": 5}, "lasso": {},
                                       "order": ["combat", "zscore", "relief", "lasso"]}, center="center"))
    assert cfg.steps["order"] == ["combat", "zscore", "relief", "lasso"]
    assert cfg.steps["relief"] == {"k": 5}


def test_data_dependent_limits_refused_at_fit_in_one_line():
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 4)), columns=list("abcd"))
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    with pytest.raises(ConfigError) as err:
        st.ReliefSelector(k=5).fit(X, y)
    assert str(err.value) == ("relief: k=5 is larger than the 4 features entering the step (lower steps.relief.k or "
                              "loosen the steps before it)")
    with pytest.raises(ConfigError) as err:
        st.PCAStep(n_components=5).fit(X)
    assert str(err.value) == "pca: n_components=5 is more than min(rows, features) = 4 (20 rows, 4 features enter the step)"
    with pytest.raises(ConfigError, match="the outcome must have exactly two classes, found 3"):
        st.ReliefSelector(k=2).fit(X, np.arange(20) % 3)


def test_clinical_model_select_must_be_a_boolean():
    _refused(_doc(clinical_model={"select": "no"}), "clinical_model.select must be true (screening + stepwise AIC) "
                                                    "or false (every clinical variable, fixed), got 'no'")
    assert config_from_dict(_doc(clinical_model={"select": False})).clinical_model["select"] is False


def test_pca_with_a_non_mapping_learner_is_a_config_error_not_a_crash():
    _refused(_doc(steps={"zscore": {}, "pca": {}}, learner="svm"), "key 'learner' must be a mapping")
