"""The ROI dock's controls: the widgets of each group box, their tooltips and signal wiring.

:class:`RoiControls` is the view half of :class:`radgui.gui.roi_dock.RoiDock`
(a mixin: it builds the widgets, the dock's methods answer them). Nothing
here computes or writes anything.
"""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from radgui import roi as engine
from radgui.gui._qt import button
from radgui.errors import RadguiError

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
#: No orange or red: the tumour (napari's label 1) is orange-red, and ring3mm must not read as tumour.
RING_COLORS = ("#00d5ff", "#2ca02c", "#1f77b4", "#9467bd", "#c6ff3d", "#f0f0f0")
CORE_COLOR = "#e040fb"  # magenta: red would read as the tumour too
UNION_COLOR = "#e377c2"


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




class RoiControls:
    """Builds the ROI dock's group boxes (mixed into :class:`~radgui.gui.roi_dock.RoiDock`)."""

    def _build_controls(self) -> None:
        """All group boxes, the busy bar and its Cancel button, in one column (no scroll area:
        radgui's main window scrolls every dock)."""
        outer = QVBoxLayout(self)
        for box in (self._build_list(), self._build_grow(), self._build_rings(), self._build_edit(),
                    self._build_measure()):
            outer.addWidget(box)
        busy = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.cancel_btn = button("Cancel", "Cancel the running computation; nothing is written.",
                                  self.cancel_work)
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel_btn)
        outer.addLayout(busy)
        outer.addStretch(1)
        self.setMinimumWidth(400)

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
        row.addWidget(button("New tumour", "Add an empty ROI (tumour, tumour2, ...) on the current image.",
                              self.new_roi))
        self.brush_btn = button("3D brush", "Paint the selected ROI with a 3D ball brush (napari paint mode,\n"
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
        self.seed_btn = button("Seed tool", "When on, a plain click on the image drops a seed\n"
                                "(Ctrl+click always works; add Shift to add seeds).", lambda: None, True)
        self.apply_btn = button("Apply", "Write the preview into the selected ROI (one undo step). Enter.",
                                 self.apply_grow)
        self.cancel_grow_btn = button("Cancel", "Drop the preview and the seeds. Esc.", self.cancel_grow)
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
        self.rings_btn = button("Rings 3/6/9 mm", "Make the ring set of the selected tumour (one undo step:\n"
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
            b = button(text, tip, lambda: self.edit(op))
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
        # Every header in full (the table scrolls sideways rather than cutting "RECIST long (mm)").
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setMinimumSectionSize(40)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        lay.addWidget(self.table)
        lay.addWidget(button("Copy table", "Copy the measurements as tab-separated text", self.copy_table))
        return box

    def toggle_brush(self, checked=None):
        layer = self.target_layer() or self.new_roi()
        if layer is not None:
            self.viewer.layers.selection.active = layer
            self._apply_brush(layer)

    def _apply_brush(self, layer):
        layer.n_edit_dimensions = 3 if self.brush_btn.isChecked() else 2
        layer.brush_size = int(self.brush_size.value())
        layer.mode = "paint"

    def _brush_size_changed(self, value):
        layer = self.target_layer()
        if layer is not None:
            layer.brush_size = int(value)

    # ------------------------------------------------------ reading the controls
    def _mode_changed(self, text: str) -> None:
        mode, preset = GROW_MODES[text]
        if preset:
            lo, hi, _ = engine.PRESETS[preset]
            for w, v in ((self.lower, lo), (self.upper, hi)):
                w.blockSignals(True)
                w.setValue(v)
                w.blockSignals(False)
        self.lower.setEnabled(mode == "interval")
        self.upper.setEnabled(mode == "interval")
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

    def ring_distances(self) -> list[float]:
        """Distances typed in the box, in mm."""
        return engine.parse_distances(self.distances.text())

    def _distances_changed(self, _text=None) -> None:
        try:
            d = self.ring_distances()
            self.rings_btn.setText("Rings " + "/".join(f"{v:g}" for v in d) + " mm")
        except RadguiError:
            self.rings_btn.setText("Rings (check distances)")

    def ring_params(self, image, body=None) -> dict:
        """Keywords of :func:`radgui.roi.iter_ring_set` the ring controls describe.

        ``body``: the body mask computed before for ``image`` (None: computed in the task).
        """
        clip_text = self.clip_combo.currentText()
        kwargs = dict(mode=self.ring_mode.currentText(), unions=self.unions.isChecked(),
                      core_depth_mm=self.core_depth.value() or None)
        if clip_text.startswith("body"):
            kwargs.update(clip="body" if body is None else body, image=image)
        elif clip_text == "HU range":
            kwargs.update(image=image, hu_range=(self.hu_lo.value(), self.hu_hi.value()))
        return kwargs

    def edit_params(self) -> dict:
        """Keywords of :func:`radgui.roi.apply_edit` the edit controls describe (``other`` aside)."""
        return dict(island_mm3=self.island_mm3.value(), sigma_mm=self.sigma.value(),
                    margin_mm=self.margin_mm.value(), logical_op=self.op_combo.currentText())

    def _fill_roi_list(self, parents: dict, target: str | None) -> None:
        """List ROIs ``{name: parent name or None}``, derived VOIs indented under their tumour."""
        tumours = [n for n, p in parents.items() if not p]
        order = []
        for t in tumours:
            order.append((t, 0))
            order += [(n, 1) for n, p in parents.items() if p == t]
        order += [(n, 1) for n, p in parents.items() if p and p not in tumours]
        self.roi_list.blockSignals(True)
        self.roi_list.clear()
        for name, depth in order:
            item = QListWidgetItem(("    " * depth) + name)
            item.setData(Qt.UserRole, name)
            self.roi_list.addItem(item)
            if name == target:
                self.roi_list.setCurrentItem(item)
        self.roi_list.blockSignals(False)
        self.op_other.clear()
        self.op_other.addItems(list(parents))


def _single_colormap(color: str):
    """A Labels colormap showing label 1 (and any other label) in one colour."""
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict={None: color, 0: "transparent", 1: color})


def _preview_colormap():
    return _single_colormap("yellow")


def voi_colormap(name: str, ring_names: list[str]):
    """Colormap of a derived VOI layer: core red, unions pink, rings by increasing distance."""
    color = (CORE_COLOR if name.startswith("core") else UNION_COLOR if name.startswith("tumour+")
             else RING_COLORS[ring_names.index(name) % len(RING_COLORS)])
    return _single_colormap(color)


def thickness_html(rows: list[tuple[str, dict]]) -> str:
    """The thickness table under the Rings button: ``[(layer name, axis_thickness_mm dict)]``."""
    body = "".join(
        f"<tr><td>{name}</td>"
        + "".join(f"<td align='right'>&nbsp;{th[ax][0]:.1f} mm ({th[ax][1]:g})</td>" for ax in "xyz")
        + "</tr>" for name, th in rows)
    return ("Actual thickness through the centroid, mm (voxels):"
            "<table><tr><th></th><th>x</th><th>y</th><th>z</th></tr>" + body + "</table>")


def fill_measure_table(table, rows: list[tuple[str, dict]]) -> None:
    """Show ``[(ROI name, measure dict)]`` in the measurement table."""
    import numpy as np

    table.setRowCount(len(rows))
    table.setVerticalHeaderLabels([n for n, _ in rows])
    for r, (_, m) in enumerate(rows):
        for c, (key, _) in enumerate(MEASURE_COLUMNS):
            v = m.get(key)
            text = "" if v is None else (f"{v:d}" if isinstance(v, (int, np.integer)) else f"{v:.2f}")
            table.setItem(r, c, QTableWidgetItem(text))


def table_tsv(table) -> str:
    """The measurement table as tab-separated text (header row first)."""
    lines = ["\t".join(["ROI"] + [h for _, h in MEASURE_COLUMNS])]
    for r in range(table.rowCount()):
        name = table.verticalHeaderItem(r).text() if table.verticalHeaderItem(r) else ""
        cells = [table.item(r, c).text() if table.item(r, c) else "" for c in range(table.columnCount())]
        lines.append("\t".join([name] + cells))
    return "\n".join(lines)


def preview_status(session, volume) -> str:
    """The line under the grow controls for the session's latest preview on ``volume``."""
    res = session.result
    lo_v, hi_v = res.interval
    unit = "SUV" if volume.modality == "PT" else ("HU" if volume.modality == "CT" else "")
    if res.voxel_count == 0:
        return (f"Nothing grew: the seed value {volume.array[session.seeds[-1]]:g} is outside "
                f"{lo_v:g}..{hi_v:g} {unit}.")
    return (f"Preview: {res.voxel_count} voxels, {engine.volume_ml(res.voxel_count, volume.spacing):.2f} mL; "
            f"interval {lo_v:.0f}..{hi_v:g} {unit}; {len(session.seeds)} seed(s); "
            f"{session.last_preview_ms:.0f} ms")
