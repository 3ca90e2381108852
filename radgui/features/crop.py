"""Crop margins that keep PyRadiomics' filtered values bit-identical.

PyRadiomics filters the *whole* image and then crops every filtered image to
the ROI's bounding box. Filtering only a box around the ROIs gives the same
values inside the ROI when the box's margin covers each filter's reach:

* **LoG** (``sitk.LaplacianRecursiveGaussianImageFilter``) is a recursive
  (IIR, Deriche) filter with infinite support: a box edge changes values at
  distance *d* by an amount that decays like ``exp(-c d / sigma)``. Measured on
  lung1 (int16 CT, 0.57 x 0.57 x 5 mm) for sigma 1.5, 3 and 5 mm, the largest
  absolute difference inside the ROI was 1e-3 at 8 sigma, 6e-5 (a float32
  ulp) at 12 sigma, a few float32 ulps in at most 4 voxels at 16 sigma, and
  exactly 0 at 20 sigma. radgui uses :data:`LOG_MARGIN_SIGMAS` = 20 times the
  largest sigma, per axis in mm.
* **Wavelet**: PyRadiomics applies ``pywt.swtn`` (level 1, periodic
  extension, no decimation) once per level, so the transform commutes with
  shifts and the reach is ``len(dec_lo) - 1`` voxels per level (coif1: 5);
  measured exact with 3 voxels per level. Because the transform wraps around
  (and PyRadiomics wrap-pads odd sizes), an axis whose box would touch the
  image edge is not cropped at all, so the wrap joins the same voxels as in
  the full image.
* **Gradient**: central differences, 2 voxels.
* **Square, SquareRoot, Logarithm, Exponential** rescale by the maximum of the
  *whole* image, so radgui computes them on the whole image and crops after.
* **Resampling**: PyRadiomics resamples only the ROI's bounding box plus
  ``padDistance`` output voxels, on a grid anchored at the mask's origin.
  Cropping the image before that (keeping the grid's reach plus the
  interpolator's support, :func:`resampling_box`) is *not* bit-exact in
  general: the cropped image's origin differs by rounding, so the continuous
  indices and interpolation weights differ in the last bits, and an integer
  output pixel type truncates some voxels to the neighbouring integer. On
  the generated large-lesion CT (``radgui.features.phantoms``) ``ct-log``
  differed from stock by up to 1e-3 relative that way (lung1, brain1 and
  breast1 happened to be exact). So by default (:data:`CROP_BEFORE_RESAMPLING`
  False) radgui resamples the whole image on stock's grid; what makes that
  fast and still exact is computing the cubic B-spline coefficients only
  where the grid reads them (:mod:`radgui.features.fastresample`).

All box arithmetic here is in ITK index order (x, y, z), because it feeds
SimpleITK's crop filter directly; callers convert nothing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import SimpleITK as sitk

#: LoG margin, in multiples of the largest sigma (measured; see module docstring).
LOG_MARGIN_SIGMAS = 20.0

#: Image types filtered on the whole image then cropped (global rescaling).
GLOBAL_IMAGE_TYPES = ("Square", "SquareRoot", "Logarithm", "Exponential")

#: Image types the crop-first path supports.
FAST_IMAGE_TYPES = ("Original", "LoG", "Wavelet", "Gradient") + GLOBAL_IMAGE_TYPES

#: Crop the image before PyRadiomics' resampling (faster, but not bit-exact: see the module docstring).
CROP_BEFORE_RESAMPLING = False

#: Margin in input voxels for each interpolator (None: no crop before resampling).
_INTERPOLATOR_SUPPORT = {
    "sitkNearestNeighbor": 1,
    "sitkLinear": 2,
    "sitkBSpline1": 2,
    "sitkBSpline": 32,
    "sitkBSpline2": 32,
    "sitkBSpline3": 32,
    "sitkBSpline4": 48,
    "sitkBSpline5": 48,
    "sitkGaussian": 8,
    "sitkLabelGaussian": 8,
    "sitkHammingWindowedSinc": 8,
    "sitkCosineWindowedSinc": 8,
    "sitkWelchWindowedSinc": 8,
    "sitkLanczosWindowedSinc": 8,
    "sitkBlackmanWindowedSinc": 8,
}


def interpolator_support_voxels(interpolator: Any) -> int | None:
    """Input voxels an interpolator (name or SimpleITK constant) needs around a point.

    Returns None for an interpolator radgui does not know; the image is then
    resampled uncropped, exactly as PyRadiomics does.
    """
    if isinstance(interpolator, str):
        return _INTERPOLATOR_SUPPORT.get(interpolator)
    for name, support in _INTERPOLATOR_SUPPORT.items():
        if getattr(sitk, name, None) == interpolator:
            return support
    return None


def wavelet_margin_voxels(wavelet: str = "coif1", level: int = 1, start_level: int = 0) -> int:
    """Reach, in voxels, of PyRadiomics' repeated level-1 stationary wavelet transform."""
    import pywt

    length = pywt.Wavelet(wavelet).dec_len
    return (int(start_level) + int(level)) * (length - 1)


def filter_margin(image_types: dict[str, dict], settings: dict, spacing_xyz) -> tuple[np.ndarray, bool]:
    """Per-axis margin (voxels, x, y, z) covering every enabled filter's reach.

    Parameters
    ----------
    image_types : dict
        Enabled image types with their custom settings (PyRadiomics'
        ``enabledImagetypes``).
    settings : dict
        Global settings (``sigma``, ``wavelet``, ``level``, ... may be here).
    spacing_xyz : sequence of float
        Voxel spacing in mm, ITK (x, y, z) order.

    Returns
    -------
    margin : ndarray of int, shape (3,)
        Voxels to keep on each side of the ROI box, per axis (x, y, z).
    wraps : bool
        True when a filter wraps around the image (wavelet): an axis whose box
        touches the image edge must then be kept whole.
    """
    spacing = np.asarray(spacing_xyz, float)
    margin = np.zeros(len(spacing), int)
    wraps = False
    for itype, custom in image_types.items():
        args = dict(settings)
        args.update(custom or {})
        if itype == "LoG":
            sigmas = [float(s) for s in args.get("sigma", []) if float(s) > 0]
            if sigmas:
                reach_mm = LOG_MARGIN_SIGMAS * max(sigmas)
                margin = np.maximum(margin, np.ceil(reach_mm / spacing).astype(int))
        elif itype == "Wavelet":
            m = wavelet_margin_voxels(args.get("wavelet", "coif1"), args.get("level", 1),
                                      args.get("start_level", 0))
            margin = np.maximum(margin, m)
            wraps = True
        elif itype == "Gradient":
            margin = np.maximum(margin, 2)
    return margin, wraps


def crop_box(lower_xyz, upper_xyz, size_xyz, margin_xyz, wraps: bool = False,
             min_size: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Box ``[lo, hi)`` (index x, y, z) around an inclusive ROI box plus a margin.

    Clipped to the image; with ``wraps`` an axis reaching an image edge is kept
    whole; every axis keeps at least ``min_size`` voxels (PyRadiomics' LoG
    refuses smaller images).
    """
    lower = np.asarray(lower_xyz, int)
    upper = np.asarray(upper_xyz, int)
    size = np.asarray(size_xyz, int)
    margin = np.asarray(margin_xyz, int)
    lo = lower - margin
    hi = upper + 1 + margin
    for ax in range(len(size)):
        if wraps and (lo[ax] <= 0 or hi[ax] >= size[ax]):
            lo[ax], hi[ax] = 0, size[ax]
        short = min_size - (hi[ax] - lo[ax])
        if short > 0:
            lo[ax] -= math.ceil(short / 2)
            hi[ax] += math.ceil(short / 2)
    lo = np.clip(lo, 0, size)
    hi = np.clip(hi, 0, size)
    return lo, hi


def resampling_box(lower_xyz, upper_xyz, image: sitk.Image, settings: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """Box of input voxels PyRadiomics' ``resampleImage`` reads for a ROI box.

    The output grid covers the ROI box plus ``padDistance`` output voxels (plus
    rounding); the interpolator reads its support around each output point.
    Returns None when the interpolator's support is unknown (no crop), and
    always while :data:`CROP_BEFORE_RESAMPLING` is False (the default: exact).
    """
    if not CROP_BEFORE_RESAMPLING:
        return None
    support = interpolator_support_voxels(settings.get("interpolator", "sitkBSpline"))
    if support is None:
        return None
    spacing = np.asarray(image.GetSpacing(), float)
    new = np.asarray(settings["resampledPixelSpacing"], float)
    new = np.where(new == 0, spacing, new)
    pad = int(settings.get("padDistance", 5))
    reach = np.ceil((pad + 2) * new / spacing).astype(int) + support
    return crop_box(lower_xyz, upper_xyz, image.GetSize(), reach, wraps=False, min_size=1)


def crop(image: sitk.Image, lo, hi) -> sitk.Image:
    """Crop a SimpleITK image to the index box ``[lo, hi)`` (x, y, z); keeps physical geometry."""
    lo = [int(v) for v in lo]
    hi = [int(v) for v in hi]
    if lo == [0] * len(lo) and hi == list(image.GetSize()):
        return image
    return image[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
