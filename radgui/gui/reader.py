"""napari reader contribution: drag-and-drop of images, masks and DICOM folders.

napari's reader protocol returns layer data tuples; radgui returns the image
with correct physical geometry and its Volume in ``metadata`` (see
:mod:`radgui.gui.layers`). An integer image that passes the mask rule
(:func:`radgui.io.volume.label_values`: no negative values, few labels) and
does not look like a CT comes back as a Labels layer. Folders go through
:func:`radgui.io.load_volume`, which handles DICOM series.

The reader claims only what it reads: NRRD/NHDR, NIfTI, MHA/MHD files,
``.dcm`` files, ``DICOMDIR`` and folders holding DICOM files (or a
DICOMDIR). Anything else (a PNG, a CSV, a folder of other files) returns
None so napari offers it to other readers.
"""

from __future__ import annotations

from pathlib import Path

from radgui.io.volume import IMAGE_SUFFIXES

#: Files looked at (at most) to decide whether a folder is a DICOM folder.
MAX_FILES_PROBED = 64

#: Folder levels looked into below the dropped folder (series often sit in sub-folders).
MAX_DEPTH = 4


def _is_dicom_folder(path: Path) -> bool:
    """A folder with a DICOMDIR or a DICOM file within MAX_DEPTH levels (MAX_FILES_PROBED files looked at)."""
    import os

    from radgui.io.masks import is_dicom_file

    probed = 0
    root_depth = len(path.parts)
    for folder, subdirs, files in os.walk(path):
        here = Path(folder)
        if len(here.parts) - root_depth >= MAX_DEPTH:
            subdirs[:] = []
        subdirs.sort()
        for name in sorted(files):
            if name.upper() == "DICOMDIR":
                return True
            if is_dicom_file(here / name):
                return True
            probed += 1
            if probed >= MAX_FILES_PROBED:
                return False
    return False


def _readable(path: Path) -> bool:
    name = path.name.lower()
    if path.is_dir():
        return _is_dicom_folder(path)
    return name == "dicomdir" or name.endswith(".dcm") or any(name.endswith(s) for s in IMAGE_SUFFIXES)


def get_reader(path):
    """Return a reader function for ``path`` when radgui can read it, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    return read if _readable(Path(path)) else None


def _is_dicom(path: Path) -> bool:
    return path.is_dir() or path.name.lower() == "dicomdir" or path.name.lower().endswith(".dcm")


def is_label_volume(volume) -> bool:
    """An integer image that passes the mask rule and is not a CT: a label map."""
    import numpy as np

    from radgui.errors import RadguiError
    from radgui.io.volume import label_values

    array = np.asarray(volume.array)
    if volume.modality == "CT" or not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        return False
    try:
        label_values(array)
    except RadguiError:
        return False
    return True


def read(path) -> list[tuple]:
    """Read ``path`` into napari layer data tuples (errors propagate as RadguiError).

    DICOM folders dropped on a radgui window go through
    :func:`radgui.gui.opening.open_path` (series picker, SUV and resampling
    questions, SEG/RTSTRUCT ROIs), which adds the layers itself; napari then
    gets the "nothing more to add" sentinel ``[(None,)]``. A label map comes
    back as a ``"labels"`` layer (opacity 0.5, the image geometry).
    """
    import numpy as np

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
    if is_label_volume(volume):
        kwargs = dict(volume.napari_kwargs(), name=volume.name, opacity=0.5,
                      metadata={"roi": True, "volume": _image_on_grid(volume)})
        data = np.asarray(volume.array)
        return [(data.astype(np.uint8) if data.dtype == bool else data, kwargs, "labels")]
    kwargs = dict(volume.napari_kwargs(), name=volume.name, colormap="gray",
                  contrast_limits=default_limits(volume), metadata={"volume": volume})
    return [(np.asarray(volume.array), kwargs, "image")]


def _image_on_grid(volume):
    """The Volume of an image already in the current viewer on ``volume``'s grid, else ``volume``.

    A mask opened after its CT then belongs to that CT (radgui's docks pair
    ROIs with images through ``metadata["volume"]``).
    """
    import numpy as np

    try:
        import napari

        from radgui.gui.layers import image_layers
    except ImportError:  # pragma: no cover
        return volume
    viewer = napari.current_viewer()
    if viewer is None:
        return volume
    for layer in image_layers(viewer):
        other = layer.metadata["volume"]
        if (other.shape == volume.shape and np.allclose(other.spacing, volume.spacing)
                and np.allclose(other.origin, volume.origin, atol=1e-3)):
            return other
    return volume
