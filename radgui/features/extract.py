"""PyRadiomics feature extraction with a crop-first fast path giving identical values.

:func:`extract` (and its generator twin :func:`iter_extract`) computes the
features of several ROIs of one image with a preset, and returns a pandas
DataFrame indexed by ROI name whose columns are PyRadiomics' own feature names
(``original_firstorder_Mean``, ``wavelet-HLL_glcm_Imc1``, ...).

How it stays identical to stock PyRadiomics while being faster
---------------------------------------------------------------
Without resampling, stock PyRadiomics filters the whole image (eight wavelet
copies, one LoG image per sigma) and crops afterwards. radgui crops the image
to the union of the ROIs' bounding boxes plus a margin that covers every
enabled filter's reach (:mod:`radgui.features.crop`), filters that box once,
and runs PyRadiomics' own feature classes for every ROI on the shared filtered
images (tumour, rings and core share one filtering pass). With resampling,
PyRadiomics already resamples only the ROI box, on a grid that depends on the
ROI; radgui resamples exactly as stock does (a crop before resampling is not
bit-exact, :data:`radgui.features.crop.CROP_BEFORE_RESAMPLING`), but computes
the cubic B-spline coefficients only where that grid reads them, bit for bit
(:mod:`radgui.features.fastresample`). On every
path the feature classes share one array conversion and one binning per
image type (:mod:`radgui.features.fastfeatures`), and ``workers`` processes
can share the image types. ``tests/test_features_fastpath.py`` and
``tests/test_featperf_exact.py`` check every feature of every preset against
the stock uncropped call.

Diagnostics (PyRadiomics' ``diagnostics_*`` entries) and provenance (preset
name and SHA-256, software versions, image and mask hashes, loader warnings)
are kept apart, in ``result.attrs["diagnostics"]`` and
``result.attrs["provenance"]``.

References
----------
van Griethuysen JJM, Fedorov A, Parmar C, et al. Computational radiomics
system to decode the radiographic phenotype. Cancer Res 2017;77:e104-e107
(PyRadiomics).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Generator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from radgui.errors import (
    EmptyMaskError,
    FeatureExtractionError,
    GeometryMismatchError,
    RadguiError,
)
from radgui.features import crop as _crop
from radgui.features import fastfeatures as _fast
from radgui.features import fastresample as _fastresample
from radgui.features import fastshape as _fastshape
from radgui.features.presets import Preset, load_preset
from radgui.io.volume import GEOMETRY_TOL_MM, Volume, grid_mismatch_mm, image_hash
from radgui.progress import Step, run

#: Separator between ROI name and feature name in a flattened (one row per patient) table.
ROI_SEP = "__"

#: Default ``workers`` forks only when ROI bounding-box voxels x filtered images reach this
#: (a fork of a loaded process costs tens of ms; breast1 and brain1 did not gain from 2 workers).
AUTO_PARALLEL_VOXELS = 2_000_000

_log = logging.getLogger(__name__)


def _radiomics():
    """Import PyRadiomics quietly (it logs every step at INFO by default)."""
    import radiomics

    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    return radiomics


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------
def _as_image(volume: Volume | sitk.Image) -> tuple[sitk.Image, Volume | None]:
    if isinstance(volume, Volume):
        return volume.image, volume
    if isinstance(volume, sitk.Image):
        return volume, None
    raise FeatureExtractionError(f"expected a Volume or a SimpleITK image, got {type(volume).__name__}")


def check_image(image: sitk.Image, name: str = "image") -> None:
    """Refuse images PyRadiomics would silently turn into NaN features.

    Raises
    ------
    FeatureExtractionError
        Not 3D, not scalar, or NaN/infinite voxels (their count is given).
    """
    if image.GetDimension() != 3:
        raise FeatureExtractionError(f"{name}: expected a 3D image, got {image.GetDimension()}D")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise FeatureExtractionError(f"{name}: expected a scalar image, got "
                                     f"{image.GetNumberOfComponentsPerPixel()} components per voxel")
    arr = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(arr.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise FeatureExtractionError(
                f"{name}: {bad} voxel(s) are NaN or infinite; fill or mask them before extracting features")


def _roi_label(arr: np.ndarray, label: int | None, roi: str) -> int:
    """The one mask rule of radgui.io (:func:`radgui.io.volume.choose_label`): ``label``, else the only label."""
    from radgui.errors import MaskLabelError
    from radgui.io.volume import choose_label, label_values

    try:
        chosen = choose_label(label_values(arr), label)
    except MaskLabelError as exc:
        raise FeatureExtractionError(f"ROI {roi!r}: {exc.reason}") from None
    return 1 if chosen is None else chosen


def _as_mask(mask: Any, image: sitk.Image, roi: str, label: int | None) -> sitk.Image:
    """A UInt8 0/1 mask on ``image``'s grid for one ROI (label ``label`` of a label map)."""
    if isinstance(mask, np.ndarray):
        shape = tuple(reversed(image.GetSize()))
        if mask.shape != shape:
            raise GeometryMismatchError(
                f"ROI {roi!r}: mask array shape {mask.shape} (z,y,x) does not match the image {shape}")
        arr = mask if mask.dtype == bool else (mask == _roi_label(mask, label, roi))
        out = sitk.GetImageFromArray(arr.astype(np.uint8))
        out.CopyInformation(image)
        return out
    if not isinstance(mask, sitk.Image):
        raise FeatureExtractionError(f"ROI {roi!r}: expected a SimpleITK label image or a (z,y,x) array, "
                                     f"got {type(mask).__name__}")
    mismatch = grid_mismatch_mm(mask, image)
    if mismatch > GEOMETRY_TOL_MM or not np.allclose(mask.GetSpacing(), image.GetSpacing(), rtol=1e-6, atol=1e-6):
        what = (f"size {mask.GetSize()} vs image {image.GetSize()} (x,y,z)" if mismatch == float("inf")
                else f"grids differ by up to {mismatch:.3f} mm")
        raise GeometryMismatchError(f"ROI {roi!r}: mask geometry does not match the image: {what}")
    arr = sitk.GetArrayViewFromImage(mask)
    sel = arr == _roi_label(arr, label, roi)
    out = sitk.GetImageFromArray(sel.astype(np.uint8))
    out.CopyInformation(image)
    return out


def _roi_box(mask: sitk.Image, roi: str, min_dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive bounding box (x, y, z) of a 0/1 mask, with PyRadiomics' ROI checks in words."""
    arr = sitk.GetArrayViewFromImage(mask)
    count = int(np.count_nonzero(arr))
    if count == 0:
        raise EmptyMaskError(f"ROI {roi!r} is empty (no voxel); draw or load a region first")
    if count == 1:
        raise FeatureExtractionError(f"ROI {roi!r} has a single voxel; features need at least a line of voxels")
    from radgui.roi._common import bbox  # by projections: np.nonzero's box without listing every voxel

    lo, hi = bbox(arr)  # (z, y, x), exclusive upper
    lower, upper = lo[::-1].astype(int), (hi - 1)[::-1].astype(int)
    ndims = int(np.sum(upper - lower + 1 > 1))
    if ndims < min_dims:
        raise FeatureExtractionError(
            f"ROI {roi!r} spans {ndims} dimension(s) ({count} voxels); the preset needs "
            f"minimumROIDimensions={min_dims}")
    return lower, upper


# --------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------
def _count_images(image_types: dict[str, dict], settings: dict) -> int:
    n = 0
    for itype, custom in image_types.items():
        args = dict(settings)
        args.update(custom or {})
        if itype == "LoG":
            n += len(args.get("sigma", []))
        elif itype == "Wavelet":
            n += 7 * int(args.get("level", 1)) + 1
        else:
            n += 1
    return max(n, 1)


def _split(vector: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    features, diagnostics = {}, {}
    for key, value in vector.items():
        if key.startswith("diagnostics_"):
            diagnostics[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        else:
            features[key] = float(value)
    return features, diagnostics


def _wrap_value_error(roi: str, exc: Exception) -> RadguiError:
    return FeatureExtractionError(f"ROI {roi!r}: PyRadiomics refused it: {exc}")


def versions() -> dict[str, str]:
    """Versions of the software that computes features (provenance)."""
    import pywt

    import radgui

    radiomics = _radiomics()
    return {
        "radgui": radgui.__version__,
        "pyradiomics": str(radiomics.__version__),
        "SimpleITK": sitk.Version_VersionString(),
        "numpy": np.__version__,
        "pywavelets": pywt.__version__,
    }


def iter_extract(volume: Volume | sitk.Image, rois: Mapping[str, Any] | Any,
                 preset: str | Preset | dict = "ct-original", *, label: int | None = None,
                 fast: bool = True, on_error: str = "raise",
                 allow_nonquantitative: bool = False,
                 workers: int | None = None) -> Generator[Step, None, pd.DataFrame]:
    """Extract PyRadiomics features of several ROIs of one image, yielding progress.

    Parameters
    ----------
    volume : Volume or SimpleITK.Image
        The image (for a :class:`~radgui.io.Volume`, its canonical image and
        its loader warnings are used).
    rois : dict of str to mask
        ROI name to mask: a SimpleITK label image on the image's grid, or a
        boolean (or label) numpy array in (z, y, x) order. A single mask is
        taken as ``{"roi": mask}``.
    preset : str, Path, Preset or dict
        Preset name (``radgui.features.presets()``), PyRadiomics YAML path or
        parameter dict.
    label : int, optional
        The ROI's label in label-map masks. Default: the preset's ``label``
        when it is not PyRadiomics' default 1, else the mask's only non-zero
        label; a mask with several labels and no choice is refused (the one
        mask rule of :func:`radgui.io.volume.choose_label`).
    fast : bool
        Use the crop-first path and the shared-array feature classes of
        :mod:`radgui.features.fastfeatures` (default). ``False`` runs stock
        PyRadiomics on the whole image for each ROI (the reference; same
        values, slower).
    workers : int, optional
        Processes for the shape and the (image type, ROI) feature jobs of the
        fast path. Default :func:`default_workers` (the usable cores; 1 inside
        worker processes and non-main threads) when there are at least 4
        filtered images and ROI bounding-box voxels x images reach
        :data:`AUTO_PARALLEL_VOXELS`, else 1. ``1`` keeps everything in this
        process. Values are the same for any count.
    on_error : {"raise", "skip"}
        What a bad ROI does: raise its :class:`~radgui.errors.RadguiError`, or
        leave its row out and record the message in
        ``result.attrs["errors"][roi]``.
    allow_nonquantitative : bool
        Extract from a Volume its loader marked unfit for quantification
        (``meta["quantitative"] is False``: derived/secondary or lossy-compressed
        DICOM). Refused by default; when allowed, the reason stays in the
        provenance warnings.

    Yields
    ------
    Step
        Progress (filtering passes and per-ROI feature classes).

    Returns
    -------
    pandas.DataFrame
        Indexed by ROI name (index name ``"roi"``), one float column per
        PyRadiomics feature, in PyRadiomics' order. ``attrs`` holds
        ``"provenance"`` (dict), ``"diagnostics"`` (ROI -> dict of
        PyRadiomics' ``diagnostics_*`` values) and ``"errors"`` (ROI -> message).

    Raises
    ------
    PresetError
        Invalid preset (before any work).
    FeatureExtractionError, EmptyMaskError, GeometryMismatchError
        Bad image (NaN, not 3D) or, with ``on_error="raise"``, a bad ROI
        (empty, single voxel, label absent, wrong grid, too few dimensions).
    """
    if on_error not in ("raise", "skip"):
        raise ValueError("on_error must be 'raise' or 'skip'")
    auto_workers = workers is None
    if auto_workers:
        workers = default_workers()
    elif isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise FeatureExtractionError(f"workers must be a whole number >= 1, got {workers!r}")
    workers = int(workers)
    _radiomics()
    from radiomics import imageoperations

    preset = load_preset(preset)
    image, vol = _as_image(volume)
    if not isinstance(rois, Mapping):
        rois = {"roi": rois}
    if not rois:
        raise FeatureExtractionError("no ROI given")
    check_image(image, vol.name if vol is not None else "image")
    if vol is not None and vol.meta.get("quantitative") is False and not allow_nonquantitative:
        reasons = [w for w in vol.warnings if "quantification" in w or "lossy" in w] or ["marked by its loader"]
        raise FeatureExtractionError(
            f"{vol.name}: not fit for radiomics ({'; '.join(reasons)}); "
            "extract anyway only on purpose (allow_nonquantitative=True)")

    extractor = build_extractor(preset)
    settings = dict(extractor.settings)
    if label is None and int(settings.get("label", 1)) != 1:
        label = int(settings["label"])  # a preset that names a label chooses it; PyRadiomics' default 1 does not
    settings["label"] = 1
    extractor.settings["label"] = 1
    image_types = dict(extractor.enabledImagetypes)
    n_images = _count_images(image_types, settings)
    min_dims = int(settings.get("minimumROIDimensions", 2))

    errors: dict[str, str] = {}
    masks: dict[str, sitk.Image] = {}
    boxes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, mask in rois.items():
        name = str(name)
        try:
            m = _as_mask(mask, image, name, label)
            boxes[name] = _roi_box(m, name, min_dims)
            masks[name] = m
        except RadguiError as exc:
            if on_error == "raise":
                raise
            errors[name] = str(exc)
    box_voxels = sum(int(np.prod(hi - lo + 1)) for lo, hi in boxes.values())
    if auto_workers and (n_images < 4 or n_images * box_voxels < AUTO_PARALLEL_VOXELS):
        workers = 1  # forking costs more than it saves on few filtered images or small ROIs

    resampling = settings.get("interpolator") is not None and settings.get("resampledPixelSpacing") is not None
    pre_crop = bool(settings.get("preCrop", False)) and not resampling
    fast = fast and all(t in _crop.FAST_IMAGE_TYPES for t in image_types)
    shared = fast and not resampling and not pre_crop
    progress = _Progress(1 + len(masks) * n_images + (n_images if shared else len(masks) * n_images))
    yield progress.step(0, f"preparing {len(masks)} ROI(s) with preset {preset.name}")

    work_image = image
    if settings.get("normalize", False):
        # PyRadiomics normalises with whole-image statistics before anything else.
        work_image = imageoperations.normalizeImage(image, **settings)
        settings["normalize"] = False
        extractor.settings["normalize"] = False

    features: dict[str, dict[str, float]] = {}
    diagnostics: dict[str, dict[str, Any]] = {}
    crop_info: dict[str, Any] = {}

    def keep(results, extra=None):
        for name, vector in results.items():
            features[name], diagnostics[name] = _split(vector)
            if extra:
                diagnostics[name].update({f"diagnostics_radgui_{k}": str(v) for k, v in extra.items()})

    if not masks:
        path_used = "none"
    elif shared:
        # One box around every ROI plus the filters' reach; filtered once for all ROIs.
        path_used = "crop-first, shared filtering"
        margin, wraps = _crop.filter_margin(image_types, settings, image.GetSpacing())
        lower = np.min([b[0] for b in boxes.values()], axis=0)
        upper = np.max([b[1] for b in boxes.values()], axis=0)
        lo, hi = _crop.crop_box(lower, upper, image.GetSize(), margin, wraps)
        crop_info = {"crop_lower_index_xyz": lo.tolist(), "crop_upper_index_xyz": (hi - 1).tolist(),
                     "margin_voxels_xyz": margin.tolist()}
        results = yield from _extract_rois(
            extractor, settings, image_types, _crop.crop(work_image, lo, hi),
            {n: _crop.crop(m, lo, hi) for n, m in masks.items()}, errors, on_error, progress,
            whole=(work_image, lo, hi), workers=workers)
        keep(results, crop_info)
    elif fast and resampling:
        # PyRadiomics' own resampling (grid anchored on the full mask) of the whole image, as stock
        # does (a crop first is not bit-exact: crop.CROP_BEFORE_RESAMPLING); then its filters on
        # the resampled box and the shared-array feature classes.
        path_used = ("image cropped before PyRadiomics' own resampling" if _crop.CROP_BEFORE_RESAMPLING
                     else "B-spline coefficients of the read box (PyRadiomics' grid)"
                     if _fastresample.ENABLED and _fastresample.covers(settings.get("interpolator"))
                     else "PyRadiomics' own resampling")
        for name, mask in masks.items():
            box = _crop.resampling_box(*boxes[name], image, settings)
            image_in = _crop.crop(work_image, *box) if box is not None else work_image
            try:
                if _fastresample.ENABLED and box is None:
                    image_r, mask_r = _fastresample.resample_image(image_in, mask, **settings)
                else:
                    image_r, mask_r = imageoperations.resampleImage(image_in, mask, **settings)
            except (ValueError, RuntimeError) as exc:
                err = _wrap_value_error(name, exc)
                if on_error == "raise":
                    raise err from None
                errors[name] = str(err)
                continue
            results = yield from _extract_rois(extractor, settings, image_types, image_r, {name: mask_r},
                                               errors, on_error, progress, workers=workers)
            keep(results, {"resampled_size_xyz": list(image_r.GetSize())})
    elif fast and pre_crop:
        # PyRadiomics' preCrop box (bounding box + padDistance), filtered as stock does.
        path_used = "PyRadiomics preCrop box"
        pad = int(settings.get("padDistance", 5))
        for name, mask in masks.items():
            lo, hi = _crop.crop_box(*boxes[name], image.GetSize(), [pad] * 3, False, 1)
            results = yield from _extract_rois(extractor, settings, image_types, _crop.crop(work_image, lo, hi),
                                               {name: _crop.crop(mask, lo, hi)}, errors, on_error, progress,
                                               workers=workers)
            keep(results)
    else:
        path_used = "stock"
        for name, mask in masks.items():
            yield progress.step(0, f"extracting {name}")
            try:
                keep({name: extractor.execute(work_image, mask, label=1)})
            except (ValueError, RuntimeError, AssertionError) as exc:
                if on_error == "raise":
                    raise _wrap_value_error(name, exc) from None
                errors[name] = str(_wrap_value_error(name, exc))
            yield progress.step(2 * n_images, f"{name} done")

    columns: list[str] = []
    for vec in features.values():
        for key in vec:
            if key not in columns:
                columns.append(key)
    # One float array, then one frame (from_dict with a column per feature took 4 ms of a 49 ms extraction).
    order = [n for n in (str(k) for k in rois) if n in features]
    data = np.full((len(order), len(columns)), np.nan)
    where = {c: j for j, c in enumerate(columns)}
    for i, roi in enumerate(order):
        for key, value in features[roi].items():
            data[i, where[key]] = np.nan if value is None else float(value)
    df = pd.DataFrame(data, index=pd.Index(order, dtype=object), columns=pd.Index(columns, dtype=object))
    df.index.name = "roi"
    provenance: dict[str, Any] = {
        "preset": preset.name,
        "preset_sha256": preset.sha256,
        "preset_path": str(preset.path) if preset.path else None,
        **versions(),
        "image_sha256": image_hash(image),
        "mask_sha256": {n: image_hash(m) for n, m in masks.items()},
        "label": label,
        "modality": vol.modality if vol is not None else None,
        "source": vol.meta.get("source") if vol is not None else None,
        "warnings": list(vol.warnings) if vol is not None else [],
        "path": path_used,
        "workers": workers if path_used != "stock" else 1,
        **crop_info,
    }
    df.attrs["provenance"] = provenance
    df.attrs["diagnostics"] = diagnostics
    df.attrs["errors"] = errors
    yield Step(progress.total, progress.total, f"{len(df)} ROI(s), {df.shape[1]} features")
    return df


class _Progress:
    """Counts work units and makes :class:`Step` objects (never past the total)."""

    def __init__(self, total: int):
        self.total = max(int(total), 1)
        self.done = 0

    def step(self, units: int, message: str) -> Step:
        self.done = min(self.done + units, self.total)
        return Step(self.done, self.total, message)


def _extract_rois(extractor, settings, image_types, image, masks, errors, on_error, progress, whole=None,
                  workers=1):
    """Features of several ROIs on one (cropped or resampled) image, each filter run once.

    Per-ROI checks and re-segmentation come first, then shape; then every
    filtered image is made once and used by every ROI. With ``workers == 1``
    each filtered image is dropped once its ROIs are done (one in memory at a
    time); with more, the shape and the (image type, ROI) feature jobs run in
    that many forked processes (PyRadiomics' C code holds the GIL, so threads
    would not help) and the filtered images are kept until they are done.
    ``whole = (full image, lo, hi)`` makes the globally rescaled filters
    (Square, ...) run on the full image and be cropped to ``[lo, hi)``
    afterwards. Yields Steps; returns ROI -> vector.
    """
    from radiomics import imageoperations

    states: dict[str, tuple] = {}
    for name, mask in masks.items():
        try:
            states[name] = _prepare_roi(extractor, settings, image, mask, name)
        except RadguiError as exc:
            if on_error == "raise":
                raise
            errors[name] = str(exc)
    jobs: list[tuple] = []  # (roi, kind, args); run now (serial) or in the pool (parallel)
    parallel = workers > 1
    for name, (vector, _, _, shape_args) in states.items():
        if parallel:
            jobs.append((name, "shape", shape_args))
        else:
            vector.update(_fastshape.compute_shape(extractor, *shape_args[:3], **shape_args[3]))

    def fail(name, exc):
        err = _wrap_value_error(name, exc)
        if on_error == "raise":
            raise err from None
        errors[name] = str(err)
        states.pop(name, None)

    cropped_masks: dict[str, sitk.Image] = {}
    union = None
    for m in masks.values():
        union = m if union is None else sitk.Or(union, m)
    for itype, custom in image_types.items():
        args = settings.copy()
        args.update(custom)
        global_filter = whole is not None and itype in _crop.GLOBAL_IMAGE_TYPES
        source = whole[0] if global_filter else image
        for fimg, fname, fkw in getattr(imageoperations, f"get{itype}Image")(
                source, None if global_filter else union, **args):
            if global_filter:
                fimg = _crop.crop(fimg, whole[1], whole[2])
            yield progress.step(1, f"filtered {fname}")
            for name in list(states):
                vector, bb, mask, _ = states[name]
                try:
                    ic, mc = _crop_to_roi(fimg, mask, bb, cropped_masks, name)
                    if parallel:
                        jobs.append((name, "features", (ic, mc, fname, fkw)))
                        continue
                    vector.update(_fast.compute_features(extractor, ic, mc, fname, **fkw))
                except (ValueError, RuntimeError) as exc:
                    fail(name, exc)
                yield progress.step(1, f"{name}: {fname}")
            del fimg
    if parallel and jobs:
        for (name, kind, job_args), result in _run_parallel(extractor, jobs, workers):
            if name not in states:
                continue
            if isinstance(result, Exception):
                fail(name, result)
            else:
                states[name][0].update(result)
            if kind == "features":
                yield progress.step(1, f"{name}: {job_args[2]}")
    return {name: state[0] for name, state in states.items()}


#: Jobs for the forked workers of :func:`_run_parallel` (inherited, never pickled).
_JOBS: tuple | None = None


def _run_job(index: int):
    extractor, jobs = _JOBS
    _, kind, args = jobs[index]
    try:
        if kind == "shape":
            return _fastshape.compute_shape(extractor, *args[:3], **args[3])
        image, mask, fname, fkw = args
        return _fast.compute_features(extractor, image, mask, fname, **fkw)
    except (ValueError, RuntimeError) as exc:
        return exc


def _run_parallel(extractor, jobs, workers):
    """Run ``jobs`` in ``workers`` forked processes; yields ``(job, result)`` in job order.

    Biggest first (shape), so the pool's tail is short. Results (feature
    vectors of numpy scalars) come back by pickle, unchanged.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    global _JOBS
    _JOBS = (extractor, jobs)
    try:
        # concurrent.futures, not multiprocessing.Pool: a worker that dies raises instead of hanging
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(_run_job, range(len(jobs))))
    except BrokenProcessPool as exc:
        raise FeatureExtractionError(f"a feature worker process died ({exc}); retry with workers=1") from None
    finally:
        _JOBS = None
    yield from zip(jobs, results)


def default_workers() -> int:
    """Processes :func:`extract` uses by default: the usable CPU cores, 1 where forking is unsafe.

    Forking is used only from the main thread of a main process on a system
    with ``fork`` (Linux, macOS): inside a worker process (cohort extraction
    already runs one case per process), a GUI worker thread, or on Windows,
    extraction stays in-process.
    """
    import multiprocessing
    import os
    import threading

    if (multiprocessing.parent_process() is not None or threading.current_thread() is not threading.main_thread()
            or "fork" not in multiprocessing.get_all_start_methods()):
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS
        return max(1, os.cpu_count() or 1)


def _crop_to_roi(image, mask, bb, cache, name):
    """PyRadiomics' ``cropToTumorMask(image, mask, bb, padDistance=0)``, the cropped mask made once per ROI.

    Same crop filter and bounds as stock (so the same pixels and geometry);
    only the mask's crop, identical for every filtered image, is reused.
    """
    size = np.array(mask.GetSize())
    lower = np.maximum(bb[0::2], 0)
    upper = np.maximum(size - bb[1::2] - 1, 0)
    cif = sitk.CropImageFilter()
    cif.SetLowerBoundaryCropSize(lower.tolist())
    cif.SetUpperBoundaryCropSize(upper.tolist())
    if name not in cache:
        cache[name] = cif.Execute(mask)
    return cif.Execute(image), cache[name]


def _prepare_roi(extractor, settings, image, mask, roi):
    """PyRadiomics' ``execute`` steps 2-5 for one ROI: checks, re-segmentation, diagnostics, shape's inputs.

    The order and the quirks of ``RadiomicsFeatureExtractor.execute`` are kept:
    the mask is checked, optionally re-segmented on the unfiltered image (its
    bounding box then used for shape too), and shape comes from the drawn
    mask unless ``resegmentShape``. Returns ``(vector, bounding box, mask for
    the other classes, shape's arguments)``; each filtered image is then
    cropped to that box, and the caller runs ``computeShape(*args[:3], **args[3])``.
    """
    from radiomics import generalinfo, imageoperations

    s = settings.copy()
    mask = sitk.Cast(mask, sitk.sitkUInt32)  # PyRadiomics' getMask does the same
    try:
        bb, corrected = imageoperations.checkMask(image, mask, **s)
    except ValueError as exc:
        raise _wrap_value_error(roi, exc) from None
    if corrected is not None:  # pragma: no cover - masks share the grid by construction
        mask = corrected
    vector = collections.OrderedDict()
    info = None
    if s.get("additionalInfo", False):
        info = generalinfo.GeneralInfo()
        info.addGeneralSettings(s)
        info.addEnabledImageTypes(extractor.enabledImagetypes)
        info.addImageElements(image)
        info.addMaskElements(image, mask, 1)
    resegmented = None
    if s.get("resegmentRange", None) is not None:
        try:
            resegmented = imageoperations.resegmentMask(image, mask, **s)
            bb, _ = imageoperations.checkMask(image, resegmented, **s)
        except ValueError as exc:
            raise _wrap_value_error(roi, exc) from None
        if info is not None:
            info.addMaskElements(image, resegmented, 1, "resegmented")
    if info is not None:
        vector.update(info.getGeneralInfo())
    shape_mask = resegmented if (s.get("resegmentShape", False) and resegmented is not None) else mask
    shape_args = (image, shape_mask, bb, s)
    if resegmented is not None and not s.get("resegmentShape", False):
        mask = resegmented
    return vector, bb, mask, shape_args


def extract(volume: Volume | sitk.Image, rois: Mapping[str, Any] | Any,
            preset: str | Preset | dict = "ct-original", **kwargs) -> pd.DataFrame:
    """Blocking twin of :func:`iter_extract` (same parameters and result)."""
    return run(iter_extract(volume, rois, preset, **kwargs))


def flatten(df: pd.DataFrame) -> pd.Series:
    """One row per patient: ``<roi>__<feature>`` for every ROI and feature.

    Examples
    --------
    ``ring6mm__wavelet-HLL_glcm_Imc1``.
    """
    data = {f"{roi}{ROI_SEP}{col}": df.at[roi, col] for roi in df.index for col in df.columns}
    return pd.Series(data, dtype=float)


def build_extractor(preset: str | Preset | dict):
    """A ``RadiomicsFeatureExtractor`` set up from an already validated preset.

    Equivalent to ``RadiomicsFeatureExtractor(params)`` (same defaults and
    precedence as its ``_applyParams``) without validating the parameters a
    second time.
    """
    _radiomics()
    from radiomics import featureextractor

    preset = load_preset(preset)
    params = preset.extractor_params()
    extractor = featureextractor.RadiomicsFeatureExtractor()
    types = params.get("imageType") or {}
    extractor.enabledImagetypes = {k: dict(v or {}) for k, v in types.items()} or {"Original": {}}
    classes = params.get("featureClass") or {}
    extractor.enabledFeatures = dict(classes) or {c: [] for c in extractor.featureClassNames}
    extractor.settings = extractor._getDefaultSettings()
    extractor.settings.update(params.get("setting") or {})
    extractor.settings.update(params.get("voxelSetting") or {})
    extractor._setTolerance()
    return extractor


def stock_extract(image: sitk.Image, mask: sitk.Image, preset: str | Preset | dict = "ct-original",
                  label: int = 1) -> dict[str, float]:
    """Stock, uncropped ``RadiomicsFeatureExtractor.execute`` (the reference the fast path matches).

    Returns the feature values only (diagnostics dropped), as floats.
    """
    _radiomics()
    from radiomics import featureextractor

    preset = load_preset(preset)
    extractor = featureextractor.RadiomicsFeatureExtractor(preset.extractor_params())
    return _split(extractor.execute(image, mask, label=label))[0]
