"""Issue 12 item 3: several rows per patient (``group:``): no split, fold or resample shares a patient."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedKFold

from radgui.errors import ConfigError
from radgui.model.config import config_from_dict
from radgui.model.steps import GROUP_LEVEL, GroupedStratifiedKFold, groups_of
from radgui.model.validation import grouped_resample, holdout_split, iter_bootstrap_optimism, iter_repeated_cv
from radgui.progress import run
from radgui.stats.bootstrap import resample_indices


def _grouped(seed, n_patients=40):
    """Rows of 1-3 per patient; the outcome is per patient for most, per row (lesion) for some."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, n_patients)
    groups = np.repeat([f"pt{i}" for i in range(n_patients)], sizes)
    y_patient = rng.random(n_patients) < 0.4
    y = np.repeat(y_patient, sizes).astype(int)
    flip = rng.random(y.size) < 0.1          # multi-lesion: a lesion may differ from its patient's others
    y = np.where(flip, 1 - y, y)
    X = pd.DataFrame(rng.normal(size=(y.size, 4)), columns=list("abcd"))
    X.index = pd.MultiIndex.from_arrays([np.arange(y.size).astype(str), groups], names=["patient_id", GROUP_LEVEL])
    return X, y, groups


def _disjoint(a, b, groups):
    return not set(groups[a]) & set(groups[b])


@pytest.mark.parametrize("seed", range(40))
def test_grouped_splits_never_share_a_patient(seed):
    X, y, groups = _grouped(seed)
    tr, te = holdout_split(y, 0.3, seed=seed, groups=groups)
    assert _disjoint(tr, te, groups) and len(tr) + len(te) == len(y)
    assert 0.15 < len(set(groups[te])) / len(set(groups)) < 0.45
    for k in (3, 5):
        folds = list(GroupedStratifiedKFold(k, shuffle=True, random_state=seed).split(X, y))
        assert len(folds) == k
        for a, b in folds:
            assert _disjoint(a, b, groups)
        assert sorted(np.concatenate([b for _, b in folds])) == list(range(len(y)))
    rng = np.random.default_rng(seed)
    for idx in [grouped_resample(y, groups, rng)] + resample_indices(y, 5, rng, groups=groups):
        # whole patients only: each drawn patient appears with all its rows, a whole number of times
        counts = pd.Series(groups[idx]).value_counts()
        sizes = pd.Series(groups).value_counts()
        assert ((counts % sizes[counts.index]) == 0).all()


def test_without_groups_the_folds_are_stratified_kfold():
    X, y, _ = _grouped(0)
    X = X.droplevel(GROUP_LEVEL)
    assert groups_of(X) is None
    mine = [te.tolist() for _, te in GroupedStratifiedKFold(5, shuffle=True, random_state=3).split(X, y)]
    ref = [te.tolist() for _, te in StratifiedKFold(5, shuffle=True, random_state=3).split(X, y)]
    assert mine == ref
    tr, te = holdout_split(y, 0.3, seed=1)
    from sklearn.model_selection import train_test_split

    ref_tr, _ = train_test_split(np.arange(len(y)), test_size=0.3, random_state=1, stratify=y)
    assert list(tr) == list(ref_tr)


SEEN: list = []
FITS: list = []


class _Spy(ClassifierMixin, BaseEstimator):
    """Records the patients it is fitted on and scores; predicts the row mean."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        g = groups_of(X)
        self.train_ = set() if g is None else set(g)
        FITS.append(pd.Series([] if g is None else g, dtype=object).value_counts())
        return self

    def predict_proba(self, X):
        g = groups_of(X)
        SEEN.append((self.train_, set() if g is None else set(g)))
        p = 1 / (1 + np.exp(-X.to_numpy().mean(axis=1)))
        return np.column_stack([1 - p, p])


@pytest.mark.parametrize("seed", range(5))
def test_nested_cv_and_bootstrap_are_grouped(seed):
    X, y, groups = _grouped(seed, 50)
    SEEN.clear()
    run(iter_repeated_cv(_Spy(), X, y, repeats=3, folds=4, seed=seed))
    assert len(SEEN) == 12 and all(not (tr & te) for tr, te in SEEN)
    FITS.clear()
    run(iter_bootstrap_optimism(_Spy(), X, y, n_boot=5, seed=seed))
    # each bootstrap fit sees whole patients (all their rows, a whole number of times)
    sizes = pd.Series(groups).value_counts()
    assert len(FITS) == 6
    for counts in FITS:
        assert ((counts % sizes[counts.index]) == 0).all()
    assert any((counts > sizes[counts.index]).any() for counts in FITS[1:])   # resampled with replacement


def test_inner_folds_see_the_patient_of_each_row():
    """The LASSO's lambda CV, random-search tuning, stacking and SVM calibration split by patient."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import StackingClassifier

    from radgui.model.learners import build_pipeline, deployable

    pipe = build_pipeline({"zscore": {}}, {"name": "stacking", "tune": {"n_iter": 2, "folds": 3}}, seed=0)
    stack = pipe[-1]
    assert isinstance(stack, StackingClassifier) and isinstance(stack.cv, GroupedStratifiedKFold)
    searches = dict(stack.estimators)
    assert all(isinstance(s.cv, GroupedStratifiedKFold) for s in searches.values())
    svm = searches["svm"].estimator
    assert isinstance(svm, CalibratedClassifierCV) and isinstance(svm.cv, GroupedStratifiedKFold)
    # the group level survives the preprocessing steps to the learner
    X, y, groups = _grouped(1, 60)
    z = pipe[:-1].fit_transform(X, y)
    assert list(groups_of(z)) == list(groups)
    # the bundle stores plain (trusted) splitters: deployable() swaps the grouped ones out
    fitted = build_pipeline({"zscore": {}}, {"name": "svm", "tune": {"n_iter": 0}}, seed=0).fit(X, y)
    dep = deployable(fitted[-1])
    assert isinstance(dep.cv, StratifiedKFold) and not isinstance(fitted[-1].cv, StratifiedKFold)


def _delta_tables(tmp, n=48, seed=0):
    """Delta-radiomics: two scans per patient, one clinical row per patient."""
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    y = (rng.random(n) < 0.45).astype(int)
    rows = []
    for pid, yy in zip(ids, y):
        base = rng.normal(size=6) + 0.8 * yy
        for scan in (1, 2):
            rows.append({"patient_id": pid, "diagnostics_scan": scan,
                         **{f"original_firstorder_F{j}": base[j] + 0.2 * rng.normal() for j in range(6)}})
    pd.DataFrame(rows).to_csv(tmp / "features.csv", index=False)
    pd.DataFrame({"patient_id": ids, "response": y, "age": rng.uniform(40, 80, n).round()}).to_csv(
        tmp / "clinical.csv", index=False)
    return {"features": "features.csv", "clinical": "clinical.csv", "outcome": {"column": "response"},
            "steps": {"zscore": {}, "lasso": {"folds": 3, "n_lambdas": 10}},
            "split": {"method": "holdout", "test_fraction": 0.3},
            "validation": {"repeats": 1, "folds": 3, "bootstrap": 2}}


def test_repeated_ids_without_group_are_refused_with_the_reason(tmp_path):
    from radgui.model.train import train

    doc = _delta_tables(tmp_path)
    with pytest.raises(ConfigError) as err:
        train(config_from_dict(doc, base=tmp_path))
    msg = str(err.value)
    assert "id(s) ['P000', 'P001', 'P002', 'P003', 'P004'] appear more than once in column 'patient_id'" in msg
    assert "set 'group: <patient column>'" in msg and "features.csv" in msg


@pytest.mark.slow
def test_training_with_group_keeps_patients_on_one_side(tmp_path):
    from radgui.model.train import train

    doc = _delta_tables(tmp_path)
    doc["group"] = "patient_id"
    doc["steps"].pop("lasso")
    doc["learner"] = {"name": "rf", "tune": {"n_iter": 0}}
    result = train(config_from_dict(doc, base=tmp_path))
    tr, te = result.predictions["train"], result.predictions["test"]
    assert not set(tr.index) & set(te.index)
    assert len(tr) % 2 == 0 and len(te) % 2 == 0          # both scans of every patient on one side
    m = result.metrics
    assert m["models"]["train"]["n_patients"] * 2 == m["models"]["train"]["n"]
    assert m["models"]["test"]["combined"]["bootstrap_ci"]["auc"]["grouped"] is True
    assert "diagnostics_scan" not in result.bundle.radiomics_features
    assert "kept a patient's rows together" in result.methods


def test_bootstrap_copies_of_a_patient_share_a_group_in_inner_folds():
    """Harrell's bootstrap: the copies of a resampled patient are one group for the pipeline's inner CV."""
    X, y, _ = _grouped(2, 50)
    X = X.droplevel(GROUP_LEVEL)
    FITS.clear()
    run(iter_bootstrap_optimism(_Spy(), X, y, n_boot=4, seed=1))
    boot = FITS[1:]
    assert len(boot) == 4 and all((c > 1).any() for c in boot)   # duplicates carry one group label
    folds = GroupedStratifiedKFold(3, shuffle=True, random_state=0)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(y), len(y))
    from radgui.model.validation import _with_group_level

    Xb = _with_group_level(X.iloc[idx], idx.astype(str))
    g = groups_of(Xb)
    for tr, te in folds.split(Xb, y[idx]):
        assert not set(g[tr]) & set(g[te])


class _RecordingSurvival(BaseEstimator):
    """Records the patients each survival CV fold trains on; predicts 0."""

    seen: list = []

    def fit(self, X, y):
        _RecordingSurvival.seen.append(set(groups_of(X)))
        return self

    def decision_function(self, X):
        _RecordingSurvival.seen[-1] = (_RecordingSurvival.seen[-1], set(groups_of(X)))
        return np.zeros(len(X))


@pytest.mark.parametrize("seed", range(10))
def test_survival_cv_and_lasso_cox_folds_never_share_a_patient(seed):
    from radgui.model.train_survival import iter_survival_cv

    X, event, groups = _grouped(seed)
    rng = np.random.default_rng(seed)
    y = np.column_stack([rng.exponential(10, event.size), event])
    _RecordingSurvival.seen = []
    run(iter_survival_cv(_RecordingSurvival(), X, y, repeats=2, folds=4, seed=seed))
    assert len(_RecordingSurvival.seen) == 8
    for train_patients, test_patients in _RecordingSurvival.seen:
        assert train_patients and test_patients and not train_patients & test_patients
