"""The View dock: opening images, window/level presets, planes, orientation.

Keyboard shortcuts (also in each button's tooltip):

=========  =====================  ==================
key        preset                 window (level/width)
=========  =====================  ==================
F1         lung                   -600 / 1500 HU
F2         mediastinum            40 / 400 HU
F3         bone                   400 / 1800 HU
F4         brain                  40 / 80 HU
F5         PET                    SUV 0-10
=========  =====================  ==================

The status bar shows the voxel value (HU for CT, SUV for PET) and the
physical LPS position in mm under the cursor; orientation letters (A/P/L/R/S/I)
sit at the canvas edges and a mm scale bar is drawn on the canvas.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from radgui import RESEARCH_NOTICE
from radgui.errors import RadguiError
from radgui.gui.layers import PET_SUV_LIMITS, WINDOW_PRESETS, current_image_layer, image_layers, window_to_limits

#: preset name -> (shortcut, contrast limits)
PRESETS: dict[str, tuple[str, tuple[float, float]]] = {
    "lung": ("F1", window_to_limits(*WINDOW_PRESETS["lung"])),
    "mediastinum": ("F2", window_to_limits(*WINDOW_PRESETS["mediastinum"])),
    "bone": ("F3", window_to_limits(*WINDOW_PRESETS["bone"])),
    "brain": ("F4", window_to_limits(*WINDOW_PRESETS["brain"])),
    "pet": ("F5", PET_SUV_LIMITS),
}

#: plane name -> dims.order (world axes are z, y, x) and vertical camera orientation
PLANES = {
    "axial": ((0, 1, 2), "down"),
    "coronal": ((1, 0, 2), "up"),
    "sagittal": ((2, 0, 1), "up"),
}

# Letters of the negative and positive direction of each world axis (z, y, x) in LPS.
_AXIS_LETTERS = {0: ("I", "S"), 1: ("A", "P"), 2: ("R", "L")}


def orientation_letters(displayed: tuple[int, int], vertical: str = "down") -> dict[str, str]:
    """Letters at the top/bottom/left/right canvas edges.

    ``displayed`` are the two world axes shown (vertical, horizontal);
    ``vertical`` is napari's camera orientation of the vertical axis.
    """
    v_neg, v_pos = _AXIS_LETTERS[displayed[0]]
    h_neg, h_pos = _AXIS_LETTERS[displayed[1]]
    top, bottom = (v_neg, v_pos) if vertical == "down" else (v_pos, v_neg)
    return {"top": top, "bottom": bottom, "left": h_neg, "right": h_pos}


def apply_preset(viewer, name: str) -> None:
    """Set the contrast limits of the matching image layer to a preset.

    CT presets apply to the current CT layer, the PET preset to the top-most
    PET layer (fused display) or else the current layer.
    """
    limits = PRESETS[name][1]
    layers = image_layers(viewer)
    if not layers:
        return
    target = None
    if name == "pet":
        pets = [ly for ly in layers if ly.metadata["volume"].modality == "PT"]
        target = pets[-1] if pets else None
    if target is None:
        target = current_image_layer(viewer)
        if name != "pet":
            cts = [ly for ly in layers if ly.metadata["volume"].modality != "PT"]
            if target not in cts and cts:
                target = cts[-1]
    set_limits(target, limits)


def set_limits(layer, limits: tuple[float, float]) -> None:
    """Set an image layer's contrast limits, widening its slider range when they fall outside it."""
    lo, hi = limits
    rng = layer.contrast_limits_range
    layer.contrast_limits_range = (min(rng[0], lo), max(rng[1], hi))
    layer.contrast_limits = (lo, hi)


def _camera(viewer):
    """The viewer's camera (``viewer.scene.camera`` since napari 0.9)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None else viewer.camera


def set_plane(viewer, plane: str) -> None:
    """Show the axial, coronal or sagittal plane, superior up."""
    order, vertical = PLANES[plane]
    viewer.dims.order = order
    camera = _camera(viewer)
    depth, _, horizontal = camera.orientation
    camera.orientation = (depth, vertical, horizontal)
    viewer.reset_view()


def cursor_readout(viewer) -> str:
    """Text for the status bar: value under the cursor and LPS position in mm."""
    layer = current_image_layer(viewer)
    pos = np.asarray(viewer.cursor.position, float)
    if layer is None or pos.size < 3:
        return ""
    volume = layer.metadata["volume"]
    idx = np.round(volume.physical_to_index(pos[-3:])).astype(int)
    unit = {"CT": "HU", "PT": "SUV"}.get(volume.modality, "")
    z, y, x = pos[-3:]
    where = f"x {x:.1f}  y {y:.1f}  z {z:.1f} mm (LPS)"
    if np.any(idx < 0) or np.any(idx >= np.asarray(volume.shape)):
        return f"{where}  |  outside {volume.name}"
    value = volume.array[tuple(idx)]
    shown = f"{value:.0f}" if volume.modality == "CT" else f"{value:.2f}"
    # z,y,x: the order `radgui roi grow --seed Z,Y,X` takes, so a voxel can be copied over as it reads.
    return (f"{volume.name}: {shown} {unit}  |  voxel z,y,x {idx[0]},{idx[1]},{idx[2]} (--seed order)"
            f"  |  {where}")


class _EdgeLabels(QObject):
    """Orientation letters glued to the four edges of the canvas."""

    def __init__(self, canvas: QWidget):
        super().__init__(canvas)
        self._canvas = canvas
        self.labels = {}
        for edge in ("top", "bottom", "left", "right"):
            lab = QLabel("", canvas)
            lab.setObjectName(f"orientation_{edge}")
            lab.setStyleSheet("color: #ffd75e; font-weight: bold; font-size: 16px; background: transparent;")
            lab.setAttribute(Qt.WA_TransparentForMouseEvents)
            self.labels[edge] = lab
        canvas.installEventFilter(self)

    def set_letters(self, letters: dict[str, str]) -> None:
        for edge, lab in self.labels.items():
            lab.setText(letters[edge])
            lab.adjustSize()
            lab.show()
        self._place()

    def eventFilter(self, obj, event):  # noqa: N802 - Qt API
        if event.type() == QEvent.Resize:
            self._place()
        return False

    def _place(self) -> None:
        w, h, m = self._canvas.width(), self._canvas.height(), 6
        for edge, lab in self.labels.items():
            lw, lh = lab.width(), lab.height()
            x, y = {
                "top": ((w - lw) // 2, m),
                "bottom": ((w - lw) // 2, h - lh - m - 24),
                "left": (m, (h - lh) // 2),
                "right": (w - lw - m, (h - lh) // 2),
            }[edge]
            lab.move(x, y)
            lab.raise_()


class ViewDock(QWidget):
    """Open images, window/level presets with shortcuts, planes and orientation."""

    def __init__(self, napari_viewer):
        # napari hands the viewer only to a parameter named ``napari_viewer``.
        super().__init__()
        viewer = napari_viewer
        self.viewer = viewer
        self.setObjectName("radgui_view_dock")
        layout = QVBoxLayout(self)

        notice = QLabel(f"<b>{RESEARCH_NOTICE}</b>")
        notice.setWordWrap(True)
        notice.setStyleSheet("color: #e8a33d;")
        layout.addWidget(notice)

        row = QHBoxLayout()
        self.open_image_button = QPushButton("Open image…")
        self.open_image_button.setToolTip("Open an image file (NRRD, NIfTI, MHA) or a DICOM folder (Ctrl+O)")
        self.open_image_button.clicked.connect(self._open_image)
        self.open_roi_button = QPushButton("Open ROI…")
        self.open_roi_button.setToolTip("Open a label map drawn on the current image")
        self.open_roi_button.clicked.connect(self._open_roi)
        row.addWidget(self.open_image_button)
        row.addWidget(self.open_roi_button)
        layout.addLayout(row)

        box = QGroupBox("Window / level")
        grid = QGridLayout(box)
        self.preset_buttons: dict[str, QPushButton] = {}
        for i, (name, (key, (lo, hi))) in enumerate(PRESETS.items()):
            label = "PET SUV" if name == "pet" else name.capitalize()
            btn = QPushButton(f"{label} ({key})")
            unit = "SUV" if name == "pet" else "HU"
            btn.setToolTip(f"{label}: {lo:g} to {hi:g} {unit} (level {(lo + hi) / 2:g}, width {hi - lo:g}); key {key}")
            btn.clicked.connect(lambda _=False, n=name: self.set_preset(n))
            grid.addWidget(btn, i // 2, i % 2)
            self.preset_buttons[name] = btn
        form = QFormLayout()
        self.level = QDoubleSpinBox(minimum=-5000, maximum=50000, decimals=1, singleStep=10)
        self.width = QDoubleSpinBox(minimum=0.1, maximum=50000, decimals=1, singleStep=10)
        self.level.setToolTip("Window level (centre) of the current image")
        self.width.setToolTip("Window width of the current image")
        self.level.editingFinished.connect(self._apply_level_width)
        self.width.editingFinished.connect(self._apply_level_width)
        form.addRow("Level", self.level)
        form.addRow("Width", self.width)
        grid.addLayout(form, 3, 0, 1, 2)
        layout.addWidget(box)

        planes = QGroupBox("Plane")
        prow = QHBoxLayout(planes)
        self.plane_buttons = {}
        for plane in PLANES:
            btn = QPushButton(plane.capitalize())
            btn.setToolTip(f"Show the {plane} plane (superior up, patient right on the viewer's left)")
            btn.clicked.connect(lambda _=False, p=plane: self.set_plane(p))
            prow.addWidget(btn)
            self.plane_buttons[plane] = btn
        layout.addWidget(planes)
        layout.addStretch(1)

        for name, (key, _) in PRESETS.items():
            viewer.bind_key(key, lambda v, n=name: self.set_preset(n), overwrite=True)

        self._edges = None
        self.status_label = None
        # The status bar and the canvas are reached through Qt's public API once the dock is in
        # napari's main window (radgui's window or plain napari's plugin manager); see
        # radgui.gui.window. A Qt-free ViewerModel, or an undocked widget, has neither.
        self.attach_to_window()
        viewer.layers.selection.events.active.connect(self._sync_level_width)
        viewer.layers.events.inserted.connect(self._on_inserted)

    def attach_to_window(self) -> bool:
        """Put the cursor readout in the main window's status bar and the letters on the canvas.

        Runs when the dock is created, from :meth:`showEvent` (the first time
        napari shows the dock in its window) and from radgui's
        :func:`~radgui.gui.app.create_viewer`; does its work once.
        """
        from radgui.gui.window import canvas_widget, main_window

        if self.status_label is not None:
            return True
        window = main_window(self)
        canvas = canvas_widget(window)
        if window is None or canvas is None:
            return False
        self.status_label = QLabel("")
        self.status_label.setObjectName("radgui_cursor_readout")
        window.statusBar().addPermanentWidget(self.status_label)
        self._edges = _EdgeLabels(canvas)
        self.viewer.cursor.events.position.connect(self._update_status)
        self.viewer.dims.events.order.connect(self._update_orientation)
        _camera(self.viewer).events.orientation.connect(self._update_orientation)
        self._update_orientation()
        return True

    def showEvent(self, event):  # noqa: N802 - Qt override
        super().showEvent(event)
        self.attach_to_window()

    # ---- presets ---------------------------------------------------------
    def set_preset(self, name: str) -> None:
        """Apply a window/level preset (what its button and shortcut do)."""
        apply_preset(self.viewer, name)
        self._sync_level_width()

    def _sync_level_width(self, *_):
        layer = current_image_layer(self.viewer)
        if layer is None:
            return
        lo, hi = layer.contrast_limits
        self.level.blockSignals(True)
        self.width.blockSignals(True)
        self.level.setValue((lo + hi) / 2)
        self.width.setValue(hi - lo)
        self.level.blockSignals(False)
        self.width.blockSignals(False)

    def _apply_level_width(self):
        layer = current_image_layer(self.viewer)
        if layer is None:
            return
        set_limits(layer, window_to_limits(self.level.value(), self.width.value()))

    def _on_inserted(self, event):
        layer = event.value
        if layer in image_layers(self.viewer):
            layer.events.contrast_limits.connect(self._sync_level_width)
            self._sync_level_width()

    # ---- planes and orientation -----------------------------------------
    def set_plane(self, plane: str) -> None:
        set_plane(self.viewer, plane)

    def _update_orientation(self, *_):
        if self._edges is None:
            return
        displayed = tuple(self.viewer.dims.order[-2:])
        if self.viewer.dims.ndim < 3 or self.viewer.dims.ndisplay != 2:
            self._edges.set_letters({"top": "", "bottom": "", "left": "", "right": ""})
            return
        vertical_axis = _camera(self.viewer).orientation[1]
        vertical = str(getattr(vertical_axis, "value", vertical_axis))
        self._edges.set_letters(orientation_letters(displayed, vertical))

    def _update_status(self, *_):
        if self.status_label is not None:
            self.status_label.setText(cursor_readout(self.viewer))

    # ---- opening ---------------------------------------------------------
    def _open_image(self):
        path, _ = QFileDialog.getOpenFileName(
            self, "Open image", "", "Images (*.nrrd *.nhdr *.nii *.nii.gz *.mha *.mhd *.dcm);;All files (*)")
        if path:
            self.open(path)

    def _open_roi(self):
        from radgui.gui.layers import current_volume

        volume = current_volume(self.viewer)
        if volume is None:
            from napari.utils.notifications import show_warning

            show_warning("Open an image first: a ROI is drawn on an image.")
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open ROI label map", "",
                                              "Label maps (*.nrrd *.nii *.nii.gz *.mha);;All files (*)")
        if path:
            self.open_roi(path)

    def open(self, path: str | Path) -> list:
        """Open an image; a bad file becomes a notification, nothing is lost."""
        from napari.utils.notifications import show_error

        from radgui.gui.opening import open_path

        try:
            return open_path(self.viewer, path, parent_widget=self)
        except RadguiError as exc:
            show_error(str(exc))
            return []

    def open_roi(self, path: str | Path, name: str | None = None):
        """Open a label map onto the current image as a ROI layer.

        A mask on another grid asks before resampling (nearest neighbour).
        """
        from napari.utils.notifications import show_error

        from radgui.gui.layers import add_roi, current_volume
        from radgui.gui.opening import load_mask_interactive

        volume = current_volume(self.viewer)
        try:
            mask = load_mask_interactive(path, volume, parent_widget=self)
        except RadguiError as exc:
            show_error(str(exc))
            return None
        if mask is None:
            return None
        return add_roi(self.viewer, mask, volume, name=name or Path(path).name.split(".")[0])
