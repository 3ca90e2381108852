"""Full-viewer GUI tests (real napari window; run under Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest

@pytest.fixture
def demo_window(make_napari_viewer, qtbot):
    from radgui.cli.demo import open_demo

    viewer, docks = open_demo(viewer=make_napari_viewer(show=True))
    yield viewer, docks
    wait_for_workers(qtbot, docks)


def wait_for_workers(qtbot, docks):
    """Let every dock's background worker finish before the window closes."""
    qtbot.waitUntil(lambda: all(getattr(d, "_worker", None) is None and not getattr(d, "busy", False)
                                for d in docks.values()), timeout=30_000)


def _press(qtbot, viewer, key):
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.keyClick(canvas, key)
    qtbot.wait(20)


def tumour_pixels(rgb: np.ndarray, label_rgba, opacity: float) -> int:
    """Pixels that are the label colour blended over any grey value."""
    c = np.asarray(label_rgba[:3], float) * 255 * opacity
    rest = rgb[..., :3].astype(float) - c  # = (1 - opacity) * grey, equal channels
    spread = rest.max(axis=-1) - rest.min(axis=-1)
    return int(np.count_nonzero((spread < 10) & (rest.min(axis=-1) > -3)))


@pytest.mark.gui
def test_demo_presets_by_shortcut_and_screenshot(demo_window, qtbot, tmp_path):
    from qtpy.QtCore import Qt

    from radgui.gui.layers import WINDOW_PRESETS, window_to_limits

    viewer, docks = demo_window
    image, roi = viewer.layers["demo lung CT"], viewer.layers["tumour"]
    assert image.metadata["volume"].modality == "CT"
    # geometry: napari world coordinates are LPS mm
    assert np.allclose(image.scale, image.metadata["volume"].spacing)
    assert np.allclose(roi.translate, image.translate)
    # the demo opens in the lung window
    assert tuple(image.contrast_limits) == window_to_limits(*WINDOW_PRESETS["lung"])

    for key, preset in [(Qt.Key_F3, "bone"), (Qt.Key_F2, "mediastinum"), (Qt.Key_F4, "brain"), (Qt.Key_F1, "lung")]:
        _press(qtbot, viewer, key)
        assert tuple(image.contrast_limits) == window_to_limits(*WINDOW_PRESETS[preset]), preset
    # the level/width boxes follow
    assert docks["View"].level.value() == -600 and docks["View"].width.value() == 1500

    # the slice shown holds the tumour
    z = int(round((viewer.dims.point[0] - roi.translate[0]) / roi.scale[0]))
    assert np.asarray(roi.data)[z].sum() > 0

    # look at the tumour closely: centre the camera on it, 80 mm across the canvas
    zyx = np.argwhere(np.asarray(roi.data) > 0).mean(axis=0)
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    camera.center = tuple(np.asarray(roi.translate) + np.asarray(roi.scale) * zyx)[1:]
    canvas_px = min(viewer.window._qt_viewer.canvas.native.width(), viewer.window._qt_viewer.canvas.native.height())
    camera.zoom = canvas_px / 80.0
    qtbot.wait(50)
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shot.std() > 20, "screenshot looks blank"
    n = tumour_pixels(shot, roi.colormap.map(np.array([1]))[0], roi.opacity)
    assert n > 30, f"tumour label colour not found ({n} pixels)"
    viewer.screenshot(str(tmp_path / "window.png"), canvas_only=False, flash=False)
    assert (tmp_path / "window.png").stat().st_size > 10_000


@pytest.mark.gui
def test_orientation_letters_and_planes(demo_window, qtbot):
    viewer, docks = demo_window
    letters = {edge: lab.text() for edge, lab in docks["View"]._edges.labels.items()}
    assert letters == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    docks["View"].plane_buttons["coronal"].click()
    letters = {edge: lab.text() for edge, lab in docks["View"]._edges.labels.items()}
    assert letters == {"top": "S", "bottom": "I", "left": "R", "right": "L"}
    docks["View"].plane_buttons["sagittal"].click()
    letters = {edge: lab.text() for edge, lab in docks["View"]._edges.labels.items()}
    assert letters == {"top": "S", "bottom": "I", "left": "A", "right": "P"}


@pytest.mark.gui
def test_status_bar_shows_hu_and_mm(demo_window, qtbot):
    viewer, docks = demo_window
    image = viewer.layers["demo lung CT"]
    vol = image.metadata["volume"]
    idx = np.array([20, 200, 250])
    viewer.cursor.position = tuple(vol.index_to_physical(idx))
    text = docks["View"].status_label.text()
    assert f"{vol.array[tuple(idx)]:.0f} HU" in text
    x, y, z = vol.index_to_physical(idx)[::-1]
    assert f"x {x:.1f}  y {y:.1f}  z {z:.1f} mm (LPS)" in text


@pytest.mark.gui
def test_bad_file_in_the_gui_is_a_notification_not_a_crash(demo_window, tmp_path):
    viewer, docks = demo_window
    bad = tmp_path / "broken.nrrd"
    bad.write_bytes(b"garbage")
    n_layers = len(viewer.layers)
    assert docks["View"].open(bad) == []
    assert len(viewer.layers) == n_layers  # nothing lost


@pytest.mark.gui
def test_drag_and_drop_reader_gives_physical_geometry(make_napari_viewer):
    from radgui.cli.demo import demo_paths
    from radgui.gui.reader import get_reader

    image_path, _ = demo_paths()
    assert get_reader(str(image_path)) is not None
    assert get_reader("notes.txt") is None
    viewer = make_napari_viewer()
    layers = viewer.open(str(image_path), plugin="radgui")
    vol = layers[0].metadata["volume"]
    assert np.allclose(layers[0].scale, vol.spacing)
    assert np.allclose(layers[0].translate, vol.origin)


@pytest.mark.gui
@pytest.mark.parametrize("command", ["view", "demo"])
def test_screenshot_from_the_command_line(tmp_path, command):
    import subprocess
    import sys

    import SimpleITK as sitk
    from PIL import Image

    args = [sys.executable, "-m", "radgui", command]
    if command == "view":
        arr = np.full((6, 40, 50), -1000, np.int16)
        arr[2:4, 10:30, 15:35] = 40
        img = sitk.GetImageFromArray(arr)
        img.SetSpacing((0.8, 0.8, 3.0))
        sitk.WriteImage(img, str(tmp_path / "ct.nii.gz"))
        sitk.WriteImage(sitk.Cast(img > 0, sitk.sitkUInt8), str(tmp_path / "roi.nii.gz"))
        args += [str(tmp_path / "ct.nii.gz"), "--label", str(tmp_path / "roi.nii.gz")]
    out = tmp_path / "shot.png"
    proc = subprocess.run(args + ["--screenshot", str(out)], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    shot = np.asarray(Image.open(out))
    assert shot.shape[0] >= 600 and shot.shape[1] >= 900  # the whole window, docks included
    assert shot[..., :3].std() > 20


@pytest.mark.gui
def test_dropping_a_dicom_folder_with_two_series_shows_the_picker(make_napari_viewer, tmp_path, monkeypatch):
    from dicom_factory import write_ct_series

    from radgui.gui import opening

    write_ct_series(tmp_path / "a", description="thin")
    write_ct_series(tmp_path / "b", description="thick", slice_spacing=5.0)
    viewer = make_napari_viewer()
    offered = []

    def pick(series, parent=None):
        offered.append(sorted(s.description for s in series))
        return next(s for s in series if s.description == "thick")

    monkeypatch.setattr(opening, "choose_series_dialog", pick)
    viewer.open(str(tmp_path), plugin="radgui")
    assert offered == [["thick", "thin"]]
    assert [ly.name for ly in viewer.layers] == ["thick"]
    assert viewer.layers[0].scale[0] == pytest.approx(5.0)


def test_qt_binding_keeps_none_alive(qtbot):
    """PySide6 6.12.0 drops a reference to None on each call (Python < 3.12): the
    app would abort with "deallocating None" after a long session. pyproject pins
    a version without the bug; this guards the pin."""
    import gc
    import sys

    from qtpy.QtWidgets import QApplication

    if sys.version_info >= (3, 12):
        pytest.skip("None is immortal from Python 3.12 on")
    for _ in range(10):
        QApplication.processEvents()
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(500):
        QApplication.processEvents()
    gc.collect()
    assert sys.getrefcount(None) - before > -100


@pytest.mark.gui
def test_level_width_boxes_set_the_window(demo_window):
    viewer, docks = demo_window
    dock, image = docks["View"], viewer.layers["demo lung CT"]
    dock.level.setValue(2500)
    dock.width.setValue(3000)
    dock._apply_level_width()  # what editingFinished does
    assert tuple(image.contrast_limits) == (1000.0, 4000.0)
    assert image.contrast_limits_range[1] >= 4000.0  # widened beyond the data's range when needed
