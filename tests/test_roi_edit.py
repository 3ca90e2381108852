"""ROI editing: holes, islands, smoothing, logic, margins, slice interpolation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from radgui.errors import EmptyMaskError, GeometryMismatchError
from radgui.roi import (
    RoiParameterError,
    fill_holes,
    interpolate_slices,
    keep_largest,
    logical,
    margin,
    remove_islands,
    smooth,
)


def ball(shape, centre, radius_vox):
    g = np.indices(shape)
    return ((g - np.asarray(centre)[:, None, None, None]) ** 2).sum(0) <= radius_vox**2


def test_fill_holes_3d_and_per_slice():
    solid = ball((21, 21, 21), (10, 10, 10), 8)
    hollow = solid & ~ball((21, 21, 21), (10, 10, 10), 4)
    before = hollow.copy()
    assert np.array_equal(fill_holes(hollow), solid)
    assert np.array_equal(hollow, before)
    # an open tube: no 3D cavity, but every axial slice is a ring with a hole
    tube = np.zeros((5, 21, 21), bool)
    disc = ball((1, 21, 21), (0, 10, 10), 8)[0]
    tube[:] = disc & ~ball((1, 21, 21), (0, 10, 10), 4)[0]
    assert np.array_equal(fill_holes(tube), tube)
    assert np.array_equal(fill_holes(tube, per_slice=True), np.broadcast_to(disc, tube.shape))


def test_keep_largest_and_remove_islands():
    m = np.zeros((10, 20, 20), np.uint8)
    m[1:4, 1:4, 1:4] = 1  # 27 voxels
    m[6:8, 10:12, 10:12] = 1  # 8 voxels
    m[5:9, 14:19, 14:19] = 1  # 100 voxels
    largest = keep_largest(m)
    assert largest.sum() == 100
    # voxels of 2 mm3: islands of 16 and 54 mm3 and 200 mm3
    kept = remove_islands(m, (2.0, 1.0, 1.0), min_volume_mm3=50)
    assert kept.sum() == 127
    assert remove_islands(m, (2.0, 1.0, 1.0), 0).sum() == 135
    with pytest.raises(EmptyMaskError):
        keep_largest(np.zeros((3, 3, 3)))
    with pytest.raises(RoiParameterError, match="island"):
        remove_islands(m, (1, 1, 1), -5)


def test_smooth_removes_spikes_keeps_volume():
    m = ball((31, 31, 31), (15, 15, 15), 10)
    spiky = m.copy()
    spiky[15, 15, 26:29] = True  # a 3-voxel spike
    out = smooth(spiky, (1.0, 1.0, 1.0), sigma_mm=1.5)
    assert not out[15, 15, 27:29].any()
    # Gaussian smoothing moves a sphere's surface inwards by sigma^2 / r (mean curvature flow).
    assert out.sum() == pytest.approx(4 / 3 * np.pi * (10 - 1.5**2 / 10) ** 3, rel=0.03)
    assert np.array_equal(smooth(m, (1, 1, 1), 0), m)
    with pytest.raises(RoiParameterError):
        smooth(m, (1, 1, 1), -1)


def test_logical_ops():
    a = np.zeros((1, 1, 4), bool)
    b = np.zeros((1, 1, 4), bool)
    a[..., :2] = True
    b[..., 1:3] = True
    assert logical(a, b, "union").ravel().tolist() == [1, 1, 1, 0]
    assert logical(a, b, "intersection").ravel().tolist() == [0, 1, 0, 0]
    assert logical(a, b, "subtract").ravel().tolist() == [1, 0, 0, 0]
    assert logical(a, b, "xor").ravel().tolist() == [1, 0, 1, 0]
    with pytest.raises(RoiParameterError, match="unknown logical"):
        logical(a, b, "nand")
    with pytest.raises(GeometryMismatchError):
        logical(a, np.zeros((1, 1, 5)), "union")


def test_margin_grow_and_shrink():
    sp = (2.0, 1.0, 1.0)
    g = np.indices((31, 61, 61)).astype(float) * np.asarray(sp)[:, None, None, None]
    r = np.sqrt(((g - np.array([30.0, 30.0, 30.0])[:, None, None, None]) ** 2).sum(0))
    m = r <= 12
    grown = margin(m, sp, 4.0)
    assert grown.sum() * 2 == pytest.approx(4 / 3 * np.pi * 16**3, rel=0.1)
    shrunk = margin(m, sp, -4.0)
    # the core is biased low by the staircase surface (documented in docs/roi.md)
    assert shrunk.sum() * 2 == pytest.approx(4 / 3 * np.pi * 8**3, rel=0.2)
    assert shrunk.sum() * 2 < 4 / 3 * np.pi * 8**3
    assert not margin(m, sp, -40.0).any()


def test_interpolate_slices_between_two_circles():
    sp = (2.0, 0.5, 0.5)
    shape = (11, 101, 101)
    m = np.zeros(shape, bool)
    yy, xx = np.indices(shape[1:])
    rr = np.sqrt((yy - 50) ** 2 + (xx - 50) ** 2) * 0.5
    m[0] = rr <= 10.0
    m[10] = rr <= 20.0
    before = m.copy()
    out = interpolate_slices(m, sp)
    assert np.array_equal(m, before)
    assert np.array_equal(out[0], m[0]) and np.array_equal(out[10], m[10])
    for k in range(1, 10):
        expected_area = np.pi * (10.0 + k) ** 2
        assert out[k].sum() * 0.25 == pytest.approx(expected_area, rel=0.05), k
    # nothing is extrapolated beyond the drawn slices
    m2 = np.zeros(shape, bool)
    m2[3] = m[0]
    assert np.array_equal(interpolate_slices(m2, sp), m2)


def test_import_roi_does_not_load_qt():
    code = ("import sys, radgui.roi, radgui.cli.roi; "
            "bad = [m for m in ('PySide6', 'qtpy', 'napari', 'magicgui') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
