"""The Train dock: edit a training config and run ``radgui train`` in a worker.

The dock edits the same YAML that ``radgui train CONFIG`` reads: common keys
in a form (tables, outcome, center, split, steps, learner, validation), the
rest (clinical variables, step parameters) in the YAML editor underneath;
the form writes into the YAML, so both always show the same config (the
merge rules are :func:`radgui.report.workflow.apply_form`). Train runs
:func:`radgui.report.workflow.iter_train_and_report` in a napari
worker with a progress bar and a Cancel button; errors (a mistyped key, a
missing column) appear in the dock, naming the problem, and nothing is lost.
"""

from __future__ import annotations

from pathlib import Path

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from radgui.errors import RadguiError
from radgui.gui._qt import TaskRunner, error_text
from radgui.model import config as config_defaults
from radgui.report import workflow

#: Light red: readable (contrast > 4.5:1) on napari's dark grey panels, unlike dark red.
_RED = "#ff6b6b"
#: A new config in the dock: the engine's defaults (radgui.model.config.DEFAULTS) plus example table names
#: and a fuller starting pipeline than the bare default (near-zero variance and correlation filters).
DEFAULT_CONFIG = {
    "schema_version": 1,
    "name": config_defaults.DEFAULTS["name"],
    "features": "features.csv",
    "clinical": "clinical.csv",
    "id_column": config_defaults.DEFAULTS["id_column"],
    "outcome": {"column": "outcome", "positive": 1},
    "split": config_defaults.default("split"),
    "steps": {"nzv": {}, "zscore": {}, "correlation": {}, "lasso": {}},
    "learner": config_defaults.default("learner"),
    "clinical_model": {k: config_defaults.DEFAULTS["clinical_model"][k] for k in ("screen_p", "direction")},
    "validation": config_defaults.default("validation"),
    "seed": config_defaults.DEFAULTS["seed"],
}


class TrainDock(QScrollArea):
    """Edit a training config and train it (see module docstring).

    The dock is its own scroll area (one, also in plain napari's dock); the
    work is :func:`radgui.report.workflow.iter_train_and_report`.

    Parameters
    ----------
    viewer : napari.Viewer or napari.components.ViewerModel
        Unused except as napari's dock-widget contract.
    """

    def __init__(self, napari_viewer):
        # napari hands the viewer only to a parameter named ``napari_viewer``.
        super().__init__()
        viewer = napari_viewer
        from radgui.model.learners import LEARNERS, STEP_ORDER

        self.viewer = viewer
        self._syncing = False
        self.base_dir = Path.cwd()
        self.result = None
        self.files = None

        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        inner = QWidget()
        self.setWidget(inner)
        root = QVBoxLayout(inner)
        root.setContentsMargins(6, 4, 6, 4)

        self.path_label = QLabel("(unsaved config)")
        self.path_label.setStyleSheet("color: gray;")
        self.path_label.setWordWrap(True)
        self.path_label.setMinimumWidth(80)
        root.addWidget(self.path_label)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open config\N{HORIZONTAL ELLIPSIS}")
        self.open_button.clicked.connect(self._open_dialog)
        row.addWidget(self.open_button)
        self.save_button = QPushButton("Save config\N{HORIZONTAL ELLIPSIS}")
        self.save_button.clicked.connect(self._save_dialog)
        row.addWidget(self.save_button)
        root.addLayout(row)

        data = QGroupBox("Cohort")
        form = QFormLayout(data)
        self.name_edit = QLineEdit()
        form.addRow("Name", self.name_edit)
        self.features_edit = self._path_row(form, "Feature table", "CSV (*.csv)")
        self.clinical_edit = self._path_row(form, "Clinical table", "CSV (*.csv)")
        self.outcome_edit = QLineEdit()
        self.positive_edit = QLineEdit()
        self.positive_edit.setMaximumWidth(60)
        orow = QHBoxLayout()
        orow.addWidget(self.outcome_edit, 1)
        orow.addWidget(QLabel("event ="))
        orow.addWidget(self.positive_edit)
        form.addRow("Outcome column", orow)
        self.center_edit = QLineEdit()
        self.center_edit.setPlaceholderText("optional: center column (ComBat)")
        form.addRow("Center", self.center_edit)
        srow = QHBoxLayout()
        self.split_combo = QComboBox()
        self.split_combo.addItems(["holdout", "external", "none"])
        srow.addWidget(self.split_combo)
        self.test_fraction = QDoubleSpinBox()
        self.test_fraction.setRange(0.05, 0.9)
        self.test_fraction.setSingleStep(0.05)
        self.test_fraction.setPrefix("test ")
        srow.addWidget(self.test_fraction)
        form.addRow("Split", srow)
        root.addWidget(data)

        steps = QGroupBox("Steps (fitted inside every training fold, in this order)")
        grid = QGridLayout(steps)
        self.step_checks = {}
        for i, name in enumerate(STEP_ORDER):
            cb = QCheckBox(name)
            self.step_checks[name] = cb
            grid.addWidget(cb, i // 2, i % 2)
        root.addWidget(steps)

        model = QGroupBox("Model and validation")
        mform = QFormLayout(model)
        self.learner_combo = QComboBox()
        self.learner_combo.addItems(list(LEARNERS))
        mform.addRow("Learner", self.learner_combo)
        self.rule_combo = QComboBox()
        self.rule_combo.addItems(["1se", "min"])
        mform.addRow("LASSO lambda", self.rule_combo)
        vgrid = QGridLayout()
        self.repeats_spin = self._spin(0, 1000, "repeats ")
        self.folds_spin = self._spin(2, 20, "folds ")
        self.boot_spin = self._spin(0, 5000, "bootstrap ")
        self.jobs_spin = self._spin(1, 64, "jobs ")
        for i, w in enumerate((self.repeats_spin, self.folds_spin, self.boot_spin, self.jobs_spin)):
            vgrid.addWidget(w, i // 2, i % 2)
        mform.addRow("Validation", vgrid)
        self.seed_spin = self._spin(0, 2**31 - 1, "")
        mform.addRow("Seed", self.seed_spin)
        root.addWidget(model)

        hint = QLabel("Config (YAML; clinical variables and step settings are edited here):")
        hint.setWordWrap(True)
        root.addWidget(hint)
        self.yaml_edit = QPlainTextEdit()
        self.yaml_edit.setMinimumHeight(160)
        self.yaml_edit.setStyleSheet("font-family: monospace; font-size: 9pt;")
        root.addWidget(self.yaml_edit)

        orow = QHBoxLayout()
        orow.addWidget(QLabel("Output folder"))
        self.out_edit = QLineEdit(str(Path.cwd() / "radgui-train"))
        orow.addWidget(self.out_edit, 1)
        browse = QPushButton("\N{HORIZONTAL ELLIPSIS}")
        browse.setMaximumWidth(30)
        browse.clicked.connect(self._out_dialog)
        orow.addWidget(browse)
        root.addLayout(orow)

        brow = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setStyleSheet("font-weight:bold; padding:4px 14px;")
        self.train_button.clicked.connect(self.train)
        brow.addWidget(self.train_button)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        brow.addWidget(self.cancel_button)
        root.addLayout(brow)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumHeight(18)
        root.addWidget(self.progress)
        self.task = TaskRunner(self.train_button, self.cancel_button, self.progress, on_result=self._on_result,
                               on_failure=lambda exc: self._error(error_text(exc)), on_cancelled=self._on_aborted)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        root.addWidget(self.message)
        root.addStretch(1)

        self.set_config(DEFAULT_CONFIG)
        for w in (self.name_edit, self.features_edit, self.clinical_edit, self.outcome_edit, self.positive_edit,
                  self.center_edit):
            w.editingFinished.connect(self._form_changed)
        for w in (self.split_combo, self.learner_combo, self.rule_combo):
            w.currentIndexChanged.connect(self._form_changed)
        for w in (self.test_fraction, self.repeats_spin, self.folds_spin, self.boot_spin, self.jobs_spin,
                  self.seed_spin):
            w.valueChanged.connect(self._form_changed)
        for cb in self.step_checks.values():
            cb.toggled.connect(self._form_changed)

    # ------------------------------------------------------------------ widgets
    @staticmethod
    def _spin(lo, hi, prefix):
        s = QSpinBox()
        s.setRange(lo, hi)
        s.setPrefix(prefix)
        return s

    def _path_row(self, form, label, pattern):
        edit = QLineEdit()
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        b = QPushButton("\N{HORIZONTAL ELLIPSIS}")
        b.setMaximumWidth(30)

        def pick():
            path, _ = QFileDialog.getOpenFileName(self, label, str(self.base_dir), pattern)
            if path:
                edit.setText(path)
                self._form_changed()

        b.clicked.connect(pick)
        row.addWidget(b)
        form.addRow(label, row)
        return edit

    # ------------------------------------------------------------------ config <-> form
    def set_config(self, doc: dict, base_dir: str | Path | None = None) -> None:
        """Show a config mapping in the form and the YAML editor."""
        if base_dir is not None:
            self.base_dir = Path(base_dir)
        self._syncing = True
        try:
            self.name_edit.setText(str(doc.get("name", "")))
            self.features_edit.setText(str(doc.get("features", "")))
            self.clinical_edit.setText(str(doc.get("clinical") or ""))
            out = doc.get("outcome") or {}
            self.outcome_edit.setText(str(out.get("column", "")))
            self.positive_edit.setText(str(out.get("positive", 1)))
            self.center_edit.setText(str(doc.get("center") or ""))
            split = doc.get("split") or {}
            self.split_combo.setCurrentText(split.get("method", "holdout"))
            self.test_fraction.setValue(float(split.get("test_fraction", 0.3)))
            steps = doc.get("steps") or {}
            for name, cb in self.step_checks.items():
                cb.setChecked(name in steps and steps[name] is not False)
            self.learner_combo.setCurrentText((doc.get("learner") or {}).get("name", "lasso"))
            self.rule_combo.setCurrentText(str((steps.get("lasso") or {}).get("rule", "1se")))
            val = doc.get("validation") or {}
            self.repeats_spin.setValue(int(val.get("repeats", 10)))
            self.folds_spin.setValue(int(val.get("folds", 5)))
            self.boot_spin.setValue(int(val.get("bootstrap", 100)))
            self.jobs_spin.setValue(max(1, int(val.get("n_jobs", 1))))
            self.seed_spin.setValue(int(doc.get("seed", 42)))
            self.yaml_edit.setPlainText(workflow.config_yaml(doc))
        finally:
            self._syncing = False

    def config_dict(self) -> dict:
        """The config now shown: the YAML editor's mapping with the form's values written in."""
        doc = workflow.read_config_text(self.yaml_edit.toPlainText(), "the YAML editor")
        return workflow.apply_form(doc, {
            "name": self.name_edit.text(), "features": self.features_edit.text(),
            "clinical": self.clinical_edit.text(), "outcome": self.outcome_edit.text(),
            "positive": self.positive_edit.text(), "center": self.center_edit.text(),
            "split": self.split_combo.currentText(), "test_fraction": self.test_fraction.value(),
            "steps": {name: cb.isChecked() for name, cb in self.step_checks.items()},
            "learner": self.learner_combo.currentText(), "lasso_rule": self.rule_combo.currentText(),
            "repeats": self.repeats_spin.value(), "folds": self.folds_spin.value(),
            "bootstrap": self.boot_spin.value(), "n_jobs": self.jobs_spin.value(), "seed": self.seed_spin.value()})

    def _form_changed(self, *_):
        if self._syncing:
            return
        try:
            doc = self.config_dict()
        except RadguiError as exc:
            self._error(str(exc))
            return
        self._syncing = True
        try:
            self.yaml_edit.setPlainText(workflow.config_yaml(doc))
        finally:
            self._syncing = False

    def load_config(self, path: str | Path) -> None:
        """Open a YAML config (the Open config button)."""
        path = Path(path)
        try:
            doc = workflow.read_config_file(path)
        except RadguiError as exc:
            self._error(str(exc))
            return
        self.set_config(doc, base_dir=path.parent)
        self.path_label.setText(str(path))
        self.path_label.setStyleSheet("")
        self.message.setText("")

    def save_config(self, path: str | Path) -> Path:
        """Write the config shown to a YAML file (the Save config button)."""
        path = workflow.write_config_file(path, self.config_dict())
        self.path_label.setText(str(path))
        return path

    def _open_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open training config", str(self.base_dir), "YAML (*.yaml *.yml)")
        if path:
            self.load_config(path)

    def _save_dialog(self):
        path, _ = QFileDialog.getSaveFileName(self, "Save training config", str(self.base_dir / "config.yaml"),
                                              "YAML (*.yaml *.yml)")
        if path:
            try:
                self.save_config(path)
            except RadguiError as exc:
                self._error(str(exc))

    def _out_dialog(self):
        path = QFileDialog.getExistingDirectory(self, "Output folder", self.out_edit.text())
        if path:
            self.out_edit.setText(path)

    # ------------------------------------------------------------------ training
    @property
    def busy(self) -> bool:
        """True while training runs."""
        return self.task.busy

    @property
    def _worker(self):
        """The running worker, or None (tests wait for every dock's ``_worker``)."""
        return self.task.worker

    def train(self) -> None:
        """Validate the config and run training in a worker (the Train button)."""
        from radgui.model.config import config_from_dict

        if self.task.busy:
            return
        try:
            config = config_from_dict(self.config_dict(), base=self.base_dir, source=None)
        except RadguiError as exc:
            self._error(str(exc))
            return
        out = self.out_edit.text().strip()
        if not out:
            self._error("choose an output folder")
            return
        self.result = self.files = None
        self.message.setStyleSheet("")
        self.message.setText("Training\N{HORIZONTAL ELLIPSIS}")
        self.task.start(workflow.iter_train_and_report, config, Path(out))

    def cancel(self) -> None:
        """Stop training at its next step (the Cancel button)."""
        self.task.cancel()

    def _on_result(self, value):
        self.result, self.files = value
        self.message.setStyleSheet("")
        self.message.setText(workflow.result_message(self.result.metrics, self.files))

    def _on_aborted(self):
        self.message.setStyleSheet("")
        self.message.setText("Cancelled; nothing was written.")

    def _error(self, text: str):
        self.message.setStyleSheet(f"color:{_RED}; font-weight:bold;")
        self.message.setText(text)
        try:
            from napari.utils.notifications import show_warning

            show_warning(text)
        except Exception:  # noqa: BLE001 - a notification must never break the dock
            pass
