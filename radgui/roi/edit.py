"""ROI editing in physical units: holes, islands, smoothing, logic, slice interpolation.

Every function takes a (z, y, x) mask (voxels > 0 are the ROI), leaves it
untouched and returns a new boolean array. Morphology is scipy.ndimage's.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from radgui.errors import EmptyMaskError
from radgui.roi._common import RoiParameterError, as_mask, as_spacing, bbox, padded_slices, same_shape

#: Logical operations between two ROIs.
LOGICAL_OPS = ("union", "intersection", "subtract", "xor")

#: Operations of :func:`apply_edit`.
EDIT_OPS = ("fill3d", "fill2d", "largest", "islands", "smooth", "margin", "interpolate", "logical")


def fill_holes(mask, per_slice: bool = False, axis: int = 0) -> np.ndarray:
    """Fill enclosed cavities.

    Parameters
    ----------
    mask : array_like, (z, y, x)
    per_slice : bool
        Fill holes in each 2D slice perpendicular to ``axis`` (a ring drawn on
        a slice becomes a disc) instead of 3D cavities only.
    axis : int
        Slice axis for ``per_slice`` (0: axial).
    """
    m = as_mask(mask, allow_empty=True)
    if not per_slice:
        return ndi.binary_fill_holes(m)
    st = np.zeros((3, 3, 3), bool)
    plane = [slice(None)] * 3
    plane[axis] = 1
    st[tuple(plane)] = ndi.generate_binary_structure(2, 1)
    return ndi.binary_fill_holes(m, structure=st)


def _components(m: np.ndarray):
    labels, n = ndi.label(m)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    return labels, sizes


def keep_largest(mask) -> np.ndarray:
    """Keep the largest connected component (face connectivity)."""
    m = as_mask(mask)
    labels, sizes = _components(m)
    return labels == int(np.argmax(sizes))


def remove_islands(mask, spacing, min_volume_mm3: float) -> np.ndarray:
    """Remove connected components smaller than ``min_volume_mm3`` (mm\u00b3)."""
    m = as_mask(mask, allow_empty=True)
    sp = as_spacing(spacing)
    if min_volume_mm3 < 0:
        raise RoiParameterError(f"minimum island volume must be >= 0 mm3, got {min_volume_mm3!r}")
    labels, sizes = _components(m)
    keep = sizes * float(np.prod(sp)) >= min_volume_mm3
    keep[0] = False
    return keep[labels]


def smooth(mask, spacing, sigma_mm: float = 1.0) -> np.ndarray:
    """Smooth the ROI surface: Gaussian of ``sigma_mm`` (mm, per axis in voxels) then threshold at 0.5.

    Removes jagged edges and single-voxel spikes. Like any Gaussian
    smoothing it moves a convex surface inwards by about ``sigma**2 / r``
    (mean curvature flow): a 10 mm sphere smoothed with 1.5 mm loses about 7 %
    of its volume.
    """
    m = as_mask(mask, allow_empty=True)
    sp = as_spacing(spacing)
    if not np.isfinite(sigma_mm) or sigma_mm < 0:
        raise RoiParameterError(f"smoothing sigma must be >= 0 mm, got {sigma_mm!r}")
    if sigma_mm == 0 or not m.any():
        return m.copy()
    sig = sigma_mm / sp
    lo, hi = bbox(m)
    box = padded_slices(lo, hi, np.ceil(3 * sig).astype(int) + 1, m.shape)
    blurred = ndi.gaussian_filter(m[box].astype(np.float32), sigma=sig, mode="constant")
    out = np.zeros(m.shape, bool)
    out[box] = blurred >= 0.5
    return out


def margin(mask, spacing, distance_mm: float) -> np.ndarray:
    """Grow (``distance_mm > 0``) or shrink (``< 0``) the ROI by a Euclidean distance in mm.

    Uses the boundary distance of :mod:`radgui.roi.rings`.
    """
    from radgui.roi.rings import core, distance_to_tumour_mm

    m = as_mask(mask)
    if distance_mm == 0:
        return m.copy()
    if distance_mm > 0:
        return distance_to_tumour_mm(m, spacing, max_distance_mm=distance_mm) <= distance_mm
    try:
        return core(m, spacing, -distance_mm)
    except EmptyMaskError:
        return np.zeros(m.shape, bool)


def logical(a, b, op: str = "union") -> np.ndarray:
    """Logical operation between two ROIs on the same grid.

    Parameters
    ----------
    a, b : array_like, (z, y, x)
    op : {"union", "intersection", "subtract", "xor"}
        ``subtract`` is ``a and not b``.
    """
    ma = as_mask(a, "A", allow_empty=True)
    mb = as_mask(b, "B", allow_empty=True)
    same_shape(ma, mb, "ROI A", "ROI B")
    if op == "union":
        return ma | mb
    if op == "intersection":
        return ma & mb
    if op == "subtract":
        return ma & ~mb
    if op == "xor":
        return ma ^ mb
    raise RoiParameterError(f"unknown logical operation {op!r}: use one of {', '.join(LOGICAL_OPS)}")


def _signed_distance_2d(sl: np.ndarray, sp2) -> np.ndarray:
    """Signed distance in mm (positive inside) of a 2D mask, from voxel centres."""
    inside = ndi.distance_transform_edt(sl, sampling=sp2)
    outside = ndi.distance_transform_edt(~sl, sampling=sp2)
    return inside - outside


def interpolate_slices(mask, spacing=(1.0, 1.0, 1.0), axis: int = 0) -> np.ndarray:
    """Fill the empty slices between sparsely drawn slices (shape-based interpolation).

    Between two consecutive drawn (non-empty) slices along ``axis``, each
    empty slice gets the zero level set of the signed distance maps of the two
    drawn slices, linearly interpolated by position (Raya & Udupa 1990;
    Herman et al. 1992). Drawn slices are kept as they are; nothing is added
    before the first or after the last drawn slice.

    Parameters
    ----------
    mask : array_like, (z, y, x)
    spacing : sequence of 3 floats
        Voxel spacing (mm), used for in-plane distances.
    axis : int
        Axis along which slices were drawn (0: axial).

    References
    ----------
    Raya SP, Udupa JK. Shape-based interpolation of multidimensional objects.
    IEEE Trans Med Imaging 1990;9(1):32-42.
    Herman GT, Zheng J, Bucholtz CA. Shape-based interpolation. IEEE Comput
    Graph Appl 1992;12(3):69-79.
    """
    m = as_mask(mask)
    sp = as_spacing(spacing)
    sp2 = [s for i, s in enumerate(sp) if i != axis]
    mv = np.moveaxis(m, axis, 0)
    out = mv.copy()
    drawn = np.flatnonzero(mv.reshape(mv.shape[0], -1).any(axis=1))
    for a, b in zip(drawn[:-1], drawn[1:]):
        if b - a < 2:
            continue
        da = _signed_distance_2d(mv[a], sp2)
        db = _signed_distance_2d(mv[b], sp2)
        for k in range(a + 1, b):
            t = (k - a) / (b - a)
            out[k] = (1 - t) * da + t * db > 0
    return np.moveaxis(out, 0, axis).copy()


def apply_edit(op: str, mask, spacing, *, island_mm3: float = 50.0, sigma_mm: float = 1.0,
               margin_mm: float = 2.0, other=None, logical_op: str = "union") -> np.ndarray:
    """One editing operation by name (what the ROI dock's edit buttons call).

    Parameters
    ----------
    op : str
        One of :data:`EDIT_OPS`: ``fill3d`` / ``fill2d`` (:func:`fill_holes`
        in 3D or per axial slice), ``largest`` (:func:`keep_largest`),
        ``islands`` (:func:`remove_islands` below ``island_mm3``),
        ``smooth`` (:func:`smooth` with ``sigma_mm``), ``margin``
        (:func:`margin` by ``margin_mm``), ``interpolate``
        (:func:`interpolate_slices`), ``logical`` (:func:`logical` of
        ``mask`` and ``other`` with ``logical_op``).
    mask : array_like, (z, y, x)
        The ROI (voxels > 0); not modified.
    spacing : sequence of 3 floats
        Voxel spacing in mm (z, y, x).

    Returns
    -------
    numpy.ndarray of bool
        The edited ROI, a new array.
    """
    if op == "fill3d":
        return fill_holes(mask)
    if op == "fill2d":
        return fill_holes(mask, per_slice=True)
    if op == "largest":
        return keep_largest(mask)
    if op == "islands":
        return remove_islands(mask, spacing, island_mm3)
    if op == "smooth":
        return smooth(mask, spacing, sigma_mm)
    if op == "margin":
        return margin(mask, spacing, margin_mm)
    if op == "interpolate":
        return interpolate_slices(mask, spacing)
    if op == "logical":
        if other is None:
            raise RoiParameterError("choose the second ROI of the logical operation")
        return logical(mask, other, logical_op)
    raise RoiParameterError(f"unknown edit {op!r}: use one of {', '.join(EDIT_OPS)}")
