"""PyRadiomics' cubic B-spline resampling, bit for bit, computing only what the grid reads.

``imageoperations.resampleImage`` with ``interpolator: sitkBSpline`` calls
``sitk.ResampleImageFilter``, whose ``BSplineInterpolateImageFunction`` first
runs ``BSplineDecompositionImageFilter`` on the *whole* image (a recursive
filter along x, then y, then z, in double precision) and then evaluates the
cubic spline at each output point from the 4 x 4 x 4 coefficients around it.
On lung1 (512 x 512 x 48) the decomposition is 0.57 s of the 0.71 s, although
the output grid covers only the ROI's box.

Resampling a coefficient image with ``sitkBSplineResamplerOrder3`` (the same
evaluation, without the decomposition) gives the same output bit for bit, so
radgui computes the coefficients itself, exactly as ITK does
(``DataToCoefficients1D``: gain, causal initialisation over an 18-sample
horizon for tolerance 1e-10, causal and anti-causal recursions with mirror
boundaries), but only where they are read:

* the x pass needs whole x lines, on every (y, z) line (the whole image, once);
* the y pass only the x columns the grid reads, the z pass only their (x, y) box.

The coefficient image keeps the input's origin, spacing and direction (zeros
below the box, ending at its upper corner, which no grid point's support
reaches), so every continuous index, interpolation weight and mirror boundary
is the one stock computes, and the integer output truncates identically. The
grid and the resampled mask come from PyRadiomics' own ``resampleImage`` run
on a stand-in (the mask); anything radgui does not cover (another
interpolator, a 2-D image, a mask on another grid, the equal-spacing branch)
goes to stock unchanged.

``tests/test_resample_exact.py`` checks the coefficients against
``sitk.BSplineDecomposition`` and the result against stock on every case.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import SimpleITK as sitk

#: Use this path in feature extraction (False: PyRadiomics' resampling, the reference).
ENABLED = True

#: Cubic spline pole, gain and anti-causal factor, computed as ITK does.
_Z = math.sqrt(3.0) - 2.0
_GAIN = (1.0 * (1.0 - _Z)) * (1.0 - 1.0 / _Z)
_ANTI = _Z / (_Z * _Z - 1.0)
#: Samples of the accelerated causal initialisation: ceil(log(tolerance) / log|z|), tolerance 1e-10.
_HORIZON = int(math.ceil(math.log(1e-10) / math.log(abs(_Z))))

#: Values per chunk of x lines in the x pass (bounded scratch memory: 8 MB).
_CHUNK_VALUES = 1 << 20

#: Extra coefficient voxels kept around what the grid reads (rounding of the corner indices).
_MARGIN = 3

_CUBIC = {"sitkBSpline", "sitkBSpline3"}


def covers(interpolator: Any) -> bool:
    """Whether ``interpolator`` (a name or a SimpleITK constant) is the cubic B-spline this module reproduces."""
    if isinstance(interpolator, str):
        return interpolator in _CUBIC
    return interpolator == sitk.sitkBSpline


def _decompose_lines(s: np.ndarray) -> None:
    """ITK's ``DataToCoefficients1D`` (cubic, mirror boundaries) along axis 0 of a float64 array, in place.

    Same operations in the same order as ITK, so the result is bit-identical.
    """
    n_len = s.shape[0]
    if n_len == 1:
        return  # ITK leaves a one-sample line unchanged (no gain either)
    z = _Z
    s *= _GAIN
    if _HORIZON < n_len:
        acc = s[0].copy()
        zn = z
        for n in range(1, _HORIZON):
            acc += zn * s[n]
            zn *= z
    else:  # short line: ITK's full mirror sum
        iz = 1.0 / z
        zn = z
        z2n = z ** (n_len - 1)
        acc = s[0] + z2n * s[n_len - 1]
        z2n *= z2n * iz
        for n in range(1, n_len - 1):
            acc += (zn + z2n) * s[n]
            zn *= z
            z2n *= iz
        acc /= 1.0 - zn * zn
    s[0] = acc
    tmp = np.empty_like(s[0])
    for n in range(1, n_len):
        np.multiply(s[n - 1], z, out=tmp)
        s[n] += tmp
    s[n_len - 1] = _ANTI * (z * s[n_len - 2] + s[n_len - 1])
    for n in range(n_len - 2, -1, -1):
        np.subtract(s[n + 1], s[n], out=tmp)
        np.multiply(tmp, z, out=s[n])


def bspline_coefficients(array: np.ndarray, box: tuple[tuple[int, int], ...] | None = None) -> np.ndarray:
    """Cubic B-spline coefficients of a (z, y, x) array, bit-identical to ITK's, inside ``box``.

    Parameters
    ----------
    array : ndarray, shape (z, y, x)
        Image values (any real dtype; computed in float64 as ITK does).
    box : ((z0, z1), (y0, y1), (x0, x1)), optional
        Half-open index box of the coefficients wanted; None: all.

    Returns
    -------
    ndarray of float64, shape (z1, y1, x1)
        The coefficients inside ``box``, zeros below it: the input's index
        origin, ending at the box's upper corner (the whole array's shape
        when ``box`` is None).
    """
    a = np.asarray(array)
    if a.ndim != 3:
        raise ValueError(f"bspline_coefficients needs a 3-D (z, y, x) array, got shape {a.shape}")
    nz, ny, nx = a.shape
    if box is None:
        box = ((0, nz), (0, ny), (0, nx))
    (z0, z1), (y0, y1), (x0, x1) = ((int(lo), int(hi)) for lo, hi in box)
    if not (0 <= z0 < z1 <= nz and 0 <= y0 < y1 <= ny and 0 <= x0 < x1 <= nx):
        raise ValueError(f"coefficient box {box} is empty or outside the array {a.shape}")
    # x pass (ITK's first): whole x lines of every (z, y), in chunks of lines (recursion axis
    # first), keeping only the x columns in the box.
    lines = a.reshape(nz * ny, nx)
    v = np.empty((x1 - x0, nz * ny), np.float64)
    chunk = max(256, _CHUNK_VALUES // nx)
    buf = np.empty((nx, chunk), np.float64)
    for r0 in range(0, nz * ny, chunk):
        r1 = min(r0 + chunk, nz * ny)
        part = buf[:, : r1 - r0]
        np.copyto(part, lines[r0:r1].T)
        _decompose_lines(part)
        v[:, r0:r1] = part[x0:x1]
    # y pass on the x columns in the box: (y, x-in-box * z).
    s = np.ascontiguousarray(v.reshape(x1 - x0, nz, ny).transpose(2, 0, 1).reshape(ny, -1))
    _decompose_lines(s)
    # z pass on the (x, y) box: (z, y-in-box * x-in-box).
    w = s[y0:y1].reshape(y1 - y0, x1 - x0, nz)
    s = np.ascontiguousarray(w.transpose(2, 0, 1).reshape(nz, -1))
    _decompose_lines(s)
    out = np.zeros((z1, y1, x1), np.float64)
    out[z0:, y0:, x0:] = s[z0:z1].reshape(z1 - z0, y1 - y0, x1 - x0)
    return out


def read_box(image: sitk.Image, grid: sitk.Image) -> tuple[tuple[int, int], ...]:
    """Half-open (z, y, x) box of ``image`` coefficients a cubic spline reads on ``grid``'s points.

    The grid's corners bound its continuous indices (an affine map); each point
    reads floor(index) - 1 to floor(index) + 2 (mirrored at the image's
    edges), kept with a margin.
    """
    size = np.array(grid.GetSize())
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in size], indexing="ij")).reshape(len(size), -1).T
    cidx = np.array([image.TransformPhysicalPointToContinuousIndex(grid.TransformIndexToPhysicalPoint(
        [int(c) for c in corner])) for corner in corners])
    lo = np.floor(cidx.min(axis=0)).astype(int) - 1 - _MARGIN
    hi = np.floor(cidx.max(axis=0)).astype(int) + 3 + _MARGIN
    dims = np.array(image.GetSize())
    # A read past an edge (mirrored to within 2 voxels of it) implies a box clipped to that edge.
    lo = np.clip(lo, 0, dims - 1)
    hi = np.clip(hi, lo + 1, dims)
    return tuple((int(a), int(b)) for a, b in zip(lo[::-1], hi[::-1]))


def resample_image(image: sitk.Image, mask: sitk.Image, **settings) -> tuple[sitk.Image, sitk.Image]:
    """``radiomics.imageoperations.resampleImage``, bit-identical, decomposing only the box it reads.

    Falls back to PyRadiomics for whatever this module does not cover (see the
    module docstring); raises what PyRadiomics raises.
    """
    from radiomics import imageoperations

    interpolator = settings.get("interpolator", sitk.sitkBSpline)
    if (not covers(interpolator) or image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1
            or mask.GetSize() != image.GetSize()
            or image.GetPixelID() in (sitk.sitkComplexFloat32, sitk.sitkComplexFloat64)):
        return imageoperations.resampleImage(image, mask, **settings)
    stand_in = sitk.Image(mask)
    stand_in.CopyInformation(image)  # the grid PyRadiomics derives from the mask, checked against the image
    _, mask_r = imageoperations.resampleImage(stand_in, mask, **{**settings, "interpolator": sitk.sitkNearestNeighbor})
    if np.allclose(image.GetSpacing(), mask_r.GetSpacing()):
        return imageoperations.resampleImage(image, mask, **settings)  # stock crops without interpolating
    box = read_box(image, mask_r)
    # Same origin, spacing and direction as the image (so the same continuous indices), ending at the
    # box's upper corner: no grid point reaches that edge's mirror boundary.
    coefficients = sitk.GetImageFromArray(bspline_coefficients(sitk.GetArrayViewFromImage(image), box))
    coefficients.SetOrigin(image.GetOrigin())
    coefficients.SetSpacing(image.GetSpacing())
    coefficients.SetDirection(image.GetDirection())
    image_r = sitk.Resample(coefficients, mask_r, sitk.Transform(), sitk.sitkBSplineResamplerOrder3, 0.0,
                            image.GetPixelID())
    return image_r, mask_r
