"""Scout models keep the image types whose own CV AUC reaches the threshold, on the rows they are fitted on."""

from __future__ import annotations

import numpy as np
from designs_synth import cohort

from radgui.model.designs import GroupScout, column_groups
from radgui.model.learners import build_pipeline


def _xy(**kw):
    feats, clin = cohort(n=100, per=2, seed=2, rois=("tumour",), **kw)
    X = feats.set_index("patient_id")
    return X, clin["response"].to_numpy()


def test_column_groups_by_base_image_type_and_roi():
    cols = ["tumour__original_glcm_A", "tumour__log-sigma-3-0-mm-3D_glcm_A", "ring3mm__log-sigma-1-0-mm-3D_glcm_A",
            "ring3mm__wavelet-LLH_glcm_A"]
    assert column_groups(cols, "image_type") == {"original": [cols[0]], "log": cols[1:3], "wavelet": [cols[3]]}
    assert column_groups(cols, "roi") == {"tumour": cols[:2], "ring3mm": cols[2:]}


def test_scout_keeps_only_the_informative_type():
    X, y = _xy(signal_roi="tumour", signal_type="log-sigma-3-0-mm-3D", strength=1.2)
    pipe = build_pipeline({"zscore": {}}, {"name": "logistic"}, seed=0)
    scout = GroupScout(pipe, column_groups(X.columns, "image_type"), threshold=0.7, folds=3, random_state=0).fit(X, y)
    assert scout.kept_ == ["log"]
    assert scout.scores_["log"] > 0.8 and max(scout.scores_["original"], scout.scores_["wavelet"]) < 0.7
    assert scout.columns_ == [c for c in X.columns if "log-sigma" in c]
    assert list(scout.estimator_[-1].feature_names_in_) == scout.columns_
    p = scout.predict_proba(X)[:, 1]
    assert p.shape == (100,) and np.all((p > 0) & (p < 1))


def test_scout_keeps_the_best_type_when_none_reaches_the_threshold():
    X, y = _xy(signal_roi="tumour", signal_type="original", strength=0.6)
    pipe = build_pipeline({"zscore": {}}, {"name": "logistic"}, seed=0)
    scout = GroupScout(pipe, column_groups(X.columns, "image_type"), threshold=0.99, folds=3, random_state=0).fit(X, y)
    assert scout.kept_ == [max(scout.scores_, key=scout.scores_.get)] == ["original"]

