"""File menu session actions in a real radgui window: save/open round trip, moved image, autosave,
recovery after a simulated crash, the unsaved-changes prompt, Save ROI(s)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("napari")

SHAPE = (6, 20, 24)


def _image(path, seed=0):
    img = sitk.GetImageFromArray(np.random.default_rng(seed).normal(0, 50, SHAPE).astype(np.float32))
    img.SetSpacing((0.8, 0.8, 2.5))
    img.SetOrigin((-10.0, 5.0, 30.0))
    sitk.WriteImage(img, str(path))
    return path


def _blob(offset=0):
    m = np.zeros(SHAPE, np.uint8)
    m[2:4, 5 + offset:12 + offset, 6:15] = 1
    return m


@pytest.fixture
def recovery(tmp_path, monkeypatch):
    folder = tmp_path / "recovery"
    monkeypatch.setenv("RADGUI_RECOVERY_DIR", str(folder))
    return folder


def _window(make_napari_viewer, **kw):
    from radgui.gui.app import create_viewer
    from radgui.gui.session_actions import actions_for

    viewer, docks = create_viewer(viewer=make_napari_viewer(show=True), **kw)
    return viewer, docks, actions_for(viewer)


@pytest.fixture
def answer(monkeypatch):
    """Patch QMessageBox.exec: click the button named in ``answers`` (in order); record each question."""
    from qtpy.QtWidgets import QMessageBox

    state = {"answers": [], "asked": []}

    def fake_exec(box):
        state["asked"].append(box.text())
        want = state["answers"].pop(0)
        next(b for b in box.buttons() if b.text() == want).click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    return state


def _trigger(action_list, text):
    action = next(a for a in action_list if a.text().startswith(text))
    action.trigger()


@pytest.mark.gui
def test_session_round_trip_through_the_file_menu(make_napari_viewer, qtbot, tmp_path, recovery, monkeypatch):
    from qtpy.QtWidgets import QFileDialog

    from radgui.gui.app import open_paths

    img_path = _image(tmp_path / "ct.nrrd")
    viewer, docks, actions = _window(make_napari_viewer)
    image_layer, _ = open_paths(viewer, img_path)
    from radgui.gui.layers import add_roi

    vol = image_layer.metadata["volume"]
    add_roi(viewer, _blob(), vol, name="tumour")
    add_roi(viewer, _blob(3) * 1, vol, name="node")
    docks["ROI"].distances.setText("2, 4")
    assert actions.dirty
    # the actions are in napari's File menu
    assert {a.text() for a in viewer.window.file_menu.actions()} >= {a.text() for a in actions.menu_actions}
    out = tmp_path / "work.radgui"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out.with_suffix("")), ""))
    _trigger(viewer.window.file_menu.actions(), "Save session")
    assert out.is_file() and not actions.dirty
    before = {ly.name: np.asarray(ly.data).copy() for ly in viewer.layers}
    point = tuple(viewer.dims.point)
    viewer.close()

    # reopen in a new window, with the image moved: the file dialog is asked where it is
    moved = tmp_path / "moved"
    moved.mkdir()
    img_path.rename(moved / "ct.nrrd")
    viewer2, docks2, actions2 = _window(make_napari_viewer)
    asked = []

    def fake_open(parent, caption, *a, **k):
        asked.append(caption)
        return (str(out), "") if caption == "Open session" else (str(moved / "ct.nrrd"), "")

    monkeypatch.setattr(QFileDialog, "getOpenFileName", fake_open)
    _trigger(viewer2.window.file_menu.actions(), "Open session")
    assert asked[0] == "Open session" and asked[1].startswith("Locate image 'ct'")
    after = {ly.name: np.asarray(ly.data) for ly in viewer2.layers}
    assert list(after) == list(before)
    for name in before:
        assert after[name].dtype == before[name].dtype and np.array_equal(after[name], before[name]), name
    assert np.allclose(viewer2.layers["tumour"].scale, vol.spacing)
    assert np.allclose(viewer2.layers["tumour"].translate, viewer2.layers["ct"].translate)
    assert docks2["ROI"].distances.text() == "2, 4"
    assert tuple(viewer2.dims.point) == pytest.approx(point)
    assert actions2.dirty  # the relocation is an unsaved change
    actions2.mark_clean()


@pytest.mark.gui
def test_edit_is_autosaved_and_recovered_after_a_crash(make_napari_viewer, qtbot, tmp_path, recovery, answer):
    from radgui.io import load_volume
    from radgui.session import Autosaver, Session, find_recoverable

    img_path = _image(tmp_path / "ct.nrrd")
    # a "killed" radgui: an autosave written by the engine and never closed
    vol = load_volume(img_path)
    s = Session()
    s.add_image("ct", vol)
    s.set_roi("tumour", _blob(2), like=vol)
    killed = Autosaver(s, folder=recovery)
    assert killed.flush()
    entry = find_recoverable(recovery)[0]
    when = entry.saved_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")

    answer["answers"] = ["Restore"]
    viewer, docks, actions = _window(make_napari_viewer, offer_recovery=True)
    qtbot.waitUntil(lambda: "tumour" in [ly.name for ly in viewer.layers], timeout=10_000)
    assert answer["asked"] == [f"Unsaved work from {when} (tumour) was found."]
    assert np.array_equal(np.asarray(viewer.layers["tumour"].data), _blob(2))
    assert actions.dirty  # restored work is unsaved
    assert not killed.path.exists()  # restored: the old recovery file is gone, the work is in this window's
    assert actions.autosaver.path.is_file()

    # a paint edit is autosaved at the first timer tick 30 s after the previous autosave, not before
    from radgui.session import recover

    now = [0.0]
    actions.autosaver.clock = lambda: now[0]
    actions.autosaver._last_save = 0.0  # the restore's autosave, at t = 0 on the fake clock
    layer = viewer.layers["tumour"]
    layer.paint((3, 15, 20), 1, refresh=True)
    for t in (5.0, 15.0, 29.9):
        now[0] = t
        assert not actions.autosave_tick(), t
    assert recover(actions.autosaver.path).rois["tumour"].array[3, 15, 20] == 0
    now[0] = 30.0
    assert actions.autosave_tick()
    assert recover(actions.autosaver.path).rois["tumour"].array[3, 15, 20] == 1
    # nothing pending: later ticks write nothing
    now[0] = 100.0
    assert not actions.autosave_tick()
    actions.mark_clean()
    viewer.close()
    assert not actions.autosaver.path.exists()  # a clean close leaves no recovery file
    assert find_recoverable(recovery) == []


@pytest.mark.gui
def test_recovery_discard_and_later(make_napari_viewer, qtbot, tmp_path, recovery, answer):
    from radgui.io import load_volume
    from radgui.session import Autosaver, Session, find_recoverable

    vol = load_volume(_image(tmp_path / "ct.nrrd"))
    s = Session()
    s.add_image("ct", vol)
    s.set_roi("tumour", _blob(), like=vol)
    Autosaver(s, folder=recovery).flush()
    answer["answers"] = ["Later"]
    viewer, docks, actions = _window(make_napari_viewer)
    assert actions.offer_recovery() == 0
    assert len(find_recoverable(recovery)) == 1 and len(viewer.layers) == 0
    answer["answers"] = ["Discard"]
    assert actions.offer_recovery() == 0
    assert find_recoverable(recovery) == []


@pytest.mark.gui
def test_unsaved_changes_prompt_on_close(make_napari_viewer, qtbot, tmp_path, recovery, answer):
    from radgui.gui.app import open_paths

    viewer, docks, actions = _window(make_napari_viewer)
    open_paths(viewer, _image(tmp_path / "ct.nrrd"))
    assert actions.dirty
    actions.prompt_on_any_close = True
    from qtpy.QtGui import QCloseEvent

    window = viewer.window._qt_window
    answer["answers"] = ["Cancel"]
    event = QCloseEvent()
    assert actions.eventFilter(window, event) is True  # the close is stopped
    assert not event.isAccepted() and window.isVisible()
    assert answer["asked"] == ["The work has unsaved changes. Save them before closing?"]
    assert actions.dirty
    answer["answers"] = ["Discard"]
    assert actions.confirm_discard("closing") is True  # Discard: the close goes on
    assert len(answer["asked"]) == 2
    actions.mark_clean()
    answer["answers"] = []
    assert actions.confirm_discard("closing") is True and len(answer["asked"]) == 2  # clean: no question
    actions.prompt_on_any_close = False


@pytest.mark.gui
def test_save_rois_one_per_roi_and_multilabel(make_napari_viewer, qtbot, tmp_path, recovery, monkeypatch):
    from qtpy.QtWidgets import QFileDialog

    from radgui.gui.app import open_paths
    from radgui.gui.layers import add_roi
    from radgui.gui.session_actions import SessionActions

    viewer, docks, actions = _window(make_napari_viewer)
    image_layer, _ = open_paths(viewer, _image(tmp_path / "ct.nrrd"))
    vol = image_layer.metadata["volume"]
    add_roi(viewer, _blob(), vol, name="tumour")
    add_roi(viewer, np.roll(_blob(), 9, axis=2), vol, name="node")
    filters = {v: k for k, v in SessionActions.FILTERS.items()}
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out / "x.nii.gz"), filters["nii.gz"]))
    _trigger(viewer.window.file_menu.actions(), "Save ROI(s)")
    img = sitk.ReadImage(str(out / "tumour.nii.gz"))
    assert np.array_equal(sitk.GetArrayFromImage(img), _blob())
    assert img.GetSpacing() == pytest.approx(vol.image.GetSpacing()) and img.GetOrigin() == pytest.approx(
        vol.image.GetOrigin())
    assert (out / "node.nii.gz").is_file()
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(out / "both.nrrd"), filters["multi-nrrd"]))
    _trigger(viewer.window.file_menu.actions(), "Save ROI(s)")
    both = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "both.nrrd")))
    assert json.loads((out / "both.labels.json").read_text()) == {"labels": {"1": "tumour", "2": "node"}}
    assert np.array_equal(both == 1, _blob() > 0) and np.array_equal(both == 2, np.roll(_blob(), 9, axis=2) > 0)
    # DICOM-SEG is not offered for a NRRD image
    seen = {}
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda p, c, d, f: seen.setdefault("f", f) and ("", ""))
    actions.save_rois_dialog()
    assert "DICOM-SEG" not in seen["f"] and "multi-label NIfTI" in seen["f"]
    actions.mark_clean()


@pytest.mark.gui
def test_reopened_session_shows_the_same_prediction_recomputed(make_napari_viewer, qtbot, tmp_path, recovery,
                                                                monkeypatch):
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QFileDialog

    from radgui.cli.demo import open_demo
    from radgui.gui.session_actions import actions_for

    viewer, docks = open_demo(viewer=make_napari_viewer(show=True))
    predict = docks["Predict"]
    qtbot.mouseClick(predict.predict_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not predict.busy and predict.prediction is not None, timeout=60_000)
    before = predict.prediction.to_dict()
    out = tmp_path / "demo.radgui"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    _trigger(viewer.window.file_menu.actions(), "Save session")
    assert out.is_file()
    actions_for(viewer).mark_clean()
    viewer.close()

    viewer2, docks2, _ = _window(make_napari_viewer)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(out), ""))
    _trigger(viewer2.window.file_menu.actions(), "Open session")
    predict2 = docks2["Predict"]
    qtbot.waitUntil(lambda: not predict2.busy and predict2.prediction is not None, timeout=60_000)
    after = predict2.prediction.to_dict()
    assert after["probability"] == pytest.approx(before["probability"], rel=1e-12)
    assert after["linear_predictor"] == pytest.approx(before["linear_predictor"], rel=1e-12)
    assert after["risk_group"] == before["risk_group"]
    assert predict2.nomogram_display is not None and predict2.km_display is not None   # the panels are drawn
