"""The Predict dock in the real demo window (run under Xvfb)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.gui


@pytest.fixture
def demo_window(make_napari_viewer, qtbot):
    from radgui.cli.demo import open_demo

    viewer, docks = open_demo(viewer=make_napari_viewer(show=True))
    yield viewer, docks["Predict"]
    dock = docks["Predict"]
    if dock.busy:
        dock.cancel()
    # let every dock's worker finish (the ROI dock re-measures when ROI layers change)
    qtbot.waitUntil(lambda: all(getattr(d, "_worker", None) is None and getattr(d, "_measure_worker", None) is None
                                for d in docks.values()), timeout=30_000)


def _click_predict(qtbot, dock):
    from qtpy.QtCore import Qt

    qtbot.mouseClick(dock.predict_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not dock.busy, timeout=60_000)


def test_demo_predict_equals_cli(demo_window, qtbot, capsys):
    from radgui.cli import main
    from radgui.cli.demo import demo_paths
    from radgui.demo import DEMO_BANNER, EXAMPLE_CLINICAL

    viewer, dock = demo_window
    assert dock.bundle is not None and dock.banner.text().endswith(DEMO_BANNER)
    assert not dock.banner.isHidden()
    assert "Validation AUC" in dock.card.text() and "ct-original" in dock.card.text()
    # the demo opens with its example values filled in: one click predicts
    assert dock.clinical_values() == {k: str(v) for k, v in EXAMPLE_CLINICAL.items() if k in dock.fields}
    _click_predict(qtbot, dock)
    pred = dock.prediction
    assert pred is not None, dock.message.text()
    assert dock.progress.value() == 100 and dock.predict_button.isEnabled() and not dock.cancel_button.isEnabled()

    image, mask = demo_paths()
    argv = ["predict", "demo", "--image", str(image), "--mask", str(mask), "--json"]
    for k, v in dock.clinical_values().items():
        argv += ["--clinical", f"{k}={v}"]
    capsys.readouterr()
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert pred.probability == doc["probability"]
    assert dock.probability_label.text() == f"{100 * doc['probability']:.1f}%"
    assert f"{100 * doc['ci_low']:.1f}%" in dock.ci_label.text()
    assert f"{100 * doc['ci_high']:.1f}%" in dock.ci_label.text()
    assert f"{doc['risk_group'].capitalize()} risk" in dock.risk_label.text()
    assert f"Radscore {doc['radscore']:.3f}" in dock.radscore_label.text()
    # both figures carry this patient
    assert dock.nomogram_display.prediction is pred and dock.km_display.prediction is pred
    assert dock.km_display.summary_["group"] == doc["risk_group"]
    # the event-free time box redraws the K-M panel at the chosen time
    dock.time_spin.setValue(6.0)
    assert dock.km_display.summary_["time_point"] == 6.0 and "at 6 (months)" in dock.km_display.summary_text_

    # the Tumour ROI picker: a differently named ROI layer provides the same features
    viewer.layers["tumour"].name = "lesion"
    assert dock.roi_combo.findText("lesion") >= 0
    dock.roi_combo.setCurrentText("lesion")
    _click_predict(qtbot, dock)
    assert dock.prediction is not pred and dock.prediction.probability == doc["probability"]


def test_bad_inputs_are_messages_in_the_dock(demo_window, qtbot, tmp_path):
    from radgui.model.bundle import ModelBundle

    viewer, dock = demo_window
    # missing clinical value: blocked before any work, the field says why
    dock.set_clinical({"nlr": ""})
    _click_predict(qtbot, dock)
    assert dock.prediction is None
    assert "'nlr' is missing" in dock.message.text()
    assert "'nlr' is missing" in dock.field_errors["nlr"].text() and not dock.field_errors["nlr"].isHidden()
    # out of range: inline message as the user types, prediction blocked
    dock.fields["nlr"].setText("75")
    assert "out of range (allowed 0.1 to 50 ratio)" in dock.field_errors["nlr"].text()
    _click_predict(qtbot, dock)
    assert dock.prediction is None and "'nlr' = 75 ratio is out of range" in dock.message.text()
    dock.fields["nlr"].setText("4.2")
    assert dock.field_errors["nlr"].isHidden()

    # a bundle that is not one: a message, the current model stays
    bad = tmp_path / "bad.radgui-model"
    bad.write_text("not a zip")
    before = dock.bundle
    dock.open_bundle(bad)  # checked in the dock's worker: the window stays live meanwhile
    qtbot.waitUntil(lambda: not dock.busy, timeout=30_000)
    assert dock.bundle is before and "not a radgui model bundle" in dock.message.text()

    # a model needing an ROI the study lacks
    dock.add_bundle(ModelBundle.from_formula(0.0, {"ring3mm__original_firstorder_Mean": 0.1}), "ring model")
    _click_predict(qtbot, dock)
    assert dock.prediction is None
    assert "needs the ROI 'ring3mm'" in dock.message.text() and "ROIs present: tumour" in dock.message.text()

    # a model needing a PET ROI on this CT-only study
    pet = ModelBundle.from_formula(0.0, {"pet_tumour__original_firstorder_Maximum": 0.2})
    dock.add_bundle(pet, "PET model")
    from radgui.gui.layers import add_roi

    add_roi(viewer, np.asarray(viewer.layers["tumour"].data), viewer.layers["tumour"].metadata["volume"],
            name="pet_tumour")
    _click_predict(qtbot, dock)
    assert dock.prediction is None
    assert "needs the PET ROI 'pet_tumour' but the study has only CT" in dock.message.text()

    # no ROI at all, back on the demo model: still a message, no crash
    dock.model_combo.setCurrentIndex(0)
    dock.fill_example()
    viewer.layers.remove("tumour")
    viewer.layers.remove("pet_tumour")
    _click_predict(qtbot, dock)
    assert dock.prediction is None
    assert "needs the ROI 'tumour'" in dock.message.text() and "ROIs present: none" in dock.message.text()


def test_export_figures(demo_window, qtbot, tmp_path):
    viewer, dock = demo_window
    _click_predict(qtbot, dock)
    png = dock.export_figure("nomogram", tmp_path / "nomogram.png")
    svg = dock.export_figure("km", tmp_path / "km.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert b"<svg" in svg.read_bytes()[:2000] and b"Number at risk" in svg.read_bytes()
    from radgui.errors import RadguiError

    with pytest.raises(RadguiError, match="png or .svg"):
        dock.export_figure("km", tmp_path / "km.pdf")


def _region(shot, widget, window):
    """The pixels of ``widget`` in a screenshot of ``window`` (scaled to the screenshot)."""
    from qtpy.QtCore import QPoint

    top_left = widget.mapTo(window, QPoint(0, 0))
    sy = shot.shape[0] / window.height()
    sx = shot.shape[1] / window.width()
    y0, x0 = int(top_left.y() * sy), int(top_left.x() * sx)
    y1, x1 = int((top_left.y() + widget.height()) * sy), int((top_left.x() + widget.width()) * sx)
    return shot[max(y0, 0):min(y1, shot.shape[0]), max(x0, 0):min(x1, shot.shape[1]), :3]


@pytest.mark.slow
def test_demo_predict_screenshot_shows_three_panels(make_napari_viewer, qtbot, tmp_path):
    """``radgui demo --predict --screenshot``'s flow: result, nomogram and K-M panels are on screen."""
    from radgui.cli.demo import open_demo, press_predict
    from radgui.gui.app import save_window_screenshot

    viewer, docks = open_demo(viewer=make_napari_viewer(show=True))
    try:
        press_predict(viewer, docks)
        dock = docks["Predict"]
        path = save_window_screenshot(viewer, tmp_path / "predict.png")
        from imageio.v3 import imread

        shot = imread(path)
        window = viewer.window._qt_window
        for name, widget in [("result", dock.probability_label), ("nomogram", dock.nomogram_canvas),
                             ("K-M", dock.km_canvas)]:
            assert widget.isVisible(), f"{name} panel not visible"
            assert not widget.visibleRegion().isEmpty(), f"{name} panel hidden behind something"
            assert widget.visibleRegion().boundingRect().height() >= 0.95 * widget.height(), \
                f"{name} panel cut off"
            region = _region(shot, widget, window)
            assert region.size and region.std() > 20, f"{name} panel looks blank"
        # the figures are drawn (white background with dark ink), the K-M one in the group colours
        nomo = _region(shot, dock.nomogram_canvas, window).astype(int)
        assert (nomo.min(axis=-1) > 240).mean() > 0.5 and (nomo.max(axis=-1) < 80).mean() > 0.005
        km = _region(shot, dock.km_canvas, window).astype(int)
        orange = (km[..., 0] > 200) & (km[..., 1] > 100) & (km[..., 1] < 160) & (km[..., 2] < 60)
        blue = (km[..., 2] > 150) & (km[..., 0] < 80)
        assert orange.sum() > 100 and blue.sum() > 100
        # the patient marks (red) are on both figures
        for fig in (nomo, km):
            red = (fig[..., 0] > 180) & (fig[..., 1] < 80) & (fig[..., 2] < 80)
            assert red.sum() > 30
        assert dock.probability_label.text().endswith("%")
    finally:
        qtbot.waitUntil(lambda: all(getattr(d, "_worker", None) is None and getattr(d, "_measure_worker", None) is None
                                    for d in docks.values()), timeout=30_000)


@pytest.mark.slow
def test_radgui_demo_predict_screenshot_command(tmp_path):
    """The real command, in its own process (as a user runs it under xvfb-run)."""
    import subprocess
    import sys

    out = tmp_path / "demo_predict.png"
    proc = subprocess.run([sys.executable, "-m", "radgui", "demo", "--predict", "--screenshot", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    from imageio.v3 import imread

    shot = imread(out)
    assert shot.shape[:2] == (1000, 1600)
    right = shot[:, 800:, :3].astype(int)  # the Predict dock's side: white figure backgrounds
    assert (right.min(axis=-1) > 240).mean() > 0.15


def test_open_bundle_checks_in_the_worker(demo_window, qtbot, tmp_path):
    """Opening a bundle returns at once (the check runs in the dock's worker), then selects the new model."""
    import time

    viewer, dock = demo_window
    path = dock.bundle.save(tmp_path / "copy")
    n = dock.model_combo.count()
    t0 = time.perf_counter()
    dock.open_bundle(path)
    returned_after = time.perf_counter() - t0
    assert dock.busy and not dock.open_button.isEnabled() and not dock.predict_button.isEnabled()
    assert dock.message.text() == "Checking copy.radgui-model\N{HORIZONTAL ELLIPSIS}"
    assert dock.model_combo.count() == n  # nothing added before the check ends
    qtbot.waitUntil(lambda: not dock.busy, timeout=30_000)
    assert dock.model_combo.count() == n + 1 and dock.model_combo.currentText().endswith("(copy.radgui-model)")
    assert dock.bundle.name == "Demo: synthetic lung lesion nomogram" and dock.open_button.isEnabled()
    assert dock.progress.maximum() == 100 and not dock.message.isVisible()
    assert returned_after < 0.5, returned_after
