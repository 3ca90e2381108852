"""The napari main window reached through Qt's public API, not napari's private attributes.

A dock widget added with ``viewer.window.add_dock_widget`` (by radgui's own
window or by plain napari's plugin manager) is parented to napari's
``QMainWindow``; ``QWidget.window()`` then returns it. Before the dock is
added (or for a widget that is never docked) there is no main window and
these helpers return None, so the docks work with or without one.
"""

from __future__ import annotations


def main_window(widget):
    """The ``QMainWindow`` holding ``widget``, or None while it is not docked."""
    from qtpy.QtWidgets import QMainWindow

    top = widget.window() if widget is not None else None
    return top if isinstance(top, QMainWindow) else None


def canvas_widget(window):
    """The vispy canvas' native Qt widget inside ``window`` (the largest OpenGL widget), or None."""
    try:
        from qtpy.QtOpenGLWidgets import QOpenGLWidget
    except ImportError:  # pragma: no cover - Qt5 bindings
        from qtpy.QtWidgets import QOpenGLWidget
    if window is None:
        return None
    found = window.findChildren(QOpenGLWidget)
    return max(found, key=lambda w: w.width() * w.height()) if found else None
