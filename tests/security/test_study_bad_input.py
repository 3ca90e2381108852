"""Hostile or damaged study input: one-line StudyError, nothing written outside the study, nothing half-done."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import SimpleITK as sitk

from radgui.cli import main
from radgui.errors import RadguiError, StudyError
from radgui.io import volume_from_array
from radgui.study import Study, assign, create_study


def _imgs(folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        v = volume_from_array(np.zeros((4, 5, 6), np.float32))
        sitk.WriteImage(v.image, str(folder / f"p{i}.nrrd"))
    return folder


def _refused(fn, match, cls=StudyError):
    with pytest.raises(cls, match=match) as info:
        fn()
    assert "\n" not in str(info.value) and isinstance(info.value, RadguiError)


@pytest.fixture
def study(tmp_path):
    s = create_study(tmp_path / "study", _imgs(tmp_path / "imgs"))
    yield s
    s.close()


def test_database_from_a_newer_radgui(study):
    study._conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    _refused(lambda: Study.open(study.folder),
             "study database schema 99 is from a newer radgui \\(this one reads up to 1\\)")


def test_not_a_database(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "study.sqlite").write_bytes(b"this is not sqlite" * 100)
    _refused(lambda: Study.open(tmp_path / "s"), "not a (readable study|radgui study) database")


def test_a_foreign_sqlite_database(tmp_path):
    (tmp_path / "s").mkdir()
    con = sqlite3.connect(tmp_path / "s" / "study.sqlite")
    con.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    con.commit()
    con.close()
    _refused(lambda: Study.open(tmp_path / "s"), "no radgui-study format mark")


def test_folder_without_a_study(tmp_path):
    _refused(lambda: Study.open(tmp_path), "not a radgui study \\(no study.sqlite\\)")
    _refused(lambda: Study.open(tmp_path / "absent"), "study folder not found")


def test_unknown_reader(study):
    _refused(lambda: study.reader_session("nobody"), "unknown reader 'nobody' \\(readers: none yet\\)")
    _refused(lambda: study.segmentations("nobody"), "unknown reader 'nobody'")


def test_assignment_larger_than_the_case_count(study):
    _refused(lambda: assign(study, "A", count=4), "cannot assign 4 cases: the pool holds only 3")
    _refused(lambda: assign(study, "A", count=0), "count must be a positive whole number")
    assert study.assignments() == [] and study.readers() == []


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 65, "a b"])
def test_reader_names_cannot_escape_the_study_folder(study, name):
    _refused(lambda: assign(study, name), "reader name .* must be 1-64 letters")


def test_roi_names_cannot_escape_the_study_folder(study, tmp_path):
    assign(study, "A")
    v = volume_from_array(np.zeros((4, 5, 6), np.float32))
    _refused(lambda: study.save_segmentation("A", "S0001", "../../evil", np.ones((4, 5, 6), np.uint8), like=v),
             "ROI name '../../evil' must be")
    assert not list(tmp_path.rglob("*evil*"))


def test_segmentation_changed_outside_radgui_is_refused(study):
    assign(study, "A")
    v = volume_from_array(np.zeros((4, 5, 6), np.float32))
    seg = study.save_segmentation("A", "S0001", "tumour", np.ones((4, 5, 6), np.uint8), like=v)
    m = sitk.GetImageFromArray(np.zeros((4, 5, 6), np.uint8))
    sitk.WriteImage(m, str(seg.file))
    _refused(lambda: study.load_segmentation(seg, v), "does not match the hash recorded in the study")


def test_bad_manifests(tmp_path):
    _imgs(tmp_path / "imgs")
    (tmp_path / "a.csv").write_text("path,case_id\nimgs/p0.nrrd,P1\n")
    _refused(lambda: create_study(tmp_path / "s1", tmp_path / "a.csv"), "manifest lacks the column 'image'")
    (tmp_path / "b.csv").write_text("image\nimgs/p0.nrrd\nimgs/missing.nrrd\n")
    _refused(lambda: create_study(tmp_path / "s2", tmp_path / "b.csv"), "manifest line 3: image 'imgs/missing.nrrd'")
    (tmp_path / "c.csv").write_text("image,case_id\nimgs/p0.nrrd,P1\nimgs/p1.nrrd,P1\n")
    _refused(lambda: create_study(tmp_path / "s3", tmp_path / "c.csv"), "manifest repeats a case_id")
    (tmp_path / "d.csv").write_text("image,case_id\nimgs/p0.nrrd,../P1\n")
    _refused(lambda: create_study(tmp_path / "s4", tmp_path / "d.csv"), "case name '../P1' must be")
    (tmp_path / "e.csv").write_bytes(b"image\n\xff\xfe\x00bad\n")
    _refused(lambda: create_study(tmp_path / "s5", tmp_path / "e.csv"), "cannot read the manifest as CSV")
    assert not any((tmp_path / f"s{i}").exists() for i in range(1, 6))  # nothing half-made


def test_create_refuses_a_non_empty_folder_and_an_empty_source(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    _refused(lambda: create_study(tmp_path / "busy", _imgs(tmp_path / "imgs")), "is not empty")
    (tmp_path / "empty").mkdir()
    _refused(lambda: create_study(tmp_path / "s", tmp_path / "empty"), "no image files and no")


def test_cli_one_line_errors(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "study.sqlite").write_bytes(b"garbage" * 200)
    for argv in (["study", "status", str(tmp_path / "s")], ["study", "icc", str(tmp_path / "nope")],
                 ["study", "assign", str(tmp_path / "s"), "A", "--fraction", "2"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("radgui study: error: ")
    with pytest.raises(SystemExit) as e:
        main(["study", "assign", str(tmp_path / "s"), "A", "--fraction", "0.5", "--count", "2"])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip() == ("radgui study assign: error: argument --count: not allowed with "
                                               "argument --fraction")


def test_a_database_with_triggers_is_refused(study):
    study._conn.execute("CREATE TRIGGER spy AFTER INSERT ON segmentations BEGIN "
                        "UPDATE cases SET clinical = '{}'; END")
    _refused(lambda: Study.open(study.folder), "holds a trigger 'spy' radgui never creates")
