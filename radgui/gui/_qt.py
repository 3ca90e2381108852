"""Small Qt helpers shared by the docks."""

from __future__ import annotations


def is_alive(obj) -> bool:
    """False once the C++ side of a Qt object is deleted (e.g. the window closed).

    Worker results and napari layer events can arrive after a dock's widgets
    are gone; touching them then raises ``RuntimeError``.
    """
    try:
        from shiboken6 import isValid
    except ImportError:  # pragma: no cover - PyQt builds
        return True
    return isValid(obj)
