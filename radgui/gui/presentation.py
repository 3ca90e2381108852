"""Presentation mode (F11, View > Presentation mode): the case on a projector at a tumor board.

Full screen, large fonts, two panes and no editing tools: left, the image on
the key slice (the slice of largest tumour area) with the ROI outline and its
rings, optionally fused with the PET; right, the probability with its CI and
risk group, the nomogram with the patient's points and the K-M placement.

Keys: Up / Page Up / Right: next slice; Down / Page Down / Left: previous
slice; Home: back to the key slice; R: ROI outline on/off; P: PET fusion
on/off; Esc (or F11): back to the workstation.

:func:`install_presentation_action` adds the menu entry and the F11 shortcut
to a radgui window (called once from :func:`radgui.gui.app.create_viewer`).
"""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from radgui.errors import RadguiError

_ROI = "#ffd400"
_RINGS = ("#00c8ff", "#7cff6b", "#ff7ce5", "#ffffff")
FONT_PT = 16


class PresentationWindow(QWidget):
    """The presentation window of one case.

    Parameters
    ----------
    volume : radgui.io.Volume
        The CT (or MR) image.
    rois : dict of str to (z, y, x) bool arrays on ``volume``'s grid
        The first (or ``"tumour"``) is the tumour; the others are drawn as rings.
    bundle, prediction : optional
        The model and the patient's prediction (the right pane is empty without them).
    pet : radgui.io.Volume, optional
        PET in SUV on the same grid (fused with P).
    """

    def __init__(self, volume, rois: dict, bundle=None, prediction=None, pet=None, parent=None,
                 fontsize: float = FONT_PT):
        super().__init__(parent, Qt.Window)
        if not rois:
            raise RadguiError("presentation mode needs a ROI: draw or open the tumour first")
        self.setWindowTitle("radgui \N{EN DASH} presentation")
        self.volume, self.pet, self.bundle, self.prediction = volume, pet, bundle, prediction
        self.rois = {k: np.asarray(v) > 0 for k, v in rois.items()}
        self.tumour = "tumour" if "tumour" in self.rois else next(iter(self.rois))
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg  # not at import: off radgui's start-up
        from matplotlib.figure import Figure

        from radgui.report.patient_report import key_slice_of

        self.key_slice = key_slice_of(self.rois[self.tumour])
        self.slice = self.key_slice
        self.show_roi = True
        self.pet_fused = False
        self.fontsize = fontsize
        self.setStyleSheet(f"background: black; color: white; font-size: {fontsize}pt;")
        row = QHBoxLayout(self)
        left = QVBoxLayout()
        self.image_canvas = FigureCanvasQTAgg(Figure(figsize=(7, 7), facecolor="black"))
        self.slice_label = QLabel()
        self.slice_label.setWordWrap(True)
        left.addWidget(self.image_canvas, 1)
        left.addWidget(self.slice_label)
        row.addLayout(left, 45)
        right = QVBoxLayout()
        self.probability_label = QLabel()
        self.probability_label.setStyleSheet(f"font-size: {int(fontsize * 3)}pt; font-weight: bold;")
        self.details_label = QLabel()
        self.details_label.setWordWrap(True)
        self.nomogram_canvas = FigureCanvasQTAgg(Figure(figsize=(8, 4.2)))
        self.km_canvas = FigureCanvasQTAgg(Figure(figsize=(8, 3.8)))
        for w in (self.probability_label, self.details_label):
            right.addWidget(w)
        right.addWidget(self.nomogram_canvas, 6)
        right.addWidget(self.km_canvas, 6)
        row.addLayout(right, 55)
        from qtpy.QtWidgets import QSizePolicy

        for c in (self.image_canvas, self.nomogram_canvas, self.km_canvas):
            c.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)  # the layout's stretch decides
        self._draw_right()
        self.draw_image()

    # ------------------------------------------------------------------ drawing
    def draw_image(self) -> None:
        """Redraw the left pane at :attr:`slice`."""
        fig = self.image_canvas.figure
        fig.clear()
        ax = fig.add_axes((0, 0, 1, 1))
        z = self.slice
        img = self.volume.array[z]
        lo, hi = (-160.0, 240.0) if self.volume.modality == "CT" else tuple(np.percentile(img, [1, 99.5]))
        sy, sx = self.volume.spacing[1], self.volume.spacing[2]
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, aspect=sy / sx, interpolation="nearest")
        if self.pet_fused and self.pet is not None:
            p = self.pet.array[z]
            ax.imshow(np.ma.masked_less(p, 0.5), cmap="hot", alpha=0.5, vmin=0, vmax=max(1.0, float(p.max())),
                      aspect=sy / sx, interpolation="nearest")
        if self.show_roi:
            for i, (name, m) in enumerate(self.rois.items()):
                sl = m[z]
                if sl.any():
                    col = _ROI if name == self.tumour else _RINGS[(i - 1) % len(_RINGS)]
                    ax.contour(sl.astype(float), levels=[0.5], colors=[col],
                               linewidths=2.2 if name == self.tumour else 1.3)
        ys, xs = np.nonzero(self.rois[self.tumour].any(axis=0))
        if len(ys):  # zoom on the tumour with a margin of its own size (at least 40 mm)
            my, mx = max(40.0 / sy, ys.max() - ys.min()), max(40.0 / sx, xs.max() - xs.min())
            ax.set_xlim(max(-0.5, xs.min() - mx), min(img.shape[1] - 0.5, xs.max() + mx))
            ax.set_ylim(min(img.shape[0] - 0.5, ys.max() + my), max(-0.5, ys.min() - my))
        ax.axis("off")
        self.image_canvas.draw_idle()
        n = self.volume.array.shape[0]
        tags = [f"slice {z + 1} / {n}" + ("  (key slice: largest tumour area)" if z == self.key_slice else ""),
                "ROI on" if self.show_roi else "ROI off"]
        if self.pet is not None:
            tags.append("PET fused" if self.pet_fused else "PET off")
        tags.append("\N{UPWARDS ARROW}\N{DOWNWARDS ARROW} slices \N{MIDDLE DOT} R ROI \N{MIDDLE DOT} "
                    "P PET \N{MIDDLE DOT} Home key slice \N{MIDDLE DOT} Esc back")
        self.slice_label.setText("   \N{MIDDLE DOT}   ".join(tags))

    def _draw_right(self) -> None:
        from radgui.plots.km_placement import probability_text

        pred, bundle = self.prediction, self.bundle
        if pred is None or bundle is None:
            self.probability_label.setText("\N{EM DASH}")
            self.details_label.setText("No prediction yet: run Predict in the workstation first.")
            return
        from radgui.report.patient_report import prediction_lines

        self.probability_label.setText(probability_text(pred.probability))
        self.details_label.setText("\n".join(prediction_lines(bundle, pred)[1:]))
        fs = self.fontsize * 0.58
        from radgui.gui.predict_widgets import draw_display

        if bundle.nomogram is not None and bundle.linear_model is not None:
            from radgui.plots.nomogram import NomogramDisplay

            draw_display(self.nomogram_canvas, lambda fig: NomogramDisplay(
                bundle, pred, probability_label="Probability").plot(ax=fig.add_subplot(), fontsize=fs))
        if bundle.reference_cohort is not None and len(bundle.reference_cohort):
            from radgui.plots.km_placement import KMPlacementDisplay

            draw_display(self.km_canvas, lambda fig: KMPlacementDisplay(bundle, pred).plot(fig, fontsize=fs))

    # ------------------------------------------------------------------ keys
    def set_slice(self, z: int) -> None:
        self.slice = int(min(max(z, 0), self.volume.array.shape[0] - 1))
        self.draw_image()

    def keyPressEvent(self, event):  # noqa: N802 - Qt API
        key = event.key()
        if key in (Qt.Key_Up, Qt.Key_PageUp, Qt.Key_Right):
            self.set_slice(self.slice + 1)
        elif key in (Qt.Key_Down, Qt.Key_PageDown, Qt.Key_Left):
            self.set_slice(self.slice - 1)
        elif key == Qt.Key_Home:
            self.set_slice(self.key_slice)
        elif key == Qt.Key_R:
            self.show_roi = not self.show_roi
            self.draw_image()
        elif key == Qt.Key_P and self.pet is not None:
            self.pet_fused = not self.pet_fused
            self.draw_image()
        elif key in (Qt.Key_Escape, Qt.Key_F11):
            self.close()
        else:
            super().keyPressEvent(event)


def from_viewer(viewer, predict_dock=None) -> PresentationWindow:
    """A :class:`PresentationWindow` of what the workstation shows (current image, its ROIs, the last prediction)."""
    from radgui.gui.layers import current_volume, image_layers, roi_layers
    from radgui.model.patient import split_images

    vol = current_volume(viewer)
    if vol is None:
        raise RadguiError("open an image first (File > Open)")
    ct, pet = split_images(vol, [ly.metadata["volume"] for ly in image_layers(viewer)])
    base = ct if ct is not None else pet
    rois = {n: np.asarray(ly.data) > 0 for n, ly in roi_layers(viewer).items()
            if np.asarray(ly.data).shape == base.array.shape}
    if pet is not None and pet.array.shape != base.array.shape:
        pet = None  # PET on another grid: not fused here
    bundle = getattr(predict_dock, "bundle", None)
    pred = getattr(predict_dock, "prediction", None)
    return PresentationWindow(base, rois, bundle, pred, pet=pet if base is not pet else None)


def open_presentation(viewer, docks=None) -> PresentationWindow | None:
    """Open presentation mode full screen (an error is shown in the status bar instead)."""
    try:
        win = from_viewer(viewer, (docks or {}).get("Predict"))
    except RadguiError as exc:
        viewer.status = str(exc)
        return None
    viewer.window._qt_window._radgui_presentation = win  # keep a reference while it is open
    win.showFullScreen()
    win.setFocus()
    return win


def write_report(viewer, path, paper: str = "a4"):
    """The one-button patient report of the window's case: PDF at ``path`` and PNG pages beside it."""
    from pathlib import Path

    from radgui.gui.session_actions import actions_for
    from radgui.report.patient_report import write_patient_report

    actions = actions_for(viewer)
    if actions is None:
        raise RadguiError("this window has no session to report (open an image and draw the tumour first)")
    path = Path(path)
    predict = actions.docks.get("Predict")
    return write_patient_report(actions.build_session(), path, paper=paper, png_dir=path.parent / f"{path.stem}-pages",
                                bundle=getattr(predict, "bundle", None))


def install_presentation_action(viewer, docks=None):
    """Add View > Presentation mode (F11) to a radgui window; returns the QAction."""
    from qtpy.QtGui import QKeySequence

    try:
        from qtpy.QtGui import QAction
    except ImportError:  # pragma: no cover - Qt5
        from qtpy.QtWidgets import QAction
    qt_window = viewer.window._qt_window
    menu = getattr(viewer.window, "view_menu", None)
    if menu is None:
        menu = qt_window.menuBar().addMenu("&View")
    action = QAction("Presentation mode", qt_window)
    action.setShortcut(QKeySequence("F11"))
    action.setShortcutContext(Qt.ApplicationShortcut)
    action.triggered.connect(lambda *_: open_presentation(viewer, docks))
    menu.addSeparator()
    menu.addAction(action)
    qt_window.addAction(action)
    return action
