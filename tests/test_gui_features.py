"""Features dock: driven like a user, on a Qt-free ViewerModel and in a real viewer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radgui.features import extract
from radgui.io import Volume

napari = pytest.importorskip("napari")


def volume(shape=(12, 40, 40), seed=0):
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    arr = (300 * np.sin(x / 3) * np.cos(y / 5) + rng.normal(0, 40, shape) - 200).astype(np.int16)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.8, 0.8, 2.0))
    return Volume(img, "CT", {"name": "phantom", "warnings": []})


def tumour(vol):
    m = np.zeros(vol.shape, np.uint8)
    m[4:8, 12:24, 12:26] = 1
    return m


def ring(vol):
    t = tumour(vol)
    m = np.zeros(vol.shape, np.uint8)
    m[3:9, 9:27, 9:29] = 1
    return m & (t == 0)


@pytest.fixture
def dock_and_viewer(qtbot, monkeypatch):
    from napari.components import ViewerModel

    from radgui.gui import features_dock
    from radgui.gui.features_dock import FeaturesDock
    from radgui.gui.layers import add_roi, add_volume

    errors = []
    monkeypatch.setattr(features_dock, "_notify_error", errors.append)
    viewer = ViewerModel()
    vol = volume()
    add_volume(viewer, vol)
    add_roi(viewer, tumour(vol), vol, name="tumour")
    add_roi(viewer, ring(vol), vol, name="ring3mm", parent="tumour")
    dock = FeaturesDock(viewer)
    qtbot.addWidget(dock)
    return dock, viewer, vol, errors


def _extract_and_wait(qtbot, dock):
    from qtpy.QtCore import Qt

    qtbot.mouseClick(dock.extract_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not dock.busy and dock.extract_button.isEnabled(), timeout=60000)


def test_extract_fills_table_with_engine_values(qtbot, dock_and_viewer, tmp_path):
    dock, viewer, vol, errors = dock_and_viewer
    assert dock.checked_rois() == ["tumour", "ring3mm"]
    assert "bin width 25" in dock.summary.text()
    _extract_and_wait(qtbot, dock)
    assert not errors
    ref = extract(vol, {"tumour": tumour(vol) > 0, "ring3mm": ring(vol) > 0}, "ct-original")
    pd.testing.assert_frame_equal(dock.result, ref)
    assert dock.table.columnCount() == 3 and dock.table.rowCount() == ref.shape[1]
    row = list(ref.columns).index("original_firstorder_Mean")
    shown = dock.table.item(row, 1).data(0x0100)  # Qt.UserRole
    assert shown == ref.at["tumour", "original_firstorder_Mean"]
    assert dock.progress.value() == 100
    # search
    dock.search.setText("glszm")
    visible = dock.visible_features()
    assert visible and all("glszm" in f for f in visible)
    # export
    out = dock.export_csv(tmp_path / "f.csv")
    back = pd.read_csv(out, index_col="roi")
    assert list(back.index) == ["tumour", "ring3mm"]
    assert back.at["tumour", "original_firstorder_Mean"] == pytest.approx(ref.at["tumour", "original_firstorder_Mean"])
    assert (tmp_path / "f.provenance.json").exists()


def test_unchecked_roi_is_not_extracted(qtbot, dock_and_viewer):
    from qtpy.QtCore import Qt

    dock, *_ = dock_and_viewer
    dock.roi_list.item(1).setCheckState(Qt.Unchecked)
    _extract_and_wait(qtbot, dock)
    assert list(dock.result.index) == ["tumour"]


def test_cancel_keeps_previous_result(qtbot, dock_and_viewer):
    dock, viewer, vol, errors = dock_and_viewer
    _extract_and_wait(qtbot, dock)
    before = dock.result
    dock.preset_combo.setCurrentText("ct-wavelet")  # as a user picks it
    assert dock.preset.name == "ct-wavelet" and dock.preset_combo.currentText() == "ct-wavelet"
    assert "Wavelet (coif1" in dock.summary.text()
    worker = dock.start_extraction()
    assert worker is not None
    dock.cancel()
    qtbot.waitUntil(lambda: not dock.busy, timeout=60000)
    assert dock.result is before  # no half-written result
    assert "cancel" in dock.progress.format()


def test_empty_roi_becomes_a_notification(qtbot, dock_and_viewer):
    from radgui.gui.layers import add_roi

    dock, viewer, vol, errors = dock_and_viewer
    add_roi(viewer, np.zeros(vol.shape, np.uint8), vol, name="empty")
    viewer.layers.selection.active = viewer.layers["phantom"]
    assert "empty" in dock.checked_rois()
    _extract_and_wait(qtbot, dock)
    assert any("'empty' is empty" in e for e in errors)
    assert dock.result is None


def test_edit_yaml_valid_and_invalid(qtbot, dock_and_viewer):
    dock, viewer, vol, errors = dock_and_viewer
    dock.edit_button.setChecked(True)
    assert dock.editor.isVisibleTo(dock)
    dock.editor.setPlainText("setting:\n  binWidht: 10\n")
    assert dock._apply_editor() is False and any("binWidht" in e for e in errors)
    dock.editor.setPlainText("imageType:\n  Original: {}\nfeatureClass:\n  firstorder:\nsetting:\n  binWidth: 10\n")
    assert dock._apply_editor() is True
    assert "bin width 10" in dock.summary.text()
    _extract_and_wait(qtbot, dock)
    assert all(c.startswith("original_firstorder_") for c in dock.result.columns)


@pytest.mark.gui
def test_dock_in_real_viewer_screenshot(make_napari_viewer, qtbot, tmp_path):
    from radgui.gui.features_dock import FeaturesDock
    from radgui.gui.layers import add_roi, add_volume

    viewer = make_napari_viewer()
    vol = volume()
    add_volume(viewer, vol)
    add_roi(viewer, tumour(vol), vol, name="tumour")
    add_roi(viewer, ring(vol), vol, name="ring3mm", parent="tumour")
    dock = FeaturesDock(viewer)
    viewer.window.add_dock_widget(dock, name="Features", area="right")
    _extract_and_wait(qtbot, dock)
    dock.search.setText("firstorder")
    path = tmp_path / "features_dock.png"
    dock.grab().save(str(path))
    import imageio.v3 as iio

    img = iio.imread(path)
    assert img.shape[0] > 300 and img.shape[1] > 200
    assert img[..., :3].std() > 10  # not a blank widget
    dock.grab().save("/tmp/radgui_features_dock.png")
