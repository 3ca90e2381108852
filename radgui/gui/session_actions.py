"""File menu: Save ROI(s), Save session, Open session; autosave, crash recovery, unsaved-changes prompt.

:class:`SessionActions` turns the viewer's layers into a
:class:`radgui.session.Session` (images by reference, ROI Labels layers as
label maps, ring parameters, the Predict dock's clinical inputs, chosen model
and last prediction, the view) and back; the engine (:mod:`radgui.session`)
does every read and write. Edits of ROI layers (paint, fill, data changes,
layers added or removed) mark the work unsaved and due for autosave; a
``QTimer`` calls :meth:`radgui.session.Autosaver.maybe_save` every few
seconds, so an edit is on disk at most 30 s (plus one tick) later. On start
:meth:`SessionActions.offer_recovery` asks "Restore / Discard / Later" for
each recovery file a crash left. Closing the window with unsaved changes asks
"Save / Discard / Cancel".

Predict dock attributes read and written here (its public API today):
``fields``, ``clinical_values()``, ``set_clinical()``, ``model_combo``,
``prediction`` (``Prediction.to_dict()``), ``form_box``; ROI dock ring
widgets: ``distances``, ``ring_mode``, ``core_depth``, ``unions``, ``hu_lo``, ``hu_hi``.
"""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtWidgets import QAction, QFileDialog, QMessageBox

from radgui.errors import RadguiError
from radgui.gui._qt import error_text, is_alive

#: How often the autosave timer looks for pending edits (ms).
TICK_MS = 5000

_ACTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def actions_for(viewer) -> SessionActions | None:
    """The :class:`SessionActions` installed on ``viewer`` by :func:`radgui.gui.app.create_viewer`."""
    return _ACTIONS.get(viewer)


def choose(parent, title: str, text: str, buttons: list[str], default: str | None = None) -> str | None:
    """A modal question with named buttons; returns the text of the button clicked (None: closed)."""
    box = QMessageBox(parent)
    box.setWindowTitle(title)
    box.setText(text)
    made = {}
    for name in buttons:
        role = QMessageBox.RejectRole if name in ("Cancel", "Later") else QMessageBox.AcceptRole
        made[name] = box.addButton(name, role)
    if default in made:
        box.setDefaultButton(made[default])
    box.exec()
    clicked = box.clickedButton()
    return next((k for k, b in made.items() if b is clicked), None)


def _notify(text: str, error: bool = False) -> None:
    from napari.utils.notifications import show_error, show_info

    (show_error if error else show_info)(text)


class SessionActions(QObject):
    """The File-menu session actions, autosave and recovery of one radgui window.

    Parameters
    ----------
    viewer : napari.Viewer
    docks : dict of str to QWidget
        The window's docks (the ROI and Predict docks are read and restored).
    recovery_folder : path, optional
        Default ``RADGUI_RECOVERY_DIR`` or the user data folder (:func:`radgui.session.recovery_dir`).
    interval_s : float
        Longest an edit stays un-autosaved (30 s).
    """

    def __init__(self, viewer, docks: dict, recovery_folder=None, interval_s: float | None = None,
                 tick_ms: int = TICK_MS):
        super().__init__()
        from radgui.session import AUTOSAVE_INTERVAL_S, Autosaver

        self.viewer = viewer
        self.docks = docks
        self.path: Path | None = None
        self.dirty = False
        self.locked = False  # blinded reader session: no Open session (it could hold others' work)
        self.prompt_on_any_close = False  # tests: prompt on programmatic closes too
        self._autosave_due = False
        self._kept_rois: dict = {}  # ROIs of images not found on reopening: kept in the next save
        self._restored_prediction = None
        self._snapshot = None
        self._loading = False
        self.autosaver = Autosaver(self._current_snapshot, folder=recovery_folder,
                                   interval_s=interval_s or AUTOSAVE_INTERVAL_S)
        self.timer = QTimer(self)
        self.timer.setInterval(int(tick_ms))
        self.timer.timeout.connect(self.autosave_tick)
        self.timer.start()
        self._build_menu()
        viewer.layers.events.inserted.connect(self._on_inserted)
        viewer.layers.events.removed.connect(lambda e: self.mark_changed())
        for layer in viewer.layers:
            self._watch(layer)
        window = self._main_window()
        if window is not None:
            window.installEventFilter(self)
        _ACTIONS[viewer] = self

    # -- window, menu ------------------------------------------------------
    def _main_window(self):
        return getattr(self.viewer.window, "_qt_window", None)

    def _build_menu(self) -> None:
        menu = getattr(self.viewer.window, "file_menu", None)
        self.save_rois_action = QAction("Save ROI(s)\N{HORIZONTAL ELLIPSIS}", self)
        self.save_rois_action.setStatusTip("Save the ROIs as NRRD/NIfTI label maps (or DICOM-SEG) with the "
                                           "image's geometry")
        self.save_rois_action.triggered.connect(lambda: self.save_rois_dialog())
        self.save_session_action = QAction("Save session\N{HORIZONTAL ELLIPSIS}", self)
        self.save_session_action.setStatusTip("Save images (by reference), ROIs, rings, clinical inputs, model and "
                                              "prediction to a .radgui file")
        self.save_session_action.triggered.connect(lambda: self.save_session_dialog())
        self.open_session_action = QAction("Open session\N{HORIZONTAL ELLIPSIS}", self)
        self.open_session_action.triggered.connect(lambda: self.open_session_dialog())
        self.menu_actions = [self.save_rois_action, self.save_session_action, self.open_session_action]
        if menu is not None:
            menu.addSeparator()
            for a in self.menu_actions:
                menu.addAction(a)

    # -- change tracking -----------------------------------------------------
    def _on_inserted(self, event) -> None:
        self._watch(event.value)
        self.mark_changed()

    def _watch(self, layer) -> None:
        if not layer.metadata.get("roi"):
            return
        for name in ("data", "paint", "labels_update"):
            ev = getattr(layer.events, name, None)
            if ev is not None:
                ev.connect(lambda e: self.mark_changed())

    def mark_changed(self) -> None:
        """An edit: the work is unsaved and due for autosave."""
        if self._loading:
            return
        self.dirty = True
        self._autosave_due = True
        self.autosaver.mark_dirty()

    def mark_clean(self) -> None:
        """The work is stored elsewhere (saved, or a reader study saved it): nothing to prompt or autosave."""
        self.dirty = False
        self._autosave_due = False

    def _current_snapshot(self):
        if self._snapshot is None:
            self._snapshot = self.build_session()
        return self._snapshot

    def autosave_tick(self) -> bool:
        """Timer slot: autosave when an edit is pending and 30 s passed since the last autosave."""
        if not self._autosave_due:
            return False
        self._snapshot = None
        try:
            wrote = self.autosaver.maybe_save()
        except RadguiError as exc:
            _notify(f"autosave failed: {error_text(exc)}", error=True)
            return False
        finally:
            self._snapshot = None
        if wrote:
            self._autosave_due = False
        return wrote

    # -- layers -> Session ---------------------------------------------------
    def build_session(self):
        """The window's work as a :class:`radgui.session.Session`."""
        from radgui.gui.layers import image_layers, roi_layers
        from radgui.session import Session

        s = Session()
        keys = {}
        for layer in image_layers(self.viewer):
            vol = layer.metadata["volume"]
            s.add_image(layer.name, vol)
            keys[id(vol)] = layer.name
        for name, layer in roi_layers(self.viewer).items():
            vol = layer.metadata.get("volume")
            if id(vol) not in keys:
                continue
            data = np.asarray(layer.data)
            s.set_roi(name, data, like=vol, image=keys[id(vol)], label=1)
        for name, roi in self._kept_rois.items():
            if name not in s.rois:
                s.rois[name] = roi
        fields = {"rings": self._rings(), "view": self._view(), "panels": self._panels()}
        predict = self.docks.get("Predict")
        if predict is not None:
            fields["clinical"] = dict(predict.clinical_values()) if getattr(predict, "fields", None) else {}
            fields["model"] = {"name": predict.model_combo.currentText()} if predict.model_combo.count() else None
            pred = getattr(predict, "prediction", None)
            fields["prediction"] = pred.to_dict() if pred is not None else self._restored_prediction
        s.update(**fields)
        s.path = self.path
        return s

    def _rings(self) -> dict:
        roi = self.docks.get("ROI")
        if roi is None:
            return {}
        return {"distances": roi.distances.text(), "mode": roi.ring_mode.currentText(),
                "core_depth_mm": roi.core_depth.value(), "unions": roi.unions.isChecked(),
                "hu_range": [roi.hu_lo.value(), roi.hu_hi.value()]}

    def _camera(self):
        scene = getattr(self.viewer, "scene", None)  # napari >= 0.9
        return scene.camera if scene is not None else self.viewer.camera

    def _view(self) -> dict:
        camera = self._camera()
        return {"ndisplay": int(self.viewer.dims.ndisplay), "point": [float(v) for v in self.viewer.dims.point],
                "center": [float(v) for v in camera.center], "zoom": float(camera.zoom)}

    def _panels(self) -> dict:
        predict = self.docks.get("Predict")
        out = {}
        if predict is not None and hasattr(predict, "time_spin"):
            out["predict_time"] = predict.time_spin.value()
        return out

    # -- Session -> layers ----------------------------------------------------
    def restore(self, session) -> None:
        """Replace the window's layers with the session's: same images, same ROI arrays, view and panels."""
        from radgui.gui.layers import add_roi, add_volume
        from radgui.io import load_volume

        self._loading = True
        try:
            self.viewer.layers.clear()
            volumes = {}
            for key, ref in session.images.items():
                if key in session.missing_images:
                    continue
                kwargs = {"series_uid": ref.series_uid} if ref.series_uid and Path(ref.path).is_dir() else {}
                try:
                    vol = load_volume(ref.path, **kwargs)
                    for warning in session.check_image(key, vol):
                        _notify(warning)
                except RadguiError as exc:
                    _notify(f"image {key!r} not opened: {error_text(exc)}", error=True)
                    session.missing_images.append(key)
                    continue
                add_volume(self.viewer, vol, name=key)
                volumes[key] = vol
            self._kept_rois = {}
            for name, roi in session.rois.items():
                vol = volumes.get(roi.image)
                if vol is None:
                    self._kept_rois[name] = roi
                    continue
                add_roi(self.viewer, roi.array, vol, name=name)
            if self._kept_rois:
                _notify(f"ROIs {', '.join(self._kept_rois)} are kept but not shown: their image was not found")
            self._restore_fields(session)
        finally:
            self._loading = False

    def _restore_fields(self, session) -> None:
        """Rings, Predict inputs and view from the session; a malformed value (the file is
        untrusted) is skipped with one message, never an exception."""
        for what, restore in (("ring settings", self._restore_rings), ("Predict inputs", self._restore_predict),
                              ("view", self._restore_view)):
            try:
                restore(session)
            except (TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
                _notify(f"the session's {what} were not restored (malformed: {exc})")

    def _restore_rings(self, session) -> None:
        roi = self.docks.get("ROI")
        rings = session.rings or {}
        if roi is None or not rings:
            return
        if not isinstance(rings, dict):
            raise TypeError("not a mapping")
        roi.distances.setText(str(rings.get("distances", roi.distances.text()))[:200])
        i = roi.ring_mode.findText(str(rings.get("mode", "")))
        if i >= 0:
            roi.ring_mode.setCurrentIndex(i)
        roi.core_depth.setValue(float(rings.get("core_depth_mm", roi.core_depth.value())))
        roi.unions.setChecked(bool(rings.get("unions", roi.unions.isChecked())))
        lo, hi = (rings.get("hu_range") or [roi.hu_lo.value(), roi.hu_hi.value()])[:2]
        roi.hu_lo.setValue(float(lo))
        roi.hu_hi.setValue(float(hi))

    def _restore_predict(self, session) -> None:
        predict = self.docks.get("Predict")
        self._restored_prediction = session.prediction
        if predict is None:
            return
        name = (session.model or {}).get("name")
        if name:
            i = predict.model_combo.findText(str(name))
            if i >= 0:
                predict.model_combo.setCurrentIndex(i)
        if session.clinical:
            if not isinstance(session.clinical, dict):
                raise TypeError("clinical inputs are not a mapping")
            predict.set_clinical({str(k): (v if isinstance(v, (str, int, float)) or v is None else str(v))
                                  for k, v in session.clinical.items()})
        t = (session.panels or {}).get("predict_time")
        if t is not None and hasattr(predict, "time_spin"):
            predict.time_spin.setValue(float(t))
        if session.prediction is not None and predict.bundle is not None:
            # The file is untrusted: its stored numbers are never shown as they are. The prediction is
            # computed again from the restored image, ROIs, clinical inputs and model (the Predict button).
            predict.predict()

    def _restore_view(self, session) -> None:
        view = session.view or {}
        if not isinstance(view, dict):
            raise TypeError("not a mapping")
        if view.get("ndisplay") in (2, 3):
            self.viewer.dims.ndisplay = int(view["ndisplay"])
        point = view.get("point")
        if point and len(point) == self.viewer.dims.ndim:
            self.viewer.dims.point = tuple(float(v) for v in point)
        center = view.get("center")
        if center:
            self._camera().center = tuple(float(v) for v in center)
        zoom = view.get("zoom")
        if zoom:
            zoom = float(zoom)
            if not (np.isfinite(zoom) and zoom > 0):
                raise ValueError(f"zoom {zoom}")
            self._camera().zoom = zoom

    # -- actions ----------------------------------------------------------------
    def save_session(self, path) -> Path:
        """Save the work to ``path`` (``.radgui`` added if missing)."""
        from radgui.session import save_session

        path = Path(path)
        if not path.name.endswith(".radgui"):
            path = path.with_name(path.name + ".radgui")
        save_session(self.build_session(), path)
        self.path = path
        self.mark_clean()
        return path

    def save_session_dialog(self) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self._main_window(), "Save session", str(self.path or ""),
                                              "radgui session (*.radgui)")
        if not path:
            return None
        try:
            out = self.save_session(path)
        except RadguiError as exc:
            _notify(error_text(exc), error=True)
            return None
        _notify(f"session saved to {out}")
        return out

    def _ask_image(self, ref) -> str | None:
        title = f"Locate image {ref.key!r} (was {ref.path})"
        if ref.series_uid:
            path = QFileDialog.getExistingDirectory(self._main_window(), title + ": its DICOM folder")
        else:
            path, _ = QFileDialog.getOpenFileName(self._main_window(), title, "",
                                                  "Images (*.nrrd *.nhdr *.nii *.nii.gz *.mha *.mhd);;All files (*)")
        return path or None

    def open_session(self, path) -> object:
        """Open a ``.radgui`` file into the window (a moved image is asked for with a file dialog)."""
        from radgui.session import open_session

        if self.locked:
            from radgui.errors import SessionError

            raise SessionError("a blinded reader session is open: sign out of the study first")
        session = open_session(path, resolver=self._ask_image)
        self.restore(session)
        self.path = Path(path)
        self.dirty = session.dirty
        self._autosave_due = session.dirty
        return session

    def open_session_dialog(self):
        if not self.confirm_discard("Open session"):
            return None
        path, _ = QFileDialog.getOpenFileName(self._main_window(), "Open session", "", "radgui session (*.radgui)")
        if not path:
            return None
        try:
            return self.open_session(path)
        except RadguiError as exc:
            _notify(error_text(exc), error=True)
            return None

    def roi_masks(self):
        """``({name: array}, volume)`` of the ROIs drawn on the current image."""
        from radgui.gui.layers import current_volume, roi_layers

        vol = current_volume(self.viewer)
        if vol is None:
            return {}, None
        return {n: np.asarray(ly.data) for n, ly in roi_layers(self.viewer, vol).items()}, vol

    def save_rois(self, path, kind: str = "nrrd") -> list[Path]:
        """Save the current image's ROIs.

        ``kind``: ``"nrrd"``/``"nii.gz"`` one file per ROI in ``path``'s folder (named after the ROI),
        ``"multi-nrrd"``/``"multi-nii.gz"`` one multi-label map ``path`` with a names sidecar,
        ``"dicom-seg"`` one DICOM-SEG ``path`` (image loaded from DICOM only).
        """
        from radgui.errors import SessionError
        from radgui.session import export_dicom_seg, export_rois

        masks, vol = self.roi_masks()
        if not masks:
            raise SessionError("no ROI on the current image to save")
        path = Path(path)
        if kind == "dicom-seg":
            from radgui.io import mask_from_array

            return [export_dicom_seg({k: mask_from_array((v > 0).astype(np.uint8), vol.image)
                                      for k, v in masks.items()}, vol, path)]
        suffix = ".nii.gz" if kind.endswith("nii.gz") else ".nrrd"
        if kind.startswith("multi"):
            stem = path.name[: -len(suffix)] if path.name.endswith(suffix) else path.stem
            return export_rois({k: (v > 0).astype(np.uint8) for k, v in masks.items()}, path.parent, like=vol,
                               multilabel=True, suffix=suffix, name=stem or "rois")
        return export_rois(masks, path.parent, like=vol, suffix=suffix)

    FILTERS = {"NRRD label maps, one per ROI (*.nrrd)": "nrrd",
               "NIfTI label maps, one per ROI (*.nii.gz)": "nii.gz",
               "One multi-label NRRD + names sidecar (*.nrrd)": "multi-nrrd",
               "One multi-label NIfTI + names sidecar (*.nii.gz)": "multi-nii.gz",
               "DICOM-SEG (*.dcm)": "dicom-seg"}

    def save_rois_dialog(self) -> list[Path] | None:
        _, vol = self.roi_masks()
        filters = [f for f, k in self.FILTERS.items()
                   if k != "dicom-seg" or (vol is not None and (vol.meta or {}).get("dicom"))]
        path, chosen = QFileDialog.getSaveFileName(self._main_window(), "Save ROI(s)", "", ";;".join(filters))
        if not path:
            return None
        try:
            out = self.save_rois(path, self.FILTERS.get(chosen, "nrrd"))
        except RadguiError as exc:
            _notify(error_text(exc), error=True)
            return None
        _notify("saved " + ", ".join(p.name for p in out))
        return out

    # -- recovery ---------------------------------------------------------------
    def offer_recovery(self) -> int:
        """Ask about each recovery file a crash left: Restore / Discard / Later. Returns how many were restored."""
        from radgui.session import discard, find_recoverable, recover

        restored = 0
        for entry in find_recoverable(self.autosaver.folder):
            if entry.path == self.autosaver.path:
                continue
            if entry.error:
                answer = choose(self._main_window(), "radgui: recovery", f"{entry.describe()}.",
                                ["Discard", "Later"], "Later")
            else:
                answer = choose(self._main_window(), "radgui: unsaved work found",
                                f"Unsaved work from {entry.describe()[len('unsaved work from '):]} was found.",
                                ["Restore", "Discard", "Later"], "Restore")
            if answer == "Discard":
                discard(entry)
            elif answer == "Restore" and restored == 0:
                try:
                    session = recover(entry, resolver=self._ask_image)
                except RadguiError as exc:
                    _notify(f"could not restore: {error_text(exc)}", error=True)
                    continue
                self.restore(session)
                self.path = session.path
                self.mark_changed()
                self.autosaver.flush()  # the restored work is in this session's recovery file now
                self._autosave_due = False
                discard(entry)
                restored += 1
        return restored

    # -- closing ------------------------------------------------------------------
    def confirm_discard(self, what: str = "Close") -> bool:
        """When there are unsaved changes ask Save / Discard / Cancel; True when it is fine to go on."""
        if not self.dirty:
            return True
        answer = choose(self._main_window(), "radgui: unsaved changes",
                        f"The work has unsaved changes. Save them before {what.lower()}?",
                        ["Save", "Discard", "Cancel"], "Save")
        if answer == "Save":
            return self.save_session_dialog() is not None
        return answer == "Discard"

    def eventFilter(self, obj, event):  # noqa: N802 - Qt API
        if event.type() == QEvent.Close and obj is self._main_window():
            if (event.spontaneous() or self.prompt_on_any_close) and not self.confirm_discard("closing"):
                event.ignore()
                return True
            if event.spontaneous():
                # napari may still ask "close window?" and keep it open: shut down once it is really closed
                QTimer.singleShot(0, self._shutdown_if_closed)
            else:
                self.shutdown()
        return False

    def _shutdown_if_closed(self) -> None:
        window = self._main_window()
        if window is None or not is_alive(window) or not window.isVisible():
            self.shutdown()

    def shutdown(self) -> None:
        """Clean close: stop the timer and remove this window's recovery file."""
        if is_alive(self.timer):
            self.timer.stop()
        try:
            self.autosaver.close()
        except RadguiError:
            pass
