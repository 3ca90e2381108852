"""The Train dock: edits the same config, trains in a worker, reports errors in the dock."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.gui

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train"


@pytest.fixture
def cohort_config(tmp_path):
    spec = importlib.util.spec_from_file_location("make_cohort", EXAMPLE / "make_cohort.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    feats, clin = mod.make(90, 1)
    feats.to_csv(tmp_path / "features.csv", index=False)
    clin.to_csv(tmp_path / "clinical.csv", index=False)
    doc = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    doc["features"], doc["clinical"] = "features.csv", "clinical.csv"
    doc["steps"]["lasso"] = {"folds": 3, "n_lambdas": 10}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def dock(qtbot):
    from napari.components import ViewerModel

    from radgui.gui.train_dock import TrainDock

    widget = TrainDock(ViewerModel())
    qtbot.addWidget(widget)
    yield widget
    if widget.busy:
        widget.cancel()
        qtbot.waitUntil(lambda: not widget.busy, timeout=60_000)


@pytest.mark.slow
def test_dock_trains_example_and_writes_files(dock, qtbot, cohort_config, tmp_path):
    from qtpy.QtCore import Qt

    dock.load_config(cohort_config)
    assert dock.outcome_edit.text() == "response" and dock.step_checks["combat"].isChecked()
    assert dock.learner_combo.currentText() == "lasso"
    # the user lowers the validation effort with the spin boxes; the YAML follows
    dock.repeats_spin.setValue(0)
    dock.boot_spin.setValue(0)
    dock.folds_spin.setValue(3)
    assert yaml.safe_load(dock.yaml_edit.toPlainText())["validation"]["repeats"] == 0
    dock.out_edit.setText(str(tmp_path / "out"))
    dock.resize(520, 900)
    qtbot.mouseClick(dock.train_button, Qt.LeftButton)
    assert dock.busy and dock.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not dock.busy, timeout=120_000)
    assert dock.files is not None, dock.message.text()
    assert "Combined model AUC (test)" in dock.message.text()
    assert (tmp_path / "out" / "model.radgui-model").is_file()
    assert dock.progress.value() == 100
    dock.grab().save("/tmp/radgui_train_dock.png")
    # saving writes the edited config, which the CLI reads back identically
    saved = dock.save_config(tmp_path / "edited.yaml")
    from radgui.model.config import load_config

    assert load_config(saved).validation["repeats"] == 0


def test_dock_shows_config_error_without_training(dock, qtbot, cohort_config):
    from qtpy.QtCore import Qt

    dock.load_config(cohort_config)
    dock.outcome_edit.setText("responce")
    dock.repeats_spin.setValue(0)
    dock.boot_spin.setValue(0)
    qtbot.mouseClick(dock.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not dock.busy, timeout=60_000)
    assert "outcome column 'responce' is in neither" in dock.message.text()
    assert dock.train_button.isEnabled() and dock.files is None
    # a YAML typo is caught before any work
    dock.yaml_edit.setPlainText(dock.yaml_edit.toPlainText() + "\nstepz: {}\n")
    qtbot.mouseClick(dock.train_button, Qt.LeftButton)
    assert not dock.busy and "unknown key(s) ['stepz']" in dock.message.text()


def test_dock_cancel(dock, qtbot, cohort_config, tmp_path):
    from qtpy.QtCore import Qt

    dock.load_config(cohort_config)
    dock.repeats_spin.setValue(50)
    dock.out_edit.setText(str(tmp_path / "cancelled"))
    qtbot.mouseClick(dock.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dock.progress.value() > 0, timeout=60_000)
    qtbot.mouseClick(dock.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not dock.busy, timeout=60_000)
    assert "Cancelled" in dock.message.text()
    assert not (tmp_path / "cancelled" / "model.radgui-model").exists()
