"""radgui.features.fastresample: the same bits as SimpleITK / PyRadiomics.

References: ``sitk.BSplineDecomposition`` (ITK's own coefficients) and
PyRadiomics' ``imageoperations.resampleImage`` (stock resampling, cubic
B-spline). Every comparison is exact (``np.array_equal``), not a tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics import imageoperations

from radgui.features import fastresample as fr
from radgui.io import load_mask, load_volume


def itk_coefficients(array: np.ndarray) -> np.ndarray:
    img = sitk.GetImageFromArray(np.asarray(array, np.float64))
    return sitk.GetArrayFromImage(sitk.BSplineDecomposition(img, 3))


def random_case(shape_zyx, spacing_xyz, lo_zyx, hi_zyx, dtype=np.int16, seed=0, direction=None):
    rng = np.random.default_rng(seed)
    arr = rng.normal(40, 300, shape_zyx)
    image = sitk.GetImageFromArray(arr.astype(dtype))
    image.SetSpacing(spacing_xyz)
    image.SetOrigin((-101.3, 17.7, -3.1))
    if direction is not None:
        image.SetDirection(direction)
    m = np.zeros(shape_zyx, np.uint8)
    m[tuple(slice(a, b) for a, b in zip(lo_zyx, hi_zyx))] = 1
    mask = sitk.GetImageFromArray(m)
    mask.CopyInformation(image)
    return image, mask


def assert_same_as_stock(image, mask, **settings):
    settings = {"interpolator": "sitkBSpline", "padDistance": 5, "label": 1, **settings}
    ref_img, ref_mask = imageoperations.resampleImage(image, mask, **settings)
    img, msk = fr.resample_image(image, mask, **settings)
    for a, b in ((ref_img, img), (ref_mask, msk)):
        assert a.GetSize() == b.GetSize() and a.GetPixelID() == b.GetPixelID()
        assert a.GetOrigin() == b.GetOrigin() and a.GetSpacing() == b.GetSpacing()
        assert a.GetDirection() == b.GetDirection()
        assert np.array_equal(sitk.GetArrayViewFromImage(a), sitk.GetArrayViewFromImage(b))
    return img


# ---------------------------------------------------------------- coefficients
@pytest.mark.parametrize("shape", [(7, 9, 11), (1, 5, 30), (2, 3, 18), (19, 17, 1), (4, 20, 19), (3, 2, 40)])
def test_coefficients_are_itk_bit_for_bit(shape):
    # lines of 1 (unchanged), 2-18 (ITK's full mirror sum) and 19+ (the 18-sample accelerated sum)
    arr = np.random.default_rng(sum(shape)).normal(0, 1000, shape)
    assert np.array_equal(fr.bspline_coefficients(arr), itk_coefficients(arr))


def test_coefficients_of_lung1_are_itk_bit_for_bit(lung1):
    arr = sitk.GetArrayFromImage(load_volume(lung1[0]).image)
    box = ((10, 30), (200, 260), (300, 380))
    ref = itk_coefficients(arr)
    mine = fr.bspline_coefficients(arr, box)
    assert mine.shape == (30, 260, 380)
    inside = tuple(slice(a, b) for a, b in box)
    assert np.array_equal(mine[inside], ref[inside])
    assert not mine[:10].any() and not mine[:, :200].any() and not mine[:, :, :300].any()


def test_float32_input_is_computed_in_double_like_itk():
    arr = np.random.default_rng(3).normal(0, 5, (6, 25, 23)).astype(np.float32)
    assert np.array_equal(fr.bspline_coefficients(arr), itk_coefficients(arr))


@pytest.mark.parametrize("bad, match", [
    ((np.zeros((4, 4)), None), "3-D"),
    ((np.zeros((4, 4, 4)), ((0, 5), (0, 4), (0, 4))), "outside"),
    ((np.zeros((4, 4, 4)), ((2, 2), (0, 4), (0, 4))), "empty"),
])
def test_bad_input_is_refused_with_its_shape(bad, match):
    with pytest.raises(ValueError, match=match):
        fr.bspline_coefficients(*bad)


# ---------------------------------------------------------------- resampling
@pytest.mark.parametrize("spacing", [[1, 1, 1], [2, 2, 2], [0.7, 0.9, 1.3], [1, 1, 0]])
def test_lung1_resampling_is_stock_bit_for_bit(lung1, spacing):
    vol = load_volume(lung1[0])
    mask = load_mask(lung1[1], vol)
    assert_same_as_stock(vol.image, mask, resampledPixelSpacing=spacing, padDistance=10)


@pytest.mark.parametrize("case", [
    # interior box, upsampling and downsampling, anisotropic
    dict(shape_zyx=(30, 64, 70), spacing_xyz=(0.8, 0.8, 3.0), lo_zyx=(10, 20, 25), hi_zyx=(20, 40, 45)),
    # ROI touching every low and high edge: mirror boundaries inside the grid's reach
    dict(shape_zyx=(12, 40, 44), spacing_xyz=(1.1, 0.9, 2.5), lo_zyx=(0, 0, 0), hi_zyx=(12, 40, 44)),
    dict(shape_zyx=(12, 40, 44), spacing_xyz=(1.1, 0.9, 2.5), lo_zyx=(8, 30, 0), hi_zyx=(12, 40, 6)),
    # short lines (ITK's full mirror sum) and a flipped, oblique direction
    dict(shape_zyx=(9, 15, 17), spacing_xyz=(1.7, 0.6, 1.2), lo_zyx=(3, 4, 5), hi_zyx=(6, 10, 12),
         direction=(0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0)),
    dict(shape_zyx=(20, 30, 30), spacing_xyz=(0.9, 0.9, 2.0), lo_zyx=(5, 8, 8), hi_zyx=(12, 20, 22),
         dtype=np.float32),
    dict(shape_zyx=(20, 30, 30), spacing_xyz=(0.9, 0.9, 2.0), lo_zyx=(5, 8, 8), hi_zyx=(12, 20, 22),
         dtype=np.uint8),
])
@pytest.mark.parametrize("spacing", [[1, 1, 1], [0.5, 0.5, 0.5], [2.2, 1.3, 0]])
def test_generated_grids_are_stock_bit_for_bit(case, spacing):
    image, mask = random_case(**case)
    assert_same_as_stock(image, mask, resampledPixelSpacing=spacing)


def test_the_coefficient_box_is_much_smaller_than_the_image(lung1):
    vol = load_volume(lung1[0])
    mask = load_mask(lung1[1], vol)
    settings = {"interpolator": "sitkBSpline", "resampledPixelSpacing": [1, 1, 1], "padDistance": 5, "label": 1}
    _, grid = imageoperations.resampleImage(mask, mask, **{**settings, "interpolator": "sitkNearestNeighbor"})
    box = fr.read_box(vol.image, grid)
    voxels = np.prod([b - a for a, b in box])
    assert voxels < 0.02 * np.prod(vol.image.GetSize())


@pytest.mark.parametrize("settings", [
    {"interpolator": "sitkLinear", "resampledPixelSpacing": [1, 1, 1]},
    {"interpolator": sitk.sitkBSpline5, "resampledPixelSpacing": [1, 1, 1]},
    {"interpolator": "sitkBSpline", "resampledPixelSpacing": [0.9, 0.9, 2.0]},  # equal spacing: stock crops
])
def test_what_it_does_not_cover_is_stock(settings, monkeypatch):
    image, mask = random_case((20, 30, 30), (0.9, 0.9, 2.0), (5, 8, 8), (12, 20, 22))
    called = []
    monkeypatch.setattr(fr, "bspline_coefficients", lambda *a, **k: called.append(1))
    assert_same_as_stock(image, mask, **settings)
    assert not called


def test_an_empty_mask_raises_what_stock_raises():
    image, mask = random_case((10, 20, 20), (1.0, 1.0, 2.0), (0, 0, 0), (0, 0, 0))
    settings = {"interpolator": "sitkBSpline", "resampledPixelSpacing": [1, 1, 1], "label": 1}
    with pytest.raises(ValueError) as stock:
        imageoperations.resampleImage(image, mask, **settings)
    with pytest.raises(ValueError) as mine:
        fr.resample_image(image, mask, **settings)
    assert str(mine.value) == str(stock.value)


def test_a_mask_on_another_grid_goes_to_stock(monkeypatch):
    image, _ = random_case((20, 30, 30), (0.9, 0.9, 2.0), (5, 8, 8), (12, 20, 22))
    _, mask = random_case((20, 30, 31), (0.9, 0.9, 2.0), (5, 8, 8), (12, 20, 22))
    called = []
    monkeypatch.setattr(fr, "bspline_coefficients", lambda *a, **k: called.append(1))
    assert_same_as_stock(image, mask, resampledPixelSpacing=[1, 1, 1])
    assert not called
