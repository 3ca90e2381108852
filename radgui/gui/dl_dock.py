"""DL features dock: deep-learning features (``radgui[dl]``) of the current ROI.

Pick a weights file (``NAME.safetensors`` with its ``NAME.json`` manifest,
written by ``radgui dl train``), choose an ROI of the current image, and
*Extract DL features* runs :func:`radgui.dl.iter_extract_roi` in the shared
:class:`~radgui.gui._qt.TaskRunner` (progress bar, Cancel). The result is the
``dl_0..dl_n`` table; *Export CSV…* writes it. Training stays on the command
line (``radgui dl train``). Without torch the dock says how to install the
extra and the engine's one-line error is shown if Extract is pressed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from radgui.gui._qt import TaskRunner, button, error_text, run_cancel_row
from radgui.gui.layers import current_volume, roi_layers


def _notify_error(message: str) -> None:
    from napari.utils.notifications import show_error

    show_error(message)


class DLDock(QWidget):
    """Weights picker, ROI choice, Extract / Cancel in the background, the dl_* table and CSV export."""

    def __init__(self, napari_viewer):
        # napari hands the viewer only to a parameter named ``napari_viewer``.
        super().__init__()
        self.viewer = napari_viewer
        self.setObjectName("radgui_dl")
        self.weights: Path | None = None
        self.result = None
        layout = QVBoxLayout(self)
        form = QFormLayout()
        row = QHBoxLayout()
        self.weights_label = QLabel("no weights chosen")
        self.weights_button = button("Weights\N{HORIZONTAL ELLIPSIS}", "Choose a .safetensors weights file "
                                     "(its .json manifest beside it), written by `radgui dl train`",
                                     self.weights_dialog)
        row.addWidget(self.weights_label, 1)
        row.addWidget(self.weights_button)
        form.addRow("Weights", row)
        self.roi_combo = QComboBox()
        self.roi_combo.setToolTip("ROI whose centroid the crop is centred on")
        form.addRow("ROI", self.roi_combo)
        layout.addLayout(form)
        self.extract_button, self.cancel_button = run_cancel_row(
            layout, "Extract DL features", "Crop around the ROI and run the network (GPU when present)",
            self.start_extraction, "Stop; nothing is shown", self.cancel)
        self.progress = QProgressBar()
        layout.addWidget(self.progress)
        self.status = QLabel("" if importlib.util.find_spec("torch") else
                             "torch is not installed: install radgui[dl] (see docs/dl.md)")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["feature", "value"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(120)
        layout.addWidget(self.table, 1)
        self.export_button = button("Export CSV\N{HORIZONTAL ELLIPSIS}", "Write the dl_* features to a CSV file",
                                    self.export_dialog)
        self.export_button.setEnabled(False)
        layout.addWidget(self.export_button)
        self.task = TaskRunner(self.extract_button, self.cancel_button, self.progress, on_result=self._on_result,
                               on_failure=self._on_failure, on_cancelled=lambda: self.status.setText("cancelled"),
                               also_disable=(self.weights_button,))
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed,
                      napari_viewer.layers.selection.events.active):
            event.connect(self.refresh_rois)
        self.refresh_rois()

    @property
    def busy(self) -> bool:
        return self.task.busy

    def refresh_rois(self, *_args) -> None:
        """List the ROI layers drawn on the current image."""
        current = self.roi_combo.currentText()
        names = list(roi_layers(self.viewer, current_volume(self.viewer)))
        self.roi_combo.clear()
        self.roi_combo.addItems(names)
        if current in names:
            self.roi_combo.setCurrentText(current)

    def set_weights(self, path) -> None:
        """Use ``path`` (``.safetensors`` or its ``.json``); it is checked when Extract runs."""
        self.weights = Path(path)
        self.weights_label.setText(self.weights.name)
        self.weights_label.setToolTip(str(self.weights))

    def weights_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose DL weights", "", "Weights (*.safetensors)")
        if path:
            self.set_weights(path)

    def start_extraction(self):
        """Start extracting the chosen ROI in a worker; returns the worker (None if nothing to do)."""
        if self.task.busy:
            return self.task.worker
        volume = current_volume(self.viewer)
        layers = roi_layers(self.viewer, volume)
        name = self.roi_combo.currentText()
        if self.weights is None:
            _notify_error("Choose a weights file first (radgui dl train writes one)")
            return None
        if volume is None or name not in layers:
            _notify_error("Open an image and draw or load an ROI first")
            return None
        mask = np.asarray(layers[name].data) > 0  # a copy: painting meanwhile does not change it
        from radgui.dl import iter_extract_roi

        self.status.setText(f"extracting {name}\N{HORIZONTAL ELLIPSIS}")
        return self.task.start(iter_extract_roi, self.weights, volume, mask)

    def cancel(self) -> None:
        self.task.cancel()

    def _on_result(self, series) -> None:
        self.result = series
        self.table.setRowCount(len(series))
        for i, (k, v) in enumerate(series.items()):
            self.table.setItem(i, 0, QTableWidgetItem(str(k)))
            self.table.setItem(i, 1, QTableWidgetItem(f"{float(v):.6g}"))
        self.export_button.setEnabled(True)
        info = series.attrs.get("model", {})
        about = f" ({info['architecture']}, {info['target']} target, {info['crop']} crop, {info['device']})" if info else ""
        self.status.setText(f"{len(series)} deep features of {self.roi_combo.currentText()}{about}")

    def _on_failure(self, exc) -> None:
        self.status.setText(error_text(exc))
        _notify_error(error_text(exc))

    def export_csv(self, path) -> Path:
        """Write the last result as one row (``roi`` then ``dl_*``) to ``path`` (atomic)."""
        import pandas as pd

        from radgui.files import write_csv

        frame = pd.DataFrame([self.result.to_numpy()], columns=list(self.result.index))
        frame.insert(0, "roi", self.roi_combo.currentText())
        return write_csv(path, frame, index=False)

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export DL features", "dl_features.csv", "CSV (*.csv)")
        if path:
            try:
                self.export_csv(path)
            except Exception as exc:  # noqa: BLE001 - shown, never raised into Qt
                _notify_error(error_text(exc))
