"""The ROI dock's preview sits where the grown voxels are (geometry from radgui.io, not the dock)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")


def test_preview_layer_is_placed_on_the_crop_box_of_an_offset_image(qtbot):
    from napari.components import ViewerModel

    from radgui.gui.layers import add_volume
    from radgui.gui.roi_dock import PREVIEW_NAME, RoiDock
    from radgui.io import volume_from_array

    arr = np.full((16, 80, 80), -800.0, np.float32)
    arr[6:10, 40:50, 38:48] = 40.0
    vol = volume_from_array(arr, (2.5, 0.7, 0.8), origin=(-40.0, 12.5, -100.0), modality="CT", name="ct")
    viewer = ViewerModel()
    dock = RoiDock(viewer)
    qtbot.addWidget(dock)
    image = add_volume(viewer, vol)
    dock.radius.setValue(12)
    dock.opening.setValue(0)
    dock.add_seed_world(image.data_to_world((8, 45, 42)))
    res = dock.session.result
    assert res is not None and res.voxel_count == 4 * 10 * 10
    assert np.all(res.offset > 0)  # the work is cropped: the box does not start at the image corner
    preview = viewer.layers[PREVIEW_NAME]
    assert not preview.metadata.get("roi")
    # the preview's first voxel is the image's voxel at the crop box's corner, in world mm
    assert np.allclose(preview.data_to_world((0, 0, 0)), image.data_to_world(res.offset))
    assert np.allclose(preview.scale, image.scale)
    assert "400 voxels" in dock.grow_status.text() and "0.56 mL" in dock.grow_status.text()
    dock.apply_grow()
    assert (np.asarray(viewer.layers["tumour"].data) > 0).sum() == 400
    qtbot.waitUntil(lambda: not dock.busy and not dock._measure_timer.isActive(), timeout=10000)
