"""The radgui error hierarchy.

Every error the engine raises on purpose is a :class:`RadguiError`. Each
subclass also subclasses the built-in it refines, so callers that catch
``ValueError`` or ``OSError`` keep working. The GUI turns a ``RadguiError`` into
a notification and keeps the user's work; the CLI prints its message on one
line and exits with status 2.

Messages name the file (when there is one) and the problem, in words a
radiologist understands.
"""

from __future__ import annotations

from pathlib import Path


class RadguiError(Exception):
    """Base class of every error radgui raises on purpose.

    Parameters
    ----------
    message : str
        What went wrong, in one sentence.
    path : str or Path, optional
        The file or folder concerned; it is put in front of the message.
    """

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else Path(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class InputFileError(RadguiError, OSError):
    """A file or folder is missing, unreadable or not of a format radgui reads."""


class GeometryError(RadguiError, ValueError):
    """Image geometry radgui refuses (oblique direction, bad spacing, ...)."""


class GeometryMismatchError(GeometryError):
    """A mask or second image does not share the reference image's grid."""


class EmptyMaskError(RadguiError, ValueError):
    """A region of interest has no voxel."""


class CancelledError(RadguiError):
    """Long work was cancelled by the user; nothing was written."""
