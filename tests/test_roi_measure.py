"""Measurements against analytic ellipsoids and a PET phantom with known hot spheres."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radgui.errors import EmptyMaskError, GeometryMismatchError
from radgui.io import Volume
from radgui.roi import PEAK_RADIUS_MM, max_3d_diameter_mm, measure, recist_mm, suv_peak


def ellipsoid(spacing, semi_mm, angle_deg=30.0, shape=(31, 101, 101)):
    """Ellipsoid with semi-axes (a along u, b along v in-plane, c along z), u rotated by angle."""
    sp = np.asarray(spacing)
    g = np.indices(shape).astype(float) * sp[:, None, None, None]
    c = (np.asarray(shape) - 1) / 2 * sp
    z, y, x = (g[i] - c[i] for i in range(3))
    th = np.deg2rad(angle_deg)
    u = x * np.cos(th) + y * np.sin(th)
    v = -x * np.sin(th) + y * np.cos(th)
    a, b, cz = semi_mm
    return (u / a) ** 2 + (v / b) ** 2 + (z / cz) ** 2 <= 1.0


@pytest.mark.parametrize("spacing, semi, angle", [
    ((2.5, 0.7, 0.7), (20.0, 12.0, 30.0), 30.0),
    ((1.0, 0.8, 0.8), (25.0, 10.0, 12.0), 0.0),
    ((2.0, 1.0, 0.6), (18.0, 14.0, 8.0), 60.0),
])
def test_ellipsoid_diameters_within_one_voxel(spacing, semi, angle):
    m = ellipsoid(spacing, semi, angle)
    before = m.copy()
    r = recist_mm(m, spacing)
    a, b, c = semi
    in_plane = max(spacing[1:])
    assert abs(r["recist_long_mm"] - 2 * a) <= in_plane
    assert abs(r["recist_short_mm"] - 2 * b) <= in_plane
    assert abs(r["recist_slice"] - m.shape[0] // 2) <= 1
    longest = np.argmax(semi)
    axis_spacing = spacing[0] if longest == 2 else in_plane
    assert abs(max_3d_diameter_mm(m, spacing) - 2 * max(semi)) <= axis_spacing
    vol = measure(m, np.zeros(m.shape), spacing=spacing)["volume_ml"]
    assert vol == pytest.approx(4 / 3 * np.pi * a * b * c / 1000, rel=0.02)
    assert np.array_equal(m, before)


def test_intensity_stats_match_numpy():
    rng = np.random.default_rng(0)
    img = rng.normal(30, 12, (10, 20, 20))
    m = np.zeros(img.shape, np.uint8)
    m[3:7, 5:15, 4:12] = 2
    out = measure(m, img, spacing=(2, 1, 1))
    vals = img[3:7, 5:15, 4:12]
    assert out["voxel_count"] == vals.size
    assert out["volume_ml"] == pytest.approx(vals.size * 2 / 1000)
    assert out["mean"] == pytest.approx(vals.mean())
    assert out["sd"] == pytest.approx(vals.std())
    assert (out["min"], out["max"]) == (vals.min(), vals.max())
    assert "suv_peak" not in out


def brute_force_peak(img, mask, spacing, radius):
    sp = np.asarray(spacing)
    idx = np.argwhere(np.ones(img.shape, bool))
    best = -np.inf
    for p in np.argwhere(mask):
        d = np.sqrt((((idx - p) * sp) ** 2).sum(1))
        best = max(best, img.reshape(-1)[d <= radius + 1e-9].mean())
    return best


def pet_phantom(hot_radius_mm, spacing=(1.0, 1.0, 1.0), suv_hot=8.0, shape=(41, 41, 41)):
    sp = np.asarray(spacing)
    g = np.indices(shape).astype(float) * sp[:, None, None, None]
    c = (np.asarray(shape) - 1) / 2 * sp
    hot = np.sqrt(((g - c[:, None, None, None]) ** 2).sum(0)) <= hot_radius_mm
    img = np.ones(shape)
    img[hot] = suv_hot
    return img, hot


def test_suv_peak_known_hot_spheres():
    # A hot sphere much larger than 1 mL: the peak sphere fits inside, SUVpeak = 8.
    img, hot = pet_phantom(15.0)
    assert suv_peak(img, hot, (1, 1, 1)) == pytest.approx(8.0)
    # A 4 mm hot sphere (0.27 mL) in background 1: the 1 mL peak sphere mixes both.
    img, hot = pet_phantom(4.0, spacing=(0.5, 0.5, 0.5), shape=(41, 41, 41))
    peak = suv_peak(img, hot, (0.5, 0.5, 0.5))
    f = (4.0 / PEAK_RADIUS_MM) ** 3
    assert peak == pytest.approx(8.0 * f + 1.0 * (1 - f), rel=0.05)
    assert PEAK_RADIUS_MM == pytest.approx(6.2035, abs=1e-3)


def test_suv_peak_matches_brute_force_on_noisy_lesion():
    rng = np.random.default_rng(3)
    img = rng.gamma(2.0, 1.0, (14, 16, 16))
    m = np.zeros(img.shape, bool)
    m[5:9, 6:10, 5:11] = True
    sp = (3.0, 2.0, 2.0)
    assert suv_peak(img, m, sp) == pytest.approx(brute_force_peak(img, m, sp, PEAK_RADIUS_MM))


def test_pet_measures_from_volume():
    img, hot = pet_phantom(10.0, spacing=(2.0, 2.0, 2.0), shape=(21, 21, 21))
    image = sitk.GetImageFromArray(img)
    image.SetSpacing((2.0, 2.0, 2.0))
    vol = Volume(image, "PT", {})
    out = measure(hot, vol)
    assert out["suv_max"] == 8.0 and out["suv_mean"] == 8.0
    assert out["mtv_ml"] == pytest.approx(hot.sum() * 8 / 1000)
    assert out["tlg"] == pytest.approx(8.0 * out["mtv_ml"])
    assert out["suv_peak"] == pytest.approx(8.0)


def test_errors():
    with pytest.raises(EmptyMaskError):
        measure(np.zeros((3, 3, 3)), np.zeros((3, 3, 3)), spacing=(1, 1, 1))
    with pytest.raises(GeometryMismatchError):
        measure(np.ones((3, 3, 3)), np.zeros((3, 3, 4)), spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="spacing"):
        measure(np.ones((3, 3, 3)), np.zeros((3, 3, 3)))
    single = np.zeros((3, 3, 3), bool)
    single[1, 1, 1] = True
    out = measure(single, np.zeros((3, 3, 3)), spacing=(2, 1, 1))
    assert out["recist_long_mm"] > 0 and out["max_3d_diameter_mm"] > 0


def test_lung1_diameters_match_pyradiomics(lung1):
    """Independent reference: PyRadiomics' shape features on the same tumour."""
    import logging

    from radiomics import shape

    from radgui.io import load_mask, load_volume, mask_to_array

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    vol = load_volume(lung1[0])
    mask_img = load_mask(lung1[1], vol)
    ref = shape.RadiomicsShape(vol.image, mask_img)
    ref.enableAllFeatures()
    ref = {k: float(v) for k, v in ref.execute().items()}
    out = measure(mask_to_array(mask_img) > 0, vol)
    assert out["max_3d_diameter_mm"] == pytest.approx(ref["Maximum3DDiameter"], rel=1e-9)
    assert out["volume_ml"] * 1000 == pytest.approx(ref["VoxelVolume"], rel=1e-9)
    # PyRadiomics' slice diameter also pools mesh vertices between slices; ours is the in-slice
    # contour (RECIST): they agree within one in-plane voxel.
    assert abs(out["recist_long_mm"] - ref["Maximum2DDiameterSlice"]) <= vol.spacing[2]
    assert out["recist_short_mm"] < out["recist_long_mm"]
