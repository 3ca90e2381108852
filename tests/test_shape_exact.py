"""radgui.features.fastshape against stock PyRadiomics' shape class and C extension.

Surface area / volume: <= 1e-12 relative; the four diameters bit-identical.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics import cShape, featureextractor, imageoperations

from radgui.features import fastshape
from conftest import case_paths

REL = 1e-12


@pytest.fixture(autouse=True)
def _enabled(monkeypatch):
    monkeypatch.setattr(fastshape, "ENABLED", True)


def _check(mask, spacing):
    mask = np.ascontiguousarray(mask, dtype=bool)
    spacing = np.asarray(spacing, dtype=np.float64)
    sa, vol, diam = cShape.calculate_coefficients(mask, spacing)
    fsa, fvol, fdiam = fastshape.calculate_coefficients(mask, spacing)
    assert abs(fsa - sa) <= REL * abs(sa)
    assert abs(fvol - vol) <= REL * abs(vol)
    assert type(fsa) is float and type(fvol) is float
    assert type(fdiam) is tuple and len(fdiam) == len(diam) == 4
    assert fdiam == diam, (fdiam, diam)
    return sa, vol, diam


def _pad(inner):
    return np.pad(inner, 1)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (3.0, 0.7, 0.9), (0.5, 1.3, 1.3)])
def test_random_blobs(seed, spacing):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(6, 30, size=3))
    blob = rng.random(shape) < rng.uniform(0.2, 0.8)
    _check(_pad(blob), spacing)


def test_smooth_blob_many_vertices():
    z, y, x = np.mgrid[-20:21, -25:26, -30:31]
    rng = np.random.default_rng(3)
    r = np.sqrt((z / 18.0) ** 2 + (y / 22.0) ** 2 + (x / 27.0) ** 2)
    blob = r + 0.05 * rng.standard_normal(r.shape) < 1
    _check(_pad(blob), (2.0, 0.8, 0.8))


@pytest.mark.parametrize("case", ["plate", "slice", "line", "voxel", "edges", "diagonal"])
def test_degenerate(case):
    m = np.zeros((12, 14, 16), dtype=bool)
    if case == "plate":  # one voxel thick, one slice
        m[5, 2:12, 3:14] = True
    elif case == "slice":  # a single-slice ROI of irregular shape
        rng = np.random.default_rng(1)
        m[6, 1:13, 1:15] = rng.random((12, 14)) < 0.6
    elif case == "line":
        m[4, 7, 2:15] = True
    elif case == "voxel":
        m[3, 3, 3] = True
    elif case == "edges":  # touches every face of the array (not padded)
        m[:, 4:9, :] = True
        m[0, :, 0] = True
        m[-1, -1, :] = True
    elif case == "diagonal":  # collinear in 3-D, no two vertices share a plane
        for i in range(1, 11):
            m[i, i, i] = True
    _check(m, (2.5, 0.6, 0.75))


def test_edge_touching_random():
    rng = np.random.default_rng(11)
    _check(rng.random((9, 10, 11)) < 0.5, (1.0, 2.0, 3.0))


def test_empty_mask_like_stock():
    m = np.zeros((5, 5, 5), dtype=bool)
    stock = cShape.calculate_coefficients(m, np.ones(3))
    fast = fastshape.calculate_coefficients(m, np.ones(3))
    assert stock == fast


def test_bad_input():
    with pytest.raises(ValueError, match="3-D"):
        fastshape.calculate_coefficients(np.ones((4, 4), dtype=bool), np.ones(3))
    with pytest.raises(ValueError, match="spacing"):
        fastshape.calculate_coefficients(np.ones((4, 4, 4), dtype=bool), np.ones(2))


def _extractor():
    # the installed radiomics has an INFO message with a bad format string
    logging.getLogger("radiomics").setLevel(logging.WARNING)
    ext = featureextractor.RadiomicsFeatureExtractor()
    ext.disableAllFeatures()
    ext.enableFeaturesByName(shape=[])
    return ext


def _compare_extraction(image, mask):
    ext = _extractor()
    bb, _ = imageoperations.checkMask(image, mask, label=1)
    saved, fastshape.STOCK_BELOW_VOXELS = fastshape.STOCK_BELOW_VOXELS, 0  # always the fast code
    try:
        fast = fastshape.compute_shape(ext, image, mask, bb, **ext.settings)
    finally:
        fastshape.STOCK_BELOW_VOXELS = saved
    stock = ext.computeShape(image, mask, bb, **ext.settings)
    assert list(stock) == list(fast) and len(stock) >= 14
    for key, ref in stock.items():
        got = float(fast[key])
        ref = float(ref)
        if "Diameter" in key:
            assert got == ref, key
        else:
            assert abs(got - ref) <= REL * abs(ref), (key, got, ref)
    return stock


@pytest.mark.parametrize("name", ["lung1", "brain1", "breast1"])
def test_sample_cases(request, name):
    image, mask = (sitk.ReadImage(str(p)) for p in case_paths(request, name))
    _compare_extraction(image, mask)


def test_large_lesion():
    from radgui.features.phantoms import large_lesion_case

    image, mask = large_lesion_case()
    _compare_extraction(image, mask)


def _shape_calls(monkeypatch, cases_dir, case):
    """(image, mask, calls): compute_shape on a sample case, counting fastshape's calls."""
    image = sitk.ReadImage(str(cases_dir / f"{case}_image.nrrd"))
    mask = sitk.ReadImage(str(cases_dir / f"{case}_label.nrrd"))
    ext = _extractor()
    bb, _ = imageoperations.checkMask(image, mask, label=1)
    calls = []
    real = fastshape.calculate_coefficients
    monkeypatch.setattr(fastshape, "calculate_coefficients", lambda *a: calls.append(1) or real(*a))
    fastshape.compute_shape(ext, image, mask, bb, **ext.settings)
    return image, mask, calls


def test_switch_off_uses_stock(monkeypatch, cases_dir):
    monkeypatch.setattr(fastshape, "ENABLED", False)
    assert _shape_calls(monkeypatch, cases_dir, "brain1")[2] == []


def test_switch_on_uses_fastshape(monkeypatch, cases_dir):
    assert _shape_calls(monkeypatch, cases_dir, "brain1")[2] == [1]


def test_small_masks_go_to_stock(monkeypatch, cases_dir):
    image, mask, calls = _shape_calls(monkeypatch, cases_dir, "breast1")
    assert calls == []  # 143 voxels < STOCK_BELOW_VOXELS
    _compare_extraction(image, mask)
    assert calls == [1]


@pytest.mark.parametrize("workers", [1, 2])
def test_extract_hook_matches_stock(brain1, monkeypatch, workers):
    """Both extract.py call sites (serial and the forked _run_job) use fastshape."""
    from radgui.features import extract, load_preset
    from radgui.io import load_mask, load_volume

    vol = load_volume(brain1[0])
    mask = load_mask(brain1[1], vol)
    preset = load_preset("ct-original")
    slow = extract(vol, {"t": mask}, preset, fast=False).loc["t"]
    calls = []
    real = fastshape.calculate_coefficients
    monkeypatch.setattr(fastshape, "calculate_coefficients",
                        lambda *a: calls.append(1) or real(*a))
    fast = extract(vol, {"t": mask}, preset, workers=workers).loc["t"]
    if workers == 1:
        assert calls == [1]  # (in the forked worker the call is not seen here)
    shape_keys = [k for k in slow.index if "_shape_" in k]
    assert len(shape_keys) >= 14
    for key in shape_keys:
        ref, got = float(slow[key]), float(fast[key])
        if "Diameter" in key:
            assert got == ref, key
        else:
            assert abs(got - ref) <= REL * abs(ref), (key, got, ref)


def test_planes_skipped_by_their_bounding_box_give_the_per_plane_maximum():
    from radgui.features.fastshape import _groups_pair_max, _pair_max

    rng = np.random.default_rng(3)
    sizes = np.array([1, 2, 5, 40, 7, 120, 3, 1, 60])
    pts = rng.normal(0, 30, (sizes.sum(), 3)).round(1)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    per_plane = max(_pair_max(pts[s:s + n]) for s, n in zip(starts, sizes))
    assert _groups_pair_max(pts, starts, sizes) == per_plane
    # the widest plane is not always the farthest pair: a long thin plane beats a fat one
    line = np.array([[0, 0, 0], [0, 0, 100.0], [0, 1, 50]])
    fat = np.array([[1, y, x] for y in (0, 70) for x in (0, 70)], float)
    pts2 = np.concatenate([fat, line])
    assert _groups_pair_max(pts2, np.array([0, 4]), np.array([4, 3])) == max(_pair_max(fat), _pair_max(line))
    assert _groups_pair_max(pts, starts[:1], sizes[:1]) == 0.0  # one vertex: no pair
