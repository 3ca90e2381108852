"""Presentation mode: key slice, keyboard navigation, ROI/PET toggles, Esc; the F11 action; a screenshot."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("qtpy")


@pytest.fixture
def case(tmp_path):
    from radgui.cli.predict import load_bundle
    from radgui.demo import EXAMPLE_CLINICAL
    from radgui.demo.cohort import cohort_table, phantom_for
    from radgui.io import load_volume
    from radgui.model.patient import iter_predict
    from radgui.progress import run

    img, msk = phantom_for(cohort_table(3).iloc[0]).to_sitk()
    sitk.WriteImage(img, str(tmp_path / "ct.nrrd"))
    vol = load_volume(tmp_path / "ct.nrrd", modality="CT")
    mask = sitk.Cast(msk > 0, sitk.sitkUInt8)
    mask.CopyInformation(vol.image)
    bundle = load_bundle("demo")
    pred = run(iter_predict(bundle, vol, {"tumour": mask}, EXAMPLE_CLINICAL))
    arr = sitk.GetArrayFromImage(mask) > 0
    from scipy import ndimage

    ring = ndimage.binary_dilation(arr, iterations=2) & ~arr
    return vol, {"tumour": arr, "ring3mm": ring}, bundle, pred


def _key(win, key):
    from qtpy.QtCore import QEvent, Qt
    from qtpy.QtGui import QKeyEvent

    win.keyPressEvent(QKeyEvent(QEvent.KeyPress, key, Qt.NoModifier))


def test_presentation_window_keys_and_screenshot(qtbot, case, tmp_path):
    from qtpy.QtCore import Qt

    from radgui.gui.presentation import PresentationWindow

    vol, rois, bundle, pred = case
    pet = vol.__class__(vol.image, "PT", dict(vol.meta))
    win = PresentationWindow(vol, rois, bundle, pred, pet=pet)
    qtbot.addWidget(win)
    win.resize(1600, 900)
    win.show()
    qtbot.waitExposed(win)
    key = int(np.argmax(rois["tumour"].reshape(rois["tumour"].shape[0], -1).sum(axis=1)))
    assert win.key_slice == key == win.slice
    assert win.probability_label.text() == f"{100 * pred.probability:.1f}%"
    assert "higher than" in win.details_label.text()
    _key(win, Qt.Key_Up)
    assert win.slice == key + 1 and "largest tumour area" not in win.slice_label.text()
    _key(win, Qt.Key_Home)
    assert win.slice == key and "largest tumour area" in win.slice_label.text()
    _key(win, Qt.Key_R)
    assert not win.show_roi and "ROI off" in win.slice_label.text()
    _key(win, Qt.Key_R)
    _key(win, Qt.Key_P)
    assert win.pet_fused and "PET fused" in win.slice_label.text()
    _key(win, Qt.Key_P)
    for c in (win.image_canvas, win.nomogram_canvas, win.km_canvas):
        c.draw()
    qtbot.wait(50)
    shot = tmp_path / "presentation.png"
    assert win.grab().save(str(shot))
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[1] >= 1500 and img[..., :3].std() > 0.1
    _key(win, Qt.Key_Escape)
    assert not win.isVisible()
    import shutil

    shutil.copy(shot, "/tmp/board_presentation.png") if __import__("os").environ.get("RADGUI_KEEP_SHOT") else None


@pytest.fixture
def demo_window(make_napari_viewer, qtbot):
    from radgui.cli.demo import open_demo

    viewer, docks = open_demo(viewer=make_napari_viewer(show=True))
    yield viewer, docks
    qtbot.waitUntil(lambda: all(getattr(d, "_worker", None) is None and getattr(d, "_measure_worker", None) is None
                                for d in docks.values()), timeout=30_000)


def test_f11_action_and_report_button_on_the_demo(demo_window, qtbot, tmp_path):
    import subprocess

    from qtpy.QtCore import Qt

    viewer, docks = demo_window
    dock = docks["Predict"]
    qtbot.mouseClick(dock.predict_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not dock.busy, timeout=60_000)
    assert dock.prediction is not None
    [action] = [a for a in viewer.window._qt_window.actions() if a.text() == "Presentation mode"]
    assert action.shortcut().toString() == "F11"
    action.trigger()
    win = viewer.window._qt_window._radgui_presentation
    qtbot.waitExposed(win)
    assert win.isFullScreen() and win.probability_label.text() == dock.probability_label.text()
    _key(win, Qt.Key_Escape)
    assert not win.isVisible()
    rep = dock.write_report(tmp_path / "board.pdf", paper="letter")
    assert rep.pages == 2 and len(rep.pngs) == 2 and all(p.exists() for p in rep.pngs)
    text = subprocess.run(["pdftotext", str(rep.pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert dock.probability_label.text() in text
