"""Writers for other tools: DICOM-SEG coded per role, RTSTRUCT, Slicer .seg.nrrd; round trips on rows != columns.

The RTSTRUCT is read back twice: with radgui (:func:`read_rtstruct`) and with an
independent reader written here from pydicom + matplotlib's point-in-polygon
(no rt-utils / dicompyler in the environment), voxel centres against the
ContourData polygons, even-odd across the contours of one slice.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from matplotlib.path import Path as MplPath

from radgui.io import load_mask, load_volume
from radgui.io.deid import identifying_attributes
from radgui.io.masks import write_slicer_seg
from radgui.io.seg import read_rtstruct, read_seg, write_rtstruct, write_seg
from dicom_factory import write_ct_series


@pytest.fixture(autouse=True)
def _deid_key(monkeypatch):
    monkeypatch.setenv("RADGUI_DEID_KEY", "radgui-tests")


def _shape_with_hole(shape):
    m = np.zeros(shape, np.uint8)
    m[2:6, 5:30, 8:14] = 1
    m[2:6, 24:30, 8:40] = 1  # L, asymmetric in x and y
    m[3, 10:40, 18:34] = 1
    m[3, 14:20, 22:28] = 0  # a hole in slice 3
    m[5, 40:44, 50:60] = 1  # a second island
    return m


def independent_rtstruct(path, truth, rows, cols):
    """(z, y, x) mask per ROI name, from ContourData alone (axial series of dicom_factory)."""
    ds = pydicom.dcmread(path)
    names = {int(r.ROINumber): str(r.ROIName) for r in ds.StructureSetROISequence}
    dy, dx = truth["pixel_spacing"]
    ox, oy, _ = truth["positions"][0]
    zs = np.array([p[2] for p in truth["positions"]])
    yy, xx = np.mgrid[0:rows, 0:cols]
    centres = np.column_stack([ox + dx * xx.ravel(), oy + dy * yy.ravel()])
    out = {}
    for rc in ds.ROIContourSequence:
        arr = np.zeros((len(zs), rows, cols), bool)
        for c in rc.ContourSequence:
            pts = np.asarray(c.ContourData, float).reshape(-1, 3)
            k = int(np.argmin(np.abs(zs - pts[0, 2])))
            assert np.allclose(pts[:, 2], zs[k], atol=1e-3)
            inside = MplPath(pts[:, :2]).contains_points(centres).reshape(rows, cols)
            arr[k] ^= inside
        out[names[int(rc.ReferencedROINumber)]] = arr
    return ds, out


@pytest.mark.parametrize("rows,cols", [(48, 64), (64, 48)])
def test_rtstruct_write_roundtrip_two_readers(tmp_path, rows, cols):
    truth = write_ct_series(tmp_path / "ct", rows=rows, cols=cols)
    vol = load_volume(tmp_path / "ct")
    tumour = _shape_with_hole(vol.shape)
    ring = np.zeros(vol.shape, np.uint8)
    ring[7, 3:9, 2:5] = 1
    out = write_rtstruct({"tumour": tumour, "ring3mm": ring}, vol, tmp_path / "rs.dcm")
    back = read_rtstruct(out, vol)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back["tumour"]), tumour)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back["ring3mm"]), ring)
    ds, indep = independent_rtstruct(out, truth, rows, cols)
    np.testing.assert_array_equal(indep["tumour"], tumour > 0)
    np.testing.assert_array_equal(indep["ring3mm"], ring > 0)
    assert ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID == truth["for_uid"]
    uids = {pydicom.dcmread(p).SOPInstanceUID for p in truth["paths"]}
    refs = {c.ContourImageSequence[0].ReferencedSOPInstanceUID for rc in ds.ROIContourSequence
            for c in rc.ContourSequence}
    assert refs <= uids and len(refs) == 5  # slices 2..5 of the tumour + slice 7 of the ring
    assert [o.RTROIInterpretedType for o in ds.RTROIObservationsSequence] == ["GTV", "CONTROL"]
    assert ds.PatientIdentityRemoved == "YES" and str(ds.PatientName) == "" and ds.PatientID == ""
    assert set(identifying_attributes(ds)) == {"StructureSetROISequence/ROIName"}  # radgui's own names, kept
    np.testing.assert_array_equal(sitk.GetArrayFromImage(load_mask(f"{out}#tumour", vol)), tumour)


def test_rtstruct_write_on_reoriented_series(tmp_path):
    write_ct_series(tmp_path / "ct", rows=30, cols=36, iop=(0, 1, 0, 0, 0, -1), n_slices=8)
    vol = load_volume(tmp_path / "ct")
    mask = np.zeros(vol.shape, np.uint8)
    mask[3:9, 2:5, 1:3] = 1
    mask[3:5, 2:9, 1:2] = 1
    back = read_rtstruct(write_rtstruct({"lesion": mask}, vol, tmp_path / "rs.dcm"), vol)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back["lesion"]), mask)


def test_rtstruct_dice_on_lung1(tmp_path, lung1):
    label = sitk.ReadImage(str(lung1[1]))
    arr = sitk.GetArrayFromImage(label) > 0
    z, y, x = np.nonzero(arr)
    box = tuple(slice(max(a.min() - 3, 0), a.max() + 4) for a in (z, y, x))
    crop = arr[box]
    sx, sy, sz = label.GetSpacing()
    origin = label.TransformIndexToPhysicalPoint((int(box[2].start), int(box[1].start), int(box[0].start)))
    assert np.allclose(np.asarray(label.GetDirection()), np.eye(3).ravel())
    write_ct_series(tmp_path / "ct", n_slices=crop.shape[0], rows=crop.shape[1], cols=crop.shape[2],
                    pixel_spacing=(sy, sx), slice_spacing=sz, origin=origin)
    vol = load_volume(tmp_path / "ct")
    assert vol.shape == crop.shape
    back = sitk.GetArrayFromImage(read_rtstruct(write_rtstruct({"GTV": crop}, vol, tmp_path / "rs.dcm"), vol)["GTV"])
    dice = 2 * (back.astype(bool) & crop).sum() / (back.astype(bool).sum() + crop.sum())
    assert crop.sum() == 837 and dice >= 0.98, dice  # measured: 1.0 (exact)


def _code(seq):
    return (seq[0].CodeValue, seq[0].CodingSchemeDesignator)


def test_seg_coded_per_role_with_algorithm(tmp_path):
    write_ct_series(tmp_path / "ct", rows=48, cols=64)
    vol = load_volume(tmp_path / "ct")
    t = _shape_with_hole(vol.shape)
    rois = {"tumour": t, "ring6mm": np.roll(t, 4, axis=2), "core2mm": t * 0 + (t & np.roll(t, 1, axis=1)),
            "tumour+ring6mm": t | np.roll(t, 4, axis=2), "grown": np.roll(t, -3, axis=2)}
    roles = {"grown": {"algorithm": "region_growing", "parameters": {"seed": "(3, 20, 10)", "low": -100}}}
    ds = pydicom.dcmread(write_seg(rois, vol, tmp_path / "seg.dcm", roles=roles))
    by = {s.SegmentLabel: s for s in ds.SegmentSequence}
    neoplasm, tissue = ("108369006", "SCT"), ("85756007", "SCT")
    assert _code(by["tumour"].SegmentedPropertyTypeCodeSequence) == neoplasm
    assert _code(by["tumour"].SegmentedPropertyCategoryCodeSequence) == ("49755003", "SCT")
    assert by["tumour"].SegmentAlgorithmType == "MANUAL"
    ring = by["ring6mm"]
    assert _code(ring.SegmentedPropertyTypeCodeSequence) == tissue
    assert _code(ring.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence) == \
        ("14414005", "SCT")
    assert ring.SegmentAlgorithmType == "AUTOMATIC" and ring.SegmentDescription == "ring 6 mm"
    algo = ring.SegmentationAlgorithmIdentificationSequence[0]
    assert _code(algo.AlgorithmFamilyCodeSequence) == ("123104", "DCM")
    assert algo.AlgorithmName == "radgui derived VOI"
    assert {p for p in str(algo.AlgorithmParameters).split(",")} == {"distance_mm=6.0"}
    assert _code(by["core2mm"].SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence) == \
        ("26216008", "SCT")
    assert _code(by["tumour+ring6mm"].SegmentedPropertyTypeCodeSequence[0]
                 .SegmentedPropertyTypeModifierCodeSequence) == ("255503000", "SCT")
    grown = by["grown"]
    assert grown.SegmentAlgorithmType == "SEMIAUTOMATIC"
    galgo = grown.SegmentationAlgorithmIdentificationSequence[0]
    assert galgo.AlgorithmName == "radgui region growing"
    assert _code(galgo.AlgorithmFamilyCodeSequence) == ("123101", "DCM")
    assert "low=-100" in str(galgo.AlgorithmParameters)
    back = read_seg(tmp_path / "seg.dcm", vol)
    for name, arr in rois.items():
        np.testing.assert_array_equal(sitk.GetArrayFromImage(back[name]), arr > 0)


def test_slicer_seg_roundtrip_rows_ne_cols(tmp_path):
    write_ct_series(tmp_path / "ct", rows=48, cols=64)
    vol = load_volume(tmp_path / "ct")
    t = _shape_with_hole(vol.shape)
    r = np.roll(t, 4, axis=2)
    path = write_slicer_seg({"tumour": t, "ring6mm": r}, vol, tmp_path / "out.seg.nrrd")
    for name, arr in {"tumour": t, "ring6mm": r}.items():
        m = load_mask(f"{path}#{name}", vol)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(m), arr)
        assert m.GetOrigin() == vol.image.GetOrigin() and m.GetSpacing() == vol.image.GetSpacing()


def test_rtstruct_roi_named_after_patient_refused(tmp_path):
    write_ct_series(tmp_path / "ct", rows=20, cols=24, n_slices=4)
    vol = load_volume(tmp_path / "ct")
    m = np.zeros(vol.shape, np.uint8)
    m[1, 5:9, 5:9] = 1
    from radgui.errors import DicomError

    with pytest.raises(DicomError, match="ROI name 'tumour PHANTOM01' repeats the patient's identification"):
        write_rtstruct({"tumour PHANTOM01": m}, vol, tmp_path / "rs.dcm")
    assert not (tmp_path / "rs.dcm").exists()


def test_roi_cli_exports_and_provenance(tmp_path):
    from radgui.cli import main
    from radgui.report.sr import read_sr

    write_ct_series(tmp_path / "ct", rows=40, cols=56, n_slices=8)
    vol = load_volume(tmp_path / "ct")
    t = np.zeros(vol.shape, np.uint8)
    t[2:6, 12:28, 15:40] = 1
    seg = write_slicer_seg({"GTV": t}, vol, tmp_path / "t.seg.nrrd")
    out = tmp_path / "voi"
    assert main(["roi", "rings", str(tmp_path / "ct"), f"{seg}#GTV", "--distances", "3", "--core", "1",
                 "--export", "seg", "--export", "rtstruct", "--export", "slicer", "-o", str(out)]) == 0
    ds = pydicom.dcmread(out / "vois.seg.dcm")
    assert [s.SegmentLabel for s in ds.SegmentSequence] == ["tumour", "core1mm", "ring3mm"]
    assert [s.SegmentAlgorithmType for s in ds.SegmentSequence] == ["MANUAL", "AUTOMATIC", "AUTOMATIC"]
    ring = sitk.GetArrayFromImage(read_rtstruct(out / "vois.rtstruct.dcm", vol)["ring3mm"])
    np.testing.assert_array_equal(ring, sitk.GetArrayFromImage(load_mask(f"{out / 'vois.seg.nrrd'}#ring3mm", vol)))
    assert (out / "rings.json.provenance.json").is_file()
    sr = tmp_path / "m.sr.dcm"
    assert main(["roi", "measure", str(tmp_path / "ct"), f"{out / 'vois.rtstruct.dcm'}#tumour",
                 f"{out / 'vois.seg.dcm'}#ring3mm", "--sr", str(sr), "--csv", str(tmp_path / "m.csv")]) == 0
    report = read_sr(sr)
    assert set(report) == {"tumour", "ring3mm"}
    assert report["tumour"]["measurements"][("118565006", "SCT")][0] == pytest.approx(
        t.sum() * np.prod(vol.spacing) / 1000)
    assert (tmp_path / "m.csv.provenance.json").is_file() and (tmp_path / "m.sr.seg.dcm").is_file()
