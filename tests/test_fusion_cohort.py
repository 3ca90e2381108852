"""Cohort manifests with ``image_type: fused`` rows (radgui.features.cohort)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radgui.errors import InputFileError
from radgui.features.cohort import extract_cohort, read_manifest


def _write(path, arr, spacing=(1.0, 1.0, 1.0)):
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return path.name


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(5)
    tumour = np.zeros((16, 16, 16), np.uint8)
    tumour[4:12, 4:12, 4:12] = 1
    ct = (np.where(tumour, 20.0, -700.0) + rng.normal(0, 40, tumour.shape)).astype(np.float32)
    pet = (np.where(tumour, 6.0, 1.0) + rng.uniform(0, 1, tumour.shape)).astype(np.float32)
    names = {"ct": _write(tmp_path / "ct.nrrd", ct), "pet": _write(tmp_path / "pet.nrrd", pet),
             "mask": _write(tmp_path / "mask.nrrd", tumour)}
    return tmp_path, names, ct, pet, tumour.astype(bool)


def _manifest(folder, rows):
    path = folder / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_fused_rows_are_extracted_on_the_fused_image(files):
    folder, n, ct, pet, tumour = files
    path = _manifest(folder, [
        {"patient_id": "p1", "image": n["ct"], "mask": n["mask"], "roi": "fused_tumour", "image_type": "fused",
         "pet": n["pet"], "fusion": "weighted", "fusion_weight": "0.25"},
        {"patient_id": "p1", "image": n["ct"], "mask": n["mask"], "roi": "wfused_tumour", "image_type": "fused",
         "pet": n["pet"], "fusion": "wavelet", "fusion_weight": ""},
    ])
    out = folder / "features.csv"
    res = extract_cohort(path, out, "petct-fused")
    assert res["failed"] == 0, res["failures"]
    table = pd.read_csv(out).set_index("roi")
    c = np.clip(ct, -1000, 1000) / 2000 + 0.5
    p = np.clip(pet, 0, 20) / 20
    # weighted, PET weight 0.25: the mean over the tumour, from numpy
    assert table.at["fused_tumour", "original_firstorder_Mean"] == pytest.approx(
        (0.25 * p + 0.75 * c)[tumour].mean(), rel=1e-5)
    # the wavelet row is another image (same ROI volume, other intensities)
    assert table.at["wfused_tumour", "original_shape_VoxelVolume"] == pytest.approx(512)
    assert table.at["wfused_tumour", "original_firstorder_Mean"] != pytest.approx(
        table.at["fused_tumour", "original_firstorder_Mean"], rel=1e-3)


def test_plain_rows_are_unchanged(files):
    folder, n, ct, _, tumour = files
    path = _manifest(folder, [{"patient_id": "p1", "image": n["ct"], "mask": n["mask"]}])
    df = read_manifest(path)
    assert df.loc[0, "image_type"] == "" and df.loc[0, "pet"] == ""
    out = folder / "plain.csv"
    extract_cohort(path, out, "ct-original")
    assert pd.read_csv(out).at[0, "original_firstorder_Mean"] == pytest.approx(ct[tumour].mean(), rel=1e-5)


@pytest.mark.parametrize("row,match", [
    ({"image_type": "pet/ct"}, "image_type 'pet/ct' is not one of"),
    ({"image_type": "fused"}, "needs the PET image in the pet column"),
    ({"image_type": "fused", "pet": "pet.nrrd", "fusion": "laplacian"}, "unknown fusion method"),
    ({"image_type": "fused", "pet": "pet.nrrd", "fusion_weight": "2"}, r"must lie in \[0, 1\]"),
    ({"image_type": "fused", "pet": "pet.nrrd", "fusion_weight": "half"}, "must be a number"),
])
def test_bad_fused_rows_are_refused_naming_the_line(files, row, match):
    folder, n, *_ = files
    path = _manifest(folder, [{"patient_id": "p1", "image": n["ct"], "mask": n["mask"], **row}])
    with pytest.raises(InputFileError, match="manifest line 2: .*" + match) as exc:
        read_manifest(path)
    assert "\n" not in str(exc.value)


def test_fused_row_with_pet_on_another_grid_fails_that_row_only(files):
    folder, n, ct, pet, tumour = files
    _write(folder / "pet_coarse.nrrd", pet[::2, ::2, ::2].copy(), spacing=(2.0, 2.0, 2.0))
    path = _manifest(folder, [
        {"patient_id": "p1", "image": n["ct"], "mask": n["mask"], "roi": "fused", "image_type": "fused",
         "pet": "pet_coarse.nrrd"},
        {"patient_id": "p2", "image": n["ct"], "mask": n["mask"], "roi": "fused", "image_type": "fused",
         "pet": n["pet"]},
    ])
    res = extract_cohort(path, folder / "f.csv", "petct-fused")
    assert res["done"] == 1 and res["failed"] == 1, res
    assert "explicit consent" in res["failures"][0]["reason"]  # NRRD files carry no FrameOfReferenceUID
