"""DICOM inputs: terminal escapes in headers, the spacing contract, split-series ids, unreadable files (issue 11)."""

from __future__ import annotations

import errno
import re
import json

import numpy as np
import pydicom
import pytest

from radgui.cli import main
from radgui.errors import DicomError, InputFileError, SliceSpacingError
from radgui.io import dicom, load_volume
from dicom_factory import write_ct_series

ESCAPES = "\x1b[2J\x1b]0;owned\x07CT\x9b31m thorax\r\nEVIL\x00"


def test_series_description_escape_sequences_are_stripped(tmp_path, capsys):
    write_ct_series(tmp_path / "ct", description=ESCAPES)
    assert main(["series", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert not any(ord(c) < 32 and c != "\n" or 0x7F <= ord(c) < 0xA0 for c in out), repr(out)
    assert "[2J ]0;owned CT 31m thorax EVIL" in out
    assert main(["series", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["series"][0]["description"] == "[2J ]0;owned CT 31m thorax EVIL"
    # everywhere a series is named: picker labels and error messages
    series = dicom.list_series(tmp_path)
    assert "\x1b" not in series[0].label()


def _variable(tmp_path):
    z = [0.0, 2.5, 5.0, 6.25, 7.5, 10.0, 12.5]
    write_ct_series(tmp_path / "var", positions=[[0.0, 0.0, v] for v in z], description="uneven")
    return tmp_path / "var"


def test_variable_spacing_names_the_exact_options(tmp_path, capsys):
    folder = _variable(tmp_path)
    with pytest.raises(SliceSpacingError) as err:
        load_volume(folder)
    msg = str(err.value)
    assert "never averaged" in msg and "resample_spacing=True" in msg and "--resample-spacing" in msg
    assert main(["roi", "measure", str(folder), str(folder)]) == 2
    assert "--resample-spacing" in capsys.readouterr().err
    vol = load_volume(folder, resample_spacing=True)
    assert any("resampled on request to an even spacing of 1.250 mm" in w for w in vol.warnings)
    assert vol.shape[0] == 11


def test_cli_offers_the_resample_option(tmp_path, capsys):
    folder = _variable(tmp_path)
    vol = load_volume(folder, resample_spacing=True)
    mask = np.zeros(vol.shape, np.uint8)
    mask[3:7, 10:20, 10:20] = 1
    from radgui.io import save_mask

    save_mask(mask, tmp_path / "m.nrrd", like=vol)
    code = main(["roi", "measure", str(folder), str(tmp_path / "m.nrrd"), "--resample-spacing",
                 "--json", str(tmp_path / "m.json")])
    assert code == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "m.json").read_text())[0]["voxel_count"] == 400
    for command in ("extract", "predict", "view"):
        from radgui.cli import build_parser

        parser = build_parser()
        args = parser.parse_args([command, *(["demo"] if command == "predict" else []),
                                  *(["--image", "x"] if command in ("extract", "predict") else ["x"]),
                                  "--resample-spacing", "--series-uid", "1.2.3"])
        assert args.resample_spacing is True and args.series_uid == "1.2.3"


def _split_cases():
    def orientation(p, uid):
        write_ct_series(p, series_uid=uid, name="ax")
        write_ct_series(p, series_uid=uid, name="sag", iop=(0, 1, 0, 0, 0, -1), n_slices=6)

    def orientation_in_subfolders(p, uid):
        write_ct_series(p / "a", series_uid=uid, name="ax")
        write_ct_series(p / "b", series_uid=uid, name="sag", iop=(0, 1, 0, 0, 0, -1), n_slices=6)

    def image_size(p, uid):
        write_ct_series(p, series_uid=uid, name="big")
        write_ct_series(p, series_uid=uid, name="small", rows=32, cols=32, origin=(0, 0, 100))

    def pixel_spacing(p, uid):
        write_ct_series(p, series_uid=uid, name="a")
        write_ct_series(p / "b", series_uid=uid, name="b", pixel_spacing=(0.5, 0.5), origin=(0, 0, 100))

    def acquisition(p, uid):
        for acq in (1, 2):
            write_ct_series(p, series_uid=uid, name=f"acq{acq}", n_slices=6,
                            extra=lambda ds, k, acq=acq: setattr(ds, "AcquisitionNumber", acq))

    def one_image_part(p, uid):
        write_ct_series(p, series_uid=uid, name="ax")
        write_ct_series(p, series_uid=uid, name="one", iop=(0, 1, 0, 0, 0, -1), n_slices=1)

    return [orientation, orientation_in_subfolders, image_size, pixel_spacing, acquisition, one_image_part]


@pytest.mark.parametrize("make", _split_cases(), ids=lambda f: f.__name__)
def test_every_id_discovery_returns_loads(tmp_path, make):
    uid = pydicom.uid.generate_uid()
    make(tmp_path, uid)
    listed = dicom.list_series(tmp_path)
    assert len(listed) == 2 and all("#" in s.uid for s in listed)
    for s in listed:
        loads = [lambda: load_volume(tmp_path, series_uid=s.uid),  # the folder that was listed
                 lambda: load_volume(s.files[0], series_uid=s.uid),  # one of its files (scans its folder only)
                 lambda: load_volume(s.files[0])]  # the file alone: the part it belongs to
        for load in loads:
            if s.problem is None:
                vol = load()
                assert sorted(vol.shape) == sorted((s.n_slices, s.rows, s.cols))
                assert sorted(vol.meta["dicom"]["sop_instance_uids"]) == sorted(f.sop_uid for f in s.frames)
            else:
                with pytest.raises(DicomError, match=re.escape(s.problem)):
                    load()


def test_unreadable_dicom_file_says_why(tmp_path, monkeypatch):
    truth = write_ct_series(tmp_path / "ct", n_slices=3)
    import pydicom as pd

    real = pd.dcmread

    def denied(path, *a, **k):
        if str(path).endswith(truth["paths"][1].name):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(pd, "dcmread", denied)
    scan = dicom.scan_dicom(tmp_path / "ct")
    assert scan.skipped["unreadable file (permission denied)"] == 1
    with pytest.raises(InputFileError, match=r"cannot read the file \(permission denied\)"):
        load_volume(truth["paths"][1])
