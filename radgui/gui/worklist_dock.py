"""Worklist dock: sign in to a reader study and work through the assigned cases.

Signing in opens a :class:`radgui.study.ReaderSession` (blinded by default).
Each case opens with the reader's own segmentations only (the session's API
cannot return anyone else's); a case without one gets an empty ``tumour``
ROI to draw in. Going to another case (Next / Previous, Ctrl+N / Ctrl+P, or a
click in the list) first saves the reader's changed ROIs into the study. While
a blinded session is open the viewer is cleared of all earlier layers, the
Predict dock's clinical form is hidden and disabled, and File > Open session
is refused (a session file could hold other readers' work or clinical data).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QKeySequence
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QShortcut,
    QVBoxLayout,
    QWidget,
)

from radgui.errors import RadguiError
from radgui.gui._qt import button, error_text

DEFAULT_ROI = "tumour"


def _digest(arr) -> str:
    a = np.ascontiguousarray(np.asarray(arr) > 0)
    return hashlib.sha256(a.tobytes()).hexdigest()


class WorklistDock(QWidget):
    """Reader sign-in, the case worklist with progress, next/previous, saving on case change."""

    def __init__(self, napari_viewer):
        # napari hands the viewer only to a parameter named ``napari_viewer``.
        super().__init__()
        viewer = napari_viewer
        self.viewer = viewer
        self.setObjectName("radgui_worklist")
        self.study_folder: Path | None = None
        self.reader_session = None
        self.cases: list = []
        self.index: int | None = None
        self.volume = None
        self.session_actions = None
        self._loaded: dict[str, str] = {}  # ROI name -> digest when loaded/saved

        layout = QVBoxLayout(self)
        form = QFormLayout()
        row = QHBoxLayout()
        self.study_label = QLabel("no study open")
        self.open_button = button("Open study\N{HORIZONTAL ELLIPSIS}", "Choose a reader-study folder "
                                  "(made with radgui study create)", self.open_study_dialog)
        row.addWidget(self.study_label, 1)
        row.addWidget(self.open_button)
        form.addRow("Study", row)
        self.reader_combo = QComboBox()
        self.reader_combo.setToolTip("Your reader name in this study")
        form.addRow("Reader", self.reader_combo)
        self.blinded = QCheckBox("blinded")
        self.blinded.setToolTip("Blinded reading: other readers' segmentations and all clinical and outcome\n"
                                "data stay hidden for the whole session")
        self.blinded.setChecked(True)
        form.addRow("", self.blinded)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.sign_in_button = button("Sign in", "Start your reading session: opens your first case to do",
                                     self.sign_in)
        self.sign_out_button = button("Sign out", "Save the current case and end the reading session",
                                      self.sign_out)
        row.addWidget(self.sign_in_button, 1)
        row.addWidget(self.sign_out_button)
        layout.addLayout(row)

        self.progress_label = QLabel("\N{EM DASH}")
        self.progress = QProgressBar()
        self.progress.setFormat("%v/%m done")
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress)
        self.case_list = QListWidget()
        self.case_list.setToolTip("Your cases: done / to do. Click one to open it (the current case is saved first).")
        self.case_list.itemActivated.connect(lambda item: self.open_case(self.case_list.row(item)))
        self.case_list.itemClicked.connect(lambda item: self.open_case(self.case_list.row(item)))
        layout.addWidget(self.case_list, 1)
        row = QHBoxLayout()
        self.prev_button = button("\N{BLACK LEFT-POINTING TRIANGLE} Previous", "Save and open the previous case "
                                  "(Ctrl+P)", self.previous_case)
        self.save_button = button("Save", "Save your ROIs of this case into the study", self.save_current)
        self.next_button = button("Next \N{BLACK RIGHT-POINTING TRIANGLE}", "Save and open the next case (Ctrl+N)",
                                  self.next_case)
        row.addWidget(self.prev_button)
        row.addWidget(self.save_button)
        row.addWidget(self.next_button)
        layout.addLayout(row)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self._shortcuts = []
        self._install_shortcuts()
        self._update_buttons()

    # -- wiring -----------------------------------------------------------------
    def attach_session_actions(self, actions) -> None:
        """The window's File-menu actions (marked clean when the study holds the work)."""
        self.session_actions = actions

    def _install_shortcuts(self) -> None:
        # A window shortcut on the dock itself is live while napari's main window is active.
        target = self
        for keys, slot in (("Ctrl+N", self.next_case), ("Ctrl+P", self.previous_case)):
            sc = QShortcut(QKeySequence(keys), target)
            sc.setContext(Qt.WindowShortcut)
            sc.activated.connect(slot)
            sc.setEnabled(False)
            self._shortcuts.append(sc)
        self._taken: list = []  # (napari QAction, its shortcuts) lent to the worklist while signed in

    def _take_shortcuts(self, take: bool) -> None:
        """While signed in, Ctrl+N / Ctrl+P go to the worklist (napari's own actions give them up)."""
        from qtpy.QtWidgets import QAction

        for sc in self._shortcuts:
            sc.setEnabled(take)
        if not take:
            for action, keys in self._taken:
                action.setShortcuts(keys)
            self._taken = []
            return
        from radgui.gui.window import main_window

        window = main_window(self)
        if window is None:
            return
        mine = {sc.key().toString() for sc in self._shortcuts}
        found, stack = set(window.findChildren(QAction)), list(window.menuBar().actions())
        while stack:  # napari's menu actions belong to the application, not the window
            action = stack.pop()
            found.add(action)
            if action.menu() is not None:
                stack.extend(action.menu().actions())
        for action in found:
            keys = list(action.shortcuts())
            if any(k.toString() in mine for k in keys):
                self._taken.append((action, keys))
                action.setShortcuts([k for k in keys if k.toString() not in mine])

    def _update_buttons(self) -> None:
        signed = self.reader_session is not None
        self.sign_in_button.setEnabled(not signed and self.reader_combo.count() > 0)
        self.sign_out_button.setEnabled(signed)
        self.open_button.setEnabled(not signed)
        self.reader_combo.setEnabled(not signed)
        self.blinded.setEnabled(not signed)
        n = len(self.cases)
        self.prev_button.setEnabled(signed and self.index is not None and self.index > 0)
        self.next_button.setEnabled(signed and self.index is not None and self.index < n - 1)
        self.save_button.setEnabled(signed and self.index is not None)

    def _say(self, text: str) -> None:
        self.message.setText(text)

    # -- study, sign in -----------------------------------------------------------
    def open_study_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open reader study")
        if folder:
            self.open_study(folder)

    def open_study(self, folder) -> None:
        """Read the study's reader names (the coordinator's connection is closed right after)."""
        from radgui.study import Study

        try:
            with Study.open(folder) as study:
                readers = study.readers()
        except RadguiError as exc:
            self._say(error_text(exc))
            return
        self.study_folder = Path(folder)
        self.study_label.setText(self.study_folder.name)
        self.reader_combo.clear()
        self.reader_combo.addItems(readers)
        self._say(f"{len(readers)} reader(s); choose yours and sign in." if readers else
                  "this study has no readers yet (radgui study assign)")
        self._update_buttons()

    def sign_in(self, reader: str | None = None, blinded: bool | None = None) -> None:
        """Open the reader's session and their first case to do (else the first case)."""
        from radgui.study import Study

        if self.study_folder is None:
            self._say("open a study first")
            return
        reader = reader or self.reader_combo.currentText()
        blinded = self.blinded.isChecked() if blinded is None else bool(blinded)
        if self.session_actions is not None and not self.session_actions.confirm_discard("signing in"):
            return
        try:
            with Study.open(self.study_folder) as study:
                self.reader_session = study.reader_session(reader, blinded=blinded)
            self.cases = self.reader_session.cases()
        except RadguiError as exc:
            self.reader_session = None
            self._say(error_text(exc))
            return
        self.blinded.setChecked(blinded)
        self._take_shortcuts(True)
        self.viewer.layers.clear()  # nothing of earlier work stays visible
        self._set_blinded_ui(blinded)
        if self.session_actions is not None:
            self.session_actions.locked = blinded
            self.session_actions.mark_clean()
        self.index = None
        self._refresh_list()
        todo = {(c.case_id, c.round) for c in self.reader_session.todo()}
        first = next((i for i, c in enumerate(self.cases) if (c.case_id, c.round) in todo), 0)
        if self.cases:
            self.open_case(first)
        else:
            self._say(f"no case is assigned to {reader} (or available after its washout)")
        self._update_buttons()

    def sign_out(self) -> None:
        if self.reader_session is None:
            return
        if not self.save_current():
            return
        self.reader_session.close()
        self.reader_session = None
        self._take_shortcuts(False)
        self.cases, self.index, self.volume = [], None, None
        self.viewer.layers.clear()
        self._set_blinded_ui(False)
        if self.session_actions is not None:
            self.session_actions.locked = False
            self.session_actions.mark_clean()
        self.case_list.clear()
        self.progress_label.setText("\N{EM DASH}")
        self._say("signed out")
        self._update_buttons()

    def _predict_dock(self):
        return (getattr(self.viewer.window, "dock_widgets", {}) or {}).get("Predict")

    def _set_blinded_ui(self, blinded: bool) -> None:
        """Hide and disable the Predict dock's clinical form (and the whole dock) in blinded mode."""
        widget = self._predict_dock()  # the PredictDock itself (a scroll area), or a wrapper around it
        inner = widget.widget() if widget is not None and hasattr(widget, "widget") else None
        predict = next((w for w in (widget, inner) if hasattr(w, "form_box")), None)
        if predict is None:
            return
        predict.form_box.setVisible(not blinded)
        predict.form_box.setEnabled(not blinded)
        predict.setEnabled(not blinded)

    # -- cases ----------------------------------------------------------------------
    def _done(self) -> set:
        return {(s.case_id, s.round) for s in self.reader_session.segmentations()}

    def _refresh_list(self) -> None:
        done = self._done()
        self.case_list.blockSignals(True)
        self.case_list.clear()
        for i, c in enumerate(self.cases):
            status = "done" if (c.case_id, c.round) in done else "to do"
            rnd = f"  round {c.round}" if c.round != 1 else ""
            item = QListWidgetItem(f"{c.case_id}{rnd}  \N{EM DASH} {status}")
            item.setData(Qt.UserRole, status)
            self.case_list.addItem(item)
        if self.index is not None:
            self.case_list.setCurrentRow(self.index)
        self.case_list.blockSignals(False)
        n_done = sum((c.case_id, c.round) in done for c in self.cases)
        self.progress.setMaximum(max(len(self.cases), 1))
        self.progress.setValue(n_done)
        self.progress_label.setText(f"{self.reader_session.reader}: {n_done}/{len(self.cases)} done"
                                    + (" (blinded)" if self.reader_session.blinded else ""))

    @property
    def done_count(self) -> int:
        done = self._done()
        return sum((c.case_id, c.round) in done for c in self.cases)

    def _own_roi_layers(self) -> dict:
        from radgui.gui.layers import roi_layers

        return {n: ly for n, ly in roi_layers(self.viewer, self.volume).items() if not ly.metadata.get("parent")}

    def save_current(self) -> bool:
        """Save the current case's changed, non-empty ROIs into the study; False when a save failed."""
        if self.reader_session is None or self.index is None or self.volume is None:
            return True
        case = self.cases[self.index]
        saved = []
        for name, layer in self._own_roi_layers().items():
            data = np.asarray(layer.data)
            digest = _digest(data)
            if not data.any() or self._loaded.get(name) == digest:
                continue
            try:
                self.reader_session.save_segmentation(case.case_id, name, (data > 0).astype(np.uint8),
                                                      round=case.round, like=self.volume)
            except RadguiError as exc:
                self._say(f"{case.case_id}: {name} not saved: {error_text(exc)}")
                return False
            self._loaded[name] = digest
            saved.append(name)
        if self.session_actions is not None:
            self.session_actions.mark_clean()
        self._refresh_list()
        if saved:
            self._say(f"{case.case_id}: saved {', '.join(saved)}")
        return True

    def open_case(self, index: int) -> bool:
        """Save the current case, then open case ``index`` with the reader's own ROIs only."""
        from radgui.gui.layers import add_roi, add_volume

        if self.reader_session is None or not (0 <= index < len(self.cases)):
            return False
        if index == self.index:
            return True
        if not self.save_current():
            return False
        case = self.cases[index]
        try:
            volume = self.reader_session.load_image(case.case_id, round=case.round)
            own = [s for s in self.reader_session.segmentations()
                   if (s.case_id, s.round) == (case.case_id, case.round)]
            masks = {s.roi: self.reader_session.load_segmentation(case.case_id, s.roi, volume, round=case.round)
                     for s in own}
        except RadguiError as exc:
            self._say(f"{case.case_id}: {error_text(exc)}")
            return False
        self.viewer.layers.clear()
        add_volume(self.viewer, volume, name=case.case_id)
        self._loaded = {}
        for roi, mask in masks.items():
            layer = add_roi(self.viewer, mask, volume, name=roi)
            self._loaded[roi] = _digest(layer.data)
        if not masks:
            layer = add_roi(self.viewer, np.zeros(volume.shape, np.uint8), volume, name=DEFAULT_ROI)
            self._loaded[DEFAULT_ROI] = _digest(layer.data)
        self.viewer.layers.selection.active = self.viewer.layers[-1]
        self.volume = volume
        self.index = index
        if self.session_actions is not None:
            self.session_actions.mark_clean()
        self._refresh_list()
        self._say(f"{case.case_id} ({index + 1} of {len(self.cases)})")
        self._update_buttons()
        return True

    def next_case(self) -> None:
        if self.index is not None:
            self.open_case(self.index + 1)

    def previous_case(self) -> None:
        if self.index is not None:
            self.open_case(self.index - 1)
