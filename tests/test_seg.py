"""DICOM-SEG write/read and RTSTRUCT rasterisation, on grids where rows != columns and rows == columns.

Truth is independent of radgui's readers: RTSTRUCT rectangles are checked
against voxel centres computed from the phantom geometry, and the written SEG
is opened with plain pydicom to check which pixel of which plane is set.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from radgui.errors import DicomError, GeometryMismatchError
from radgui.io import load_volume, mask_from_array
from radgui.io.deid import identifying_attributes
from radgui.io.seg import read_dicom_masks, read_rtstruct, read_seg, write_seg
from dicom_factory import write_ct_series, write_rtstruct

GRIDS = [(48, 64), (40, 40)]


@pytest.fixture(autouse=True)
def _deid_key(monkeypatch):
    """The date-shift secret comes from the environment, never from the user's ~/.config."""
    monkeypatch.setenv("RADGUI_DEID_KEY", "radgui-tests")


def _rect(x0, x1, y0, y1, z):
    return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], float)


def _expected_rect(truth, k, x0, x1, y0, y1):
    """Voxel centres of slice k inside the rectangle, computed from the series geometry."""
    rows, cols = truth["values"].shape[1:]
    dy, dx = truth["pixel_spacing"]
    ox, oy, _ = truth["positions"][0]
    x = ox + dx * np.arange(cols)
    y = oy + dy * np.arange(rows)
    return ((y[:, None] > y0) & (y[:, None] < y1)) & ((x[None, :] > x0) & (x[None, :] < x1))


@pytest.mark.parametrize("rows,cols", GRIDS)
def test_rtstruct_rectangles_with_hole(tmp_path, rows, cols):
    truth = write_ct_series(tmp_path / "ct", rows=rows, cols=cols)
    z3 = truth["positions"][3][2]
    z5 = truth["positions"][5][2]
    outer = (-16.1, -4.2, -27.3, -12.5)
    inner = (-13.05, -9.1, -24.1, -20.5)
    rs = write_rtstruct(tmp_path / "rs" / "rs.dcm", truth, {
        "tumour": [_rect(*outer, z3), _rect(*inner, z3)],  # inner contour = hole
        "node": [_rect(-18.0, -15.0, -29.0, -22.3, z5)],
    })
    vol = load_volume(tmp_path / "ct")
    masks = read_rtstruct(rs, vol)
    assert set(masks) == {"tumour", "node"}
    tumour = sitk.GetArrayFromImage(masks["tumour"])
    expected = _expected_rect(truth, 3, *outer) & ~_expected_rect(truth, 3, *inner)
    assert expected.sum() > 50 and (~expected).sum() > 0
    np.testing.assert_array_equal(tumour[3], expected)
    assert tumour.sum() == expected.sum()  # nothing on other slices
    node = sitk.GetArrayFromImage(masks["node"])
    np.testing.assert_array_equal(node[5], _expected_rect(truth, 5, -18.0, -15.0, -29.0, -22.3))
    assert read_dicom_masks(rs, vol).keys() == masks.keys()


def test_rtstruct_other_frame_of_reference_refused(tmp_path):
    truth = write_ct_series(tmp_path / "ct")
    rs = write_rtstruct(tmp_path / "rs.dcm", truth, {"t": [_rect(-10, -5, -20, -15, 10.0)]}, for_uid="1.2.3.4.5")
    with pytest.raises(GeometryMismatchError, match="FrameOfReferenceUID"):
        read_rtstruct(rs, load_volume(tmp_path / "ct"))


def test_dro_rtstruct_gives_reference_suv(pet_dro_dir):
    vol = load_volume(pet_dro_dir / "DRO_0_0" / "PT")
    masks = read_rtstruct(pet_dro_dir / "DRO_0_0" / "RS" / "RS_dro_0_0.dcm", vol)
    values = vol.array[sitk.GetArrayViewFromImage(masks["region_1"]) > 0]
    assert (round(values.min(), 2), round(float(np.median(values)), 2), round(values.max(), 2)) == (0.2, 1.0, 4.0)


def _l_shape(shape):
    m = np.zeros(shape, np.uint8)
    m[2:6, 5:30, 8:14] = 1  # vertical bar
    m[2:6, 24:30, 8:40] = 1  # foot to the right: asymmetric in x and y
    return m[:, : shape[1], : shape[2]]


@pytest.mark.parametrize("rows,cols", GRIDS)
def test_seg_write_read_roundtrip_and_plane_check(tmp_path, rows, cols):
    truth = write_ct_series(tmp_path / "ct", rows=rows, cols=cols)
    vol = load_volume(tmp_path / "ct")
    tumour = _l_shape(vol.shape)
    ring = np.zeros(vol.shape, np.uint8)
    ring[7, 3:9, 2:5] = 1
    out = write_seg({"tumour": mask_from_array(tumour, vol), "ring3mm": ring}, vol, tmp_path / "seg.dcm")
    # independent check with plain pydicom: segment 1 frame at position z has exactly the mask's pixels
    ds = pydicom.dcmread(out)
    assert [s.SegmentLabel for s in ds.SegmentSequence] == ["tumour", "ring3mm"]
    frames = ds.pixel_array
    z0 = truth["positions"][0][2]
    checked = 0
    for f, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        seg_no = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        z = float(item.PlanePositionSequence[0].ImagePositionPatient[2])
        k = int(round((z - z0) / 2.5))
        expected = (tumour if seg_no == 1 else ring)[k]
        np.testing.assert_array_equal(frames[f], expected)
        checked += 1
    assert checked >= 2
    back = read_seg(out, vol)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back["tumour"]), tumour)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back["ring3mm"]), ring)
    assert back["tumour"].GetOrigin() == vol.image.GetOrigin()


def test_seg_roundtrip_on_reoriented_series(tmp_path):
    write_ct_series(tmp_path / "ct", rows=30, cols=36, iop=(0, 1, 0, 0, 0, -1), n_slices=8)
    vol = load_volume(tmp_path / "ct")
    assert vol.meta["reorientation"]["changed"]
    mask = np.zeros(vol.shape, np.uint8)
    mask[3:9, 2:5, 1:3] = 1
    mask[3:5, 2:9, 1:2] = 1
    back = read_seg(write_seg({"lesion": mask}, vol, tmp_path / "seg.dcm"), vol)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back["lesion"]), mask)


def test_seg_is_deidentified_unless_opted_in(tmp_path):
    write_ct_series(tmp_path / "ct")
    vol = load_volume(tmp_path / "ct")
    mask = _l_shape(vol.shape)
    anon = pydicom.dcmread(write_seg({"t": mask}, vol, tmp_path / "anon.dcm"))
    assert anon.PatientIdentityRemoved == "YES"
    assert str(anon.PatientName) == "" and anon.PatientID == "" and "InstitutionName" not in anon
    assert "PatientBirthDate" not in anon or anon.PatientBirthDate == ""
    assert identifying_attributes(anon) == []
    ident = pydicom.dcmread(write_seg({"t": mask}, vol, tmp_path / "ident.dcm", identifying=True))
    assert str(ident.PatientName) == "Test^Phantom" and ident.PatientID == "PHANTOM01"
    assert "PatientName" in identifying_attributes(ident)


def test_seg_needs_dicom_source(tmp_path, lung1):
    vol = load_volume(lung1[0])
    with pytest.raises(DicomError, match="NRRD or NIfTI"):
        write_seg({"t": np.zeros(vol.shape, np.uint8)}, vol, tmp_path / "x.dcm")


def test_seg_wrong_file_refused(tmp_path):
    truth = write_ct_series(tmp_path / "ct")
    vol = load_volume(tmp_path / "ct")
    with pytest.raises(DicomError):
        read_seg(truth["paths"][0], vol)
    with pytest.raises(DicomError, match="not a segmentation"):
        read_dicom_masks(truth["paths"][0], vol)


def test_seg_read_by_plane_position_when_instances_do_not_match(tmp_path, monkeypatch):
    import highdicom as hd

    from radgui.io import seg as segmod

    write_ct_series(tmp_path / "ct", rows=48, cols=64)
    vol = load_volume(tmp_path / "ct")
    mask = _l_shape(vol.shape)
    out = write_seg({"t": mask}, vol, tmp_path / "seg.dcm")
    used = []
    original = segmod._seg_by_position
    monkeypatch.setattr(segmod, "_seg_by_position", lambda *a: used.append(1) or original(*a))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read_seg(out, vol)["t"]), mask)
    assert used == []  # the SOP-instance path was taken

    def refuse(*a, **k):
        raise ValueError("source instances not referenced")

    monkeypatch.setattr(hd.seg.Segmentation, "get_pixels_by_source_instance", refuse)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read_seg(out, vol)["t"]), mask)
    assert used == [1]
