"""Sessions and studies on DICOM: UIDs in the references, DICOM-SEG export, a study from a DICOM tree."""

from __future__ import annotations

import numpy as np
import pydicom

from dicom_factory import write_ct_series
from radgui.io import load_volume
from radgui.io.seg import read_seg
from radgui.session import Session, export_dicom_seg, open_session, save_session
from radgui.study import assign, create_study


def test_dicom_session_keeps_uids_and_exports_seg(tmp_path):
    write_ct_series(tmp_path / "dcm" / "ct", series_uid="1.2.826.0.1.3680043.8.498.11",
                    study_uid="1.2.826.0.1.3680043.8.498.10")
    vol = load_volume(tmp_path / "dcm" / "ct")
    s = Session()
    s.add_image("CT", vol)
    m = np.zeros(vol.shape, np.uint8)
    m[2:6, 10:20, 10:30] = 1
    s.set_roi("tumour", m, like=vol)
    save_session(s, tmp_path / "d.radgui")
    back = open_session(tmp_path / "d.radgui")
    ref = back.images["CT"]
    assert ref.series_uid == "1.2.826.0.1.3680043.8.498.11" and ref.study_uid == "1.2.826.0.1.3680043.8.498.10"
    out = export_dicom_seg(back.rois, vol, tmp_path / "seg.dcm")
    assert pydicom.dcmread(out).SegmentSequence[0].SegmentLabel == "tumour"
    got = read_seg(out, vol)["tumour"]
    import SimpleITK as sitk

    assert np.array_equal(sitk.GetArrayFromImage(got) > 0, m > 0)


def test_study_from_a_dicom_tree(tmp_path):
    write_ct_series(tmp_path / "tree" / "a", series_uid="1.2.826.0.1.3680043.8.498.21", name="a")
    write_ct_series(tmp_path / "tree" / "b", series_uid="1.2.826.0.1.3680043.8.498.22", name="b", number=3)
    study = create_study(tmp_path / "study", tmp_path / "tree")
    cases = study.cases()
    assert sorted(c.series_uid for c in cases) == ["1.2.826.0.1.3680043.8.498.21", "1.2.826.0.1.3680043.8.498.22"]
    assign(study, "A")
    with study.reader_session("A") as rs:
        vol = rs.load_image(cases[1].case_id)
        assert vol.meta["dicom"]["series_uid"] == cases[1].series_uid
    study.close()
