"""Feature subsets resolve exactly; bad study configs are one-line ConfigErrors (radgui.model.designs)."""

from __future__ import annotations

import pytest

from radgui.errors import ConfigError
from radgui.model.config import config_from_dict
from radgui.model.designs import check_subset, parse_column, resolve_subset

COLS = ["ring6mm__log-sigma-3-0-mm-3D_glcm_Idmn", "ring6mm__original_firstorder_Mean",
        "ring3mm__log-sigma-3-0-mm-3D_glcm_Idmn", "tumour__wavelet-LLH_glszm_ZoneEntropy",
        "tumour__original_shape_Sphericity", "original_firstorder_Energy", "delta__original_glcm_Contrast"]


def _fail(msg):
    raise ConfigError(msg)


def sub(**spec):
    return resolve_subset(check_subset(spec, _fail, "features"), COLS)


def test_parse_column():
    assert parse_column("ring6mm__log-sigma-3-0-mm-3D_glcm_Idmn") == ("ring6mm", "log-sigma-3-0-mm-3D", "glcm", "Idmn")
    assert parse_column("original_firstorder_10Percentile") == ("", "original", "firstorder", "10Percentile")
    assert parse_column("tumour__wavelet-LLH_glszm_Zone_Entropy") == ("tumour", "wavelet-LLH", "glszm", "Zone_Entropy")
    assert parse_column("age") == ("", "", "", "age")


def test_subsets_resolve_exactly():
    assert sub(roi=["ring6mm"], image_types=["original", "log-sigma-3-0-mm-3D"]) == COLS[:2]
    assert sub(roi=["ring6mm"], image_types=["log-sigma-3-0-mm-3D"]) == [COLS[0]]
    assert sub(image_types=["log"]) == [COLS[0], COLS[2]]             # a family matches its members
    assert sub(image_types=["wavelet"]) == [COLS[3]]
    assert sub(feature_classes=["glcm"]) == [COLS[0], COLS[2], COLS[6]]
    assert sub(roi=[""]) == [COLS[5]]                                 # columns without an ROI prefix
    assert sub(prefix=["tumour__", "delta__"]) == [COLS[3], COLS[4], COLS[6]]
    assert sub(regex=["Idmn$"], exclude=["^ring3mm"]) == [COLS[0]]
    assert sub(columns=["original_firstorder_Energy"]) == [COLS[5]]
    assert sub(roi="tumour", feature_classes="shape") == [COLS[4]]    # a single string is a one-item list
    assert resolve_subset({}, COLS) == COLS


@pytest.mark.parametrize("spec, message", [
    ({"roi": ["ring9mm"]}, "features {roi: [ring9mm]} matches no column of the feature table (roi present: "
                           "['', 'delta', 'ring3mm', 'ring6mm', 'tumour'])"),
    ({"image_types": ["wavelet-LHL"]}, "features {image_types: [wavelet-LHL]} matches no column"),
    ({"columns": ["nope"]}, "features.columns ['nope'] are not columns of the feature table"),
])
def test_subset_matching_no_column(spec, message):
    with pytest.raises(ConfigError) as exc:
        resolve_subset(spec, COLS)
    assert message in str(exc.value) and "\n" not in str(exc.value)


BASE = {"features": "f.csv", "clinical": "c.csv", "outcome": {"column": "y"},
        "clinical_variables": {"age": {"type": "continuous"}}}


def cfg(**extra):
    return config_from_dict({**BASE, **extra}, base="/tmp")


@pytest.mark.parametrize("extra, message", [
    ({"models": [{"name": "a", "features": {"rois": ["tumour"]}}]},
     "unknown subset key(s) ['rois'] under models[0] 'a'.features (known: prefix, roi, image_types"),
    ({"models": [{"name": "a"}, {"name": "a"}]},
     "duplicate model name 'a' (models[0] and models[1]); every model needs its own name"),
    ({"grid": {"selectors": ["anova", "boruta"], "classifiers": ["svm"]}},
     "grid.selectors: unknown selector 'boruta' (known: anova, ttest, kruskal, mannwhitney, mrmr, lasso, rfe"),
    ({"grid": {"selectors": ["anova"], "classifiers": ["knn"]}}, "grid.classifiers: unknown classifier 'knn'"),
    ({"models": [{"name": "a", "final": True}, {"name": "b", "final": True}]},
     "more than one model is marked final: true (a, b)"),
    ({"models": [{"name": "a", "learner": {"name": "logistic"}, "steps": {"lasso": {}}}]},
     "models[0] 'a': learner 'logistic' needs the 'zscore' step"),
    ({"models": [{"name": "a", "steps": {"zscore": {}, "relieff": {}}}]}, "models[0] 'a': unknown step 'relieff'"),
    ({"models": [{"name": "c", "kind": "clinical", "final": True}]},
     "models[0] 'c': a clinical-only model cannot be the final (bundled) model"),
    ({"models": [{"name": "a", "features": {"regex": ["("]}}]}, "models[0] 'a'.features.regex: '(' is not a regular"),
    ({"models": [{"name": "a", "scout": {"threshold": 1.5}}]}, "models[0] 'a'.scout.threshold must be an AUC"),
    ({"models": [{"name": "a", "colour": "red"}]}, "unknown key(s) ['colour'] under models[0]"),
    ({"models": []}, "key 'models' must be a non-empty list"),
    ({"split": {"method": "holdout", "balance": {"max_smd": 0}}}, "split.balance.max_smd must be a positive number"),
    ({"external": [{"name": "test", "features": "e.csv"}]}, "external[0].name 'test' is reserved"),
    ({"external": [{"clinical": "e.csv"}]}, "external[0] must be a mapping with 'features'"),
    ({"comparison": {"nri_cutoffs": [0, 0.5]}, "models": [{"name": "a"}]},
     "comparison.nri_cutoffs must list risks strictly between 0 and 1"),
])
def test_bad_study_configs_are_one_line(extra, message):
    with pytest.raises(ConfigError) as exc:
        cfg(**extra)
    assert message in exc.value.reason, exc.value.reason
    assert "\n" not in str(exc.value)


def test_grid_expands_selector_x_classifier():
    c = cfg(grid={"selectors": ["anova", "kruskal", "rfe"], "classifiers": ["svm", "logistic"],
                  "features": {"roi": ["tumour"]}})
    assert [m["name"] for m in c.models] == ["anova+svm", "anova+logistic", "kruskal+svm", "kruskal+logistic",
                                             "rfe+svm", "rfe+logistic"]
    m = c.models[0]
    assert m["steps"] == {"zscore": {}, "univariate": {"test": "anova"}} and m["learner"]["name"] == "svm"
    assert c.models[2]["steps"]["univariate"] == {"test": "kruskal"}
    assert all(mm["features"] == {"roi": ["tumour"]} for mm in c.models)


def test_single_model_config_unchanged():
    c = cfg()
    assert c.models == [] and c.external == [] and c.feature_columns is None and c.model_variables is None
