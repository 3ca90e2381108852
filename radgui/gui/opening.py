"""Opening images from the GUI: files, DICOM folders, drag and drop.

:func:`open_path` is what File > Open, the View dock's Open button and the
drag-and-drop reader call.
"""

from __future__ import annotations

from pathlib import Path


def open_path(viewer, path: str | Path, parent_widget=None, label: str | Path | None = None) -> list:
    """Load an image file or DICOM folder into ``viewer``; return the new layers.

    Raises :class:`~radgui.errors.RadguiError` on bad input (the caller shows it).
    """
    from radgui.gui.app import open_paths

    layer, roi = open_paths(viewer, path, label)
    return [ly for ly in (layer, roi) if ly is not None]
