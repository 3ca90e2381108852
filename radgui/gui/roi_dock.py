"""The ROI dock: paint, grow from a click, rings and core, edit, measure, undo.

Every button calls a :mod:`radgui.roi` engine function or the Qt-free
:class:`radgui.roi.RoiSession` (seeds, preview, ring-set undo groups); this
module only turns clicks into calls and writes results into napari Labels
layers (:func:`radgui.gui.layers.write_mask`: ONE undo item per operation,
storing only the changed voxels). Widgets: :mod:`radgui.gui.roi_controls`.

* A ring set (rings, core, unions) is undone/redone as a whole by Ctrl+Z /
  Ctrl+Shift+Z on any of its layers; emptied layers stay for redo. It runs in
  a worker (:func:`radgui.roi.iter_ring_set`): Cancel stops it at its next
  step and nothing is written.
* Ctrl+click on the image grows from that seed with a live preview
  (Ctrl+Shift+click adds a seed; the Seed tool makes plain clicks seeds);
  Apply (Enter) writes it to the selected ROI, Cancel (Esc) drops it.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QApplication, QWidget

from radgui import roi as engine
from radgui.errors import RadguiError
from radgui.gui._qt import TaskRunner, error_text, is_alive
from radgui.gui.layers import add_roi, current_volume, history_depth, image_layers, roi_layers, write_mask
from radgui.gui.roi_controls import (
    GROW_MODES,
    MEASURE_COLUMNS,
    PREVIEW_NAME,
    RoiControls,
    _preview_colormap,
    fill_measure_table,
    preview_status,
    table_tsv,
    thickness_html,
    voi_colormap,
)

__all__ = ["GROW_MODES", "MEASURE_COLUMNS", "PREVIEW_NAME", "RoiDock", "write_mask"]


class RoiDock(RoiControls, QWidget):
    """ROI list, 3D brush, grow with preview, rings/core, edits, measurements."""

    def __init__(self, napari_viewer):
        # napari hands the viewer only to a parameter named ``napari_viewer``.
        super().__init__()
        viewer = napari_viewer
        self.viewer = viewer
        self.session = engine.RoiSession()
        self._bound: set[int] = set()
        self._measure_cache: dict[int, dict] = {}
        self._dirty: set[int] = set()
        self.measurements: dict[str, dict] = {}
        self._target_name: str | None = None
        self._ring_target = None  # (parent layer, volume) of the ring set in the worker
        self._build_controls()
        self.runner = TaskRunner(self.rings_btn, self.cancel_btn, self.progress,
                                 on_result=self._on_ring_set, on_failure=self.notify_error)
        self.measure_runner = TaskRunner(None, None, None, on_result=self._on_measured,
                                         on_failure=self.notify_error)

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(40)
        self._preview_timer.timeout.connect(self.update_preview)
        self._measure_timer = QTimer(self)
        self._measure_timer.setSingleShot(True)
        self._measure_timer.setInterval(300)
        self._measure_timer.timeout.connect(self.refresh_measurements)

        viewer.mouse_drag_callbacks.append(self._on_mouse_press)
        viewer.layers.events.inserted.connect(self._on_layers_changed)
        viewer.layers.events.removed.connect(self._on_layers_changed)
        viewer.layers.selection.events.active.connect(self._on_active_changed)
        self._on_layers_changed()

    @property
    def busy(self) -> bool:
        """True while a ring set or a measurement runs in a worker."""
        return self.runner.busy or self.measure_runner.busy

    @property
    def last_preview_ms(self) -> float | None:
        """Milliseconds the latest grow preview took."""
        return self.session.last_preview_ms

    # ------------------------------------------------------------ helpers
    def notify_error(self, exc: Exception) -> None:
        from napari.utils.notifications import show_error

        show_error(error_text(exc))

    def _volume_layer(self, volume):
        for ly in image_layers(self.viewer):
            if ly.metadata.get("volume") is volume:
                return ly
        return None

    def target_layer(self):
        """The ROI the tools act on: the one selected in the list (else the active ROI layer)."""
        rois = roi_layers(self.viewer)
        if self._target_name in rois:
            return rois[self._target_name]
        active = self.viewer.layers.selection.active
        if active is not None and active.metadata.get("roi"):
            return active
        return None

    def _select_target(self, layer) -> None:
        self._target_name = layer.name if layer is not None else None
        for i in range(self.roi_list.count()):
            item = self.roi_list.item(i)
            if item.data(Qt.UserRole) == self._target_name:
                self.roi_list.blockSignals(True)
                self.roi_list.setCurrentItem(item)
                self.roi_list.blockSignals(False)

    def _on_layers_changed(self, event=None) -> None:
        if not is_alive(self.roi_list):  # layer events still arrive while the window closes
            return
        rois = roi_layers(self.viewer)
        self._fill_roi_list({n: ly.metadata.get("parent") for n, ly in rois.items()}, self._target_name)
        for ly in rois.values():
            if id(ly) not in self._bound:
                self._bound.add(id(ly))
                ly.events.paint.connect(lambda e, ly=ly: self._mark_dirty(ly))
                ly.events.data.connect(lambda e, ly=ly: self._mark_dirty(ly))
                ly.events.name.connect(self._on_layers_changed)
                self._bind_group_keys(ly)
            self._mark_dirty(ly)
        if self._preview_layer() is None and self.session.result is not None and event is not None:
            self.session.result = None  # the user deleted the preview layer

    def _on_list_selected(self, current, previous=None) -> None:
        if current is None:
            return
        self._target_name = current.data(Qt.UserRole)
        layer = roi_layers(self.viewer).get(self._target_name)
        if layer is not None:
            self.viewer.layers.selection.active = layer

    def _on_active_changed(self, event=None) -> None:
        active = self.viewer.layers.selection.active
        if active is not None and active.metadata.get("roi"):
            self._select_target(active)
            if self.brush_btn.isChecked():
                self._apply_brush(active)

    # --------------------------------------------------------------- ROIs
    def new_roi(self):
        """Add an empty ROI layer (``tumour``, ``tumour2``, ...) on the current image."""
        volume = current_volume(self.viewer)
        if volume is None:
            self.notify_error(RadguiError("open an image first"))
            return None
        names = set(ly.name for ly in self.viewer.layers)
        name, k = "tumour", 1
        while name in names:
            k += 1
            name = f"tumour{k}"
        layer = add_roi(self.viewer, np.zeros(volume.shape, np.uint8), volume, name=name)
        self._select_target(layer)
        return layer

    # --------------------------------------------------------------- grow
    def _on_mouse_press(self, viewer, event):
        if event.type != "mouse_press" or event.button != 1:
            return
        mods = set(getattr(event, "modifiers", ()) or ())
        if "Control" not in mods and not self.seed_btn.isChecked():
            return
        active = viewer.layers.selection.active
        if active is not None and getattr(active, "mode", None) in ("paint", "erase", "fill", "polygon"):
            # Keep the click from painting: napari runs the active layer's callbacks after the
            # viewer's, so hand them to the image for this click and restore afterwards.
            img = self._volume_layer(current_volume(viewer))
            if img is not None:
                viewer.layers.selection.active = img
                QTimer.singleShot(0, lambda: setattr(viewer.layers.selection, "active", active))
        self.add_seed_world(event.position, add="Shift" in mods)

    def add_seed_world(self, position, add: bool = False) -> None:
        """Drop a seed at a world position (mm, napari world order) and update the preview."""
        volume = current_volume(self.viewer)
        layer = self._volume_layer(volume)
        if layer is None:
            return
        try:
            self.session.add_seed(layer.world_to_data(position), volume.shape, volume, add=add)
        except RadguiError as exc:
            self.grow_status.setText(str(exc))
            return
        self.update_preview()

    def _schedule_preview(self, *_):
        if self.session.seeds:
            self._preview_timer.start()

    def _preview_layer(self):
        for ly in self.viewer.layers:
            if ly.metadata.get("preview"):
                return ly
        return None

    def update_preview(self) -> None:
        """Recompute the grown region (cropped, synchronous: tens of ms) and show it."""
        volume = self.session.image_key
        if not self.session.seeds or volume is None:
            return
        try:
            res = self.session.preview(volume.array, volume.spacing, **self.grow_params())
        except RadguiError as exc:
            self.grow_status.setText(str(exc))
            return
        data = res.mask.astype(np.uint8)
        translate = tuple(volume.index_to_physical(res.offset))  # the crop box's corner, LPS mm
        layer = self._preview_layer()
        if layer is None:
            active = self.viewer.layers.selection.active
            kw = dict(volume.napari_kwargs(), translate=translate)  # the image's scale/units, at the crop box
            layer = self.viewer.add_labels(data, name=PREVIEW_NAME, opacity=0.6, metadata={"preview": True},
                                           **kw)
            layer.colormap = _preview_colormap()
            if active is not None:
                self.viewer.layers.selection.active = active
        else:
            layer.translate = translate
            layer.data = data
        self.grow_status.setText(preview_status(self.session, volume))

    def apply_grow(self) -> None:
        """Add the preview to the selected ROI (a new ``tumour`` when there is none): one undo step."""
        res = self.session.result
        if res is None or not res.mask.any():
            self.grow_status.setText("Nothing to apply: Ctrl+click inside a lesion first.")
            return
        layer = self.target_layer()
        if layer is None or layer.metadata.get("volume") is not self.session.image_key:
            layer = self.new_roi()
            if layer is None:
                return
        write_mask(layer, self.session.apply_to(layer.data))
        self.cancel_grow()
        self._select_target(layer)
        self.grow_status.setText(f"Applied to '{layer.name}'. Ctrl+Z on it undoes.")

    def cancel_grow(self) -> None:
        """Drop the preview and the seeds."""
        self.session.clear()
        layer = self._preview_layer()
        if layer is not None:
            self.viewer.layers.remove(layer)
        self.grow_status.setText("Ctrl+click inside a lesion to start.")

    def keyPressEvent(self, event):  # noqa: N802 - Qt API
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and self.session.result is not None:
            self.apply_grow()
        elif event.key() == Qt.Key_Escape and self.session.seeds:
            self.cancel_grow()
        else:
            super().keyPressEvent(event)

    # -------------------------------------------------------------- rings
    def make_rings(self) -> None:
        """Compute the ring set of the selected tumour in a worker, then write it as one undo group."""
        parent = self.target_layer()
        if parent is not None and parent.metadata.get("parent"):
            parent = roi_layers(self.viewer).get(parent.metadata["parent"], parent)
        if parent is None:
            self.notify_error(RadguiError("select a tumour ROI first (ROI list)"))
            return
        if self.runner.busy:
            self.notify_error(RadguiError("another ROI computation is running; wait or cancel it"))
            return
        try:
            distances = self.ring_distances()
        except RadguiError as exc:
            self.notify_error(exc)
            return
        volume = parent.metadata["volume"]
        kwargs = self.ring_params(volume.array, self.session.body_mask_for(volume.array))
        self._ring_target = (parent, volume)
        self.runner.start(engine.iter_ring_set, np.asarray(parent.data) > 0, volume.spacing, distances, **kwargs)

    def cancel_work(self) -> None:
        """Cancel the running computation at its next step; nothing is written."""
        self.runner.cancel()

    def _on_ring_set(self, ring_set) -> None:
        parent, volume = self._ring_target
        self.session.keep_body_mask(volume.array, ring_set.body)
        existing = roi_layers(self.viewer)
        ring_names = [n for n in ring_set.vois if n.startswith("ring")]  # increasing distance
        layers, changed = [], []
        active = self.viewer.layers.selection.active
        for name, arr in ring_set.vois.items():
            lname = engine.derived_name(parent.name, name)
            layer = existing.get(lname)
            if layer is None or layer.metadata.get("volume") is not volume:
                layer = add_roi(self.viewer, np.zeros(volume.shape, np.uint8), volume, name=lname,
                                parent=parent.name, colormap=voi_colormap(name, ring_names))
                if name.startswith("tumour+"):
                    layer.visible = False  # unions overlap everything: shown on demand
            if write_mask(layer, arr):
                changed.append(layer)
            layers.append(layer)
        self.session.record_group(changed, parent.name, history_depth)  # only the layers this run wrote
        for ly in layers:
            self._bind_group_keys(ly)
        if layers:
            self.viewer.layers.selection.active = layers[0]
        elif active is not None:
            self.viewer.layers.selection.active = active
        self.thickness.setText(thickness_html(
            [(engine.derived_name(parent.name, n), th) for n, th in ring_set.thickness.items()]))

    def _bind_group_keys(self, layer) -> None:
        from app_model.types import KeyCode, KeyMod

        layer.bind_key(KeyMod.CtrlCmd | KeyCode.KeyZ, lambda ly: self.undo(ly), overwrite=True)
        layer.bind_key(KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ, lambda ly: self.redo(ly), overwrite=True)

    def undo(self, layer=None) -> None:
        """Undo on ``layer`` (default: the active one).

        On a derived layer (ring, core, union) the latest ring set of its
        tumour is undone as a whole, provided nothing was written on its
        layers since; otherwise the layer's own last step is undone.
        """
        self._undo_or_redo(layer, "undo")

    def redo(self, layer=None) -> None:
        """Redo on ``layer``; the ring set undone last is redone as a whole."""
        self._undo_or_redo(layer, "redo")

    def _undo_or_redo(self, layer, which: str) -> None:
        layer = layer or self.viewer.layers.selection.active
        if layer is None:
            return
        for ly in self.session.members():
            self._dirty.add(id(ly))
        self._mark_dirty(layer)
        step = getattr(self.session, which)
        if not step(layer, layer.metadata.get("parent"), history_depth, lambda ly: getattr(ly, which)()):
            if hasattr(layer, which):
                getattr(layer, which)()

    # --------------------------------------------------------------- edit
    def edit(self, op: str) -> None:
        """Apply an editing operation (:func:`radgui.roi.apply_edit`) to the selected ROI as one undo step."""
        layer = self.target_layer()
        if layer is None:
            self.notify_error(RadguiError("select a ROI first (ROI list)"))
            return
        other = roi_layers(self.viewer).get(self.op_other.currentText()) if op == "logical" else None
        try:
            new = engine.apply_edit(op, layer.data, layer.metadata["volume"].spacing,
                                    other=None if other is None else other.data, **self.edit_params())
        except RadguiError as exc:
            self.notify_error(exc)
            return
        n = write_mask(layer, new)
        self.grow_status.setText(f"{op}: {n} voxels changed in '{layer.name}' (Ctrl+Z undoes)")

    # ------------------------------------------------------------ measure
    def _mark_dirty(self, layer) -> None:
        self._dirty.add(id(layer))
        self._measure_timer.start()

    def refresh_measurements(self, sync: bool = False) -> None:
        """Re-measure the ROIs that changed (in a worker thread unless ``sync``) and redraw the table."""
        todo = {id(ly): (ly.data, ly.metadata["volume"]) for ly in roi_layers(self.viewer).values()
                if id(ly) in self._dirty or id(ly) not in self._measure_cache}
        if not todo:
            self._fill_table()
            return
        if self.measure_runner.busy and not sync:
            self._measure_timer.start()  # try again when the running one is done
            return
        self._dirty.difference_update(todo)
        if sync:
            from radgui.progress import run

            self._on_measured(run(engine.iter_measure_many(todo)))
        else:
            self.measure_runner.start(engine.iter_measure_many, todo)

    def _on_measured(self, result: dict) -> None:
        self._measure_cache.update(result)
        self._fill_table()

    def _fill_table(self) -> None:
        if not is_alive(self.table):  # a measurement worker finished after the window closed
            return
        rows = [(name, self._measure_cache.get(id(ly), {})) for name, ly in roi_layers(self.viewer).items()]
        fill_measure_table(self.table, rows)
        self.measurements = dict(rows)

    def copy_table(self) -> None:
        """Copy the measurement table to the clipboard as TSV."""
        QApplication.clipboard().setText(table_tsv(self.table))
