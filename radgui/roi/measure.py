"""Measurements of a ROI: volume, RECIST diameters, 3D diameter, intensity, PET SUV.

Conventions
-----------
* Volume = voxel count x voxel volume (mL = cm\u00b3 = 1000 mm\u00b3).
* Diameters are measured on the ROI's surface: the vertices of the marching
  cubes / marching squares surface at level 0.5 of the mask, which lie half
  way between inside and outside voxel centres (as PyRadiomics'
  ``Maximum3DDiameter``). The error is below one voxel spacing.
* RECIST 1.1: the longest diameter in any axial slice, and on that slice the
  longest chord perpendicular to it (short axis).
* SUVpeak (PERCIST 1.0): the highest mean SUV in a 1 mL sphere (radius
  6.20 mm) centred on any voxel of the lesion; the sphere is the set of voxel
  centres within that radius.

References
----------
Eisenhauer EA et al. New response evaluation criteria in solid tumours:
revised RECIST guideline (version 1.1). Eur J Cancer 2009;45:228-247.
Wahl RL, Jacene H, Kasamon Y, Lodge MA. From RECIST to PERCIST. J Nucl Med
2009;50(Suppl 1):122S-150S.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import cdist
from skimage import measure as skm

from radgui.roi._common import RoiParameterError, as_mask, as_spacing, bbox, padded_slices, same_shape

#: Radius in mm of a sphere of 1 mL.
PEAK_RADIUS_MM = float((3.0 * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0))


def _max_pairwise(points: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Largest distance between points (through their convex hull) and the two ends."""
    if len(points) < 2:
        return 0.0, None
    pts = points
    if len(points) > 4:
        try:
            pts = points[ConvexHull(points).vertices]
        except (QhullError, ValueError):
            pts = points
    if len(pts) > 4000:  # pragma: no cover - huge degenerate sets
        pts = pts[:: len(pts) // 4000 + 1]
    d = cdist(pts, pts)
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    return float(d[i, j]), pts[[i, j]]


def max_3d_diameter_mm(mask, spacing) -> float:
    """Largest distance (mm) between two points of the ROI surface (marching cubes vertices)."""
    m = as_mask(mask)
    sp = as_spacing(spacing)
    lo, hi = bbox(m)
    crop = np.pad(m[tuple(slice(a, b) for a, b in zip(lo, hi))], 1).astype(np.float32)
    verts, *_ = skm.marching_cubes(crop, level=0.5, spacing=tuple(sp))
    return _max_pairwise(verts)[0]


def _slice_contour_points(sl: np.ndarray, sp2: np.ndarray) -> np.ndarray:
    contours = skm.find_contours(np.pad(sl, 1).astype(np.float32), 0.5)
    if not contours:
        return np.empty((0, 2))
    return np.concatenate(contours) * sp2


def _perpendicular_mm(sl: np.ndarray, sp2: np.ndarray, direction: np.ndarray) -> float:
    """Longest chord of the 2D ROI perpendicular to ``direction`` (mm)."""
    contours = skm.find_contours(np.pad(sl, 1).astype(np.float32), 0.5)
    u = direction / np.linalg.norm(direction)
    v = np.array([-u[1], u[0]])
    best = 0.0
    for c in contours:
        pts = c * sp2
        a, b = pts, np.roll(pts, -1, axis=0)
        ua, ub, va, vb = a @ u, b @ u, a @ v, b @ v
        ts = np.linspace(min(ua.min(), ub.min()), max(ua.max(), ub.max()), 512)[:, None]
        cross = ((ua - ts) * (ub - ts) <= 0) & (ua != ub)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = (ts - ua) / (ub - ua)
            vv = va + w * (vb - va)
        hi = np.where(cross, vv, -np.inf).max(axis=1)
        lo = np.where(cross, vv, np.inf).min(axis=1)
        ok = cross.sum(axis=1) >= 2
        if ok.any():
            best = max(best, float((hi - lo)[ok].max()))
    return best


def recist_mm(mask, spacing) -> dict:
    """RECIST long axis (longest axial diameter) and its perpendicular short axis.

    Returns
    -------
    dict
        ``recist_long_mm``, ``recist_short_mm`` and ``recist_slice`` (z index).
    """
    m = as_mask(mask)
    sp = as_spacing(spacing)
    sp2 = sp[1:]
    lo, hi = bbox(m)
    best = (0.0, None, None)
    for z in range(lo[0], hi[0]):
        sl = m[z, lo[1]:hi[1], lo[2]:hi[2]]
        if not sl.any():
            continue
        pts = _slice_contour_points(sl, sp2)
        d, ends = _max_pairwise(pts)
        if d > best[0]:
            best = (d, z, ends)
    long_mm, z, ends = best
    if ends is None:
        return {"recist_long_mm": long_mm, "recist_short_mm": 0.0, "recist_slice": int(lo[0])}
    sl = m[z, lo[1]:hi[1], lo[2]:hi[2]]
    short = _perpendicular_mm(sl, sp2, ends[1] - ends[0])
    return {"recist_long_mm": long_mm, "recist_short_mm": short, "recist_slice": int(z)}


def suv_peak(image, mask, spacing, radius_mm: float = PEAK_RADIUS_MM) -> float:
    """SUVpeak: highest mean in a sphere of ``radius_mm`` centred on a voxel of the lesion.

    Parameters
    ----------
    image : array_like, (z, y, x)
        PET in SUV.
    mask : array_like, (z, y, x)
        Lesion.
    spacing : sequence of 3 floats
        Voxel spacing in mm (z, y, x).
    radius_mm : float
        Sphere radius; the default makes 1 mL (PERCIST).

    Notes
    -----
    The sphere is the set of voxel centres within ``radius_mm`` of the centre
    voxel (at least the centre voxel itself); parts of the sphere outside the
    image are left out of the mean.
    """
    m = as_mask(mask, "lesion")
    img = np.asarray(image)
    same_shape(img, m, "the image", "the lesion")
    sp = as_spacing(spacing)
    r = np.floor(radius_mm / sp + 1e-9).astype(int)
    grids = np.ogrid[tuple(slice(-k, k + 1) for k in r)]
    kernel = (sum((g * s) ** 2 for g, s in zip(grids, sp)) <= radius_mm**2 + 1e-9).astype(np.float64)
    lo, hi = bbox(m)
    box = padded_slices(lo, hi, r + 1, m.shape)
    sub = np.asarray(img[box], dtype=np.float64)
    # The kernel is symmetric: convolution = correlation; FFT keeps 1 mL fast at fine spacing.
    total = fftconvolve(sub, kernel, mode="same")
    count = fftconvolve(np.ones_like(sub), kernel, mode="same")
    mean = total / np.maximum(count, 0.5)
    return float(mean[m[box]].max())


def volume_ml(voxel_count, spacing) -> float:
    """Volume in mL (cm\u00b3) of ``voxel_count`` voxels of ``spacing`` (z, y, x) mm.

    The one place radgui turns a voxel count into millilitres (the dock's
    preview, the measurement table and ``radgui roi`` all call it).
    """
    return int(voxel_count) * float(np.prod(as_spacing(spacing))) / 1000.0


def measure(mask, volume, spacing=None, modality: str | None = None) -> dict:
    """Measure a ROI on an image.

    Parameters
    ----------
    mask : array_like, (z, y, x)
        The ROI (voxels > 0). Not modified.
    volume : radgui.io.Volume or array_like
        The image; with an array give ``spacing`` (and ``modality="PT"`` for
        PET measures).
    spacing : sequence of 3 floats, optional
        Voxel spacing in mm (z, y, x); taken from the Volume when omitted.
    modality : str, optional
        ``"PT"`` adds SUV measures (the image must be in SUV); taken from the
        Volume when omitted.

    Returns
    -------
    dict
        ``voxel_count``, ``volume_ml``, ``recist_long_mm``,
        ``recist_short_mm``, ``recist_slice``, ``max_3d_diameter_mm``,
        ``mean``, ``sd``, ``min``, ``max`` (image units); for PET also
        ``suv_max``, ``suv_mean``, ``suv_peak``, ``mtv_ml``, ``tlg`` (SUV x mL).
    """
    from radgui.io import Volume

    if isinstance(volume, Volume):
        img = volume.array
        spacing = volume.spacing if spacing is None else spacing
        modality = volume.modality if modality is None else modality
    else:
        img = None if volume is None else np.asarray(volume)
        if spacing is None:
            raise RoiParameterError("measure needs the voxel spacing (mm, z, y, x) with an array image")
    m = as_mask(mask)
    sp = as_spacing(spacing)
    n = int(m.sum())
    out: dict = {"voxel_count": n, "volume_ml": volume_ml(n, sp)}
    out.update(recist_mm(m, sp))
    out["max_3d_diameter_mm"] = max_3d_diameter_mm(m, sp)
    if img is not None:
        same_shape(img, m, "the image", "the ROI")
        vals = np.asarray(img[m], dtype=np.float64)
        out.update(mean=float(vals.mean()), sd=float(vals.std(ddof=0)), min=float(vals.min()),
                   max=float(vals.max()))
        if (modality or "").upper() == "PT":
            out.update(suv_max=out["max"], suv_mean=out["mean"], suv_peak=suv_peak(img, m, sp),
                       mtv_ml=out["volume_ml"], tlg=out["mean"] * out["volume_ml"])
    return out


def iter_measure_many(rois: dict):
    """Measure several ROIs, one :class:`~radgui.progress.Step` per ROI (an ``iter_*`` generator).

    Parameters
    ----------
    rois : dict
        ``{key: (mask, volume)}``; an empty mask measures as 0 mL, a ROI the
        engine refuses gets ``{"error": message}``.

    Returns
    -------
    dict
        ``{key: measure(...) dict}``.
    """
    from radgui.errors import RadguiError
    from radgui.progress import Step

    out = {}
    total = len(rois)
    for k, (key, (data, volume)) in enumerate(rois.items()):
        yield Step(k, total, "measuring")
        mask = np.asarray(data) > 0
        try:
            out[key] = measure(mask, volume) if mask.any() else {"volume_ml": 0.0, "voxel_count": 0}
        except RadguiError as exc:
            out[key] = {"error": str(exc)}
    return out
