"""Hostile study configs (``models:``, ``grid:``, ``external:``, subsets) are refused in one line, before any work."""

from __future__ import annotations

import pytest

from radgui.errors import ConfigError
from radgui.model.config import config_from_dict
from radgui.model.designs import MAX_MODELS, MAX_REGEX

BASE = {"features": "f.csv", "outcome": {"column": "y"}}


def refused(**extra) -> str:
    with pytest.raises(ConfigError) as exc:
        config_from_dict({**BASE, **extra}, base="/tmp")
    assert "\n" not in str(exc.value)
    return exc.value.reason


def test_too_many_models_refused():
    # a grid is a product: 9 x 6 = 54 models plus 11 listed ones
    sel = ["anova", "ttest", "kruskal", "mannwhitney", "mrmr", "lasso", "rfe", "stability", "univariate"]
    reason = refused(models=[{"name": f"m{i}"} for i in range(11)],
                     grid={"selectors": sel, "classifiers": ["lasso", "logistic", "svm", "rf", "xgboost", "stacking"]})
    assert reason == f"65 models in one run; at most {MAX_MODELS}"


def test_long_regex_refused():
    reason = refused(models=[{"name": "a", "features": {"regex": ["(a+)+" * 50]}}])
    assert reason == f"models[0] 'a'.features.regex: a pattern longer than {MAX_REGEX} characters is refused"


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b", "x" * 41, "", "\x1b[2Jcls", "train"])
def test_external_cohort_names_are_plain(name):
    reason = refused(external=[{"name": name, "features": "e.csv"}])
    assert reason.startswith("external[0].name ")


@pytest.mark.parametrize("name", ["x" * 81, "", 3, None, ["a"]])
def test_model_names_are_short_strings(name):
    reason = refused(models=[{"name": name}])
    assert reason.startswith("models[0].name must be a non-empty string of at most 80 characters")


def test_subset_values_must_be_strings():
    reason = refused(models=[{"name": "a", "features": {"roi": [{"nested": "map"}]}}])
    assert reason.startswith("models[0] 'a'.features.roi must be a non-empty list of strings")


def test_survival_only_config_lists_only_cox_models():
    # issue 13: survival-only configs compare Cox models (radiomics, clinical, combined); grids and scouts stay refused
    surv = {"outcome": None, "survival": {"time": "t", "event": "e", "horizon": 12}, "steps": {"zscore": {}, "lasso": {}}}
    reason = refused(**surv, models=[{"name": "a", "scout": {"by": "roi"}}])
    assert reason.startswith("models[0] 'a': a survival-only config compares Cox models")
    reason = refused(**surv, models=[{"name": "a", "kind": "clinical"}], clinical_variables={"age": {}},
                     clinical="c.csv")
    assert reason.startswith("a survival study needs at least one radiomics or combined model")
    reason = refused(**surv, grid={"selectors": ["anova"], "classifiers": ["svm"]})
    assert reason.startswith("'grid:'/'comparison:' compare binary-outcome classifiers")
