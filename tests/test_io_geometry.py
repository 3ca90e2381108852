"""Geometry: a marker at a known LPS point lands at the right napari world coordinate.

The phantom is asymmetric (different size on every axis, one marker voxel
off-centre) so that a swapped axis or a missed flip moves the marker.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import SimpleITK as sitk

from radgui.errors import GeometryError, GeometryMismatchError, InputFileError
from radgui.io import load_mask, load_volume, mask_from_array, save_mask

SIZE_XYZ = (7, 5, 4)
SPACING_XYZ = (0.8, 1.1, 2.5)
ORIGIN_XYZ = (-10.0, 20.0, 35.0)
MARKER_INDEX_XYZ = (5, 1, 3)


def _phantom(direction) -> sitk.Image:
    arr = np.zeros(SIZE_XYZ[::-1], np.int16)
    arr[MARKER_INDEX_XYZ[::-1]] = 1000
    arr[0, 0, 0] = -1000  # a CT-like background so modality guessing says CT
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(SPACING_XYZ)
    img.SetOrigin(ORIGIN_XYZ)
    img.SetDirection(tuple(np.asarray(direction, float).ravel()))
    return img


def _signed_permutations():
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            for col, (row, sign) in enumerate(zip(perm, signs)):
                m[row, col] = sign
            yield m


DIRECTIONS = list(_signed_permutations())


@pytest.mark.parametrize("direction", DIRECTIONS, ids=[f"d{i}" for i in range(len(DIRECTIONS))])
def test_marker_lands_at_its_lps_position(tmp_path, direction):
    img = _phantom(direction)
    path = tmp_path / "phantom.nrrd"
    sitk.WriteImage(img, str(path))
    marker_lps_xyz = np.asarray(img.TransformIndexToPhysicalPoint(MARKER_INDEX_XYZ))

    vol = load_volume(path)
    # canonical orientation: identity direction
    assert np.allclose(np.asarray(vol.image.GetDirection()).reshape(3, 3), np.eye(3))
    # napari world = translate + scale * index, in (z, y, x)
    kw = vol.napari_kwargs()
    idx = np.argwhere(vol.array == 1000)
    assert len(idx) == 1
    world_zyx = np.asarray(kw["translate"]) + np.asarray(kw["scale"]) * idx[0]
    assert np.allclose(world_zyx, marker_lps_xyz[::-1], atol=1e-6)
    # and the Volume's own helpers agree
    assert np.allclose(vol.index_to_physical(idx[0]), marker_lps_xyz[::-1])
    assert np.allclose(vol.physical_to_index(marker_lps_xyz[::-1]), idx[0])
    # spacing is positive and a permutation of the original
    assert sorted(vol.spacing) == sorted(SPACING_XYZ)
    assert vol.meta["reorientation"]["changed"] == (not np.allclose(direction, np.eye(3)))


def test_mask_follows_the_same_reorientation(tmp_path):
    direction = [[0, -1, 0], [1, 0, 0], [0, 0, -1]]
    img = _phantom(direction)
    sitk.WriteImage(img, str(tmp_path / "img.nrrd"))
    mask = sitk.Cast(img > 500, sitk.sitkUInt8)
    sitk.WriteImage(mask, str(tmp_path / "mask.nrrd"))
    vol = load_volume(tmp_path / "img.nrrd")
    m = sitk.GetArrayFromImage(load_mask(tmp_path / "mask.nrrd", vol))
    assert np.array_equal(m > 0, vol.array == 1000)


def test_brain1_flipped_y_case(brain1):
    image_path, label_path = brain1
    raw = sitk.ReadImage(str(image_path))
    assert raw.GetDirection()[4] == -1  # the case really has a flipped y axis
    vol = load_volume(image_path)
    raw_arr = sitk.GetArrayViewFromImage(raw)
    # a voxel of the raw image must appear at the same physical point in radgui
    rng = np.random.default_rng(0)
    for _ in range(20):
        idx_xyz = [int(rng.integers(0, s)) for s in raw.GetSize()]
        p = np.asarray(raw.TransformIndexToPhysicalPoint(idx_xyz))[::-1]
        j = np.round(vol.physical_to_index(p)).astype(int)
        assert np.allclose(vol.index_to_physical(j), p, atol=1e-4)
        assert vol.array[tuple(j)] == raw_arr[tuple(idx_xyz[::-1])]
    mask = load_mask(label_path, vol)
    assert sitk.GetArrayViewFromImage(mask).sum() > 0


def test_oblique_image_is_refused(tmp_path):
    a = np.radians(10)
    rot = [[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]]
    sitk.WriteImage(_phantom(rot), str(tmp_path / "oblique.nrrd"))
    with pytest.raises(GeometryError, match="oblique.*10.00 degrees"):
        load_volume(tmp_path / "oblique.nrrd")


def test_mask_grid_mismatch_is_refused_or_resampled(tmp_path):
    img = _phantom(np.eye(3))
    sitk.WriteImage(img, str(tmp_path / "img.nrrd"))
    mask = sitk.Cast(img > 500, sitk.sitkUInt8)
    mask.SetOrigin(tuple(o + d for o, d in zip(ORIGIN_XYZ, (0.0, 0.0, 2.5))))
    sitk.WriteImage(mask, str(tmp_path / "shifted.nrrd"))
    vol = load_volume(tmp_path / "img.nrrd")
    with pytest.raises(GeometryMismatchError, match=r"shifted.nrrd.*differ by up to 2.500 mm"):
        load_mask(tmp_path / "shifted.nrrd", vol)
    resampled = load_mask(tmp_path / "shifted.nrrd", vol, resample=True)
    assert resampled.GetSize() == vol.image.GetSize()
    small = sitk.Cast(img[:3] > 500, sitk.sitkUInt8)
    sitk.WriteImage(small, str(tmp_path / "small.nrrd"))
    with pytest.raises(GeometryMismatchError, match="size"):
        load_mask(tmp_path / "small.nrrd", vol)


def test_bad_files_name_the_file(tmp_path):
    with pytest.raises(InputFileError, match="nope.nrrd: no such file"):
        load_volume(tmp_path / "nope.nrrd")
    (tmp_path / "empty.nrrd").write_bytes(b"")
    with pytest.raises(InputFileError, match="empty.nrrd: the file is empty"):
        load_volume(tmp_path / "empty.nrrd")
    (tmp_path / "junk.nrrd").write_bytes(b"this is not an image at all")
    with pytest.raises(InputFileError, match="junk.nrrd: cannot read the image"):
        load_volume(tmp_path / "junk.nrrd")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputFileError, match="unsupported file type"):
        load_volume(tmp_path / "notes.txt")


def test_save_mask_round_trip(tmp_path):
    sitk.WriteImage(_phantom(np.diag([1, -1, 1])), str(tmp_path / "img.nrrd"))
    vol = load_volume(tmp_path / "img.nrrd")
    arr = (vol.array == 1000).astype(np.uint8)
    out = save_mask(arr, tmp_path / "roi.nii.gz", like=vol)
    back = load_mask(out, vol)
    assert np.array_equal(sitk.GetArrayViewFromImage(back), arr)
    with pytest.raises(GeometryMismatchError):
        mask_from_array(arr[:-1], vol)


def test_array_view_outlives_its_volume(tmp_path):
    import gc

    sitk.WriteImage(_phantom(np.eye(3)), str(tmp_path / "img.nrrd"))
    arr = load_volume(tmp_path / "img.nrrd").array  # the Volume is dropped at once
    gc.collect()
    _ = [np.ones(10_000) for _ in range(50)]  # reuse freed memory
    assert arr[MARKER_INDEX_XYZ[::-1]] == 1000
    assert not arr.flags.writeable


def test_volume_from_array_uses_zyx_order():
    from radgui.io import volume_from_array

    arr = np.zeros((4, 5, 7), np.int16)
    arr[3, 1, 5] = 1000
    vol = volume_from_array(arr, spacing=(2.5, 1.1, 0.8), origin=(35.0, 20.0, -10.0), modality="ct")
    assert vol.modality == "CT" and vol.shape == (4, 5, 7)
    assert vol.image.GetSpacing() == (0.8, 1.1, 2.5)
    # SimpleITK's own (x, y, z) answer for the marker equals radgui's (z, y, x) one reversed
    p_xyz = vol.image.TransformIndexToPhysicalPoint((5, 1, 3))
    assert np.allclose(vol.index_to_physical((3, 1, 5)), p_xyz[::-1])
    arr[0, 0, 0] = 7  # the Volume holds a copy
    assert vol.array[0, 0, 0] == 0
    with pytest.raises(GeometryError, match="3D"):
        volume_from_array(np.zeros((3, 3)))
    with pytest.raises(GeometryError, match="positive"):
        volume_from_array(arr, spacing=(1, 0, 1))
