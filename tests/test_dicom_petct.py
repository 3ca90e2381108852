"""PET/CT: pairing, frame-of-reference consent, PET on the CT grid, mask transfer CT <-> PET."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radgui.errors import FrameOfReferenceError
from radgui.io import load_volume, mask_from_array
from radgui.io.petct import load_petct, pet_on_ct, suv_stats, transfer_mask
from dicom_factory import sphere_suv, write_ct_series, write_pet_series


def _points(volume):
    z, y, x = np.meshgrid(*[np.arange(n) for n in volume.shape], indexing="ij")
    oz, oy, ox = volume.origin
    sz, sy, sx = volume.spacing
    return np.stack([ox + x * sx, oy + y * sy, oz + z * sz], axis=-1)


@pytest.fixture
def study(tmp_path):
    ct = write_ct_series(tmp_path / "CT", rows=48, cols=64)
    pt = write_pet_series(tmp_path / "PT", study_uid=ct["study_uid"], for_uid=ct["for_uid"])
    return tmp_path, ct, pt


def test_pet_resampled_onto_ct_by_physical_position(study):
    folder, _, _ = study
    pair = load_petct(folder)
    assert pair.ct.modality == "CT" and pair.pet.modality == "PT" and pair.warnings == []
    fused = pair.pet_on_ct
    assert fused.shape == pair.ct.shape and fused.image.GetOrigin() == pair.ct.image.GetOrigin()
    # far from the sphere's edge, linear interpolation of a piecewise-constant SUV is exact
    r = np.linalg.norm(_points(fused) - np.array([0.0, 0.0, 20.0]), axis=-1)
    arr = np.asarray(fused.array)
    inner, outer = r < 12.0 - 4 * np.sqrt(3), r > 12.0 + 4 * np.sqrt(3)
    assert inner.sum() > 100 and outer.sum() > 1000
    np.testing.assert_allclose(arr[inner], 4.0, rtol=2e-3)
    np.testing.assert_allclose(arr[outer], 1.0, rtol=2e-3)
    assert fused.meta["resampled_onto"]["interpolator"] == "linear"
    assert fused.meta["suv"]["suv_type"] == "bw"


def test_frame_of_reference_mismatch_needs_consent(tmp_path):
    ct = write_ct_series(tmp_path / "CT")
    write_pet_series(tmp_path / "PT", study_uid=ct["study_uid"])  # its own FrameOfReferenceUID
    with pytest.raises(FrameOfReferenceError, match="explicit consent"):
        load_petct(tmp_path)
    pair = load_petct(tmp_path, consent=True)
    assert any("user's explicit consent" in w for w in pair.pet_on_ct.warnings)
    with pytest.raises(FrameOfReferenceError):
        pet_on_ct(pair.pet, pair.ct)


def test_mask_transfer_ct_to_pet_and_back(study):
    folder, _, _ = study
    pair = load_petct(folder)
    center = np.array([0.0, -10.0, 20.0])
    r_ct = np.linalg.norm(_points(pair.ct) - center, axis=-1)
    ct_mask = mask_from_array(r_ct < 9.0, pair.ct)
    pet_mask = transfer_mask(ct_mask, pair.ct, pair.pet)
    assert pet_mask.GetSize() == pair.pet.image.GetSize()
    r_pet = np.linalg.norm(_points(pair.pet) - center, axis=-1)
    got = sitk.GetArrayFromImage(pet_mask).astype(bool)
    # nearest neighbour on the CT grid: exact away from the boundary (CT voxel diagonal < 2.8 mm)
    clear = np.abs(r_pet - 9.0) > 2.8
    np.testing.assert_array_equal(got[clear], (r_pet < 9.0)[clear])
    assert got.sum() >= 20
    back = sitk.GetArrayFromImage(transfer_mask(pet_mask, pair.pet, pair.ct)).astype(bool)
    assert back.shape == pair.ct.shape and back.any()
    stats = suv_stats(pair.pet, pet_mask)
    assert stats["suv_max"] == pytest.approx(4.0, rel=1e-3)
    assert stats["volume_ml"] == pytest.approx(got.sum() * 64 / 1000)


def test_sphere_truth_matches_pet_grid(study):
    folder, _, pt = study
    pet = load_volume(folder / "PT")
    np.testing.assert_allclose(pet.array, sphere_suv(_points(pet)), rtol=2e-4)
