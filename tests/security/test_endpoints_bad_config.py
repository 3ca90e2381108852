"""Bad survival endpoints, time points and LASSO-Cox paths: one-line errors before training, nothing fitted.

Generated in the test (no fixtures): duplicate endpoint names/columns, missing or non-0/1 secondary columns,
negative times, bad ``timepoints`` (same baseline and follow-up, no ``group``, absent values, two rows of one
patient at one time point), and a solver path that ends early in one fold.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from radgui.errors import ConfigError
from radgui.model.config import config_from_dict

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train"
PFS = {"name": "PFS", "time": "pfs_months", "event": "progression", "horizon": 24, "unit": "months"}
OS = {"name": "OS", "time": "os_months", "event": "death", "horizon": 36, "unit": "months"}


def _example(tmp_path, **changes):
    """The training example with an OS endpoint added to its clinical table (OS >= PFS, death after progression)."""
    data = tmp_path / "data"
    shutil.copytree(EXAMPLE / "data", data)
    clin = pd.read_csv(data / "clinical.csv")
    rng = np.random.default_rng(3)
    clin["os_months"] = (clin["pfs_months"] + rng.exponential(12, len(clin))).round(2)
    clin["death"] = ((clin["progression"] == 1) & (rng.random(len(clin)) < 0.7)).astype(int)
    clin.to_csv(data / "clinical.csv", index=False)
    doc = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    doc["validation"] = {"repeats": 1, "folds": 3, "bootstrap": 0, "n_jobs": 1}
    doc["steps"] = {"nzv": {}, "zscore": {}, "lasso": {"folds": 3, "n_lambdas": 10, "min_ratio": 0.1}}
    doc["survival"] = [PFS, OS]
    doc.update(changes)
    return doc, tmp_path, clin



def _cohort(tmp_path, n=60, unpaired=("P003", "P017")):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    rows = []
    for i in range(n):
        pid = f"P{i:03d}"
        base = rng.normal(size=6) + 0.8 * y[i] * np.r_[1, 1, 0, 0, 0, 0]
        for tp, shift in (("pre", 0.0), ("post", 0.5)):
            if tp == "post" and pid in unpaired:
                continue
            rows.append({"scan_id": f"{pid}-{tp}", "patient": pid, "timepoint": tp, "response": int(y[i]),
                         **{f"tumour__original_firstorder_F{j}": base[j] + shift * (j < 2) + rng.normal(scale=0.2)
                            for j in range(6)}})
    pd.DataFrame(rows).to_csv(tmp_path / "features.csv", index=False)
    return {"features": "features.csv", "id_column": "scan_id", "group": "patient",
            "outcome": {"column": "response", "positive": 1},
            "timepoints": {"column": "timepoint", "baseline": "pre", "followup": "post"},
            "steps": {"zscore": {}, "lasso": {"folds": 3, "n_lambdas": 10}},
            "validation": {"repeats": 0, "folds": 3, "bootstrap": 0, "n_jobs": 1}, "seed": 1}



@pytest.mark.parametrize("survival, message", [
    ([PFS, {**OS, "name": "PFS"}], "survival[1].name 'PFS' is also the name of survival[0]: endpoint names must be "
                                   "unique"),
    ([PFS, {**OS, "time": "pfs_months", "event": "progression"}],
     "survival[1] uses the same time/event columns ['pfs_months', 'progression'] as survival[0]"),
    ([PFS, {"time": "os_months", "event": "death"}], "key 'survival[1].name' is required"),
    ([PFS, {"name": "OS", "event": "death"}], "key 'survival[1].time' is required"),
    ([PFS, {**OS, "horizon": -3}], "survival[1].horizon must be a positive number, got -3"),
    ([PFS, {**OS, "colour": "red"}], "unknown key(s) ['colour'] under 'survival[1]'"),
    ([PFS, "OS"], "key 'survival[1]' must be a mapping"),
    ([], "key 'survival' is an empty list"),
    ("pfs", "key 'survival' must be a mapping {time, event, horizon, ...} or a list"),
    ([PFS] * 17, "key 'survival' lists 17 endpoints; at most 16 are allowed"),
])
def test_bad_endpoint_entries_are_one_line_config_errors(survival, message):
    doc = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    doc["survival"] = survival
    with pytest.raises(ConfigError) as err:
        config_from_dict(doc, base=EXAMPLE)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_secondary_endpoint_column_is_refused_before_training(tmp_path):
    from radgui.model.train import load_cohort

    doc, base, _ = _example(tmp_path)
    doc["survival"] = [PFS, {**OS, "event": "dead"}]
    cfg = config_from_dict(doc, base=base)
    with pytest.raises(ConfigError) as err:
        load_cohort(cfg, cfg.features, cfg.clinical)
    assert "endpoint 'OS': event column 'dead' is in neither the clinical nor the feature table" in str(err.value)


def test_bad_secondary_endpoint_values_are_refused(tmp_path):
    from radgui.model.train import load_cohort

    doc, base, clin = _example(tmp_path)
    clin.loc[3, "death"] = 2
    clin.to_csv(base / "data" / "clinical.csv", index=False)
    cfg = config_from_dict(doc, base=base)
    with pytest.raises(ConfigError) as err:
        load_cohort(cfg, cfg.features, cfg.clinical)
    assert "endpoint 'OS': event column 'death' must hold 0/1" in str(err.value)
    clin.loc[3, "death"] = 1
    clin.loc[4, "os_months"] = -1
    clin.to_csv(base / "data" / "clinical.csv", index=False)
    with pytest.raises(ConfigError) as err:
        load_cohort(cfg, cfg.features, cfg.clinical)
    assert "endpoint 'OS': survival time 'os_months' has negative or infinite values" in str(err.value)


@pytest.mark.parametrize("change, message", [
    ({"group": None}, "'timepoints' pairs each patient's baseline and follow-up rows: set 'group: <patient column>'"),
    ({"timepoints": {"column": "timepoint", "baseline": "pre", "followup": "pre"}},
     "timepoints.baseline and timepoints.followup are both 'pre'"),
    ({"timepoints": {"column": "timepoint", "baseline": "pre"}}, "key 'timepoints.followup' is required"),
    ({"timepoints": {"column": "timepoint", "baseline": "pre", "followup": "post", "third": "x"}},
     "unknown key(s) ['third'] under 'timepoints'"),
    ({"timepoints": {"column": ["a"], "baseline": "pre", "followup": "post"}},
     "timepoints.column must be a non-empty name or value, got ['a']"),
])
def test_bad_timepoints_config_is_one_line_error(tmp_path, change, message):
    doc = {**_cohort(tmp_path), **change}
    doc = {k: v for k, v in doc.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        config_from_dict(doc, base=tmp_path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_timepoint_values_and_duplicates_are_checked_on_loading(tmp_path):
    from radgui.model.train import load_cohort

    doc = _cohort(tmp_path)
    cfg = config_from_dict({**doc, "timepoints": {"column": "timepoint", "baseline": "pre", "followup": "week8"}},
                           base=tmp_path)
    with pytest.raises(ConfigError) as err:
        load_cohort(cfg, cfg.features, cfg.clinical)
    assert "time-point column 'timepoint' has no row at ['week8'] (it holds ['post', 'pre'])" in str(err.value)
    f = pd.read_csv(tmp_path / "features.csv")
    f.loc[1, "timepoint"] = "pre"  # P000 now has two baseline rows
    f.to_csv(tmp_path / "features.csv", index=False)
    cfg = config_from_dict(doc, base=tmp_path)
    with pytest.raises(ConfigError) as err:
        load_cohort(cfg, cfg.features, cfg.clinical)
    assert "patient P000 has more than one row at time point 'pre'" in str(err.value)
    cfg = config_from_dict({**doc, "timepoints": {**doc["timepoints"], "column": "visit"}}, base=tmp_path)
    with pytest.raises(ConfigError) as err:
        load_cohort(cfg, cfg.features, cfg.clinical)
    assert "time-point column 'visit' is in neither the clinical nor the feature table" in str(err.value)




def test_lasso_cox_keeps_the_lambdas_every_fold_reached(monkeypatch):
    """sksurv ends a saturated path early: a fold's coefficient path shorter than the lambdas was a shape error."""
    import radgui.model.survival as surv

    real = surv._coxnet_path
    calls = {"n": 0, "sizes": []}

    def short(X, time, event, **kw):
        lambdas, coef, ok = real(X, time, event, **kw)
        calls["n"] += 1
        if kw.get("alphas") is not None and calls["n"] == 3:   # the second fold stops 2 lambdas early
            lambdas, coef = lambdas[:-2], coef[:, :-2]
        calls["sizes"].append(coef.shape[1])
        return lambdas, coef, ok

    monkeypatch.setattr(surv, "_coxnet_path", short)
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 5)), columns=list("abcde"))
    t = rng.exponential(np.exp(-X["a"].to_numpy()))
    e = (rng.random(80) < 0.8).astype(int)
    m = surv.LassoCox(folds=3, n_lambdas=12, random_state=0).fit(X, t, e)
    reached = min(calls["sizes"])
    assert calls["n"] == 4 and reached == calls["sizes"][0] - 2   # the full path, then three folds
    assert m.lambdas_.size == reached and m.coef_path_.shape == (5, reached) and m.cv_mean_.shape == (reached,)
    assert m.path_stopped_ is True
