"""The synthetic demo cohort follows its documented generative model; the shipped demo bundle is sound."""

from __future__ import annotations

import numpy as np
import pytest

from radgui.demo import DEMO_BANNER, EXAMPLE_CLINICAL, demo_model_path, is_demo
from radgui.demo.cohort import cohort_table, phantom_for, render_phantom, true_linear_predictor


def test_cohort_is_seeded_and_follows_the_generative_model():
    a, b = cohort_table(150, seed=7), cohort_table(150, seed=7)
    assert a.equals(b)
    assert not a.equals(cohort_table(150, seed=8))
    assert a["radius_mm"].between(5, 15).all() and a["heterogeneity"].between(0, 1).all()
    assert set(a["ecog"]) <= {"0", "1", "2"} and a["nlr"].between(0.5, 20).all()
    assert np.allclose(a["eta"], true_linear_predictor(a["radius_mm"], a["heterogeneity"], a["age"],
                                                       a["ecog"], a["nlr"]))
    # censoring never before 12 months, so the 12-month outcome is known for everyone
    assert (a.loc[a["event"] == 0, "pfs_months"] >= 12).all()
    assert ((a["progression_12m"] == 1) == ((a["event"] == 1) & (a["pfs_months"] <= 12))).all()
    # higher eta -> earlier progression (Weibull proportional hazards in eta)
    big = cohort_table(2000, seed=1)
    hi, lo = big["eta"] > big["eta"].median(), big["eta"] <= big["eta"].median()
    assert big.loc[hi, "progression_12m"].mean() > big.loc[lo, "progression_12m"].mean() + 0.2


def test_phantoms_size_and_heterogeneity_show_in_the_image():
    sp = (5.0, 0.7, 0.7)
    small, large = render_phantom(6, 0.5, sp, seed=3), render_phantom(13, 0.5, sp, seed=3)
    voxel_ml = np.prod(sp) / 1000
    # mask volume close to the ellipsoid's (axis ratios 0.8-1.2 -> within a factor ~2)
    for ph, r in ((small, 6), (large, 13)):
        v = ph.mask.sum() * voxel_ml
        assert 0.4 < v / (4 / 3 * np.pi * (r / 10) ** 3) < 2.0
    from scipy.ndimage import binary_erosion

    calm, rough = render_phantom(10, 0.0, sp, seed=4), render_phantom(10, 1.0, sp, seed=4)
    inner = [binary_erosion(ph.mask > 0, structure=np.ones((1, 5, 5))) for ph in (calm, rough)]
    # inside the margin (no partial volume) the texture SD is 15 + 70 h HU plus 12 HU noise
    assert calm.image[inner[0]].std() < 30 and rough.image[inner[1]].std() > 60
    lung = small.image[:, :3, :3]
    assert lung.mean() < -700 and 0 < small.image[small.mask > 0].mean() + 200  # lung background, soft-tissue lesion
    img, msk = phantom_for(cohort_table(3).iloc[0]).to_sitk()
    assert img.GetSize() == (64, 64, 16) and msk.GetSpacing() == img.GetSpacing()


def test_shipped_demo_bundle():
    from radgui.model.bundle import ModelBundle

    b = ModelBundle.load(demo_model_path())
    assert is_demo(b) and b.provenance["banner"] == DEMO_BANNER
    assert b.provenance["feature_preset"]["name"] == "ct-original"
    assert b.provenance["modality"] == "CT" and b.provenance["roi"] == "tumour"
    assert {p.name for p in b.clinical_predictors} <= set(EXAMPLE_CLINICAL)
    assert all(p.name.startswith("original_") for p in b.predictors if p.source == "radiomics")
    assert b.linear_model.covariance is not None and b.cutoff["scale"] == "probability"
    ref = b.reference_cohort
    assert {"linear_predictor", "risk_group", "time", "event"} <= set(ref.columns)
    assert set(ref["risk_group"]) == {"high", "low"}
    v = b.provenance["validation"]
    assert v["auc_ci_low"] < v["auc"] < v["auc_ci_high"] and v["auc"] > 0.7


def test_demo_prediction_on_the_demo_case_has_no_image_warnings():
    from radgui.cli.demo import load_demo
    from radgui.model import predict
    from radgui.model.bundle import ModelBundle

    volume, mask = load_demo()
    pred = predict(ModelBundle.load(demo_model_path()), volume, {"tumour": mask}, EXAMPLE_CLINICAL)
    assert 0 < pred.ci_low < pred.probability < pred.ci_high < 1
    assert not [w for w in pred.warnings if "spacing" in w or "modality" in w]


@pytest.mark.parametrize("name", ["age", "ecog", "nlr"])
def test_example_clinical_values_are_allowed(name):
    from radgui.model.bundle import ModelBundle
    from radgui.model.predict import check_clinical

    b = ModelBundle.load(demo_model_path())
    values, _ = check_clinical(b, EXAMPLE_CLINICAL)
    if name in {p.name for p in b.clinical_predictors}:
        assert name in values
