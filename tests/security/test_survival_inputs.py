"""Bad survival inputs are refused with one line naming what is needed (issue 11 / issue 12 item 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from radgui.errors import ConfigError
from radgui.model.config import config_from_dict


def _tables(tmp, n=60, events=None, seed=0, follow_up=60.0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=[f"original_glcm_F{i}" for i in range(4)])
    t = np.minimum(rng.exponential(20 * np.exp(-X.iloc[:, 0].to_numpy())), follow_up)
    e = (rng.random(n) < 0.6).astype(int) if events is None else np.r_[np.ones(events, int), np.zeros(n - events, int)]
    ids = [f"P{i:03d}" for i in range(n)]
    X.insert(0, "patient_id", ids)
    X.to_csv(tmp / "features.csv", index=False)
    pd.DataFrame({"patient_id": ids, "os_months": t, "death": e}).to_csv(tmp / "clinical.csv", index=False)
    return float(t.max())


def _doc(**changes):
    doc = {"features": "features.csv", "clinical": "clinical.csv",
           "survival": {"time": "os_months", "event": "death", "horizon": 12, "unit": "months"},
           "split": {"method": "none"}, "steps": {"zscore": {}, "lasso": {"folds": 3, "n_lambdas": 10}},
           "validation": {"repeats": 0, "folds": 3}}
    doc.update(changes)
    return doc


def _train_cli(tmp, doc, capsys):
    from radgui.cli import main

    (tmp / "config.yaml").write_text(yaml.safe_dump(doc))
    code = main(["train", str(tmp / "config.yaml"), "--out", str(tmp / "out"), "--quiet"])
    err = capsys.readouterr().err.strip()
    return code, err


def test_single_event_refused_with_the_minimum_needed(tmp_path, capsys):
    _tables(tmp_path, events=1)
    code, err = _train_cli(tmp_path, _doc(), capsys)
    assert code == 2 and "\n" not in err
    assert "the cohort has 1 event ('death' = 1); this survival model needs at least 10" in err
    assert not (tmp_path / "out").exists()


def test_too_few_events_for_holdout_and_nested_folds_names_the_minimum(tmp_path, capsys):
    _tables(tmp_path, events=12)
    doc = _doc(split={"method": "holdout", "test_fraction": 0.3}, validation={"repeats": 1, "folds": 5},
               steps={"zscore": {}, "lasso": {"folds": 10}})
    code, err = _train_cli(tmp_path, doc, capsys)
    # 10-fold LASSO-Cox inside 5-fold CV needs 13 training events (13 - ceil(13/5) = 10); / 0.7 for the holdout
    assert code == 2 and "the cohort has 12 events ('death' = 1); this survival model needs at least 19 " \
                         "(0.3 held out, " in err


def test_horizon_beyond_follow_up_refused_naming_the_maximum(tmp_path, capsys):
    longest = _tables(tmp_path)
    doc = _doc(survival={"time": "os_months", "event": "death", "horizon": 100000, "unit": "months"})
    code, err = _train_cli(tmp_path, doc, capsys)
    assert code == 2 and "\n" not in err
    assert (f"survival.horizon 100000 months is outside the cohort's follow-up: the longest follow-up "
            f"('os_months') is {longest:g} months") in err


def test_negative_follow_up_refused(tmp_path, capsys):
    _tables(tmp_path)
    clin = pd.read_csv(tmp_path / "clinical.csv")
    clin.loc[[3, 7], "os_months"] = [-2.0, -0.5]
    clin.to_csv(tmp_path / "clinical.csv", index=False)
    code, err = _train_cli(tmp_path, _doc(), capsys)
    assert code == 2 and err.endswith("survival time 'os_months' is negative for 2 patient(s) (minimum -2 months); "
                                      "follow-up must be >= 0")


@pytest.mark.parametrize("h", [0, -3, "24"])
def test_horizon_not_positive_refused(h):
    doc = _doc(survival={"time": "os_months", "event": "death", "horizon": h})
    with pytest.raises(ConfigError, match=r"survival.horizon must be a positive number, got "):
        config_from_dict(doc)


@pytest.mark.parametrize("lasso, message", [
    ({"exact": True}, "steps.lasso key(s) ['exact'] are not used by LASSO-Cox (a survival model); its keys are "
                      "folds, min_ratio, n_lambdas, rule, score"),
    ({"rule": "lse"}, "steps.lasso.rule must be one of min, 1se for LASSO-Cox, got 'lse'"),
    ({"score": "auc"}, "steps.lasso.score must be one of deviance, cindex for LASSO-Cox, got 'auc'"),
    ({"n_lambdas": 1}, "steps.lasso.n_lambdas must be an integer from 2 to 1000, got 1"),
    ({"folds": True}, "steps.lasso.folds must be an integer from 2 to 100, got True"),
    ({"min_ratio": 1.5}, "steps.lasso.min_ratio must be a number between 0 and 1 (exclusive), got 1.5"),
])
def test_survival_lasso_keys_are_used_or_refused(lasso, message):
    with pytest.raises(ConfigError) as info:
        config_from_dict(_doc(steps={"zscore": {}, "lasso": lasso}))
    assert str(info.value) == message


def test_survival_lasso_keys_reach_the_model(tmp_path):
    from radgui.model.train_survival import lasso_params

    cfg = config_from_dict(_doc(steps={"zscore": {}, "lasso": {"folds": 4, "rule": "min", "n_lambdas": 7,
                                                               "min_ratio": 0.05, "score": "cindex"}}), base=tmp_path)
    assert lasso_params(cfg) == {"folds": 4, "rule": "min", "n_lambdas": 7, "min_ratio": 0.05, "score": "cindex"}


@pytest.mark.parametrize("changes, message", [
    ({"steps": {"zscore": {}, "univariate": {}}},
     "step 'univariate' needs a binary outcome ('outcome: {column: ...}'): it tests each feature between the two "
     "classes of the binary outcome; a survival model (no 'outcome') runs only the steps icc, nzv, zscore, combat, "
     "lasso"),
    ({"clinical_model": {"screen_p": 0.1, "direction": "both"}},
     "clinical_model key(s) ['direction'] are not used by a survival model"),
    ({"validation": {"repeats": 1, "folds": 3, "bootstrap": 50}},
     "validation.bootstrap 50 is not used by a survival model"),
    ({"learner": {"name": "lasso", "tune": {"n_iter": 3}}}, "learner key(s) ['tune'] are not used by a survival model"),
])
def test_survival_unused_keys_refused_saying_why(changes, message):
    with pytest.raises(ConfigError) as info:
        config_from_dict(_doc(**changes))
    assert str(info.value).startswith(message)


def test_lasso_cox_solver_failure_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    def boom(self, X, y):
        raise ArithmeticError("Numerical error, because weights are too large. Consider increasing alpha.\n"
                              "  File \"coxnet.pyx\", line 1, in fit")

    monkeypatch.setattr(CoxnetSurvivalAnalysis, "fit", boom)
    _tables(tmp_path)
    code, err = _train_cli(tmp_path, _doc(), capsys)
    assert code == 2 and "\n" not in err and "Traceback" not in err
    assert err.endswith("LASSO-Cox could not be fitted (Numerical error, because weights are too large. Consider "
                        "increasing alpha.); raise steps.lasso.min_ratio or reduce the number of features")


def test_lasso_cox_never_converging_is_one_line(tmp_path, capsys, monkeypatch):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    real = CoxnetSurvivalAnalysis.fit

    def slow(self, X, y):
        real(self, X, y)
        warnings.warn("Optimization terminated early", ConvergenceWarning)
        return self

    monkeypatch.setattr(CoxnetSurvivalAnalysis, "fit", slow)
    _tables(tmp_path)
    code, err = _train_cli(tmp_path, _doc(), capsys)
    assert code == 2 and "\n" not in err
    assert "LASSO-Cox did not converge within 100000 iterations even on the shortest penalty path" in err


# ---------------------------------------------------------------- radgui evaluate of a Cox bundle
@pytest.fixture(scope="module")
def cox_bundle(tmp_path_factory):
    from radgui.cli import main

    tmp = tmp_path_factory.mktemp("coxb")
    _tables(tmp, n=80, seed=1)
    (tmp / "config.yaml").write_text(yaml.safe_dump(_doc()))
    assert main(["train", str(tmp / "config.yaml"), "--out", str(tmp / "out"), "--quiet"]) == 0
    return tmp / "out" / "model.radgui-model"


def _evaluate(bundle, tmp, capsys, *extra, time=None, event=None):
    from radgui.cli import main

    _tables(tmp, n=50, seed=2)
    clin = pd.read_csv(tmp / "clinical.csv")
    if time is not None:
        clin["os_months"] = time
    if event is not None:
        clin["death"] = event
    clin.to_csv(tmp / "clinical.csv", index=False)
    code = main(["evaluate", str(bundle), str(tmp / "features.csv"), "--clinical", str(tmp / "clinical.csv"),
                 *extra, "--out", str(tmp / "ev")])
    cap = capsys.readouterr()
    return code, cap.err.strip(), cap.out


def test_evaluate_cox_bundle_refuses_a_binary_outcome(cox_bundle, tmp_path, capsys):
    code, err, _ = _evaluate(cox_bundle, tmp_path, capsys, "--outcome", "death")
    assert code == 2 and "\n" not in err
    assert "is a Cox survival model: it is evaluated on --time and --event (censoring respected), not on a binary " \
           "--outcome/--positive; remove them" in err
    assert not (tmp_path / "ev").exists()


def test_evaluate_cox_bundle_needs_time_and_event(cox_bundle, tmp_path, capsys):
    code, err, _ = _evaluate(cox_bundle, tmp_path, capsys, "--time", "os_months")
    assert code == 2 and "give --time COLUMN and --event COLUMN (1 = event, 0 = censored)" in err


def test_evaluate_refuses_negative_times_and_non_binary_events(cox_bundle, tmp_path, capsys):
    t = np.r_[-1.0, np.full(49, 10.0)]
    code, err, _ = _evaluate(cox_bundle, tmp_path, capsys, "--time", "os_months", "--event", "death", time=t)
    assert code == 2 and err.endswith("the survival time has negative values (minimum -1)")
    code, err, _ = _evaluate(cox_bundle, tmp_path, capsys, "--time", "os_months", "--event", "death",
                             event=np.r_[2, np.ones(49, int)])
    assert code == 2 and err.endswith("the event column must hold 0 (censored) or 1 (event)")


def test_evaluate_with_follow_up_shorter_than_horizon_says_so(cox_bundle, tmp_path, capsys):
    rng = np.random.default_rng(4)
    t = rng.uniform(1, 8, 50)                                # everyone followed < 12 months (the horizon)
    code, err, out = _evaluate(cox_bundle, tmp_path, capsys, "--time", "os_months", "--event", "death", time=t)
    assert code == 0, err
    assert "time-dependent AUC at 12 months NA" in out.splitlines()[0]
    assert "note: the horizon (12 months) is beyond this cohort's longest follow-up" in out
    assert "note: time-dependent AUC at the horizon is not defined for this cohort" in out


def test_a_step_survival_models_lack_is_named_without_blaming_the_outcome(monkeypatch):
    """A step added for binary models later (e.g. an unsupervised one) is refused as not implemented for survival."""
    from radgui.model import config as cfg

    monkeypatch.setitem(cfg._STEP_KEYS, "pca", {"n_components"})
    with pytest.raises(ConfigError) as info:
        config_from_dict(_doc(steps={"zscore": {}, "pca": {}, "lasso": {}}))
    assert str(info.value) == ("step 'pca' is not implemented for survival models (no 'outcome'); they run only the "
                               "steps icc, nzv, zscore, combat, lasso")


def test_evaluate_binary_bundle_without_outcome_is_one_line(tmp_path, capsys):
    """--outcome is optional now (a Cox bundle refuses it); a logistic bundle still needs it, said in one line."""
    from pathlib import Path

    from radgui.cli import main

    demo = Path(__file__).resolve().parents[2] / "resources" / "models" / "demo.radgui-model"
    pd.DataFrame({"patient_id": ["A"], "original_shape_LeastAxisLength": [30.0]}).to_csv(tmp_path / "f.csv",
                                                                                        index=False)
    code = main(["evaluate", str(demo), str(tmp_path / "f.csv"), "--out", str(tmp_path / "ev")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err.endswith("a logistic bundle is evaluated against a binary outcome: give --outcome COLUMN (and "
                        "--positive VALUE when the event is not 1)")
