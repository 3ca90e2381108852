"""One worker pattern for every dock (issue 14, item 1).

* In a real window (a current viewer), an engine error in the Features,
  PET/CT or ROI dock is reported once, by the dock: it never reaches napari's
  ``errored`` relay (which reports it a second time, and with a current
  viewer raises a stray TypeError in its status-bar slot).
* ROI rings run as the ``iter_ring_set`` generator: Cancel stops the work at
  the next step (the later steps never run) and nothing is written.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("napari")

from radgui.errors import EmptyMaskError  # noqa: E402


def _failing(*args, **kwargs):
    yield from ()
    raise EmptyMaskError("ROI 'tumour' is empty (no voxel > 0)")


def _phantom():
    import SimpleITK as sitk

    from radgui.io import Volume

    arr = np.full((12, 40, 40), -800, np.int16)
    arr[4:8, 12:28, 12:28] = 40
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((1.0, 1.0, 2.0))
    return Volume(img, "CT", {"name": "phantom"})


@pytest.mark.gui
def test_engine_error_is_reported_once_in_a_real_window(make_napari_viewer, qtbot, monkeypatch, tmp_path):
    import napari.utils.notifications as notifications

    import importlib

    extract = importlib.import_module("radgui.features.extract")  # the package's `extract` is a function
    from radgui.gui import features_dock, petct_dock
    from radgui.gui.layers import add_roi, add_volume
    from radgui.gui.roi_dock import RoiDock
    from radgui import roi
    from radgui.io import petct

    relayed, shown = [], []
    monkeypatch.setattr(notifications.notification_manager, "receive_error",
                        lambda *a, **k: relayed.append(a))
    monkeypatch.setattr(notifications, "show_error", shown.append)
    monkeypatch.setattr(features_dock, "_notify_error", shown.append)
    monkeypatch.setattr(extract, "iter_extract", _failing)
    monkeypatch.setattr(petct, "iter_load_petct", _failing)
    monkeypatch.setattr(roi, "iter_ring_set", _failing)

    viewer = make_napari_viewer()
    vol = _phantom()
    add_volume(viewer, vol)
    mask = np.zeros(vol.shape, np.uint8)
    mask[5:7, 15:25, 15:25] = 1
    add_roi(viewer, mask, vol, name="tumour")
    docks = [features_dock.FeaturesDock(viewer), petct_dock.PetCtDock(viewer), RoiDock(viewer)]
    for name, d in zip(("Features", "PET/CT", "ROI"), docks):
        viewer.window.add_dock_widget(d, name=name, area="right")
    feat, pet, roid = docks

    feat.start_extraction()
    qtbot.waitUntil(lambda: not feat.busy, timeout=10000)
    assert shown == ["ROI 'tumour' is empty (no voxel > 0)"]
    pet.load_folder(tmp_path)
    qtbot.waitUntil(lambda: not pet.busy, timeout=10000)
    assert shown[1:] == ["ROI 'tumour' is empty (no voxel > 0)"]
    assert pet.status.text() == "ROI 'tumour' is empty (no voxel > 0)"
    roid._select_target(viewer.layers["tumour"])
    roid.make_rings()
    qtbot.waitUntil(lambda: not roid.runner.busy, timeout=10000)
    qtbot.wait(50)
    assert shown[2:] == ["ROI 'tumour' is empty (no voxel > 0)"]
    assert relayed == []  # napari's errored relay never saw them
    assert feat.extract_button.isEnabled() and pet.load_button.isEnabled() and roid.rings_btn.isEnabled()
    qtbot.waitUntil(lambda: not roid.busy, timeout=10000)


def test_cancel_stops_the_ring_work_and_writes_nothing(qtbot, monkeypatch):
    from napari.components import ViewerModel

    from radgui import roi
    from radgui.gui.layers import add_roi, add_volume
    from radgui.gui.roi_dock import RoiDock

    real = roi.iter_ring_set
    gate, started, steps = threading.Event(), threading.Event(), []

    def gated(*args, **kwargs):
        gen = real(*args, **kwargs)
        for step in gen:
            steps.append(step.message)
            started.set()
            gate.wait(5)
            yield step
        raise AssertionError("the ring work ran to its end after Cancel")

    monkeypatch.setattr(roi, "iter_ring_set", gated)
    viewer = ViewerModel()
    dock = RoiDock(viewer)
    qtbot.addWidget(dock)
    vol = _phantom()
    add_volume(viewer, vol)
    mask = np.zeros(vol.shape, np.uint8)
    mask[5:7, 15:25, 15:25] = 1
    tumour = add_roi(viewer, mask, vol, name="tumour")
    dock._select_target(tumour)
    n_layers = len(viewer.layers)
    dock.make_rings()
    assert dock.runner.busy and dock.cancel_btn.isEnabled() and not dock.rings_btn.isEnabled()
    assert started.wait(5)
    dock.cancel_work()
    gate.set()
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=10000)
    assert len(steps) <= 2  # stopped at the next step, of 1 + 3 + 3 + 1
    assert len(viewer.layers) == n_layers  # nothing written
    assert dock.session.groups == []
    assert dock.rings_btn.isEnabled() and not dock.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: not dock.busy and not dock._measure_timer.isActive(), timeout=10000)


def test_petct_worker_reasks_consent_and_loads_again(qtbot, tmp_path, monkeypatch):
    """The on_failure hook gets the FrameOfReferenceError itself; Yes starts the load again in a worker."""
    from napari.components import ViewerModel

    from dicom_factory import write_ct_series, write_pet_series
    from radgui.gui import petct_dock

    ct = write_ct_series(tmp_path / "CT")
    write_pet_series(tmp_path / "PT", study_uid=ct["study_uid"])  # different FrameOfReferenceUID
    viewer = ViewerModel()
    dock = petct_dock.PetCtDock(viewer)
    qtbot.addWidget(dock)
    asked = []
    monkeypatch.setattr(petct_dock, "ask_consent", lambda msg, parent=None: asked.append(msg) or True)
    first = dock.load_folder(tmp_path)
    assert first is not None
    qtbot.waitUntil(lambda: dock.fused_layer is not None and not dock.busy, timeout=30000)
    assert len(asked) == 1 and "FrameOfReferenceUID" in asked[0]
    assert any("explicit consent" in w for w in dock.fused_layer.metadata["volume"].warnings)
    assert len(viewer.layers) == 3 and dock.load_button.isEnabled() and not dock.cancel_button.isEnabled()
