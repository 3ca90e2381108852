"""Peritumoral rings, core and unions against an analytic sphere at anisotropic spacing."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from radgui.errors import EmptyMaskError, GeometryMismatchError, RadguiError
from radgui.roi import (
    RoiParameterError,
    axis_thickness_mm,
    body_mask,
    core,
    derived_vois,
    distance_to_tumour_mm,
    rings,
    tumour_ring_unions,
)

SPACING = (2.5, 0.7, 0.7)  # (z, y, x) mm
RADIUS = 10.0
DISTANCES = (3.0, 6.0, 9.0)


def sphere(radius_mm, spacing, offset=(0.0, 0.0, 0.0), margin_mm=15.0):
    """Voxelised sphere (centre-inside test) and its centre index."""
    sp = np.asarray(spacing)
    shape = (np.ceil(2 * (radius_mm + margin_mm) / sp).astype(int)) | 1
    centre = (shape - 1) / 2 + np.asarray(offset)
    g = np.indices(shape).astype(float)
    r = np.sqrt((((g - centre[:, None, None, None]) * sp[:, None, None, None]) ** 2).sum(0))
    return r <= radius_mm, np.round(centre).astype(int)


def line_thickness(ring, centre, axis, spacing):
    """Ring voxels on the axis line through ``centre``, each side, as mm (independent of the engine)."""
    idx = list(centre)
    idx[axis] = slice(None)
    line = ring[tuple(idx)]
    c = centre[axis]
    return line[:c].sum() * spacing[axis], line[c + 1:].sum() * spacing[axis]


def thickness_ok(ring, centre, spacing, expected_mm):
    for axis in range(3):
        for side in line_thickness(ring, centre, axis, spacing):
            if abs(side - expected_mm) > 1.5 * spacing[axis]:
                return False
    return True


@pytest.fixture(scope="module")
def tumour():
    return sphere(RADIUS, SPACING)


def test_annular_ring_thickness_along_every_axis(tumour):
    m, c = tumour
    out = rings(m, SPACING, DISTANCES, mode="annular")
    assert list(out) == ["ring3mm", "ring6mm", "ring9mm"]
    for name in out:
        assert thickness_ok(out[name], c, SPACING, 3.0), name
    # The engine's own report agrees with the independent line count.
    th = axis_thickness_mm(out["ring3mm"], m, SPACING)
    assert th["x"][0] == pytest.approx(np.mean(line_thickness(out["ring3mm"], c, 2, SPACING)))


def test_voxel_count_dilation_fails_the_thickness_check(tumour):
    """The check can fail: a dilation by round(3 mm / 0.7 mm) voxels in every axis is 10 mm thick in z."""
    m, c = tumour
    naive = ndi.binary_dilation(m, iterations=round(3.0 / SPACING[2])) & ~m
    assert not thickness_ok(naive, c, SPACING, 3.0)


def test_cumulative_rings_thickness(tumour):
    m, c = tumour
    out = rings(m, SPACING, DISTANCES, mode="cumulative")
    for d in DISTANCES:
        assert thickness_ok(out[f"ring{d:g}mm"], c, SPACING, d)


@pytest.mark.parametrize("offset", [(0, 0, 0), (0.3, -0.2, 0.45), (-0.45, 0.4, -0.1)])
def test_cumulative_volume_within_10_percent_of_analytic(offset):
    m, _ = sphere(RADIUS, SPACING, offset)
    voxel = np.prod(SPACING)
    out = rings(m, SPACING, DISTANCES, mode="cumulative")
    plain = ndi.distance_transform_edt(~m, sampling=SPACING)
    for d in DISTANCES:
        analytic = 4.0 / 3.0 * np.pi * (RADIUS + d) ** 3
        ours = (m.sum() + out[f"ring{d:g}mm"].sum()) * voxel
        assert abs(ours / analytic - 1) < 0.10, (d, ours / analytic)
        # The documented bias: a plain centre-to-centre map is lower than ours.
        centre_based = (m | (plain <= d)).sum() * voxel
        assert centre_based < ours


def test_rings_are_outside_and_disjoint_unions_consistent(tumour):
    m, _ = tumour
    out = derived_vois(m, SPACING, DISTANCES, mode="annular", unions=True, core_depth_mm=3)
    names = ["ring3mm", "ring6mm", "ring9mm"]
    for n in names:
        assert out[n].any()
        assert not (out[n] & m).any(), n
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not (out[a] & out[b]).any(), (a, b)
    cum = rings(m, SPACING, DISTANCES, mode="cumulative")
    assert np.array_equal(cum["ring9mm"], out["ring3mm"] | out["ring6mm"] | out["ring9mm"])
    assert np.array_equal(cum["ring3mm"] & ~cum["ring6mm"], np.zeros_like(m))  # nested
    for d in DISTANCES:
        assert np.array_equal(out[f"tumour+ring{d:g}mm"], m | cum[f"ring{d:g}mm"])
    assert set(tumour_ring_unions(m, SPACING, DISTANCES)) == {"tumour+ring3mm", "tumour+ring6mm",
                                                              "tumour+ring9mm"}
    assert "core3mm" in out and not (out["core3mm"] & ~m).any()


def test_core_volume_and_too_deep(tumour):
    m, _ = tumour
    c = core(m, SPACING, 3.0)
    analytic = 4.0 / 3.0 * np.pi * (RADIUS - 3.0) ** 3
    assert abs(c.sum() * np.prod(SPACING) / analytic - 1) < 0.15
    with pytest.raises(EmptyMaskError, match="deepest voxel"):
        core(m, SPACING, 15.0)


def phantom_ct():
    """A body (water cylinder with an air-filled lung inside) in air; tumour at the body edge."""
    sp = (2.0, 1.0, 1.0)
    shape = (30, 90, 90)
    z, y, x = np.indices(shape)
    body = (y - 45) ** 2 + (x - 45) ** 2 <= 38**2
    lung = (y - 45) ** 2 + (x - 60) ** 2 <= 12**2
    img = np.full(shape, -1000, np.int16)
    img[body] = 20
    img[lung] = -850
    tumour = ((z - 15) * 2.0) ** 2 + (y - 45) ** 2 + (x - 74) ** 2 <= 6**2
    img[tumour] = 40
    return img, body, tumour, sp


def test_clip_to_body_removes_exactly_the_voxels_outside():
    img, body, tumour, sp = phantom_ct()
    assert np.array_equal(body_mask(img), body)  # the lung is a hole filled back
    free = rings(tumour, sp, DISTANCES)
    clipped = rings(tumour, sp, DISTANCES, clip="body", image=img)
    for name in free:
        assert (free[name] & ~body).any()  # there was air to remove
        assert np.array_equal(clipped[name], free[name] & body)
    hu = rings(tumour, sp, DISTANCES, image=img, hu_range=(-100, 100))
    for name in free:
        assert np.array_equal(hu[name], free[name] & (img >= -100) & (img <= 100))
    arr = rings(tumour, sp, DISTANCES, clip=body)
    assert all(np.array_equal(arr[n], clipped[n]) for n in free)


def test_inputs_untouched_and_types(tumour):
    m, _ = tumour
    m8 = m.astype(np.uint8) * 3
    before = m8.copy()
    out = derived_vois(m8, SPACING, [6, 3], unions=True, core_depth_mm=2.5)
    assert np.array_equal(m8, before)
    assert list(out)[:3] == ["core2.5mm", "ring3mm", "ring6mm"]
    assert all(v.dtype == bool and v.shape == m.shape for v in out.values())


def test_tumour_at_image_border():
    m = np.zeros((10, 40, 40), bool)
    m[0:3, 0:5, 0:5] = True
    out = rings(m, (1.0, 1.0, 1.0), (2, 4))
    assert out["ring2mm"].any() and not (out["ring2mm"] & m).any()


def test_distance_map_matches_definition():
    m = np.zeros((5, 5, 11), bool)
    m[2, 2, 5] = True
    d = distance_to_tumour_mm(m, (1.0, 1.0, 0.5))
    # along x: centre distance k * 0.5 mm minus half a voxel (0.25 mm) to the voxel face
    assert d[2, 2, 7] == pytest.approx(2 * 0.5 - 0.25)
    # along z: 1 mm minus 0.5 mm
    assert d[3, 2, 5] == pytest.approx(0.5)
    assert d[2, 2, 5] == 0.0


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(distances_mm=(-3, 6)), RoiParameterError, "positive"),
    (dict(distances_mm=(3, 3)), RoiParameterError, "repeated"),
    (dict(mode="shell"), RoiParameterError, "ring mode"),
    (dict(clip="body"), RoiParameterError, "needs the CT image"),
    (dict(clip="lungs"), RoiParameterError, "unknown clip"),
    (dict(clip=np.ones((3, 3, 3), bool)), GeometryMismatchError, "shape"),
    (dict(hu_range=(0, 100)), RoiParameterError, "needs the image"),
])
def test_bad_parameters(tumour, kwargs, exc, match):
    m, _ = tumour
    with pytest.raises(exc, match=match):
        rings(m, SPACING, **kwargs)


def test_empty_and_bad_spacing():
    with pytest.raises(EmptyMaskError, match="empty"):
        rings(np.zeros((4, 4, 4)), SPACING)
    with pytest.raises(RadguiError, match="spacing"):
        rings(np.ones((4, 4, 4)), (1, 0, 1))
    with pytest.raises(RoiParameterError, match="3D"):
        rings(np.ones((4, 4)), SPACING)


def test_rings_equal_thresholded_exact_distance_map():
    """The fast path (exact half-voxel term only near thresholds) classifies like the full map."""
    rng = np.random.default_rng(7)
    for _ in range(3):
        sp = tuple(rng.uniform(0.5, 3.0, 3))
        m, _ = sphere(rng.uniform(4, 9), sp, offset=rng.uniform(-0.5, 0.5, 3), margin_mm=12)
        dmap = distance_to_tumour_mm(m, sp)
        out = rings(m, sp, (2.5, 4, 7), mode="annular")
        assert np.array_equal(out["ring2.5mm"], (dmap > 0) & (dmap <= 2.5))
        assert np.array_equal(out["ring4mm"], (dmap > 2.5) & (dmap <= 4))
        assert np.array_equal(out["ring7mm"], (dmap > 4) & (dmap <= 7))
        c = core(m, sp, 1.5)
        inside = distance_to_tumour_mm(~m, sp)
        assert np.array_equal(c, m & (inside > 1.5))
