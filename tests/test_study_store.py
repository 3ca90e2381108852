"""Reader studies: creation, assignment, blinded reader sessions, moving the folder, concurrent writers, CLI."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from radgui.cli import main
from radgui.errors import StudyError
from radgui.io import volume_from_array
from radgui.study import ReaderCase, ReaderSession, Study, assign, choose_cases, create_study, export_table


def _images(folder: Path, n: int = 6, shape=(8, 12, 12)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        v = volume_from_array(np.random.default_rng(i).normal(0, 10, shape).astype(np.float32), spacing=(2, 1, 1))
        sitk.WriteImage(v.image, str(folder / f"patient_{i:02d}.nrrd"))
    return folder


def _manifest(tmp_path: Path, n: int = 12) -> Path:
    _images(tmp_path / "imgs", n)
    lines = ["image,case_id,centre,timepoint,age,outcome"]
    for i in range(n):
        lines.append(f"imgs/patient_{i:02d}.nrrd,P{i:03d},{'AB'[i % 3 == 0]},baseline,{50 + i},{i % 2}")
    path = tmp_path / "manifest.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _mask(shape, k):
    m = np.zeros(shape, np.uint8)
    m.flat[: 10 + k] = 1
    return m


def test_create_from_folder_uses_pseudonyms_and_relative_paths(tmp_path):
    study = create_study(tmp_path / "study", _images(tmp_path / "imgs"))
    cases = study.cases()
    assert [c.case_id for c in cases] == [f"S{i:04d}" for i in range(1, 7)]
    assert cases[0].image == (tmp_path / "imgs" / "patient_00.nrrd").resolve()
    raw = study._conn.execute("SELECT image FROM cases ORDER BY case_id").fetchall()
    assert raw[0][0] == "../imgs/patient_00.nrrd"
    assert study._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert study.meta()["schema_version"] == "1" and study.meta()["format"] == "radgui-study"
    assert [a[2] for a in study.audit_log()] == ["create", "import_cases"]


def test_create_from_manifest_keeps_clinical_data_apart(tmp_path):
    study = create_study(tmp_path / "study", _manifest(tmp_path))
    c = study.case("P003")
    assert (c.centre, c.timepoint, c.clinical) == ("B", "baseline", {"age": "53", "outcome": "1"})


def test_assignment_all_subset_stratified_and_seeded(tmp_path):
    study = create_study(tmp_path / "study", _manifest(tmp_path))
    assert assign(study, "A") == [f"P{i:03d}" for i in range(12)]
    b = assign(study, "B", count=4, seed=7)
    assert len(b) == 4 and b == choose_cases([f"P{i:03d}" for i in range(12)], count=4, seed=7)
    assert b != choose_cases([f"P{i:03d}" for i in range(12)], count=4, seed=8)
    c = assign(study, "C", fraction=0.5, seed=1, stratify="centre")
    centres = [study.case(x).centre for x in c]
    assert len(c) == 6 and centres.count("B") == 2 and centres.count("A") == 4  # 4 of 12 cases are centre B
    with pytest.raises(StudyError, match="cannot assign 13 cases: the pool holds only 12"):
        assign(study, "D", count=13)
    with pytest.raises(StudyError, match="fraction must lie in"):
        assign(study, "D", fraction=1.5)
    with pytest.raises(StudyError, match="already has 12 of these cases in round 1"):
        assign(study, "A")
    assert "D" not in study.readers()  # a refused assignment creates nothing


def test_intra_reader_repeat_after_washout(tmp_path):
    study = create_study(tmp_path / "study", _manifest(tmp_path))
    first = assign(study, "A", count=6, seed=3)
    repeat = assign(study, "A", round=2, fraction=0.5, seed=4, washout_days=28)
    assert set(repeat) <= set(first) and len(repeat) == 3
    with study.reader_session("A") as rs:
        assert [c.case_id for c in rs.cases()] == first  # round 2 not yet available
        later = datetime.now(timezone.utc) + timedelta(days=29)
        assert [(c.case_id, c.round) for c in rs.cases(now=later)][6:] == [(x, 2) for x in repeat]
    with pytest.raises(StudyError, match="unknown reader 'Z': a repeat needs"):
        assign(study, "Z", round=2)


def test_blinded_reader_never_sees_other_readers_or_clinical_data(tmp_path):
    study = create_study(tmp_path / "study", _manifest(tmp_path))
    assign(study, "A")
    assign(study, "B", count=5, seed=2)
    vol_cases = study.cases()
    with study.reader_session("A") as a:
        for c in a.cases():
            v = a.load_image(c.case_id)
            a.save_segmentation(c.case_id, "tumour", _mask(v.shape, 3), like=v)
    a_segs = study.segmentations("A")
    a_secrets = {str(s.file) for s in a_segs} | {s.sha256 for s in a_segs}
    b = study.reader_session("B")
    assert isinstance(b, ReaderSession) and b.blinded
    assert {f.name for f in fields(ReaderCase)} == {"case_id", "image", "series_uid", "timepoint", "round"}
    seen = repr(b.cases()) + repr(b.todo()) + repr(b.segmentations()) + repr(b)
    assert "A" not in {c.case_id for c in b.cases()} and not any(s in seen for s in a_secrets)
    assert all(type(c) is ReaderCase for c in b.cases() + b.todo())  # no field for centre/clinical/outcome
    assert len(b.cases()) == 5 and b.segmentations() == []
    case = b.cases()[0]
    v = b.load_image(case.case_id)
    with pytest.raises(StudyError, match="reader 'B' has no segmentation 'tumour'"):
        b.load_segmentation(case.case_id, "tumour", v)  # A has one; B cannot reach it
    with pytest.raises(StudyError, match="blinded mode: clinical and outcome data are not available"):
        b.clinical(case.case_id)
    others = sorted({c.case_id for c in vol_cases} - {c.case_id for c in b.cases()})
    with pytest.raises(StudyError, match=f"case '{others[0]}' round 1 is not assigned to reader 'B'"):
        b.load_image(others[0])
    with pytest.raises(StudyError, match="is not assigned to reader 'B'"):
        b.save_segmentation(others[0], "tumour", _mask(v.shape, 1), like=v)
    public = [n for n in dir(b) if not n.startswith("_")]
    assert sorted(public) == ["blinded", "cases", "clinical", "close", "load_image", "load_segmentation",
                              "reader", "save_segmentation", "segmentations", "todo"]
    b.save_segmentation(case.case_id, "tumour", _mask(v.shape, 1), like=v)
    assert [s.case_id for s in b.segmentations()] == [case.case_id]
    b.close()
    unblinded = study.reader_session("B", blinded=False)
    assert unblinded.clinical(case.case_id)["outcome"] in ("0", "1")
    unblinded.close()
    with pytest.raises(StudyError, match="unknown reader 'Q'"):
        study.reader_session("Q")


def test_moving_the_study_folder_keeps_it_working(tmp_path):
    root = tmp_path / "project"
    study = create_study(root / "study", _images(root / "imgs", 3))
    assign(study, "A")
    with study.reader_session("A") as rs:
        v = rs.load_image("S0001")
        rs.save_segmentation("S0001", "tumour", _mask(v.shape, 2), like=v)
    study.close()
    moved = tmp_path / "moved-project"
    shutil.move(str(root), str(moved))
    with Study.open(moved / "study") as again:
        assert again.case("S0001").image == (moved / "imgs" / "patient_00.nrrd").resolve()
        [seg] = again.segmentations()
        assert seg.file.is_relative_to((moved / "study").resolve())
        with again.reader_session("A") as rs:
            v = rs.load_image("S0001")
            assert int(sitk.GetArrayFromImage(rs.load_segmentation("S0001", "tumour", v)).sum()) == 12
        assert again.integrity_check() == "ok"


def _worker(folder: str, reader: str, n: int, queue) -> None:
    try:
        study = Study.open(folder, actor=reader)
        rs = study.reader_session(reader)
        shape = (8, 12, 12)
        for rep in range(n):
            for c in rs.cases():
                v = volume_from_array(np.zeros(shape, np.float32), spacing=(2, 1, 1))
                rs.save_segmentation(c.case_id, f"roi{rep % 2}", _mask(shape, rep), like=v)
        rs.close()
        study.close()
        queue.put((reader, "ok"))
    except Exception as exc:  # pragma: no cover - reported to the parent
        queue.put((reader, repr(exc)))


@pytest.mark.slow
def test_two_processes_writing_concurrently(tmp_path):
    study = create_study(tmp_path / "study", _images(tmp_path / "imgs", 6))
    assign(study, "A")
    assign(study, "B")
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(study.folder), r, 6, q)) for r in "AB"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    results = sorted(q.get(timeout=5) for _ in procs)
    assert results == [("A", "ok"), ("B", "ok")]
    assert study.integrity_check() == "ok"
    segs = study.segmentations()
    assert len(segs) == 2 * 6 * 2  # readers x cases x ROIs, re-saves update their row
    from radgui.files import sha256_file

    assert all(sha256_file(s.file) == s.sha256 for s in segs)
    saves = [a for a in study.audit_log() if a[2] == "save_segmentation"]
    assert len(saves) == 2 * 6 * 6 and {a[1] for a in saves} == {"A", "B"}


def test_export_table_for_extract_manifest(tmp_path):
    study = create_study(tmp_path / "study", _manifest(tmp_path, 4))
    assign(study, "A")
    with study.reader_session("A") as rs:
        v = rs.load_image("P001")
        rs.save_segmentation("P001", "tumour", _mask(v.shape, 0), like=v)
    t = export_table(study)
    assert list(t.columns) == ["patient_id", "image", "mask", "roi", "timepoint", "reader", "center"]
    assert t.iloc[0].to_dict()["reader"] == "A" and Path(t.iloc[0]["mask"]).is_file()
    out = tmp_path / "m.csv"
    assert main(["study", "export", str(study.folder), "-o", str(out)]) == 0
    from radgui.features.cohort import read_manifest

    assert read_manifest(out)["patient_id"].tolist() == ["P001"]


def test_cli_create_assign_status(tmp_path, capsys):
    imgs = _images(tmp_path / "imgs", 5)
    st = tmp_path / "st"
    assert main(["study", "create", str(st), str(imgs), "--json"]) == 0
    assert [c["case_id"] for c in json.loads(capsys.readouterr().out)] == [f"S{i:04d}" for i in range(1, 6)]
    assert main(["study", "assign", str(st), "A", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cases"] == [f"S{i:04d}" for i in range(1, 6)]
    assert main(["study", "assign", str(st), "B", "--count", "2", "--seed", "1", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["cases"]) == 2
    assert main(["study", "status", str(st), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cases"] == 5 and doc["readers"] == {"A": {"assigned": 5, "segmented": 0},
                                                   "B": {"assigned": 2, "segmented": 0}}
    assert main(["study", "assign", str(st), "C", "--count", "9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "radgui study: error: cannot assign 9 cases: the pool holds only 5"
    assert main(["study", "icc", str(st), "--reader", "nobody"]) == 2
    assert capsys.readouterr().err.strip() == "radgui study: error: unknown reader 'nobody' (readers: A, B)"
    for action in ("create", "assign", "status", "export", "icc"):
        with pytest.raises(SystemExit) as e:
            main(["study", action, "--help"])
        assert e.value.code == 0
    with pytest.raises(SystemExit) as e:
        main(["study"])
    assert e.value.code == 2
