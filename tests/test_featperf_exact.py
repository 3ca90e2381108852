"""radgui.features.fastfeatures and workers=: the same bits as stock PyRadiomics.

References are PyRadiomics' own functions and classes: ``imageoperations.binImage``,
the stock GLCM marginal sums (``RadiomicsGLCM._calculateCoefficients``), stock
``RadiomicsFeatureExtractor.computeFeatures`` and ``execute`` on the whole image.
Tolerance is issue 20's 1e-12 relative; the measured difference is 0.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radgui.errors import FeatureExtractionError
from radgui.features import extract
from radgui.features import fastfeatures as ff
from radgui.features.extract import build_extractor, stock_extract
from radgui.features.phantoms import large_lesion_case
from radgui.io import load_mask, load_volume
from conftest import case_paths
from test_features_fastpath import RTOL, box_mask, max_rel_diff, phantom

PRESETS = ["ct-original", "ct-wavelet", "ct-log", "ct-iso1mm", "pet-suv"]


def suv_like(image: sitk.Image) -> sitk.Image:
    """The image rescaled linearly to 0-12 (the PET preset bins at 0.25 SUV)."""
    a = sitk.GetArrayViewFromImage(image)
    lo, hi = float(a.min()), float(a.max())
    return sitk.Cast((sitk.Cast(image, sitk.sitkFloat32) - lo) * (12.0 / (hi - lo)), sitk.sitkFloat32)


def same(a: dict, b: dict) -> list[str]:
    """Names whose values differ at all (NaN equals NaN); asserts same names in the same order."""
    assert list(a) == list(b)
    return [k for k in a if not (np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True))]


# ---------------------------------------------------------------- building blocks
@pytest.mark.parametrize("settings", [{"binWidth": 25}, {"binWidth": 0.25}, {"binCount": 50}, {"binWidth": 10}])
def test_bin_image_is_stock_bin_image(settings):
    from radiomics import imageoperations

    rng = np.random.default_rng(3)
    arr = rng.normal(40, 300, (9, 20, 22)).astype(np.float32)
    mask = np.zeros(arr.shape, bool)
    mask[2:7, 4:15, 3:19] = True
    ref, _ = imageoperations.binImage(arr, mask, **settings)
    got = ff.bin_image(arr, mask, settings)
    assert got.dtype == ref.dtype and np.array_equal(got, ref)


def test_bin_image_flat_region_is_stock():
    from radiomics import imageoperations

    arr = np.full((4, 5, 6), 50, np.int16)
    mask = np.ones(arr.shape, bool)
    assert np.array_equal(ff.bin_image(arr, mask, {"binWidth": 25}), imageoperations.binImage(arr, mask, binWidth=25)[0])


@pytest.mark.parametrize("levels", [[1, 2, 3, 5, 8], list(range(1, 41)), [4]])
def test_glcm_sum_and_difference_marginals_are_stock(levels):
    """Same bits as stock's boolean-mask sums, for gaps in the grey levels and one level."""
    rng = np.random.default_rng(len(levels))
    g = np.asarray(levels)
    n = len(g)
    P = rng.random((1, n, n, 13))
    P /= P.sum((1, 2), keepdims=True)
    ng = int(g.max())
    i, j = np.meshgrid(g.astype(float), g.astype(float), indexing="ij", sparse=True)
    ref_add = np.array([np.sum(P[:, i + j == k, :], 1) for k in np.arange(2, 2 * ng + 1, dtype=float)]
                       ).transpose((1, 0, 2))
    ref_sub = np.array([np.sum(P[:, np.abs(i - j) == k, :], 1) for k in np.arange(0, ng, dtype=float)]
                       ).transpose((1, 0, 2))
    add, sub = ff._glcm_sum_diff(P, g, ng)
    assert add.shape == ref_add.shape and np.array_equal(add, ref_add)
    assert sub.shape == ref_sub.shape and np.array_equal(sub, ref_sub)


@pytest.mark.parametrize("levels", [[1, 2, 3, 5, 8], list(range(1, 41)), [4]])
def test_cluster_shade_and_prominence_are_stock(levels):
    """The powers taken once per distinct i + j give stock's bits (grey-level gaps, one level, 2 voxel sets)."""
    from types import SimpleNamespace

    from radiomics.glcm import RadiomicsGLCM

    rng = np.random.default_rng(len(levels))
    g = np.asarray(levels, dtype=float)
    n = len(g)
    P = rng.random((2, n, n, 13))
    P[P < 0.4] = 0
    P /= np.maximum(P.sum((1, 2), keepdims=True), 1e-300)
    i, j = np.meshgrid(g, g, indexing="ij", sparse=True)
    coefficients = {"i": i, "j": j, "ux": np.sum(i[None, :, :, None] * P, (1, 2), keepdims=True),
                    "uy": np.sum(j[None, :, :, None] * P, (1, 2), keepdims=True)}
    fc = SimpleNamespace(P_glcm=P, coefficients=coefficients)
    for ours, stock in ((ff._cluster_shade, RadiomicsGLCM.getClusterShadeFeatureValue),
                        (ff._cluster_prominence, RadiomicsGLCM.getClusterProminenceFeatureValue)):
        got, ref = ours(fc), stock(fc)
        assert got.shape == ref.shape == (2,) and np.array_equal(got, ref, equal_nan=True)


# ---------------------------------------------------------------- whole classes, one image type
@pytest.fixture(scope="module")
def brain(brain1):
    vol = load_volume(brain1[0])
    return vol.image, load_mask(brain1[1], vol)


def _cropped(image, mask, settings):
    from radiomics import imageoperations

    m = sitk.Cast(mask, sitk.sitkUInt32)
    bb, _ = imageoperations.checkMask(image, m, **settings)
    return imageoperations.cropToTumorMask(image, m, bb)


@pytest.mark.parametrize("extra", [{}, {"weightingNorm": "euclidean"}, {"symmetricalGLCM": False},
                                   {"distances": [1, 2]}, {"binCount": 16}, {"force2D": True}])
def test_compute_features_is_stock_compute_features(brain, extra):
    """Every feature class, several settings (one angle after weighting: the stock GLCM coefficients)."""
    image, mask = brain
    ex = build_extractor("ct-original")
    settings = {**ex.settings, **extra}
    ic, mc = _cropped(image, mask, settings)
    ref = ex.computeFeatures(ic, mc, "original", **settings)
    got = ff.compute_features(ex, ic, mc, "original", **settings)
    assert len(ref) > 80
    assert same(got, ref) == []


def test_voxel_based_and_unknown_classes_fall_back_to_stock():
    assert ff.covers({}, {"glcm": None, "shape": None})
    assert not ff.covers({"voxelBased": True}, {"glcm": None})
    assert not ff.covers({}, {"glcm": None, "someNewClass": None})


# ---------------------------------------------------------------- extract(): workers and presets
def test_workers_give_the_same_values_as_one_process_and_stock():
    img = phantom(shape_zyx=(20, 48, 48))
    mask = box_mask(img, (6, 14, 12), (14, 34, 36))
    params = {"imageType": {"Original": {}, "Wavelet": {}, "LoG": {"sigma": [1.0, 2.0]}},
              "featureClass": {"shape": None, "firstorder": None, "glcm": None, "glszm": None},
              "setting": {"binWidth": 25}}
    one = extract(img, {"t": mask}, params, workers=1)
    two = extract(img, {"t": mask}, params, workers=2)
    assert one.attrs["provenance"]["workers"] == 1 and two.attrs["provenance"]["workers"] == 2
    assert list(one.columns) == list(two.columns)
    assert np.array_equal(one.to_numpy(), two.to_numpy(), equal_nan=True)
    worst, name = max_rel_diff(two.loc["t"], stock_extract(img, mask, params))
    assert worst <= RTOL, f"{name} differs by {worst:.3g}"


def test_workers_with_a_bad_roi_skips_it_like_one_process():
    img = phantom(shape_zyx=(20, 48, 48))
    good = box_mask(img, (6, 14, 12), (14, 34, 36))
    line = box_mask(img, (10, 20, 20), (11, 21, 30))  # one dimension: refused by minimumROIDimensions=2
    params = {"imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.0, 3.0]}},
              "featureClass": {"firstorder": None, "glcm": None}}
    df = extract(img, {"good": good, "line": line}, params, workers=2, on_error="skip")
    assert list(df.index) == ["good"] and "line" in df.attrs["errors"]


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_workers_are_refused(bad):
    img = phantom()
    mask = box_mask(img, (4, 10, 10), (10, 20, 20))
    with pytest.raises(FeatureExtractionError, match="workers"):
        extract(img, {"t": mask}, "ct-original", workers=bad)


def test_default_workers_is_one_off_the_main_thread():
    import threading

    out = []
    t = threading.Thread(target=lambda: out.append(extract_mod().default_workers()))
    t.start()
    t.join()
    assert out == [1] and extract_mod().default_workers() >= 1


def test_default_stays_in_process_for_small_rois(monkeypatch):
    img = phantom(shape_zyx=(20, 48, 48))
    mask = box_mask(img, (6, 14, 12), (14, 34, 36))
    params = {"imageType": {"Original": {}, "Wavelet": {}}, "featureClass": {"firstorder": None}}
    assert extract(img, {"t": mask}, params).attrs["provenance"]["workers"] == 1
    monkeypatch.setattr(extract_mod(), "AUTO_PARALLEL_VOXELS", 1)
    monkeypatch.setattr(extract_mod(), "default_workers", lambda: 2)
    df = extract(img, {"t": mask}, params)
    assert df.attrs["provenance"]["workers"] == 2
    assert max_rel_diff(df.loc["t"], stock_extract(img, mask, params))[0] == 0.0


def extract_mod():
    import importlib

    return importlib.import_module("radgui.features.extract")  # the package re-exports a function of that name


@pytest.mark.slow
@pytest.mark.parametrize("case", ["lung1", "breast1"])
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_matches_stock_on_sample_cases(request, case, preset):
    paths = case_paths(request, case)  # lung1 runs on a fresh clone (packaged copy); breast1 needs ../shared
    vol = load_volume(paths[0])
    mask = load_mask(paths[1], vol)
    image = suv_like(vol.image) if preset == "pet-suv" else vol.image
    df = extract(image, {"t": mask}, preset, workers=1)
    worst, name = max_rel_diff(df.loc["t"], stock_extract(image, mask, preset))
    assert worst <= RTOL, f"{case} {preset}: {name} differs by {worst:.3g}"


@pytest.fixture(scope="module")
def large():
    return large_lesion_case()


def test_large_lesion_phantom_is_what_its_docstring_says(large):
    image, mask = large
    assert image.GetSize() == (512, 512, 61) and np.allclose(image.GetSpacing(), (0.63, 0.63, 5.0))
    n = int(sitk.GetArrayViewFromImage(mask).sum())
    assert 15_000 < n < 30_000
    arr = sitk.GetArrayViewFromImage(image)
    assert arr.min() >= -1024 and arr.max() <= 3071


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_matches_stock_on_the_large_lesion(large, preset):
    image, mask = large
    image = suv_like(image) if preset == "pet-suv" else image
    df = extract(image, {"t": mask}, preset, workers=1)
    worst, name = max_rel_diff(df.loc["t"], stock_extract(image, mask, preset))
    assert worst <= RTOL, f"{preset}: {name} differs by {worst:.3g}"


@pytest.mark.slow
def test_cropping_before_resampling_is_not_exact_so_it_is_off(large, monkeypatch):
    """Why ``CROP_BEFORE_RESAMPLING`` is False: on the large lesion a crop first changes ct-log features."""
    from radgui.features import crop as fcrop

    image, mask = large
    ref = stock_extract(image, mask, "ct-log")
    exact = extract(image, {"t": mask}, "ct-log", workers=1)
    assert exact.attrs["provenance"]["path"] == "B-spline coefficients of the read box (PyRadiomics' grid)"
    texture = [c for c in exact.columns if "_shape_" not in c]  # shape: fastshape, within 1e-12
    assert max_rel_diff(exact.loc["t", texture], {k: ref[k] for k in texture})[0] == 0.0
    monkeypatch.setattr(fcrop, "CROP_BEFORE_RESAMPLING", True)
    cropped = extract(image, {"t": mask}, "ct-log", workers=1)
    assert max_rel_diff(cropped.loc["t"], ref)[0] > 1e-6


def test_a_worker_that_dies_is_an_error_not_a_hang(monkeypatch):
    import os

    img = phantom(shape_zyx=(20, 48, 48))
    mask = box_mask(img, (6, 14, 12), (14, 34, 36))
    params = {"imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.0]}}, "featureClass": {"firstorder": None}}
    monkeypatch.setattr(ff, "compute_features", lambda *a, **k: os._exit(3))  # inherited by the forks
    with pytest.raises(FeatureExtractionError, match="worker process died"):
        extract(img, {"t": mask}, params, workers=2)
