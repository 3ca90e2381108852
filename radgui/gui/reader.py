"""napari reader contribution: drag-and-drop of images and DICOM folders.

napari's reader protocol returns layer data tuples; radgui returns the image
with correct physical geometry and its Volume in ``metadata`` (see
:mod:`radgui.gui.layers`). Folders go through :func:`radgui.io.load_volume`,
which handles DICOM series.
"""

from __future__ import annotations

from pathlib import Path

from radgui.io.volume import IMAGE_SUFFIXES


def _readable(path: Path) -> bool:
    name = path.name.lower()
    return path.is_dir() or name == "dicomdir" or name.endswith(".dcm") or any(
        name.endswith(s) for s in IMAGE_SUFFIXES)


def get_reader(path):
    """Return a reader function for ``path`` when radgui can read it, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    return read if _readable(Path(path)) else None


def read(path) -> list[tuple]:
    """Read ``path`` into napari layer data tuples (errors propagate as RadguiError)."""
    from radgui.gui.layers import default_limits
    from radgui.io import load_volume

    if isinstance(path, list):
        path = path[0]
    volume = load_volume(path)
    import numpy as np

    kwargs = dict(volume.napari_kwargs(), name=volume.name, colormap="gray",
                  contrast_limits=default_limits(volume), metadata={"volume": volume})
    return [(np.asarray(volume.array), kwargs, "image")]
