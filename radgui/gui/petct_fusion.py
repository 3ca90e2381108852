"""The PET/CT dock's fusion panel: a fused PET/CT layer and the four-VOI feature table.

Every button calls an engine function:

* **Show fused** adds :func:`radgui.io.petct.fuse` of the dock's CT and PET
  on the CT grid (method and PET weight chosen here) as an image layer, in
  [0, 1], with its parameters in the layer's volume (``meta["fusion"]``).
* **Extract four VOIs** runs :func:`radgui.features.petct.iter_extract_petct`
  for the chosen tumour ROI (drawn on the CT) in the dock's worker pattern
  (:class:`~radgui.gui._qt.TaskRunner`: progress bar, Cancel; Cancel keeps
  nothing), CT, PET and fused features of tumour, ring, core and tumour+ring.
* **Save table…** writes it (:func:`radgui.features.petct.save_table`).
"""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QVBoxLayout,
)

from radgui.errors import RadguiError
from radgui.gui._qt import TaskRunner, button, error_text, run_cancel_row


class FusionPanel(QGroupBox):
    """Fused-image layer and four-VOI PET/CT/fused features for a :class:`~radgui.gui.petct_dock.PetCtDock`."""

    def __init__(self, dock):
        super().__init__("Fused image and four-VOI features")
        self.dock = dock
        self.fusion_layer = None  # the fused PET/CT image (not the PET-on-CT overlay)
        self.table = None
        form = QFormLayout(self)
        self.method = QComboBox()
        self.method.addItem("weighted average", "weighted")
        self.method.addItem("wavelet (max-abs details)", "wavelet")
        self.method.setToolTip("weighted: w*PET + (1-w)*CT of the [0, 1]-normalised images\n"
                               "wavelet: Haar DWT, approximations averaged with w, larger detail kept")
        self.weight = QDoubleSpinBox(minimum=0.0, maximum=1.0, decimals=2, singleStep=0.05)
        self.weight.setValue(0.5)
        self.weight.setToolTip("weight of PET (CT gets 1 - w); CT -1000..1000 HU and SUV 0..20 map onto [0, 1]")
        form.addRow("Fusion", self.method)
        form.addRow("PET weight", self.weight)
        self.show_button = button("Show fused", "Add the fused PET/CT image (CT grid, [0, 1]) as a layer",
                                  self.show_fused)
        form.addRow(self.show_button)
        self.ring_mm = QDoubleSpinBox(minimum=0.5, maximum=50.0, decimals=1, singleStep=0.5)
        self.ring_mm.setValue(6.0)
        self.ring_mm.setToolTip("peritumoral ring width in mm")
        self.core_mm = QDoubleSpinBox(minimum=0.5, maximum=50.0, decimals=1, singleStep=0.5)
        self.core_mm.setValue(3.0)
        self.core_mm.setToolTip("intratumoral core: tumour voxels deeper than this, in mm")
        row = QHBoxLayout()
        row.addWidget(QLabel("ring mm"))
        row.addWidget(self.ring_mm)
        row.addWidget(QLabel("core mm"))
        row.addWidget(self.core_mm)
        form.addRow(row)
        run_row = QVBoxLayout()
        self.extract_button, self.cancel_button = run_cancel_row(
            run_row, "Extract four VOIs", "CT, PET and fused features of the ROI chosen above (the tumour, on the "
            "CT): tumour, ring, core, tumour+ring", self.extract, "Stop; no table is kept", self.cancel)
        form.addRow(run_row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumHeight(12)
        form.addRow(self.progress)
        self.save_button = button("Save table…", "Write the feature table (CSV) and its provenance (JSON)",
                                  self._choose_save_path)
        self.save_button.setEnabled(False)
        form.addRow(self.save_button)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        form.addRow(self.status)
        self.runner = TaskRunner(self.extract_button, self.cancel_button, self.progress,
                                 on_result=self._done, on_failure=self._error,
                                 on_cancelled=lambda: self.status.setText("cancelled: no table kept"),
                                 also_disable=(self.show_button,))

    # ---- helpers ------------------------------------------------------------
    def fusion(self) -> dict:
        """The fusion keywords chosen in the panel."""
        return {"method": self.method.currentData(), "weight": float(self.weight.value())}

    def _error(self, exc: Exception) -> None:
        from napari.utils.notifications import show_error

        self.status.setText(error_text(exc))
        show_error(error_text(exc))

    def _pair(self):
        d = self.dock
        if d.ct_layer is None or d.fused_layer is None:
            raise RadguiError("load a PET/CT study or fuse two open layers first")
        return d.ct_layer.metadata["volume"], d.fused_layer.metadata["volume"]

    # ---- actions ------------------------------------------------------------
    def show_fused(self):
        """Add (or replace) the fused PET/CT layer; returns it, or None after an error."""
        from radgui.gui.layers import add_volume
        from radgui.io.petct import fuse

        try:
            ct, pet = self._pair()
            fused = fuse(ct, pet, **self.fusion())
        except RadguiError as exc:
            self._error(exc)
            return None
        viewer = self.dock.viewer
        if self.fusion_layer is not None and self.fusion_layer in viewer.layers:
            viewer.layers.remove(self.fusion_layer)
        self.fusion_layer = add_volume(viewer, fused, colormap="magma", contrast_limits=(0.0, 1.0),
                                       name=fused.name)
        self.fusion_layer.metadata["petct_fusion"] = True
        self.status.setText(f"{fused.name}: CT {fused.meta['fusion']['ct_window_hu']} HU and SUV "
                            f"{fused.meta['fusion']['pet_range_suv']} scaled to [0, 1]")
        return self.fusion_layer

    def _tumour(self, ct):
        from radgui.gui.layers import roi_layers

        roi = roi_layers(self.dock.viewer).get(self.dock.roi_combo.currentText())
        if roi is None:
            raise RadguiError("choose the tumour ROI (drawn on the CT) in the ROI box above")
        if roi.metadata.get("volume") is not ct and np.shape(roi.data) != ct.shape:
            raise RadguiError(f"ROI '{roi.name}' is not on the CT grid; copy it with Mask PET → CT first")
        return roi.name, np.asarray(roi.data) > 0

    def extract(self, blocking: bool = False):
        """Start the four-VOI extraction (worker thread unless ``blocking``); returns the worker."""
        from radgui.features.petct import iter_extract_petct

        try:
            ct, pet = self._pair()
            name, mask = self._tumour(ct)
        except RadguiError as exc:
            self._error(exc)
            return None
        args = (iter_extract_petct, ct, pet, mask)
        kwargs = dict(fusion=self.fusion(), ring_mm=float(self.ring_mm.value()),
                      core_depth_mm=float(self.core_mm.value()), case_id=name)
        self.status.setText(f"extracting four VOIs of '{name}'…")
        if blocking:
            from radgui.progress import run

            try:
                self._done(run(args[0](*args[1:], **kwargs)))
            except RadguiError as exc:
                self._error(exc)
            return None
        return self.runner.start(*args, **kwargs)

    def cancel(self):
        """Stop a running extraction; no table is kept."""
        if self.runner.busy:
            self.runner.cancel()

    @property
    def busy(self) -> bool:
        """True while the extraction runs."""
        return self.runner.busy

    def _done(self, table):
        self.table = table
        vois = table.attrs["provenance"]["vois"]
        self.status.setText(f"{table.shape[1]} features: {len(table.attrs['provenance']['images'])} images x "
                            + ", ".join(f"{k} ({v} voxels)" for k, v in vois.items()))
        self.save_button.setEnabled(True)

    def _choose_save_path(self):
        path, _ = QFileDialog.getSaveFileName(self, "Save PET/CT features", "petct_features.csv", "CSV (*.csv)")
        if path:
            self.save(path)

    def save(self, path):
        """Write the last table (CSV + provenance JSON); returns the CSV path or None."""
        from radgui.features.petct import save_table

        if self.table is None:
            self._error(RadguiError("extract the four VOIs first"))
            return None
        try:
            out = save_table(self.table, path)[0]
        except RadguiError as exc:
            self._error(exc)
            return None
        self.status.setText(f"wrote {out}")
        return out
