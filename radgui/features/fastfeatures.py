"""Faster, value-identical runs of PyRadiomics' texture and first-order feature classes.

Stock ``RadiomicsFeatureExtractor.computeFeatures`` builds every feature class
from scratch for each image type: each of the six grey-level classes converts
the image and the mask to numpy again and discretises the ROI again (and the
discretisation formats its bin edges into a debug message that is then thrown
away). :func:`compute_features` does the same work once per image type and
hands every class the shared arrays; it runs PyRadiomics' own classes, with
the bin edges computed without formatting them into an unused debug
message, the feature-name lookup cached, and two formulas rewritten exactly:

* GLCM ``p_{x+y}`` and ``p_{x-y}``: one ``np.bincount`` per coefficient
  instead of a boolean-mask sum per ``k`` (again the same additions in the
  same order).
* GLCM cluster shade and prominence: the third and fourth powers of
  ``i + j - ux - uy`` taken once per distinct ``i + j`` rather than per
  ``(i, j)`` (the same bases, so the same powers, products and sums).

Every replaced computation is checked bit-for-bit against stock in
``tests/test_featperf_exact.py``, and every feature of every preset against
the stock extractor in ``tests/test_features_fastpath.py``. Anything this
module does not cover (voxel-based extraction, a feature class PyRadiomics
may add, GLCM weighting) goes to the stock classes: :func:`covers` says
which.

References
----------
van Griethuysen JJM, et al. Cancer Res 2017;77:e104-e107 (PyRadiomics).
"""

from __future__ import annotations

import collections
from functools import cache
from typing import Any

import numpy as np
import SimpleITK as sitk

#: Feature classes whose shared-array variant exists.
SHARED_CLASSES = ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")


def covers(settings: dict[str, Any], enabled: dict[str, Any]) -> bool:
    """Whether :func:`compute_features` handles these settings and classes (else use stock)."""
    if settings.get("voxelBased", False):
        return False
    return all(name.startswith("shape") or name in SHARED_CLASSES for name in enabled)


def bin_edges(values: np.ndarray, settings: dict[str, Any]) -> np.ndarray:
    """``radiomics.imageoperations.getBinEdges`` without formatting its debug message.

    Stock builds an f-string of every bin edge on each call even when debug
    logging is off (a numpy ``array2string`` per class and image type); the
    arithmetic below is stock's, line for line.
    """
    bin_width = settings.get("binWidth", 25)
    bin_count = settings.get("binCount")
    if bin_count is not None:
        edges = np.histogram(values, bin_count)[1]
        edges[-1] += 1
        return edges
    minimum = values.min()  # stock: builtins min/max, same value and dtype, slower
    maximum = values.max()
    low = minimum - (minimum % bin_width)
    high = maximum + 2 * bin_width
    edges = np.arange(low, high, bin_width)
    if len(edges) == 1:
        edges = [edges[0] - 0.5, edges[0] + 0.5]
    return edges


def bin_image(image_array: np.ndarray, mask_array: np.ndarray, settings: dict[str, Any]) -> np.ndarray:
    """``radiomics.imageoperations.binImage(image_array, mask_array, **settings)[0]`` (same arithmetic)."""
    out = np.zeros(image_array.shape, dtype="int")
    values = image_array[mask_array]
    out[mask_array] = np.digitize(values, bin_edges(values, settings))
    return out


def _feature_names(base: type):
    """A cached ``getFeatureNames`` (stock runs ``inspect.getmembers`` for every class instance)."""
    names = base.getFeatureNames()

    def get(cls):
        return dict(names)

    return get


class _Shared:
    """Arrays one image type's classes share: image, ROI mask, discretised image."""

    def __init__(self, image: sitk.Image, mask: sitk.Image, settings: dict[str, Any]):
        self.image_array = sitk.GetArrayFromImage(image)
        self.mask_array = sitk.GetArrayFromImage(mask) == settings.get("label", 1)
        # PyRadiomics' binning, once (classes get a copy: some rebind or edit it).
        self.binned = bin_image(self.image_array, self.mask_array, settings)
        self.gray_levels = np.unique(self.binned[self.mask_array])
        self.ng = int(np.max(self.gray_levels))


class _SharedMixin:
    """Feature-class mixin: array conversion and binning come from a :class:`_Shared`."""

    _shared: _Shared

    def __init__(self, inputImage, inputMask, shared: _Shared, **kwargs):  # noqa: N803 (PyRadiomics' names)
        self._shared = shared
        super().__init__(inputImage, inputMask, **kwargs)

    def _initSegmentBasedCalculation(self):  # noqa: N802
        self.imageArray = self._shared.image_array.copy()
        self.maskArray = self._shared.mask_array

    def _applyBinning(self, matrix):  # noqa: N802
        self.coefficients["grayLevels"] = self._shared.gray_levels.copy()
        self.coefficients["Ng"] = self._shared.ng
        return self._shared.binned.copy()


def _glcm_sum_diff(P: np.ndarray, gray_levels: np.ndarray, ng: int) -> tuple[np.ndarray, np.ndarray]:
    """``pxAddy`` and ``pxSuby`` as PyRadiomics computes them, by bincount.

    Stock: ``[np.sum(P[:, i + j == k, :], 1) for k in kValuesSum]``, a
    sequential sum over the ``(i, j)`` pairs in row-major order. ``bincount``
    adds its weights in input order, so feeding it the row-major pairs gives
    the same sums bit for bit. Shapes as stock: (Nv, 2 Ng - 1, Na), (Nv, Ng, Na).
    """
    nv, n, _, na = P.shape
    g = gray_levels.astype(float)
    s = (g[:, None] + g[None, :]).ravel()  # i + j for the row-major pairs
    d = np.abs(g[:, None] - g[None, :]).ravel()
    k_sum = (s - 2).astype(np.intp)  # kValuesSum = 2 .. 2 Ng
    k_diff = d.astype(np.intp)  # kValuesDiff = 0 .. Ng - 1
    n_sum, n_diff = 2 * ng - 1, ng
    flat = P.reshape(nv, n * n, na)
    add = np.empty((nv, n_sum, na))
    sub = np.empty((nv, n_diff, na))
    for v in range(nv):
        for a in range(na):
            w = flat[v, :, a]
            add[v, :, a] = np.bincount(k_sum, weights=w, minlength=n_sum)
            sub[v, :, a] = np.bincount(k_diff, weights=w, minlength=n_diff)
    return add, sub


@cache
def _classes() -> dict[str, type]:
    """The shared-array subclasses of PyRadiomics' feature classes (built on first use)."""
    from radiomics import getFeatureClasses

    stock = getFeatureClasses()
    out = {}
    for name in SHARED_CLASSES:
        base = stock[name]
        attrs: dict[str, Any] = {"__module__": base.__module__, "__doc__": base.__doc__}
        attrs["getFeatureNames"] = classmethod(_feature_names(base))
        if name == "glcm":
            attrs["_calculateCoefficients"] = _glcm_coefficients
            attrs["getClusterShadeFeatureValue"] = _cluster_shade
            attrs["getClusterProminenceFeatureValue"] = _cluster_prominence
        out[name] = type(f"Shared{base.__name__}", (_SharedMixin, base), attrs)
    return out


def _glcm_coefficients(self):
    """PyRadiomics' ``RadiomicsGLCM._calculateCoefficients`` with ``pxAddy``/``pxSuby`` by bincount."""
    if self.P_glcm.shape[3] < 2:  # one angle: stock's mask sum reduces a contiguous axis (pairwise order)
        from radiomics.glcm import RadiomicsGLCM

        return RadiomicsGLCM._calculateCoefficients(self)
    Ng = self.coefficients["Ng"]
    eps = np.spacing(1)
    NgVector = self.coefficients["grayLevels"].astype("float")
    i, j = np.meshgrid(NgVector, NgVector, indexing="ij", sparse=True)
    kValuesSum = np.arange(2, (Ng * 2) + 1, dtype="float")
    kValuesDiff = np.arange(0, Ng, dtype="float")
    px = self.P_glcm.sum(2, keepdims=True)
    py = self.P_glcm.sum(1, keepdims=True)
    ux = np.sum(i[None, :, :, None] * self.P_glcm, (1, 2), keepdims=True)
    uy = np.sum(j[None, :, :, None] * self.P_glcm, (1, 2), keepdims=True)
    pxAddy, pxSuby = _glcm_sum_diff(self.P_glcm, self.coefficients["grayLevels"], Ng)
    HXY = (-1) * np.sum((self.P_glcm * np.log2(self.P_glcm + eps)), (1, 2))
    self.coefficients["eps"] = eps
    self.coefficients["i"] = i
    self.coefficients["j"] = j
    self.coefficients["kValuesSum"] = kValuesSum
    self.coefficients["kValuesDiff"] = kValuesDiff
    self.coefficients["px"] = px
    self.coefficients["py"] = py
    self.coefficients["ux"] = ux
    self.coefficients["uy"] = uy
    self.coefficients["pxAddy"] = pxAddy
    self.coefficients["pxSuby"] = pxSuby
    self.coefficients["HXY"] = HXY


def _cluster_moment(self, power: int) -> np.ndarray:
    """Stock's ``sum_ij p(i, j) (i + j - ux - uy) ** power``, the power taken once per distinct ``i + j``.

    ``np.power`` with an exponent of 3 or 4 costs about 0.1 us per element
    (libm ``pow``), and stock takes it on every (i, j, angle): 2.3 ms per
    call at 40 grey levels, most of cluster shade and prominence. The base
    depends on (i, j) only through ``i + j``, so each distinct sum's base is
    computed with stock's operations (``(i + j) - ux - uy``, left to right, on
    the same floats), raised once, and gathered back to (i, j): the same
    factors, then stock's product and sum, so the same bits.
    """
    i = self.coefficients["i"]
    j = self.coefficients["j"]
    ux = self.coefficients["ux"]  # (Nv, 1, 1, Na)
    uy = self.coefficients["uy"]
    sums, where = np.unique(i + j, return_inverse=True)
    base = sums[None, :, None] - ux[:, 0] - uy[:, 0]  # (Nv, distinct sums, Na)
    powered = (base ** power)[:, where.reshape(self.P_glcm.shape[1:3]), :]
    return np.sum(self.P_glcm * powered, (1, 2))


def _cluster_shade(self):
    """PyRadiomics' Cluster Shade (see :func:`_cluster_moment`)."""
    return np.nanmean(_cluster_moment(self, 3), 1)


def _cluster_prominence(self):
    """PyRadiomics' Cluster Prominence (see :func:`_cluster_moment`)."""
    return np.nanmean(_cluster_moment(self, 4), 1)


def compute_features(extractor, image: sitk.Image, mask: sitk.Image, image_type_name: str,
                     **kwargs) -> collections.OrderedDict:
    """``extractor.computeFeatures(image, mask, image_type_name, **kwargs)``, sharing work between classes.

    Same feature names, order and values as stock (the shape classes are
    skipped, as stock does here). Falls back to stock when :func:`covers` is
    False.
    """
    enabled = extractor.enabledFeatures
    if not covers(kwargs, enabled):
        return extractor.computeFeatures(image, mask, image_type_name, **kwargs)
    classes = _classes()
    shared = _Shared(image, mask, kwargs)
    vector = collections.OrderedDict()
    for class_name, feature_names in enabled.items():
        if class_name.startswith("shape"):
            continue
        fc = classes[class_name](image, mask, shared, **kwargs)
        if feature_names is not None:
            for feature in feature_names:
                fc.enableFeatureByName(feature)
        for feature, value in fc.execute().items():
            vector[f"{image_type_name}_{class_name}_{feature}"] = value
    return vector
