"""DICOM SR TID 1500 of radgui's ROIs: written, validated by highdicom on read, values and references checked."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from radgui.io import load_volume
from radgui.report.sr import read_sr, write_sr
from radgui.io.seg import write_seg
from radgui.roi import measure
from dicom_factory import write_ct_series


@pytest.fixture(autouse=True)
def _deid_key(monkeypatch):
    monkeypatch.setenv("RADGUI_DEID_KEY", "radgui-tests")


def test_sr_roundtrip(tmp_path):
    truth = write_ct_series(tmp_path / "ct", rows=48, cols=64)
    vol = load_volume(tmp_path / "ct")
    t = np.zeros(vol.shape, bool)
    t[2:6, 10:30, 8:40] = True
    ring = np.roll(t, 6, axis=2) & ~t
    seg = write_seg({"tumour": t, "ring6mm": ring}, vol, tmp_path / "seg.dcm")
    m = measure(t, vol)
    rois = {"tumour": {**m, "features": {"original_firstorder_Mean": 12.5, "original_glcm_MCC": 0.4}},
            "ring6mm": measure(ring, vol)}
    skipped = write_sr(vol, seg, rois, tmp_path / "sr.dcm")
    assert skipped == {"tumour": ["original_glcm_MCC"], "ring6mm": []}
    back = read_sr(tmp_path / "sr.dcm")
    segds = pydicom.dcmread(seg)
    assert set(back) == {"tumour", "ring6mm"}
    assert back["tumour"]["segment"] == (segds.SOPInstanceUID, 1) and back["ring6mm"]["segment"][1] == 2
    got = back["tumour"]["measurements"]
    assert got[("118565006", "SCT")] == (pytest.approx(m["volume_ml"]), "ml")
    assert got[("103339001", "SCT")] == (pytest.approx(m["recist_long_mm"]), "mm")
    assert got[("L0JK", "IBSI")] == (pytest.approx(m["max_3d_diameter_mm"]), "mm")
    assert got[("Q4LE", "IBSI")] == (12.5, "1")
    ds = pydicom.dcmread(tmp_path / "sr.dcm")
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert ds.PatientIdentityRemoved == "YES" and ds.PatientID == ""
    series = {it.SeriesInstanceUID for it in ds.CurrentRequestedProcedureEvidenceSequence[0]
              .ReferencedSeriesSequence}
    assert truth["series_uid"] in series and segds.SeriesInstanceUID in series
