"""One mask reader (radgui.io.load_mask) for every format, on rows != columns grids.

Truth is the array each test wrote; readers are checked segment by segment by name.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radgui.errors import GeometryMismatchError, InputFileError, MaskLabelError
from radgui.io import load_mask, load_volume, save_mask, volume_from_array
from radgui.io.masks import write_slicer_seg
from radgui.io.seg import write_seg
from dicom_factory import write_ct_series, write_rtstruct


@pytest.fixture(autouse=True)
def _deid_key(monkeypatch):
    monkeypatch.setenv("RADGUI_DEID_KEY", "radgui-tests")


@pytest.fixture()
def vol():
    rng = np.random.default_rng(0)
    return volume_from_array(rng.normal(0, 100, (6, 20, 28)).astype(np.int16), spacing=(2.5, 0.8, 0.7),
                             origin=(-10.0, 3.0, -5.0), modality="CT")


def _shapes(shape):
    a = np.zeros(shape, np.uint8)
    a[1:4, 2:9, 3:20] = 1
    a[1:3, 2:15, 3:7] = 1  # L: asymmetric in y and x
    b = np.zeros(shape, np.uint8)
    b[2:5, 10:18, 15:26] = 1  # overlaps a at (2:4, 10:15? no) -- see tests
    return a, b


def _arr(img):
    return sitk.GetArrayFromImage(img)


def test_slicer_single_layer_by_name(tmp_path, vol):
    a, _ = _shapes(vol.shape)
    c = np.zeros(vol.shape, np.uint8)
    c[4:6, 15:19, 22:27] = 1
    path = write_slicer_seg({"GTV": a, "node 2": c}, vol, tmp_path / "s.seg.nrrd")
    header = path.read_bytes()[:4000]
    assert b"dimension: 3" in header and b"Segment1_Name:=node 2" in header
    gtv = load_mask(f"{path}#GTV", vol)
    np.testing.assert_array_equal(_arr(gtv) > 0, a > 0)
    np.testing.assert_array_equal(_arr(load_mask(path, vol, segment="node 2")) > 0, c > 0)
    assert gtv.GetOrigin() == vol.image.GetOrigin()
    with pytest.raises(MaskLabelError, match=r"holds 2 segments \('GTV', 'node 2'\); choose one with s.seg.nrrd#NAME"):
        load_mask(path, vol)
    with pytest.raises(MaskLabelError, match=r"has no segment named 'CTV' \(segments: 'GTV', 'node 2'\)"):
        load_mask(f"{path}#CTV", vol)
    np.testing.assert_array_equal(_arr(load_mask(path, vol, label=2)) > 0, c > 0)  # the label rule still works


def test_slicer_layered_overlapping_by_name(tmp_path, vol):
    a = np.zeros(vol.shape, np.uint8)
    a[1:4, 2:12, 3:20] = 1
    b = np.zeros(vol.shape, np.uint8)
    b[2:5, 8:18, 15:26] = 1
    assert (a & b).any()
    path = write_slicer_seg({"tumour": a, "ring6mm": b}, vol, tmp_path / "layers.seg.nrrd")
    assert b"kinds: list domain domain domain" in path.read_bytes()[:4000]
    np.testing.assert_array_equal(_arr(load_mask(f"{path}#tumour", vol)), a)
    np.testing.assert_array_equal(_arr(load_mask(f"{path}#ring6mm", vol)), b)
    with pytest.raises(MaskLabelError) as err:
        load_mask(f"{path}#core", vol)
    assert str(err.value) == f"{path}: has no segment named 'core' (segments: 'tumour', 'ring6mm')"
    with pytest.raises(MaskLabelError, match="layered segmentation needs the name"):
        load_mask(path, vol, label=1)


def test_slicer_grid_checked_against_image(tmp_path, vol):
    a, _ = _shapes(vol.shape)
    path = write_slicer_seg({"GTV": a}, vol, tmp_path / "s.seg.nrrd")
    other = volume_from_array(np.zeros(vol.shape, np.int16), spacing=(2.5, 0.8, 0.7), origin=(-10.0, 3.0, 0.0))
    with pytest.raises(GeometryMismatchError, match="grids differ by up to 5.000 mm"):
        load_mask(f"{path}#GTV", other)


ITKSNAP = '''################################################
# ITK-SnAP Label Description File
# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL
################################################
    0     0    0    0        0  0  0    "Clear Label"
    1   255    0    0        1  1  1    "GTV"
    2     0  255    0        1  1  1    "lymph node"
'''


def test_itksnap_label_names(tmp_path, vol):
    a, _ = _shapes(vol.shape)
    lab = a.copy()
    lab[4:6, 15:19, 22:27] = 2
    seg = save_mask(lab, tmp_path / "seg.nii.gz", like=vol)
    desc = tmp_path / "labels.txt"
    desc.write_text(ITKSNAP)
    m = load_mask(f"{seg}#lymph node", vol, label_names=desc)
    np.testing.assert_array_equal(_arr(m) > 0, lab == 2)
    assert int(_arr(m).max()) == 2  # the mask rule keeps the label's value
    with pytest.raises(MaskLabelError, match=r"has no label named 'CTV' \(labels: 'GTV', 'lymph node'\)"):
        load_mask(seg, vol, segment="CTV", label_names=desc)
    with pytest.raises(MaskLabelError, match="plain label map with no segment names"):
        load_mask(f"{seg}#GTV", vol)


def test_itksnap_garbage_line_refused(tmp_path, vol):
    seg = save_mask(_shapes(vol.shape)[0], tmp_path / "seg.nii.gz", like=vol)
    desc = tmp_path / "labels.txt"
    desc.write_text(ITKSNAP + "    3   12  rm -rf / \n")
    with pytest.raises(InputFileError) as err:
        load_mask(f"{seg}#GTV", vol, label_names=desc)
    assert str(err.value) == (f"{desc}: line 8 is not an ITK-SNAP label description "
                              "(IDX R G B A VIS MSH \"LABEL\"): '3   12  rm -rf /'")


def test_rtstruct_and_seg_by_name(tmp_path):
    truth = write_ct_series(tmp_path / "ct", rows=48, cols=64)
    z3 = truth["positions"][3][2]
    box = np.array([[-16.1, -27.3, z3], [-4.2, -27.3, z3], [-4.2, -12.5, z3], [-16.1, -12.5, z3]])
    rs = write_rtstruct(tmp_path / "rs.dcm", truth, {"GTV": [box], "node": [box + [1, 1, 0]]})
    vol = load_volume(tmp_path / "ct")
    gtv = load_mask(f"{rs}#GTV", vol)
    assert _arr(gtv)[3].sum() > 50 and _arr(gtv).sum() == _arr(gtv)[3].sum()
    with pytest.raises(MaskLabelError, match=r"rs.dcm: has no ROI named 'PTV' \(ROIs: 'GTV', 'node'\)"):
        load_mask(f"{rs}#PTV", vol)
    with pytest.raises(MaskLabelError, match=r"holds 2 segments \('GTV', 'node'\)"):
        load_mask(rs, vol)
    mask = np.zeros(vol.shape, np.uint8)
    mask[2:5, 10:30, 5:40] = 1
    seg = write_seg({"tumour": mask, "ring3mm": np.roll(mask, 3, axis=2)}, vol, tmp_path / "seg.dcm")
    np.testing.assert_array_equal(_arr(load_mask(f"{seg}#tumour", vol)), mask)
    with pytest.raises(MaskLabelError, match=r"seg.dcm: has no segment named 'core' \(segments: 'tumour', 'ring3mm'\)"):
        load_mask(f"{seg}#core", vol)
    other = write_rtstruct(tmp_path / "other.dcm", truth, {"GTV": [box]}, for_uid="1.2.3.4.5")
    with pytest.raises(GeometryMismatchError, match="FrameOfReferenceUID 1.2.3.4.5"):
        load_mask(f"{other}#GTV", vol)


def test_slicer_cropped_extent_pasted_onto_the_image(tmp_path, vol):
    """Slicer writes a segmentation cropped to its extent; it lands on the right voxels of the image."""
    a, _ = _shapes(vol.shape)
    full = write_slicer_seg({"GTV": a}, vol, tmp_path / "full.seg.nrrd")
    img = sitk.ReadImage(str(full))
    cropped = img[3:20, 2:15, 1:4]  # x, y, z box holding the whole ROI
    sitk.WriteImage(cropped, str(tmp_path / "crop.seg.nrrd"))
    assert cropped.GetSize() != vol.image.GetSize()
    np.testing.assert_array_equal(_arr(load_mask(f"{tmp_path / 'crop.seg.nrrd'}#GTV", vol)) > 0, a > 0)


def test_itksnap_descriptions_roundtrip(tmp_path, vol):
    from radgui.io.masks import read_label_descriptions, write_label_descriptions

    a, _ = _shapes(vol.shape)
    lab = a.copy()
    lab[4:6, 15:19, 22:27] = 3
    seg = save_mask(lab, tmp_path / "seg.nii.gz", like=vol)
    desc = write_label_descriptions({"GTV": 1, 'node "A"\nx': 3}, tmp_path / "labels.txt")
    assert read_label_descriptions(desc) == {"GTV": 1, "node  A  x": 3}
    np.testing.assert_array_equal(_arr(load_mask(f"{seg}#node  A  x", vol, label_names=desc)) > 0, lab == 3)


def test_rtstruct_on_non_dicom_image_warns(tmp_path):
    truth = write_ct_series(tmp_path / "ct", rows=48, cols=64)
    z3 = truth["positions"][3][2]
    box = np.array([[-16.1, -27.3, z3], [-4.2, -27.3, z3], [-4.2, -12.5, z3], [-16.1, -12.5, z3]])
    rs = write_rtstruct(tmp_path / "rs.dcm", truth, {"GTV": [box]})
    dicom_vol = load_volume(tmp_path / "ct")
    nrrd = volume_from_array(dicom_vol.array, spacing=dicom_vol.spacing, origin=dicom_vol.origin)
    m = load_mask(f"{rs}#GTV", nrrd)
    np.testing.assert_array_equal(_arr(m), _arr(load_mask(f"{rs}#GTV", dicom_vol)))
    assert any("frame of reference could not be checked" in w for w in nrrd.warnings)
    assert not any("frame of reference" in w for w in dicom_vol.warnings)
