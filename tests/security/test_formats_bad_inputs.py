"""Bad input for each mask/measurement reader of issue 18: one-line errors, exit 2, nothing read wrongly.

Segment name absent (Slicer layered, DICOM-SEG, RTSTRUCT), an RTSTRUCT on another
frame of reference, an ITK-SNAP label file with garbage lines, a Slicer header
that lies about layers/labels, a header-injection segment name, an SR that is
not TID 1500, a PyRadiomics batch with Label_channel.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from radgui.cli import main
from radgui.errors import DicomError, InputFileError
from radgui.io import load_mask, load_volume, save_mask, volume_from_array
from radgui.io.masks import write_slicer_seg
from radgui.io.seg import write_seg
from dicom_factory import write_ct_series, write_rtstruct


@pytest.fixture(autouse=True)
def _deid_key(monkeypatch):
    monkeypatch.setenv("RADGUI_DEID_KEY", "radgui-tests")


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _box(z):
    return np.array([[-16.1, -27.3, z], [-4.2, -27.3, z], [-4.2, -12.5, z], [-16.1, -12.5, z]])


@pytest.fixture()
def series(tmp_path):
    truth = write_ct_series(tmp_path / "ct", rows=40, cols=56, n_slices=6)
    return truth, tmp_path / "ct"


def test_rtstruct_segment_absent_cli_exit_2(tmp_path, series, capsys):
    truth, ct = series
    rs = write_rtstruct(tmp_path / "RS.dcm", truth, {"GTV": [_box(truth["positions"][2][2])]})
    out = tmp_path / "f.csv"
    assert main(["extract", "--image", str(ct), "--mask", f"{rs}#PTV", "-o", str(out), "--quiet"]) == 2
    assert _one_line(capsys).endswith("RS.dcm: has no ROI named 'PTV' (ROIs: 'GTV')")
    assert not out.exists()


def test_rtstruct_other_frame_of_reference_cli_exit_2(tmp_path, series, capsys):
    truth, ct = series
    rs = write_rtstruct(tmp_path / "RS.dcm", truth, {"GTV": [_box(truth["positions"][2][2])]}, for_uid="1.2.3.4")
    assert main(["roi", "measure", str(ct), f"{rs}#GTV"]) == 2
    assert "RTSTRUCT refers to FrameOfReferenceUID 1.2.3.4, the image has" in _one_line(capsys)


def test_seg_segment_absent(tmp_path, series, capsys):
    _, ct = series
    vol = load_volume(ct)
    m = np.zeros(vol.shape, np.uint8)
    m[2, 5:20, 5:30] = 1
    seg = write_seg({"tumour": m}, vol, tmp_path / "seg.dcm")
    assert main(["roi", "measure", str(ct), f"{seg}#core"]) == 2
    assert _one_line(capsys).endswith("seg.dcm: has no segment named 'core' (segments: 'tumour')")


def test_layered_slicer_segment_absent_cli(tmp_path, capsys):
    img = np.zeros((4, 10, 12), np.int16)
    vol = volume_from_array(img, spacing=(2.0, 0.8, 0.7))
    image_path = save_mask(img, tmp_path / "ct.nrrd", like=vol)
    a = np.zeros(img.shape, np.uint8)
    a[1:3, 2:6, 2:8] = 1
    b = np.zeros(img.shape, np.uint8)
    b[1:4, 4:9, 5:11] = 1
    seg = write_slicer_seg({"tumour": a, "ring": b}, vol, tmp_path / "s.seg.nrrd")
    assert main(["roi", "measure", str(image_path), f"{seg}#core"]) == 2
    assert _one_line(capsys).endswith("s.seg.nrrd: has no segment named 'core' (segments: 'tumour', 'ring')")


def _slicer_header(tmp_path, fields: str):
    vol = volume_from_array(np.zeros((2, 3, 4), np.int16))
    path = tmp_path / "bad.seg.nrrd"
    data = np.zeros((2, 3, 4, 2), np.uint8).tobytes()
    path.write_bytes(("NRRD0004\ntype: unsigned char\ndimension: 4\nspace: left-posterior-superior\n"
                      "sizes: 2 4 3 2\nspace directions: none (1,0,0) (0,1,0) (0,0,1)\n"
                      "kinds: list domain domain domain\nencoding: raw\nspace origin: (0,0,0)\n" + fields
                      + "\n").encode() + data)
    return vol, path


def test_slicer_segment_on_missing_layer(tmp_path):
    vol, path = _slicer_header(tmp_path, "Segment0_ID:=a\nSegment0_Name:=a\nSegment0_Layer:=7\n"
                                         "Segment0_LabelValue:=1\n")
    with pytest.raises(InputFileError, match="segment 'a' is on layer 7 but the file has 2 layers"):
        load_mask(f"{path}#a", vol)


def test_slicer_label_value_not_a_number(tmp_path):
    vol, path = _slicer_header(tmp_path, "Segment0_ID:=a\nSegment0_Name:=a\nSegment0_Layer:=0\n"
                                         "Segment0_LabelValue:=1; rm -rf\n")
    with pytest.raises(InputFileError, match=r"segment 0 \('a'\) has a layer or label value that is not a whole"):
        load_mask(f"{path}#a", vol)


def test_slicer_writer_cannot_inject_header_fields(tmp_path):
    vol = volume_from_array(np.zeros((2, 3, 4), np.int16))
    m = np.zeros((2, 3, 4), np.uint8)
    m[0, 1, 1:3] = 1
    path = write_slicer_seg({"a\nSegment0_Layer:=9": m}, vol, tmp_path / "x.seg.nrrd")
    header = path.read_bytes().split(b"\n\n", 1)[0].decode()
    assert [ln for ln in header.splitlines() if ln.startswith("Segment0_Layer:=")] == ["Segment0_Layer:=0"]
    np.testing.assert_array_equal(sitk.GetArrayFromImage(load_mask(f"{path}#a Segment0_Layer:=9", vol)), m)


def test_itksnap_garbage_line_cli_exit_2(tmp_path, capsys):
    img = np.zeros((3, 8, 9), np.int16)
    vol = volume_from_array(img)
    image_path = save_mask(img, tmp_path / "ct.nrrd", like=vol)
    lab = np.zeros(img.shape, np.uint8)
    lab[1, 2:5, 2:6] = 1
    mask = save_mask(lab, tmp_path / "seg.nii.gz", like=vol)
    desc = tmp_path / "labels.txt"
    desc.write_text('    1   255    0    0        1  1  1    "GTV"\n<script>alert(1)</script>\n')
    assert main(["extract", "--image", str(image_path), "--mask", f"{mask}#GTV", "--label-names", str(desc),
                 "--quiet"]) == 2
    assert _one_line(capsys).endswith("labels.txt: line 2 is not an ITK-SNAP label description "
                                      "(IDX R G B A VIS MSH \"LABEL\"): '<script>alert(1)</script>'")
    desc.write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(InputFileError, match="label description file is over 1024 KiB"):
        load_mask(f"{mask}#GTV", vol, label_names=desc)


def test_sr_that_is_not_tid1500(tmp_path, series):
    from radgui.report.sr import read_sr, write_sr
    from radgui.roi import measure

    truth, ct = series
    with pytest.raises(DicomError, match=r"not a structured report \(Modality CT\)"):
        read_sr(truth["paths"][0])
    vol = load_volume(ct)
    m = np.zeros(vol.shape, bool)
    m[2:4, 5:20, 5:30] = True
    seg = write_seg({"t": m}, vol, tmp_path / "seg.dcm")
    write_sr(vol, seg, {"t": measure(m, vol)}, tmp_path / "sr.dcm")
    ds = pydicom.dcmread(tmp_path / "sr.dcm")
    ds.ContentTemplateSequence[0].TemplateIdentifier = "2000"
    ds.save_as(tmp_path / "other.dcm")
    with pytest.raises(DicomError) as err:
        read_sr(tmp_path / "other.dcm")
    assert str(err.value) == f"{tmp_path / 'other.dcm'}: not a TID 1500 measurement report (template 2000)"


def test_pyradiomics_batch_with_label_channel_refused(tmp_path, capsys):
    batch = tmp_path / "batch.csv"
    batch.write_text("Image,Mask,Label_channel\nct.nrrd,seg.seg.nrrd,1\n")
    assert main(["extract", "--manifest", str(batch), "-o", str(tmp_path / "o.csv"), "--quiet"]) == 2
    assert "a Label_channel column (layered masks) is not supported" in _one_line(capsys)
