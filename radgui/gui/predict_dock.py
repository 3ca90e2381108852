"""The Predict dock: score the patient on screen with a model bundle.

Model picker (the demo model and bundles the user opens, checked in a worker),
model card (red banner for the synthetic demo), clinical form with inline
validation, Predict in a worker (progress bar, Cancel), the result, the
nomogram and the Kaplan-Meier placement panel (both export as PNG or SVG).

The dock only turns clicks into calls: loading is
:func:`radgui.model.bundle.iter_load`, the inputs are
:func:`radgui.model.patient.study_inputs`, the work is
:func:`radgui.model.patient.iter_predict`, the card is
:meth:`radgui.model.bundle.ModelBundle.card`, the figures are
:class:`radgui.plots.nomogram.NomogramDisplay` and
:class:`radgui.plots.km_placement.KMPlacementDisplay`, saved with
:func:`radgui.plots.export.save_figure`. The form and result widgets are in
:mod:`radgui.gui.predict_widgets`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from radgui.errors import RadguiError
from radgui.gui._qt import TaskRunner, error_text
from radgui.gui.predict_widgets import (
    RED,
    ClinicalForm,
    ResultPanel,
    draw_display,
    figure_panel,
    fill_roi_combo,
    label,
    model_card_html,
    model_header,
    run_controls,
    time_box,
)

DEMO_LABEL = "Demo model (synthetic)"


class PredictDock(QScrollArea):
    """Predict the outcome of the patient on screen (see the module docstring).

    The dock is its own scroll area (the only one, also in plain napari).

    Parameters
    ----------
    viewer : napari.Viewer
        The image layer (``metadata["volume"]``) and ROI layers
        (``metadata["roi"]``) are read through :mod:`radgui.gui.layers`.

    Attributes
    ----------
    bundle : ModelBundle or None
        The selected model.
    prediction : Prediction or None
        The last result shown.
    fields : dict
        Clinical predictor name -> its input widget.
    """

    def __init__(self, napari_viewer):
        # napari hands the viewer only to a parameter named ``napari_viewer``.
        super().__init__()
        viewer = napari_viewer
        self.viewer = viewer
        self.bundle = None
        self.prediction = None
        self._bundles: list = []  # (label, bundle or None, path)
        self._watched: set[int] = set()
        self._loading: Path | None = None  # the bundle file being checked
        self.nomogram_display = None
        self.km_display = None

        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        inner = QWidget()
        self.setWidget(inner)
        root = QVBoxLayout(inner)
        root.setContentsMargins(6, 4, 6, 4)
        root.setSpacing(4)
        self.setMinimumWidth(760)

        top = QHBoxLayout()
        root.addLayout(top)
        left = QVBoxLayout()
        top.addLayout(left, 3)
        right = QVBoxLayout()
        top.addLayout(right, 2)

        # model picker, card and report button
        self.model_combo, self.open_button, self.banner, self.card, self.report_button = model_header(
            left, self._open_dialog, self._report_dialog)

        # predict + result
        self.predict_button, self.cancel_button, self.progress = run_controls(right, self.predict, self.cancel)
        self.task = TaskRunner(self.predict_button, self.cancel_button, self.progress, on_result=self._on_result,
                               on_failure=self._on_error, on_cancelled=self._on_aborted)
        # opening a bundle checks it (a skops payload in a child process: seconds): a worker too
        self.loader = TaskRunner(self.open_button, self.cancel_button, self.progress, on_result=self._on_loaded,
                                 on_failure=self._on_load_error, on_cancelled=self._on_aborted)
        self.message = label()
        right.addWidget(self.message)
        self.result_panel = ResultPanel()
        right.addWidget(self.result_panel)
        p = self.result_panel
        self.probability_label, self.outcome_label, self.ci_label = p.probability_label, p.outcome_label, p.ci_label
        self.risk_label, self.radscore_label, self.warnings_label = p.risk_label, p.radscore_label, p.warnings_label
        right.addStretch(1)

        # clinical form (one row of fields) and the tumour ROI
        self.roi_combo = QComboBox()
        self.roi_combo.setToolTip("ROI layer used for the model's (unprefixed) radiomics features")
        self.form_box = ClinicalForm(self.roi_combo)
        root.addWidget(self.form_box)

        # nomogram and K-M placement
        self.nomogram_canvas, self.export_nomogram_button = figure_panel(
            root, "Nomogram", (8, 3.2), 235, lambda: self._export_dialog("nomogram"), "Save the nomogram as PNG or SVG")
        self.time_spin = time_box(self._draw_km)
        self.km_canvas, self.export_km_button = figure_panel(
            root, "Kaplan-Meier placement", (8, 3.4), 335, lambda: self._export_dialog("km"),
            "Save the K-M placement panel as PNG or SVG", extra=(QLabel("event-free rate at"), self.time_spin))

        self._add_demo()
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        viewer.layers.events.inserted.connect(self._refresh_rois)
        viewer.layers.events.removed.connect(self._refresh_rois)
        self._refresh_rois()
        if self._bundles:
            self._model_changed(0)

    @property
    def fields(self) -> dict:
        """Clinical predictor name -> its input widget."""
        return self.form_box.fields

    @property
    def field_errors(self) -> dict:
        """Clinical predictor name -> the label showing its problem."""
        return self.form_box.field_errors

    # ------------------------------------------------------------------ models
    def _add_demo(self):
        from radgui.demo import demo_model_path

        path = demo_model_path()
        if path.is_file():
            self._bundles.append((DEMO_LABEL, None, path))
            self.model_combo.addItem(DEMO_LABEL)

    def open_bundle(self, path) -> None:
        """Load and check a bundle file in a worker, then add it to the picker and select it.

        The progress bar shows the check is running; a bad bundle gives a
        message in the dock and changes nothing.
        """
        from radgui.model.bundle import iter_load

        if self.loader.busy or self.task.busy:
            return
        self.message.setStyleSheet("")
        self.message.setText(f"Checking {Path(path).name}\N{HORIZONTAL ELLIPSIS}")
        self.message.show()
        self.progress.setRange(0, 0)  # busy indicator until the check ends
        self._loading = Path(path)
        self.predict_button.setEnabled(False)
        self.loader.start(iter_load, path)

    def _load_ended(self):
        self.progress.setRange(0, 100)
        self.predict_button.setEnabled(True)

    def _on_loaded(self, bundle):
        self._load_ended()
        path = self._loading
        self._bundles.append((bundle.name, bundle, path))
        self.model_combo.addItem(f"{bundle.name} ({path.name})")
        self.model_combo.setCurrentIndex(self.model_combo.count() - 1)

    def _on_load_error(self, exc):
        self._load_ended()
        self.progress.setValue(0)
        self._error(error_text(exc))

    def add_bundle(self, bundle, label: str | None = None) -> None:
        """Add an in-memory bundle (scripts, tests) and select it."""
        self._bundles.append((label or bundle.name, bundle, None))
        self.model_combo.addItem(label or bundle.name)
        self.model_combo.setCurrentIndex(self.model_combo.count() - 1)

    def _open_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open model bundle", "", "radgui model (*.radgui-model)")
        if path:
            self.open_bundle(path)

    def _model_changed(self, index: int):
        if index < 0 or index >= len(self._bundles):
            return
        label, bundle, path = self._bundles[index]
        if bundle is None:  # the shipped demo model (no skops payload: read at once)
            from radgui.model.bundle import ModelBundle

            try:
                bundle = ModelBundle.load(path)
            except RadguiError as exc:
                self._error(str(exc))
                return
            self._bundles[index] = (label, bundle, path)
        self.set_bundle(bundle)

    def set_bundle(self, bundle) -> None:
        """Show ``bundle``'s card and form and clear the last result."""
        from radgui.demo import DEMO_BANNER, is_demo

        self.bundle = bundle
        self.prediction = None
        self.banner.setText(f"\N{WARNING SIGN} {DEMO_BANNER}")
        self.banner.setVisible(is_demo(bundle))
        self.card.setText(model_card_html(bundle))
        self.form_box.build(bundle)
        unit = bundle.inputs.time_unit
        self.time_spin.setSuffix(f" {unit}" if unit else "")
        if bundle.reference_cohort is not None and len(bundle.reference_cohort):
            from radgui.plots.km_placement import KMPlacementDisplay

            default = KMPlacementDisplay(bundle).time_point  # the model's landmark
            if default is not None:
                self.time_spin.blockSignals(True)
                self.time_spin.setValue(float(default))
                self.time_spin.blockSignals(False)
        self._show_result(None)
        self.message.setText("")
        self.message.hide()

    # ------------------------------------------------------------------ form
    def set_clinical(self, values: dict) -> None:
        """Fill the form (as typing would); unknown names are ignored."""
        self.form_box.set_values(values)

    def fill_example(self) -> None:
        """Fill the form with the bundle's example clinical values (the demo model has some)."""
        if self.bundle is not None:
            self.set_clinical(self.bundle.inputs.example_clinical)

    def clinical_values(self) -> dict:
        """The form's raw values: name -> text (None when empty)."""
        return self.form_box.values()

    def validate_form(self) -> list[str]:
        """Check every field; show each problem under its field; return the messages."""
        return self.form_box.validate()

    # ------------------------------------------------------------------ ROIs
    def _refresh_rois(self, event=None):
        from radgui.gui.layers import roi_layers

        layers = roi_layers(self.viewer)
        for ly in layers.values():  # follow renames
            if id(ly) not in self._watched:
                ly.events.name.connect(self._refresh_rois)
                self._watched.add(id(ly))
        fill_roi_combo(self.roi_combo, list(layers))

    def _inputs(self):
        """(volumes, rois) for the engine, from the viewer's layers (:func:`radgui.model.patient.study_inputs`)."""
        from radgui.gui.layers import current_volume, image_layers, roi_layers
        from radgui.model.patient import split_images, study_inputs

        ct, pet = split_images(current_volume(self.viewer), [ly.metadata["volume"] for ly in image_layers(self.viewer)])
        rois = {name: (ly.metadata.get("volume"), np.asarray(ly.data) > 0)
                for name, ly in roi_layers(self.viewer).items()}
        return study_inputs(self.bundle, ct, pet, rois, chosen_roi=self.roi_combo.currentText())

    # ------------------------------------------------------------------ predict
    def predict(self) -> None:
        """Validate the form, then run the prediction in a worker (the Predict button)."""
        from radgui.model.patient import iter_predict

        if self.task.busy or self.loader.busy:
            return
        if self.bundle is None:
            self._error("choose a model first (demo model or Open bundle\N{HORIZONTAL ELLIPSIS})")
            return
        problems = self.validate_form()
        if problems:
            self._error("Prediction blocked: " + problems[0])
            return
        try:
            volumes, rois = self._inputs()
        except RadguiError as exc:
            self._error(str(exc))
            return
        clinical = {k: v for k, v in self.clinical_values().items() if v is not None}
        self.message.setStyleSheet("")
        self.message.setText("Predicting\N{HORIZONTAL ELLIPSIS}")
        self.message.show()
        self.task.start(iter_predict, self.bundle, volumes, rois, clinical)

    def cancel(self) -> None:
        """Stop the running prediction (or bundle check) at its next step (the Cancel button)."""
        self.task.cancel()
        self.loader.cancel()

    @property
    def busy(self) -> bool:
        """True while a prediction or a bundle check runs."""
        return self.task.busy or self.loader.busy

    @property
    def _worker(self):
        """The running worker, or None (tests wait for every dock's ``_worker``)."""
        return self.task.worker or self.loader.worker

    def _on_result(self, pred):
        self.message.setStyleSheet("")
        self.message.setText("")
        self.message.hide()
        self._show_result(pred)

    def _on_error(self, exc):
        self._error(error_text(exc))

    def _on_aborted(self):
        self._load_ended()
        self.message.setStyleSheet("")
        self.message.setText("Cancelled; nothing changed.")

    def _error(self, text: str):
        self.message.setStyleSheet(f"color:{RED}; font-weight:bold;")
        self.message.setText(text)
        self.message.show()
        try:
            from napari.utils.notifications import show_warning

            show_warning(text)
        except Exception:  # noqa: BLE001 - a notification must never break the dock
            pass

    # ------------------------------------------------------------------ results
    def _show_result(self, pred):
        self.prediction = pred
        self.result_panel.show_prediction(self.bundle, pred)
        self._draw_nomogram()
        self._draw_km()

    def _draw_nomogram(self):
        from radgui.plots.nomogram import NomogramDisplay

        self.nomogram_display = draw_display(self.nomogram_canvas, None if self.bundle is None else (
            lambda fig: NomogramDisplay(self.bundle, self.prediction, probability_label="Probability")
            .plot(ax=fig.add_axes((0.0, 0.0, 1.0, 1.0)), fontsize=7.0)))

    def _draw_km(self):
        from radgui.plots.km_placement import KMPlacementDisplay

        self.km_display = draw_display(self.km_canvas, None if self.bundle is None else (
            lambda fig: KMPlacementDisplay(self.bundle, self.prediction, time_point=self.time_spin.value())
            .plot(fig, fontsize=7.0)))

    # ------------------------------------------------------------------ export
    def export_figure(self, which: str, path) -> Path:
        """Save the nomogram (``"nomogram"``) or K-M panel (``"km"``) as PNG or SVG."""
        from radgui.plots.export import save_figure

        canvas = self.nomogram_canvas if which == "nomogram" else self.km_canvas
        return save_figure(canvas.figure, path)

    def write_report(self, path, paper: str = "a4"):
        """Write the patient report of the window's case (:func:`radgui.gui.presentation.write_report`)."""
        from radgui.gui.presentation import write_report

        return write_report(self.viewer, path, paper=paper)

    def _report_dialog(self):
        path, chosen = QFileDialog.getSaveFileName(self, "Patient report", "patient-report.pdf",
                                                   "PDF, A4 (*.pdf);;PDF, Letter (*.pdf)")
        if path:
            try:
                rep = self.write_report(path, "letter" if "Letter" in chosen else "a4")
                self.message.setStyleSheet("")
                self.message.setText(f"Saved {rep.pdf} and {len(rep.pngs)} PNG page(s)")
            except (RadguiError, OSError) as exc:
                self._error(str(exc))

    def _export_dialog(self, which: str):
        title = "Export nomogram" if which == "nomogram" else "Export K-M placement"
        path, _ = QFileDialog.getSaveFileName(self, title, f"{which}.png", "PNG image (*.png);;SVG image (*.svg)")
        if path:
            try:
                self.export_figure(which, path)
                self.message.setStyleSheet("")
                self.message.setText(f"Saved {path}")
            except (RadguiError, OSError) as exc:
                self._error(str(exc))


#: Width in pixels the Predict dock asks for (nomogram and K-M panel side by side with the canvas).
PREDICT_DOCK_WIDTH = 800


def show_predict_dock(viewer, width: int = PREDICT_DOCK_WIDTH) -> None:
    """Bring the Predict dock of a radgui window to the front of its tab group and widen its dock area."""
    from radgui.gui.app import show_dock

    if "Predict" in viewer.window.dock_widgets:
        show_dock(viewer, "Predict", width=width)
