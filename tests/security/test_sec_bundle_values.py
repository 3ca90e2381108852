"""Bundle values that must be refused: impossible Cox survival, horizons, overflowing
coefficients, probability cutoffs outside 0-1, nomograms that disagree with the model,
preset paths and unbounded feature demands; non-finite predictions are errors."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pandas as pd
import pytest

from radgui.errors import BundleError, PresetError
from radgui.model.bundle import LinearModel, ModelBundle, Predictor, Term, nomogram_scales
from radgui.model.predict import predict_from_features

F = "original_firstorder_Mean"


def _cox(tmp_path, *, s0=0.7, horizon=12.0, follow_up=60.0):
    lm = LinearModel(link="cox", intercept=0.0, terms=[Term("radscore", coefficient=0.8), Term("age", coefficient=0.02)],
                     baseline_survival=s0, horizon=horizon)
    b = ModelBundle(name="cox", model_kind="cox", outcome={"name": "death", "type": "survival"},
                    predictors=[Predictor(F, "radiomics"), Predictor("age", "clinical", unit="years", min=18, max=100)],
                    radscore={"intercept": 0.0, "coefficients": {F: 0.01}}, linear_model=lm,
                    reference_cohort=pd.DataFrame({"linear_predictor": [0.1, 0.5], "risk_group": ["low", "high"],
                                                   "time": [3.0, follow_up], "event": [1, 0]}))
    return b.save(tmp_path / "cox")


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _edit(path, tmp_path, edit, name="edited"):
    members = _members(path)
    doc = json.loads(members["model.json"])
    edit(doc)
    members["model.json"] = json.dumps(doc).encode()
    out = tmp_path / f"{name}.radgui-model"
    with zipfile.ZipFile(out, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    return out


def test_genuine_cox_bundle_predicts_a_probability(tmp_path):
    b = ModelBundle.load(_cox(tmp_path))
    p = predict_from_features(b, {F: 10.0}, {"age": 60})
    lp = 0.8 * 0.1 + 0.02 * 60
    assert p.probability == pytest.approx(1 - 0.7 ** math.exp(lp))


@pytest.mark.parametrize("field, value, message", [
    ("baseline_survival", 1.5, "baseline_survival' must lie strictly between 0 and 1"),
    ("baseline_survival", 0.0, "baseline_survival' must lie strictly between 0 and 1"),
    ("horizon", 0.0, "horizon' must be a positive time"),
    ("horizon", -5.0, "horizon' must be a positive time"),
    ("horizon", 100_000.0, r"horizon' \(100000\) lies beyond the reference cohort's longest follow-up \(60\)"),
    ("intercept", 1e308, "intercept' is 1e\\+308, beyond"),
])
def test_impossible_cox_values_are_refused(tmp_path, field, value, message):
    bad = _edit(_cox(tmp_path), tmp_path, lambda d: d["linear_model"].__setitem__(field, value))
    with pytest.raises(BundleError, match=message):
        ModelBundle.load(bad)


def _logistic(tmp_path):
    b = ModelBundle.from_formula(-1.0, {F: 0.01}, cutoff=0.4, cutoff_scale="probability", ranges={F: (-100.0, 100.0)})
    return b.save(tmp_path / "logit")


def test_probability_cutoff_outside_0_1_is_refused(tmp_path):
    bad = _edit(_logistic(tmp_path), tmp_path, lambda d: d["cutoff"].__setitem__("value", 5))
    with pytest.raises(BundleError, match="cutoff.value' is 5 on the probability scale"):
        ModelBundle.load(bad)


def test_overflowing_coefficients_are_refused(tmp_path):
    bad = _edit(_logistic(tmp_path), tmp_path, lambda d: d["radscore"].__setitem__("intercept", 1e308))
    with pytest.raises(BundleError, match="radscore.intercept' is 1e\\+308"):
        ModelBundle.load(bad)


@pytest.mark.parametrize("edit, message", [
    (lambda n: n.__setitem__("points_per_lp", -3.0), "points_per_lp' is -3 but the linear model gives"),
    (lambda n: n["axes"][0].__setitem__("min_contribution", -1e9), "min_contribution' is -1e\\+09"),
    (lambda n: n.__setitem__("max_total_points", 1e300), "max_total_points' is 1e\\+300"),
])
def test_nomogram_must_match_the_linear_model(tmp_path, edit, message):
    bad = _edit(_logistic(tmp_path), tmp_path, lambda d: edit(d["nomogram"]))
    with pytest.raises(BundleError, match=message):
        ModelBundle.load(bad)


def test_non_finite_prediction_is_an_error_not_a_number(tmp_path):
    """Finite, accepted coefficients and a finite (huge) feature value overflow the linear predictor."""
    b = ModelBundle.load(ModelBundle.from_formula(-1.0, {F: 1e5}).save(tmp_path / "big"))
    with pytest.raises(BundleError, match="non-finite"):
        predict_from_features(b, {F: 1e308}, {})
    cox = ModelBundle.load(_cox(tmp_path))
    with pytest.raises(BundleError, match="non-finite"):
        predict_from_features(cox, {F: 1e308}, {"age": 50})


@pytest.mark.parametrize("preset", ["/etc/hostile.yaml", "../x/preset.yml", {"name": "C:\\\\presets\\\\a.yaml"}])
def test_preset_path_in_provenance_is_refused(tmp_path, preset):
    bad = _edit(_logistic(tmp_path), tmp_path, lambda d: d["provenance"].__setitem__("feature_preset", preset))
    with pytest.raises(BundleError, match="radgui never reads a file a bundle names"):
        ModelBundle.load(bad)


def test_inline_preset_is_validated_bounded_and_used(tmp_path):
    from radgui.model.patient import needed_rois

    inline = {"name": "paper", "params": {"imageType": {"Original": {}}, "featureClass": {"firstorder": None},
                                          "setting": {"binWidth": 5, "label": 1}}}
    ok = _edit(_logistic(tmp_path), tmp_path, lambda d: d["provenance"].__setitem__("feature_preset", inline), "ok")
    need, = needed_rois(ModelBundle.load(ok), ["tumour"])
    assert need.preset.name == "paper" and need.preset.settings["binWidth"] == 5
    inline["params"]["setting"]["binWidth"] = 0.0001
    bad = _edit(_logistic(tmp_path), tmp_path, lambda d: d["provenance"].__setitem__("feature_preset", inline))
    with pytest.raises(BundleError, match="binWidth 0.0001 is below 0.01"):
        ModelBundle.load(bad)


def test_hundred_log_sigmas_in_feature_names_are_refused(tmp_path):
    names = [f"log-sigma-{i}-0-mm-3D_firstorder_Mean" for i in range(1, 101)]
    b = ModelBundle.from_formula(0.0, {n: 0.01 for n in names})
    with pytest.raises(BundleError, match="LoG asks for 100 sigmas"):
        b.save(tmp_path / "sigmas")


def test_preset_bounds_give_one_line_preset_errors():
    from radgui.features.presets import load_preset, presets

    for name in presets():  # shipped presets pass
        load_preset(name)
    base = {"imageType": {"Original": {}}, "setting": {"binWidth": 25}}
    for change, message in [
        ({"setting": {"binWidth": 0.0001}}, "binWidth 0.0001 is below 0.01"),
        ({"setting": {"binCount": 100000}}, "binCount 100000 is outside 1..1000"),
        ({"setting": {"binWidth": 0.05, "resegmentRange": [-1000, 3000]}}, "makes 80,000 grey levels"),
        ({"imageType": {"LoG": {"sigma": [float(s) for s in range(1, 30)]}}}, "LoG asks for 29 sigmas"),
        ({"imageType": {"Wavelet": {"level": 9}}}, "wavelet level 9 is outside 1..3"),
    ]:
        with pytest.raises(PresetError, match=message) as info:
            load_preset({**base, **change})
        assert "\n" not in str(info.value)
    assert np.isfinite(25)


def test_shipped_preset_travels_inline_and_its_hash_is_checked(tmp_path):
    from radgui.features.presets import load_preset
    from radgui.model.patient import needed_rois

    b = ModelBundle.from_formula(0.0, {F: 0.01})
    b.provenance["feature_preset"] = {"name": "ct-wavelet", "hash": ""}
    path = b.save(tmp_path / "inline")
    fp = json.loads(_members(path)["model.json"])["provenance"]["feature_preset"]
    shipped = load_preset("ct-wavelet")
    assert fp["yaml"] == shipped.text and fp["hash"] == shipped.sha256
    need, = needed_rois(ModelBundle.load(path), ["tumour"])
    assert need.preset.params == shipped.params
    bad = _edit(path, tmp_path, lambda d: d["provenance"]["feature_preset"].__setitem__(
        "yaml", fp["yaml"].replace("binWidth: 25", "binWidth: 5")))
    with pytest.raises(BundleError, match="does not match its recorded hash"):
        ModelBundle.load(bad)
