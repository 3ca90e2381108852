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

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radgui.errors import GeometryError, GeometryMismatchError, InputFileError

#: File suffixes read by :func:`load_volume` (besides DICOM folders).
IMAGE_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")

#: Tolerance on direction cosines to call an image axis-aligned.
DIRECTION_TOL = 1e-4

#: Default tolerance, in mm, for two grids to count as the same.
GEOMETRY_TOL_MM = 1e-3


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
    h.update(np.ascontiguousarray(sitk.GetArrayViewFromImage(image)).tobytes())
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


def read_image(path: str | Path) -> sitk.Image:
    """Read an image file with SimpleITK, turning its errors into radgui's."""
    path = Path(path)
    _check_readable(path)
    if path.is_dir():
        raise InputFileError("is a folder, expected an image file", path)
    if not _has_image_suffix(path):
        raise InputFileError(
            f"unsupported file type; radgui reads {', '.join(IMAGE_SUFFIXES)} files and DICOM folders",
            path,
        )
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = next((ln for ln in first if "ERROR" in ln or "Exception" in ln), first[0] if first else "")
        raise InputFileError(f"cannot read the image ({detail.strip()[:160]})", path) from None


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
        Passed on to the DICOM loader for folders (e.g. ``series_uid``).

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
    image = read_image(path)
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
    if len(spacing) != 3 or min(spacing) <= 0:
        raise GeometryError(f"spacing must be three positive numbers (z, y, x) in mm, got {spacing}")
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


def load_mask(path: str | Path, like: Volume, label: int | None = None,
              resample: bool = False, tol_mm: float = GEOMETRY_TOL_MM) -> sitk.Image:
    """Load a label map and put it on ``like``'s canonical grid.

    Parameters
    ----------
    path : str or Path
        NRRD/NIfTI/MHA label map.
    like : Volume
        The image the mask belongs to.
    label : int, optional
        Keep only this label (as 1); by default all labels are kept as they are.
    resample : bool
        When the grids differ, resample the mask onto ``like`` with nearest
        neighbour instead of refusing.
    tol_mm : float
        Largest corner mismatch, in mm, still counted as the same grid.

    Returns
    -------
    SimpleITK.Image
        UInt8 label image on ``like.image``'s grid (identity direction).

    Raises
    ------
    GeometryMismatchError
        When the grids differ by more than ``tol_mm`` and ``resample`` is
        False; the message states the mismatch in mm.
    """
    path = Path(path)
    image = read_image(path)
    if image.GetDimension() != 3:
        raise GeometryError(f"mask is {image.GetDimension()}D; expected 3D", path)
    mask, _ = canonicalize(image, path)
    arr = sitk.GetArrayViewFromImage(mask)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.mod(arr, 1) == 0):
            raise InputFileError("mask holds non-integer values; expected a label map", path)
    mask = sitk.Cast(mask, sitk.sitkUInt8 if arr.max(initial=0) < 256 else sitk.sitkUInt16)
    if label is not None:
        mask = sitk.Cast(mask == label, sitk.sitkUInt8)
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
    try:
        sitk.WriteImage(mask, str(path), useCompression=True)
    except RuntimeError as exc:
        raise InputFileError(f"cannot write the mask ({str(exc).strip().splitlines()[-1][:160]})", path) from None
    return path
