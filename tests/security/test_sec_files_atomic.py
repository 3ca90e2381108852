"""radgui.files: atomic writes keep the previous file, appends are all-or-nothing, manifests catch mixed sets.

Failures are injected by patching ``os.fsync`` / ``os.replace`` / ``os.write``
and, where this machine lets root mount one, by a real 256 KiB tmpfs that runs
out of space.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from radgui import files
from radgui.errors import OutputFileError
from radgui.files import (
    append_text,
    atomic_path,
    atomic_write,
    check_writable,
    drop_torn_tail,
    output_set,
    verify_manifest,
    write_csv,
    write_json,
    write_manifest,
    write_text,
)

OLD = "previous good content\n"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(files.TEMP_PREFIX))


def _enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def old(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text(OLD)
    return path


# --------------------------------------------------------------------------- atomic_path / atomic_write

def test_body_exception_keeps_previous_file_and_removes_temporary(old):
    with pytest.raises(ValueError, match="boom"):
        with atomic_write(old) as fh:
            fh.write("half a new ta")
            fh.flush()
            raise ValueError("boom")
    assert old.read_text() == OLD
    assert _leftovers(old.parent) == []


def test_failing_fsync_is_disk_full_naming_the_file(old, monkeypatch):
    monkeypatch.setattr(files.os, "fsync", _enospc)
    with pytest.raises(OutputFileError) as info:
        write_text(old, "new content that never lands\n")
    msg = str(info.value)
    assert msg.startswith(f"{old}: ") and "disk full" in msg and "unchanged" in msg
    assert isinstance(info.value, OSError) and info.value.path == old
    assert old.read_text() == OLD
    assert _leftovers(old.parent) == []


def test_failing_replace_keeps_previous_file(old, monkeypatch):
    def deny(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.os, "replace", deny)
    with pytest.raises(OutputFileError, match="permission denied"):
        write_csv(old, pd.DataFrame({"a": range(1000)}), index=False)
    assert old.read_text() == OLD
    assert _leftovers(old.parent) == []


def test_new_file_that_fails_leaves_no_file_with_its_name(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    monkeypatch.setattr(files.os, "fsync", _enospc)
    with pytest.raises(OutputFileError, match="disk full"):
        write_json(target, {"auc": 0.8})
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_library_writing_to_the_temporary_path_fails_midway(tmp_path):
    """What sitk.WriteImage/savefig do on a full disk: some bytes out, then an OSError."""
    target = tmp_path / "mask.nii.gz"
    target.write_bytes(b"old mask")
    with pytest.raises(OutputFileError, match="disk full"):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".~") and tmp.name.endswith(".mask.nii.gz")
            tmp.write_bytes(b"\x1f\x8b partial")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_bytes() == b"old mask"
    assert _leftovers(tmp_path) == []


def test_successful_write_replaces_and_leaves_nothing_else(old):
    write_text(old, "new\n")
    assert old.read_text() == "new\n"
    assert sorted(p.name for p in old.parent.iterdir()) == ["table.csv"]


# --------------------------------------------------------------------------- append_text

def test_append_rolls_back_a_failing_write(old, monkeypatch):
    real_write = os.write
    calls = []

    def write_some_then_fail(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[:7]))  # a short write: 7 bytes land
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", write_some_then_fail)
    with pytest.raises(OutputFileError) as info:
        append_text(old, "P9,tumour,1.5,2.5,3.5\n")
    assert "disk full" in str(info.value) and str(old) in str(info.value)
    assert len(calls) == 2
    assert old.read_text() == OLD  # the 7 bytes were truncated away


def test_append_survives_short_writes(old, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(files.os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    append_text(old, "P1,tumour,1.0\n")
    assert old.read_text() == OLD + "P1,tumour,1.0\n"


# --------------------------------------------------------------------------- drop_torn_tail

@pytest.mark.parametrize(("content", "kept", "removed"), [
    ("a,b\n1,2\n3,", "a,b\n1,2\n", 2),
    ("a,b\n1,2\n", "a,b\n1,2\n", 0),
    ("a,b", "", 3),
    ("", "", 0),
])
def test_drop_torn_tail_cuts_exactly_the_torn_line(tmp_path, content, kept, removed):
    path = tmp_path / "f.csv"
    path.write_text(content)
    assert drop_torn_tail(path) == removed
    assert path.read_text() == kept


def test_drop_torn_tail_longer_than_one_read_block(tmp_path):
    path = tmp_path / "f.csv"
    head = "key,value\n" + "".join(f"P{i},{i}\n" for i in range(5000))
    torn = "P5000," + "9" * 200_000  # a torn line of 200 kB spans several 64 KiB blocks
    path.write_text(head + torn)
    assert drop_torn_tail(path) == len(torn)
    assert path.read_text() == head
    assert drop_torn_tail(tmp_path / "missing.csv") == 0


# --------------------------------------------------------------------------- manifests and output sets

def _a_set(folder: Path, tag: str) -> None:
    with output_set(folder) as out:
        out.path("model.radgui-model").write_bytes(f"bundle {tag}".encode())
        write_text(out.path("report.pdf"), f"%PDF report {tag}")
        write_json(out.path("metrics.json"), {"tag": tag})


def test_manifest_detects_a_swapped_member(tmp_path):
    _a_set(tmp_path, "one")
    assert verify_manifest(tmp_path) == []
    doc = json.loads((tmp_path / "manifest.json").read_text())
    assert sorted(doc["files"]) == ["metrics.json", "model.radgui-model", "report.pdf"]
    assert doc["files"]["report.pdf"]["bytes"] == len("%PDF report one")
    (tmp_path / "metrics.json").write_text('{"tag": "another run"}\n')
    assert verify_manifest(tmp_path) == ["metrics.json does not match the manifest (written by another run)"]
    (tmp_path / "report.pdf").unlink()
    assert "report.pdf is missing" in verify_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    assert verify_manifest(tmp_path) == ["manifest.json is unreadable"]
    (tmp_path / "manifest.json").unlink()
    assert verify_manifest(tmp_path) == ["manifest.json is missing: the set of outputs was not finished"]


def test_write_manifest_lists_the_named_files(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    write_manifest(tmp_path, ["a.txt"])
    assert verify_manifest(tmp_path) == []


def test_output_set_body_failure_keeps_the_previous_set(tmp_path):
    _a_set(tmp_path, "one")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(RuntimeError, match="report failed"):
        with output_set(tmp_path) as out:
            out.path("model.radgui-model").write_bytes(b"bundle two")
            out.path("report.pdf").write_bytes(b"%PDF-1.4 395 bytes of a report")
            raise RuntimeError("report failed")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert verify_manifest(tmp_path) == []


def test_output_set_failing_rename_leaves_no_manifest(tmp_path, monkeypatch):
    """Killed or failing between the renames: a mixed set exists, but without a manifest."""
    _a_set(tmp_path, "one")
    real_replace = os.replace
    calls = []

    def replace_once_then_fail(src, dst):
        if not Path(dst).name.startswith(files.TEMP_PREFIX):  # the body's own atomic writes pass
            calls.append(Path(dst).name)
            if len(calls) > 1:
                raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", replace_once_then_fail)
    with pytest.raises(OutputFileError) as info:
        _a_set(tmp_path, "two")
    assert "disk full" in str(info.value) and "no manifest" in str(info.value)
    assert calls == ["model.radgui-model", "report.pdf"]
    assert (tmp_path / "model.radgui-model").read_bytes() == b"bundle two"
    assert (tmp_path / "report.pdf").read_text() == "%PDF report one"
    assert verify_manifest(tmp_path) == ["manifest.json is missing: the set of outputs was not finished"]
    assert _leftovers(tmp_path) == []


def test_output_set_fsync_failure_before_renames_keeps_everything(tmp_path, monkeypatch):
    _a_set(tmp_path, "one")
    real_fsync = os.fsync
    state = {"fail": False}

    def fail_in_commit(fd):
        if state["fail"]:
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fail_in_commit)
    with pytest.raises(OutputFileError) as info:
        with output_set(tmp_path) as out:
            write_text(out.path("report.pdf"), "%PDF report two")
            state["fail"] = True  # the body's own write passed; the commit's fsync fails
    assert str(info.value) == (f"{tmp_path / 'report.pdf'}: cannot write (Input/output error); "
                               "the previous set is unchanged")
    assert (tmp_path / "report.pdf").read_text() == "%PDF report one"
    assert verify_manifest(tmp_path) == []
    assert _leftovers(tmp_path) == []


def test_empty_output_set_writes_an_empty_manifest(tmp_path):
    with output_set(tmp_path):
        pass
    assert json.loads((tmp_path / "manifest.json").read_text())["files"] == {}


def test_output_set_errors_name_the_output_not_its_temporary(tmp_path, monkeypatch):
    monkeypatch.setattr(files.os, "fsync", _enospc)
    with pytest.raises(OutputFileError) as info:
        with output_set(tmp_path) as out:
            write_text(out.path("metrics.json"), "{}")
    assert str(info.value) == (f"{tmp_path / 'metrics.json'}: cannot write (disk full); "
                               "the previous file, if any, is unchanged")
    assert list(tmp_path.iterdir()) == []


def test_output_set_refuses_a_member_never_written(tmp_path):
    with pytest.raises(OutputFileError, match="report.pdf was never written"):
        with output_set(tmp_path) as out:
            out.path("report.pdf")
    assert list(tmp_path.iterdir()) == []


def test_output_set_removes_temporaries_of_a_killed_run(tmp_path):
    stale = [tmp_path / ".~deadbeef.report.pdf", tmp_path / ".~0badf00d..~12345678.model.radgui-model"]
    other = tmp_path / ".~cafecafe.features.csv"  # someone else's write in progress: not ours to remove
    for p in [*stale, other]:
        p.write_bytes(b"half")
    _a_set(tmp_path, "one")
    assert [p.exists() for p in stale] == [False, False] and other.read_bytes() == b"half"


def test_check_writable_refuses_a_path_under_a_file(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(OutputFileError) as info:
        check_writable(tmp_path / "plain" / "out")
    assert "output folder is not writable (not a folder)" in str(info.value)
    with pytest.raises(OutputFileError, match=r"plain: output folder is not writable \(not a folder\)$"):
        check_writable(tmp_path / "plain")
    # a folder still to be made is checked through its nearest existing parent and not created:
    # a refused run leaves no empty folder behind
    assert check_writable(tmp_path / "new" / "deep") == tmp_path / "new" / "deep"
    assert not (tmp_path / "new").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["plain"]


# --------------------------------------------------------------------------- a real full disk

@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs (root only; skipped where mounting is not permitted)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                              capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=20)


def _fill(disk: Path, leave: int) -> Path:
    """A ballast file leaving about ``leave`` bytes free."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    ballast = disk / "ballast"
    with open(ballast, "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return ballast


def test_real_disk_full_keeps_previous_file(tiny_disk):
    target = tiny_disk / "features.csv"
    target.write_text(OLD)
    _fill(tiny_disk, 16 * 1024)
    big = pd.DataFrame({"x": [1.2345678901234] * 20000, "y": ["patient"] * 20000})
    with pytest.raises(OutputFileError) as info:
        write_csv(target, big, index=False)
    assert str(info.value).startswith(f"{target}: cannot write (disk full)")
    assert target.read_text() == OLD
    assert _leftovers(tiny_disk) == []


def test_real_disk_full_append_leaves_no_partial_row(tiny_disk):
    target = tiny_disk / "features.csv"
    target.write_text("patient_id,value\nP1,1\n")
    _fill(tiny_disk, 8 * 1024)
    with pytest.raises(OutputFileError, match="disk full"):
        append_text(target, "P2," + "7" * 64 * 1024 + "\n")
    assert target.read_text() == "patient_id,value\nP1,1\n"
