"""Sessions: save, close, reopen gives the same arrays (and prediction); moved images are asked for; autosave."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from radgui.errors import SessionError
from radgui.io import load_volume, volume_from_array
from radgui.session import (
    Autosaver,
    Session,
    discard,
    export_rois,
    find_recoverable,
    open_session,
    recover,
    relocate,
    save_session,
)


@pytest.fixture
def image(tmp_path):
    rng = np.random.default_rng(0)
    v = volume_from_array(rng.normal(0, 50, (10, 20, 24)).astype(np.float32), spacing=(2.5, 0.8, 0.7),
                          origin=(-10.0, 5.0, 3.0))
    path = tmp_path / "img" / "ct.nrrd"
    path.parent.mkdir()
    sitk.WriteImage(v.image, str(path))
    return load_volume(path, modality="CT")


def _session(vol) -> Session:
    s = Session()
    s.add_image("CT", vol)
    m = np.zeros(vol.shape, np.uint8)
    m[3:7, 5:12, 6:15] = 1
    s.set_roi("tumour", m, like=vol)
    ring = np.zeros(vol.shape, np.uint8)
    ring[2:8, 3:14, 4:17] = 3
    ring[m > 0] = 0
    s.set_roi("ring3mm", ring, like=vol)
    s.update(rings={"distances_mm": [3.0], "inside": False}, clinical={"age": 67, "ecog": "1"},
             view={"zoom": 1.5, "slice": 4}, panels={"features": {"preset": "ct-original"}})
    return s


def test_round_trip_same_arrays_geometry_and_fields(tmp_path, image):
    s = _session(image)
    assert s.dirty
    path = save_session(s, tmp_path / "work.radgui")
    assert not s.dirty and s.path == path
    back = open_session(path)
    assert back.missing_images == [] and not back.dirty
    assert list(back.rois) == ["tumour", "ring3mm"]
    for name, layer in s.rois.items():
        got = back.rois[name]
        assert np.array_equal(got.array, layer.array) and got.array.dtype == layer.array.dtype
        assert got.mask.GetSpacing() == pytest.approx(layer.mask.GetSpacing())
        assert got.mask.GetOrigin() == pytest.approx(layer.mask.GetOrigin())
        assert got.image == "CT"
    assert back.rois["ring3mm"].label == 3 and back.rois["tumour"].label == 1
    assert back.rings == s.rings and back.clinical == s.clinical and back.view == s.view and back.panels == s.panels
    ref = back.images["CT"]
    assert ref.path == image.meta["source"] and ref.hash == image.hash() and ref.modality == "CT"
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["manifest.json", "rois/000.nrrd", "rois/001.nrrd"]
    back.set_roi("tumour", np.zeros(image.shape, np.uint8), like=image)
    assert back.dirty


def test_moved_image_is_asked_for_not_a_failure(tmp_path, image):
    s = _session(image)
    path = save_session(s, tmp_path / "work.radgui")
    moved = tmp_path / "elsewhere.nrrd"
    Path(image.meta["source"]).rename(moved)
    back = open_session(path)
    assert back.missing_images == ["CT"] and len(back.rois) == 2
    with pytest.raises(SessionError, match="was not found"):
        back.image_path("CT")
    relocate(back, "CT", moved)
    assert back.missing_images == [] and back.dirty and back.image_path("CT") == moved.resolve()
    asked = []
    again = open_session(path, resolver=lambda ref: asked.append(ref.key) or moved)
    assert asked == ["CT"] and again.missing_images == [] and again.dirty
    assert back.check_image("CT", load_volume(moved, modality="CT")) == []
    other = volume_from_array(np.zeros((3, 4, 5), np.float32))
    from radgui.errors import GeometryMismatchError

    with pytest.raises(GeometryMismatchError, match="ROI 'tumour' does not lie on the grid of this image"):
        back.check_image("CT", other)
    shifted = volume_from_array(np.zeros(image.shape, np.float32), spacing=image.spacing, origin=image.origin)
    assert back.check_image("CT", shifted) == ["image 'CT' differs from the one the session was saved with "
                                               "(voxels or geometry)"]
    with pytest.raises(SessionError, match="does not exist"):
        relocate(back, "CT", tmp_path / "nothing.nrrd")
    with pytest.raises(SessionError, match="no image 'MR'"):
        relocate(back, "MR", moved)


def test_folder_moved_as_a_whole_finds_images_by_relative_path(tmp_path, image):
    s = _session(image)
    save_session(s, tmp_path / "work.radgui")
    new = tmp_path.parent / (tmp_path.name + "-moved")
    tmp_path.rename(new)
    back = open_session(new / "work.radgui")
    assert back.missing_images == [] and back.images["CT"].path == str((new / "img" / "ct.nrrd").resolve())


def test_same_prediction_after_reopening_with_the_demo_model(tmp_path):
    from radgui.cli.predict import load_bundle
    from radgui.demo import EXAMPLE_CLINICAL
    from radgui.demo.cohort import cohort_table, phantom_for
    from radgui.model.patient import iter_predict
    from radgui.progress import run

    img, msk = phantom_for(cohort_table(3).iloc[0]).to_sitk()
    sitk.WriteImage(img, str(tmp_path / "ct.nrrd"))
    vol = load_volume(tmp_path / "ct.nrrd", modality="CT")
    mask = sitk.Cast(msk > 0, sitk.sitkUInt8)
    mask.CopyInformation(vol.image)
    bundle = load_bundle("demo")
    pred = run(iter_predict(bundle, vol, {"tumour": mask}, EXAMPLE_CLINICAL)).to_dict()
    s = Session()
    s.add_image("CT", vol)
    s.set_roi("tumour", mask)
    s.update(model={"bundle": "demo", "name": bundle.name}, clinical=dict(EXAMPLE_CLINICAL), prediction=pred)
    save_session(s, tmp_path / "p.radgui")
    back = open_session(tmp_path / "p.radgui")
    assert back.prediction == pred
    vol2 = load_volume(back.image_path("CT"), modality="CT")
    again = run(iter_predict(load_bundle(back.model["bundle"]), vol2, {"tumour": back.rois["tumour"].mask},
                             back.clinical)).to_dict()
    assert again["probability"] == pytest.approx(pred["probability"], rel=1e-12)
    assert again == pred  # same bundle, same voxels, same inputs: the same document
    assert again["linear_predictor"] == pytest.approx(pred["linear_predictor"], rel=1e-12)


def test_export_rois_separate_and_multilabel(tmp_path, image):
    s = _session(image)
    files = export_rois(s.rois, tmp_path / "out", suffix=".nii.gz")
    assert [f.name for f in files] == ["tumour.nii.gz", "ring3mm.nii.gz"]
    from radgui.io import load_mask

    assert np.array_equal(sitk.GetArrayFromImage(load_mask(files[0], image)), s.rois["tumour"].array)
    path, side = export_rois(s.rois, tmp_path / "ml", multilabel=True)
    arr = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    assert set(np.unique(arr)) == {0, 1, 2}
    assert np.array_equal(arr == 1, s.rois["tumour"].array > 0) and np.array_equal(arr == 2, s.rois["ring3mm"].array > 0)
    import json

    assert json.loads(side.read_text()) == {"labels": {"1": "tumour", "2": "ring3mm"}}
    s.set_roi("overlap", s.rois["tumour"].array, like=image)
    with pytest.raises(SessionError, match="'tumour' and 'overlap' overlap in 252 voxels"):
        export_rois(s.rois, tmp_path / "ml2", multilabel=True)


def test_dicom_seg_needs_a_dicom_image(tmp_path, image):
    from radgui.session import export_dicom_seg

    with pytest.raises(SessionError, match="DICOM-SEG needs an image loaded from DICOM"):
        export_dicom_seg(_session(image).rois, image, tmp_path / "seg.dcm")


def test_autosave_at_most_interval_behind_and_clean_close(tmp_path, image, monkeypatch):
    monkeypatch.setenv("RADGUI_RECOVERY_DIR", str(tmp_path / "rec"))
    s = _session(image)
    auto = Autosaver(s, interval_s=30)
    assert auto.folder == tmp_path / "rec"
    assert auto.maybe_save(now=0.0) and auto.saves == 1  # first edit: written at the next tick
    assert not auto.maybe_save(now=5.0)  # nothing pending
    s.set_roi("tumour", np.zeros(image.shape, np.uint8), like=image)
    assert not auto.maybe_save(now=10.0) and auto.pending  # 10 s after the last autosave: waits
    assert auto.maybe_save(now=30.0) and not auto.pending  # 30 s: written
    auto.mark_dirty()
    assert auto.flush() and auto.saves == 3 and not auto.flush()
    [entry] = find_recoverable()
    assert entry.path == auto.path and entry.rois == ["tumour", "ring3mm"] and entry.error is None
    assert entry.saved_at.tzinfo is not None and "unsaved work from" in entry.describe()
    back = recover(entry)
    assert back.dirty and np.array_equal(back.rois["tumour"].array, np.zeros(image.shape, np.uint8))
    assert s.dirty  # autosave is not a Save
    auto.close()
    assert find_recoverable() == [] and not auto.path.exists()


def test_recovery_lists_unreadable_files_and_discard(tmp_path):
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "autosave-x.radgui").write_bytes(b"not a zip")
    [entry] = find_recoverable(rec)
    assert entry.saved_at is None and "not a readable zip archive" in entry.error
    assert entry.describe().startswith("unreadable recovery file autosave-x.radgui")
    discard(entry)
    assert not (rec / "autosave-x.radgui").exists()
    (tmp_path / "mine.radgui").write_bytes(b"x")
    with pytest.raises(SessionError, match="not a recovery file"):
        discard(tmp_path / "mine.radgui")
    assert (tmp_path / "mine.radgui").exists()


def test_engine_packages_load_no_qt():
    code = ("import sys, radgui.study, radgui.session, radgui.roi.agreement; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('qtpy', 'PySide6', 'PyQt5', 'PyQt6', 'napari', "
            "'magicgui')]; print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
