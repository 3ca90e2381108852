"""The Predict dock: score the patient on screen with a model bundle.

Model picker (the shipped demo model and any bundle the user opens), a model
card (intended use, outcome, cohort, validation AUC, feature preset; a red
banner for the synthetic demo), a clinical form generated from the bundle's
predictors with inline validation, Predict in a worker (progress bar, Cancel),
the result (probability large, CI, risk group, Radscore), the nomogram with
this patient's values and points, and the Kaplan-Meier placement panel; both
figures export as PNG or SVG.

The dock only turns clicks into calls: the work is
:func:`radgui.model.patient.iter_predict`, the figures are
:class:`radgui.plots.nomogram.NomogramDisplay` and
:class:`radgui.plots.km_placement.KMPlacementDisplay`.
"""

from __future__ import annotations

import math
import types
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from radgui.errors import RadguiError
from radgui.files import atomic_path
from radgui.gui._qt import TaskRunner, error_text

_RED = "#b00020"
_ORANGE = "#b35900"
DEMO_LABEL = "Demo model (synthetic)"


def _fmt_pct(p) -> str:
    return "n/a" if p is None or not math.isfinite(p) else f"{100 * p:.1f}%"


def model_card_html(bundle) -> str:
    """The model card as rich text: intended use, outcome, cohort, validation AUC, preset."""
    from radgui.model.patient import bundle_preset

    prov = bundle.provenance or {}
    cohort = prov.get("cohort") if isinstance(prov.get("cohort"), dict) else {}
    n = cohort.get("n", prov.get("n_patients", prov.get("n")))
    events = cohort.get("events", prov.get("n_events", prov.get("events")))
    val = prov.get("validation") if isinstance(prov.get("validation"), dict) else {}
    metrics = prov.get("metrics") if isinstance(prov.get("metrics"), dict) else {}
    auc = val.get("auc", metrics.get("auc"))
    lo = val.get("auc_ci_low", (val.get("ci") or [None, None])[0] if isinstance(val.get("ci"), list) else None)
    hi = val.get("auc_ci_high", (val.get("ci") or [None, None])[1] if isinstance(val.get("ci"), list) else None)
    if isinstance(auc, (int, float)):
        auc_txt = f"{auc:.2f}" + (f" (95% CI {lo:.2f}-{hi:.2f})" if isinstance(lo, (int, float))
                                  and isinstance(hi, (int, float)) else "")
        if val.get("method"):
            auc_txt += f", {val['method']}"
    else:
        auc_txt = "not stated"
    cohort_txt = "not stated" if n is None else f"{n} patients" + (f", {events} events" if events is not None else "")
    terms = ", ".join(p.label or p.name for p in bundle.clinical_predictors)
    n_rad = len(bundle.radiomics_features)
    rows = [
        ("Intended use", bundle.intended_use),
        ("Outcome", str(bundle.outcome.get("name", ""))),
        ("Cohort", cohort_txt),
        ("Validation AUC", auc_txt),
        ("Feature preset", bundle_preset(bundle) or "not stated"),
        ("Predictors", f"Radscore of {n_rad} feature(s)" + (f"; {terms}" if terms else "")),
    ]
    body = "".join(f"<tr><td><b>{k}</b>&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
    return f"<b>{bundle.name}</b><table>{body}</table>"


class PredictDock(QWidget):
    """Predict the outcome of the patient on screen (see the module docstring).

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

    def __init__(self, viewer):
        super().__init__()
        self.viewer = viewer
        self.bundle = None
        self.prediction = None
        self.fields: dict[str, QWidget] = {}
        self.field_errors: dict[str, QLabel] = {}
        self._bundles: list = []  # (label, bundle or None, path)
        self._watched: set[int] = set()
        self.nomogram_display = None
        self.km_display = None

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        outer.addWidget(scroll)
        inner = QWidget()
        scroll.setWidget(inner)
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

        # model picker
        row = QHBoxLayout()
        row.addWidget(QLabel("Model:"))
        self.model_combo = QComboBox()
        self.model_combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        row.addWidget(self.model_combo, 1)
        self.open_button = QPushButton("Open bundle\N{HORIZONTAL ELLIPSIS}")
        self.open_button.setToolTip("Open a *.radgui-model bundle")
        self.open_button.clicked.connect(self._open_dialog)
        row.addWidget(self.open_button)
        left.addLayout(row)
        self.banner = QLabel()
        self.banner.setStyleSheet(f"background:{_RED}; color:white; font-weight:bold; padding:3px;")
        self.banner.setAlignment(Qt.AlignCenter)
        self.banner.hide()
        left.addWidget(self.banner)
        self.card = QLabel()
        self.card.setWordWrap(True)
        self.card.setTextFormat(Qt.RichText)
        self.card.setStyleSheet("font-size: 9pt;")
        left.addWidget(self.card)
        left.addStretch(1)

        # predict + result
        buttons = QHBoxLayout()
        self.predict_button = QPushButton("Predict")
        self.predict_button.setStyleSheet("font-weight:bold; padding:4px 14px;")
        self.predict_button.clicked.connect(self.predict)
        buttons.addWidget(self.predict_button)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.cancel_button)
        right.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setMaximumHeight(18)
        right.addWidget(self.progress)
        self.task = TaskRunner(self.predict_button, self.cancel_button, self.progress, on_result=self._on_result,
                               on_failure=self._on_error, on_cancelled=self._on_aborted)
        self.message = QLabel()
        self.message.setWordWrap(True)
        right.addWidget(self.message)
        self.probability_label = QLabel("\N{EM DASH}")
        # a style sheet, not setFont: napari's application style sheet would override the font
        self.probability_label.setStyleSheet("font-size: 26pt; font-weight: bold;")
        self.probability_label.setAlignment(Qt.AlignCenter)
        right.addWidget(self.probability_label)
        self.outcome_label = QLabel()
        self.outcome_label.setAlignment(Qt.AlignCenter)
        self.outcome_label.setWordWrap(True)
        right.addWidget(self.outcome_label)
        self.ci_label = QLabel()
        self.ci_label.setAlignment(Qt.AlignCenter)
        right.addWidget(self.ci_label)
        self.risk_label = QLabel()
        self.risk_label.setAlignment(Qt.AlignCenter)
        right.addWidget(self.risk_label)
        self.radscore_label = QLabel()
        self.radscore_label.setAlignment(Qt.AlignCenter)
        right.addWidget(self.radscore_label)
        self.warnings_label = QLabel()
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet(f"color:{_ORANGE}; font-size:8pt;")
        right.addWidget(self.warnings_label)
        right.addStretch(1)

        # clinical form (one row of fields) and the tumour ROI
        self.form_box = QGroupBox("Clinical values")
        self.form = QGridLayout(self.form_box)
        self.form.setContentsMargins(6, 2, 6, 2)
        self.form.setVerticalSpacing(1)
        root.addWidget(self.form_box)
        self.roi_combo = QComboBox()
        self.roi_combo.setToolTip("ROI layer used for the model's (unprefixed) radiomics features")

        # nomogram
        nomo_head = QHBoxLayout()
        nomo_head.addWidget(QLabel("<b>Nomogram</b>"))
        nomo_head.addStretch(1)
        self.export_nomogram_button = QPushButton("Export\N{HORIZONTAL ELLIPSIS}")
        self.export_nomogram_button.setToolTip("Save the nomogram as PNG or SVG")
        self.export_nomogram_button.clicked.connect(lambda: self._export_dialog("nomogram"))
        nomo_head.addWidget(self.export_nomogram_button)
        root.addLayout(nomo_head)
        self.nomogram_canvas = FigureCanvasQTAgg(Figure(figsize=(8, 3.2)))
        self.nomogram_canvas.setFixedHeight(235)
        root.addWidget(self.nomogram_canvas)

        # K-M placement
        km_head = QHBoxLayout()
        km_head.addWidget(QLabel("<b>Kaplan-Meier placement</b>"))
        km_head.addStretch(1)
        km_head.addWidget(QLabel("event-free rate at"))
        self.time_spin = QDoubleSpinBox()
        self.time_spin.setRange(0.0, 1e6)
        self.time_spin.setDecimals(1)
        self.time_spin.setValue(12.0)
        self.time_spin.setKeyboardTracking(False)
        self.time_spin.valueChanged.connect(lambda _v: self._draw_km())
        km_head.addWidget(self.time_spin)
        self.export_km_button = QPushButton("Export\N{HORIZONTAL ELLIPSIS}")
        self.export_km_button.setToolTip("Save the K-M placement panel as PNG or SVG")
        self.export_km_button.clicked.connect(lambda: self._export_dialog("km"))
        km_head.addWidget(self.export_km_button)
        root.addLayout(km_head)
        self.km_canvas = FigureCanvasQTAgg(Figure(figsize=(8, 3.4)))
        self.km_canvas.setFixedHeight(335)
        root.addWidget(self.km_canvas)

        self._add_demo()
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        viewer.layers.events.inserted.connect(self._refresh_rois)
        viewer.layers.events.removed.connect(self._refresh_rois)
        self._refresh_rois()
        if self._bundles:
            self._model_changed(0)

    # ------------------------------------------------------------------ models
    def _add_demo(self):
        from radgui.demo import demo_model_path

        path = demo_model_path()
        if path.is_file():
            self._bundles.append((DEMO_LABEL, None, path))
            self.model_combo.addItem(DEMO_LABEL)

    def open_bundle(self, path) -> None:
        """Load a bundle file, add it to the picker and select it.

        A bad bundle gives a message in the dock and changes nothing.
        """
        from radgui.model.bundle import ModelBundle

        try:
            bundle = ModelBundle.load(path)
        except RadguiError as exc:
            self._error(str(exc))
            return
        self._bundles.append((bundle.name, bundle, Path(path)))
        self.model_combo.addItem(f"{bundle.name} ({Path(path).name})")
        self.model_combo.setCurrentIndex(self.model_combo.count() - 1)

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
        if bundle is None:
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
        demo = is_demo(bundle)
        self.banner.setText(f"\N{WARNING SIGN} {DEMO_BANNER}")
        self.banner.setVisible(demo)
        self.card.setText(model_card_html(bundle))
        self._build_form(bundle)
        meta = (bundle.provenance or {}).get("reference_cohort") or {}
        unit = meta.get("time_unit", "") if isinstance(meta, dict) else ""
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
    def _build_form(self, bundle):
        while self.form.count():
            item = self.form.takeAt(0)
            w = item.widget()
            if w is not None and w is not self.roi_combo:
                w.deleteLater()
        self.fields.clear()
        self.field_errors.clear()
        preds = bundle.clinical_predictors
        if not preds:
            self.form.addWidget(QLabel("This model needs no clinical values."), 0, 0, 1, 2)
        k = len(preds) if preds else 3  # the ROI picker takes the next free cell of the grid
        r, col = 2 * (k // 3), 2 * (k % 3)
        self.form.addWidget(QLabel("Tumour ROI:"), r, col)
        self.form.addWidget(self.roi_combo, r, col + 1, 1, 6 - col - 1)
        for i, p in enumerate(preds):
            unit = f" ({p.unit})" if p.unit else ""
            label = QLabel(f"{p.label or p.name}{unit}:")
            if p.type == "categorical":
                w = QComboBox()
                w.addItem("")
                w.addItems(list(p.categories))
                w.setToolTip(f"one of {', '.join(p.categories)}")
                w.currentIndexChanged.connect(lambda _i, name=p.name: self._validate_field(name))
            else:
                w = QLineEdit()
                rng = []
                if p.min is not None:
                    rng.append(f"{p.min:g}")
                if p.max is not None:
                    rng.append(f"{p.max:g}")
                w.setPlaceholderText(" to ".join(rng) + (f" {p.unit}" if p.unit else "") if rng else "number")
                w.setToolTip(f"allowed {' to '.join(rng)}{unit}" if rng else "a number")
                w.textChanged.connect(lambda _t, name=p.name: self._validate_field(name))
            w.setObjectName(f"clinical_{p.name}")
            err = QLabel()
            err.setStyleSheet(f"color:{_RED}; font-size:8pt;")
            err.setWordWrap(True)
            err.hide()
            col = 2 * (i % 3)
            r = 2 * (i // 3)
            self.form.addWidget(label, r, col)
            self.form.addWidget(w, r, col + 1)
            self.form.addWidget(err, r + 1, col, 1, 2)
            self.fields[p.name] = w
            self.field_errors[p.name] = err

    def set_clinical(self, values: dict) -> None:
        """Fill the form (as typing would); unknown names are ignored."""
        for name, v in values.items():
            w = self.fields.get(name)
            if w is None:
                continue
            if isinstance(w, QComboBox):
                idx = w.findText("" if v is None else str(v))
                w.setCurrentIndex(max(idx, 0))
            else:
                w.setText("" if v is None else str(v))

    def fill_example(self) -> None:
        """Fill the form with the bundle's example clinical values (the demo model has some)."""
        ex = (self.bundle.provenance or {}).get("example_clinical") if self.bundle else None
        if isinstance(ex, dict):
            self.set_clinical(ex)

    def clinical_values(self) -> dict:
        """The form's raw values: name -> text (None when empty)."""
        out = {}
        for name, w in self.fields.items():
            text = w.currentText() if isinstance(w, QComboBox) else w.text()
            out[name] = text.strip() or None
        return out

    def _validate_field(self, name: str) -> str | None:
        """Inline check of one field with the engine's rules; returns the problem or None."""
        from radgui.model.predict import check_clinical

        p = self.bundle.predictor(name)
        raw = self.clinical_values().get(name)
        err = self.field_errors[name]
        try:
            check_clinical(types.SimpleNamespace(clinical_predictors=[p]), {name: raw})
        except RadguiError as exc:
            msg = str(exc)
            err.setText(msg)
            err.setVisible(raw is not None or err.isVisible())
            return msg
        err.setText("")
        err.hide()
        return None

    def validate_form(self) -> list[str]:
        """Check every field; show each problem under its field; return the messages."""
        problems = []
        for name in self.fields:
            msg = self._validate_field(name)
            if msg:
                self.field_errors[name].show()
                problems.append(msg)
        return problems

    # ------------------------------------------------------------------ ROIs
    def _refresh_rois(self, event=None):
        from radgui.gui.layers import roi_layers

        current = self.roi_combo.currentText()
        layers = roi_layers(self.viewer)
        for ly in layers.values():  # follow renames
            if id(ly) not in self._watched:
                ly.events.name.connect(self._refresh_rois)
                self._watched.add(id(ly))
        names = list(layers)
        self.roi_combo.blockSignals(True)
        self.roi_combo.clear()
        self.roi_combo.addItems(names)
        if current in names:
            self.roi_combo.setCurrentText(current)
        elif "tumour" in names:
            self.roi_combo.setCurrentText("tumour")
        self.roi_combo.blockSignals(False)

    def _inputs(self):
        """(volumes, rois) for the engine, from the viewer's layers."""
        from radgui.gui.layers import current_volume, image_layers, roi_layers

        volume = current_volume(self.viewer)
        if volume is not None and volume.modality == "PT":
            others = [ly.metadata["volume"] for ly in image_layers(self.viewer)
                      if ly.metadata["volume"].modality != "PT"]
            pet, volume = volume, (others[-1] if others else None)
        else:
            pets = [ly.metadata["volume"] for ly in image_layers(self.viewer)
                    if ly.metadata["volume"].modality == "PT"]
            pet = pets[-1] if pets else None
        if volume is None and pet is None:
            raise RadguiError("open an image first (File > Open, or drag an image onto the window)")
        layers = roi_layers(self.viewer)
        rois = {}
        for name, ly in layers.items():
            vol = ly.metadata.get("volume")
            mask = np.asarray(ly.data) > 0
            if pet is not None and vol is pet:
                rois[name] = (pet, mask)
            else:
                rois[name] = mask
        # The chosen layer provides the model's unprefixed (single-ROI) features.
        from radgui.model.patient import ROI_SEP

        chosen = self.roi_combo.currentText()
        if chosen in rois and any(ROI_SEP not in f for f in self.bundle.radiomics_features):
            wanted = (self.bundle.provenance or {}).get("roi")
            rois[wanted if isinstance(wanted, str) and wanted else "tumour"] = rois[chosen]
        volumes = {"CT": volume, "PT": pet} if pet is not None else volume
        if volume is None:
            volumes = {"PT": pet}
        return volumes, rois

    # ------------------------------------------------------------------ predict
    def predict(self) -> None:
        """Validate the form, then run the prediction in a worker (the Predict button)."""
        from radgui.model.patient import iter_predict

        if self.task.busy:
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
        """Stop the running prediction at its next step (the Cancel button)."""
        self.task.cancel()

    @property
    def busy(self) -> bool:
        """True while a prediction runs."""
        return self.task.busy

    @property
    def _worker(self):
        """The running worker, or None (tests wait for every dock's ``_worker``)."""
        return self.task.worker

    def _on_result(self, pred):
        self.message.setStyleSheet("")
        self.message.setText("")
        self.message.hide()
        self._show_result(pred)

    def _on_error(self, exc):
        self._error(error_text(exc))

    def _on_aborted(self):
        self.message.setStyleSheet("")
        self.message.setText("Cancelled; nothing changed.")

    def _error(self, text: str):
        self.message.setStyleSheet(f"color:{_RED}; font-weight:bold;")
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
        b = self.bundle
        if pred is None:
            self.probability_label.setText("\N{EM DASH}")
            self.outcome_label.setText(f"P({b.outcome.get('name', 'outcome')})" if b else "")
            for lab in (self.ci_label, self.risk_label, self.radscore_label, self.warnings_label):
                lab.setText("")
        else:
            self.probability_label.setText(_fmt_pct(pred.probability))
            self.outcome_label.setText(f"probability of {b.outcome.get('name', 'the outcome')}")
            lvl = f"{100 * pred.level:g}%"
            if pred.ci_low is not None and math.isfinite(pred.ci_low):
                self.ci_label.setText(f"{lvl} CI {_fmt_pct(pred.ci_low)} \N{EN DASH} {_fmt_pct(pred.ci_high)}")
            else:
                self.ci_label.setText(f"{lvl} CI not available")
            if pred.risk_group is not None:
                c = b.cutoff
                scale = "p" if c["scale"] == "probability" else "LP"
                from radgui.model.config import is_worse_group, risk_group_label

                direction = b.outcome.get("direction", "adverse")  # favourable: "High probability of response"
                colour = _RED if is_worse_group(pred.risk_group, direction) else "#1f5fa0"
                self.risk_label.setText(f"<span style='color:{colour}; font-size:14pt; font-weight:bold'>"
                                        f"{risk_group_label(pred.risk_group, direction, b.outcome.get('name', 'the outcome'))}</span>"
                                        f" (cutoff {scale} \N{GREATER-THAN OR EQUAL TO} {c['value']:.3g})")
            else:
                self.risk_label.setText("no risk cutoff in this model")
            parts = []
            if pred.radscore is not None:
                parts.append(f"Radscore {pred.radscore:.3f}")
            if pred.total_points is not None:
                parts.append(f"{pred.total_points:.0f} points")
            if pred.percentile is not None:
                parts.append(f"{pred.percentile:.0f}th percentile")
            self.radscore_label.setText(" \N{MIDDLE DOT} ".join(parts))
            self.warnings_label.setText("\n".join(f"\N{WARNING SIGN} {w}" for w in pred.warnings))
        self._draw_nomogram()
        self._draw_km()

    def _draw_nomogram(self):
        from radgui.plots.nomogram import NomogramDisplay

        fig = self.nomogram_canvas.figure
        fig.clear()
        self.nomogram_display = None
        if self.bundle is not None:
            try:
                ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
                self.nomogram_display = NomogramDisplay(self.bundle, self.prediction,
                                                         probability_label="Probability").plot(ax=ax, fontsize=7.0)
            except RadguiError as exc:
                fig.clear()
                fig.text(0.5, 0.5, str(exc), ha="center", va="center", wrap=True, fontsize=8)
        self.nomogram_canvas.draw_idle()

    def _draw_km(self):
        from radgui.plots.km_placement import KMPlacementDisplay

        fig = self.km_canvas.figure
        fig.clear()
        self.km_display = None
        if self.bundle is not None:
            try:
                self.km_display = KMPlacementDisplay(self.bundle, self.prediction,
                                                     time_point=self.time_spin.value()).plot(fig, fontsize=7.0)
            except RadguiError as exc:
                fig.clear()
                fig.text(0.5, 0.5, str(exc), ha="center", va="center", wrap=True, fontsize=8)
        self.km_canvas.draw_idle()

    # ------------------------------------------------------------------ export
    def export_figure(self, which: str, path) -> Path:
        """Save the nomogram (``"nomogram"``) or K-M panel (``"km"``) as PNG or SVG."""
        path = Path(path)
        if path.suffix.lower() not in (".png", ".svg"):
            raise RadguiError("figures are exported as .png or .svg", path)
        canvas = self.nomogram_canvas if which == "nomogram" else self.km_canvas
        with atomic_path(path) as tmp:  # the temporary name keeps the suffix that picks the format
            canvas.figure.savefig(tmp, dpi=200 if path.suffix.lower() == ".png" else None, facecolor="white")
        return path

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
    """Bring the Predict dock to the front of its tab group and widen its dock area."""
    from qtpy.QtWidgets import QApplication, QDockWidget

    try:
        from radgui.gui.app import show_dock
    except ImportError:  # an older main window without tabbed docks
        show_dock = None
    if show_dock is not None and "Predict" in getattr(viewer.window, "radgui_dock_widgets", {}):
        show_dock(viewer, "Predict", width=width)
        return
    window = viewer.window._qt_window
    QApplication.processEvents()  # docks must be laid out before they can be tabbed
    target = None
    for dock in window.findChildren(QDockWidget):
        if dock.widget() is not None and dock.widget().findChild(PredictDock) is not None \
                or isinstance(dock.widget(), PredictDock):
            target = dock
            break
    if target is None:
        return
    area = window.dockWidgetArea(target)
    for dock in window.findChildren(QDockWidget):
        if dock is not target and not dock.isHidden() and window.dockWidgetArea(dock) == area:
            window.tabifyDockWidget(target, dock)
    target.show()
    target.raise_()
    from qtpy.QtCore import Qt

    window.resizeDocks([target], [width], Qt.Horizontal)
