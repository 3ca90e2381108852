"""3D region growing from seed points, in a cropped neighbourhood.

All work happens in the box of ``max_radius_mm`` around the seeds, so a
preview on a 512x512x400 CT takes tens of milliseconds. Leakage guards:

* ``max_radius_mm``: nothing farther than this from every seed (physical
  Euclidean distance) is grown;
* ``opening_mm``: a morphological opening with a ball of that radius in mm
  cuts bridges thinner than twice the radius (vessels, bronchi touching a
  nodule); afterwards only the component holding a seed is kept;
* ``fill_holes``: cavities (necrosis, air bronchograms) are filled in 3D.

Modes
-----
``"interval"``
    Connected threshold: voxels with ``lower <= value <= upper`` connected
    (faces) to a seed; the interval comes from a CT preset (:data:`PRESETS`)
    or is given.
``"adaptive"``
    Confidence connected (SimpleITK): the interval is ``mean +- multiplier *
    SD`` of the region, starting from a small neighbourhood of the seed and
    re-estimated ``iterations`` times.
``"pet_fraction"``
    PET: voxels with SUV >= ``fraction`` (default 41 %) of the SUVmax found
    inside the sphere of ``max_radius_mm`` around the seeds.
``"pet_fixed"``
    PET: voxels with SUV >= ``suv_threshold`` (default 2.5).

References
----------
Boellaard R et al. FDG PET/CT: EANM procedure guidelines for tumour imaging:
version 2.0. Eur J Nucl Med Mol Imaging 2015;42:328-354 (41 % SUVmax, SUV 2.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from radgui.roi._common import RoiParameterError, as_spacing, ellipsoid_structure

#: CT presets: name -> (lower HU, upper HU, description).
PRESETS: dict[str, tuple[float, float, str]] = {
    "solid": (-400.0, 400.0, "Solid lesion in lung (soft tissue against aerated lung)"),
    "part-solid": (-750.0, 400.0, "Part-solid nodule: ground-glass and solid parts"),
    "ground-glass": (-800.0, -300.0, "Pure ground-glass / sub-solid opacity"),
    "soft-tissue": (-50.0, 200.0, "Soft-tissue lesion (liver, lymph node, muscle contrast)"),
}

#: Growing modes.
MODES = ("interval", "adaptive", "pet_fraction", "pet_fixed")


@dataclass
class GrowResult:
    """A grown region inside its crop box.

    Attributes
    ----------
    slices : tuple of slice
        The crop box in the full (z, y, x) array.
    mask : numpy.ndarray of bool
        The region inside the crop box.
    shape : tuple of int
        Shape of the full array.
    interval : (float, float)
        The value interval used (for adaptive and PET modes: the one found).
    params : dict
        Parameters of the run, for provenance.
    """

    slices: tuple[slice, slice, slice]
    mask: np.ndarray
    shape: tuple[int, int, int]
    interval: tuple[float, float]
    params: dict = field(default_factory=dict)

    def full(self) -> np.ndarray:
        """The region as a full-size boolean (z, y, x) array."""
        out = np.zeros(self.shape, bool)
        out[self.slices] = self.mask
        return out

    @property
    def voxel_count(self) -> int:
        """Number of voxels in the region."""
        return int(self.mask.sum())

    @property
    def offset(self) -> np.ndarray:
        """(z, y, x) index of the crop box's first voxel in the full array."""
        return np.array([s.start for s in self.slices])

    def added_to(self, mask) -> np.ndarray:
        """``mask`` (full size, voxels > 0) plus the region: a new boolean array.

        Only the crop box is combined; ``mask`` is not modified.
        """
        current = np.asarray(mask) > 0
        if current.shape != tuple(self.shape):
            from radgui.errors import GeometryMismatchError

            raise GeometryMismatchError(
                f"the ROI has shape {current.shape} but the region was grown on {tuple(self.shape)} (z, y, x)")
        current[self.slices] |= self.mask
        return current


def _seeds(seeds, shape) -> np.ndarray:
    s = np.atleast_2d(np.asarray(seeds, dtype=float))
    if s.ndim != 2 or s.shape[1] != 3 or s.shape[0] == 0:
        raise RoiParameterError(f"seeds must be (z, y, x) voxel indices, got {seeds!r}")
    s = np.round(s).astype(int)
    for p in s:
        if np.any(p < 0) or np.any(p >= np.asarray(shape)):
            raise RoiParameterError(f"seed {tuple(int(v) for v in p)} (z, y, x) is outside the image {shape}")
    return s


def _keep_seeded(region: np.ndarray, seeds_local: np.ndarray, extra=None,
                 fallback_largest: bool = False) -> np.ndarray:
    """Components of ``region`` that hold a seed (or ``extra``); else the largest or nothing."""
    labels, n = ndi.label(region)
    if n == 0:
        return region
    keep = {int(labels[tuple(p)]) for p in seeds_local}
    if extra is not None:
        keep.add(int(labels[tuple(extra)]))
    keep.discard(0)
    if not keep:
        if not fallback_largest:
            return np.zeros_like(region)
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        keep = {int(np.argmax(sizes))}
    return np.isin(labels, sorted(keep))


def grow_region(image, spacing, seeds, *, mode: str = "interval", preset: str | None = "solid",
                lower: float | None = None, upper: float | None = None,
                max_radius_mm: float = 30.0, opening_mm: float = 0.0, fill_holes: bool = True,
                multiplier: float = 2.5, iterations: int = 3, neighbourhood_mm: float = 2.0,
                fraction: float = 0.41, suv_threshold: float = 2.5) -> GrowResult:
    """Grow a 3D region from seeds; the result stays in its crop box (fast preview).

    Parameters
    ----------
    image : array_like, (z, y, x)
        CT in HU, PET in SUV, or any scalar image. Not modified.
    spacing : sequence of 3 floats
        Voxel spacing in mm, (z, y, x).
    seeds : array_like, (n, 3) or (3,)
        Seed voxel indices (z, y, x).
    mode : {"interval", "adaptive", "pet_fraction", "pet_fixed"}
        See the module docstring.
    preset : str, optional
        CT interval preset (:data:`PRESETS`), used in ``"interval"`` mode when
        ``lower``/``upper`` are not given.
    lower, upper : float, optional
        Value interval (inclusive) for ``"interval"`` mode.
    max_radius_mm : float
        Nothing farther than this from a seed is grown (mm).
    opening_mm : float
        Radius in mm of the ball of a morphological opening that cuts thin
        bridges; 0 to skip.
    fill_holes : bool
        Fill enclosed cavities in 3D.
    multiplier, iterations, neighbourhood_mm : float, int, float
        Adaptive mode: interval half-width in SDs, re-estimations, radius in
        mm of the initial neighbourhood around each seed.
    fraction : float
        ``"pet_fraction"``: fraction of SUVmax (0-1).
    suv_threshold : float
        ``"pet_fixed"``: SUV threshold.

    Returns
    -------
    GrowResult
    """
    img = np.asarray(image)
    if img.ndim != 3:
        raise RoiParameterError(f"region growing needs a 3D image, got {img.ndim}D")
    sp = as_spacing(spacing)
    pts = _seeds(seeds, img.shape)
    if mode not in MODES:
        raise RoiParameterError(f"unknown growing mode {mode!r}: use one of {', '.join(MODES)}")
    if not np.isfinite(max_radius_mm) or max_radius_mm <= 0:
        raise RoiParameterError(f"maximum radius must be a positive number of mm, got {max_radius_mm!r}")
    if opening_mm < 0:
        raise RoiParameterError(f"opening radius must be >= 0 mm, got {opening_mm!r}")

    rv = np.ceil(max_radius_mm / sp).astype(int)
    lo = np.maximum(pts.min(axis=0) - rv, 0)
    hi = np.minimum(pts.max(axis=0) + rv + 1, img.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    sub = img[box]
    local = pts - lo

    # Sphere(s) of max_radius_mm around the seeds.
    grids = np.ogrid[tuple(slice(0, int(n)) for n in sub.shape)]
    sphere = np.zeros(sub.shape, bool)
    for p in local:
        d2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grids, p, sp))
        sphere |= d2 <= max_radius_mm**2

    params = dict(mode=mode, max_radius_mm=max_radius_mm, opening_mm=opening_mm,
                  fill_holes=fill_holes, seeds=[tuple(int(v) for v in p) for p in pts])
    extra = None
    if mode == "interval":
        if lower is None or upper is None:
            if preset not in PRESETS:
                raise RoiParameterError(
                    f"unknown preset {preset!r}: use one of {', '.join(PRESETS)} or give lower and upper")
            plo, phi, _ = PRESETS[preset]
            lower = plo if lower is None else lower
            upper = phi if upper is None else upper
            params["preset"] = preset
        lower, upper = float(lower), float(upper)
        if lower > upper:
            raise RoiParameterError(f"interval lower {lower:g} is above upper {upper:g}")
        region = (sub >= lower) & (sub <= upper) & sphere
    elif mode == "adaptive":
        simg = sitk.GetImageFromArray(np.ascontiguousarray(sub, dtype=np.float32))
        filt = sitk.ConfidenceConnectedImageFilter()
        # SimpleITK indexes a raw (geometry-free) array as (x, y, z): reverse the index only.
        filt.SetSeedList([tuple(int(v) for v in p[::-1]) for p in local])
        filt.SetMultiplier(float(multiplier))
        filt.SetNumberOfIterations(int(iterations))
        filt.SetInitialNeighborhoodRadius(max(1, int(round(neighbourhood_mm / sp.min()))))
        filt.SetReplaceValue(1)
        region = sitk.GetArrayFromImage(filt.Execute(simg)).astype(bool) & sphere
        mean, sd = filt.GetMean(), float(np.sqrt(max(filt.GetVariance(), 0.0)))
        lower, upper = mean - multiplier * sd, mean + multiplier * sd
        params.update(multiplier=multiplier, iterations=iterations, neighbourhood_mm=neighbourhood_mm)
    elif mode == "pet_fraction":
        if not 0 < fraction <= 1:
            raise RoiParameterError(f"fraction of SUVmax must be in (0, 1], got {fraction!r}")
        vals = np.where(sphere, sub, -np.inf)
        extra = np.unravel_index(int(np.argmax(vals)), sub.shape)
        suvmax = float(vals[extra])
        lower, upper = fraction * suvmax, float("inf")
        region = (sub >= lower) & sphere
        params.update(fraction=fraction, suvmax=suvmax)
    else:  # pet_fixed
        lower, upper = float(suv_threshold), float("inf")
        region = (sub >= lower) & sphere
        params.update(suv_threshold=suv_threshold)

    region = _keep_seeded(region, local, extra)
    if opening_mm > 0 and region.any():
        st = ellipsoid_structure(opening_mm, sp)
        opened = ndi.binary_opening(region, structure=st)
        if opened.any():
            region = _keep_seeded(opened, local, extra, fallback_largest=True) & region
        # else: everything was thinner than the opening; keep the unopened region
    if fill_holes and region.any():
        region = ndi.binary_fill_holes(region)
    params["interval"] = (float(lower), float(upper))
    return GrowResult(box, region, tuple(img.shape), (float(lower), float(upper)), params)


def grow(image, spacing, seeds, **kwargs) -> np.ndarray:
    """Grow a 3D region from seeds; a full-size boolean (z, y, x) array.

    Same parameters as :func:`grow_region` (which keeps the result in its
    crop box, for fast previews).
    """
    return grow_region(image, spacing, seeds, **kwargs).full()
