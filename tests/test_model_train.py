"""radgui train end to end: config validation, bundle = fitted model, report, CLI, skops learners."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from radgui.errors import ConfigError
from radgui.model.bundle import ModelBundle
from radgui.model.config import config_from_dict, load_config
from radgui.model.predict import predict_from_features

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train"


def _make_cohort(tmp, n=160, seed=0):
    spec = importlib.util.spec_from_file_location("make_cohort", EXAMPLE / "make_cohort.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    feats, clin = mod.make(n, seed)
    feats.to_csv(tmp / "features.csv", index=False)
    clin.to_csv(tmp / "clinical.csv", index=False)
    return feats, clin


def _config(tmp, **changes):
    doc = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    doc["features"], doc["clinical"] = "features.csv", "clinical.csv"
    doc["validation"] = {"repeats": 1, "folds": 3, "bootstrap": 3, "n_jobs": 1}
    doc["steps"]["lasso"] = {"folds": 3, "rule": "1se", "n_lambdas": 15}
    for k, v in changes.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = v
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path, doc


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The shipped example, exactly as `radgui train examples/train/config.yaml` runs it."""
    import pandas as pd

    from radgui.model.train import train
    from radgui.report.model_report import report_from_training

    tmp = tmp_path_factory.mktemp("train")
    result = train(EXAMPLE / "config.yaml")
    files = report_from_training(result, tmp / "out")
    data = EXAMPLE / "data"
    return result, files, pd.read_csv(data / "features.csv"), pd.read_csv(data / "clinical.csv")


def test_shipped_example_data_is_reproducible(tmp_path):
    import pandas as pd

    feats, clin = _make_cohort(tmp_path)  # make_cohort.py defaults: 160 patients, seed 0
    shipped_f = pd.read_csv(EXAMPLE / "data" / "features.csv")
    shipped_c = pd.read_csv(EXAMPLE / "data" / "clinical.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "features.csv"), shipped_f)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "clinical.csv"), shipped_c)


@pytest.mark.slow
def test_bundle_reproduces_fitted_model(trained):
    result, (bundle_path, _, _), feats, clin = trained
    bundle = ModelBundle.load(bundle_path)
    X = result.predictions["train"]
    ids = list(X.index[:15])
    f = feats.set_index("patient_id")
    c = clin.set_index("patient_id")
    for pid in ids:
        clinical = {k: c.loc[pid, k] for k in ("age", "ecog", "sex", "nlr", "center")}
        pred = predict_from_features(bundle, f.loc[pid].to_dict(), clinical)
        assert pred.probability == pytest.approx(X.loc[pid, "combined"], abs=1e-9)
        assert pred.radscore == pytest.approx(X.loc[pid, "radscore"], abs=1e-9)
        assert pred.linear_predictor == pytest.approx(X.loc[pid, "linear_predictor"], abs=1e-9)
        assert pred.ci_low < pred.probability < pred.ci_high
        assert pred.risk_group == ("high" if pred.probability >= bundle.cutoff["value"] else "low")
    # provenance and reference cohort for the Predict panel
    assert bundle.provenance["n_patients"] == len(X)
    assert bundle.provenance["feature_preset"]["name"] == "ct-original"
    assert set(bundle.reference_cohort.columns) >= {"linear_predictor", "risk_group", "time", "event"}
    assert bundle.combat is not None and bundle.predictor("center").role == "batch"


@pytest.mark.slow
def test_report_and_metrics(trained):
    result, (_, pdf, metrics_path), _, _ = trained
    assert pdf.read_bytes()[:4] == b"%PDF"
    assert pdf.read_bytes().count(b"/Type /Page\n") + pdf.read_bytes().count(b"/Type /Page ") >= 7
    m = json.loads(metrics_path.read_text())
    test = m["models"]["test"]
    for name in ("radiomics", "clinical", "combined"):
        assert 0.5 < test[name]["auc"] <= 1
        assert test[name]["auc_ci_low"] < test[name]["auc"] < test[name]["auc_ci_high"]
    assert set(test["delong"]) == {"radiomics vs clinical", "radiomics vs combined", "clinical vs combined"}
    assert "hosmer_lemeshow" in test["combined"] and "at_cutoff" in test["combined"]
    assert m["survival"]["test"]["logrank"]["p_value"] < 0.05      # the generative model links them
    assert "TRIPOD" in m["methods"] and "nested cross-validation" in m["methods"]
    from radgui.model.learners import step_parameters
    lasso = step_parameters("lasso", result.config.steps.get("lasso"))   # what the step ran with
    assert f"LASSO logistic regression with {lasso['folds']}-fold cross-validation (lambda.{lasso['rule']})" \
        in m["methods"]
    # the strongest true feature is found
    assert "original_shape_Sphericity" in m["selected_features"]
    # metrics agree with an independent AUC
    from sklearn.metrics import roc_auc_score

    f = result.predictions["test"]
    assert test["combined"]["auc"] == pytest.approx(roc_auc_score(f["y"], f["combined"]))


def test_example_config_is_valid():
    cfg = load_config(EXAMPLE / "config.yaml")
    assert cfg.features == EXAMPLE / "data" / "features.csv"
    assert cfg.learner["name"] == "lasso" and "combat" in cfg.steps


@pytest.mark.parametrize("change, message", [
    ({"stepz": {}}, "unknown key(s) ['stepz']"),
    ({"steps": {"zscore": {}, "lassoo": {}}}, "unknown step 'lassoo'"),
    ({"steps": {"zscore": {}, "lasso": {"fold": 3}}}, "unknown key(s) ['fold'] under 'steps.lasso'"),
    ({"learner": {"name": "deep"}}, "learner.name 'deep' is not one of"),
    ({"outcome": None, "survival": None}, "'outcome' is required"),
    ({"outcome": None}, "step 'correlation' needs a binary outcome ('outcome: {column: ...}'): it keeps the feature"),
    ({"split": {"method": "holdout", "test_fraction": 2}}, "test_fraction must be between 0 and 1"),
    ({"validation": {"folds": 1}}, "validation.folds must be an integer >= 2"),
    ({"steps": {"lasso": {}}}, "needs the 'zscore' step"),
])
def test_config_errors_name_the_key(tmp_path, change, message):
    path, _ = _config(tmp_path, **change)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_data_errors_name_column_and_file(tmp_path):
    from radgui.model.train import train

    _make_cohort(tmp_path, n=60)
    path, doc = _config(tmp_path, outcome={"column": "responce", "positive": 1})
    with pytest.raises(ConfigError, match="outcome column 'responce' is in neither"):
        train(path)
    doc2 = copy.deepcopy(doc)
    doc2["outcome"] = {"column": "response", "positive": 1}
    doc2["clinical_variables"]["weight"] = {"type": "continuous"}
    with pytest.raises(ConfigError, match="clinical variable 'weight' is not a column"):
        train(config_from_dict(doc2, base=tmp_path))
    # a patient without a clinical row
    clin = (tmp_path / "clinical.csv").read_text().splitlines()
    (tmp_path / "clinical.csv").write_text("\n".join(clin[:-1]) + "\n")
    doc2["clinical_variables"].pop("weight")
    with pytest.raises(ConfigError, match=r"patient\(s\) \['P0059'\] of the feature table have no clinical row"):
        train(config_from_dict(doc2, base=tmp_path))


def test_cli_train_bad_config_exits_2(tmp_path, capsys):
    from radgui.cli import main

    path, _ = _config(tmp_path, stepz={})
    assert main(["train", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown key(s) ['stepz']" in err[0]


@pytest.mark.slow
def test_cli_train_small(tmp_path, capsys):
    from radgui.cli import main

    feats, _ = _make_cohort(tmp_path, n=90, seed=3)
    # an ICC table (as `radgui icc` writes it) marking the strongest true feature as unreliable
    names = [c for c in feats.columns if c != "patient_id"]
    icc = {f: (0.5 if f == "original_shape_Sphericity" else 0.9) for f in names}
    import pandas as pd

    pd.DataFrame({"feature": list(icc), "icc": list(icc.values())}).to_csv(tmp_path / "icc.csv", index=False)
    path, _ = _config(tmp_path, validation={"repeats": 0, "folds": 3, "bootstrap": 0}, survival=None,
                      icc_table="icc.csv",
                      steps={"icc": {"threshold": 0.75}, "zscore": {}, "univariate": {"alpha": 0.2},
                             "lasso": {"folds": 3, "n_lambdas": 10}})
    out = tmp_path / "out"
    assert main(["train", str(path), "--out", str(out), "--quiet"]) == 0
    assert (out / "model.radgui-model").is_file() and (out / "report.pdf").is_file()
    assert "combined model AUC (test)" in capsys.readouterr().out
    bundle = ModelBundle.load(out / "model.radgui-model")
    assert bundle.model_kind == "logistic" and bundle.nomogram is not None
    assert bundle.radiomics_features and "original_shape_Sphericity" not in bundle.radiomics_features


@pytest.mark.slow
def test_tree_learner_bundle_through_skops(tmp_path):
    from radgui.model.train import train

    feats, clin = _make_cohort(tmp_path, n=90, seed=4)
    path, _ = _config(tmp_path, learner={"name": "rf", "tune": {"n_iter": 2, "folds": 3}}, survival=None,
                      validation={"repeats": 0, "folds": 3, "bootstrap": 0},
                      steps={"zscore": {}, "univariate": {"alpha": 0.05, "min_features": 3}})
    result = train(path)
    saved = result.bundle.save(tmp_path / "rf")
    bundle = ModelBundle.load(saved)
    assert bundle.model_kind == "skops" and bundle.estimator is not None
    X = result.predictions["train"]
    f, c = feats.set_index("patient_id"), clin.set_index("patient_id")
    for pid in X.index[:5]:
        clinical = {k: c.loc[pid, k] for k in ("age", "ecog", "sex", "nlr", "center")}
        pred = predict_from_features(bundle, f.loc[pid].to_dict(), clinical)
        assert pred.probability == pytest.approx(X.loc[pid, "combined"], abs=1e-9)
    assert np.isfinite(pred.ci_low)


@pytest.mark.slow
def test_cli_evaluate_on_new_cohort(trained, tmp_path, capsys):
    from radgui.cli import main

    _, (bundle_path, _, _), _, _ = trained
    feats, clin = _make_cohort(tmp_path, n=70, seed=9)   # a new cohort from the same generative model
    out = tmp_path / "ev"
    code = main(["evaluate", str(bundle_path), str(tmp_path / "features.csv"), "--clinical",
                 str(tmp_path / "clinical.csv"), "--outcome", "response", "--time", "pfs_months", "--event",
                 "progression", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    pred = __import__("pandas").read_csv(out / "predictions.csv")
    from sklearn.metrics import roc_auc_score

    assert m["models"]["external"]["model"]["auc"] == pytest.approx(roc_auc_score(pred["y"], pred["model"]))
    assert (out / "report.pdf").read_bytes()[:4] == b"%PDF"
    # a missing clinical column names the patient and the value
    clin.drop(columns=["age"]).to_csv(tmp_path / "clinical.csv", index=False)
    assert main(["evaluate", str(bundle_path), str(tmp_path / "features.csv"), "--clinical",
                 str(tmp_path / "clinical.csv"), "--outcome", "response", "--out", str(out)]) == 2
    assert "patient P0000: clinical value 'age' is missing" in capsys.readouterr().err


def test_external_split(tmp_path):
    from radgui.model.train import train

    ext = tmp_path / "ext"
    ext.mkdir()
    _make_cohort(ext, n=60, seed=21)
    _make_cohort(tmp_path, n=90, seed=20)
    path, _ = _config(tmp_path, split={"method": "external", "features": "ext/features.csv",
                                       "clinical": "ext/clinical.csv"},
                      validation={"repeats": 0, "folds": 3, "bootstrap": 0}, survival=None,
                      steps={"zscore": {}, "univariate": {"alpha": 0.1}, "lasso": {"folds": 3, "n_lambdas": 10}})
    result = train(path)
    m = result.metrics
    assert m["cohort"]["test_cohort"] == "external" and m["models"]["external"]["n"] == 60
    assert m["cohort"]["n_train"] == 90
    assert result.bundle.provenance["validation"]["cohort"] == "external"


@pytest.mark.slow
def test_survival_only_model(tmp_path):
    from radgui.model.train import train

    feats, clin = _make_cohort(tmp_path, n=120, seed=5)
    feats = feats.iloc[:, [0, *range(1, 11), 16, 31]]   # id, 10 features + Entropy and Correlation (speed)
    feats.to_csv(tmp_path / "features.csv", index=False)
    path, doc = _config(tmp_path, outcome=None, validation={"repeats": 1, "folds": 3, "bootstrap": 0},
                        steps={"zscore": {}, "combat": {}, "lasso": {"folds": 3}},
                        clinical_model={"screen_p": 0.1})   # survival: no stepwise 'direction' (refused if given)
    result = train(path)
    bundle = ModelBundle.load(result.bundle.save(tmp_path / "cox"))
    assert bundle.model_kind == "cox" and bundle.linear_model.horizon == 24
    P = result.predictions["train"]
    f, c = feats.set_index("patient_id"), clin.set_index("patient_id")
    for pid in P.index[:5]:
        pred = predict_from_features(bundle, f.loc[pid].to_dict(), {k: c.loc[pid, k] for k in
                                                                   ("age", "ecog", "sex", "nlr", "center")})
        assert pred.linear_predictor == pytest.approx(P.loc[pid, "linear_predictor"], abs=1e-9)
        assert 0 <= pred.ci_low <= pred.probability <= pred.ci_high <= 1
    m = result.metrics
    assert m["survival"]["test"]["c_index_linear_predictor"] > 0.6     # the generative model links them
    assert "original_firstorder_Entropy" in m["selected_features"] or "original_shape_Sphericity" in m["selected_features"]
    assert m["cross_validation"]["cox"]["c_index_of_mean_prediction"] > 0.6
    from radgui.cli.train import summary_line
    from radgui.report.model_report import report_from_training

    assert summary_line(m).startswith("Cox model C-index (test): ")
    _, pdf, _ = report_from_training(result, tmp_path / "out")
    assert pdf.read_bytes()[:4] == b"%PDF"


def test_step_parameters_are_the_steps_own_defaults(monkeypatch):
    """The paragraph states what ran: the step's own constructor default, not a second copy of the number."""
    import radgui.model.steps as st
    from radgui.model.learners import step_parameters

    assert step_parameters("lasso", {}) == {**{k: v for k, v in st.LassoLogisticCV().get_params().items()
                                              if k != "random_state"}}
    assert step_parameters("correlation", {"threshold": 0.8})["threshold"] == 0.8
    init = st.CorrelationFilter.__init__
    defaults = list(init.__defaults__)
    names = init.__code__.co_varnames[1:init.__code__.co_argcount]
    defaults[names.index("threshold") - (len(names) - len(defaults))] = 0.77
    monkeypatch.setattr(init, "__defaults__", tuple(defaults))   # a changed default reaches the paragraph
    assert step_parameters("correlation", {})["threshold"] == 0.77
