"""The ROI dock: paint, grow from a click, rings and core, edit, measure, undo.

Every button calls a :mod:`radgui.roi` engine function; this module only turns
clicks into calls and writes the results into napari Labels layers.

Undo
----
Each operation is written with ``with layer.block_history():
layer.data_setitem(indices, values)``: ONE item in napari's Labels undo
history that stores only the changed voxels (their indices and old values),
never a copy of the volume. A ring set (rings, core, unions) is one
operation over several layers: each derived layer gets one history item and
the layers of the set share a group, so Ctrl+Z on any layer of the set undoes
the whole set and Ctrl+Shift+Z redoes it. After an undo the derived layers
stay in the layer list, empty, so that redo can bring them back.

Mouse and keys
--------------
* Ctrl+click on the image: grow from that seed with a live preview
  (Ctrl+Shift+click adds a seed); the preview follows the interval, radius
  and opening controls; Apply (or Enter in the dock) writes it to the
  selected ROI, Cancel (Esc) drops it.
* Seed tool button: plain clicks drop seeds while it is on.
* Ctrl+Z / Ctrl+Shift+Z: napari's undo/redo of the active ROI layer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from radgui import roi as engine
from radgui.errors import RadguiError
from radgui.roi._common import bbox
from radgui.gui._qt import is_alive
from radgui.gui.layers import add_roi, current_volume, image_layers, roi_layers

#: Grow modes shown in the combo box: label -> (engine mode, preset or None)
GROW_MODES: dict[str, tuple[str, str | None]] = {
    "Solid lesion (CT)": ("interval", "solid"),
    "Part-solid nodule (CT)": ("interval", "part-solid"),
    "Ground-glass (CT)": ("interval", "ground-glass"),
    "Soft tissue (CT)": ("interval", "soft-tissue"),
    "Custom interval": ("interval", None),
    "Adaptive (statistics at seed)": ("adaptive", None),
    "PET: % of SUVmax": ("pet_fraction", None),
    "PET: fixed SUV": ("pet_fixed", None),
}

#: Measurement table columns: (key in engine.measure's dict, header)
MEASURE_COLUMNS = [
    ("volume_ml", "Volume (mL)"),
    ("voxel_count", "Voxels"),
    ("recist_long_mm", "RECIST long (mm)"),
    ("recist_short_mm", "RECIST short (mm)"),
    ("max_3d_diameter_mm", "Max 3D (mm)"),
    ("mean", "Mean"),
    ("sd", "SD"),
    ("min", "Min"),
    ("max", "Max"),
    ("suv_peak", "SUVpeak"),
    ("tlg", "TLG"),
]

PREVIEW_NAME = "grow preview"

#: Colours of derived VOI layers: rings by increasing distance, the core, the unions (hidden at first).
RING_COLORS = ("#ff7f0e", "#2ca02c", "#1f77b4", "#9467bd", "#8c564b", "#17becf")
CORE_COLOR = "#d62728"
UNION_COLOR = "#e377c2"


def write_mask(layer, mask: np.ndarray, label: int = 1) -> int:
    """Make ``layer``'s ROI equal to ``mask`` as ONE undo step storing only changed voxels.

    Voxels that enter the ROI get ``label``; voxels that leave it get 0.
    Returns the number of changed voxels (0: nothing written, no history).
    """
    data = np.asarray(layer.data)
    old = data > 0
    new = np.asarray(mask, bool)
    either = [m for m in (old, new) if m.any()]
    if not either:
        return 0
    # Look for changes only inside the bounding box of the old and new ROI.
    boxes = [bbox(m) for m in either]
    lo = np.min([b[0] for b in boxes], axis=0)
    hi = np.max([b[1] for b in boxes], axis=0)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    o, n = old[box], new[box]
    add = np.nonzero(n & ~o)
    rem = np.nonzero(o & ~n)
    n_add, n_rem = add[0].size, rem[0].size
    if n_add + n_rem == 0:
        return 0
    indices = tuple(np.concatenate([a, r]) + off for a, r, off in zip(add, rem, lo))
    values = np.concatenate([np.full(n_add, label), np.zeros(n_rem)]).astype(data.dtype)
    # napari does not slice hidden layers, and data_setitem updates the current slice's view:
    # show the layer for the write, then hide it again.
    hidden = not layer.visible
    if hidden:
        layer.visible = True
    try:
        with layer.block_history():
            layer.data_setitem(indices, values)
    finally:
        if hidden:
            layer.visible = False
    return n_add + n_rem


def _history_depth(layer, which: str = "_undo_history") -> int:
    # napari keeps Labels history in deques; reading their length is the only way to
    # know whether the latest item is ours (no public API in napari 0.9.2).
    return len(getattr(layer, which, ()))


@dataclass
class VoiGroup:
    """Layers written by one operation (a ring set): undone and redone together."""

    layers: list
    parent: str = ""
    depths: dict = field(default_factory=dict)
    undone: bool = False

    def matches(self, layer) -> bool:
        """Whether Ctrl+Z/Ctrl+Shift+Z on ``layer`` concerns this group."""
        return any(ly is layer for ly in self.layers) or (
            bool(self.parent) and layer.metadata.get("parent") == self.parent)

    def intact(self, which: str) -> bool:
        """True when this group's items are still on top of each layer's undo (or redo) history."""
        return all(_history_depth(ly, which) == self.depths[id(ly)] for ly in self.layers)


def derived_name(parent: str, name: str) -> str:
    """Layer name of a derived VOI: ``ring3mm`` for ``tumour``, ``tumour2 ring3mm`` for others."""
    if parent == "tumour":
        return name
    if name.startswith("tumour+"):
        return parent + name[len("tumour"):]
    return f"{parent} {name}"


def _spin(lo, hi, value, step=1.0, decimals=1, suffix="", tip=""):
    s = QDoubleSpinBox()
    s.setRange(lo, hi)
    s.setDecimals(decimals)
    s.setSingleStep(step)
    s.setValue(value)
    if suffix:
        s.setSuffix(suffix)
    if tip:
        s.setToolTip(tip)
    s.setKeyboardTracking(False)
    return s


def _button(text, tip, slot, checkable=False):
    b = QPushButton(text)
    b.setToolTip(tip)
    b.setCheckable(checkable)
    b.clicked.connect(slot)
    return b


class RoiDock(QWidget):
    """ROI list, 3D brush, grow with preview, rings/core, edits, measurements."""

    def __init__(self, viewer):
        super().__init__()
        self.viewer = viewer
        self._seeds: list[tuple[int, int, int]] = []
        self._seed_volume = None
        self._grow_result = None
        self._groups: list[VoiGroup] = []
        self._redo_stack: list[VoiGroup] = []
        self._bound: set[int] = set()
        self._body_cache: dict[int, np.ndarray] = {}
        self._measure_cache: dict[int, dict] = {}
        self._dirty: set[int] = set()
        self._measure_worker = None
        self.measurements: dict[str, dict] = {}
        self._worker = None
        self._target_name: str | None = None
        self.last_preview_ms: float | None = None

        inner = QWidget()
        outer = QVBoxLayout(inner)
        outer.addWidget(self._build_list())
        outer.addWidget(self._build_grow())
        outer.addWidget(self._build_rings())
        outer.addWidget(self._build_edit())
        outer.addWidget(self._build_measure())
        busy = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.cancel_btn = _button("Cancel", "Cancel the running computation; nothing is written.",
                                  self.cancel_work)
        self.cancel_btn.setEnabled(False)
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel_btn)
        outer.addLayout(busy)
        outer.addStretch(1)
        inner.setMinimumWidth(400)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setMinimumWidth(430)
        scroll.setWidget(inner)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(scroll)

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

    # ------------------------------------------------------------------ UI
    def _build_list(self):
        box = QGroupBox("ROIs")
        lay = QVBoxLayout(box)
        self.roi_list = QListWidget()
        self.roi_list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.roi_list.setToolTip("ROIs of the current image; derived VOIs are indented under their tumour.\n"
                                 "The selected ROI is the target of Apply, rings and edits.")
        self.roi_list.setMaximumHeight(120)
        self.roi_list.currentItemChanged.connect(self._on_list_selected)
        lay.addWidget(self.roi_list)
        row = QHBoxLayout()
        row.addWidget(_button("New tumour", "Add an empty ROI (tumour, tumour2, ...) on the current image.",
                              self.new_roi))
        self.brush_btn = _button("3D brush", "Paint the selected ROI with a 3D ball brush (napari paint mode,\n"
                                 "3 edit dimensions); click again for a 2D brush.", self.toggle_brush, True)
        row.addWidget(self.brush_btn)
        self.brush_size = _spin(1, 200, 10, 1, 0, " px", "Brush diameter in image pixels")
        self.brush_size.valueChanged.connect(self._brush_size_changed)
        row.addWidget(self.brush_size)
        lay.addLayout(row)
        return box

    def _build_grow(self):
        box = QGroupBox("Grow from a seed (Ctrl+click)")
        form = QFormLayout(box)
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(list(GROW_MODES))
        for i, (label, (_, preset)) in enumerate(GROW_MODES.items()):
            if preset:
                lo, hi, desc = engine.PRESETS[preset]
                self.mode_combo.setItemData(i, f"{desc}: {lo:g} to {hi:g} HU", Qt.ToolTipRole)
        self.mode_combo.currentTextChanged.connect(self._mode_changed)
        form.addRow("Mode", self.mode_combo)
        self.lower = _spin(-3000, 30000, -400, 10, 0, "", "Lowest value (HU) grown")
        self.upper = _spin(-3000, 30000, 400, 10, 0, "", "Highest value (HU) grown")
        iv = QHBoxLayout()
        iv.addWidget(self.lower)
        iv.addWidget(QLabel("to"))
        iv.addWidget(self.upper)
        form.addRow("Interval", iv)
        self.fraction = _spin(1, 100, 41, 1, 0, " % SUVmax", "PET: threshold as a percentage of the SUVmax\n"
                              "found inside the radius (EANM: 41 %)")
        self.suv = _spin(0, 100, 2.5, 0.1, 2, " SUV", "PET: fixed SUV threshold (EANM: 2.5)")
        pv = QHBoxLayout()
        pv.addWidget(self.fraction)
        pv.addWidget(self.suv)
        form.addRow("PET", pv)
        self.radius = _spin(1, 300, 30, 1, 0, " mm", "Leakage guard: nothing farther than this from a seed.\n"
                            "The work is cropped to this box, so the preview stays fast.")
        self.opening = _spin(0, 20, 1.5, 0.5, 1, " mm", "Leakage guard: a morphological opening of this\n"
                             "radius cuts vessel bridges thinner than twice the radius (0: off).")
        self.fill = QCheckBox("fill holes")
        self.fill.setChecked(True)
        self.fill.setToolTip("Fill enclosed cavities (necrosis, air bronchograms) in 3D")
        gv = QHBoxLayout()
        gv.addWidget(self.radius)
        gv.addWidget(self.opening)
        gv.addWidget(self.fill)
        form.addRow("Guards", gv)
        row = QHBoxLayout()
        self.seed_btn = _button("Seed tool", "When on, a plain click on the image drops a seed\n"
                                "(Ctrl+click always works; add Shift to add seeds).", lambda: None, True)
        self.apply_btn = _button("Apply", "Write the preview into the selected ROI (one undo step). Enter.",
                                 self.apply_grow)
        self.cancel_grow_btn = _button("Cancel", "Drop the preview and the seeds. Esc.", self.cancel_grow)
        for b in (self.seed_btn, self.apply_btn, self.cancel_grow_btn):
            row.addWidget(b)
        form.addRow(row)
        self.grow_status = QLabel("Ctrl+click inside a lesion to start.")
        self.grow_status.setWordWrap(True)
        form.addRow(self.grow_status)
        for w in (self.lower, self.upper, self.fraction, self.suv, self.radius, self.opening):
            w.valueChanged.connect(self._schedule_preview)
        self.lower.valueChanged.connect(self._interval_edited)
        self.upper.valueChanged.connect(self._interval_edited)
        self.fill.toggled.connect(self._schedule_preview)
        self._mode_changed(self.mode_combo.currentText())
        return box

    def _build_rings(self):
        box = QGroupBox("Peritumoral rings and core")
        form = QFormLayout(box)
        self.distances = QLineEdit("3, 6, 9")
        self.distances.setToolTip("Ring distances in mm from the tumour boundary, comma separated")
        self.distances.textChanged.connect(self._distances_changed)
        form.addRow("Distances (mm)", self.distances)
        self.ring_mode = QComboBox()
        self.ring_mode.addItems(["annular", "cumulative"])
        self.ring_mode.setToolTip("annular: disjoint shells (0-3, 3-6, 6-9 mm);\n"
                                  "cumulative: each ring holds everything up to its distance")
        self.core_depth = _spin(0, 50, 0, 0.5, 1, " mm", "Also make the intratumoral core this deep (0: none)")
        self.unions = QCheckBox("tumour+ring")
        self.unions.setChecked(True)
        self.unions.setToolTip("Also make the unions tumour+ring<d>mm")
        row = QHBoxLayout()
        row.addWidget(self.ring_mode, 1)
        row.addWidget(self.unions)
        form.addRow("Mode", row)
        form.addRow("Core depth", self.core_depth)
        self.clip_combo = QComboBox()
        self.clip_combo.addItems(["image", "body (HU > -500)", "HU range"])
        self.clip_combo.setToolTip("Keep rings inside the image, inside the patient's body, or within an HU range")
        self.hu_lo = _spin(-3000, 5000, -1000, 10, 0, "", "HU range: lowest value kept in the rings")
        self.hu_hi = _spin(-3000, 5000, -300, 10, 0, "", "HU range: highest value kept in the rings")
        form.addRow("Clip to", self.clip_combo)
        row = QHBoxLayout()
        row.addWidget(self.hu_lo)
        row.addWidget(QLabel("to"))
        row.addWidget(self.hu_hi)
        row.addWidget(QLabel("HU"))
        form.addRow("HU range", row)
        self.clip_combo.currentTextChanged.connect(
            lambda t: (self.hu_lo.setEnabled(t == "HU range"), self.hu_hi.setEnabled(t == "HU range")))
        self.hu_lo.setEnabled(False)
        self.hu_hi.setEnabled(False)
        self.rings_btn = _button("Rings 3/6/9 mm", "Make the ring set of the selected tumour (one undo step:\n"
                                 "Ctrl+Z on any ring layer removes the whole set). Shortcut: R in the dock.",
                                 self.make_rings)
        self.rings_btn.setShortcut("R")
        form.addRow(self.rings_btn)
        self.thickness = QLabel("")
        self.thickness.setTextFormat(Qt.RichText)
        self.thickness.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.thickness.setToolTip("Thickness of each ring counted on the three axis lines through the\n"
                                  "tumour centroid: mm (voxels). Rings are whole voxels, so a 3 mm ring on\n"
                                  "5 mm slices is 0 or 1 slice thick along z.")
        form.addRow(self.thickness)
        return box

    def _build_edit(self):
        box = QGroupBox("Edit the selected ROI (each is one undo step)")
        grid = QGridLayout(box)
        self.edit_buttons = {}

        def add(op, text, tip, row, col):
            b = _button(text, tip, lambda: self.edit(op))
            self.edit_buttons[op] = b
            grid.addWidget(b, row, col)

        add("fill3d", "Fill holes 3D", "Fill enclosed 3D cavities", 0, 0)
        add("fill2d", "Fill holes per slice", "Fill holes in each axial slice", 0, 1)
        add("largest", "Keep largest", "Keep the largest connected piece", 0, 2)
        self.island_mm3 = _spin(0, 1e6, 50, 10, 0, " mm\u00b3", "Islands smaller than this are removed")
        add("islands", "Remove islands <", "Remove pieces smaller than the volume on the right", 1, 0)
        grid.addWidget(self.island_mm3, 1, 1)
        add("interpolate", "Interpolate slices", "Fill the slices between sparsely drawn axial slices\n"
            "(shape-based interpolation)", 1, 2)
        self.sigma = _spin(0.1, 20, 1.0, 0.5, 1, " mm", "Gaussian smoothing sigma in mm")
        add("smooth", "Smooth", "Smooth the surface (Gaussian, sigma on the right)", 2, 0)
        grid.addWidget(self.sigma, 2, 1)
        self.margin_mm = _spin(-50, 50, 2.0, 0.5, 1, " mm", "Grow (+) or shrink (-) by a distance in mm")
        add("margin", "Margin", "Grow or shrink by the Euclidean distance on the right", 3, 0)
        grid.addWidget(self.margin_mm, 3, 1)
        self.op_combo = QComboBox()
        self.op_combo.addItems(list(engine.LOGICAL_OPS))
        self.op_other = QComboBox()
        self.op_other.setToolTip("Second ROI of the logical operation")
        grid.addWidget(self.op_combo, 4, 0)
        grid.addWidget(self.op_other, 4, 1)
        add("logical", "Apply logic", "selected = selected <op> other", 4, 2)
        return box

    def _build_measure(self):
        box = QGroupBox("Measurements")
        lay = QVBoxLayout(box)
        self.table = QTableWidget(0, len(MEASURE_COLUMNS))
        self.table.setHorizontalHeaderLabels([h for _, h in MEASURE_COLUMNS])
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setToolTip("Updated as ROIs change. RECIST: longest axial diameter and its perpendicular;\n"
                              "diameters on the ROI surface. PET adds SUVpeak (1 mL sphere) and TLG.")
        self.table.setMinimumHeight(140)
        lay.addWidget(self.table)
        lay.addWidget(_button("Copy table", "Copy the measurements as tab-separated text", self.copy_table))
        return box

    # ------------------------------------------------------------ helpers
    def notify_error(self, exc: Exception) -> None:
        from napari.utils.notifications import show_error

        show_error(str(exc))

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
        self.roi_list.blockSignals(True)
        self.roi_list.clear()
        parents = [n for n, ly in rois.items() if not ly.metadata.get("parent")]
        order = []
        for p in parents:
            order.append((p, 0))
            order += [(n, 1) for n, ly in rois.items() if ly.metadata.get("parent") == p]
        order += [(n, 1) for n, ly in rois.items()
                  if ly.metadata.get("parent") and ly.metadata.get("parent") not in parents]
        for name, depth in order:
            item = QListWidgetItem(("    " * depth) + name)
            item.setData(Qt.UserRole, name)
            self.roi_list.addItem(item)
            if name == self._target_name:
                self.roi_list.setCurrentItem(item)
        self.roi_list.blockSignals(False)
        self.op_other.clear()
        self.op_other.addItems(list(rois))
        for ly in rois.values():
            if id(ly) not in self._bound:
                self._bound.add(id(ly))
                ly.events.paint.connect(lambda e, ly=ly: self._mark_dirty(ly))
                ly.events.data.connect(lambda e, ly=ly: self._mark_dirty(ly))
                ly.events.name.connect(self._on_layers_changed)
                self._bind_group_keys(ly)
            self._mark_dirty(ly)
        if self._preview_layer() is None and self._grow_result is not None and event is not None:
            self._grow_result = None  # the user deleted the preview layer

    def _on_list_selected(self, current, previous=None) -> None:
        if current is None:
            return
        name = current.data(Qt.UserRole)
        self._target_name = name
        layer = roi_layers(self.viewer).get(name)
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

    def toggle_brush(self, checked=None):
        layer = self.target_layer()
        if layer is None:
            layer = self.new_roi()
        if layer is not None:
            self.viewer.layers.selection.active = layer
            self._apply_brush(layer)

    def _apply_brush(self, layer):
        three_d = self.brush_btn.isChecked()
        layer.n_edit_dimensions = 3 if three_d else 2
        layer.brush_size = int(self.brush_size.value())
        layer.mode = "paint"

    def _brush_size_changed(self, value):
        layer = self.target_layer()
        if layer is not None:
            layer.brush_size = int(value)

    # --------------------------------------------------------------- grow
    def _mode_changed(self, text: str) -> None:
        mode, preset = GROW_MODES[text]
        if preset:
            lo, hi, _ = engine.PRESETS[preset]
            for w, v in ((self.lower, lo), (self.upper, hi)):
                w.blockSignals(True)
                w.setValue(v)
                w.blockSignals(False)
        interval = mode == "interval"
        self.lower.setEnabled(interval)
        self.upper.setEnabled(interval)
        self.fraction.setEnabled(mode == "pet_fraction")
        self.suv.setEnabled(mode == "pet_fixed")
        self._schedule_preview()

    def _interval_edited(self, _value=None) -> None:
        mode, preset = GROW_MODES[self.mode_combo.currentText()]
        if preset and (self.lower.value(), self.upper.value()) != engine.PRESETS[preset][:2]:
            self.mode_combo.blockSignals(True)
            self.mode_combo.setCurrentText("Custom interval")
            self.mode_combo.blockSignals(False)

    def grow_params(self) -> dict:
        """The engine parameters the controls describe."""
        mode, preset = GROW_MODES[self.mode_combo.currentText()]
        p = dict(mode=mode, max_radius_mm=self.radius.value(), opening_mm=self.opening.value(),
                 fill_holes=self.fill.isChecked())
        if mode == "interval":
            p.update(lower=self.lower.value(), upper=self.upper.value())
        elif mode == "pet_fraction":
            p.update(fraction=self.fraction.value() / 100.0)
        elif mode == "pet_fixed":
            p.update(suv_threshold=self.suv.value())
        return p

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
        idx = np.round(np.asarray(layer.world_to_data(position), float)[-3:]).astype(int)
        if np.any(idx < 0) or np.any(idx >= np.asarray(volume.shape)):
            self.grow_status.setText("The click is outside the image.")
            return
        if not add or self._seed_volume is not volume:
            self._seeds = []
        self._seed_volume = volume
        self._seeds.append(tuple(int(v) for v in idx))
        self.update_preview()

    def _schedule_preview(self, *_):
        if self._seeds:
            self._preview_timer.start()

    def _preview_layer(self):
        for ly in self.viewer.layers:
            if ly.metadata.get("preview"):
                return ly
        return None

    def update_preview(self) -> None:
        """Recompute the grown region (cropped, synchronous: tens of ms) and show it."""
        if not self._seeds or self._seed_volume is None:
            return
        volume = self._seed_volume
        t0 = time.perf_counter()
        try:
            res = engine.grow_region(volume.array, volume.spacing, np.array(self._seeds), **self.grow_params())
        except RadguiError as exc:
            self.grow_status.setText(str(exc))
            return
        self.last_preview_ms = (time.perf_counter() - t0) * 1000
        self._grow_result = res
        data = res.mask.astype(np.uint8)
        lo = np.array([s.start for s in res.slices])
        translate = tuple(np.asarray(volume.origin) + lo * np.asarray(volume.spacing))
        layer = self._preview_layer()
        if layer is None:
            active = self.viewer.layers.selection.active
            kw = dict(volume.napari_kwargs())  # same scale/units as the image; translate to the crop box
            kw["translate"] = translate
            layer = self.viewer.add_labels(data, name=PREVIEW_NAME, opacity=0.6, metadata={"preview": True},
                                           **kw)
            layer.colormap = _preview_colormap()
            if active is not None:
                self.viewer.layers.selection.active = active
        else:
            layer.translate = translate
            layer.data = data
        lo_v, hi_v = res.interval
        unit = "SUV" if volume.modality == "PT" else ("HU" if volume.modality == "CT" else "")
        vol_ml = res.voxel_count * float(np.prod(volume.spacing)) / 1000
        if res.voxel_count == 0:
            self.grow_status.setText(
                f"Nothing grew: the seed value {volume.array[self._seeds[-1]]:g} is outside "
                f"{lo_v:g}..{hi_v:g} {unit}.")
        else:
            self.grow_status.setText(
                f"Preview: {res.voxel_count} voxels, {vol_ml:.2f} mL; interval {lo_v:.0f}..{hi_v:g} {unit}; "
                f"{len(self._seeds)} seed(s); {self.last_preview_ms:.0f} ms")

    def apply_grow(self) -> None:
        """Add the preview to the selected ROI (a new ``tumour`` when there is none): one undo step."""
        res = self._grow_result
        if res is None or not res.mask.any():
            self.grow_status.setText("Nothing to apply: Ctrl+click inside a lesion first.")
            return
        volume = self._seed_volume
        layer = self.target_layer()
        if layer is None or layer.metadata.get("volume") is not volume:
            layer = self.new_roi()
            if layer is None:
                return
        current = np.asarray(layer.data) > 0
        sub = current[res.slices] | res.mask
        new = current.copy()
        new[res.slices] = sub
        write_mask(layer, new)
        self.cancel_grow()
        self._select_target(layer)
        self.grow_status.setText(f"Applied to '{layer.name}'. Ctrl+Z on it undoes.")

    def cancel_grow(self) -> None:
        """Drop the preview and the seeds."""
        self._seeds = []
        self._grow_result = None
        layer = self._preview_layer()
        if layer is not None:
            self.viewer.layers.remove(layer)
        self.grow_status.setText("Ctrl+click inside a lesion to start.")

    def keyPressEvent(self, event):  # noqa: N802 - Qt API
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and self._grow_result is not None:
            self.apply_grow()
        elif event.key() == Qt.Key_Escape and self._seeds:
            self.cancel_grow()
        else:
            super().keyPressEvent(event)

    # -------------------------------------------------------------- rings
    def ring_distances(self) -> list[float]:
        """Distances typed in the box, in mm."""
        try:
            return [float(v) for v in self.distances.text().replace(";", ",").split(",") if v.strip()]
        except ValueError:
            raise engine.RoiParameterError(
                f"ring distances must be numbers of mm separated by commas, got '{self.distances.text()}'"
            ) from None

    def _distances_changed(self, _text=None) -> None:
        try:
            d = self.ring_distances()
            self.rings_btn.setText("Rings " + "/".join(f"{v:g}" for v in d) + " mm")
        except RadguiError:
            self.rings_btn.setText("Rings (check distances)")

    def make_rings(self) -> None:
        """Compute the ring set of the selected tumour in a worker, then write it as one undo group."""
        parent = self.target_layer()
        if parent is not None and parent.metadata.get("parent"):
            parent = roi_layers(self.viewer).get(parent.metadata["parent"], parent)
        if parent is None:
            self.notify_error(RadguiError("select a tumour ROI first (ROI list)"))
            return
        try:
            distances = self.ring_distances()
        except RadguiError as exc:
            self.notify_error(exc)
            return
        volume = parent.metadata["volume"]
        mask = np.asarray(parent.data) > 0
        clip_text = self.clip_combo.currentText()
        kwargs = dict(mode=self.ring_mode.currentText(), unions=self.unions.isChecked(),
                      core_depth_mm=self.core_depth.value() or None)
        if clip_text.startswith("body"):
            key = id(volume)
            if key not in self._body_cache:
                self._body_cache = {key: None}
            kwargs["clip"] = "body"
            kwargs["image"] = volume.array
        elif clip_text == "HU range":
            kwargs["image"] = volume.array
            kwargs["hu_range"] = (self.hu_lo.value(), self.hu_hi.value())

        cache = self._body_cache

        def compute():
            kw = dict(kwargs)
            if kw.get("clip") == "body":
                if cache.get(id(volume)) is None:
                    cache[id(volume)] = engine.body_mask(volume.array)
                kw["clip"] = cache[id(volume)]
            vois = engine.derived_vois(mask, volume.spacing, distances, **kw)
            thick = {n: engine.axis_thickness_mm(v, mask, volume.spacing)
                     for n, v in vois.items() if n.startswith("ring")}
            return vois, thick

        self._run(compute, lambda out: self._write_vois(parent, volume, *out), "rings")

    def _write_vois(self, parent, volume, vois: dict, thickness: dict) -> None:
        existing = roi_layers(self.viewer)
        ring_names = [n for n in vois if n.startswith("ring")]  # increasing distance
        layers, changed = [], []
        active = self.viewer.layers.selection.active
        for name, arr in vois.items():
            lname = derived_name(parent.name, name)
            layer = existing.get(lname)
            if layer is None or layer.metadata.get("volume") is not volume:
                color = (CORE_COLOR if name.startswith("core") else UNION_COLOR if name.startswith("tumour+")
                         else RING_COLORS[ring_names.index(name) % len(RING_COLORS)])
                layer = add_roi(self.viewer, np.zeros(volume.shape, np.uint8), volume, name=lname,
                                parent=parent.name, colormap=_single_colormap(color))
                if name.startswith("tumour+"):
                    layer.visible = False  # unions overlap everything: shown on demand
            if write_mask(layer, arr):
                changed.append(layer)
            layers.append(layer)
        if changed:  # only the layers this run wrote form its undo group
            self._groups.append(VoiGroup(changed, parent.name, {id(ly): _history_depth(ly) for ly in changed}))
            self._redo_stack.clear()
        for ly in layers:
            self._bind_group_keys(ly)
        if layers:
            self.viewer.layers.selection.active = layers[0]
        elif active is not None:
            self.viewer.layers.selection.active = active
        rows = "".join(
            f"<tr><td>{derived_name(parent.name, name)}</td>"
            + "".join(f"<td align='right'>&nbsp;{th[ax][0]:.1f} mm ({th[ax][1]:g})</td>" for ax in "xyz")
            + "</tr>" for name, th in thickness.items())
        self.thickness.setText(
            "Actual thickness through the centroid, mm (voxels):"
            "<table><tr><th></th><th>x</th><th>y</th><th>z</th></tr>" + rows + "</table>")

    def _bind_group_keys(self, layer) -> None:
        from app_model.types import KeyCode, KeyMod

        dock = self
        layer.bind_key(KeyMod.CtrlCmd | KeyCode.KeyZ, lambda ly: dock.undo(ly), overwrite=True)
        layer.bind_key(KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ, lambda ly: dock.redo(ly), overwrite=True)

    def undo(self, layer=None) -> None:
        """Undo on ``layer`` (default: the active one).

        On a derived layer (ring, core, union) the latest ring set of its
        tumour is undone as a whole, provided nothing was written on its
        layers since; otherwise the layer's own last step is undone.
        """
        layer = layer or self.viewer.layers.selection.active
        if layer is None:
            return
        self._mark_all_groups_dirty(layer)
        live = [g for g in self._groups if not g.undone and g.matches(layer)]
        if live and live[-1].intact("_undo_history"):
            g = live[-1]
            for ly in g.layers:
                ly.undo()
            g.undone = True
            g.depths = {id(ly): _history_depth(ly, "_redo_history") for ly in g.layers}
            self._redo_stack.append(g)
            return
        if hasattr(layer, "undo"):
            layer.undo()

    def redo(self, layer=None) -> None:
        """Redo on ``layer``; the ring set undone last is redone as a whole."""
        layer = layer or self.viewer.layers.selection.active
        if layer is None:
            return
        self._mark_all_groups_dirty(layer)
        undone = [g for g in self._redo_stack if g.matches(layer)]
        if undone and undone[-1].intact("_redo_history"):
            g = undone[-1]
            for ly in g.layers:
                ly.redo()
            g.undone = False
            g.depths = {id(ly): _history_depth(ly) for ly in g.layers}
            self._redo_stack.remove(g)
            return
        if hasattr(layer, "redo"):
            layer.redo()

    def _mark_all_groups_dirty(self, layer) -> None:
        for g in self._groups:
            for ly in g.layers:
                self._dirty.add(id(ly))
        self._mark_dirty(layer)

    # --------------------------------------------------------------- edit
    def edit(self, op: str) -> None:
        """Apply an editing operation to the selected ROI as one undo step."""
        layer = self.target_layer()
        if layer is None:
            self.notify_error(RadguiError("select a ROI first (ROI list)"))
            return
        volume = layer.metadata["volume"]
        sp = volume.spacing
        mask = np.asarray(layer.data) > 0
        try:
            if op == "fill3d":
                new = engine.fill_holes(mask)
            elif op == "fill2d":
                new = engine.fill_holes(mask, per_slice=True)
            elif op == "largest":
                new = engine.keep_largest(mask)
            elif op == "islands":
                new = engine.remove_islands(mask, sp, self.island_mm3.value())
            elif op == "smooth":
                new = engine.smooth(mask, sp, self.sigma.value())
            elif op == "margin":
                new = engine.margin(mask, sp, self.margin_mm.value())
            elif op == "interpolate":
                new = engine.interpolate_slices(mask, sp)
            elif op == "logical":
                other = roi_layers(self.viewer).get(self.op_other.currentText())
                if other is None:
                    raise RadguiError("choose the second ROI of the logical operation")
                new = engine.logical(mask, np.asarray(other.data) > 0, self.op_combo.currentText())
            else:  # pragma: no cover
                raise ValueError(op)
        except RadguiError as exc:
            self.notify_error(exc)
            return
        n = write_mask(layer, new)
        self.grow_status.setText(f"{op}: {n} voxels changed in '{layer.name}' (Ctrl+Z undoes)")

    # ------------------------------------------------------------ workers
    def _run(self, fn, on_done, what: str) -> None:
        from napari.qt.threading import create_worker

        if self._worker is not None:
            self.notify_error(RadguiError("another ROI computation is running; wait or cancel it"))
            return
        worker = create_worker(fn)
        self._worker = worker
        self.progress.setRange(0, 0)
        self.cancel_btn.setEnabled(True)
        self.rings_btn.setEnabled(False)

        def done(result):
            if self._worker is worker and not getattr(worker, "_radgui_cancelled", False):
                try:
                    on_done(result)
                except RadguiError as exc:
                    self.notify_error(exc)
                except Exception as exc:  # keep the GUI alive, say what failed
                    from napari.utils.notifications import show_error

                    show_error(f"{what} could not be written: {exc}")

        def failed(exc):
            if isinstance(exc, RadguiError):
                self.notify_error(exc)
            else:
                from napari.utils.notifications import show_error

                show_error(f"{what} failed: {exc}")

        def finished():
            if self._worker is worker:
                self._worker = None
            self.progress.setRange(0, 1)
            self.cancel_btn.setEnabled(False)
            self.rings_btn.setEnabled(True)

        worker.returned.connect(done)
        worker.errored.connect(failed)
        worker.finished.connect(finished)
        worker.start()

    def cancel_work(self) -> None:
        """Cancel the running computation (its result is dropped, nothing is written)."""
        if self._worker is not None:
            self._worker._radgui_cancelled = True
            self._worker.quit()

    # ------------------------------------------------------------ measure
    def _mark_dirty(self, layer) -> None:
        self._dirty.add(id(layer))
        self._measure_timer.start()

    def refresh_measurements(self, sync: bool = False) -> None:
        """Re-measure the ROIs that changed (in a worker thread unless ``sync``) and redraw the table."""
        rois = roi_layers(self.viewer)
        todo = {id(ly): (ly.data, ly.metadata["volume"]) for ly in rois.values()
                if id(ly) in self._dirty or id(ly) not in self._measure_cache}
        if not todo:
            self._fill_table()
            return
        if self._measure_worker is not None and not sync:
            self._measure_timer.start()  # try again when the running one is done
            return
        self._dirty.difference_update(todo)

        def compute():
            out = {}
            for key, (data, volume) in todo.items():
                mask = np.asarray(data) > 0
                try:
                    out[key] = engine.measure(mask, volume) if mask.any() else {"volume_ml": 0.0,
                                                                               "voxel_count": 0}
                except RadguiError as exc:
                    out[key] = {"error": str(exc)}
            return out

        def done(result):
            self._measure_cache.update(result)
            self._fill_table()

        if sync:
            done(compute())
            return
        from napari.qt.threading import create_worker

        worker = create_worker(compute)
        self._measure_worker = worker

        def finished():
            self._measure_worker = None

        worker.returned.connect(done)
        worker.finished.connect(finished)
        worker.start()

    def _fill_table(self) -> None:
        if not is_alive(self.table):  # a measurement worker finished after the window closed
            return
        rows = [(name, self._measure_cache.get(id(ly), {})) for name, ly in roi_layers(self.viewer).items()]
        self.table.setRowCount(len(rows))
        self.table.setVerticalHeaderLabels([n for n, _ in rows])
        for r, (_, m) in enumerate(rows):
            for c, (key, _) in enumerate(MEASURE_COLUMNS):
                v = m.get(key)
                text = "" if v is None else (f"{v:d}" if isinstance(v, (int, np.integer)) else f"{v:.2f}")
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.measurements = dict(rows)

    def copy_table(self) -> None:
        """Copy the measurement table to the clipboard as TSV."""
        heads = ["ROI"] + [h for _, h in MEASURE_COLUMNS]
        lines = ["\t".join(heads)]
        for r in range(self.table.rowCount()):
            name = self.table.verticalHeaderItem(r).text() if self.table.verticalHeaderItem(r) else ""
            cells = [self.table.item(r, c).text() if self.table.item(r, c) else ""
                     for c in range(self.table.columnCount())]
            lines.append("\t".join([name] + cells))
        QApplication.clipboard().setText("\n".join(lines))


def _single_colormap(color: str):
    """A Labels colormap showing label 1 (and any other label) in one colour."""
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict={None: color, 0: "transparent", 1: color})


def _preview_colormap():
    return _single_colormap("yellow")
