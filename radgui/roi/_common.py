"""Shared checks and helpers of the ROI engine (no Qt, no napari)."""

from __future__ import annotations

import numpy as np

from radgui.errors import EmptyMaskError, GeometryMismatchError, RadguiError


class RoiParameterError(RadguiError, ValueError):
    """A ROI tool got a parameter it cannot use (negative distance, seed outside the image, ...)."""


def as_mask(mask, name: str = "mask", allow_empty: bool = False) -> np.ndarray:
    """A boolean (z, y, x) view/copy of ``mask`` (voxels > 0), checked to be 3D.

    The caller's array is never modified (a new array is returned when the
    dtype is not bool).
    """
    arr = np.asarray(mask)
    if arr.ndim != 3:
        raise RoiParameterError(f"ROI '{name}' must be a 3D (z, y, x) array, got {arr.ndim}D")
    out = arr if arr.dtype == bool else arr > 0
    if not allow_empty and not out.any():
        raise EmptyMaskError(f"ROI '{name}' is empty (no voxel > 0)")
    return out


def as_spacing(spacing) -> np.ndarray:
    """Voxel spacing (z, y, x) in mm as a float array, checked positive and finite."""
    sp = np.asarray(spacing, dtype=float).ravel()
    if sp.size != 3 or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise RoiParameterError(f"spacing must be three positive numbers in mm (z, y, x), got {spacing!r}")
    return sp


def same_shape(a: np.ndarray, b: np.ndarray, what_a: str, what_b: str) -> None:
    """Raise GeometryMismatchError when two (z, y, x) arrays differ in shape."""
    if a.shape != b.shape:
        raise GeometryMismatchError(f"{what_a} has shape {a.shape} but {what_b} has shape {b.shape} (z, y, x)")


def bbox(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive-exclusive bounding box ``(lo, hi)`` of the True voxels, (z, y, x)."""
    m = np.asarray(mask)
    zs = np.flatnonzero(m.reshape(m.shape[0], -1).any(axis=1))
    if zs.size == 0:
        raise EmptyMaskError("the ROI is empty (no voxel > 0)")
    slab = m[zs[0]:zs[-1] + 1]  # y and x ranges from the occupied slices only
    ys = np.flatnonzero(slab.any(axis=(0, 2)))
    xs = np.flatnonzero(slab.any(axis=(0, 1)))
    lo = np.array([zs[0], ys[0], xs[0]])
    hi = np.array([zs[-1] + 1, ys[-1] + 1, xs[-1] + 1])
    return lo, hi


def padded_slices(lo, hi, margin, shape) -> tuple[slice, slice, slice]:
    """Slices of the box ``[lo - margin, hi + margin)`` clipped to ``shape``."""
    lo = np.maximum(np.asarray(lo) - margin, 0)
    hi = np.minimum(np.asarray(hi) + margin, shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))


def ellipsoid_structure(radius_mm: float, spacing) -> np.ndarray:
    """A ball of physical radius ``radius_mm`` as a boolean structuring element on the grid."""
    sp = as_spacing(spacing)
    r = np.floor(radius_mm / sp + 1e-9).astype(int)
    grids = np.ogrid[tuple(slice(-k, k + 1) for k in r)]
    d2 = sum((g * s) ** 2 for g, s in zip(grids, sp))
    return d2 <= radius_mm**2 + 1e-9


def fmt_mm(value: float) -> str:
    """A distance for a VOI name: 3 -> '3', 2.5 -> '2.5'."""
    return f"{float(value):g}"
