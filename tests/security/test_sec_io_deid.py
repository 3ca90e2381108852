"""A de-identified DICOM-SEG keeps nothing of PS3.15 Table E.1-1 (issue 11, high).

The source series carries identifying data where exporters tend to miss it
(Clinical Trial attributes, free text holding the patient's name, nested
sequences with dates, private tags); the written SEG is walked in full with
plain pydicom and compared with the source, attribute by attribute.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from radgui.io import load_volume
from radgui.io.deid import (
    BASIC_PROFILE_TAGS,
    TABLE_ROWS,
    _REPEATING,
    action_for,
    date_offset_days,
    deidentify,
    identifying_attributes,
)
from radgui.io.seg import write_seg
from dicom_factory import PLANTED, plant_identifying, write_ct_series


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("RADGUI_DEID_KEY", "sec-io-tests")


def _walk(ds, path=()):
    for elem in ds:
        yield path, elem
        if elem.VR == "SQ":
            for item in elem.value:
                yield from _walk(item, path + (elem.keyword,))


def _values(ds) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for _, elem in _walk(ds):
        if elem.VR != "SQ" and elem.value not in (None, "", b""):
            out.setdefault(int(elem.tag), set()).add(str(elem.value))
    return out


def test_table_is_the_whole_of_e1_1():
    assert TABLE_ROWS == 620
    assert len(BASIC_PROFILE_TAGS) + len(_REPEATING) == 620
    known = {0x00100010: "Z", 0x00080050: "Z", 0x00321032: "X", 0x00401002: "X", 0x00120040: "D",
             0x00080018: "U", 0x00321066: "X", 0x0008009C: "Z", 0x00120042: "D", 0x00120031: "Z",
             0x00120030: "Z", 0x00120010: "D", 0x00120020: "D", 0x00120021: "Z", 0x0018A002: "X",
             0x00100020: "Z/D", 0x00080080: "X/Z/D", 0x00081140: "X/Z/U*", 0x00080022: "X/Z",
             0x00180010: "Z/D", 0x00181030: "X/D", 0x00080023: "Z/D", 0x0020000D: "U"}
    for tag, action in known.items():
        assert action_for(tag) == action, f"{tag:08X}"
    assert action_for(0x60023000) == "X" and action_for(0x50040010) == "X"  # overlay data, curve data
    assert action_for(0x00280010) is None  # Rows is not in the table


def test_seg_keeps_nothing_of_the_profile(tmp_path):
    write_ct_series(tmp_path / "ct", n_slices=4, extra=plant_identifying)
    vol = load_volume(tmp_path / "ct")
    source = pydicom.dcmread(vol.meta["dicom"]["files"][0])
    mask = np.zeros(vol.shape, np.uint8)
    mask[1:3, 10:20, 10:20] = 1
    seg = pydicom.dcmread(write_seg({"lesion": mask}, vol, tmp_path / "seg.dcm"))

    original = _values(source)
    shift = date_offset_days("|PHANTOM01", b"sec-io-tests")
    for path, elem in _walk(seg):
        where = "/".join(path + (elem.keyword or str(elem.tag),))
        assert not elem.tag.is_private, f"private tag left: {where}"
        action = action_for(elem.tag)
        if elem.VR in ("DA", "DT") and elem.value:
            assert str(elem.value) not in original.get(int(elem.tag), set()), f"date not shifted: {where}"
        if action is None or action in ("U", "X/Z/U*") or elem.VR in ("TM", "SQ"):
            continue
        if elem.value in (None, "", b""):
            continue
        assert str(elem.value) not in original.get(int(elem.tag), set()), f"kept its value: {where}"
    for kw, value in PLANTED.items():
        assert value not in str(seg), kw
    assert "Test^Phantom" not in str(seg) and "Operator^Otto" not in str(seg)
    # the ContributionDateTime of the acquisition equipment was shifted by whole days, not kept
    contributions = [str(it.get("ContributionDateTime", "")) for it in seg.ContributingEquipmentSequence]
    assert "20240301110000" not in contributions
    assert str(seg.StudyDate) == (np.datetime64("2024-03-01") + np.timedelta64(shift, "D")).astype(str).replace("-", "")
    assert seg.PatientIdentityRemoved == "YES"
    assert seg.LongitudinalTemporalInformationModified == "MODIFIED"
    assert [c.CodeValue for c in seg.DeidentificationMethodCodeSequence] == ["113100", "113107", "113110"]
    # Retain UIDs: the SEG still references the source images
    assert seg.StudyInstanceUID == source.StudyInstanceUID
    assert seg.FrameOfReferenceUID == source.FrameOfReferenceUID
    assert identifying_attributes(seg, [source]) == []


def test_self_check_finds_the_planted_leaks_on_the_source(tmp_path):
    write_ct_series(tmp_path / "ct", n_slices=2, extra=plant_identifying)
    source = pydicom.dcmread(sorted((tmp_path / "ct").iterdir())[0])
    found = identifying_attributes(source)
    for kw in PLANTED:
        assert kw in found, kw
    for nested in ("ContributingEquipmentSequence/ContributionDateTime",
                   "ContributingEquipmentSequence/StationName", "ContributingEquipmentSequence/(0009,1001)",
                   "RequestAttributesSequence", "(0011,1001)", "PatientName", "PatientID", "StudyDate"):
        assert nested in found, nested


def test_deidentify_walks_nested_sequences_and_shifts_every_date(tmp_path):
    write_ct_series(tmp_path / "ct", n_slices=2, extra=plant_identifying)
    ds = pydicom.dcmread(sorted((tmp_path / "ct").iterdir())[0])
    deidentify(ds, date_offset=-400)
    assert "ReasonForVisit" not in ds and "RequestAttributesSequence" not in ds
    assert str(ds.ClinicalTrialSubjectID) == "ANONYMOUS" and ds.ClinicalTrialSiteName == ""
    eq = ds.ContributingEquipmentSequence[0]
    assert eq.ContributionDateTime == "20230126110000"  # 2024-03-01 minus 400 days (leap year), time of day kept
    assert "StationName" not in eq and "InstitutionName" not in eq and "ContributionDescription" not in eq
    assert not any(e.tag.is_private for _, e in _walk(ds))
    assert ds.StudyDate == "20230126" and ds.StudyTime == "100000"
    assert ds.PatientBirthDate == ""  # birth date follows the basic profile, never a shifted date
    assert identifying_attributes(ds) == []


def test_offset_is_per_patient_and_keyed():
    a, b = date_offset_days("P1", b"k1"), date_offset_days("P1", b"k1")
    assert a == b and -3652 <= a <= -365
    assert date_offset_days("P1", b"k2") != a or date_offset_days("P2", b"k1") != a


def test_write_seg_without_accession_number(tmp_path):
    def drop(ds, k):
        del ds.AccessionNumber
        del ds.StudyID

    write_ct_series(tmp_path / "ct", n_slices=3, extra=drop)
    vol = load_volume(tmp_path / "ct")
    mask = np.zeros(vol.shape, np.uint8)
    mask[1, 5:9, 5:9] = 1
    seg = pydicom.dcmread(write_seg({"t": mask}, vol, tmp_path / "seg.dcm"))
    assert seg.AccessionNumber == "" and seg.Modality == "SEG"


def test_write_seg_is_atomic(tmp_path, monkeypatch):
    write_ct_series(tmp_path / "ct", n_slices=3)
    vol = load_volume(tmp_path / "ct")
    mask = np.zeros(vol.shape, np.uint8)
    mask[1, 5:9, 5:9] = 1
    target = tmp_path / "seg.dcm"
    target.write_bytes(b"previous")
    import pydicom.dataset

    def boom(self, filename, *a, **k):
        with open(filename, "wb") as fh:
            fh.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pydicom.dataset.Dataset, "save_as", boom)
    from radgui.errors import OutputFileError

    with pytest.raises(OutputFileError, match="disk full"):
        write_seg({"t": mask}, vol, target)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct", "seg.dcm"]


def test_key_file_is_private_and_stable(tmp_path, monkeypatch):
    monkeypatch.delenv("RADGUI_DEID_KEY")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    first = date_offset_days("P1")
    key = tmp_path / "radgui" / "deid-key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text().strip()) == 64
    assert date_offset_days("P1") == first == date_offset_days("P1", key.read_bytes().strip())
