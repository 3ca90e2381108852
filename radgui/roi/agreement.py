"""Spatial agreement of two segmentations: Dice, Jaccard, volume difference, HD95 in mm.

Masks are (z, y, x) arrays on the same grid (voxels > 0 are inside) and
``spacing_mm`` is the voxel size in mm in the same order. Nothing here
modifies its inputs.

Surface distances use the voxel-centre convention of MedPy's ``hd95``: the
surface of a mask is its voxels with a face neighbour outside it; the distance
of each surface voxel of one mask to the nearest surface voxel of the other
is an exact Euclidean distance transform with the spacing; HD95 is the 95th
percentile of both directions pooled, and HD (``hausdorff_mm``) the maximum.
"""

from __future__ import annotations

import numpy as np

from radgui.errors import EmptyMaskError, GeometryMismatchError

__all__ = ["dice", "jaccard", "volume_difference_ml", "surface_distances_mm", "hausdorff95_mm",
           "hausdorff_mm", "overlap_metrics"]


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a) > 0, np.asarray(b) > 0
    if a.shape != b.shape:
        raise GeometryMismatchError(f"masks have different shapes {a.shape} and {b.shape} (z,y,x)")
    return a, b


def _spacing(spacing_mm, ndim: int) -> np.ndarray:
    sp = np.asarray(spacing_mm, float).reshape(-1)
    if sp.size != ndim or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise GeometryMismatchError(f"spacing_mm must be {ndim} finite positive numbers, got {tuple(sp)}")
    return sp


def dice(a, b) -> float:
    """Dice coefficient 2|A∩B| / (|A| + |B|); 1.0 for two empty masks."""
    a, b = _pair(a, b)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def jaccard(a, b) -> float:
    """Jaccard index |A∩B| / |A∪B|; 1.0 for two empty masks."""
    a, b = _pair(a, b)
    union = int(np.logical_or(a, b).sum())
    return 1.0 if union == 0 else int(np.logical_and(a, b).sum()) / union


def volume_difference_ml(a, b, spacing_mm) -> float:
    """Volume of ``b`` minus volume of ``a``, in millilitres (signed)."""
    a, b = _pair(a, b)
    voxel_ml = float(np.prod(_spacing(spacing_mm, a.ndim))) / 1000.0
    return (int(b.sum()) - int(a.sum())) * voxel_ml


def _surface(m: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    inner = ndimage.binary_erosion(m, structure=ndimage.generate_binary_structure(m.ndim, 1), border_value=0)
    return m & ~inner


def surface_distances_mm(a, b, spacing_mm) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) from each surface voxel of ``a`` to ``b``'s surface, and back.

    Raises
    ------
    EmptyMaskError
        When either mask is empty (a distance to nothing is undefined).
    """
    from scipy import ndimage

    a, b = _pair(a, b)
    sp = _spacing(spacing_mm, a.ndim)
    if not a.any() or not b.any():
        raise EmptyMaskError("surface distance needs two non-empty masks")
    # Crop to the union's bounding box (plus one voxel) so large images stay cheap.
    idx = np.argwhere(a | b)
    lo = np.maximum(idx.min(0) - 1, 0)
    hi = np.minimum(idx.max(0) + 2, a.shape)
    box = tuple(slice(int(l), int(h)) for l, h in zip(lo, hi))
    sa, sb = _surface(a[box]), _surface(b[box])
    to_b = ndimage.distance_transform_edt(~sb, sampling=sp)
    to_a = ndimage.distance_transform_edt(~sa, sampling=sp)
    return to_b[sa], to_a[sb]


def hausdorff95_mm(a, b, spacing_mm) -> float:
    """95th percentile of the pooled symmetric surface distances, in mm."""
    d_ab, d_ba = surface_distances_mm(a, b, spacing_mm)
    return float(np.percentile(np.concatenate([d_ab, d_ba]), 95))


def hausdorff_mm(a, b, spacing_mm) -> float:
    """Hausdorff distance (largest surface distance either way), in mm."""
    d_ab, d_ba = surface_distances_mm(a, b, spacing_mm)
    return float(max(d_ab.max(), d_ba.max()))


def overlap_metrics(a, b, spacing_mm) -> dict[str, float]:
    """``dice, jaccard, volume_a_ml, volume_b_ml, volume_difference_ml, hd95_mm`` of two masks.

    ``hd95_mm`` is NaN when either mask is empty.
    """
    a, b = _pair(a, b)
    sp = _spacing(spacing_mm, a.ndim)
    voxel_ml = float(np.prod(sp)) / 1000.0
    try:
        hd95 = hausdorff95_mm(a, b, sp)
    except EmptyMaskError:
        hd95 = float("nan")
    return {"dice": dice(a, b), "jaccard": jaccard(a, b), "volume_a_ml": int(a.sum()) * voxel_ml,
            "volume_b_ml": int(b.sum()) * voxel_ml, "volume_difference_ml": volume_difference_ml(a, b, sp),
            "hd95_mm": hd95}
