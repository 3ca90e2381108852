"""radgui.model.patient: only the needed features, equal to a full extraction; clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk

from radgui.errors import ClinicalValueError, PredictionInputError
from radgui.model.bundle import ModelBundle
from radgui.model.patient import iter_predict, parse_feature_name, predict, restrict_preset

FEATURES = {"original_firstorder_Mean": 0.01, "original_glcm_Contrast": 0.05, "original_shape_MeshVolume": 0.001}
RANGES = {"original_firstorder_Mean": (-300, 100), "original_glcm_Contrast": (0, 100),
          "original_shape_MeshVolume": (0, 5000)}


@pytest.fixture(scope="module")
def demo_case():
    from radgui.cli.demo import load_demo

    return load_demo()


@pytest.fixture(scope="module")
def full_features(demo_case):
    """Every ct-original feature of the demo tumour (the reference)."""
    from radgui.features import extract

    volume, mask = demo_case
    return extract(volume, {"tumour": mask}, "ct-original").loc["tumour"]


@pytest.fixture
def formula_bundle():
    return ModelBundle.from_formula(-1.0, FEATURES, ranges=RANGES, cutoff=0.0, name="test formula")


def test_restrict_preset_keeps_only_what_is_named():
    params = restrict_preset("ct-wavelet", ["wavelet-HLL_glcm_Imc1", "original_shape_Sphericity",
                                            "original_firstorder_Mean"])
    assert set(params["imageType"]) == {"Wavelet", "Original"}
    assert params["featureClass"] == {"glcm": ["Imc1"], "shape": ["Sphericity"], "firstorder": ["Mean"]}
    # settings untouched (same values as the full preset)
    from radgui.features import load_preset

    assert params["setting"] == load_preset("ct-wavelet").params["setting"]
    log = restrict_preset("ct-log", ["log-sigma-3-0-mm-3D_firstorder_Median"])
    assert log["imageType"]["LoG"]["sigma"] == [3.0]
    with pytest.raises(PredictionInputError, match="not a PyRadiomics feature name"):
        parse_feature_name("radscore")
    with pytest.raises(PredictionInputError, match="unknown PyRadiomics image type 'foo'"):
        restrict_preset("ct-original", ["foo_glcm_Imc1"])


def test_predict_matches_full_extraction_and_formula(demo_case, full_features, formula_bundle):
    volume, mask = demo_case
    steps = []
    gen = iter_predict(formula_bundle, volume, {"tumour": mask}, {})
    while True:
        try:
            steps.append(next(gen))
        except StopIteration as stop:
            pred = stop.value
            break
    assert steps[0].message.startswith("checking clinical") and steps[-1].done == 100
    for f in FEATURES:  # the restricted extraction gives the full extraction's values
        assert pred.features[f] == pytest.approx(full_features[f], rel=1e-12)
    lp = -1.0 + sum(c * full_features[f] for f, c in FEATURES.items())
    assert pred.linear_predictor == pytest.approx(lp, rel=1e-12)
    assert pred.probability == pytest.approx(1 / (1 + math.exp(-lp)), rel=1e-12)
    assert pred.risk_group == ("high" if lp >= 0 else "low")
    assert math.isnan(pred.ci_low)  # a published formula has no covariance
    assert any("no confidence interval" in w for w in pred.warnings)


def test_multi_roi_bundle_uses_prefixed_features(demo_case):
    from scipy.ndimage import binary_dilation

    from radgui.features import extract, flatten

    volume, mask = demo_case
    arr = sitk.GetArrayFromImage(mask) > 0
    ring = binary_dilation(arr, iterations=2) & ~arr  # a shell around the tumour
    coefs = {"tumour__original_firstorder_Mean": 0.02, "ring3mm__original_firstorder_Mean": 0.01,
             "ring3mm__original_glcm_JointEnergy": 1.0}
    bundle = ModelBundle.from_formula(0.5, coefs)
    pred = predict(bundle, volume, {"tumour": mask, "ring3mm": ring}, {})
    ref = flatten(extract(volume, {"tumour": arr, "ring3mm": ring}, "ct-original"))
    for f in coefs:
        assert pred.features[f] == pytest.approx(ref[f], rel=1e-12)
    assert pred.linear_predictor == pytest.approx(0.5 + sum(c * ref[f] for f, c in coefs.items()), rel=1e-12)


def test_bad_inputs_are_clear(demo_case, formula_bundle):
    volume, mask = demo_case
    # ROI absent
    ring_bundle = ModelBundle.from_formula(0.0, {"ring3mm__original_firstorder_Mean": 0.1})
    with pytest.raises(PredictionInputError, match="needs the ROI 'ring3mm'.*ROIs present: tumour"):
        predict(ring_bundle, volume, {"tumour": mask}, {})
    with pytest.raises(PredictionInputError, match="needs a tumour ROI but the study has none"):
        predict(formula_bundle, volume, {}, {})
    # PET ROI needed on a CT-only study
    pet_bundle = ModelBundle.from_formula(0.0, {"tumour__original_firstorder_Mean": 0.1,
                                                "pet_tumour__original_firstorder_Maximum": 0.3})
    with pytest.raises(PredictionInputError, match="needs the PET ROI 'pet_tumour' but the study has only CT"):
        predict(pet_bundle, volume, {"tumour": mask, "pet_tumour": mask}, {})
    # empty ROI: the feature engine names it
    from radgui.errors import EmptyMaskError

    with pytest.raises(EmptyMaskError, match="'tumour' is empty"):
        predict(formula_bundle, volume, {"tumour": np.zeros(volume.shape, bool)}, {})


def test_clinical_errors_come_before_any_feature_work(demo_case):
    from radgui.demo import demo_model_path

    volume, mask = demo_case
    bundle = ModelBundle.load(demo_model_path())
    gen = iter_predict(bundle, volume, {"tumour": mask}, {"ecog": "1"})
    next(gen)  # the first step: checking clinical values
    with pytest.raises(ClinicalValueError, match="'nlr' is missing"):
        next(gen)
    with pytest.raises(ClinicalValueError, match="'nlr' = 99 ratio is out of range"):
        predict(bundle, volume, {"tumour": mask}, {"ecog": "1", "nlr": 99})
    with pytest.raises(ClinicalValueError, match="'ecog' = '7' is not an allowed category"):
        predict(bundle, volume, {"tumour": mask}, {"ecog": "7", "nlr": 3})


def test_spacing_and_modality_warnings(demo_case, formula_bundle):
    volume, mask = demo_case
    formula_bundle.provenance.update(modality="MR", spacing_mm={"min": [1.0, 0.5, 0.5], "max": [1.5, 0.8, 0.8]})
    pred = predict(formula_bundle, volume, {"tumour": mask}, {})
    text = " ".join(pred.warnings)
    assert "image modality is CT but the model was trained on MR images" in text
    assert "voxel spacing (z 5 mm) is unlike the training cohort's" in text
    formula_bundle.provenance.update(modality="CT", spacing_mm={"min": [3.0, 0.5, 0.5], "max": [5.0, 0.9, 0.9]})
    pred = predict(formula_bundle, volume, {"tumour": mask}, {})
    assert not [w for w in pred.warnings if "spacing" in w or "modality" in w]


def test_radgui_model_predict_is_the_patient_function():
    import radgui.model
    from radgui.model import patient

    assert radgui.model.predict is patient.predict and radgui.model.iter_predict is patient.iter_predict
    assert radgui.model.Prediction.__name__ == "Prediction"  # lazy submodule access does not rebind it
    assert radgui.model.predict is patient.predict


def test_pet_roi_uses_the_pet_volume_and_pet_preset(demo_case):
    from radgui.demo.cohort import render_phantom
    from radgui.features import extract
    from radgui.io.volume import Volume

    ct, ct_mask = demo_case
    ph = render_phantom(9.0, 0.7, (4.0, 4.0, 4.0), seed=11)
    img, msk = ph.to_sitk()
    suv = sitk.GetImageFromArray(np.clip(ph.image, 0, None).astype(np.float32) / 100.0)
    suv.CopyInformation(img)
    pet = Volume(suv, "PT", {"name": "pet"})
    coefs = {"tumour__original_firstorder_Mean": 0.01, "pet_tumour__original_firstorder_Maximum": 0.3,
             "pet_tumour__original_glcm_Contrast": 0.05}
    bundle = ModelBundle.from_formula(-1.0, coefs)
    pred = predict(bundle, {"CT": ct, "PT": pet}, {"tumour": ct_mask, "pet_tumour": (pet, msk)}, {})
    ref_pet = extract(pet, {"pet_tumour": msk}, "pet-suv").loc["pet_tumour"]  # SUV bin width 0.25
    ref_ct = extract(ct, {"tumour": ct_mask}, "ct-original").loc["tumour"]
    assert pred.features["pet_tumour__original_firstorder_Maximum"] == pytest.approx(
        ref_pet["original_firstorder_Maximum"], rel=1e-12)
    assert pred.features["pet_tumour__original_glcm_Contrast"] == pytest.approx(
        ref_pet["original_glcm_Contrast"], rel=1e-12)
    assert pred.features["tumour__original_firstorder_Mean"] == pytest.approx(
        ref_ct["original_firstorder_Mean"], rel=1e-12)
