"""PACS dock: pick a node (C-ECHO test), search, retrieve a series with progress and open it, send files back.

Every network call runs in a worker (:class:`radgui.gui._qt.TaskRunner`); the engine is
:mod:`radgui.io.pacs`. A retrieved series opens through :func:`radgui.gui.opening.open_path`
(the normal DICOM path and all its checks).
"""

from __future__ import annotations

import os
from pathlib import Path

from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from radgui.gui._qt import TaskRunner, button, error_text

COLUMNS = ["patient_id", "study_date", "modality", "description", "n_instances", "accession", "series_uid"]
DEFAULT_CACHE = Path.home() / ".cache" / "radgui" / "pacs"


def _once(fn, *args, **kwargs):
    """A one-step generator around a blocking call (so echo/find/send run in the worker too)."""
    from radgui.progress import Step

    yield Step(0, 1, "working")
    return fn(*args, **kwargs)


def _tagged(tag, gen_fn, *args, **kwargs):
    result = yield from gen_fn(*args, **kwargs)
    return tag, result


class PacsDock(QWidget):
    """Node picker, search form, results table, retrieve with progress, send."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.nodes: dict = {}
        self.rows: list[dict] = []
        layout = QVBoxLayout(self)

        nbox = QGroupBox("Node")
        nl = QFormLayout(nbox)
        self.settings_edit = QLineEdit(os.environ.get("RADGUI_PACS_NODES", ""))
        self.settings_edit.setPlaceholderText("~/.config/radgui/pacs.yaml")
        row = QHBoxLayout()
        row.addWidget(self.settings_edit, 1)
        row.addWidget(button("Load", "Read the PACS settings file", self.load_settings))
        nl.addRow("Settings", row)
        self.node_combo = QComboBox()
        erow = QHBoxLayout()
        erow.addWidget(self.node_combo, 1)
        self.echo_button = button("Test", "C-ECHO (DIMSE) or a minimal QIDO-RS query (DICOMweb)", self.echo)
        erow.addWidget(self.echo_button)
        nl.addRow("PACS", erow)
        layout.addWidget(nbox)

        sbox = QGroupBox("Search")
        sl = QFormLayout(sbox)
        self.patient_edit, self.accession_edit = QLineEdit(), QLineEdit()
        self.date_from_edit, self.date_to_edit = QLineEdit(), QLineEdit()
        self.date_from_edit.setPlaceholderText("YYYYMMDD")
        self.date_to_edit.setPlaceholderText("YYYYMMDD")
        self.modality_edit = QLineEdit()
        self.modality_edit.setPlaceholderText("CT, MR, PT, ...")
        sl.addRow("Patient ID", self.patient_edit)
        sl.addRow("Accession", self.accession_edit)
        sl.addRow("From", self.date_from_edit)
        sl.addRow("To", self.date_to_edit)
        sl.addRow("Modality", self.modality_edit)
        self.search_button = button("Search", "Find series matching the criteria", self.search)
        sl.addRow(self.search_button)
        layout.addWidget(sbox)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(["patient", "date", "mod.", "description", "n", "accession", "series"])
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        layout.addWidget(self.table, 1)

        crow = QHBoxLayout()
        self.cache_edit = QLineEdit(str(DEFAULT_CACHE))
        crow.addWidget(QLabel("Cache"))
        crow.addWidget(self.cache_edit, 1)
        layout.addLayout(crow)
        rrow = QHBoxLayout()
        self.retrieve_button = button("Retrieve", "Retrieve the selected series (resumes) and open it", self.retrieve)
        self.cancel_button = button("Cancel", "Stop the retrieve; what arrived stays in the cache", self.cancel)
        self.send_button = button("Send…", "Send DICOM files (SEG, SR, Encapsulated PDF) to the node", self.send_dialog)
        for b in (self.retrieve_button, self.cancel_button, self.send_button):
            rrow.addWidget(b)
        layout.addLayout(rrow)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        layout.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.runner = TaskRunner(self.retrieve_button, self.cancel_button, self.progress,
                                 on_result=self._on_result, on_failure=self._on_failure,
                                 on_cancelled=lambda: self._say("cancelled; retrieve again to resume"),
                                 also_disable=(self.echo_button, self.search_button, self.send_button))
        if self.settings_edit.text():
            self.load_settings()

    # ------------------------------------------------------------------ helpers
    def _say(self, text: str) -> None:
        self.status.setText(text)

    def _node(self):
        from radgui.errors import PacsError

        name = self.node_combo.currentText()
        if name not in self.nodes:
            raise PacsError("no PACS node: load a settings file first")
        return self.nodes[name]

    def _start(self, tag, gen_fn, *args, **kwargs):
        try:
            node = self._node()
        except Exception as exc:  # noqa: BLE001
            self._say(error_text(exc))
            return None
        return self.runner.start(_tagged, tag, gen_fn, node, *args, **kwargs)

    # ------------------------------------------------------------------ actions
    def load_settings(self, path: str | None = None) -> None:
        from radgui.io.pacs import load_nodes

        text = path or self.settings_edit.text().strip() or None
        try:
            self.nodes = load_nodes(text)
        except Exception as exc:  # noqa: BLE001 - shown in the dock
            self.nodes = {}
            self._say(error_text(exc))
        self.node_combo.clear()
        self.node_combo.addItems(list(self.nodes))
        if self.nodes:
            self._say(f"{len(self.nodes)} node(s)")

    def echo(self) -> None:
        from radgui.io.pacs import echo

        self._start("echo", lambda node: _once(echo, node))

    def search(self) -> None:
        from radgui.io.pacs import find

        def val(edit):
            return edit.text().strip() or None

        kwargs = {"patient_id": val(self.patient_edit), "accession": val(self.accession_edit),
                  "date_from": val(self.date_from_edit), "date_to": val(self.date_to_edit),
                  "modality": (val(self.modality_edit) or "").upper() or None}
        self._start("find", lambda node: _once(find, node, **kwargs))

    def selected_row(self) -> dict | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        return self.rows[rows[0].row()]

    def retrieve(self) -> None:
        from radgui.io.pacs import iter_retrieve

        row = self.selected_row()
        if row is None:
            self._say("select a series first")
            return
        cache = Path(self.cache_edit.text().strip() or DEFAULT_CACHE)
        self._start("get", iter_retrieve, row["study_uid"], row["series_uid"], cache)

    def cancel(self) -> None:
        self.runner.cancel()

    def send_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Send DICOM files", "", "DICOM (*.dcm);;All files (*)")
        if files:
            self.send([Path(f) for f in files])

    def send(self, files) -> None:
        from radgui.io.pacs import send

        self._start("send", lambda node: _once(send, node, list(files)))

    # ------------------------------------------------------------------ results
    def _on_result(self, value) -> None:
        tag, result = value
        node = self.node_combo.currentText()
        if tag == "echo":
            self._say(f"{node}: OK")
        elif tag == "find":
            self.show_rows(result)
            self._say(f"{len(result)} series")
        elif tag == "get":
            self._say(f"retrieved into {result}")
            from radgui.gui.opening import open_path

            try:
                open_path(self.viewer, result, parent_widget=self)
            except Exception as exc:  # noqa: BLE001 - the DICOM path's own refusals, shown here
                self._say(error_text(exc))
        elif tag == "send":
            self._say(f"{node}: stored {result} file(s)")

    def _on_failure(self, exc) -> None:
        self._say(error_text(exc))

    def show_rows(self, rows: list[dict]) -> None:
        self.rows = list(rows)
        self.table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            for j, key in enumerate(COLUMNS):
                v = r.get(key)
                self.table.setItem(i, j, QTableWidgetItem("" if v is None else str(v)))
        if self.rows:
            self.table.selectRow(0)
