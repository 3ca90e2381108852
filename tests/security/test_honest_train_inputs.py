"""Issue 11, training inputs: each bad table or config is one ConfigError/InputFileError line and exit 2.

Every case is generated here; each assertion names the exact message, so a
traceback or a silent acceptance (today's behaviour) fails the test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from radgui.cli import main


def _cohort(tmp, n=40, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    y = np.r_[np.zeros(n // 2), np.ones(n - n // 2)].astype(int)
    rng.shuffle(y)
    feats = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"original_firstorder_F{j}" for j in range(5)])
    feats.insert(0, "patient_id", ids)
    clin = pd.DataFrame({"patient_id": ids, "response": y, "age": rng.uniform(40, 80, n).round()})
    return feats, clin


def _run(tmp, capsys, feats=None, clin=None, **changes):
    f0, c0 = _cohort(tmp)
    (f0 if feats is None else feats).to_csv(tmp / "features.csv", index=False)
    (c0 if clin is None else clin).to_csv(tmp / "clinical.csv", index=False)
    doc = {"features": "features.csv", "clinical": "clinical.csv", "outcome": {"column": "response"},
           "clinical_variables": {"age": {"type": "continuous", "min": 18, "max": 100}},
           "steps": {"zscore": {}, "lasso": {"folds": 3, "n_lambdas": 5}},
           "split": {"method": "none"}, "validation": {"repeats": 0, "folds": 3, "bootstrap": 0}}
    doc.update(changes)
    (tmp / "config.yaml").write_text(yaml.safe_dump(doc))
    code = main(["train", str(tmp / "config.yaml"), "--out", str(tmp / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1, err
    assert not (tmp / "out" / "model.radgui-model").exists()
    return err[0]


def test_duplicate_ids_in_clinical_table(tmp_path, capsys):
    f, c = _cohort(tmp_path)
    c = pd.concat([c, c.iloc[[3]].assign(age=99)], ignore_index=True)
    msg = _run(tmp_path, capsys, clin=c)
    assert "clinical.csv: patient id(s) ['P003'] have more than one row in the clinical table" in msg


def test_infinite_feature_value(tmp_path, capsys):
    f, _ = _cohort(tmp_path)
    f.loc[7, "original_firstorder_F2"] = np.inf
    msg = _run(tmp_path, capsys, feats=f)
    assert ("features.csv: feature column(s) ['original_firstorder_F2'] have infinite values "
            "(first: patient P007, original_firstorder_F2 = inf)") in msg


@pytest.mark.parametrize("content, reason", [("", "feature table is empty (no header, no rows)"),
                                             ("patient_id,original_firstorder_F0\n",
                                              "feature table has a header but no patient rows")])
def test_empty_cohort_csv(tmp_path, capsys, content, reason):
    _, c = _cohort(tmp_path)
    c.to_csv(tmp_path / "clinical.csv", index=False)
    (tmp_path / "features.csv").write_text(content)
    doc = {"features": "features.csv", "clinical": "clinical.csv", "outcome": {"column": "response"},
           "split": {"method": "none"}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(doc))
    assert main(["train", str(tmp_path / "config.yaml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"features.csv: {reason}" in err[0]


def test_too_few_patients(tmp_path, capsys):
    f, c = _cohort(tmp_path, n=6)
    msg = _run(tmp_path, capsys, feats=f, clin=c)
    assert "the cohort has 6 patients; training needs at least 10" in msg


def test_single_event(tmp_path, capsys):
    f, c = _cohort(tmp_path)
    c["response"] = 0
    c.loc[5, "response"] = 1
    msg = _run(tmp_path, capsys, clin=c)
    assert ("the cohort has 1 positive outcomes and 39 patients without; training with 3-fold "
            "cross-validation needs at least 3 of each") in msg


def test_tiny_test_fraction(tmp_path, capsys):
    msg = _run(tmp_path, capsys, split={"method": "holdout", "test_fraction": 0.001})
    assert ("split.test_fraction 0.001 of 40 patients (20 positive outcomes) leaves about 0.0 of the rarer "
            "class in the test cohort; it needs at least 2: use test_fraction >= 0.1") in msg


def test_huge_test_fraction(tmp_path, capsys):
    msg = _run(tmp_path, capsys, split={"method": "holdout", "test_fraction": 0.95})
    assert "split.test_fraction 0.95 leaves too few patients for training (3 of each class needed): " \
           "use test_fraction <= 0.85" in msg


@pytest.mark.parametrize("seed", [2**32, -1, True])
def test_seed_out_of_numpy_range(tmp_path, capsys, seed):
    msg = _run(tmp_path, capsys, seed=seed)
    assert f"seed must be an integer from 0 to 2**32 - 1 = 4294967295 (numpy's seed range), got {seed!r}" in msg


def test_clinical_value_outside_its_configured_range(tmp_path, capsys):
    _, c = _cohort(tmp_path)
    c.loc[11, "age"] = 150
    msg = _run(tmp_path, capsys, clin=c)
    assert ("clinical.csv: clinical variable 'age' of patient P011 is 150, outside its allowed range "
            "(max: 100 in clinical_variables.age); 1 patient(s) in all") in msg


def test_infinite_clinical_value(tmp_path, capsys):
    _, c = _cohort(tmp_path)
    c["age"] = c["age"].astype(object)
    c.loc[2, "age"] = "inf"
    msg = _run(tmp_path, capsys, clin=c)
    assert "clinical variable 'age' has non-numeric or infinite values" in msg


@pytest.mark.parametrize("change, message", [
    ({"learner": {"name": "lasso", "tune": {"n_iter": 5}}},
     "key(s) ['tune'] under 'learner' are not used by learner 'lasso' (it takes no setting besides 'name')"),
    ({"learner": {"name": "rf", "meta": "mlp"}},
     "key(s) ['meta'] under 'learner' are not used by learner 'rf' (it uses: tune)"),
    ({"learner": {"name": "xgboost", "tune": {"n_iters": 5}}},
     "unknown key(s) ['n_iters'] under 'learner.tune' (known: folds, method, n_iter)"),
    ({"split": {"method": "none", "test_fraction": 0.3}},
     "key(s) ['test_fraction'] under 'split' are not used by split.method 'none' (it uses: method)"),
    ({"combat_covariates": ["age"]},
     "combat_covariates are only used by the 'combat' step, which is not in 'steps'"),
    ({"outcome": {"column": "response", "direction": "good"}}, "outcome.direction must be 'adverse'"),
    ({"group": 3}, "group must name the patient column (a string), got 3"),
])
def test_config_keys_a_step_does_not_use_are_errors(tmp_path, capsys, change, message):
    assert message in _run(tmp_path, capsys, **change)


def test_unknown_step_in_survival_config_is_named_as_unknown(tmp_path, capsys):
    msg = _run(tmp_path, capsys, outcome=None, survival={"time": "t", "event": "e", "horizon": 12},
               steps={"zscore": {}, "pcaa": {}})
    assert "unknown step 'pcaa' under 'steps'" in msg and "need a binary outcome" not in msg
    # a real step survival models lack is named as such, not blamed on the outcome (pca exists since issue 13)
    msg = _run(tmp_path, capsys, outcome=None, survival={"time": "t", "event": "e", "horizon": 12},
               steps={"zscore": {}, "pca": {}})
    assert "step 'pca' is not implemented for survival models" in msg and "need a binary outcome" not in msg
