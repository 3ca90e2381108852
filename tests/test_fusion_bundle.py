"""Model bundles whose features come from the fused PET/CT image (and PET on the CT grid)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from radgui.errors import BundleError, PredictionInputError
from radgui.features.petct import extract_petct
from radgui.io import volume_from_array
from radgui.model.bundle import ModelBundle
from radgui.model.patient import needed_rois, predict

COEFS = {"fused_tumour__original_firstorder_Mean": 2.0, "fused_ring2mm__original_glcm_Contrast": 0.1,
         "pet_tumour__original_firstorder_Maximum": 0.05, "ct_core2mm__original_firstorder_Mean": 0.001}


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(11)
    tumour = np.zeros((20, 20, 20), bool)
    tumour[5:14, 5:14, 5:14] = True
    ct = volume_from_array((np.where(tumour, 30.0, -600.0) + rng.normal(0, 40, tumour.shape)).astype(np.float32),
                           modality="CT", name="ct")
    pet = volume_from_array((np.where(tumour, 7.0, 1.0) + rng.uniform(0, 2, tumour.shape)).astype(np.float32),
                            modality="PT", name="pet")
    table = extract_petct(ct, pet, tumour, fusion={"method": "wavelet", "weight": 0.6}, ring_mm=2.0,
                          core_depth_mm=2.0)
    return ct, pet, tumour, table


def _bundle(table):
    b = ModelBundle.from_formula(-1.0, COEFS)
    b.provenance["rois"] = table.attrs["provenance"]["rois"]
    b.inputs = b._derived_inputs()
    return b


def test_fused_roles_survive_save_and_load(case, tmp_path):
    *_, table = case
    path = _bundle(table).save(tmp_path / "fused.radgui-model")
    loaded = ModelBundle.load(path)
    role = loaded.inputs.rois["fused_tumour"]
    assert role.modality == "FUSED" and role.mask == "tumour"
    assert role.fusion == {"method": "wavelet", "weight": 0.6, "ct_window_hu": [-1000.0, 1000.0],
                           "pet_range_suv": [0.0, 20.0], "wavelet": "db1", "level": 1}
    assert loaded.inputs.rois["pet_tumour"].to_dict() == {"modality": "PT", "mask": "tumour"}
    needs = {n.roi: n for n in needed_rois(loaded, ["tumour", "ring2mm", "core2mm"])}
    assert needs["fused_ring2mm"].mask == "ring2mm" and needs["fused_ring2mm"].preset == "petct-fused"
    assert needs["ct_core2mm"].modality == "CT" and needs["ct_core2mm"].preset == "ct-original"


def test_prediction_recomputes_the_table_features(case, tmp_path):
    ct, pet, tumour, table = case
    from radgui.features.petct import build_vois

    vois = build_vois(tumour, ct.spacing, 2.0, 2.0)
    bundle = ModelBundle.load(_bundle(table).save(tmp_path / "m.radgui-model"))
    pred = predict(bundle, {"CT": ct, "PT": pet}, vois, {})
    for name in COEFS:
        assert pred.features[name] == pytest.approx(table.at["case", name], rel=1e-9), name
    lp = -1.0 + sum(c * table.at["case", n] for n, c in COEFS.items())
    assert pred.linear_predictor == pytest.approx(lp, rel=1e-9)


def test_prediction_resamples_a_pet_on_its_own_grid_only_with_a_frame_of_reference(case, tmp_path):
    ct, pet, tumour, table = case
    from radgui.errors import FrameOfReferenceError

    coarse = volume_from_array(pet.array[::2, ::2, ::2].copy(), (2.0, 2.0, 2.0), modality="PT", name="pet")
    bundle = _bundle(table)
    with pytest.raises(FrameOfReferenceError, match="explicit consent"):
        predict(bundle, {"CT": ct, "PT": coarse}, {"tumour": tumour, "ring2mm": tumour, "core2mm": tumour}, {})


def test_missing_images_and_rois_are_named(case):
    ct, pet, tumour, table = case
    bundle = _bundle(table)
    with pytest.raises(PredictionInputError, match="fused PET/CT image") as exc:
        predict(bundle, ct, {"tumour": tumour, "ring2mm": tumour, "core2mm": tumour}, {})
    assert "\n" not in str(exc.value)
    pet_only = ModelBundle.from_formula(0.0, {"pet_tumour__original_firstorder_Maximum": 1.0})
    pet_only.provenance["rois"] = {"pet_tumour": table.attrs["provenance"]["rois"]["pet_tumour"]}
    pet_only.inputs = pet_only._derived_inputs()
    with pytest.raises(PredictionInputError, match="on the CT grid .*load the CT too"):
        predict(pet_only, {"PT": pet}, {"tumour": tumour}, {})
    with pytest.raises(PredictionInputError, match="through its mask 'ring2mm'"):
        predict(bundle, {"CT": ct, "PT": pet}, {"tumour": tumour}, {})


def _edit(path, tmp_path, fn):
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read("model.json"))
        others = {n: zf.read(n) for n in zf.namelist() if n != "model.json"}
    fn(doc)
    out = tmp_path / "edited.radgui-model"
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("model.json", json.dumps(doc))
        for n, data in others.items():
            zf.writestr(n, data)
    return out


@pytest.mark.parametrize("edit,match", [
    (lambda r: r["fused_tumour"].pop("fusion"), "fusion' is missing"),
    (lambda r: r["fused_tumour"]["fusion"].update(weight=7), r"fusion' is invalid: .*\[0, 1\]"),
    (lambda r: r["fused_tumour"]["fusion"].update(method="pyramid"), "unknown fusion method"),
    (lambda r: r["ct_core2mm"].update(fusion={"method": "weighted"}), "only for FUSED"),
    (lambda r: r["fused_tumour"].update(modality="PETCT"), "modality' must be"),
    (lambda r: r["fused_tumour"].update(mask=""), "must name a study ROI"),
])
def test_bad_fused_roles_are_refused_on_load(case, tmp_path, edit, match):
    *_, table = case
    path = _bundle(table).save(tmp_path / "ok.radgui-model")
    bad = _edit(path, tmp_path, lambda doc: edit(doc["inputs"]["rois"]))
    with pytest.raises(BundleError, match=match) as exc:
        ModelBundle.load(bad)
    assert "\n" not in str(exc.value)


def test_radgui_predict_scores_a_fused_bundle_from_files(case, tmp_path, capsys):
    import SimpleITK as sitk

    from radgui.cli import main
    from radgui.features.petct import build_vois

    ct, pet, tumour, table = case
    path = _bundle(table).save(tmp_path / "m.radgui-model")
    sitk.WriteImage(ct.image, str(tmp_path / "ct.nrrd"))
    sitk.WriteImage(pet.image, str(tmp_path / "pet.nrrd"))
    args = ["predict", str(path), "--image", str(tmp_path / "ct.nrrd"), "--pet", str(tmp_path / "pet.nrrd"),
            "--json"]
    for name, arr in build_vois(tumour, ct.spacing, 2.0, 2.0).items():
        m = sitk.GetImageFromArray(arr.astype(np.uint8))
        m.CopyInformation(ct.image)
        sitk.WriteImage(m, str(tmp_path / f"{name}.nrrd"))
        args += ["--mask", str(tmp_path / f"{name}.nrrd")] if name == "tumour" else \
            ["--roi", f"{name}={tmp_path / f'{name}.nrrd'}"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    for name in COEFS:
        assert doc["features"][name] == pytest.approx(table.at["case", name], rel=1e-9), name
