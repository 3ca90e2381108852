"""The main window: a napari viewer with radgui's dock widgets.

Dock widgets are listed in :data:`DOCKS` as ``(module, class, title, area)``;
each class takes the viewer as its only argument (napari's widget contract),
so the same widgets also work in plain napari through ``napari.yaml``.
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path

from radgui import RESEARCH_NOTICE, __version__

#: (module under radgui.gui, class name, dock title, dock area)
DOCKS: list[tuple[str, str, str, str]] = [
    ("view_dock", "ViewDock", "View", "right"),
    ("roi_dock", "RoiDock", "ROI", "right"),
    ("features_dock", "FeaturesDock", "Features", "right"),
    ("petct_dock", "PetCtDock", "PET/CT", "right"),
    ("predict_dock", "PredictDock", "Predict", "right"),
    ("train_dock", "TrainDock", "Train", "right"),
    ("worklist_dock", "WorklistDock", "Worklist", "right"),
    ("agreement_dock", "AgreementDock", "Agreement", "right"),
    ("pacs_dock", "PacsDock", "PACS", "right"),
    ("dl_dock", "DLDock", "DL features", "right"),
]

#: Width of the right-hand dock area in pixels (at least each dock's own minimum width).
DOCK_WIDTH = 430

#: Widest a dock's minimum width may be, as a share of the screen's available width: the
#: canvas keeps the rest (on 1366x768 a dock of at most 683 px; the Predict dock asks ~760).
MAX_DOCK_SHARE = 0.6

#: The button(s) each dock exists for (attributes of the dock widget): these must be in sight
#: when the dock is shown (tests/test_launch_window.py checks it at 1366x768 and 1920x1080).
PRIMARY_BUTTONS: dict[str, tuple[str, ...]] = {
    "View": ("open_image_button", "open_roi_button"),
    "ROI": ("rings_btn", "apply_btn"),
    "Features": ("extract_button",),
    "PET/CT": ("load_button",),
    "Predict": ("predict_button",),
    "Train": ("train_button",),
    "Worklist": ("sign_in_button",),
    "Agreement": ("run_button",),
    "PACS": ("search_button", "retrieve_button"),
    "DL features": ("extract_button",),
}

#: Share of the available screen (each direction) below which a new window is maximised.
FIRST_LAUNCH_SHARE = 0.9

TITLE = f"radgui {__version__} \N{EM DASH} {RESEARCH_NOTICE}"


def create_viewer(show: bool = True, viewer=None, offer_recovery: bool | None = None):
    """Create the radgui main window and return ``(viewer, docks)``.

    ``docks`` maps each dock title to its widget, for tests and scripts.
    ``viewer`` turns an existing napari viewer into radgui's window (tests pass
    the one napari's ``make_napari_viewer`` fixture made). The File menu gets
    Save ROI(s), Save session and Open session, with autosave
    (:class:`radgui.gui.session_actions.SessionActions`, from
    :func:`radgui.gui.session_actions.actions_for`); ``offer_recovery``
    (default: only for a new window) asks about unsaved work a crash left.
    """
    import napari

    new_window = viewer is None
    if viewer is None:
        viewer = napari.Viewer(title=TITLE, show=show)
    else:
        viewer.title = TITLE
    # Scale bar in mm (image layers carry units="mm"); napari >= 0.9 keeps it in canvas overlays.
    canvas = getattr(viewer, "canvas", None)
    scale_bar = canvas.overlays["scale_bar"] if canvas is not None else viewer.scale_bar
    scale_bar.visible = True
    docks, first = {}, None
    for module, cls_name, title, area in DOCKS:
        cls = getattr(importlib.import_module(f"radgui.gui.{module}"), cls_name)
        widget = cls(viewer)
        # Docks sharing an area are tabbed (stacked, each would be squeezed to a
        # strip) and scroll (here, once: the docks have no scroll area of their
        # own), so one wide dock does not force the area wide.
        dock = viewer.window.add_dock_widget(
            _scrolling(widget), name=title, area=area, tabify=first is not None, add_vertical_stretch=False)
        _min_width_while_in_front(dock)
        first = first or dock
        docks[title] = widget
        if hasattr(widget, "attach_to_window"):
            widget.attach_to_window()
    if first is not None:
        from qtpy.QtGui import QIcon

        from radgui import RESOURCES

        first.window().setWindowIcon(QIcon(str(RESOURCES / "icons" / "radgui.svg")))  # the main window
        if new_window and show:
            fill_screen(first.window())
        show_dock(viewer, DOCKS[0][2])
    from radgui.gui.session_actions import SessionActions

    actions = SessionActions(viewer, docks)
    for widget in docks.values():
        if hasattr(widget, "attach_session_actions"):
            widget.attach_session_actions(actions)
    if offer_recovery if offer_recovery is not None else new_window:
        from qtpy.QtCore import QTimer

        QTimer.singleShot(0, actions.offer_recovery)  # once the window is up
    from radgui.gui.presentation import install_presentation_action  # View > Presentation mode (F11)

    install_presentation_action(viewer, docks)
    return viewer, docks


def fill_screen(window) -> None:
    """Open ``window`` maximised unless it already covers FIRST_LAUNCH_SHARE of its screen.

    napari restores the size it saved last (a ``--screenshot`` run leaves
    1600x1000) or opens at a fixed default; neither fits every screen. A
    window manager maximises on request; without one (Xvfb) the geometry is
    set to the screen's available area directly.
    """
    from qtpy.QtWidgets import QApplication

    screen = window.screen() or QApplication.primaryScreen()
    if screen is None:
        return
    avail = screen.availableGeometry()
    if (window.width() >= FIRST_LAUNCH_SHARE * avail.width()
            and window.height() >= FIRST_LAUNCH_SHARE * avail.height()):
        return
    window.setGeometry(avail)
    window.showMaximized()
    QApplication.processEvents()


def _min_width_while_in_front(dock) -> None:
    """A tabbed dock holds its minimum width only while it is the tab in front.

    Qt gives a tab group the largest minimum of all its docks; with the
    Predict dock's ~780 px always counted, the canvas of a 1366 px screen
    would keep ~260 px on every tab. So each dock (napari's QDockWidget, which
    takes its content's minimum) asks for its width when shown (the area then
    grows to fit its buttons) and for 1 px when hidden (0 would fall back to
    the size hint).
    """
    width = max(dock.minimumWidth(), dock.widget().minimumWidth() if dock.widget() is not None else 0)
    if width <= 1:
        return
    dock.setProperty("radgui_min_width", width)

    def follow(visible, dock=dock, width=width):
        from radgui.gui._qt import is_alive

        if is_alive(dock):
            _hold_min_width(dock, width if visible else 1)

    dock.visibilityChanged.connect(follow)


def _hold_min_width(dock, width: int) -> None:
    """Set the minimum width of the QDockWidget and of its content (Qt's dock layout reads both)."""
    dock.setMinimumWidth(width)
    if dock.widget() is not None:
        dock.widget().setMinimumWidth(width)


def _screen_width() -> int:
    from qtpy.QtWidgets import QApplication

    screen = QApplication.primaryScreen()
    return screen.availableGeometry().width() if screen is not None else 1366


def _scrolling(widget):
    """The dock in a vertical scroll area as wide as the dock's own minimum (no sideways scrolling).

    The area's minimum width is the widget's minimum size hint plus the
    vertical scroll bar, capped at MAX_DOCK_SHARE of the screen, so napari's
    dock area can never be squeezed below what shows the dock's buttons.
    """
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QFrame, QScrollArea

    if isinstance(widget, QScrollArea):  # a dock that scrolls itself (also in plain napari)
        return widget
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setObjectName(f"{widget.objectName() or type(widget).__name__}_scroll")
    need = max(widget.minimumSizeHint().width(), widget.minimumWidth())
    bar = area.verticalScrollBar().sizeHint().width()
    area.setMinimumWidth(min(need + bar + 4, int(MAX_DOCK_SHARE * _screen_width())))
    if need + bar + 4 <= MAX_DOCK_SHARE * _screen_width():
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    return area


def show_dock(viewer, title: str, width: int | None = None) -> None:
    """Bring a radgui dock to the front of its tab group, optionally resizing its area.

    ``width`` is in pixels (default :data:`DOCK_WIDTH`); the Predict dock asks
    for more room to show the nomogram and the Kaplan-Meier panel.
    """
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    # napari's public way to the dock around a widget (Window.dock_widgets' docstring).
    dock = viewer.window.dock_widgets[title].parent()
    for other in list(viewer.window.dock_widgets.values()):  # only the dock in front keeps its minimum
        qdock = other.parent()
        own = qdock.property("radgui_min_width") if qdock is not None else None
        if own:
            _hold_min_width(qdock, int(own) if qdock is dock else 1)
    dock.show()
    dock.raise_()
    QApplication.processEvents()
    want = max(width or DOCK_WIDTH, int(dock.property("radgui_min_width") or 0))
    dock.window().resizeDocks([dock], [want], Qt.Horizontal)


def open_paths(viewer, image: str | Path | None, label: str | Path | None = None,
               label_name: str = "tumour", **load_kwargs):
    """Load an image (and optional label map) into the viewer.

    Raises the engine's :class:`~radgui.errors.RadguiError` on bad input; the
    caller decides how to show it (CLI: one line; GUI: a notification).
    """
    from radgui.gui.layers import add_roi, add_volume
    from radgui.io import load_mask, load_volume

    volume = load_volume(image, **load_kwargs)
    mask = load_mask(label, volume) if label is not None else None
    layer = add_volume(viewer, volume)
    roi = add_roi(viewer, mask, volume, name=label_name) if mask is not None else None
    if roi is not None:
        center_on_roi(viewer, roi)
    return layer, roi


def center_on_roi(viewer, roi_layer) -> None:
    """Move every slider through the ROI: its largest axial slice, and its centre in y and x.

    The axial view then shows the ROI's largest slice, and switching to the
    coronal or sagittal plane cuts through the ROI too (not the volume's middle).
    """
    import numpy as np

    data = np.asarray(roi_layer.data)
    per_slice = (data > 0).sum(axis=(1, 2))
    if not per_slice.any():
        return
    z = int(np.argmax(per_slice))
    ys, xs = np.nonzero(data[z] > 0)
    index = np.array([z, int(round(ys.mean())), int(round(xs.mean()))], float)
    world = np.asarray(roi_layer.translate[-3:], float) + np.asarray(roi_layer.scale[-3:], float) * index
    step = list(viewer.dims.point)
    step[-3:] = [float(v) for v in world]
    viewer.dims.point = step


def save_window_screenshot(viewer, path: str | Path, size: tuple[int, int] = (1600, 1000)) -> Path:
    """Render the whole main window (docks included) and save it as PNG."""
    from qtpy.QtWidgets import QApplication

    viewer.window.resize(*size)
    for _ in range(5):
        QApplication.processEvents()
    viewer.reset_view()  # fit the image to the canvas at its final size
    QApplication.processEvents()
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    if os.environ.get("RADGUI_STARTUP_TIMING"):
        # Seconds from process start to the first painted, captured window (make bench).
        import psutil

        print(f"radgui-startup-seconds {time.time() - psutil.Process().create_time():.3f}")
    return Path(path)
