"""The main window: a napari viewer with radgui's dock widgets.

Dock widgets are listed in :data:`DOCKS` as ``(module, class, title, area)``;
each class takes the viewer as its only argument (napari's widget contract),
so the same widgets also work in plain napari through ``napari.yaml``.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Mapping
from contextlib import contextmanager
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


#: The dock built right after the first paint, not on first show: it binds the viewer's mouse and keys.
WARM_AFTER_PAINT = "ROI"


class Docks(Mapping):
    """The window's dock widgets by title, each built on first use.

    Only the front dock (View) is built with the window; every other dock
    starts as a light placeholder in its tab and is built when it is first
    shown (its tab clicked, :func:`show_dock`) or first asked for here
    (``docks["Predict"]``, ``docks.get("ROI")``): code that reads a dock
    always gets the real widget. ``title in docks``, ``len`` and iteration
    over titles build nothing; :meth:`built` lists what exists so far.
    """

    def __init__(self):
        self._widgets: dict = {}
        self._builders: dict = {}
        self._hooks: dict[str, list] = {}
        self._order: list[str] = []
        self._peeking = False

    def __getitem__(self, title):
        if title not in self._widgets:
            if title not in self._builders or self._peeking:
                raise KeyError(title)
            self._builders.pop(title)()
        return self._widgets[title]

    @contextmanager
    def peeking(self):
        """Within this block, reading a dock not built yet finds nothing (KeyError, ``get`` gives None).

        The window's autosave snapshot reads the docks this way: a dock the
        user never opened holds nothing to save, and building it from a timer
        would freeze the window while it imports its libraries.
        """
        before, self._peeking = self._peeking, True
        try:
            yield self
        finally:
            self._peeking = before

    def __iter__(self):
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, title) -> bool:
        return title in self._order

    def built(self) -> dict:
        """The docks built so far, by title (builds nothing)."""
        return {t: self._widgets[t] for t in self._order if t in self._widgets}

    def is_built(self, title: str) -> bool:
        return title in self._widgets

    def on_build(self, title: str, fn) -> None:
        """Call ``fn(widget)`` once the dock ``title`` is built (at once if it is)."""
        if title in self._widgets:
            fn(self._widgets[title])
        elif title in self._builders:
            self._hooks.setdefault(title, []).append(fn)

    def _add(self, title: str, widget=None, builder=None) -> None:
        self._order.append(title)
        if widget is not None:
            self._widgets[title] = widget
        else:
            self._builders[title] = builder

    def _set(self, title: str, widget) -> None:
        self._widgets[title] = widget
        for fn in self._hooks.pop(title, []):
            fn(widget)


def create_viewer(show: bool = True, viewer=None, offer_recovery: bool | None = None):
    """Create the radgui main window and return ``(viewer, docks)``.

    ``docks`` (:class:`Docks`) maps each dock title to its widget, for tests
    and scripts; docks other than the front one are built when first shown
    or first read from it. ``viewer`` turns an existing napari viewer into
    radgui's window (tests pass the one napari's ``make_napari_viewer``
    fixture made). The File menu gets Save ROI(s), Save session and Open
    session, with autosave (:class:`radgui.gui.session_actions.SessionActions`,
    from :func:`radgui.gui.session_actions.actions_for`); ``offer_recovery``
    (default: only for a new window) asks about unsaved work a crash left.
    """
    import napari

    new_window = viewer is None
    docks, state = Docks(), {"actions": None}
    with _settings_saved_once():  # napari's window and radgui's docks placed, then its settings written once
        if viewer is None:
            viewer = napari.Viewer(title=TITLE, show=show)
        else:
            viewer.title = TITLE
        first = _add_docks(viewer, docks, state)
    if first is not None:
        from qtpy.QtGui import QIcon

        from radgui import RESOURCES

        first.window().setWindowIcon(QIcon(str(RESOURCES / "icons" / "radgui.svg")))  # the main window
        if new_window and show:
            fill_screen(first.window())
        show_dock(viewer, DOCKS[0][2])
        if WARM_AFTER_PAINT in docks:
            from qtpy.QtCore import QTimer

            # Ctrl+click grow and the ring set's Ctrl+Z are bindings the ROI dock installs on the viewer: build
            # it behind View once the window has painted, so they work before its tab is ever opened.
            after_first_paint(first.window(), lambda: QTimer.singleShot(0, lambda: docks.get(WARM_AFTER_PAINT)))
    if show and first is not None:
        # The scale bar's first showing builds pint's unit registry (~0.4 s): after the first paint.
        from radgui.gui._qt import is_alive

        after_first_paint(first.window(), lambda: is_alive(first) and _show_scale_bar(viewer), fallback_ms=500)
    else:
        _show_scale_bar(viewer)
    from radgui.gui.session_actions import SessionActions

    actions = SessionActions(viewer, docks)
    _snapshot_without_building(actions, docks)
    state["actions"] = actions
    for widget in docks.built().values():
        if hasattr(widget, "attach_session_actions"):
            widget.attach_session_actions(actions)
    if offer_recovery if offer_recovery is not None else new_window:
        from qtpy.QtCore import QTimer

        QTimer.singleShot(0, actions.offer_recovery)  # once the window is up
    from radgui.gui.presentation import install_presentation_action  # View > Presentation mode (F11)

    install_presentation_action(viewer, docks)
    return viewer, docks


def _add_docks(viewer, docks: "Docks", state: dict):
    """Add every dock of :data:`DOCKS` to the window (the first built, the others as placeholders).

    Returns the first QDockWidget (None without docks).
    """
    first = None
    for module, cls_name, title, area in DOCKS:
        if first is None:  # the dock in front: built with the window
            widget = _construct(viewer, module, cls_name)
            content = _scrolling(widget)
        else:
            widget, content = None, _placeholder(title)
        # Docks sharing an area are tabbed (stacked, each would be squeezed to a
        # strip) and scroll (here, once: the docks have no scroll area of their
        # own), so one wide dock does not force the area wide.
        dock = viewer.window.add_dock_widget(
            content, name=title, area=area, tabify=first is not None, add_vertical_stretch=False)
        if widget is not None:
            _min_width_while_in_front(dock)
            docks._add(title, widget)
            if hasattr(widget, "attach_to_window"):
                widget.attach_to_window()
        else:
            build = _lazy_builder(viewer, docks, dock, module, cls_name, title, state)
            docks._add(title, builder=build)
            dock.visibilityChanged.connect(lambda visible, build=build: visible and build(front=True))
        first = first or dock
    return first


def _show_scale_bar(viewer) -> None:
    """Scale bar in mm (image layers carry units="mm"); napari >= 0.9 keeps it in canvas overlays."""
    canvas = getattr(viewer, "canvas", None)
    scale_bar = canvas.overlays["scale_bar"] if canvas is not None else viewer.scale_bar
    scale_bar.visible = True


@contextmanager
def _settings_saved_once():
    """napari's settings file written once for the whole window, not once per dock placed.

    napari saves its settings (YAML) each time a dock widget lands in an area
    (``_update_default_dock_area``): 22 writes, ~0.4 s of start-up, for its
    own three docks and radgui's. Its settings model switches that off with ``_save_on_change``;
    where a napari lacks it, the docks are added as before.
    """
    try:
        from napari.settings import get_settings

        settings = get_settings()
        before = settings._save_on_change
    except Exception:  # noqa: BLE001 - a napari without the switch: save as napari does
        yield
        return
    settings._save_on_change = False
    try:
        yield
    finally:
        settings._save_on_change = before
        settings._maybe_save()


def _snapshot_without_building(actions, docks: Docks) -> None:
    """The session snapshot (autosave, Save session) reads only the docks already built.

    Restoring a session (Open session, crash recovery) still builds the ROI
    and Predict docks it fills in.
    """
    build_session = actions.build_session

    def snapshot():
        with docks.peeking():
            return build_session()

    snapshot.__doc__ = build_session.__doc__
    actions.build_session = snapshot


def _construct(viewer, module: str, cls_name: str):
    """One dock widget: its class from :data:`DOCKS`, given the viewer (napari's widget contract)."""
    return getattr(importlib.import_module(f"radgui.gui.{module}"), cls_name)(viewer)


def _placeholder(title: str):
    """The light stand-in a dock shows until its content is built (a label, no imports)."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QLabel

    label = QLabel(f"Opening {title}\N{HORIZONTAL ELLIPSIS}")
    label.setAlignment(Qt.AlignHCenter | Qt.AlignTop)
    label.setObjectName(f"radgui_placeholder_{title}")
    return label


def _lazy_builder(viewer, docks: Docks, dock, module: str, cls_name: str, title: str, state: dict):
    """A function that builds the dock ``title`` into its QDockWidget ``dock`` (once).

    The content replaces the placeholder in the same QDockWidget (napari's
    ``dock_widgets[title]`` then returns it), takes the minimum width the
    eager window gave it (:func:`_scrolling`, :func:`_min_width_while_in_front`)
    and is wired to the window like a dock built at start (session actions,
    blinded reading). ``front``: the dock is the tab being shown.
    """
    done = []

    def build(front: bool = False):
        from radgui.gui._qt import is_alive

        if done or not is_alive(dock):
            return
        done.append(True)
        docks._builders.pop(title, None)
        old = dock.widget()
        try:
            widget = _construct(viewer, module, cls_name)
        except Exception as exc:
            if old is not None and hasattr(old, "setText"):  # say so in the dock, not only on the console
                old.setText(f"{title} could not open: {exc}")
                old.setWordWrap(True)
            raise
        content = _scrolling(widget)
        front = front or not dock.visibleRegion().isEmpty()
        shown = dock if front else _front_of_group(dock)  # the tab in sight in this dock's area
        area_width = shown.width() if shown is not None else 0
        dock.setWidget(content)
        if old is not None:
            old.deleteLater()
        if front:
            content.show()
        _min_width_while_in_front(dock)
        own = int(dock.property("radgui_min_width") or 0)
        if own:
            _hold_min_width(dock, own if front else 1)
        # Qt re-lays the dock area to the new content's size hint; a dock built at start keeps the
        # area's width (grown only to its minimum when in front): do the same, now and after the relayout.
        if shown is not None:
            _keep_area_width(shown, max(area_width, own if front else 0))
        if hasattr(widget, "attach_to_window"):
            widget.attach_to_window()
        if state["actions"] is not None and hasattr(widget, "attach_session_actions"):
            widget.attach_session_actions(state["actions"])
        docks._set(title, widget)
        _keep_blinded(docks)

    return build


def _front_of_group(dock):
    """The dock in sight among ``dock`` and the docks tabbed with it, or None."""
    window = dock.window()
    tabbed = window.tabifiedDockWidgets(dock) if hasattr(window, "tabifiedDockWidgets") else []
    return next((d for d in [dock, *tabbed] if d.isVisible() and not d.visibleRegion().isEmpty()), None)


def _keep_area_width(dock, width: int) -> None:
    """Give ``dock``'s area ``width`` pixels now and once the layout request the new content posted is done."""
    from qtpy.QtCore import Qt, QTimer

    from radgui.gui._qt import is_alive

    def resize():
        if is_alive(dock) and dock.window() is not None:
            dock.window().resizeDocks([dock], [width], Qt.Horizontal)

    resize()
    QTimer.singleShot(0, resize)


def _keep_blinded(docks: Docks) -> None:
    """A dock built during a blinded reading session hides what the session hides (the Predict form).

    The Worklist dock blinds the Predict dock when the reader signs in; a
    Predict dock built after that gets the same treatment here.
    """
    worklist = docks.built().get("Worklist")
    session = getattr(worklist, "reader_session", None)
    if session is not None and getattr(session, "blinded", False) and hasattr(worklist, "_set_blinded_ui"):
        worklist._set_blinded_ui(True)


def after_first_paint(window, fn, fallback_ms: int = 1000) -> None:
    """Call ``fn()`` from the event loop once ``window`` has painted (at the latest after ``fallback_ms``).

    The demo opens its case this way: the empty window is on screen before the
    case is read and drawn. The fallback covers a window that is never exposed
    (minimised, no compositor).
    """
    from qtpy.QtCore import QEvent, QObject, QTimer

    fired = []

    def once():
        if not fired:
            fired.append(True)
            fn()

    class _FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Paint:
                obj.removeEventFilter(self)
                QTimer.singleShot(0, once)
            return False

    probe = _FirstPaint(window)
    window.installEventFilter(probe)
    window.update()  # a paint is due even if the window already painted while it was built
    QTimer.singleShot(fallback_ms, once)


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
