"""The PET/CT dock: load a study's CT and PET, fuse, window SUV, move masks between grids.

Every button calls a :mod:`radgui.io.petct` engine function:

* **Load PET/CT folder…** scans a folder, picks the CT and PET of one study
  and loads both in a worker thread (progress bar, Cancel). A
  FrameOfReferenceUID mismatch asks for explicit consent before fusing; a
  PET lacking SUV tags asks for the values (recorded as user-entered).
* **Fuse open layers**: fuse a CT and a PET already open (chosen in the combo
  boxes), with the same frame-of-reference check.
* The fusion shows CT in grey and PET resampled onto the CT grid (linear) in
  the ``hot`` colormap, additive blending, with an opacity slider and an SUV
  window (min, max); **PET alone** shows the PET on its own grid instead.
* **Mask CT → PET** / **PET → CT** copy the selected ROI onto the other grid
  (nearest neighbour) as a new ROI layer, for PET features.
* The fusion panel (:class:`~radgui.gui.petct_fusion.FusionPanel`): **Show
  fused** adds the fused PET/CT image (weighted or wavelet), **Extract four
  VOIs** computes CT, PET and fused features of the chosen ROI's tumour, ring,
  core and tumour+ring in a worker (progress, Cancel).
"""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from radgui.errors import FrameOfReferenceError, RadguiError, SuvError
from radgui.gui._qt import TaskRunner, error_text, run_cancel_row
from radgui.gui.layers import PET_SUV_LIMITS, add_roi, add_volume, image_layers, roi_layers


def ask_consent(message: str, parent=None) -> bool:
    """Ask the user to fuse despite a frame-of-reference mismatch (default: No)."""
    answer = QMessageBox.warning(
        parent, "Frames of reference differ", message + "\n\nFuse anyway? The alignment is not guaranteed.",
        QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


class PetCtDock(QWidget):
    """Fused PET/CT display and mask transfer between the CT and PET grids."""

    def __init__(self, napari_viewer):
        # napari hands the viewer only to a parameter named ``napari_viewer``.
        super().__init__()
        viewer = napari_viewer
        self.viewer = viewer
        self.setObjectName("radgui_petct_dock")
        self.ct_layer = None
        self.pet_layer = None  # PET on its own grid
        self.fused_layer = None  # PET on the CT grid
        self._request = None  # (folder, engine keywords) of the load in the worker
        layout = QVBoxLayout(self)

        self.load_button, self.cancel_button = run_cancel_row(
            layout, "Load PET/CT folder…", "Open the CT and PET series of one study from a DICOM folder "
            "(Ctrl+Shift+P)", self._choose_folder, "Stop loading; nothing is added", self.cancel)
        self.load_button.setShortcut("Ctrl+Shift+P")
        suv_row = QFormLayout()
        self.suv_type = QComboBox()
        for key, text in (("bw", "body weight (SUVbw)"), ("lbm_james", "lean body mass, James (SUVlbm)"),
                          ("lbm_janma", "lean body mass, Janmahasatian (SUVlbm)"),
                          ("bsa", "body surface area, Du Bois (SUVbsa)"), ("ibw", "ideal body weight (SUVibw)")):
            self.suv_type.addItem(text, key)
        self.suv_type.setToolTip("SUV normalisation used when the PET is loaded (height and sex are needed "
                                 "for all but body weight)")
        suv_row.addRow("SUV", self.suv_type)
        layout.addLayout(suv_row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setMaximumHeight(12)
        layout.addWidget(self.progress)
        self.runner = TaskRunner(self.load_button, self.cancel_button, self.progress,
                                 on_result=self._show,
                                 on_failure=lambda exc: self._handle_error(exc, *self._request, blocking=False),
                                 on_step=lambda step: self.status.setText(step.message),
                                 on_cancelled=lambda: self.status.setText("cancelled"))

        pick = QGroupBox("Fuse open layers")
        form = QFormLayout(pick)
        self.ct_combo = QComboBox()
        self.ct_combo.setToolTip("CT image layer (grey)")
        self.pet_combo = QComboBox()
        self.pet_combo.setToolTip("PET image layer in SUV (hot colormap)")
        form.addRow("CT", self.ct_combo)
        form.addRow("PET", self.pet_combo)
        self.fuse_button = QPushButton("Fuse")
        self.fuse_button.setToolTip("Resample the PET onto the CT grid by physical position (linear)")
        self.fuse_button.clicked.connect(self.fuse_selected)
        form.addRow(self.fuse_button)
        layout.addWidget(pick)

        disp = QGroupBox("Display")
        dform = QFormLayout(disp)
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setToolTip("PET opacity over the CT")
        self.opacity.valueChanged.connect(self._apply_display)
        self.suv_min = QDoubleSpinBox(minimum=0.0, maximum=100.0, decimals=1, singleStep=0.5)
        self.suv_max = QDoubleSpinBox(minimum=0.1, maximum=100.0, decimals=1, singleStep=0.5)
        self.suv_min.setValue(PET_SUV_LIMITS[0])
        self.suv_max.setValue(PET_SUV_LIMITS[1])
        self.suv_min.setToolTip("SUV shown transparent/black")
        self.suv_max.setToolTip("SUV shown at full colour")
        self.suv_min.valueChanged.connect(self._apply_display)
        self.suv_max.valueChanged.connect(self._apply_display)
        self.pet_alone = QCheckBox("PET alone (own grid)")
        self.pet_alone.setToolTip("Show the PET on its own voxel grid, without the CT")
        self.pet_alone.toggled.connect(self.set_pet_alone)
        dform.addRow("PET opacity", self.opacity)
        dform.addRow("SUV min", self.suv_min)
        dform.addRow("SUV max", self.suv_max)
        dform.addRow(self.pet_alone)
        layout.addWidget(disp)

        masks = QGroupBox("Masks between grids")
        mform = QFormLayout(masks)
        self.roi_combo = QComboBox()
        self.roi_combo.setToolTip("ROI layer to copy onto the other grid")
        mform.addRow("ROI", self.roi_combo)
        mrow = QHBoxLayout()
        self.to_pet_button = QPushButton("Mask CT → PET")
        self.to_pet_button.setToolTip("Copy a ROI drawn on the CT onto the PET grid (nearest neighbour)")
        self.to_pet_button.clicked.connect(lambda: self.transfer("pet"))
        self.to_ct_button = QPushButton("Mask PET → CT")
        self.to_ct_button.setToolTip("Copy a ROI drawn on the PET onto the CT grid (nearest neighbour)")
        self.to_ct_button.clicked.connect(lambda: self.transfer("ct"))
        mrow.addWidget(self.to_pet_button)
        mrow.addWidget(self.to_ct_button)
        mform.addRow(mrow)
        srow = QHBoxLayout()
        self.save_seg_button = QPushButton("Save DICOM-SEG…")
        self.save_seg_button.setToolTip("Write every ROI drawn on the chosen ROI's image as one DICOM-SEG\n"
                                        "(one named segment per ROI), for other DICOM tools")
        self.save_seg_button.clicked.connect(self._choose_seg_path)
        self.keep_identity = QCheckBox("keep patient identity")
        self.keep_identity.setToolTip("Off (default): the SEG is de-identified (DICOM PS3.15 basic profile).\n"
                                      "On: patient and study identification are kept.")
        srow.addWidget(self.save_seg_button)
        srow.addWidget(self.keep_identity)
        mform.addRow(srow)
        layout.addWidget(masks)
        from radgui.gui.petct_fusion import FusionPanel

        self.fusion_panel = FusionPanel(self)
        layout.addWidget(self.fusion_panel)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)

        viewer.layers.events.inserted.connect(self._refresh_combos)
        viewer.layers.events.removed.connect(self._refresh_combos)
        self._refresh_combos()

    # ---- helpers ------------------------------------------------------------
    def _refresh_combos(self, *_):
        layers = image_layers(self.viewer)
        for combo, modality in ((self.ct_combo, "CT"), (self.pet_combo, "PT")):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            names = [ly.name for ly in layers if ly.metadata["volume"].modality == modality
                     and not ly.metadata.get("petct_fused")]
            combo.addItems(names)
            if current in names:
                combo.setCurrentText(current)
            combo.blockSignals(False)
        current = self.roi_combo.currentText()
        self.roi_combo.clear()
        self.roi_combo.addItems(list(roi_layers(self.viewer)))
        if current:
            self.roi_combo.setCurrentText(current)

    def _error(self, exc: Exception) -> None:
        from napari.utils.notifications import show_error

        self.status.setText(error_text(exc))
        show_error(error_text(exc))

    # ---- loading ------------------------------------------------------------
    def _choose_folder(self):
        folder = QFileDialog.getExistingDirectory(self, "PET/CT study folder")
        if folder:
            self.load_folder(folder)

    @property
    def busy(self) -> bool:
        """True while a study loads in the worker."""
        return self.runner.busy

    def load_folder(self, folder, consent: bool = False, suv_user_values=None, blocking: bool = False):
        """Load CT + PET of the study in ``folder`` (worker thread unless ``blocking``; returns the worker)."""
        from radgui.io.petct import iter_load_petct

        kwargs = dict(consent=consent, suv_type=self.suv_type.currentData())
        if suv_user_values:
            kwargs["suv_user_values"] = suv_user_values
        if blocking:
            from radgui.progress import run

            try:
                self._show(run(iter_load_petct(folder, **kwargs)))
            except RadguiError as exc:
                self._handle_error(exc, folder, kwargs, blocking=True)
            return None
        self._request = (folder, kwargs)
        return self.runner.start(iter_load_petct, folder, **kwargs)

    def cancel(self):
        """Stop a running load; nothing is added to the viewer."""
        if self.runner.busy:
            self.runner.cancel()
            self.status.setText("cancelled")

    def _handle_error(self, exc, folder, kwargs, blocking: bool):
        """Ask and load again on a frame-of-reference or missing-SUV error; show any other."""
        if isinstance(exc, FrameOfReferenceError) and not kwargs.get("consent"):
            if ask_consent(str(exc.reason), self):
                self.load_folder(folder, consent=True, suv_user_values=kwargs.get("suv_user_values"),
                                 blocking=blocking)
            else:
                self.status.setText("not fused: frames of reference differ")
            return
        if isinstance(exc, SuvError) and exc.missing and not kwargs.get("suv_user_values"):
            from radgui.gui.opening import ask_suv_values

            values = ask_suv_values(exc.missing, None, self, keys=exc.keys)
            if values:
                self.load_folder(folder, consent=kwargs.get("consent", False), suv_user_values=values,
                                 blocking=blocking)
            return
        self._error(exc)

    def _show(self, pair):
        """Add CT, PET (own grid, hidden) and PET on CT to the viewer."""
        self.ct_layer = add_volume(self.viewer, pair.ct)
        self.pet_layer = add_volume(self.viewer, pair.pet, colormap="hot", visible=False,
                                    name=f"{pair.pet.name} (PET grid)")
        self._add_fused(pair.pet_on_ct)
        if pair.warnings:
            from napari.utils.notifications import show_warning

            show_warning("; ".join(pair.warnings))
        self.status.setText(f"fused {pair.pet.name} on {pair.ct.name}")

    def _add_fused(self, fused):
        self.fused_layer = add_volume(self.viewer, fused, colormap="hot", blending="additive",
                                      name=f"{fused.meta.get('name', 'PET')}")
        self.fused_layer.metadata["petct_fused"] = True
        self._apply_display()
        self._refresh_combos()

    def fuse_selected(self, consent: bool = False):
        """Fuse the PET and CT layers chosen in the combo boxes."""
        from radgui.io.petct import pet_on_ct

        layers = {ly.name: ly for ly in image_layers(self.viewer)}
        ct = layers.get(self.ct_combo.currentText())
        pet = layers.get(self.pet_combo.currentText())
        if ct is None or pet is None:
            self._error(RadguiError("open a CT and a PET image first"))
            return None
        try:
            fused = pet_on_ct(pet.metadata["volume"], ct.metadata["volume"], consent=consent)
        except FrameOfReferenceError as exc:
            if not consent and ask_consent(exc.reason, self):
                return self.fuse_selected(consent=True)
            self.status.setText("not fused: frames of reference differ")
            return None
        except RadguiError as exc:
            self._error(exc)
            return None
        self.ct_layer, self.pet_layer = ct, pet
        self._add_fused(fused)
        self.set_pet_alone(self.pet_alone.isChecked())
        return self.fused_layer

    # ---- display ------------------------------------------------------------
    def _apply_display(self, *_):
        lo, hi = self.suv_min.value(), self.suv_max.value()
        if hi <= lo:
            hi = lo + 0.1
        for layer in (self.fused_layer, self.pet_layer):
            if layer is not None:
                layer.contrast_limits = (lo, hi)
        if self.fused_layer is not None:
            self.fused_layer.opacity = self.opacity.value() / 100.0

    def set_pet_alone(self, on: bool):
        """Show PET on its own grid alone (True) or the fusion on the CT grid (False)."""
        if self.pet_alone.isChecked() != on:
            self.pet_alone.setChecked(on)
            return
        if self.pet_layer is not None:
            self.pet_layer.visible = on
            if on:
                self.pet_layer.colormap = "hot"
                self.pet_layer.opacity = 1.0
        for layer in (self.ct_layer, self.fused_layer):
            if layer is not None:
                layer.visible = not on
        self._apply_display()

    # ---- masks --------------------------------------------------------------
    def transfer(self, to: str):
        """Copy the chosen ROI onto the PET grid (``to="pet"``) or the CT grid (``"ct"``)."""
        import numpy as np

        from radgui.io import mask_from_array
        from radgui.io.petct import transfer_mask

        rois = roi_layers(self.viewer)
        roi = rois.get(self.roi_combo.currentText())
        if roi is None or self.ct_layer is None or self.pet_layer is None:
            self._error(RadguiError("load or fuse a PET/CT and choose a ROI first"))
            return None
        ct, pet = self.ct_layer.metadata["volume"], self.pet_layer.metadata["volume"]
        source = roi.metadata["volume"]
        target = pet if to == "pet" else ct
        if source is target:
            self._error(RadguiError(f"ROI '{roi.name}' is already on the {to.upper()} grid"))
            return None
        try:
            mask = mask_from_array(np.asarray(roi.data) > 0, source)
            moved = transfer_mask(mask, source, target)
        except RadguiError as exc:
            self._error(exc)
            return None
        suffix = "PET" if to == "pet" else "CT"
        layer = add_roi(self.viewer, moved, target, name=f"{roi.name}@{suffix}",
                        parent=roi.name, visible=to == "ct" or self.pet_alone.isChecked())
        self.status.setText(f"{roi.name} copied onto the {suffix} grid ({int(np.count_nonzero(layer.data))} voxels)")
        return layer

    def _choose_seg_path(self):
        path, _ = QFileDialog.getSaveFileName(self, "Save DICOM-SEG", "segmentation.dcm", "DICOM (*.dcm)")
        if path:
            self.save_seg(path)

    def save_seg(self, path):
        """Write the ROIs of the chosen ROI's image as one DICOM-SEG; return the path or None."""
        from radgui.io.seg import write_seg

        rois = roi_layers(self.viewer)
        roi = rois.get(self.roi_combo.currentText())
        if roi is None:
            self._error(RadguiError("choose a ROI drawn on a DICOM image first"))
            return None
        volume = roi.metadata["volume"]
        masks = {name: ly.data for name, ly in roi_layers(self.viewer, volume).items()}
        try:
            out = write_seg(masks, volume, path, identifying=self.keep_identity.isChecked())
        except RadguiError as exc:
            self._error(exc)
            return None
        self.status.setText(f"wrote {len(masks)} segment(s) to {out}")
        return out
