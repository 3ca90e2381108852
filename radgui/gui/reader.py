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


def _is_dicom(path: Path) -> bool:
    return path.is_dir() or path.name.lower() == "dicomdir" or path.name.lower().endswith(".dcm")


def read(path) -> list[tuple]:
    """Read ``path`` into napari layer data tuples (errors propagate as RadguiError).

    DICOM folders dropped on a radgui window go through
    :func:`radgui.gui.opening.open_path` (series picker, SUV and resampling
    questions, SEG/RTSTRUCT ROIs), which adds the layers itself; napari then
    gets the "nothing more to add" sentinel ``[(None,)]``.
    """
    from radgui.gui.layers import default_limits
    from radgui.io import load_volume

    if isinstance(path, list):
        path = path[0]
    if _is_dicom(Path(path)):
        import napari

        viewer = napari.current_viewer()
        if viewer is not None:
            from radgui.gui.opening import open_path

            open_path(viewer, path)
            return [(None,)]
    volume = load_volume(path)
    import numpy as np

    kwargs = dict(volume.napari_kwargs(), name=volume.name, colormap="gray",
                  contrast_limits=default_limits(volume), metadata={"volume": volume})
    return [(np.asarray(volume.array), kwargs, "image")]
