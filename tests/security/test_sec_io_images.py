"""Hostile or wrong image and mask files (issue 11, medium and low, image part).

Every file is made here: headers that promise more voxels than the memory
budget, NaN / zero spacing, a CT given as the mask, a mask with two labels,
a layered Slicer segmentation, an unreadable file, a write that fails half way.
"""

from __future__ import annotations

import errno
import gzip
import struct

import numpy as np
import pytest
import SimpleITK as sitk

import radgui.io.volume as volume_module
from radgui.cli import main
from radgui.errors import (
    FeatureExtractionError,
    GeometryError,
    InputFileError,
    MaskLabelError,
    MemoryBudgetError,
    OutputFileError,
)
from radgui.io import load_mask, load_volume, save_mask, volume_from_array


def _ct(path, shape=(12, 20, 24), spacing=(2.0, 0.8, 0.8)):
    z, y, x = np.indices(shape)
    c = np.array(shape) / 2
    r = np.sqrt(((z - c[0]) * spacing[0]) ** 2 + ((y - c[1]) * spacing[1]) ** 2 + ((x - c[2]) * spacing[2]) ** 2)
    arr = np.where(r < 6, 40, -800).astype(np.int16) + (x % 7).astype(np.int16)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(tuple(reversed(spacing)))
    sitk.WriteImage(img, str(path))
    return img, r < 6


def _mask(path, arr, like):
    img = sitk.GetImageFromArray(arr)
    img.CopyInformation(like)
    sitk.WriteImage(img, str(path))
    return path


def _nrrd(path, fields: dict, data: bytes = b"") -> None:
    head = "NRRD0004\n" + "".join(f"{k}: {v}\n" for k, v in fields.items()) + "\n"
    path.write_bytes(head.encode() + data)


# --------------------------------------------------------------------------
# memory budget from the header, every format
# --------------------------------------------------------------------------
def test_gzip_nrrd_bomb_refused_from_its_header(tmp_path, monkeypatch):
    monkeypatch.setenv("RADGUI_MEMORY_BUDGET_GB", "0.001")  # 1 MiB: the file below would decode to 16 MiB
    bomb = tmp_path / "bomb.nrrd"
    _nrrd(bomb, {"type": "short", "dimension": 3, "sizes": "256 256 128", "encoding": "gzip", "endian": "little",
                 "space": "left-posterior-superior", "space directions": "(1,0,0) (0,1,0) (0,0,1)"},
          gzip.compress(b"\0" * 4096))
    assert bomb.stat().st_size < 200
    with pytest.raises(MemoryBudgetError, match=r"256x256x128 voxels .* over the memory budget .*nothing was decoded"):
        load_volume(bomb)
    with pytest.raises(MemoryBudgetError):
        load_mask(bomb, volume_from_array(np.zeros((2, 2, 2))))
    assert main(["roi", "measure", str(bomb), str(bomb)]) == 2


def test_nifti_and_mha_headers_count_too(tmp_path):
    img = sitk.GetImageFromArray(np.zeros((4, 4, 4), np.float32))
    for name in ("big.nii.gz", "big.mha"):
        sitk.WriteImage(img, str(tmp_path / name))
    with pytest.raises(MemoryBudgetError, match="0.00 GiB"):
        load_volume(tmp_path / "big.nii.gz", memory_budget_bytes=100)  # 4*4*4*4 = 256 bytes
    with pytest.raises(MemoryBudgetError):
        load_volume(tmp_path / "big.mha", memory_budget_bytes=255)
    assert load_volume(tmp_path / "big.mha", memory_budget_bytes=256).shape == (4, 4, 4)


# --------------------------------------------------------------------------
# spacing
# --------------------------------------------------------------------------
def _nan_nrrd(tmp_path):
    arr = np.full((6, 8, 8), -800, np.int16)
    arr[2:4, 3:5, 3:5] = 50
    path = tmp_path / "nan.nrrd"
    _nrrd(path, {"type": "short", "dimension": 3, "sizes": "8 8 6", "spacings": "nan 0.8 2.5",
                 "encoding": "raw", "endian": "little"}, arr.tobytes())
    return path


def test_nan_spacing_refused_not_read_as_1mm(tmp_path, capsys):
    path = _nan_nrrd(tmp_path)
    assert sitk.ReadImage(str(path)).GetSpacing()[0] == 1.0  # what SimpleITK alone makes of it
    with pytest.raises(GeometryError, match=r"spacings \(nan 0.8 2.5\) holds nan"):
        load_volume(path)
    code = main(["roi", "grow", str(path), "--seed", "2,3,3", "-o", str(tmp_path / "out.nrrd")])
    assert code == 2 and not (tmp_path / "out.nrrd").exists()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nan" in err and "refused rather than read as 1 mm" in err


def test_nifti_pixdim_and_mha_spacing_checked(tmp_path):
    img = sitk.GetImageFromArray(np.zeros((3, 4, 5), np.int16))
    img.SetSpacing((1.0, 2.0, 3.0))
    sitk.WriteImage(img, str(tmp_path / "a.nii"))
    raw = bytearray((tmp_path / "a.nii").read_bytes())
    raw[84:88] = struct.pack("<f", float("nan"))  # pixdim[2]
    (tmp_path / "nan.nii").write_bytes(bytes(raw))
    (tmp_path / "nan.nii.gz").write_bytes(gzip.compress(bytes(raw)))
    for name in ("nan.nii", "nan.nii.gz"):
        with pytest.raises(GeometryError, match="pixdim"):
            load_volume(tmp_path / name)
    sitk.WriteImage(img, str(tmp_path / "a.mha"))
    text = (tmp_path / "a.mha").read_bytes().replace(b"ElementSpacing = 1 2 3", b"ElementSpacing = -1 2 3")
    (tmp_path / "neg.mha").write_bytes(text)
    with pytest.raises(GeometryError, match="ElementSpacing"):
        load_volume(tmp_path / "neg.mha")


def test_volume_refuses_non_finite_spacing():
    with pytest.raises(GeometryError, match="finite positive"):
        volume_from_array(np.zeros((2, 2, 2)), spacing=(float("nan"), 1.0, 1.0))
    with pytest.raises(GeometryError, match="finite positive"):
        volume_from_array(np.zeros((2, 2, 2)), spacing=(float("inf"), 1.0, 1.0))


# --------------------------------------------------------------------------
# the mask rule
# --------------------------------------------------------------------------
def test_ct_given_as_the_mask_is_refused(tmp_path, capsys):
    _ct(tmp_path / "ct.nrrd")
    vol = load_volume(tmp_path / "ct.nrrd")
    with pytest.raises(MaskLabelError, match="this is the image file itself"):
        load_mask(tmp_path / "ct.nrrd", vol)
    raw = sitk.ReadImage(str(tmp_path / "ct.nrrd"))
    sitk.WriteImage(raw, str(tmp_path / "copy.nrrd"))
    with pytest.raises(MaskLabelError, match=r"negative values \(down to -800\).*image rather than its mask"):
        load_mask(tmp_path / "copy.nrrd", vol)
    values = (sitk.GetArrayFromImage(raw).astype(np.int32) + 1024) * 2 + np.arange(12 * 20 * 24).reshape(12, 20, 24) % 300
    positive = sitk.GetImageFromArray(values.astype(np.uint16))  # a CT stored without its intercept: 0..4095
    positive.CopyInformation(raw)
    sitk.WriteImage(positive, str(tmp_path / "uint.nrrd"))
    with pytest.raises(MaskLabelError, match=r"distinct values; a label map has at most 255 labels"):
        load_mask(tmp_path / "uint.nrrd", vol)
    soft = sitk.Cast(raw, sitk.sitkFloat32) / 3.0
    sitk.WriteImage(soft, str(tmp_path / "float.nrrd"))
    with pytest.raises(MaskLabelError, match="non-integer values"):
        load_mask(tmp_path / "float.nrrd", vol)
    code = main(["extract", "--image", str(tmp_path / "ct.nrrd"), "--mask", str(tmp_path / "copy.nrrd"),
                 "-o", str(tmp_path / "f.csv")])
    assert code == 2 and not (tmp_path / "f.csv").exists()
    assert "negative values" in capsys.readouterr().err


def test_ct_as_mask_makes_predict_exit_2(tmp_path, capsys):
    from radgui.model.bundle import ModelBundle

    _ct(tmp_path / "ct.nrrd")
    sitk.WriteImage(sitk.ReadImage(str(tmp_path / "ct.nrrd")), str(tmp_path / "copy.nrrd"))
    bundle = ModelBundle.from_formula(-2.0, {"original_shape_Sphericity": 2.0}, cutoff=0.5,
                                      cutoff_scale="probability").save(tmp_path / "m")
    code = main(["predict", str(bundle), "--image", str(tmp_path / "ct.nrrd"), "--mask", str(tmp_path / "copy.nrrd"),
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "negative values" in err


def _two_labels(tmp_path):
    img, ball = _ct(tmp_path / "ct.nrrd")
    lab = np.zeros(ball.shape, np.uint8)
    lab[ball] = 1
    lab[1:3, 2:6, 2:6] = 7
    _mask(tmp_path / "two.nrrd", lab, img)
    return lab


def test_two_labels_one_rule_everywhere(tmp_path, capsys):
    lab = _two_labels(tmp_path)
    vol = load_volume(tmp_path / "ct.nrrd")
    with pytest.raises(MaskLabelError, match=r"holds 2 labels \(1, 7\); choose the ROI's label with --label N"):
        load_mask(tmp_path / "two.nrrd", vol)
    seven = sitk.GetArrayFromImage(load_mask(tmp_path / "two.nrrd", vol, label=7))
    assert np.array_equal(seven > 0, lab == 7) and set(np.unique(seven)) == {0, 7}
    with pytest.raises(MaskLabelError, match=r"label 3 is absent from the mask \(labels present: 1, 7\)"):
        load_mask(tmp_path / "two.nrrd", vol, label=3)
    image, two = str(tmp_path / "ct.nrrd"), str(tmp_path / "two.nrrd")
    for argv in (["extract", "--image", image, "--mask", two, "-o", str(tmp_path / "f.csv")],
                 ["roi", "rings", image, two, "-o", str(tmp_path / "rings")],
                 ["roi", "measure", image, two]):
        assert main(argv) == 2, argv
        assert "holds 2 labels (1, 7)" in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists() and not (tmp_path / "rings").exists()
    assert main(["roi", "measure", image, two, "--label", "7", "--json", str(tmp_path / "m.json")]) == 0
    import json

    measured = json.loads((tmp_path / "m.json").read_text())[0]
    assert measured["voxel_count"] == int((lab == 7).sum())
    assert main(["extract", "--image", image, "--mask", two, "--label", "7", "-o", str(tmp_path / "f.csv")]) == 0
    import pandas as pd

    feats = pd.read_csv(tmp_path / "f.csv", index_col=0)
    assert feats["original_shape_VoxelVolume"].iloc[0] == pytest.approx((lab == 7).sum() * 2.0 * 0.8 * 0.8)


def test_two_labels_in_the_python_extract_api(tmp_path):
    from radgui.features.extract import extract

    lab = _two_labels(tmp_path)
    vol = load_volume(tmp_path / "ct.nrrd")
    with pytest.raises(FeatureExtractionError, match=r"holds 2 labels \(1, 7\)"):
        extract(vol, {"t": lab}, "ct-original")


def test_two_labels_make_predict_exit_2(tmp_path, capsys):
    from radgui.model.bundle import ModelBundle

    _two_labels(tmp_path)
    bundle = ModelBundle.from_formula(-2.0, {"original_shape_Sphericity": 2.0}, cutoff=0.5,
                                      cutoff_scale="probability").save(tmp_path / "m")
    argv = ["predict", str(bundle), "--image", str(tmp_path / "ct.nrrd"), "--mask", str(tmp_path / "two.nrrd"),
            "--json"]
    assert main(argv) == 2
    assert "holds 2 labels (1, 7)" in capsys.readouterr().err
    assert main([*argv, "--label", "1"]) == 0, capsys.readouterr().err


def test_layered_slicer_segmentation_one_line(tmp_path, capsys):
    _ct(tmp_path / "ct.nrrd", shape=(4, 5, 6))
    seg = tmp_path / "tumour.seg.nrrd"
    _nrrd(seg, {"type": "uint8", "dimension": 4, "space": "left-posterior-superior", "sizes": "2 6 5 4",
                "space directions": "none (0.8,0,0) (0,0.8,0) (0,0,2)", "kinds": "list domain domain domain",
                "encoding": "raw", "space origin": "(0,0,0)", "Segment0_ID:": "=a", "Segment0_Layer:": "=0",
                "Segment1_ID:": "=b", "Segment1_Layer:": "=1"}, bytes(2 * 6 * 5 * 4))
    text = seg.read_bytes().replace(b"Segment0_ID:: =a", b"Segment0_ID:=a").replace(b"Segment0_Layer:: =0", b"Segment0_Layer:=0")
    text = text.replace(b"Segment1_ID:: =b", b"Segment1_ID:=b").replace(b"Segment1_Layer:: =1", b"Segment1_Layer:=1")
    seg.write_bytes(text)
    vol = load_volume(tmp_path / "ct.nrrd")
    # issue 18: layered files are read now, segment by name; without a name (or with an absent one): one line
    with pytest.raises(MaskLabelError, match=r"layered 3D Slicer segmentation \(overlapping segments\); it holds "
                                             r"2 segments \('a', 'b'\); choose one with tumour.seg.nrrd#NAME"):
        load_mask(seg, vol)
    assert load_mask(f"{seg}#b", vol).GetSize() == vol.image.GetSize()
    assert main(["roi", "measure", str(tmp_path / "ct.nrrd"), str(seg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "layered" in err and "Traceback" not in err


def test_unreadable_file_says_permission_denied(tmp_path, monkeypatch):
    _ct(tmp_path / "ct.nrrd")
    real_open = open

    def denying_open(file, mode="r", *a, **k):
        if str(file).endswith("ct.nrrd"):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr(volume_module, "open", denying_open, raising=False)
    with pytest.raises(InputFileError, match=r"ct.nrrd: cannot read the file \(permission denied\)$"):
        load_volume(tmp_path / "ct.nrrd")


def test_save_mask_is_atomic(tmp_path, monkeypatch):
    vol = volume_from_array(np.zeros((3, 4, 5), np.int16))
    target = tmp_path / "roi.nrrd"
    target.write_bytes(b"previous mask")

    def half_write(image, name, *a, **k):
        with open(name, "wb") as fh:
            fh.write(b"NRRD0004\nhalf")
        raise RuntimeError("Exception thrown in SimpleITK ImageFileWriter_Execute: /tmp/x.cxx:1:\nitk::ERROR: disk full")

    monkeypatch.setattr(volume_module.sitk, "WriteImage", half_write)
    with pytest.raises(OutputFileError, match="cannot write the mask"):
        save_mask(np.ones((3, 4, 5), np.uint8), target, like=vol)
    assert target.read_bytes() == b"previous mask"
    assert [p.name for p in tmp_path.iterdir()] == ["roi.nrrd"]


def test_nan_spacing_of_a_non_spatial_nrrd_axis_is_the_convention(tmp_path):
    path = tmp_path / "vec.nrrd"
    _nrrd(path, {"type": "uint8", "dimension": 4, "sizes": "2 6 5 4", "spacings": "nan 0.8 0.8 2",
                 "kinds": "list domain domain domain", "encoding": "raw"}, bytes(2 * 6 * 5 * 4))
    with pytest.raises(InputFileError, match="2 components per voxel"):  # not a spacing refusal
        load_volume(path)
