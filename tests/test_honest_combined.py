"""Issue 12 ("Honest numbers"), binary models: out-of-fold Radscore and cutoff, separation warnings,
headline = validated figure, bootstrap CIs, predictions.csv, outcome direction."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from radgui.model.config import config_from_dict, is_worse_group, risk_group_label


def _truth_cohort(n, seed, p=20):
    """Features with a known logistic truth that trees can represent (thresholds on three features).

    Returns (features, clinical, true linear predictor).
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    age = rng.uniform(40, 80, n).round(0)
    lp = -1.0 + 2.4 * (X[:, 0] > 0) + 1.8 * (X[:, 1] > 0.3) - 1.6 * (X[:, 2] < -0.5) + 0.03 * (age - 60)
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    ids = [f"S{seed}-{i:04d}" for i in range(n)]
    feats = pd.DataFrame(X.round(5), columns=[f"original_firstorder_F{j:02d}" for j in range(p)])
    feats.insert(0, "patient_id", ids)
    clin = pd.DataFrame({"patient_id": ids, "outcome": y, "age": age})
    return feats, clin, lp


def _write(tmp, name, frame):
    frame.to_csv(tmp / name, index=False)
    return name


def _doc(**changes):
    doc = {"features": "train_f.csv", "clinical": "train_c.csv", "outcome": {"column": "outcome", "positive": 1},
           "clinical_variables": {"age": {"type": "continuous", "min": 18, "max": 100}},
           "split": {"method": "external", "features": "ext_f.csv", "clinical": "ext_c.csv"},
           "steps": {"zscore": {}}, "learner": {"name": "xgboost", "tune": {"n_iter": 0}},
           "clinical_model": {"screen_p": 1.0, "direction": "backward"},
           "validation": {"repeats": 0, "folds": 3, "bootstrap": 0, "n_jobs": 1}, "seed": 7}
    doc.update(changes)
    return doc


def _oracle_check(tmp, learner):
    from radgui.model.train import train
    from radgui.stats import roc_auc

    f, c, _ = _truth_cohort(800, 1, p=8)
    fe, ce, lp_ext = _truth_cohort(300, 2, p=8)
    _write(tmp, "train_f.csv", f), _write(tmp, "train_c.csv", c)
    _write(tmp, "ext_f.csv", fe), _write(tmp, "ext_c.csv", ce)
    result = train(config_from_dict(_doc(learner=learner), base=tmp))
    m = result.metrics
    ext = m["models"]["external"]["combined"]
    oracle = roc_auc(ce["outcome"].to_numpy(), lp_ext)
    # external AUC within the noise of the oracle (the AUC of the true linear predictor); trees
    # approximate a linear truth, so allow 3 SE (about 0.07)
    assert ext["auc"] > oracle.auc - 3 * oracle.se, (ext["auc"], oracle.auc)
    assert ext["auc"] <= oracle.auc + 3 * oracle.se
    cut = m["cutoff"]["value"]
    assert 0.05 < cut < 0.95
    assert "out-of-fold" in m["cutoff"]["source"]
    hl = ext["hosmer_lemeshow"]
    assert "error" not in hl and math.isfinite(hl["statistic"]) and hl["statistic"] < 100
    assert hl["p_value"] > 0.001                  # main: chi2 910 (p 4e-191), slope 0.34
    assert abs(ext["calibration"]["intercept"]) < 0.5 and 0.6 < ext["calibration"]["slope"] < 2
    # the Radscore term is fitted on out-of-fold Radscores: a sane coefficient, not 41.6
    rs = next(t for t in m["final_model"]["terms"] if t["name"] == "radscore")
    assert 0.2 < rs["coefficient"] < 3
    assert m["radscore_source"] == "out-of-fold" and "out-of-fold Radscore" in result.methods
    # both risk groups are populated in the external cohort
    assert 0.15 < np.mean(result.predictions["external"]["combined"] >= cut) < 0.85
    probs = result.predictions["external"]["combined"].to_numpy()
    assert probs.min() > 1e-4 and probs.max() < 1 - 1e-4
    return result


@pytest.mark.slow
def test_xgboost_combined_model_is_honest_on_known_truth(tmp_path):
    _oracle_check(tmp_path, {"name": "xgboost", "tune": {"n_iter": 0}})


@pytest.mark.slow
def test_random_forest_combined_model_is_honest_on_known_truth(tmp_path):
    # main: cutoff 0.9999999993, HL chi2 1.9e46, calibration slope 0.05, Radscore coefficient 74.7
    _oracle_check(tmp_path, {"name": "rf", "tune": {"n_iter": 0}})


@pytest.mark.slow
def test_stacking_combined_model_is_honest_on_known_truth(tmp_path):
    _oracle_check(tmp_path, {"name": "stacking", "tune": {"n_iter": 0}, "stack_folds": 3})


def test_lasso_combined_model_keeps_apparent_radscore():
    """The LASSO Radscore enters as published (its own linear predictor); others are cross-fitted."""
    from radgui.model.clinical import CombinedModel
    from radgui.model.learners import build_pipeline

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 6)), columns=[f"f{i}" for i in range(6)])
    y = (X["f0"] + rng.normal(size=80) > 0).astype(int).to_numpy()
    lasso = CombinedModel(build_pipeline({"zscore": {}, "lasso": {"folds": 3, "n_lambdas": 10}}, {"name": "lasso"}),
                          list(X.columns), random_state=0).fit(X, y)
    assert lasso.radscore_source_ == "apparent"
    np.testing.assert_allclose(lasso.train_radscore_, lasso.radscore(X))
    rf = CombinedModel(build_pipeline({"zscore": {}}, {"name": "rf", "tune": {"n_iter": 0}}), list(X.columns),
                       random_state=0).fit(X, y)
    assert rf.radscore_source_ == "out-of-fold"
    assert not np.allclose(rf.train_radscore_, rf.radscore(X))   # in-sample RF scores differ from out-of-fold ones


# ------------------------------------------------------------------ separation
def test_separation_diagnostics_flags_each_sign():
    from radgui.model.clinical import separation_diagnostics

    y = np.array([0, 0, 0, 1, 1, 1])
    assert separation_diagnostics(y, [-3, -2, -1, 1, 2, 3])[0].startswith("complete separation")
    assert any(m.startswith("quasi-complete") for m in separation_diagnostics(y, [-3, -2, 0, 0, 2, 3]))
    assert separation_diagnostics(y, [-1, 1, -1, 1, -1, 1]) == []
    assert separation_diagnostics(y, [0.2] * 6) == []                       # constant score: no separation
    msgs = separation_diagnostics(y, [-1, 1, -1, 1, -1, 40], coefficients={"radscore": 41.6}, sd={"radscore": 1.0},
                                  converged=False)
    assert "the maximum-likelihood fit did not converge" in msgs
    assert "1 of 6 fitted probabilities are 0 or 1 (within 1e-08)" in msgs
    assert any("coefficient of radscore is 41.6" in m for m in msgs)


def test_clinical_logistic_records_separation():
    from radgui.model.clinical import ClinicalLogistic

    X = pd.DataFrame({"age": np.r_[np.linspace(30, 50, 20), np.linspace(60, 80, 20)]})
    y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    fit = ClinicalLogistic({"age": {"type": "continuous"}}, select=False).fit(X, y)
    text = " | ".join(fit.fit_warnings_)
    assert "complete separation" in text and "fitted probabilities are 0 or 1" in text


@pytest.fixture
def separable(tmp_path):
    """100 patients, 38 features, a logistic learner: the seed study's separation case."""
    rng = np.random.default_rng(5)
    n, p = 100, 38
    X = rng.normal(size=(n, p))
    y = (X[:, :5].sum(axis=1) + 0.3 * rng.normal(size=n) > 0).astype(int)
    ids = [f"Q{i:03d}" for i in range(n)]
    f = pd.DataFrame(X, columns=[f"original_glcm_F{j:02d}" for j in range(p)])
    f.insert(0, "patient_id", ids)
    f["outcome"] = y
    f.to_csv(tmp_path / "f.csv", index=False)
    doc = {"features": "f.csv", "outcome": {"column": "outcome"}, "split": {"method": "none"},
           "steps": {"zscore": {}}, "learner": {"name": "logistic"},
           "validation": {"repeats": 1, "folds": 3, "bootstrap": 0}}
    return tmp_path, doc


@pytest.mark.slow
def test_separation_is_warned_in_console_metrics_and_report(separable, capsys):
    from radgui.cli import main

    tmp, doc = separable
    (tmp / "config.yaml").write_text(yaml.safe_dump(doc))
    assert main(["train", str(tmp / "config.yaml"), "--out", str(tmp / "out"), "--quiet"]) == 0
    out = capsys.readouterr().out
    m = json.loads((tmp / "out" / "metrics.json").read_text())
    sep = [w for w in m["warnings"] if "separation" in w]
    assert sep and sep[0].startswith("Radiomics model: complete separation")
    assert "warning: Radiomics model: complete separation" in out
    # apparent HL / calibration refuse the degenerate training probabilities instead of printing 1e72
    train = m["models"]["train"]["radiomics"]
    assert "0 or 1" in train["hosmer_lemeshow"]["error"] and "statistic" not in train["hosmer_lemeshow"]
    assert "0 or 1" in train["calibration"]["error"] and "slope" not in train["calibration"]
    # the headline is the nested-CV figure, the apparent one beside it
    assert m["headline"]["source"] == "cross-validated" and m["headline"]["apparent_auc"] == 1.0
    assert out.startswith("combined model AUC (1 x 3-fold nested CV): ")
    assert "apparent (training, optimistic): 1.000" in out.splitlines()[0]
    # predictions.csv: one row per patient with apparent and out-of-fold predictions
    pred = pd.read_csv(tmp / "out" / "predictions.csv")
    assert len(pred) == 100 and set(pred["cohort"]) == {"train"}
    assert {"id", "probability", "linear_predictor", "probability_oof", "linear_predictor_oof", "risk_group",
            "risk_group_oof", "risk_group_label"} <= set(pred.columns)
    assert pred["probability_oof"].between(0, 1).all()
    assert (pred["probability_oof"] - pred["probability"]).abs().max() > 0.1   # apparent != out-of-fold
    assert set(pred["risk_group_label"]) <= {"High risk", "Low risk"}


def test_separation_warning_in_report_text(separable):
    from radgui.model.train import train
    from radgui.report.model_report import summary_paragraphs

    tmp, doc = separable
    result = train(config_from_dict(doc, base=tmp))
    paras = summary_paragraphs(result)
    assert any(p.startswith("WARNING: Radiomics model: complete separation") for p in paras)
    assert any(p.startswith("Headline (validated): combined model AUC") for p in paras)


def test_headline_without_any_validation_says_apparent(separable):
    from radgui.cli.train import summary_line
    from radgui.model.train import train

    tmp, doc = separable
    doc["validation"] = {"repeats": 0, "folds": 3, "bootstrap": 0}
    doc["learner"] = {"name": "lasso"}
    doc["steps"] = {"zscore": {}, "lasso": {"folds": 3, "n_lambdas": 10}}
    m = train(config_from_dict(doc, base=tmp)).metrics
    assert m["headline"]["validated"] is False
    assert summary_line(m).startswith("warning: no validation ran, this AUC is the apparent one; "
                                      "combined model AUC (training, apparent)")
    assert any("cutoff: chosen on apparent (training) predictions" in w for w in m["warnings"])


# ------------------------------------------------------------------ bootstrap CIs in metrics
def test_bootstrap_cis_of_auc_and_metrics_at_cutoff():
    from radgui.model.train import bootstrap_metric_cis

    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(60), np.ones(40)].astype(int)
    p = np.clip(0.35 + 0.3 * y + rng.normal(0, 0.15, 100), 0.01, 0.99)
    ci = bootstrap_metric_cis(y, p, 0.5, seed=1)
    assert set(ci) == {"auc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "f1"}
    from sklearn.metrics import roc_auc_score

    assert ci["auc"]["estimate"] == pytest.approx(roc_auc_score(y, p))
    sens = np.mean(p[y == 1] >= 0.5)
    assert ci["sensitivity"]["estimate"] == pytest.approx(sens)
    for k, v in ci.items():
        assert v["n_boot"] >= 500 and v["stratified"] and not v["grouped"]
        assert v["ci_low"] < v["estimate"] < v["ci_high"], k


# ------------------------------------------------------------------ outcome direction
def _surv_frame(direction_sign, seed=0, n=200):
    rng = np.random.default_rng(seed)
    lp = rng.normal(size=n)
    # adverse outcome: high lp = early event; favourable (response): high lp = late event
    t = rng.exponential(np.exp(-direction_sign * lp))
    e = (rng.random(n) < 0.8).astype(int)
    p = 1 / (1 + np.exp(-lp))
    return pd.DataFrame({"y": (p > 0.5).astype(int), "time": t, "event": e, "combined": p, "linear_predictor": lp})


@pytest.mark.parametrize("direction, sign", [("adverse", 1), ("favourable", -1)])
def test_c_index_and_group_names_follow_the_outcome_direction(direction, sign):
    from radgui.model.train import _survival_metrics

    frame = _surv_frame(sign)
    s = _survival_metrics(frame, 0.5, direction=direction, outcome_name="response")
    assert s["c_index_linear_predictor"] > 0.6        # never the 0.317 of an unflipped favourable outcome
    assert s["direction"] == direction
    if direction == "adverse":
        assert s["group_labels"] == {"high": "High risk", "low": "Low risk"}
        assert s["cox_hr_high_vs_low"]["hr"] > 1
    else:
        assert s["group_labels"] == {"high": "High probability of response", "low": "Low probability of response"}
        assert s["cox_hr_high_vs_low"]["hr"] < 1
    # the wrong direction gives the mirrored C-index
    wrong = _survival_metrics(frame, 0.5, direction="favourable" if direction == "adverse" else "adverse")
    assert wrong["c_index_linear_predictor"] == pytest.approx(1 - s["c_index_linear_predictor"], abs=0.02)


class _Pdf:
    def __init__(self):
        self.figures = []

    def savefig(self, fig):
        self.figures.append(fig)


@pytest.mark.parametrize("direction, worse", [("adverse", "High risk"),
                                              ("favourable", "Low probability of response")])
def test_kaplan_meier_labels_and_colours_follow_the_direction(direction, worse):
    from matplotlib.colors import to_hex

    from radgui.model.train import _survival_metrics
    from radgui.report.model_report import _WORSE, _km_page

    frame = _surv_frame(1 if direction == "adverse" else -1)
    s = {"test": _survival_metrics(frame, 0.5, direction=direction, outcome_name="response")}
    pdf = _Pdf()
    _km_page(pdf, {"test": frame}, "combined", 0.5, "months", s, lambda c, m: c, direction=direction,
             outcome_name="response")
    ax = pdf.figures[0].axes[0]
    labels = {t.get_text().split(" (n=")[0]: h for t, h in zip(ax.get_legend().get_texts(),
                                                               ax.get_legend().legend_handles)}
    better = set(labels) - {worse}
    assert worse in labels and len(better) == 1
    assert to_hex(labels[worse].get_color()) == _WORSE
    assert to_hex(labels[better.pop()].get_color()) != _WORSE
    # and the worse group does worse: in this cohort, it has the lower median survival
    key = "high" if direction == "adverse" else "low"
    other = "low" if key == "high" else "high"
    assert s["test"][f"median_{key}"] < s["test"][f"median_{other}"]


def test_risk_group_words():
    assert risk_group_label("high") == "High risk" and risk_group_label("low", "adverse") == "Low risk"
    assert risk_group_label("low", "favourable", "response") == "Low probability of response"
    assert is_worse_group("high", "adverse") and not is_worse_group("low", "adverse")
    assert is_worse_group("low", "favourable") and not is_worse_group("high", "favourable")


def test_outcome_direction_in_config_and_bundle(tmp_path):
    from radgui.errors import BundleError, ConfigError
    from radgui.model.bundle import ModelBundle

    base = {"features": "f.csv", "outcome": {"column": "y"}}
    assert config_from_dict(base).outcome["direction"] == "adverse"
    assert config_from_dict({**base, "outcome": {"column": "y", "direction": "favourable"}}).outcome["direction"] \
        == "favourable"
    with pytest.raises(ConfigError, match="outcome.direction must be 'adverse'"):
        config_from_dict({**base, "outcome": {"column": "y", "direction": "good"}})
    # bundles: optional field, old bundles (no field) read as adverse
    b = ModelBundle.from_formula(-1.0, {"original_shape_Sphericity": 0.5}, cutoff=0.0, name="t")
    path = b.save(tmp_path / "old.radgui-model")
    assert ModelBundle.load(path).outcome["direction"] == "adverse"
    b.outcome["direction"] = "favourable"
    assert ModelBundle.load(b.save(tmp_path / "fav.radgui-model")).outcome["direction"] == "favourable"
    b.outcome["direction"] = "sideways"
    with pytest.raises(BundleError, match="outcome.direction"):
        ModelBundle.load(b.save(tmp_path / "bad.radgui-model"))


@pytest.mark.parametrize("direction, names", [
    ("adverse", {"high": "High risk", "low": "Low risk"}),
    ("favourable", {"high": "High probability of progression within 12 months",
                    "low": "Low probability of progression within 12 months"})])
def test_predict_dock_km_panel_follows_the_direction(direction, names):
    """The Predict dock's K-M placement panel: group names and colours (worse group orange)."""
    import copy
    from pathlib import Path

    from matplotlib.colors import to_hex
    from matplotlib.figure import Figure

    from radgui.model.bundle import ModelBundle
    from radgui.model.predict import Prediction
    from radgui.plots.km_placement import _GROUP_COLORS, KMPlacementDisplay

    demo = ModelBundle.load(Path(__file__).resolve().parents[1] / "resources" / "models" / "demo.radgui-model")
    b = copy.copy(demo)
    b.outcome = {**demo.outcome, "direction": direction}
    pred = Prediction(probability=0.2, ci_low=0.1, ci_high=0.3, linear_predictor=-1.4, radscore=None)
    pred.risk_group = "low"
    d = KMPlacementDisplay(b, pred).plot(Figure(figsize=(9, 4)))
    assert set(d.curves_) == set(names.values())
    worse = names["high"] if direction == "adverse" else names["low"]
    better = (set(names.values()) - {worse}).pop()
    assert to_hex(d.km_.lines_[worse].get_color()) == _GROUP_COLORS["high"]
    assert to_hex(d.km_.lines_[better].get_color()) == _GROUP_COLORS["low"]
    assert d.summary_text_.startswith(f"{names['low']} group")


def test_solver_non_convergence_is_reported():
    """A scikit-learn ConvergenceWarning raised while fitting the final model becomes a warning line."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from radgui.model.learners import build_pipeline
    from radgui.model.train import Cohort, _fit_warnings

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=list("abc"))
    y = (X["a"] + rng.normal(size=60) > 0).astype(int).to_numpy()
    model = build_pipeline({"zscore": {}}, {"name": "logistic"}).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("lbfgs failed to converge after 5000 iterations", ConvergenceWarning)
    msgs = _fit_warnings("radiomics", model, Cohort(X, pd.DataFrame(index=X.index), y), caught)
    assert msgs == ["Radiomics model: solver warning: ConvergenceWarning: lbfgs failed to converge after 5000 "
                    "iterations"]
