"""Hostile or damaged .radgui session files: one-line SessionError, nothing half-read, nothing decompressed."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import SimpleITK as sitk

from radgui.errors import RadguiError, SessionError, UntrustedInputError
from radgui.io import volume_from_array
from radgui.session import Session, find_recoverable, open_session, save_session


@pytest.fixture
def good(tmp_path):
    v = volume_from_array(np.zeros((4, 6, 8), np.float32), spacing=(2.0, 1.0, 1.0))
    s = Session()
    s.add_image("CT", v)
    m = np.zeros(v.shape, np.uint8)
    m[1:3, 2:4, 2:6] = 1
    s.set_roi("tumour", m, like=v)
    return save_session(s, tmp_path / "good.radgui")


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write(path, members: dict, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _with_manifest(good, tmp_path, change):
    members = _members(good)
    doc = json.loads(members["manifest.json"])
    change(doc)
    members["manifest.json"] = json.dumps(doc).encode()
    return _write(tmp_path / "bad.radgui", members)


def _refused(path, match, cls=SessionError):
    with pytest.raises(cls, match=match) as info:
        open_session(path)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, RadguiError)
    return info.value


def test_not_a_zip(tmp_path):
    p = tmp_path / "x.radgui"
    p.write_bytes(b"PK\x03\x04 this is not really a zip" * 10)
    _refused(p, "not a radgui session file \\(not a readable zip archive")


def test_truncated_zip(good, tmp_path):
    data = good.read_bytes()
    p = tmp_path / "cut.radgui"
    p.write_bytes(data[: len(data) // 2])
    _refused(p, "not a readable zip archive")


def test_future_schema_version(good, tmp_path):
    p = _with_manifest(good, tmp_path, lambda d: d.update(schema_version=99))
    _refused(p, "session schema version 99 is from a newer radgui \\(this one reads up to 1\\)")


@pytest.mark.parametrize("value", ["1", True, 0, None])
def test_invalid_schema_version(good, tmp_path, value):
    p = _with_manifest(good, tmp_path, lambda d: d.update(schema_version=value))
    _refused(p, "no valid schema_version")


def test_missing_manifest(good, tmp_path):
    members = _members(good)
    del members["manifest.json"]
    _refused(_write(tmp_path / "bad.radgui", members), "member 'manifest.json' is missing")


def test_missing_roi_member(good, tmp_path):
    members = _members(good)
    del members["rois/000.nrrd"]
    _refused(_write(tmp_path / "bad.radgui", members), "member 'rois/000.nrrd' is missing")


def test_manifest_missing_key_and_wrong_types(good, tmp_path):
    _refused(_with_manifest(good, tmp_path, lambda d: d.pop("rois")), "session manifest lacks 'rois'")
    _refused(_with_manifest(good, tmp_path, lambda d: d.update(images={"a": 1})), "'images' must be a list")
    _refused(_with_manifest(good, tmp_path, lambda d: d["rois"][0].update(label="1")),
             "ROI: 'label' must be a whole number")
    _refused(_with_manifest(good, tmp_path, lambda d: d.update(format="zip")), "not a radgui session manifest")


def test_manifest_with_non_finite_number_is_refused_by_the_bounded_parser(good, tmp_path):
    members = _members(good)
    members["manifest.json"] = members["manifest.json"].replace(b'"clinical": {}', b'"clinical": {"x": NaN}')
    assert b"NaN" in members["manifest.json"]
    _refused(_write(tmp_path / "bad.radgui", members), "NaN", UntrustedInputError)


@pytest.mark.parametrize("name", ["../evil.nrrd", "/etc/passwd", "a\\..\\b", "C:evil"])
def test_member_names_that_escape(good, tmp_path, name):
    members = _members(good)
    members[name] = b"x"
    _refused(_write(tmp_path / "bad.radgui", members), "is not a plain relative path")


def test_roi_file_outside_rois_folder(good, tmp_path):
    p = _with_manifest(good, tmp_path, lambda d: d["rois"][0].update(file="manifest.json"))
    _refused(p, "is not under rois/ as .nrrd")


def test_zip_bomb_refused_before_decompressing(good, tmp_path):
    members = _members(good)
    members["rois/000.nrrd"] = b"\0" * (20 * 1024 * 1024)
    p = _write(tmp_path / "bomb.radgui", members, zipfile.ZIP_DEFLATED)
    err = _refused(p, "compresses [0-9]+:1, over 200:1")
    assert "rois/000.nrrd" in str(err) or "manifest.json" in str(err)


def test_too_many_members(good, tmp_path):
    members = _members(good)
    members.update({f"junk/{i}": b"" for i in range(600)})
    _refused(_write(tmp_path / "many.radgui", members), "session file refused: 602 members, at most 512 allowed")


def test_corrupt_member_crc(good, tmp_path):
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("rois/000.nrrd")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 40
    data[start] ^= 0xFF
    p = tmp_path / "crc.radgui"
    p.write_bytes(bytes(data))
    _refused(p, "member 'rois/000.nrrd' is corrupt")


def test_roi_that_is_an_image_not_a_label_map(good, tmp_path):
    members = _members(good)
    img = sitk.GetImageFromArray(np.random.default_rng(0).normal(0, 100, (4, 6, 8)).astype(np.float32))
    img.SetSpacing((1.0, 1.0, 2.0))
    local = tmp_path / "f.nrrd"
    sitk.WriteImage(img, str(local))
    members["rois/000.nrrd"] = local.read_bytes()
    _refused(_write(tmp_path / "bad.radgui", members), "ROI 'tumour' \\(rois/000.nrrd\\): mask holds non-integer")


def test_roi_geometry_differs_from_the_manifest(good, tmp_path):
    p = _with_manifest(good, tmp_path, lambda d: d["rois"][0]["geometry"].update(spacing=[1.0, 1.0, 3.0]))
    _refused(p, "the label map's spacing \\[1.0, 1.0, 2.0\\] differs from the manifest's \\[1.0, 1.0, 3.0\\]")


def test_roi_member_that_is_not_an_image(good, tmp_path):
    members = _members(good)
    members["rois/000.nrrd"] = b"NRRD0004\ntype: float\ndimension: 3\nsizes: 99999 99999 99999\nencoding: raw\n\n"
    _refused(_write(tmp_path / "bad.radgui", members), "ROI 'tumour' \\(rois/000.nrrd\\)")


def test_duplicate_roi_names(good, tmp_path):
    p = _with_manifest(good, tmp_path, lambda d: d["rois"].append(dict(d["rois"][0])))
    _refused(p, "ROI 'tumour' appears twice")


def test_recovery_listing_survives_hostile_files(good, tmp_path):
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "autosave-bad.radgui").write_bytes(b"junk")
    p = _with_manifest(good, tmp_path, lambda d: d.update(schema_version=7))
    p.rename(rec / "autosave-future.radgui")
    entries = {e.path.name: e for e in find_recoverable(rec)}
    assert "from a newer radgui" in entries["autosave-future.radgui"].error
    assert "not a readable zip archive" in entries["autosave-bad.radgui"].error


def test_too_many_images(good, tmp_path):
    p = _with_manifest(good, tmp_path, lambda d: d.update(images=[dict(d["images"][0], key=f"k{i}")
                                                                 for i in range(65)]))
    _refused(p, "session lists 65 images, at most 64")
