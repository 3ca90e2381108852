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


class OutputFileError(RadguiError, OSError):
    """A file cannot be written (disk full, permission denied, ...); the previous file is unchanged."""


class UntrustedInputError(RadguiError, ValueError):
    """A YAML, JSON or CSV file from outside is refused (too large, too deep, aliases, non-finite numbers, ...)."""


class GeometryError(RadguiError, ValueError):
    """Image geometry radgui refuses (oblique direction, bad spacing, ...)."""


class GeometryMismatchError(GeometryError):
    """A mask or second image does not share the reference image's grid."""


class EmptyMaskError(RadguiError, ValueError):
    """A region of interest has no voxel."""


class CancelledError(RadguiError):
    """Long work was cancelled by the user; nothing was written."""


class StatsInputError(RadguiError, ValueError):
    """Data given to a statistic cannot give a meaningful answer (one class only, NaN, mismatched lengths, ...)."""


class ConfigError(RadguiError, ValueError):
    """A training configuration (YAML) has a missing, unknown or invalid key."""


class BundleError(RadguiError, ValueError):
    """A model bundle is malformed, of an unsupported schema version, or unsafe (pickle inside)."""


class ClinicalValueError(RadguiError, ValueError):
    """A clinical value a model needs is missing, of the wrong type, or out of its allowed range."""


class FeatureValueError(RadguiError, ValueError):
    """A radiomics feature a model needs is missing from the extracted features or is not a finite number."""


class DicomError(RadguiError, ValueError):
    """A DICOM file or series radgui refuses (missing geometry, truncated pixels, no decoder, ...)."""


class SeriesChoiceError(DicomError):
    """A DICOM folder holds several series and none was chosen; ``.series`` lists them."""

    def __init__(self, message, path=None, series=None):
        super().__init__(message, path)
        self.series = list(series or [])


class SliceSpacingError(DicomError):
    """Missing slices or uneven slice spacing; loading again with ``resample_spacing=True`` resamples."""


class MemoryBudgetError(DicomError, MemoryError):
    """A volume whose header implies more memory than the configured budget."""


class SuvError(RadguiError, ValueError):
    """PET SUV cannot be computed; ``.missing`` lists the DICOM tags (or values) that are needed.

    ``.keys`` names the ``suv_user_values`` entries that would answer them
    (``weight_kg``, ``dose_bq``, ...): what a dialog asks for, without reading the words.
    """

    def __init__(self, message, path=None, missing=None, keys=None):
        super().__init__(message, path)
        self.missing = list(missing or [])
        self.keys = list(keys or [])


class PresetError(RadguiError, ValueError):
    """A feature preset is unknown or not a valid PyRadiomics parameter file."""


class FeatureExtractionError(RadguiError, ValueError):
    """Features cannot be extracted for a region of interest or a case (the message names it)."""


class PredictionInputError(RadguiError, ValueError):
    """A study lacks what a model needs to score a patient (an ROI, a PET image, a feature the engine cannot make)."""


class FrameOfReferenceError(GeometryMismatchError):
    """Two DICOM series do not share a FrameOfReferenceUID; fusing them needs the user's explicit consent."""


class MaskLabelError(RadguiError, ValueError):
    """A mask is not an integer label map with few labels, or which label is the ROI is ambiguous or absent."""


class ModelFitError(RadguiError, ArithmeticError):
    """A model cannot be fitted to the data (a solver did not converge); the message says what to change."""


class SessionError(RadguiError, ValueError):
    """A ``.radgui`` session or recovery file is refused (corrupt, from a newer radgui, members missing, ...)."""


class StudyError(RadguiError, ValueError):
    """A reader study is refused or an operation on it is impossible (unknown reader, too many cases, ...)."""


class PacsError(RadguiError, ConnectionError):
    """A PACS node is unreachable, refuses us, times out or answers wrongly (the message names the node)."""


class NoDisplayError(RadguiError, RuntimeError):
    """No display server to open a window on (Qt would abort the process); says how to run headless."""


class FusionError(RadguiError, ValueError):
    """PET and CT cannot be fused with these inputs or parameters (grids differ, unknown method, weight out of range)."""


class MissingExtraError(RadguiError, ImportError):
    """An optional extra (e.g. ``radgui[dl]``: torch, MONAI, safetensors) is not installed."""


class WeightsError(RadguiError, ValueError):
    """A deep-learning weights file or its manifest is refused (pickle, unknown tensors, wrong shapes, too large, ...)."""


class DLInputError(RadguiError, ValueError):
    """Data given to deep-learning training or extraction cannot be used (too few patients, one class, bad crop spec, ...)."""


class SchedulerError(RadguiError, ConnectionError):
    """A Dask scheduler (``--scheduler ADDRESS``) cannot be reached or used (the message names the address)."""
