"""PET/CT dock fusion panel: Show fused, Extract four VOIs (worker, Cancel), Save table; a screenshot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from qtpy.QtCore import Qt

from radgui.gui.layers import add_roi
from dicom_factory import write_ct_series, write_pet_series


@pytest.fixture
def viewer():
    from napari.components import ViewerModel

    return ViewerModel()


@pytest.fixture
def study(tmp_path):
    ct = write_ct_series(tmp_path / "CT", rows=48, cols=64, description="thorax CT")
    write_pet_series(tmp_path / "PT", study_uid=ct["study_uid"], for_uid=ct["for_uid"])
    return tmp_path


def _dock_with_tumour(qtbot, viewer, study):
    from radgui.gui.petct_dock import PetCtDock

    dock = PetCtDock(viewer)
    qtbot.addWidget(dock)
    dock.load_folder(study, blocking=True)
    ct = dock.ct_layer.metadata["volume"]
    mask = np.zeros(ct.shape, np.uint8)
    mask[2:8, 14:34, 18:46] = 1
    add_roi(viewer, mask, ct, name="tumour")
    dock.roi_combo.setCurrentText("tumour")
    return dock, dock.fusion_panel, ct, mask


def test_show_fused_adds_the_engine_image(qtbot, viewer, study):
    from radgui.io.petct import fuse

    dock, panel, ct, _ = _dock_with_tumour(qtbot, viewer, study)
    panel.method.setCurrentIndex(panel.method.findData("wavelet"))
    panel.weight.setValue(0.7)
    qtbot.mouseClick(panel.show_button, Qt.LeftButton)
    layer = panel.fusion_layer
    assert layer is not None and layer.data.shape == ct.shape and layer.colormap.name == "magma"
    vol = layer.metadata["volume"]
    assert vol.meta["fusion"]["method"] == "wavelet" and vol.meta["fusion"]["weight"] == 0.7
    ref = fuse(ct, dock.fused_layer.metadata["volume"], "wavelet", 0.7)
    np.testing.assert_array_equal(layer.data, ref.array)
    # again: the layer is replaced, not piled up; the fused image is no CT/PET choice
    n = len(viewer.layers)
    qtbot.mouseClick(panel.show_button, Qt.LeftButton)
    assert len(viewer.layers) == n
    assert dock.ct_combo.count() == 1 and dock.pet_combo.count() == 1


def test_extract_four_vois_in_the_worker_and_save(qtbot, viewer, study, tmp_path, monkeypatch):
    from radgui.gui import petct_fusion

    dock, panel, ct, mask = _dock_with_tumour(qtbot, viewer, study)
    panel.ring_mm.setValue(3.0)
    panel.core_mm.setValue(2.0)
    assert not panel.save_button.isEnabled()
    qtbot.mouseClick(panel.extract_button, Qt.LeftButton)
    assert panel.busy and not panel.extract_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.busy, timeout=60000)
    table = panel.table
    assert table is not None and table.index.tolist() == ["tumour"]
    assert table.at["tumour", "ct_tumour__original_shape_VoxelVolume"] > 0
    assert {c.split("__")[0] for c in table.columns} >= {"fused_ring3mm", "pet_core2mm", "ct_tumour+ring3mm"}
    assert panel.extract_button.isEnabled() and panel.save_button.isEnabled()
    assert "features" in panel.status.text()
    out = tmp_path / "t.csv"
    monkeypatch.setattr(petct_fusion.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    qtbot.mouseClick(panel.save_button, Qt.LeftButton)
    assert pd.read_csv(out, index_col=0).shape == table.shape
    assert (tmp_path / "t.csv.provenance.json").exists()


def test_cancel_keeps_no_table(qtbot, viewer, study):
    dock, panel, *_ = _dock_with_tumour(qtbot, viewer, study)
    panel.extract()
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.busy, timeout=60000)
    assert panel.table is None and "cancelled" in panel.status.text()
    assert panel.extract_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_errors_are_shown_not_raised(qtbot, viewer, study):
    from radgui.gui.petct_dock import PetCtDock

    dock = PetCtDock(viewer)
    qtbot.addWidget(dock)
    panel = dock.fusion_panel
    assert panel.show_fused() is None and "load a PET/CT" in panel.status.text()
    dock.load_folder(study, blocking=True)
    assert panel.extract() is None and "choose the tumour ROI" in panel.status.text()
    ct = dock.ct_layer.metadata["volume"]
    add_roi(viewer, np.zeros(ct.shape, np.uint8), ct, name="empty")
    dock.roi_combo.setCurrentText("empty")
    panel.extract(blocking=True)
    assert "empty" in panel.status.text() and panel.table is None
    assert panel.save("x.csv") is None and "extract the four VOIs first" in panel.status.text()


@pytest.mark.gui
def test_fused_layer_in_a_real_viewer_screenshot(make_napari_viewer, qtbot, study, tmp_path):
    from radgui.gui.petct_dock import PetCtDock

    viewer = make_napari_viewer(show=True)
    dock = PetCtDock(viewer)
    viewer.window.add_dock_widget(dock, name="PET/CT", area="right")
    dock.load_folder(study, blocking=True)
    panel = dock.fusion_panel
    panel.show_fused()
    for ly in list(viewer.layers):
        ly.visible = ly is panel.fusion_layer
    panel.fusion_layer.contrast_limits = (0.15, 0.25)  # the phantom: background ~0.15-0.2, sphere ~0.25
    viewer.reset_view()
    viewer.dims.set_point(0, 20.0)  # through the hot sphere
    shot = np.asarray(viewer.screenshot(str(tmp_path / "fused.png"), canvas_only=True, flash=False))[..., :3]
    bright = shot.astype(int).sum(axis=-1)
    assert (bright > 500).sum() > 50, "the bright fused sphere is not visible"
    assert ((bright > 30) & (bright < 300)).sum() > 50, "the darker fused background is not visible"
    assert dock.grab().save(str(tmp_path / "petct_dock_fusion.png"))  # docs/images/petct_fusion.png
