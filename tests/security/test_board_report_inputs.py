"""Hostile or odd sessions given to ``radgui report``: one-line errors, exit 2, nothing written; text drawn as is."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from radgui.io import volume_from_array


def _session(tmp_path, roi="tumour", model=None):
    import SimpleITK as sitk

    from radgui.io import load_volume
    from radgui.session import Session, save_session

    v = volume_from_array(np.full((6, 30, 30), 40.0, np.float32), spacing=(2.0, 1.0, 1.0))
    sitk.WriteImage(v.image, str(tmp_path / "ct.nrrd"))
    vol = load_volume(tmp_path / "ct.nrrd", modality="CT")
    m = np.zeros(vol.shape, np.uint8)
    m[2:4, 10:20, 10:20] = 1
    s = Session()
    s.add_image("CT", vol)
    s.set_roi(roi, m, like=vol)
    if model is not None:
        s.update(model=model)
    return save_session(s, tmp_path / "s.radgui")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
def test_mathtext_in_a_roi_name_is_drawn_literally(tmp_path):
    from radgui.report.patient_report import write_patient_report
    from radgui.session import open_session

    path = _session(tmp_path, roi=r"tum$\frac{our$")  # "$...$" would be parsed as mathtext and fail
    rep = write_patient_report(open_session(path), tmp_path / "r.pdf")
    text = subprocess.run(["pdftotext", str(rep.pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert r"tum$\frac{our$" in text and rep.pages == 2


def test_unknown_model_name_is_one_line_exit_2_and_nothing_written(tmp_path, capsys):
    from radgui.cli import main

    path = _session(tmp_path, model={"name": "Secret model"})
    assert main(["report", str(path), "-o", str(tmp_path / "r.pdf")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("radgui report: error: the session names the model 'Secret model' but not its file; "
                   "give the bundle (radgui report SESSION --model BUNDLE)")
    assert not (tmp_path / "r.pdf").exists()


def test_slice_outside_and_bad_paper(tmp_path, capsys):
    from radgui.cli import main
    from radgui.errors import RadguiError
    from radgui.report.patient_report import write_patient_report
    from radgui.session import open_session

    path = _session(tmp_path)
    assert main(["report", str(path), "-o", str(tmp_path / "r.pdf"), "--slice", "0"]) == 2
    assert capsys.readouterr().err.strip() == "radgui report: error: slice -1 is outside the image (0-5)"
    with pytest.raises(RadguiError, match="paper must be one of a4, letter, got 'a3'"):
        write_patient_report(open_session(path), tmp_path / "r.pdf", paper="a3")
    assert not (tmp_path / "r.pdf").exists()


def test_empty_roi_is_refused(tmp_path, capsys):
    import SimpleITK as sitk

    from radgui.cli import main
    from radgui.io import load_volume
    from radgui.session import Session, save_session

    v = volume_from_array(np.zeros((4, 8, 8), np.float32))
    sitk.WriteImage(v.image, str(tmp_path / "ct.nrrd"))
    vol = load_volume(tmp_path / "ct.nrrd", modality="CT")
    s = Session()
    s.add_image("CT", vol)
    s.set_roi("tumour", np.zeros(vol.shape, np.uint8), like=vol)
    path = save_session(s, tmp_path / "e.radgui")
    assert main(["report", str(path), "-o", str(tmp_path / "e.pdf")]) == 2
    assert capsys.readouterr().err.strip() == ("radgui report: error: the tumour ROI is empty: "
                                               "there is no key slice to show")
    assert not (tmp_path / "e.pdf").exists()
