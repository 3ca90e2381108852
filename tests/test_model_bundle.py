"""Model bundle: save/load round trip, validation, refusal of unsafe files, prediction and nomogram."""

from __future__ import annotations

import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit

from radgui.errors import BundleError, ClinicalValueError, FeatureValueError
from radgui.model.bundle import LinearModel, ModelBundle, Predictor, Term, nomogram_scales
from radgui.model.predict import lp_to_probability, predict_from_features, total_points_to_lp

FEATS = ["original_firstorder_Mean", "tumour__original_glcm_Idm"]


def _fit_reference():
    """A GLM fitted by statsmodels on synthetic data: the independent truth."""
    rng = np.random.default_rng(7)
    n = 300
    f = rng.normal([40.0, 0.5], [10.0, 0.1], size=(n, 2))
    mean, sd = f.mean(0), f.std(0)
    z = (f - mean) / sd
    rs_int, rs_coef = -0.2, np.array([0.8, -0.5])
    radscore = rs_int + z @ rs_coef
    age = rng.uniform(30, 85, n)
    ecog = rng.choice(["0", "1", "2"], n)
    lp = -3 + 1.1 * radscore + 0.04 * age + 0.7 * (ecog == "1") + 1.3 * (ecog == "2")
    y = (rng.random(n) < expit(lp)).astype(int)
    X = np.column_stack([np.ones(n), radscore, age, ecog == "1", ecog == "2"]).astype(float)
    res = sm.GLM(y, X, family=sm.families.Binomial()).fit()
    return dict(f=f, mean=mean, sd=sd, rs_int=rs_int, rs_coef=rs_coef, radscore=radscore, age=age, ecog=ecog,
                y=y, X=X, res=res)


@pytest.fixture(scope="module")
def ref():
    return _fit_reference()


def make_bundle(ref) -> ModelBundle:
    res = ref["res"]
    b = res.params
    terms = [Term("radscore", coefficient=b[1], label="Radscore",
                  p01=float(np.percentile(ref["radscore"], 1)), p99=float(np.percentile(ref["radscore"], 99))),
             Term("age", coefficient=b[2], label="Age (years)"),
             Term("ecog", type="categorical", reference="0", coefficients={"1": b[3], "2": b[4]}, label="ECOG")]
    lm = LinearModel(link="logit", intercept=b[0], terms=terms, covariance=np.asarray(res.cov_params()))
    preds = [Predictor(name=f, source="radiomics", p01=float(np.percentile(ref["f"][:, i], 1)),
                       p99=float(np.percentile(ref["f"][:, i], 99))) for i, f in enumerate(FEATS)]
    preds += [Predictor(name="age", source="clinical", unit="years", min=18, max=100, p01=31, p99=84),
              Predictor(name="ecog", source="clinical", type="categorical", categories=["0", "1", "2"])]
    bundle = ModelBundle(
        name="test", model_kind="logistic", outcome={"name": "response", "type": "binary", "positive": "1"},
        predictors=preds,
        zscore={"features": FEATS, "mean": list(ref["mean"]), "sd": list(ref["sd"])},
        radscore={"intercept": ref["rs_int"], "coefficients": dict(zip(FEATS, ref["rs_coef"]))},
        linear_model=lm, cutoff={"value": 0.4, "scale": "probability", "method": "youden"},
        provenance={"n_patients": 300, "feature_preset": {"name": "ct-default", "hash": "abc"}},
        reference_cohort=pd.DataFrame({"linear_predictor": ref["X"] @ b, "risk_group": "low",
                                       "time": 1.0, "event": 0}),
    )
    bundle.nomogram = nomogram_scales(lm, {"radscore": (terms[0].p01, terms[0].p99), "age": (20, 90)})
    return bundle


def _patient(ref, i):
    feats = {f: float(ref["f"][i, j]) for j, f in enumerate(FEATS)}
    return feats, {"age": float(ref["age"][i]), "ecog": ref["ecog"][i]}


def test_prediction_matches_statsmodels(ref):
    bundle = make_bundle(ref)
    res = ref["res"]
    frame = res.get_prediction(ref["X"][:20]).summary_frame(alpha=0.05)
    for i in range(20):
        feats, clin = _patient(ref, i)
        pred = predict_from_features(bundle, feats, clin)
        assert pred.radscore == pytest.approx(ref["radscore"][i], abs=1e-10)
        assert pred.probability == pytest.approx(frame["mean"].iloc[i], rel=1e-9)
        assert pred.ci_low == pytest.approx(frame["mean_ci_lower"].iloc[i], rel=1e-6)
        assert pred.ci_high == pytest.approx(frame["mean_ci_upper"].iloc[i], rel=1e-6)
        assert pred.risk_group == ("high" if pred.probability >= 0.4 else "low")


def test_round_trip_identical(tmp_path, ref):
    bundle = make_bundle(ref)
    path = bundle.save(tmp_path / "m.radgui-model")
    loaded = ModelBundle.load(path)
    for i in range(10):
        feats, clin = _patient(ref, i)
        a = predict_from_features(bundle, feats, clin)
        b = predict_from_features(loaded, feats, clin)
        assert a.to_dict() == b.to_dict()
    assert loaded.provenance["feature_preset"]["hash"] == "abc"
    assert len(loaded.reference_cohort) == 300
    assert loaded.radiomics_features == FEATS


def test_nomogram_points_invert_to_probability(ref):
    bundle = make_bundle(ref)
    feats, clin = _patient(ref, 3)
    pred = predict_from_features(bundle, feats, clin)
    lp = total_points_to_lp(bundle, pred.total_points)
    assert lp == pytest.approx(pred.linear_predictor, abs=1e-9)
    assert lp_to_probability(bundle, lp) == pytest.approx(pred.probability, abs=1e-12)
    # the widest term spans exactly 100 points
    spans = []
    for ax in bundle.nomogram["axes"]:
        if ax["type"] == "categorical":
            c = [0, *bundle.linear_model.terms[2].coefficients.values()]
            spans.append((max(c) - min(c)) * bundle.nomogram["points_per_lp"])
        else:
            t = next(t for t in bundle.linear_model.terms if t.name == ax["term"])
            spans.append(abs(t.coefficient) * (ax["high"] - ax["low"]) * bundle.nomogram["points_per_lp"])
    assert max(spans) == pytest.approx(100)


def test_nomogram_known_coefficients():
    """Axis ticks sit where the coefficients put them: points = (b*x - min) * 100 / widest span."""
    terms = [Term("radscore", coefficient=2.0), Term("age", coefficient=-0.05)]
    lm = LinearModel(link="logit", intercept=-1.0, terms=terms)
    scales = nomogram_scales(lm, {"radscore": (-1.0, 1.0), "age": (20.0, 80.0)})
    # radscore spans 4 lp units -> 100 points; age spans 3 lp units -> 75 points
    assert scales["points_per_lp"] == pytest.approx(25.0)
    assert scales["max_total_points"] == pytest.approx(175.0)
    # lp at zero points: intercept + min contributions (2*-1) + (-0.05*80)
    assert scales["lp_at_zero_points"] == pytest.approx(-1.0 - 2.0 - 4.0)
    bundle = ModelBundle(name="k", model_kind="logistic", outcome={"name": "y", "type": "binary"},
                         predictors=[Predictor("f", "radiomics"), Predictor("age", "clinical", min=0, max=120)],
                         radscore={"intercept": 0.0, "coefficients": {"f": 1.0}}, linear_model=lm, nomogram=scales)
    pred = predict_from_features(bundle, {"f": 0.5}, {"age": 40})
    assert pred.points["radscore"] == pytest.approx((2 * 0.5 + 2) * 25)   # 75
    assert pred.points["age"] == pytest.approx((-0.05 * 40 + 4) * 25)     # 50
    from matplotlib.figure import Figure

    from radgui.plots.nomogram import NomogramDisplay

    disp = NomogramDisplay(bundle, pred).plot(ax=Figure().add_subplot())
    # the tick labelled 0 on the radscore axis is at x = 50 points
    texts = [(t.get_position(), t.get_text()) for t in disp.ax_.texts]
    y = disp.rows_["radscore"]
    zero = [pos for pos, s in texts if s == "0" and abs(pos[1] - y) < 0.5]
    assert zero and zero[0][0] == pytest.approx(50.0)


def test_nomogram_figure(tmp_path, ref):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from radgui.plots.nomogram import NomogramDisplay

    bundle = make_bundle(ref)
    feats, clin = _patient(ref, 5)
    pred = predict_from_features(bundle, feats, clin)
    fig = Figure(figsize=(9, 5))
    FigureCanvasAgg(fig)
    disp = NomogramDisplay(bundle, pred).plot(ax=fig.add_subplot())
    fig.savefig(tmp_path / "nomo.png", dpi=80)
    assert (tmp_path / "nomo.png").stat().st_size > 5000
    assert set(disp.rows_) >= {"Points", "Radscore", "Age (years)", "ECOG", "Total Points"}


# ---------------------------------------------------------------- bad inputs

def test_missing_clinical_value(ref):
    bundle = make_bundle(ref)
    feats, clin = _patient(ref, 0)
    del clin["age"]
    with pytest.raises(ClinicalValueError, match="'age' is missing"):
        predict_from_features(bundle, feats, clin)


def test_out_of_range_clinical_value(ref):
    bundle = make_bundle(ref)
    feats, clin = _patient(ref, 0)
    clin["age"] = 130
    with pytest.raises(ClinicalValueError, match=r"'age' = 130 years is out of range \(allowed 18 to 100 years\)"):
        predict_from_features(bundle, feats, clin)
    clin["age"], clin["ecog"] = 50, "4"
    with pytest.raises(ClinicalValueError, match="'ecog' = '4' is not an allowed category"):
        predict_from_features(bundle, feats, clin)


def test_category_given_as_number(ref):
    bundle = make_bundle(ref)
    feats, clin = _patient(ref, 0)
    clin["ecog"] = 1
    a = predict_from_features(bundle, feats, clin)
    clin["ecog"] = "1"
    assert predict_from_features(bundle, feats, clin).probability == a.probability


def test_missing_feature(ref):
    bundle = make_bundle(ref)
    feats, clin = _patient(ref, 0)
    del feats[FEATS[1]]
    with pytest.raises(FeatureValueError, match="tumour__original_glcm_Idm"):
        predict_from_features(bundle, feats, clin)


def test_out_of_training_range_warns(ref):
    bundle = make_bundle(ref)
    feats, clin = _patient(ref, 0)
    feats[FEATS[0]] = 400.0
    pred = predict_from_features(bundle, feats, clin)
    assert any(FEATS[0] in w and "1st-99th" in w for w in pred.warnings)
    assert any("Radscore" in w for w in pred.warnings)


def _rewrite(path, out, doc=None, extra=None):
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "model.json" and doc is not None:
                data = json.dumps(doc).encode()
            zout.writestr(name, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return out


@pytest.fixture()
def saved(tmp_path, ref):
    path = make_bundle(ref).save(tmp_path / "ok.radgui-model")
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read("model.json"))
    return path, doc


def test_refuses_wrong_schema_version(saved, tmp_path):
    path, doc = saved
    doc["schema_version"] = 99
    bad = _rewrite(path, tmp_path / "v99.radgui-model", doc)
    with pytest.raises(BundleError, match="schema version 99 is newer"):
        ModelBundle.load(bad)
    doc["schema_version"] = "1"
    bad = _rewrite(path, tmp_path / "vstr.radgui-model", doc)
    with pytest.raises(BundleError, match="schema_version"):
        ModelBundle.load(bad)


@pytest.mark.parametrize("drop, message", [
    (("linear_model", "intercept"), "linear_model.intercept' is missing"),
    (("predictors",), "'predictors' is missing"),
    (("outcome", "type"), "'outcome.type' is missing"),
    (("provenance",), "'provenance' is missing"),
])
def test_refuses_missing_field(saved, tmp_path, drop, message):
    path, doc = saved
    target = doc
    for key in drop[:-1]:
        target = target[key]
    del target[drop[-1]]
    bad = _rewrite(path, tmp_path / "missing.radgui-model", doc)
    with pytest.raises(BundleError, match=message):
        ModelBundle.load(bad)


def test_refuses_bad_values(saved, tmp_path):
    path, doc = saved
    doc["linear_model"]["covariance"] = [[1.0, 2.0], [2.0, 1.0]]
    with pytest.raises(BundleError, match="covariance' must be a finite 5x5 matrix"):
        ModelBundle.load(_rewrite(path, tmp_path / "cov.radgui-model", doc))
    doc = json.loads(json.dumps(saved[1]))
    doc["radscore"]["coefficients"]["not_a_predictor"] = 1.0
    with pytest.raises(BundleError, match="not listed in 'predictors'"):
        ModelBundle.load(_rewrite(path, tmp_path / "coef.radgui-model", doc))


def test_refuses_pickle(saved, tmp_path):
    path, _ = saved

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    payload = pickle.dumps(Evil())
    with pytest.raises(BundleError, match="pickle"):
        ModelBundle.load(_rewrite(path, tmp_path / "p1.radgui-model", extra={"model.pkl": payload}))
    # a pickle hidden under an allowed name is refused too
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp_path / "p2.radgui-model", "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, zin.read(name))
        zout.writestr("estimator.skops", payload)
    with pytest.raises(BundleError, match="pickle"):
        ModelBundle.load(tmp_path / "p2.radgui-model")


def test_refuses_non_zip_and_unknown_member(saved, tmp_path):
    path, _ = saved
    junk = tmp_path / "junk.radgui-model"
    junk.write_text("hello")
    with pytest.raises(BundleError, match="not a zip"):
        ModelBundle.load(junk)
    with pytest.raises(BundleError, match="unexpected archive member 'notes.txt'"):
        ModelBundle.load(_rewrite(path, tmp_path / "x.radgui-model", extra={"notes.txt": b"hi"}))


def test_from_formula(tmp_path):
    b = ModelBundle.from_formula(-1.0, {"f1": 0.5, "f2": -2.0}, cutoff=-0.3,
                                 ranges={"f1": (0.0, 4.0), "f2": (0.0, 1.0)}, source="Doe 2020")
    path = b.save(tmp_path / "pub")
    loaded = ModelBundle.load(path)
    pred = predict_from_features(loaded, {"f1": 2.0, "f2": 0.25}, {})
    assert pred.radscore == pytest.approx(-1.0 + 1.0 - 0.5)
    assert pred.probability == pytest.approx(expit(-0.5))
    assert pred.risk_group == "low"
    assert np.isnan(pred.ci_low) and any("no confidence interval" in w for w in pred.warnings)
    assert pred.total_points == pytest.approx(total_points_to_lp(loaded, 0) * 0 + pred.total_points)
    assert total_points_to_lp(loaded, pred.total_points) == pytest.approx(-0.5)


def test_refuses_untrusted_skops_type(saved, tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    path, doc = saved
    doc["estimator"] = {"file": "estimator.skops", "features": ["age"]}
    payload = sio.dumps(FunctionTransformer(func=np.exp))
    bad = _rewrite(path, tmp_path / "sk.radgui-model", doc, extra={"estimator.skops": payload})
    with pytest.raises(BundleError, match="untrusted types"):
        ModelBundle.load(bad)


@pytest.mark.parametrize("name", ["svm", "xgboost", pytest.param("stacking", marks=pytest.mark.slow)])
def test_skops_learners_round_trip_with_trusted_list(name):
    import skops.io as sio

    from radgui.model.bundle import _load_skops
    from radgui.model.learners import deployable, make_learner

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    y = (X["a"] + rng.normal(size=60) > 0).astype(int)
    model = make_learner({"name": name, "tune": {"n_iter": 1, "folds": 2}, "stack_folds": 3}, seed=0).fit(X, y)
    loaded = _load_skops(sio.dumps(deployable(model)), None)
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))


def test_cli_from_formula(tmp_path, capsys):
    from radgui.cli import main
    from radgui.cli.model import parse_formula

    assert parse_formula("Radscore = -1.2 + 0.8*a - 3e-2*log-sigma-3-0-mm-3D_glcm_Idm") == \
        (-1.2, {"a": 0.8, "log-sigma-3-0-mm-3D_glcm_Idm": -0.03})
    out = tmp_path / "paper.radgui-model"
    assert main(["model", "from-formula", "--formula", "-1.2 + 0.8*f1 - 0.3*f2", "--cutoff", "-0.4",
                 "--range", "f1=0:3", "--range", "f2=-1:1", "--source", "Doe 2021", "--out", str(out)]) == 0
    bundle = ModelBundle.load(out)
    pred = predict_from_features(bundle, {"f1": 1.0, "f2": 0.5}, {})
    assert pred.radscore == pytest.approx(-1.2 + 0.8 - 0.15)
    assert pred.probability == pytest.approx(expit(-0.55))
    assert pred.risk_group == "low" and pred.total_points is not None
    assert bundle.provenance["source"] == "Doe 2021"
    assert main(["model", "from-formula", "--formula", "-1.2 + 0.8*f1 + oops", "--out", str(out)]) == 2
    assert "cannot read '+oops'" in capsys.readouterr().err
