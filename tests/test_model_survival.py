"""Survival models (lifelines), Cox bundles, bootstrap-coefficient intervals and reference percentiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import percentileofscore

from radgui.model.bundle import LinearModel, ModelBundle, Predictor, Term, nomogram_scales
from radgui.model.predict import predict_from_features, total_points_to_lp
from radgui.model.survival import LassoCox, cox_linear_model


def _cohort(n=250, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"f{i}" for i in range(6)])
    lp = 1.0 * X["f0"] - 0.8 * X["f1"]
    t = rng.exponential(10 * np.exp(-lp))
    c = rng.exponential(15, n)
    return X, np.minimum(t, c), (t <= c).astype(int)


@pytest.fixture(scope="module")
def cox_fit():
    X, time, event = _cohort()
    frame = X.assign(time=time, event=event)
    return frame, cox_linear_model(frame, "time", "event", ["f0", "f1"], horizon=12.0)


def _cox_bundle(frame, fit):
    res, params, cov, s0 = fit
    terms = [Term("radscore", coefficient=1.0, label="Radscore")]
    lm = LinearModel(link="cox", intercept=0.0, terms=terms, covariance=np.array([[0.0]]),
                     baseline_survival=s0, horizon=12.0)
    rs = frame[["f0", "f1"]].to_numpy() @ params.to_numpy()
    ref = pd.DataFrame({"linear_predictor": rs, "risk_group": np.where(rs > np.median(rs), "high", "low"),
                        "time": frame["time"], "event": frame["event"]})
    return ModelBundle(name="cox", model_kind="cox", outcome={"name": "progression", "type": "survival"},
                       predictors=[Predictor("f0", "radiomics"), Predictor("f1", "radiomics")],
                       radscore={"intercept": 0.0, "coefficients": {"f0": float(params["f0"]), "f1": float(params["f1"])}},
                       linear_model=lm, cutoff={"value": float(np.median(rs)), "scale": "linear_predictor",
                                                "method": "median"},
                       nomogram=nomogram_scales(lm, {"radscore": (float(rs.min()), float(rs.max()))}),
                       reference_cohort=ref, provenance={})


def test_cox_recovers_truth_and_baseline(cox_fit):
    frame, (res, params, cov, s0) = cox_fit
    assert params["f0"] == pytest.approx(1.0, abs=0.2) and params["f1"] == pytest.approx(-0.8, abs=0.2)
    assert cov.shape == (2, 2) and np.all(np.diag(cov) > 0)
    assert 0.6 < res.concordance < 0.9


def test_cox_bundle_matches_lifelines(cox_fit, tmp_path):
    frame, fit = cox_fit
    bundle = ModelBundle.load(_cox_bundle(frame, fit).save(tmp_path / "cox"))
    model = fit[0].model
    surv = model.predict_survival_function(frame[["f0", "f1"]].iloc[:8], times=[12.0]).to_numpy().ravel()
    for i in range(8):
        pred = predict_from_features(bundle, frame[["f0", "f1"]].iloc[i].to_dict(), {})
        assert pred.probability == pytest.approx(1 - surv[i], abs=1e-9)   # P(event by 12)
        ref = bundle.reference_cohort["linear_predictor"]
        assert pred.percentile == pytest.approx(percentileofscore(ref, pred.linear_predictor, kind="mean"))
        assert pred.risk_group == ("high" if pred.linear_predictor >= bundle.cutoff["value"] else "low")
        assert total_points_to_lp(bundle, pred.total_points) == pytest.approx(pred.linear_predictor)


def test_bootstrap_coefficient_interval_close_to_delta(tmp_path):
    rng = np.random.default_rng(3)
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    draws = rng.multivariate_normal([-0.5, 1.2], cov, size=20000)
    base = dict(name="b", model_kind="logistic", outcome={"name": "y", "type": "binary"},
                predictors=[Predictor("f", "radiomics")], radscore={"intercept": 0.0, "coefficients": {"f": 1.0}})
    delta = ModelBundle(**base, linear_model=LinearModel("logit", -0.5, [Term("radscore", coefficient=1.2)],
                                                         covariance=cov))
    boot = ModelBundle(**base, linear_model=LinearModel("logit", -0.5, [Term("radscore", coefficient=1.2)],
                                                        bootstrap=draws))
    boot = ModelBundle.load(boot.save(tmp_path / "boot"))
    a = predict_from_features(delta, {"f": 0.7}, {})
    b = predict_from_features(boot, {"f": 0.7}, {})
    assert a.probability == b.probability
    assert b.ci_low == pytest.approx(a.ci_low, abs=0.01) and b.ci_high == pytest.approx(a.ci_high, abs=0.01)


def test_lasso_cox_selects_true_features():
    X, time, event = _cohort(n=200, seed=1)
    m = LassoCox(folds=3, n_lambdas=20, random_state=0).fit(X, time, event)
    assert {"f0", "f1"} <= set(m.selected_)
    assert abs(m.coef_["f0"]) > 5 * abs(m.coef_[["f2", "f3", "f4", "f5"]]).max()
    risk = m.predict_risk(X)
    from radgui.stats import concordance_index

    assert concordance_index(time, event, risk) > 0.65
