"""Hostile bundle archives: bombs, CRC errors, encrypted or oddly compressed members, hostile
model.json (deep nesting, huge integers). Each is a one-line BundleError (CLI: exit 2), read cheaply."""

from __future__ import annotations

import json
import struct
import time
import tracemalloc
import zipfile

import pytest

from radgui.cli import main
from radgui.errors import BundleError
from radgui.model.bundle import ModelBundle


@pytest.fixture()
def good(tmp_path):
    b = ModelBundle.from_formula(-1.0, {"original_firstorder_Mean": 0.01}, cutoff=0.5, cutoff_scale="probability")
    path = b.save(tmp_path / "good")
    with zipfile.ZipFile(path) as zf:
        return path, json.loads(zf.read("model.json"))


def _zip(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _refused(capsys, path, match):
    with pytest.raises(BundleError, match=match) as info:
        ModelBundle.load(path)
    assert "\n" not in str(info.value)
    assert main(["model", "info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return str(info.value)


def test_inflating_model_json_is_refused_before_reading(tmp_path, capsys):
    # 12 MiB of spaces deflate to ~12 KB; declared size is over the model.json cap
    bomb = _zip(tmp_path / "bomb.radgui-model", {"model.json": b"{" + b" " * (12 * 1024 * 1024) + b"}"})
    tracemalloc.start()
    t0 = time.perf_counter()
    _refused(capsys, bomb, "model.json' declares 12,582,914 bytes")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.perf_counter() - t0 < 5 and peak < 4 * 1024 * 1024


def test_compression_ratio_is_refused(good, tmp_path, capsys):
    path, doc = good
    members = {"model.json": json.dumps(doc), "reference_cohort.csv": b"0" * (8 * 1024 * 1024)}
    _refused(capsys, _zip(tmp_path / "ratio.radgui-model", members), "inflates .* times")


def test_crc_error_is_a_bundle_error(good, tmp_path, capsys):
    path, doc = good
    text = json.dumps(doc).encode()
    bad = _zip(tmp_path / "crc.radgui-model", {"model.json": text}, compression=zipfile.ZIP_STORED)
    raw = bytearray(bad.read_bytes())
    pos = raw.index(b'"radgui-model"')
    raw[pos + 1] = ord("R")  # same length, different CRC
    bad.write_bytes(bytes(raw))
    _refused(capsys, bad, "cannot be read .*CRC")


def _patch_central(path, *, flag=None, method=None):
    raw = bytearray(path.read_bytes())
    for sig, flag_off, method_off in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        pos = raw.find(sig)
        while pos != -1:
            if flag is not None:
                struct.pack_into("<H", raw, pos + flag_off, struct.unpack_from("<H", raw, pos + flag_off)[0] | flag)
            if method is not None:
                struct.pack_into("<H", raw, pos + method_off, method)
            pos = raw.find(sig, pos + 4)
    path.write_bytes(bytes(raw))
    return path


def test_encrypted_member_is_a_bundle_error(good, tmp_path, capsys):
    path, doc = good
    bad = _patch_central(_zip(tmp_path / "enc.radgui-model", {"model.json": json.dumps(doc)}), flag=0x1)
    _refused(capsys, bad, "is encrypted")


def test_unsupported_compression_is_a_bundle_error(good, tmp_path, capsys):
    path, doc = good
    bad = _patch_central(_zip(tmp_path / "d64.radgui-model", {"model.json": json.dumps(doc)}), method=9)
    _refused(capsys, bad, "unsupported compression")


def test_deeply_nested_model_json_is_a_bundle_error(tmp_path, capsys):
    bad = _zip(tmp_path / "deep.radgui-model", {"model.json": "[" * 100_000 + "]" * 100_000})
    _refused(capsys, bad, "nested deeper")


def test_huge_integer_in_model_json_is_a_bundle_error(good, tmp_path, capsys):
    path, doc = good
    text = json.dumps(doc).replace('"intercept": 0.0', '"intercept": 1' + "0" * 400, 1)
    assert "1" + "0" * 400 in text
    _refused(capsys, _zip(tmp_path / "int.radgui-model", {"model.json": text}), "not valid JSON .*digits")


def test_duplicate_member_is_refused(good, tmp_path, capsys):
    path, doc = good
    bad = tmp_path / "dup.radgui-model"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("model.json", json.dumps(doc))
        with pytest.warns(UserWarning):
            zf.writestr("model.json", json.dumps({"format": "x"}))
    _refused(capsys, bad, "twice")


def test_save_is_atomic(good, tmp_path, monkeypatch):
    """A failure mid-save leaves the previous bundle intact."""
    path, _ = good
    before = path.read_bytes()
    b = ModelBundle.load(path)

    def boom(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", boom)
    with pytest.raises(OSError):
        b.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
