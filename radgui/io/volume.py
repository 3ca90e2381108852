"""Volumes, masks and the one place where geometry conventions are converted.

Conventions
-----------
ITK and SimpleITK speak (x, y, z) in the DICOM patient coordinate system LPS
(+x towards the patient's Left, +y Posterior, +z Superior). numpy arrays and
napari speak (z, y, x). radgui converts between the two here and nowhere else:

* every image is reoriented on load to the canonical LPS orientation, whose
  direction matrix is the identity (``sitk.DICOMOrient(image, "LPS")``); the
  original direction and the axis permutation/flips are recorded in
  ``Volume.meta["reorientation"]``;
* after that, ``origin + spacing * index`` (all in z, y, x order, mm) is the
  voxel's physical LPS position in (z, y, x) order, which is exactly napari's
  ``translate + scale * index``;
* oblique images (direction cosines that are not a signed permutation) are
  refused with a clear message instead of being shown with a wrong geometry.

With this orientation an axial slice is displayed with the patient's right on
the viewer's left and anterior at the top: the radiological convention.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radgui.errors import (
    GeometryError,
    GeometryMismatchError,
    InputFileError,
    MaskLabelError,
    MemoryBudgetError,
)

#: File suffixes read by :func:`load_volume` (besides DICOM folders).
IMAGE_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")

#: Tolerance on direction cosines to call an image axis-aligned.
DIRECTION_TOL = 1e-4

#: Default tolerance, in mm, for two grids to count as the same.
GEOMETRY_TOL_MM = 1e-3

#: Default memory budget for one decoded image, in bytes (4 GiB); every format (DICOM too) checks it
#: against the size its header implies, before decoding a voxel.
DEFAULT_MEMORY_BUDGET = 4 * 1024**3

#: Most distinct non-zero labels a mask file may hold (a CT given as the mask has thousands of values).
MAX_MASK_LABELS = 255

#: Largest label value a mask may use (labels are stored as UInt8 or UInt16).
MAX_LABEL_VALUE = 65535


def memory_budget(budget_bytes: int | None = None) -> int:
    """The memory budget in bytes: ``budget_bytes``, else ``RADGUI_MEMORY_BUDGET_GB``, else 4 GiB."""
    if budget_bytes is not None:
        return int(budget_bytes)
    env = os.environ.get("RADGUI_MEMORY_BUDGET_GB")
    if env:
        try:
            value = float(env)
        except ValueError:
            value = float("nan")
        if not math.isfinite(value) or value <= 0:
            raise InputFileError(f"RADGUI_MEMORY_BUDGET_GB={env!r} is not a positive number of GiB")
        return int(value * 1024**3)
    return DEFAULT_MEMORY_BUDGET


@dataclass
class Volume:
    """An image with its modality, metadata and physical geometry.

    Attributes
    ----------
    image : SimpleITK.Image
        The image in canonical LPS orientation (identity direction).
    modality : str
        DICOM-style modality: ``"CT"``, ``"MR"``, ``"PT"`` or ``"OT"``.
    meta : dict
        Source path, reorientation, loader warnings (``meta["warnings"]``),
        SUV parameters for PET, and anything else that travels with the image
        into provenance.
    """

    image: sitk.Image
    modality: str = "OT"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.image, sitk.Image):
            spacing = self.image.GetSpacing()
            if not all(math.isfinite(float(v)) and v > 0 for v in spacing):
                raise GeometryError(f"image spacing {tuple(spacing)} mm is not finite and positive",
                                    self.meta.get("source") or None)
            origin = self.image.GetOrigin()
            if not all(math.isfinite(float(v)) for v in origin):
                raise GeometryError(f"image origin {origin} is not finite", self.meta.get("source") or None)

    @property
    def array(self) -> np.ndarray:
        """Voxel values as a read-only numpy view in (z, y, x) order (no copy).

        The view keeps the SimpleITK image alive, so it stays valid after the
        Volume is gone.
        """
        return array_view(self.image)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel spacing in mm, (z, y, x)."""
        return tuple(float(s) for s in reversed(self.image.GetSpacing()))

    @property
    def origin(self) -> tuple[float, float, float]:
        """Physical LPS position of voxel (0, 0, 0) in mm, (z, y, x)."""
        return tuple(float(o) for o in reversed(self.image.GetOrigin()))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape, (z, y, x)."""
        return tuple(int(s) for s in reversed(self.image.GetSize()))

    @property
    def warnings(self) -> list[str]:
        """Warnings from loading; they go into every output's provenance."""
        return self.meta.setdefault("warnings", [])

    @property
    def name(self) -> str:
        """A short display name (file stem or series description)."""
        return str(self.meta.get("name", "image"))

    def napari_kwargs(self) -> dict[str, tuple]:
        """``scale``, ``translate``, ``units`` and ``axis_labels`` for a napari layer.

        napari's world coordinates are then physical LPS positions in mm, (z, y, x).
        """
        return {"scale": self.spacing, "translate": self.origin,
                "units": ("mm", "mm", "mm"), "axis_labels": ("z", "y", "x")}

    def index_to_physical(self, index_zyx) -> np.ndarray:
        """Physical LPS position (z, y, x) in mm of a (z, y, x) voxel index."""
        return np.asarray(self.origin) + np.asarray(self.spacing) * np.asarray(index_zyx, float)

    def physical_to_index(self, point_zyx) -> np.ndarray:
        """Continuous (z, y, x) voxel index of a physical LPS point (z, y, x) in mm."""
        return (np.asarray(point_zyx, float) - np.asarray(self.origin)) / np.asarray(self.spacing)

    def hash(self) -> str:
        """SHA-256 of the voxel values and geometry (for provenance)."""
        return image_hash(self.image)


class _ImageBuffer:
    """Exposes an image's buffer to numpy while holding a reference to the image."""

    def __init__(self, image: sitk.Image):
        self._image = image
        self.__array_interface__ = sitk.GetArrayViewFromImage(image).__array_interface__


def array_view(image: sitk.Image) -> np.ndarray:
    """Read-only (z, y, x) numpy view of a SimpleITK image that keeps the image alive.

    ``sitk.GetArrayViewFromImage`` alone returns a view that dangles once the
    image is garbage-collected; this one does not.
    """
    arr = np.asarray(_ImageBuffer(image))
    arr.flags.writeable = False
    return arr


def image_hash(image: sitk.Image) -> str:
    """SHA-256 of an image's voxel values, pixel type and geometry."""
    h = hashlib.sha256()
    h.update(repr((image.GetSize(), image.GetSpacing(), image.GetOrigin(),
                   image.GetDirection(), image.GetPixelIDTypeAsString())).encode())
    h.update(np.ascontiguousarray(sitk.GetArrayViewFromImage(image)).reshape(-1).view(np.uint8))  # no copy
    return h.hexdigest()


# --------------------------------------------------------------------------
# Orientation
# --------------------------------------------------------------------------
def _direction_matrix(image: sitk.Image) -> np.ndarray:
    d = image.GetDimension()
    return np.asarray(image.GetDirection(), float).reshape(d, d)


def is_axis_aligned(image: sitk.Image, tol: float = DIRECTION_TOL) -> bool:
    """True when the direction matrix is a signed permutation (no obliquity)."""
    m = np.abs(_direction_matrix(image))
    return bool(np.all((np.abs(m - 1) < tol) | (m < tol)))


def canonicalize(image: sitk.Image, path: str | Path | None = None) -> tuple[sitk.Image, dict]:
    """Reorient an axis-aligned 3D image to LPS with identity direction.

    Returns the reoriented image and a record of what was done: the original
    direction (row-major 3x3, ITK x,y,z columns), the original size, and for
    each canonical axis (x, y, z) which original axis it came from and
    whether it was flipped.

    Raises
    ------
    GeometryError
        For an oblique image (direction cosines not a signed permutation
        within 1e-4) or a non-3D image.
    """
    if image.GetDimension() != 3:
        raise GeometryError(f"expected a 3D image, got {image.GetDimension()}D", path)
    direction = _direction_matrix(image)
    if not is_axis_aligned(image):
        angle = np.degrees(np.arccos(np.clip(np.max(np.abs(direction), axis=0).min(), -1, 1)))
        raise GeometryError(
            f"oblique image (axes tilted by up to {angle:.2f} degrees from the patient axes); "
            "radgui shows axis-aligned images only: resample it to an axial grid first",
            path,
        )
    if np.array_equal(direction, np.eye(3)):
        out = image  # already canonical: no copy (DICOMOrient would copy every voxel)
    else:
        out = sitk.DICOMOrient(image, "LPS")
        if not np.allclose(_direction_matrix(out), np.eye(3), atol=DIRECTION_TOL):
            raise GeometryError("could not reorient the image to LPS", path)  # pragma: no cover
        # Snap tiny round-off in the direction to exact identity.
        out.SetDirection(tuple(np.eye(3).ravel()))
    # canonical axis j (x,y,z) = original axis i with sign s, where direction[:, i] ~ s * e_j
    axes = []
    for j in range(3):
        i = int(np.argmax(np.abs(direction[j, :])))
        axes.append({"from_axis": "xyz"[i], "flipped": bool(direction[j, i] < 0)})
    record = {
        "original_direction": [float(v) for v in direction.ravel()],
        "original_size_xyz": list(image.GetSize()),
        "axes_xyz": axes,
        "changed": not np.allclose(direction, np.eye(3), atol=DIRECTION_TOL),
    }
    return out, record


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------
def _check_readable(path: Path) -> None:
    if not path.exists():
        raise InputFileError("no such file or folder", path)
    if path.is_file() and path.stat().st_size == 0:
        raise InputFileError("the file is empty", path)


def _has_image_suffix(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in IMAGE_SUFFIXES)


def _bits_per_component(pixel_id: int) -> int:
    text = sitk.GetPixelIDValueAsString(pixel_id)
    m = re.search(r"(\d+)-bit", text)
    bits = int(m.group(1)) if m else 64
    return bits * (2 if "complex" in text else 1)


def _open_check(path: Path) -> None:
    """Open the file as the reader will, so a refusal says why in words (permission denied, ...)."""
    from radgui.files import describe_os_error

    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise InputFileError(f"cannot read the file ({describe_os_error(exc)})", path) from None


def _nrrd_header(path: Path) -> dict[str, str]:
    with open(path, "rb") as fh:
        head = fh.read(65536)
    fields = {}
    for line in head.split(b"\n\n", 1)[0].decode("latin-1").splitlines()[1:]:
        if ":" in line and not line.startswith("#") and ":=" not in line:
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
    return fields


def _nifti_pixdim(path: Path) -> list[float] | None:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        head = fh.read(540)
    if len(head) < 348:
        return None
    for endian in "<>":
        size = struct.unpack(endian + "i", head[:4])[0]
        if size == 348:
            dim = struct.unpack(endian + "8h", head[40:56])
            pixdim = struct.unpack(endian + "8f", head[76:108])
            return list(pixdim[1:1 + min(max(dim[0], 0), 3)])
        if size == 540 and len(head) >= 540:
            dim = struct.unpack(endian + "8q", head[16:80])
            pixdim = struct.unpack(endian + "8d", head[104:168])
            return list(pixdim[1:1 + min(max(dim[0], 0), 3)])
    return None


def _header_spacing_problem(path: Path) -> str | None:
    """What is wrong with the spacing the header itself states (SimpleITK replaces some of it with 1 mm)."""
    name = path.name.lower()
    try:
        if name.endswith((".nrrd", ".nhdr")):
            fields = _nrrd_header(path)
            kinds = fields.get("kinds", "").lower().split()
            for key in ("spacings", "space directions"):
                text = fields.get(key, "")
                if key == "spacings" and kinds:  # NaN is the NRRD convention for non-spatial axes (list, vector)
                    values = text.split()
                    text = " ".join(v for i, v in enumerate(values) if i >= len(kinds) or kinds[i] in ("domain", "space"))
                numbers = [t for t in re.split(r"[\s(),]+", text) if t and t.lower() != "none"]
                bad = [t for t in numbers if not math.isfinite(_float(t))]
                if bad:
                    return f"the NRRD header's {key} ({text}) holds {bad[0]}"
                if key == "spacings" and any(_float(t) == 0 for t in numbers):
                    return f"the NRRD header's spacings ({text}) holds a zero spacing"
        elif name.endswith((".nii", ".nii.gz")):
            pixdim = _nifti_pixdim(path)
            if pixdim is not None and not all(math.isfinite(v) and v > 0 for v in pixdim):
                return f"the NIfTI header's pixdim {tuple(pixdim)} is not finite and positive"
        elif name.endswith((".mha", ".mhd")):
            with open(path, "rb") as fh:
                head = fh.read(65536).decode("latin-1")
            for key in ("ElementSpacing", "ElementSize"):
                m = re.search(rf"^\s*{key}\s*=\s*(.*)$", head, re.M)
                if m:
                    values = [_float(t) for t in m.group(1).split()]
                    if not all(math.isfinite(v) and v > 0 for v in values):
                        return f"the MetaImage header's {key} ({m.group(1).strip()}) is not finite and positive"
    except OSError:
        return None
    return None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def read_image(path: str | Path, memory_budget_bytes: int | None = None, *,
               allow_layered: bool = False) -> sitk.Image:
    """Read an image file with SimpleITK, turning its errors into radgui's.

    The header is read first: a file whose size, pixel type and components
    imply more than the memory budget (:func:`memory_budget`) is refused
    before any voxel is decoded, as is a header with non-finite or zero
    spacing and a layered 3D Slicer segmentation (unless ``allow_layered``:
    :func:`load_mask` reads its layers as components, segments by name).

    Raises
    ------
    InputFileError
        Missing, empty, unreadable (the reason in words), unsupported type,
        layered segmentation.
    MemoryBudgetError
        The decoded image would exceed the budget.
    GeometryError
        The header's spacing is not finite and positive.
    """
    path = Path(path)
    _check_readable(path)
    if path.is_dir():
        raise InputFileError("is a folder, expected an image file", path)
    if not _has_image_suffix(path):
        raise InputFileError(
            f"unsupported file type; radgui reads {', '.join(IMAGE_SUFFIXES)} files and DICOM folders",
            path,
        )
    _open_check(path)
    problem = _header_spacing_problem(path)
    if problem:
        raise GeometryError(f"{problem}; refused rather than read as 1 mm", path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise InputFileError(f"cannot read the image ({_sitk_detail(exc)})", path) from None
    keys = reader.GetMetaDataKeys()
    layers = reader.GetNumberOfComponents()
    if not allow_layered and (layers > 1 or reader.GetDimension() == 4) and any(re.fullmatch(r"Segment\d+_Layer", k) for k in keys):
        raise InputFileError(
            f"is a layered 3D Slicer segmentation ({max(layers, 2)} layers: its segments overlap); radgui reads "
            "one label map per ROI: in Slicer export the segments as label maps (Segmentations module > "
            "Export/import models and labelmaps > Export to files) and load those", path)
    n_voxels = math.prod(int(v) for v in reader.GetSize())
    need = n_voxels * max(layers, 1) * _bits_per_component(reader.GetPixelID()) // 8
    if reader.GetDimension() == 3 and not np.allclose(reader.GetDirection(), np.eye(3).ravel()):
        need *= 2  # reorienting to LPS (canonicalize) holds a second copy
    budget = memory_budget(memory_budget_bytes)
    if need > budget:
        size = "x".join(str(v) for v in reader.GetSize())
        raise MemoryBudgetError(
            f"the header declares {size} voxels of {sitk.GetPixelIDValueAsString(reader.GetPixelID())} "
            f"({need / 1024**3:.2f} GiB to load), over the memory budget of {budget / 1024**3:.2f} GiB "
            "(raise it with memory_budget_bytes= or RADGUI_MEMORY_BUDGET_GB); nothing was decoded", path)
    try:
        return reader.Execute()
    except RuntimeError as exc:
        raise InputFileError(f"cannot read the image ({_sitk_detail(exc)})", path) from None


def _sitk_detail(exc: Exception) -> str:
    """The useful sentence of a SimpleITK error, without its source file locations."""
    cleaned = []
    for ln in str(exc).splitlines():
        ln = re.sub(r"Exception thrown in SimpleITK \w+:", "", ln)
        ln = re.sub(r"(/[^\s:]+)+:\d+:", "", ln)
        ln = re.sub(r"(itk::)?ERROR:\s*\w+\(0x[0-9a-fA-F]+\):\s*", "", ln).strip()
        if ln:
            cleaned.append(ln)
    teem = [re.sub(r"^\[\w+\]\s*\w+:\s*", "", ln) for ln in cleaned if ln.startswith("[")]
    detail = teem[-1] if teem else (cleaned[0] if cleaned else "")
    return (detail or "unknown error")[:160]


def guess_modality(image: sitk.Image) -> str:
    """Guess the modality of a non-DICOM image from its values.

    A CT in Hounsfield units has air near -1000; anything else is called
    ``"OT"`` (other). The guess is recorded in ``meta["modality_source"]``.
    """
    stats = sitk.MinimumMaximumImageFilter()
    stats.Execute(image)
    if stats.GetMinimum() <= -900 and stats.GetMaximum() >= 0:
        return "CT"
    return "OT"


def load_volume(path: str | Path, modality: str | None = None, **kwargs: Any) -> Volume:
    """Load an image file (NRRD, NIfTI, MHA/MHD) or a DICOM folder.

    Parameters
    ----------
    path : str or Path
        Image file, or a folder of DICOM files.
    modality : str, optional
        ``"CT"``, ``"MR"``, ``"PT"`` or ``"OT"``. Files other than DICOM carry
        no reliable modality; when not given it is guessed
        (:func:`guess_modality`) and the guess is recorded.
    **kwargs
        Passed on to the DICOM loader for folders (e.g. ``series_uid``,
        ``resample_spacing``); ``memory_budget_bytes`` applies to every format.

    Returns
    -------
    Volume
        In canonical LPS orientation (see module docstring).

    Raises
    ------
    InputFileError
        Missing, empty or unreadable file, unsupported type.
    GeometryError
        Oblique or non-3D image.
    """
    path = Path(path)
    _check_readable(path)
    if path.is_dir() or path.name.upper() == "DICOMDIR" or path.suffix.lower() == ".dcm":
        try:
            from radgui.io import dicom
        except ImportError:  # pragma: no cover - until DICOM support lands
            raise InputFileError("DICOM folders are not supported yet", path) from None
        return dicom.load_dicom_volume(path, **kwargs)
    image = read_image(path, kwargs.get("memory_budget_bytes"))
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputFileError(
            f"has {image.GetNumberOfComponentsPerPixel()} components per voxel; expected a scalar image",
            path,
        )
    if image.GetDimension() == 2:
        raise GeometryError("is a 2D image; radgui needs a 3D volume", path)
    canonical, record = canonicalize(image, path)
    meta: dict[str, Any] = {
        "source": str(path.resolve()),
        "name": _stem(path),
        "reorientation": record,
        "warnings": [],
    }
    if modality is None:
        modality = guess_modality(canonical)
        meta["modality_source"] = "guessed from values"
    else:
        meta["modality_source"] = "given"
    return Volume(canonical, modality.upper(), meta)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def volume_from_array(array: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
                      origin: tuple[float, float, float] = (0.0, 0.0, 0.0), modality: str = "OT",
                      name: str = "array", meta: dict[str, Any] | None = None) -> Volume:
    """A Volume from a (z, y, x) numpy array with spacing and origin in (z, y, x) mm.

    The array is copied; the direction is the identity (canonical LPS), so
    ``origin + spacing * index`` is each voxel's LPS position, as for loaded
    images. This is how scripts and tests make images without touching
    SimpleITK's (x, y, z) order.
    """
    arr = np.asarray(array)
    if arr.ndim != 3:
        raise GeometryError(f"expected a 3D (z, y, x) array, got {arr.ndim}D")
    if len(spacing) != 3 or not all(math.isfinite(float(v)) and float(v) > 0 for v in spacing):
        raise GeometryError(f"spacing must be three finite positive numbers (z, y, x) in mm, got {spacing}")
    image = sitk.GetImageFromArray(arr)
    image.SetSpacing(tuple(float(s) for s in reversed(spacing)))
    image.SetOrigin(tuple(float(o) for o in reversed(origin)))
    info = {"source": "array", "name": name, "warnings": [], "modality_source": "given"}
    info.update(meta or {})
    return Volume(image, modality.upper(), info)


# --------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------
def grid_mismatch_mm(a: sitk.Image, b: sitk.Image) -> float:
    """Largest distance in mm between corresponding corner voxels of two grids.

    Infinite when the sizes differ.
    """
    if a.GetSize() != b.GetSize():
        return float("inf")
    size = np.asarray(a.GetSize()) - 1
    worst = 0.0
    for corner in np.ndindex(2, 2, 2):
        idx = [int(c * s) for c, s in zip(corner, size)]
        pa = np.asarray(a.TransformIndexToPhysicalPoint(idx))
        pb = np.asarray(b.TransformIndexToPhysicalPoint(idx))
        worst = max(worst, float(np.linalg.norm(pa - pb)))
    return worst


def label_values(arr: np.ndarray, what: str | Path | None = None) -> np.ndarray:
    """The non-zero labels of a label map, checked to be one (the mask rule, part 1).

    A mask is an integer label image: integer values (a float file must hold
    whole numbers), none negative, at most :data:`MAX_LABEL_VALUE`, and at most
    :data:`MAX_MASK_LABELS` distinct non-zero labels. A CT or PET given in
    place of its mask fails one of these, and the message says which.

    Parameters
    ----------
    arr : ndarray
        The mask's voxels (any shape).
    what : str or Path, optional
        The file (or ROI name) for the message.

    Returns
    -------
    ndarray of int
        Sorted distinct non-zero labels (empty for an empty mask).

    Raises
    ------
    MaskLabelError
    """
    path = what if isinstance(what, Path) else None
    prefix = "" if path is not None or what is None else f"{what}: "
    arr = np.asarray(arr)
    if arr.dtype == bool:
        return np.array([1]) if arr.any() else np.array([], int)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating):
            raise MaskLabelError(f"{prefix}mask of type {arr.dtype} is not a label map", path)
        finite = np.isfinite(arr)
        if not finite.all():
            raise MaskLabelError(f"{prefix}mask holds {int((~finite).sum())} NaN or infinite value(s); "
                                 "expected an integer label map", path)
        frac = np.mod(arr, 1) != 0
        if frac.any():
            example = float(arr[frac].flat[0])
            raise MaskLabelError(f"{prefix}mask holds non-integer values (e.g. {example:g}); expected an integer "
                                 "label map: is this the image rather than its mask?", path)
    if arr.size == 0:
        return np.array([], int)
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0:
        raise MaskLabelError(f"{prefix}mask holds negative values (down to {lo:g}); a label map has labels >= 0: "
                             "is this the image rather than its mask?", path)
    if hi > MAX_LABEL_VALUE:
        raise MaskLabelError(f"{prefix}mask holds values up to {hi:g}; labels go up to {MAX_LABEL_VALUE}", path)
    n = int(hi) + 1
    if n <= 9:  # the usual masks: a few labels, one pass each, no copy
        return np.array([v for v in range(1, n) if (arr == v).any()], int)
    counts = np.zeros(n, np.int64)
    planes = arr.reshape(-1, arr.shape[-1]) if arr.ndim >= 2 else arr.reshape(1, -1)
    step = max(1, 1_000_000 // max(planes.shape[1], 1))
    for k in range(0, planes.shape[0], step):
        chunk = planes[k:k + step]
        counts += np.bincount(chunk.ravel().astype(np.intp, copy=False), minlength=n)
    labels = np.flatnonzero(counts[1:]) + 1
    if len(labels) > MAX_MASK_LABELS:
        raise MaskLabelError(f"{prefix}mask holds {len(labels)} distinct values; a label map has at most "
                             f"{MAX_MASK_LABELS} labels: is this the image rather than its mask?", path)
    return labels


def choose_label(labels, label: int | None = None, what: str | Path | None = None) -> int | None:
    """Which label is the ROI (the mask rule, part 2): the one asked for, else the only one.

    Every entry point (``radgui extract``, ``roi``, ``predict``, the viewer,
    :func:`radgui.features.extract`) uses this rule: ``label`` (``--label N``)
    must be present; without it the mask must hold a single non-zero label.
    Several labels and no choice is refused: radgui never picks or merges
    labels silently.

    Returns
    -------
    int or None
        The label; None for an empty mask with no label asked for.

    Raises
    ------
    MaskLabelError
    """
    path = what if isinstance(what, Path) else None
    prefix = "" if path is not None or what is None else f"{what}: "
    present = [int(v) for v in labels]
    shown = ", ".join(str(v) for v in present[:12]) + (", ..." if len(present) > 12 else "")
    if label is not None:
        if int(label) != label or label < 1:
            raise MaskLabelError(f"{prefix}label must be a positive whole number, got {label!r}", path)
        if int(label) not in present:
            raise MaskLabelError(f"{prefix}label {int(label)} is absent from the mask (labels present: "
                                 f"{shown or 'none, the mask is empty'})", path)
        return int(label)
    if len(present) > 1:
        raise MaskLabelError(f"{prefix}the mask holds {len(present)} labels ({shown}); choose the ROI's label with "
                             "--label N (label=N in Python)", path)
    return present[0] if present else None


def load_mask(path: str | Path, like: Volume, label: int | None = None,
              resample: bool = False, tol_mm: float = GEOMETRY_TOL_MM,
              memory_budget_bytes: int | None = None, *, segment: str | None = None,
              label_names: str | Path | None = None) -> sitk.Image:
    """Load a mask (any format radgui reads), pick the ROI and put it on ``like``'s canonical grid.

    The one mask reader of every entry point. Formats (:mod:`radgui.io.masks`):
    NRRD/NIfTI/MHA label maps, 3D Slicer ``.seg.nrrd`` (single-layer and
    layered, segments by name), label maps named by an ITK-SNAP label
    description file (``label_names``), DICOM-SEG and RTSTRUCT (read onto
    ``like``). A segment is chosen by name: ``segment="GTV"`` or
    ``path="RS.dcm#GTV"``.

    The mask rule (:func:`label_values`, :func:`choose_label`) applies to
    whatever the file holds: it must be an integer label image with few
    labels; the ROI is label ``label``, else the file's only non-zero label;
    several labels (or segments) without a choice are refused with them named.

    Parameters
    ----------
    path : str or Path
        The mask file, optionally followed by ``#segment name``.
    like : Volume
        The image the mask belongs to.
    label : int, optional
        The ROI's label (``--label`` on the command line).
    resample : bool
        When the grids differ, resample the mask onto ``like`` with nearest
        neighbour instead of refusing.
    tol_mm : float
        Largest corner mismatch, in mm, still counted as the same grid.
    memory_budget_bytes : int, optional
        See :func:`memory_budget`.
    segment : str, optional
        The segment's name (Slicer segment, SEG segment label, RTSTRUCT ROI
        name, ITK-SNAP label name).
    label_names : str or Path, optional
        ITK-SNAP label description file naming the label map's labels.

    Returns
    -------
    SimpleITK.Image
        UInt8 (UInt16 for labels over 255) image on ``like.image``'s grid
        (identity direction) holding the chosen label's value inside the ROI
        and 0 elsewhere (all 0 for an empty mask).

    Raises
    ------
    MaskLabelError
        Not a label map (non-integer, negative, too many values), the label
        is absent or ambiguous, or no segment has the name asked for.
    GeometryMismatchError
        When the grids differ by more than ``tol_mm`` and ``resample`` is
        False; the message states the mismatch in mm.
    """
    from radgui.io import masks as formats

    path, named = formats.split_segment(path)
    if segment is None:
        segment = named
    elif named is not None and named != segment:
        raise MaskLabelError(f"names segment {named!r} but {segment!r} was asked for", path)
    source = like.meta.get("source") if isinstance(like, Volume) else None
    if source and path.exists() and os.path.abspath(path) == os.path.abspath(source):
        raise MaskLabelError("this is the image file itself, not its mask", path)
    _check_readable(path)
    if path.is_file() and not _has_image_suffix(path) and formats.is_dicom_file(path):
        return _load_dicom_mask(path, like, label, segment)
    slicer = path.is_file() and formats.is_slicer_seg(path)
    image = read_image(path, memory_budget_bytes, allow_layered=slicer)
    if slicer:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        reader.ReadImageInformation()
        segments = formats.slicer_segments(reader, path)
        layered = image.GetNumberOfComponentsPerPixel() > 1
        if segments and (segment is not None or label is None or layered):
            if label is not None:
                raise MaskLabelError("give the segment by name (FILE#NAME) or by --label, not both"
                                     + ("; a layered segmentation needs the name" if layered else ""), path)
            note = "is a layered 3D Slicer segmentation (overlapping segments); it " if layered else ""
            name = formats.pick_segment(segments, segment, path, note=note)
            layer, label = segments[name]
            if layered:
                if layer >= image.GetNumberOfComponentsPerPixel():
                    raise InputFileError(f"segment {name!r} is on layer {layer} but the file has "
                                         f"{image.GetNumberOfComponentsPerPixel()} layers", path)
                image = sitk.VectorIndexSelectionCast(image, layer)
            image = sitk.Cast(sitk.BinaryThreshold(image, label, label, 1, 0), sitk.sitkUInt8)  # may be empty
            label = None
        segment = None
    if label_names is not None:
        names = formats.read_label_descriptions(label_names)
        if label is None:
            label = names[formats.pick_segment(names, segment, Path(label_names), what="label")]
        elif segment is not None:
            raise MaskLabelError("give the label by name or by --label, not both", path)
    elif segment is not None:
        raise MaskLabelError(f"is a plain label map with no segment names, so #{segment} cannot be found; "
                             "choose the ROI with --label N (or give an ITK-SNAP label description file)", path)
    if image.GetNumberOfComponentsPerPixel() > 1 and slicer:
        raise MaskLabelError(f"is a layered Slicer segmentation; choose a segment by name ({path.name}#NAME)",
                             path)
    if image.GetDimension() != 3:
        raise GeometryError(f"mask is {image.GetDimension()}D; expected 3D", path)
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise MaskLabelError(f"mask has {image.GetNumberOfComponentsPerPixel()} components per voxel; "
                             "expected a scalar label map", path)
    mask, _ = canonicalize(image, path)
    if slicer:
        mask = _paste_subgrid(mask, like, tol_mm)
    return _finish_mask(mask, like, label, path, resample, tol_mm)


def _paste_subgrid(mask: sitk.Image, like: Volume, tol_mm: float) -> sitk.Image:
    """A mask cropped to a sub-box of the image grid (3D Slicer writes segmentations cropped to their extent)
    pasted onto the full grid; any other grid is returned unchanged (and then checked as usual)."""
    ref = like.image
    if mask.GetSize() == ref.GetSize() or not np.allclose(mask.GetSpacing(), ref.GetSpacing(), atol=1e-6) \
            or not np.allclose(mask.GetDirection(), ref.GetDirection(), atol=DIRECTION_TOL):
        return mask
    start = np.asarray(ref.TransformPhysicalPointToContinuousIndex(mask.GetOrigin()))
    k = np.round(start).astype(int)
    if np.max(np.abs(start - k) * np.asarray(ref.GetSpacing())) > tol_mm or (k < 0).any() \
            or (k + np.asarray(mask.GetSize()) > np.asarray(ref.GetSize())).any():
        return mask
    full = sitk.Image(ref.GetSize(), mask.GetPixelID())
    full.CopyInformation(ref)
    return sitk.Paste(full, mask, mask.GetSize(), [0, 0, 0], [int(v) for v in k])


def _load_dicom_mask(path: Path, like: Volume, label: int | None, segment: str | None) -> sitk.Image:
    """A DICOM-SEG segment or RTSTRUCT ROI (by name), rasterised onto ``like``; then the mask rule."""
    from radgui.io import masks as formats
    from radgui.io.seg import read_dicom_masks

    found = read_dicom_masks(path, like, only=segment)
    name = formats.pick_segment(found, segment, path)
    return _finish_mask(found[name], like, label, path, False, GEOMETRY_TOL_MM)


def _finish_mask(mask: sitk.Image, like: Volume, label: int | None, path: Path, resample: bool,
                 tol_mm: float) -> sitk.Image:
    """The mask rule and the geometry check, for a mask in canonical orientation."""
    labels = label_values(sitk.GetArrayViewFromImage(mask), path)
    chosen = choose_label(labels, label, path)
    kind = sitk.sitkUInt8 if (chosen or 0) < 256 else sitk.sitkUInt16
    if chosen is None or list(labels) == [chosen]:
        mask = sitk.Cast(mask, kind)  # already 0 and the chosen label only
    else:
        mask = sitk.Cast(sitk.BinaryThreshold(mask, chosen, chosen, 1, 0), kind) * chosen
    mismatch = grid_mismatch_mm(mask, like.image)
    if mismatch > tol_mm:
        if not resample:
            what = (f"size {mask.GetSize()} vs image {like.image.GetSize()} (x,y,z)"
                    if mismatch == float("inf") else f"grids differ by up to {mismatch:.3f} mm")
            raise GeometryMismatchError(
                f"mask geometry does not match the image: {what}; "
                "resample it with nearest neighbour to use it anyway", path)
        mask = sitk.Resample(mask, like.image, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                             mask.GetPixelID())
    else:
        mask.CopyInformation(like.image)
    return mask


def mask_from_array(array: np.ndarray, like: Volume | sitk.Image) -> sitk.Image:
    """A UInt8 label image on ``like``'s grid from a (z, y, x) array."""
    ref = like.image if isinstance(like, Volume) else like
    arr = np.asarray(array)
    if arr.shape != tuple(reversed(ref.GetSize())):
        raise GeometryMismatchError(
            f"mask array shape {arr.shape} (z,y,x) does not match the image {tuple(reversed(ref.GetSize()))}")
    img = sitk.GetImageFromArray(arr.astype(np.uint8, copy=False))
    img.CopyInformation(ref)
    return img


def mask_to_array(mask: sitk.Image) -> np.ndarray:
    """A (z, y, x) numpy copy of a label image."""
    return sitk.GetArrayFromImage(mask)


def save_mask(mask: sitk.Image | np.ndarray, path: str | Path, like: Volume | None = None) -> Path:
    """Write a label map (NRRD, NIfTI or MHA, by suffix), compressed.

    The mask is written in ``like``'s canonical LPS geometry; tools that read
    physical geometry (3D Slicer, ITK-SNAP) place it on the original image.
    """
    path = Path(path)
    if isinstance(mask, np.ndarray):
        if like is None:
            raise ValueError("save_mask needs `like` to write a numpy mask")
        mask = mask_from_array(mask, like)
    if not _has_image_suffix(path):
        raise InputFileError(f"cannot write a mask with this suffix; use one of {', '.join(IMAGE_SUFFIXES)}", path)
    from radgui.errors import OutputFileError
    from radgui.files import atomic_path

    with atomic_path(path) as tmp:
        try:
            sitk.WriteImage(mask, str(tmp), useCompression=True)
        except RuntimeError as exc:
            raise OutputFileError(f"cannot write the mask ({_sitk_detail(exc)})", path) from None
    return path
