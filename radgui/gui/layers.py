"""How radgui's data sit in napari layers (the GUI-side contract).

* An image layer made by :func:`add_volume` keeps its :class:`~radgui.io.Volume`
  in ``layer.metadata["volume"]``; scale/translate come from the Volume (the
  only geometry conversion is in :mod:`radgui.io`).
* A ROI is a Labels layer made by :func:`add_roi`, with
  ``layer.metadata["roi"] = True`` and ``layer.metadata["volume"]`` naming the
  image it was drawn on; its voxels > 0 are the ROI. Derived VOIs (rings,
  core, unions) are ROI layers too, named ``ring3mm``, ``core2mm``,
  ``tumour+ring3mm``, ... and carry ``metadata["parent"]``.

Docks find data through :func:`current_volume` and :func:`roi_layers`, never
through private state, so a script can set up a viewer the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk

from radgui.io import Volume

if TYPE_CHECKING:  # pragma: no cover
    import napari

#: Window/level presets: name -> (level, width). Keys are shortcuts (see view dock).
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (40.0, 400.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}
#: PET is windowed in SUV.
PET_SUV_LIMITS = (0.0, 10.0)


def window_to_limits(level: float, width: float) -> tuple[float, float]:
    """Contrast limits (min, max) of a window given by level and width."""
    return level - width / 2.0, level + width / 2.0


def default_limits(volume: Volume) -> tuple[float, float]:
    """Contrast limits a radiologist expects first for this modality."""
    if volume.modality == "CT":
        return window_to_limits(*WINDOW_PRESETS["mediastinum"])
    if volume.modality == "PT":
        return PET_SUV_LIMITS
    arr = volume.array
    lo, hi = np.percentile(arr[:: max(1, arr.shape[0] // 8)], [0.5, 99.5])
    return float(lo), float(hi) if hi > lo else float(lo) + 1.0


def add_volume(viewer: napari.Viewer, volume: Volume, **kwargs):
    """Add a Volume as an image layer with correct physical geometry."""
    opts = dict(
        name=volume.name,
        colormap="gray",
        contrast_limits=default_limits(volume),
        metadata={"volume": volume},
        interpolation2d="linear" if volume.modality == "PT" else "nearest",
    )
    opts.update(volume.napari_kwargs())
    opts.update(kwargs)
    return viewer.add_image(np.asarray(volume.array), **opts)


def add_roi(viewer: napari.Viewer, mask, volume: Volume, name: str = "tumour",
            parent: str | None = None, **kwargs):
    """Add a ROI Labels layer on ``volume``'s grid.

    ``mask`` is a (z, y, x) array or a SimpleITK label image on the volume's
    grid. The array is copied (as uint8) so the caller's data are untouched.
    """
    if isinstance(mask, sitk.Image):
        mask = sitk.GetArrayFromImage(mask)
    data = np.asarray(mask).astype(np.uint8, copy=True)
    if data.shape != volume.shape:
        from radgui.errors import GeometryMismatchError

        raise GeometryMismatchError(
            f"ROI '{name}' has shape {data.shape} but the image is {volume.shape} (z,y,x)")
    meta = {"roi": True, "volume": volume}
    if parent:
        meta["parent"] = parent
    opts = dict(name=name, metadata=meta, opacity=0.5)
    opts.update(volume.napari_kwargs())
    opts.update(kwargs)
    return viewer.add_labels(data, **opts)


def image_layers(viewer: napari.Viewer) -> list:
    """Image layers that hold a radgui Volume, in layer order."""
    return [ly for ly in viewer.layers if isinstance(ly.metadata.get("volume"), Volume)
            and not ly.metadata.get("roi")]


def current_image_layer(viewer: napari.Viewer):
    """The selected image layer holding a Volume, else the top-most one (None if there is none)."""
    layers = image_layers(viewer)
    if not layers:
        return None
    active = viewer.layers.selection.active
    return active if active in layers else layers[-1]


def current_volume(viewer: napari.Viewer) -> Volume | None:
    """The Volume of the selected image layer, else of the top-most one."""
    layer = current_image_layer(viewer)
    return None if layer is None else layer.metadata["volume"]


def roi_layers(viewer: napari.Viewer, volume: Volume | None = None) -> dict:
    """ROI Labels layers by name, optionally only those drawn on ``volume``."""
    out = {}
    for ly in viewer.layers:
        if ly.metadata.get("roi") and (volume is None or ly.metadata.get("volume") is volume):
            out[ly.name] = ly
    return out


def write_mask(layer, mask, label: int = 1) -> int:
    """Make ROI ``layer`` equal to ``mask`` as ONE undo step storing only the changed voxels.

    The changed voxels come from :func:`radgui.roi.mask_change`. Returns
    their number (0: nothing written, no history item).
    """
    from radgui.roi import mask_change

    change = mask_change(layer.data, mask, label)
    if not change.count:
        return 0
    # napari does not slice hidden layers, and data_setitem updates the current slice's view:
    # show the layer for the write, then hide it again.
    hidden = not layer.visible
    if hidden:
        layer.visible = True
    try:
        with layer.block_history():
            layer.data_setitem(change.indices, change.values)
    finally:
        if hidden:
            layer.visible = False
    return change.count


def history_depth(layer, which: str) -> int:
    """Length of a Labels layer's ``"undo"`` or ``"redo"`` history.

    napari keeps Labels history in private deques and has no public API to
    read their length (napari 0.9.2); it is the only way to know whether the
    latest item is ours (ring-set undo, :class:`radgui.roi.RoiSession`).
    """
    return len(getattr(layer, f"_{which}_history", ()))
