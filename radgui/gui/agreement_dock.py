"""Agreement dock: inter-/intra-reader agreement of a reader study.

Runs :func:`radgui.study.iter_study_agreement` in a
:class:`~radgui.gui._qt.TaskRunner` (progress bar, Cancel) and shows the
per-feature ICC table, the ICC histogram
(:class:`radgui.study.IccHistogramDisplay`) and Dice / HD95 per case and
pair of readers; Export writes the engine's outputs
(:meth:`radgui.study.AgreementResult.write`) into a folder. The study is
opened inside the worker (an SQLite connection stays in its thread).
"""

from __future__ import annotations

import math
from pathlib import Path

from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from radgui.errors import RadguiError
from radgui.gui._qt import TaskRunner, button, error_text

FORMS = ["ICC(2,1)", "ICC(3,1)", "ICC(1,1)"]


def _agreement_job(folder, **kwargs):
    from radgui.study import Study, iter_study_agreement

    study = Study.open(folder)
    try:
        return (yield from iter_study_agreement(study, **kwargs))
    finally:
        study.close()


def _fmt(v, digits=3) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "\N{EM DASH}" if not math.isfinite(f) else f"{f:.{digits}f}"


class AgreementDock(QWidget):
    """Study folder, preset, ICC form and threshold; Run / Cancel; ICC table, histogram, Dice/HD95; Export."""

    def __init__(self, napari_viewer):
        # napari hands the viewer only to a parameter named ``napari_viewer``.
        super().__init__()
        viewer = napari_viewer
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        from radgui.features.presets import presets

        self.viewer = viewer
        self.setObjectName("radgui_agreement")
        self.study_folder: Path | None = None
        self.result = None
        self.extractor = None  # scripts/tests: extractor(volume, mask, roi) -> {feature: value}
        layout = QVBoxLayout(self)
        form = QFormLayout()
        row = QHBoxLayout()
        self.study_label = QLabel("no study open")
        self.open_button = button("Open study\N{HORIZONTAL ELLIPSIS}", "Choose a reader-study folder",
                                  self.open_study_dialog)
        row.addWidget(self.study_label, 1)
        row.addWidget(self.open_button)
        form.addRow("Study", row)
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(presets())
        i = self.preset_combo.findText("ct-original")
        if i >= 0:
            self.preset_combo.setCurrentIndex(i)
        self.preset_combo.setToolTip("Feature preset the ICCs are computed on")
        form.addRow("Preset", self.preset_combo)
        self.form_combo = QComboBox()
        self.form_combo.addItems(FORMS)
        self.form_combo.setToolTip("ICC(2,1): absolute agreement (default); ICC(3,1): consistency")
        form.addRow("ICC form", self.form_combo)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(0.75)
        self.threshold.setToolTip("Features with ICC at or above this are kept as reproducible")
        form.addRow("Keep ICC \N{GREATER-THAN OR EQUAL TO}", self.threshold)
        self.repeat_reader = QLineEdit()
        self.repeat_reader.setPlaceholderText("(inter-reader) or a reader name for intra-reader")
        form.addRow("Repeat reader", self.repeat_reader)
        layout.addLayout(form)
        self.progress = QProgressBar()
        row = QHBoxLayout()
        self.run_button = button("Compute agreement", "Extract features of every reader's segmentation and "
                                 "compute ICCs, Dice and HD95", self.run)
        self.cancel_button = button("Cancel", "Stop; nothing is shown or written", self.cancel)
        self.export_button = button("Export\N{HORIZONTAL ELLIPSIS}", "Write icc.csv, icc_table.csv, "
                                    "kept_features.txt, overlap.csv, features.csv and the histogram to a folder",
                                    self.export_dialog)
        self.export_button.setEnabled(False)
        row.addWidget(self.run_button, 1)
        row.addWidget(self.cancel_button)
        row.addWidget(self.export_button)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.icc_table = QTableWidget(0, 4)
        self.icc_table.setHorizontalHeaderLabels(["feature", "ICC", "95% CI", "status"])
        head = self.icc_table.horizontalHeader()
        for c in range(4):
            head.setSectionResizeMode(c, QHeaderView.Stretch if c == 0 else QHeaderView.ResizeToContents)
        self.icc_table.setMinimumHeight(120)
        self.icc_table.verticalHeader().setVisible(False)
        layout.addWidget(self.icc_table, 1)
        self.canvas = FigureCanvasQTAgg(Figure(figsize=(4.5, 2.6), layout="constrained"))
        self.canvas.setMinimumHeight(180)
        layout.addWidget(self.canvas)
        self.overlap_table = QTableWidget(0, 5)
        self.overlap_table.setHorizontalHeaderLabels(["case", "ROI", "readers", "Dice", "HD95 mm"])
        head = self.overlap_table.horizontalHeader()
        for c in range(5):
            head.setSectionResizeMode(c, QHeaderView.Stretch if c == 2 else QHeaderView.ResizeToContents)
        self.overlap_table.setMinimumHeight(100)
        self.overlap_table.verticalHeader().setVisible(False)
        layout.addWidget(self.overlap_table, 1)
        self.task = TaskRunner(self.run_button, self.cancel_button, self.progress, on_result=self._on_result,
                               on_failure=self._on_failure, on_cancelled=lambda: self.summary.setText("cancelled"),
                               also_disable=(self.open_button,))

    @property
    def busy(self) -> bool:
        return self.task.busy

    def open_study_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open reader study")
        if folder:
            self.set_study(folder)

    def set_study(self, folder) -> None:
        self.study_folder = Path(folder)
        self.study_label.setText(self.study_folder.name)

    def run(self) -> None:
        if self.study_folder is None:
            self.summary.setText("open a study first")
            return
        kwargs = {"preset": self.preset_combo.currentText(), "form": self.form_combo.currentText(),
                  "threshold": float(self.threshold.value())}
        if self.repeat_reader.text().strip():
            kwargs["repeat_reader"] = self.repeat_reader.text().strip()
        if self.extractor is not None:
            kwargs["extractor"] = self.extractor
        self.summary.setText("computing\N{HORIZONTAL ELLIPSIS}")
        self.task.start(_agreement_job, self.study_folder, **kwargs)

    def cancel(self) -> None:
        self.task.cancel()

    def _on_failure(self, exc) -> None:
        self.summary.setText(error_text(exc))

    def _on_result(self, result) -> None:
        from radgui.study import STATUS_KEPT, STATUS_NA, IccHistogramDisplay

        self.result = result
        icc = result.icc
        self.icc_table.setRowCount(len(icc))
        for r, (feature, row) in enumerate(icc.iterrows()):
            ci = f"{_fmt(row['ci_low'], 2)} \N{EN DASH} {_fmt(row['ci_high'], 2)}"
            for c, text in enumerate([str(feature), _fmt(row["icc"]), ci, str(row["status"])]):
                self.icc_table.setItem(r, c, QTableWidgetItem(text))
        ov = result.overlap
        self.overlap_table.setRowCount(len(ov))
        for r, row in enumerate(ov.itertuples(index=False)):
            for c, text in enumerate([row.case_id, row.roi, f"{row.reader_a} vs {row.reader_b}",
                                      _fmt(row.dice), _fmt(row.hd95_mm, 2)]):
                self.overlap_table.setItem(r, c, QTableWidgetItem(str(text)))
        fig = self.canvas.figure
        fig.clear()
        IccHistogramDisplay.from_result(result, ax=fig.add_subplot())
        self.canvas.draw_idle()
        n_kept = int((icc["status"] == STATUS_KEPT).sum())
        n_na = int((icc["status"] == STATUS_NA).sum())
        self.summary.setText(f"{result.form}: {n_kept} of {len(icc)} features reproducible "
                             f"(ICC \N{GREATER-THAN OR EQUAL TO} {result.threshold:g}), {n_na} not assessable; "
                             f"{len(ov)} case/reader pairs compared")
        self.export_button.setEnabled(True)

    def export(self, folder) -> dict:
        if self.result is None:
            from radgui.errors import StudyError

            raise StudyError("compute the agreement first")
        return self.result.write(folder)

    def export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export agreement to folder")
        if not folder:
            return
        try:
            out = self.export(folder)
        except RadguiError as exc:
            self.summary.setText(error_text(exc))
            return
        self.summary.setText(f"exported {len(out)} files to {folder}")
