"""`radgui evaluate` of a Cox bundle: C-index, time-dependent AUC, calibration at the horizon and Kaplan-Meier,
each against lifelines / scikit-survival on the same predictions, with censoring respected."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from radgui.model.bundle import LinearModel, ModelBundle, Predictor, Term, nomogram_scales
from radgui.model.survival import cox_linear_model


def _cohort(n, seed, censor=15.0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 2)), columns=["f0", "f1"])
    lp = 1.0 * X["f0"] - 0.8 * X["f1"]
    t = rng.exponential(10 * np.exp(-lp))
    c = rng.exponential(censor, n)
    time = np.round(np.minimum(t, c), 1) + 0.1          # rounded: tied times, as in real follow-up data
    return X, time, (t <= c).astype(int)


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    X, time, event = _cohort(250, 0)
    frame = X.assign(time=time, event=event)
    res, params, cov, s0 = cox_linear_model(frame, "time", "event", ["f0", "f1"], horizon=12.0)
    rs = X.to_numpy() @ params.to_numpy()
    lm = LinearModel(link="cox", intercept=0.0, terms=[Term("radscore", coefficient=1.0, label="Radscore")],
                     covariance=np.array([[0.0]]), baseline_survival=s0, horizon=12.0)
    ref = pd.DataFrame({"linear_predictor": rs, "risk_group": np.where(rs >= np.median(rs), "high", "low"),
                        "time": time, "event": event})
    b = ModelBundle(name="cox demo", model_kind="cox", outcome={"name": "progression", "type": "survival",
                                                                "time_unit": "months"},
                    predictors=[Predictor("f0", "radiomics"), Predictor("f1", "radiomics")],
                    radscore={"intercept": 0.0, "coefficients": {k: float(v) for k, v in params.items()}},
                    linear_model=lm, cutoff={"value": float(np.median(rs)), "scale": "linear_predictor",
                                             "method": "median"},
                    nomogram=nomogram_scales(lm, {"radscore": (float(rs.min()), float(rs.max()))}),
                    reference_cohort=ref, provenance={"reference_cohort": {"time_unit": "months", "landmark": 12.0}})
    return b.save(tmp_path_factory.mktemp("cox") / "cox")


@pytest.fixture(scope="module")
def evaluated(bundle_path, tmp_path_factory):
    from radgui.cli import main

    tmp = tmp_path_factory.mktemp("ev")
    X, time, event = _cohort(120, 9)
    X.insert(0, "patient_id", [f"P{i:03d}" for i in range(120)])
    X.assign(pfs=time, progressed=event).to_csv(tmp / "features.csv", index=False)
    out = tmp / "out"
    code = main(["evaluate", str(bundle_path), str(tmp / "features.csv"), "--time", "pfs", "--event", "progressed",
                 "--out", str(out)])
    assert code == 0
    return (json.loads((out / "metrics.json").read_text()), pd.read_csv(out / "predictions.csv"), out,
            ModelBundle.load(bundle_path))


def test_c_index_equals_lifelines_on_the_same_predictions(evaluated):
    from lifelines.utils import concordance_index

    m, pred, out, _ = evaluated
    assert len(np.unique(pred["time"])) < len(pred)        # ties in time are present
    expected = concordance_index(pred["time"], -pred["linear_predictor"], pred["event"])
    assert m["c_index"]["harrell"] == pytest.approx(expected, abs=1e-12)
    assert m["survival"]["external"]["c_index_linear_predictor"] == pytest.approx(expected, abs=1e-12)
    assert (out / "report.pdf").read_bytes()[:4] == b"%PDF"


def test_time_dependent_auc_uno_and_brier_equal_scikit_survival(evaluated):
    from sksurv.metrics import brier_score, concordance_index_ipcw, cumulative_dynamic_auc
    from sksurv.util import Surv

    m, pred, _, bundle = evaluated
    ref = bundle.reference_cohort
    train = Surv.from_arrays(ref["event"].to_numpy() > 0, ref["time"].to_numpy(float))
    test = Surv.from_arrays(pred["event"].to_numpy() > 0, pred["time"].to_numpy(float))
    auc, _ = cumulative_dynamic_auc(train, test, pred["linear_predictor"].to_numpy(), [12.0])
    assert m["time_dependent"]["auc"] == pytest.approx(float(auc[0]), abs=1e-12)
    assert m["time_dependent"]["horizon"] == 12.0 and m["time_dependent"]["time_unit"] == "months"
    uno = concordance_index_ipcw(train, test, pred["linear_predictor"].to_numpy(), tau=12.0)[0]
    assert m["c_index"]["uno"] == pytest.approx(uno, abs=1e-12)
    _, bs = brier_score(train, test, 1 - pred["model"].to_numpy()[:, None], [12.0])
    assert m["time_dependent"]["brier"] == pytest.approx(float(bs[0]), abs=1e-12)


def test_calibration_at_horizon_is_kaplan_meier_by_risk_group(evaluated):
    from lifelines import CoxPHFitter, KaplanMeierFitter

    m, pred, _, bundle = evaluated
    cal = m["calibration_at_horizon"]
    # probability = 1 - S0(12) ** exp(lp), the bundle's own formula
    s0 = bundle.linear_model.baseline_survival
    np.testing.assert_allclose(pred["model"], 1 - s0 ** np.exp(pred["linear_predictor"]), rtol=1e-12)
    order = np.argsort(pred["model"].to_numpy(), kind="stable")
    assert len(cal["groups"]) == 5 and sum(g["n"] for g in cal["groups"]) == 120
    for g, idx in zip(cal["groups"], np.array_split(order, 5)):
        km = KaplanMeierFitter().fit(pred["time"].to_numpy()[idx], pred["event"].to_numpy()[idx])
        assert g["observed"] == pytest.approx(1 - float(km.survival_function_at_times(12.0).iloc[0]), abs=1e-12)
        assert g["predicted"] == pytest.approx(pred["model"].to_numpy()[idx].mean())
    km = KaplanMeierFitter().fit(pred["time"], pred["event"])
    observed = 1 - float(km.survival_function_at_times(12.0).iloc[0])
    assert cal["observed_expected"] == pytest.approx(observed / pred["model"].mean())
    slope = CoxPHFitter().fit(pred[["time", "event", "linear_predictor"]], "time", "event").params_.iloc[0]
    assert cal["slope"]["value"] == pytest.approx(slope, abs=1e-6)
    assert 0.6 < cal["slope"]["value"] < 1.5                   # same generative model: well calibrated
    assert 0.7 < cal["observed_expected"] < 1.4


def test_kaplan_meier_groups_use_the_bundle_cutoff(evaluated):
    m, pred, _, bundle = evaluated
    high = pred["linear_predictor"] >= bundle.cutoff["value"]
    assert (pred["risk_group"] == np.where(high, "high", "low")).all()
    s = m["survival"]["external"]
    assert s["n_high"] == int(high.sum()) and s["events_high"] == int(pred.loc[high, "event"].sum())
    assert s["logrank"]["p_value"] < 0.05 and s["cox_hr_high_vs_low"]["hr"] > 1


def test_trained_survival_bundle_evaluates_end_to_end(tmp_path, capsys):
    """A bundle from `radgui train` (survival-only config) goes through `radgui evaluate`."""
    import importlib.util
    from pathlib import Path

    import yaml

    from radgui.cli import main

    ex = Path(__file__).resolve().parents[1] / "examples" / "train"
    spec = importlib.util.spec_from_file_location("make_cohort", ex / "make_cohort.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    feats, clin = mod.make(100, 5)
    feats = feats.iloc[:, [0, *range(1, 9), 16, 31]]
    feats.to_csv(tmp_path / "features.csv", index=False)
    clin.to_csv(tmp_path / "clinical.csv", index=False)
    doc = {"features": "features.csv", "clinical": "clinical.csv", "name": "pfs model",
           "survival": {"time": "pfs_months", "event": "progression", "horizon": 24, "unit": "months"},
           "clinical_variables": {"age": {"type": "continuous", "min": 18, "max": 100}},
           "split": {"method": "none"}, "steps": {"zscore": {}, "lasso": {"folds": 3, "n_lambdas": 15}},
           "validation": {"repeats": 0, "folds": 3}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(doc))
    assert main(["train", str(tmp_path / "config.yaml"), "--out", str(tmp_path / "tr"), "--quiet"]) == 0
    m = json.loads((tmp_path / "tr" / "metrics.json").read_text())
    rs = m["final_model"]["terms"]["radscore"]
    assert rs["hr_scale"] == "per 1 Radscore unit" and rs["hr_per_sd"] == pytest.approx(
        np.exp(rs["coef"] * rs["radscore_sd"]))
    assert m["lasso_cox"]["rule"] == "1se" and m["lasso_cox"]["folds"] == 3 and m["lasso_cox"]["n_lambdas"] <= 15
    assert "per standard deviation" in m["methods"]
    td = m["survival"]["train"]["time_dependent"]
    assert td["horizon"] == 24 and 0.6 < td["auc"] <= 1 and 0 < td["brier"] < 0.25
    assert sum(g["n"] for g in m["survival"]["train"]["calibration_at_horizon"]["groups"]) == 100
    f2, c2 = mod.make(60, 11)
    f2.to_csv(tmp_path / "f2.csv", index=False)
    c2.to_csv(tmp_path / "c2.csv", index=False)
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "tr" / "model.radgui-model"), str(tmp_path / "f2.csv"), "--clinical",
                 str(tmp_path / "c2.csv"), "--time", "pfs_months", "--event", "progression",
                 "--out", str(tmp_path / "ev")]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    ev = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert line.startswith(f"C-index {ev['c_index']['harrell']:.3f} (Harrell); time-dependent AUC at 24 months ")
    assert ev["cohort"]["n_test"] == 60 and ev["c_index"]["harrell"] > 0.6
