"""Widgets of the Predict dock: the clinical form, the result panel, a figure panel.

Each only shows what the engine says: the form checks a field with
:func:`radgui.model.predict.check_clinical_value`, the result panel prints a
:class:`~radgui.model.predict.Prediction` and the group names of
:func:`radgui.model.config.risk_group_label`.
"""

from __future__ import annotations

import html
import math

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from radgui.errors import RadguiError

RED = "#b00020"
ORANGE = "#b35900"
BLUE = "#1f5fa0"


def fmt_pct(p) -> str:
    """A probability as a percentage with one decimal; "n/a" when missing or not finite (as the report prints it)."""
    from radgui.plots.km_placement import probability_text

    return probability_text(p)


def model_card_html(bundle) -> str:
    """The model card (:meth:`ModelBundle.card`) as rich text; the bundle's own text is escaped."""
    card = bundle.card()
    ref = bundle.reference_cohort
    rows = [(k, v + (f" (curves: {len(ref)})" if k == "Cohort" and ref is not None and len(ref) else ""))
            for k, v in card.rows()]
    body = "".join(f"<tr><td><b>{k}</b>&nbsp;</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<b>{html.escape(card.name)}</b><table>{body}</table>"


def time_box(on_change) -> QDoubleSpinBox:
    """The K-M panel's event-free time box (default 12), calling ``on_change()`` when set."""
    box = QDoubleSpinBox()
    box.setRange(0.0, 1e6)
    box.setDecimals(1)
    box.setValue(12.0)
    box.setKeyboardTracking(False)
    box.valueChanged.connect(lambda _v: on_change())
    return box


def label(style: str = "", text: str = "", center: bool = False) -> QLabel:
    """A word-wrapped QLabel with a style sheet."""
    lab = QLabel(text)
    lab.setStyleSheet(style)
    lab.setWordWrap(True)
    if center:
        lab.setAlignment(Qt.AlignCenter)
    return lab


def button(text: str, slot, tip: str = "", style: str = "") -> QPushButton:
    """A QPushButton with its tooltip and style, ``clicked`` connected to ``slot``."""
    b = QPushButton(text)
    b.setToolTip(tip)
    b.setStyleSheet(style)
    b.clicked.connect(slot)
    return b


def run_controls(layout, on_run, on_cancel):
    """Predict and Cancel buttons side by side over a progress bar, added to ``layout``; returns all three."""
    from qtpy.QtWidgets import QProgressBar

    row = QHBoxLayout()
    run_b = button("Predict", on_run, style="font-weight:bold; padding:4px 14px;")
    cancel_b = button("Cancel", on_cancel)
    row.addWidget(run_b)
    row.addWidget(cancel_b)
    layout.addLayout(row)
    bar = QProgressBar()
    bar.setRange(0, 100)
    bar.setValue(0)
    bar.setTextVisible(True)
    bar.setMaximumHeight(18)
    layout.addWidget(bar)
    return run_b, cancel_b, bar


def model_header(layout, on_open, on_report):
    """The model picker row, the demo banner, the model card and the report button, added to ``layout``.

    Returns ``(model_combo, open_button, banner, card, report_button)``.
    """
    from qtpy.QtWidgets import QSizePolicy

    row = QHBoxLayout()
    row.addWidget(QLabel("Model:"))
    combo = QComboBox()
    combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
    row.addWidget(combo, 1)
    open_button = button("Open bundle\N{HORIZONTAL ELLIPSIS}", on_open, "Open a *.radgui-model bundle")
    row.addWidget(open_button)
    layout.addLayout(row)
    banner = label(f"background:{RED}; color:white; font-weight:bold; padding:3px;", center=True)
    banner.hide()
    layout.addWidget(banner)
    card = label("font-size: 9pt;")
    card.setTextFormat(Qt.RichText)
    layout.addWidget(card)
    report_button = button("Patient report\N{HORIZONTAL ELLIPSIS}", on_report,
                           "Write the patient report (PDF and PNG pages, pseudonymous) of this case")
    layout.addWidget(report_button)
    layout.addStretch(1)
    return combo, open_button, banner, card, report_button


def fill_roi_combo(combo: QComboBox, names: list[str]) -> None:
    """Show ROI ``names`` in ``combo``, keeping its choice (else ``tumour``), without emitting signals."""
    current = combo.currentText()
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(names)
    if current in names:
        combo.setCurrentText(current)
    elif "tumour" in names:
        combo.setCurrentText("tumour")
    combo.blockSignals(False)


class ClinicalForm(QGroupBox):
    """The clinical values a bundle needs (three per row) and the tumour-ROI picker, checked as typed.

    Attributes
    ----------
    fields : dict
        Predictor name -> its input widget (QComboBox or QLineEdit).
    field_errors : dict
        Predictor name -> the QLabel under it that shows the field's problem.
    """

    def __init__(self, roi_combo: QComboBox):
        super().__init__("Clinical values")
        self.roi_combo = roi_combo
        self.bundle = None
        self.fields: dict[str, QWidget] = {}
        self.field_errors: dict[str, QLabel] = {}
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(6, 2, 6, 2)
        self.grid.setVerticalSpacing(1)

    def build(self, bundle) -> None:
        """One field per clinical predictor of ``bundle`` (the old fields are removed)."""
        self.bundle = bundle
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None and w is not self.roi_combo:
                w.deleteLater()
        self.fields.clear()
        self.field_errors.clear()
        preds = bundle.clinical_predictors
        if not preds:
            self.grid.addWidget(QLabel("This model needs no clinical values."), 0, 0, 1, 2)
        k = len(preds) if preds else 3  # the ROI picker takes the next free cell of the grid
        r, col = 2 * (k // 3), 2 * (k % 3)
        self.grid.addWidget(QLabel("Tumour ROI:"), r, col)
        self.grid.addWidget(self.roi_combo, r, col + 1, 1, 6 - col - 1)
        for i, p in enumerate(preds):
            unit = f" ({p.unit})" if p.unit else ""
            if p.type == "categorical":
                w = QComboBox()
                w.addItem("")
                w.addItems(list(p.categories))
                w.setToolTip(f"one of {', '.join(p.categories)}")
                w.currentIndexChanged.connect(lambda _i, name=p.name: self.validate_field(name))
            else:
                w = QLineEdit()
                rng = [f"{v:g}" for v in (p.min, p.max) if v is not None]
                w.setPlaceholderText(" to ".join(rng) + (f" {p.unit}" if p.unit else "") if rng else "number")
                w.setToolTip(f"allowed {' to '.join(rng)}{unit}" if rng else "a number")
                w.textChanged.connect(lambda _t, name=p.name: self.validate_field(name))
            w.setObjectName(f"clinical_{p.name}")
            err = QLabel()
            err.setStyleSheet(f"color:{RED}; font-size:8pt;")
            err.setWordWrap(True)
            err.hide()
            col, r = 2 * (i % 3), 2 * (i // 3)
            text = p.label or p.name
            self.grid.addWidget(QLabel(f"{text}{'' if unit and text.endswith(unit) else unit}:"), r, col)
            self.grid.addWidget(w, r, col + 1)
            self.grid.addWidget(err, r + 1, col, 1, 2)
            self.fields[p.name] = w
            self.field_errors[p.name] = err

    def set_values(self, values: dict) -> None:
        """Fill the form (as typing would); unknown names are ignored."""
        for name, v in values.items():
            w = self.fields.get(name)
            if isinstance(w, QComboBox):
                w.setCurrentIndex(max(w.findText("" if v is None else str(v)), 0))
            elif w is not None:
                w.setText("" if v is None else str(v))

    def values(self) -> dict:
        """The form's raw values: name -> text (None when empty)."""
        return {name: (w.currentText() if isinstance(w, QComboBox) else w.text()).strip() or None
                for name, w in self.fields.items()}

    def validate_field(self, name: str) -> str | None:
        """Inline check of one field with the engine's rules; returns the problem or None."""
        from radgui.model.predict import check_clinical_value

        raw = self.values().get(name)
        err = self.field_errors[name]
        try:
            check_clinical_value(self.bundle.predictor(name), raw)
        except RadguiError as exc:
            err.setText(str(exc))
            err.setVisible(raw is not None or err.isVisible())
            return str(exc)
        err.setText("")
        err.hide()
        return None

    def validate(self) -> list[str]:
        """Check every field; show each problem under its field; return the messages."""
        problems = []
        for name in self.fields:
            msg = self.validate_field(name)
            if msg:
                self.field_errors[name].show()
                problems.append(msg)
        return problems


class ResultPanel(QWidget):
    """Probability (large), its CI, the risk group, Radscore / points / percentile, warnings."""

    def __init__(self):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # a style sheet, not setFont: napari's application style sheet would override the font
        self.probability_label = label("font-size: 26pt; font-weight: bold;", "\N{EM DASH}", center=True)
        self.outcome_label = label(center=True)
        self.ci_label = label(center=True)
        self.risk_label = label(center=True)
        self.radscore_label = label(center=True)
        self.warnings_label = label(f"color:{ORANGE}; font-size:8pt;")
        for lab in (self.probability_label, self.outcome_label, self.ci_label, self.risk_label, self.radscore_label,
                    self.warnings_label):
            layout.addWidget(lab)

    def show_prediction(self, bundle, pred) -> None:
        """Show ``pred`` of ``bundle`` (``pred`` None: clear)."""
        name = bundle.outcome.get("name", "the outcome") if bundle else ""
        if pred is None:
            self.probability_label.setText("\N{EM DASH}")
            self.outcome_label.setText(f"P({bundle.outcome.get('name', 'outcome')})" if bundle else "")
            for lab in (self.ci_label, self.risk_label, self.radscore_label, self.warnings_label):
                lab.setText("")
            return
        self.probability_label.setText(fmt_pct(pred.probability))
        self.outcome_label.setText(f"probability of {name}")
        lvl = f"{100 * pred.level:g}%"
        if pred.ci_low is not None and math.isfinite(pred.ci_low):
            self.ci_label.setText(f"{lvl} CI {fmt_pct(pred.ci_low)} \N{EN DASH} {fmt_pct(pred.ci_high)}")
        else:
            self.ci_label.setText(f"{lvl} CI not available")
        if pred.risk_group is not None:
            from radgui.model.config import is_worse_group, risk_group_label

            c = bundle.cutoff
            scale = "p" if c["scale"] == "probability" else "LP"
            direction = bundle.outcome.get("direction", "adverse")  # favourable: "High probability of response"
            colour = RED if is_worse_group(pred.risk_group, direction) else BLUE
            self.risk_label.setText(f"<span style='color:{colour}; font-size:14pt; font-weight:bold'>"
                                    f"{risk_group_label(pred.risk_group, direction, name)}</span>"
                                    f" (cutoff {scale} \N{GREATER-THAN OR EQUAL TO} {c['value']:.3g})")
        else:
            self.risk_label.setText("no risk cutoff in this model")
        parts = []
        if pred.radscore is not None:
            parts.append(f"Radscore {pred.radscore:.3f}")
        if pred.total_points is not None:
            parts.append(f"{pred.total_points:.0f} points")
        if pred.percentile is not None:
            from radgui.plots.km_placement import percentile_text

            parts.append(percentile_text(pred.percentile).replace("Linear predictor", "LP"))
        self.radscore_label.setText("<span style='font-size:8pt'>" + html.escape(" \N{MIDDLE DOT} ".join(parts))
                                    + "</span>")
        self.warnings_label.setText("\n".join(f"\N{WARNING SIGN} {w}" for w in pred.warnings))


def figure_panel(layout, title: str, figsize, height: int, on_export, tip: str, extra=()):
    """A bold title, ``extra`` widgets and an Export button over a fixed-height figure canvas.

    Returns ``(canvas, export_button)``.
    """
    head = QHBoxLayout()
    head.addWidget(QLabel(f"<b>{title}</b>"))
    head.addStretch(1)
    for w in extra:
        head.addWidget(w)
    export = button("Export\N{HORIZONTAL ELLIPSIS}", on_export, tip)
    head.addWidget(export)
    layout.addLayout(head)
    canvas = FigureCanvasQTAgg(Figure(figsize=figsize))
    canvas.setFixedHeight(height)
    layout.addWidget(canvas)
    return canvas, export


def draw_display(canvas, make) -> object | None:
    """Redraw ``canvas`` with ``make(figure)`` (a plots Display; None: leave it blank).

    A RadguiError is written on the figure instead; returns the display or None.
    """
    fig = canvas.figure
    fig.clear()
    display = None
    try:
        display = None if make is None else make(fig)
    except RadguiError as exc:
        fig.clear()
        fig.text(0.5, 0.5, str(exc), ha="center", va="center", wrap=True, fontsize=8)
    canvas.draw_idle()
    return display
