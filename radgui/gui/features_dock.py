"""The Features dock: preset, ROIs, Extract in the background, results table, CSV export.

Every action calls the engine (:func:`radgui.features.iter_extract`); this
module only turns clicks into calls.

* Preset: a shipped preset from the list, or *Load YAML…* for any PyRadiomics
  parameter file; *Edit* shows the YAML text, *Apply* validates it against
  PyRadiomics' schema (a misspelt key is refused with its name).
* ROIs: one checkbox per ROI layer drawn on the current image; all ROIs of one
  image are extracted together (one filtering pass).
* Extract (Ctrl+E) runs in a worker thread with a progress bar; Cancel (Esc)
  stops it between steps and leaves the previous result untouched (nothing
  half-written).
* Results: features as rows, ROIs as columns, filtered by the search box;
  *Export CSV…* writes one row per ROI with provenance in a sidecar JSON.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QKeySequence
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QShortcut,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from radgui.errors import RadguiError
from radgui.features.presets import PRESET_DIR, Preset, load_preset, preset_from_text, presets
from radgui.files import write_csv, write_json
from radgui.gui._qt import TaskRunner, button, run_cancel_row
from radgui.gui.layers import current_volume, roi_layers

CUSTOM = "(custom)"


def _notify_error(message: str) -> None:
    from napari.utils.notifications import show_error

    show_error(message)


class FeaturesDock(QWidget):
    """Preset picker, ROI checkboxes, background extraction, results table and export."""

    def __init__(self, napari_viewer):
        # napari hands the viewer only to a parameter named ``napari_viewer``.
        super().__init__()
        viewer = napari_viewer
        self.viewer = viewer
        self.setObjectName("radgui_features_dock")
        self.preset: Preset = load_preset("ct-original")
        self.result = None  # pandas DataFrame of the last finished extraction
        self._volume = None
        layout = QVBoxLayout(self)

        # --- preset -------------------------------------------------------
        box = QGroupBox("Preset")
        bl = QVBoxLayout(box)
        row = QHBoxLayout()
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(presets())
        self.preset_combo.setCurrentText("ct-original")
        self.preset_combo.setToolTip("PyRadiomics settings shipped with radgui (see resources/presets/README.md)")
        self.preset_combo.currentTextChanged.connect(self._on_preset_chosen)
        row.addWidget(self.preset_combo, 1)
        self.load_button = button("Load YAML…", "Load any PyRadiomics parameter file (validated against "
                                  "PyRadiomics' schema)", self._load_yaml_dialog)
        row.addWidget(self.load_button)
        self.edit_button = button("Edit", "Show and edit the preset's YAML", checkable=True)
        self.edit_button.toggled.connect(self._toggle_editor)
        row.addWidget(self.edit_button)
        bl.addLayout(row)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        bl.addWidget(self.summary)
        self.editor = QPlainTextEdit()
        self.editor.setVisible(False)
        self.editor.setMinimumHeight(160)
        bl.addWidget(self.editor)
        self.apply_button = button("Apply edited YAML", "Validate the text and use it as the preset",
                                   self._apply_editor)
        self.apply_button.setVisible(False)
        bl.addWidget(self.apply_button)
        layout.addWidget(box)

        # --- ROIs and run ---------------------------------------------------
        rbox = QGroupBox("ROIs of the current image")
        rl = QVBoxLayout(rbox)
        self.roi_list = QListWidget()
        self.roi_list.setMaximumHeight(90)
        self.roi_list.setToolTip("ROIs to extract; all are filtered in one pass")
        rl.addWidget(self.roi_list)
        self.extract_button, self.cancel_button = run_cancel_row(
            rl, "Extract", "Extract features of the checked ROIs (Ctrl+E)", self.start_extraction,
            "Stop the extraction; the previous results stay (Esc)", self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        rl.addWidget(self.progress)
        layout.addWidget(rbox)
        self.runner = TaskRunner(self.extract_button, self.cancel_button, self.progress,
                                 on_result=self._on_result, on_failure=self._on_error,
                                 on_cancelled=self._on_cancelled)

        # --- results --------------------------------------------------------
        res = QGroupBox("Results")
        resl = QVBoxLayout(res)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search features, e.g. glcm or wavelet-HLL")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter_rows)
        resl.addWidget(self.search)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setMinimumHeight(180)
        self.table.setSortingEnabled(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.table.setTextElideMode(Qt.ElideMiddle)  # if cut at all, keep both ends of a name
        resl.addWidget(self.table, 1)
        exp_row = QHBoxLayout()
        self.status = QLabel("")
        exp_row.addWidget(self.status, 1)
        self.export_button = button("Export CSV…", "Write one row per ROI (and provenance JSON next to it)",
                                    self._export_dialog)
        self.export_button.setEnabled(False)
        exp_row.addWidget(self.export_button)
        resl.addLayout(exp_row)
        layout.addWidget(res, 1)

        QShortcut(QKeySequence("Ctrl+E"), self, activated=self.start_extraction)
        QShortcut(QKeySequence("Esc"), self, activated=self.cancel)

        self._show_preset()
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed,
                      viewer.layers.selection.events.active):
            event.connect(self.refresh_rois)
        self.refresh_rois()

    # ------------------------------------------------------------------ preset
    def _show_preset(self) -> None:
        self.summary.setText("<br>".join(self.preset.summary()))
        self.summary.setToolTip(f"SHA-256 {self.preset.sha256}")
        self.editor.setPlainText(self.preset.text)

    def _on_preset_chosen(self, name: str) -> None:
        if not name or name == CUSTOM:
            return
        try:
            self.set_preset(name)
        except RadguiError as exc:
            _notify_error(str(exc))

    def set_preset(self, preset) -> Preset:
        """Use a preset (name, YAML path, dict or Preset); raises PresetError when invalid."""
        self.preset = load_preset(preset)
        shipped = self.preset.path is not None and self.preset.name in presets() and \
            self.preset.path.resolve() == (PRESET_DIR / f"{self.preset.name}.yaml").resolve()
        if shipped:
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentText(self.preset.name)
            self.preset_combo.blockSignals(False)
        else:
            self._select_custom(self.preset.name)
        self._show_preset()
        return self.preset

    def _select_custom(self, name: str) -> None:
        self.preset_combo.blockSignals(True)
        label = f"{CUSTOM} {name}"
        idx = self.preset_combo.findText(label)
        if idx < 0:
            self.preset_combo.addItem(label)
            idx = self.preset_combo.count() - 1
        self.preset_combo.setCurrentIndex(idx)
        self.preset_combo.blockSignals(False)

    def _load_yaml_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load PyRadiomics parameter file", "",
                                              "YAML (*.yaml *.yml);;All files (*)")
        if path:
            try:
                self.set_preset(path)
            except RadguiError as exc:
                _notify_error(str(exc))

    def _toggle_editor(self, on: bool) -> None:
        self.editor.setVisible(on)
        self.apply_button.setVisible(on)

    def _apply_editor(self) -> bool:
        try:
            preset = preset_from_text(self.editor.toPlainText(), name=f"{self.preset.name}-edited")
        except RadguiError as exc:
            _notify_error(str(exc))
            return False
        self.preset = preset
        self._select_custom(preset.name)
        self.summary.setText("<br>".join(preset.summary()))
        return True

    # -------------------------------------------------------------------- ROIs
    def refresh_rois(self, *_args) -> None:
        """List the ROI layers of the current image, keeping check states."""
        volume = current_volume(self.viewer)
        self._volume = volume
        checked = {self.roi_list.item(i).text(): self.roi_list.item(i).checkState()
                   for i in range(self.roi_list.count())}
        self.roi_list.clear()
        if volume is None:
            return
        for name in roi_layers(self.viewer, volume):
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(checked.get(name, Qt.Checked))
            self.roi_list.addItem(item)

    def checked_rois(self) -> list[str]:
        """Names of the checked ROIs, in list order."""
        return [self.roi_list.item(i).text() for i in range(self.roi_list.count())
                if self.roi_list.item(i).checkState() == Qt.Checked]

    # --------------------------------------------------------------- extract
    @property
    def busy(self) -> bool:
        """True while an extraction runs."""
        return self.runner.busy

    def start_extraction(self):
        """Start extracting the checked ROIs in a worker; returns the worker (None if nothing to do)."""
        if self.runner.busy:
            return self.runner.worker
        volume = current_volume(self.viewer)
        if volume is None:
            _notify_error("Open an image first")
            return None
        layers = roi_layers(self.viewer, volume)
        names = [n for n in self.checked_rois() if n in layers]
        if not names:
            _notify_error("Check at least one ROI to extract")
            return None
        # Copy the masks now so painting during extraction cannot change them.
        rois = {n: np.asarray(layers[n].data) > 0 for n in names}
        from radgui.features.extract import iter_extract

        worker = self.runner.start(iter_extract, volume, rois, self.preset)
        self.progress.setFormat(f"extracting {len(names)} ROI(s)…")
        return worker

    def cancel(self) -> None:
        """Stop the running extraction between two steps; the previous result is kept."""
        if self.runner.busy:
            self.runner.cancel()
            self.progress.setFormat("cancelling…")

    def _on_result(self, df) -> None:
        self.result = df
        self._fill_table(df)
        errors = df.attrs.get("errors", {})
        self.status.setText(f"{len(df)} ROI(s) x {df.shape[1]} features, preset {self.preset.name}")
        self.export_button.setEnabled(len(df) > 0)
        self.progress.setFormat("done")
        for message in errors.values():
            _notify_error(message)

    def _on_error(self, exc) -> None:
        if isinstance(exc, RadguiError):
            _notify_error(str(exc))
        else:
            _notify_error(f"Feature extraction failed: {type(exc).__name__}: {exc}")
        self.progress.setFormat("done" if self.result is not None else "idle")

    def _on_cancelled(self) -> None:
        self.progress.setFormat("cancelled; previous results kept")

    # ---------------------------------------------------------------- results
    def _fill_table(self, df) -> None:
        self.table.clear()
        self.table.setRowCount(df.shape[1])
        self.table.setColumnCount(1 + len(df.index))
        self.table.setHorizontalHeaderLabels(["feature"] + [str(r) for r in df.index])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        for i, col in enumerate(df.columns):
            name = QTableWidgetItem(str(col))
            name.setToolTip(str(col))
            self.table.setItem(i, 0, name)
            for j, roi in enumerate(df.index, start=1):
                value = float(df.at[roi, col])
                item = QTableWidgetItem(f"{value:.6g}")
                item.setData(Qt.UserRole, value)
                item.setToolTip(f"{roi}: {col} = {value!r}")
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(i, j, item)
        header = self.table.horizontalHeader()
        # The feature name column is as wide as its longest name (the table scrolls sideways):
        # a stretched column cut "original_glcm_..." to the same prefix on every row.
        for j in range(self.table.columnCount()):
            header.setSectionResizeMode(j, QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        self._filter_rows(self.search.text())

    def _filter_rows(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.table.rowCount()):
            item = self.table.item(i, 0)
            name = item.text().lower() if item is not None else ""
            self.table.setRowHidden(i, bool(needle) and needle not in name)

    def visible_features(self) -> list[str]:
        """Feature names the search box leaves visible."""
        return [self.table.item(i, 0).text() for i in range(self.table.rowCount())
                if not self.table.isRowHidden(i)]

    def export_csv(self, path) -> Path:
        """Write the results (one row per ROI) and ``<path>.provenance.json``."""
        if self.result is None:
            raise RadguiError("nothing to export yet: extract features first")
        path = Path(path)
        if path.suffix.lower() != ".csv":
            path = path.with_suffix(".csv")
        write_csv(path, self.result)
        write_json(path.with_suffix(".provenance.json"), dict(self.result.attrs.get("provenance", {})),
                   indent=2, default=str)
        return path

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export features", "features.csv", "CSV (*.csv)")
        if path:
            try:
                written = self.export_csv(path)
            except RadguiError as exc:
                _notify_error(str(exc))
                return
            self.status.setText(f"written {written.name}")
