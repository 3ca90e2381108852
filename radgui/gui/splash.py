"""A splash screen while napari loads (napari's own import is most of radgui's start-up).

``import napari`` is cheap (a lazy loader), but napari's Qt part
(``napari._qt``, vispy, the layer models) takes ~2 s to import and the viewer
~1 s to build on a 2-core machine: most of the time to the first window. So
the ``radgui`` GUI commands create the QApplication (named as napari names its
own, so napari treats it as its own) and paint a splash first, with Qt alone,
then build the viewer. :func:`close_splash` hides it once the main window is
painted.

The splash is a frameless top-level label, not a ``QSplashScreen``: Qt's
``QSplashScreen.show()`` blocks until the window system reports the window
exposed, with a 1 s timeout, and on X servers without a window manager
(Xvfb, kiosk set-ups) that report never reaches its wait loop, so every
start paid a full second there (measured: ``show()`` 1.01 s against 4 ms for
the same pixmap in a label).
"""

from __future__ import annotations

import sys
import time

#: napari's application identity (``napari._qt.qt_event_loop._get_defaults``): napari's quit and
#: raise-to-front logic checks the application name to tell its own QApplication from a host's.
_APP_NAME = "napari"
_ORG_NAME = "napari"
_ORG_DOMAIN = "napari.org"

SIZE = (460, 150)

#: Longest wait for the window system to show the splash before napari's import starts.
EXPOSE_WAIT_S = 0.5

_TOOLTIP_FILTER = None  # napari's tooltip filter, installed once on the splash's application


def show_splash(message: str = "Starting\N{HORIZONTAL ELLIPSIS}"):
    """Create the QApplication and show the splash; return it (None when an application already exists).

    Only Qt is imported (and ``napari`` itself, whose top-level import runs its
    Wayland/OpenGL workaround, which must precede any QApplication).
    """
    import napari  # noqa: F401 - lazy; applies napari's platform fix before the QApplication
    from qtpy.QtCore import Qt
    from qtpy.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
    from qtpy.QtWidgets import QApplication

    from radgui import RESEARCH_NOTICE, RESOURCES, __version__

    if QApplication.instance() is not None:  # a host (IPython, a test) owns the application
        return None
    app = QApplication(sys.argv.copy())
    app.setApplicationName(_APP_NAME)
    app.setApplicationVersion(getattr(napari, "__version__", ""))
    app.setOrganizationName(_ORG_NAME)
    app.setOrganizationDomain(_ORG_DOMAIN)
    icon = QIcon(str(RESOURCES / "icons" / "radgui.svg"))
    app.setWindowIcon(icon)

    w, h = SIZE
    pixmap = QPixmap(w, h)
    pixmap.fill(QColor("#262930"))  # napari's dark theme background
    painter = QPainter(pixmap)
    icon.paint(painter, 20, 27, 96, 96)
    painter.setPen(QColor("#f0f1f2"))
    font = QFont()
    font.setPointSize(20)
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(136, 30, w - 150, 40, Qt.AlignLeft | Qt.AlignVCenter, f"radgui {__version__}")
    font.setPointSize(10)
    font.setBold(False)
    painter.setFont(font)
    painter.drawText(136, 72, w - 150, 50, Qt.AlignLeft | Qt.TextWordWrap, RESEARCH_NOTICE)
    painter.end()
    splash = _splash_label(pixmap, message)
    splash.show()
    # Paint it now: napari's import then blocks the event loop for seconds. A new window is drawn
    # only once the window system has mapped (exposed) it, which takes a round trip on X11.
    end = time.monotonic() + EXPOSE_WAIT_S
    while time.monotonic() < end:
        app.processEvents()
        handle = splash.windowHandle()
        if handle is not None and handle.isExposed():
            break
        time.sleep(0.005)
    splash.repaint()
    app.processEvents()
    return splash


def _splash_label(pixmap, message: str):
    """The splash window (not shown): ``pixmap`` with ``message``, centred on the primary screen."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication, QLabel

    splash = QLabel()
    splash.setObjectName("radgui_splash")
    splash.setWindowFlags(Qt.SplashScreen | Qt.FramelessWindowHint | Qt.WindowStaysOnTopHint)
    splash.setProperty("radgui_pixmap", pixmap)
    _draw_message(splash, message)
    screen = QApplication.primaryScreen()
    if screen is not None:  # centred, as QSplashScreen places itself
        centre = screen.availableGeometry().center()
        splash.move(centre.x() - pixmap.width() // 2, centre.y() - pixmap.height() // 2)
    return splash


def _draw_message(splash, message: str) -> None:
    """The splash's picture with ``message`` at its bottom left (as QSplashScreen.showMessage draws it)."""
    from qtpy.QtCore import Qt
    from qtpy.QtGui import QColor, QPainter, QPixmap

    base = splash.property("radgui_pixmap")
    pixmap = QPixmap(base)
    painter = QPainter(pixmap)
    painter.setPen(QColor("#a0a6ad"))
    painter.drawText(pixmap.rect().adjusted(6, 0, -6, -4), Qt.AlignLeft | Qt.AlignBottom, message)
    painter.end()
    splash.setPixmap(pixmap)


def say(splash, message: str) -> None:
    """Show ``message`` on the splash (no-op without one)."""
    if splash is None:
        return
    from qtpy.QtWidgets import QApplication

    _draw_message(splash, message)
    splash.repaint()
    QApplication.processEvents()


def finish_app_setup() -> None:
    """What napari's ``get_qapp`` does for an application it creates, done for the splash's one.

    Tooltips become rich text (so long ones wrap) through napari's own event
    filter. Skipped quietly if napari moves it (tooltips then do not wrap).
    """
    from qtpy.QtWidgets import QApplication

    global _TOOLTIP_FILTER
    app = QApplication.instance()
    if app is None or _TOOLTIP_FILTER is not None:
        return
    try:
        from napari._qt.qt_event_filters import QtToolTipEventFilter
    except ImportError:  # pragma: no cover - a napari without it
        return
    _TOOLTIP_FILTER = QtToolTipEventFilter()
    app.installEventFilter(_TOOLTIP_FILTER)


def close_splash(splash, window) -> None:
    """Close the splash once ``window`` (the main window) has painted (at the latest after 2 s)."""
    if splash is None:
        return
    from radgui.gui.app import after_first_paint

    def close():
        from radgui.gui._qt import is_alive

        if is_alive(splash):
            splash.close()
            splash.deleteLater()

    after_first_paint(window, close, fallback_ms=2000)
