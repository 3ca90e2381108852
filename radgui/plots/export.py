"""Save a matplotlib figure as PNG or SVG, atomically (the docks' Export buttons)."""

from __future__ import annotations

from pathlib import Path

from radgui.errors import RadguiError
from radgui.files import atomic_path

#: Suffixes a figure is exported as.
FIGURE_SUFFIXES = (".png", ".svg")


def save_figure(figure, path, *, dpi: int = 200) -> Path:
    """Write ``figure`` to ``path`` (``.png`` at ``dpi``, or ``.svg``) on a white background.

    The image is written beside ``path`` and renamed over it when complete
    (:func:`radgui.files.atomic_path`): a failed save leaves the old file.

    Raises
    ------
    RadguiError
        ``path`` is neither ``.png`` nor ``.svg``.
    OutputFileError
        The file cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise RadguiError("figures are exported as .png or .svg", path)
    with atomic_path(path) as tmp:  # the temporary name keeps the suffix that picks the format
        figure.savefig(tmp, dpi=dpi if suffix == ".png" else None, facecolor="white")
    return path
