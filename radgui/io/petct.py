"""PET/CT: pair the series of a study, check their frame of reference, resample PET onto CT.

PET and CT of one PET/CT study share a FrameOfReferenceUID: their patient
coordinates agree, so PET can be resampled onto the CT grid by physical
position (no registration). A mismatch means the coordinates may not agree:
radgui warns and fuses only with the user's explicit consent
(``consent=True``), recording it in the result's warnings.

* SUV images are resampled with linear interpolation, masks with nearest
  neighbour (:func:`transfer_mask`), both by SimpleITK in physical (LPS)
  coordinates.
* :func:`iter_load_petct` scans a folder, picks the CT and PET series of one
  study, loads both (PET in SUV) and returns PET on the CT grid as well.
* :func:`fuse` makes one *fused* PET/CT image on the CT grid for radiomics
  (image-level fusion), by one of the two methods below.

Image-level fusion (:func:`fuse`)
---------------------------------
Both images are first normalised to [0, 1] (the rule is fixed and recorded):

* CT: clipped to the window ``ct_window_hu = (lo, hi)`` (default -1000..1000
  HU) and scaled ``(HU - lo) / (hi - lo)``;
* PET: SUV clipped to ``pet_range_suv = (lo, hi)`` (default 0..20, i.e. an
  SUV cap of 20) and scaled ``(SUV - lo) / (hi - lo)``.

Then, with ``C`` and ``P`` the normalised CT and PET and ``w`` the PET weight
(``weight``, default 0.5):

``"weighted"``
    Voxel-wise weighted average ``F = w * P + (1 - w) * C``; F lies in [0, 1].
``"wavelet"``
    Discrete wavelet fusion (PyWavelets ``wavedecn``, wavelet ``wavelet``
    (default ``"db1"``, i.e. Haar), ``level`` levels (default 1), mode
    ``"symmetric"``, over the three axes). The rule: the approximation
    coefficients are averaged with the same weight (``w * P_a + (1 - w) * C_a``);
    every detail coefficient is the one of larger absolute value (``P_d`` where
    ``|P_d| >= |C_d|``, else ``C_d``: ties go to PET), the "maximum absolute
    value" rule of the literature. The inverse transform is cropped to the CT
    shape (odd sizes are padded by the transform). F is not clipped: it may
    overshoot [0, 1] slightly where edges of the two images meet.

Computation is in float32; the result is a float32 :class:`~radgui.io.Volume`
of modality ``OT`` on the CT grid whose ``meta["fusion"]`` records the
method, every parameter, the normalisation rule, the software versions and the
hashes of the two inputs (provenance of every feature computed on it).

References
----------
Lv W, Ashrafinia S, Ma J, Lu L, Rahmim A. Multi-level multi-modality fusion
radiomics: application to PET and CT imaging for prognostication of head and
neck cancer. IEEE J Biomed Health Inform 2020;24(8):2268-2277 (image-level
PET/CT fusion before radiomics; wavelet-based fusion with CT weights 0.2-0.8,
i.e. PET weights 0.8-0.2 here).

Vallieres M, Freeman CR, Skamene SR, El Naqa I. A radiomics model from joint
FDG-PET and MRI texture features for the prediction of lung metastases in
soft-tissue sarcomas of the extremities. Phys Med Biol 2015;60:5471-5496
(wavelet-domain fusion of PET with an anatomical image for texture).

Pajares G, de la Cruz JM. A wavelet-based image fusion tutorial. Pattern
Recognit 2004;37:1855-1872 (averaged approximation, maximum-absolute detail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radgui.errors import DicomError, FrameOfReferenceError, FusionError, SeriesChoiceError
from radgui.progress import Step, run


def frame_of_reference(volume) -> str:
    """The FrameOfReferenceUID of a Volume loaded from DICOM ('' otherwise)."""
    return str(volume.meta.get("dicom", {}).get("frame_of_reference_uid", "") or "")


def check_frame_of_reference(ct, pet, consent: bool = False) -> list[str]:
    """Warnings about the two volumes' frames of reference.

    Raises
    ------
    FrameOfReferenceError
        The UIDs differ (or one is unknown) and ``consent`` is False.
    """
    a, b = frame_of_reference(ct), frame_of_reference(pet)
    if a and b and a == b:
        return []
    what = ("different FrameOfReferenceUIDs (CT " + (a or "unknown") + ", PET " + (b or "unknown") + ")")
    if not consent:
        raise FrameOfReferenceError(
            f"{what}: their coordinates may not agree, so PET is not fused on CT without your explicit consent")
    return [f"{what}: fused on the user's explicit consent; alignment not guaranteed"]


def resample_onto(moving, reference, *, interpolator: str = "linear", default_value: float = 0.0):
    """``moving`` resampled onto ``reference``'s grid by physical position.

    Parameters
    ----------
    moving, reference : Volume
    interpolator : {"linear", "nearest"}
        Linear for SUV/intensities, nearest for label maps.
    default_value : float
        Value outside ``moving``'s field of view.

    Returns
    -------
    Volume
        Same modality and metadata as ``moving`` plus ``meta["resampled_onto"]``.
    """
    from radgui.io.volume import Volume

    interp = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor}[interpolator]
    pixel = sitk.sitkFloat32 if interpolator == "linear" else moving.image.GetPixelID()
    image = sitk.Resample(moving.image, reference.image, sitk.Transform(), interp, float(default_value), pixel)
    meta = dict(moving.meta)
    meta["warnings"] = list(moving.meta.get("warnings", []))
    meta["resampled_onto"] = {"name": reference.name, "interpolator": interpolator,
                              "spacing_mm_zyx": list(reference.spacing), "shape_zyx": list(reference.shape),
                              "origin_mm_zyx": list(reference.origin)}
    meta["name"] = f"{moving.name} on {reference.name}"
    return Volume(image, moving.modality, meta)


def transfer_mask(mask: sitk.Image, source, target) -> sitk.Image:
    """A label image drawn on ``source``'s grid, moved onto ``target``'s grid (nearest neighbour).

    Use it to take a ROI drawn on CT to the PET grid (PET features) and back.
    """
    if mask.GetSize() != source.image.GetSize():
        from radgui.errors import GeometryMismatchError

        raise GeometryMismatchError(f"mask size {mask.GetSize()} is not the source image's {source.image.GetSize()}")
    m = sitk.Image(mask)
    m.CopyInformation(source.image)
    out = sitk.Resample(m, target.image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return out


@dataclass
class PetCt:
    """A loaded PET/CT pair: CT, PET on its own grid, PET on the CT grid."""

    ct: Any
    pet: Any
    pet_on_ct: Any
    warnings: list[str] = field(default_factory=list)


def pick_petct(scan, ct_uid: str | None = None, pet_uid: str | None = None):
    """The (CT, PET) series of one study in a scan.

    Raises
    ------
    SeriesChoiceError
        Several candidates for one side and none named.
    DicomError
        No CT or no PET.
    """
    cts = [s for s in scan.series if s.modality == "CT" and s.problem is None]
    pts = [s for s in scan.series if s.modality == "PT" and s.problem is None]
    ct = scan.find(ct_uid) if ct_uid else None
    pt = scan.find(pet_uid) if pet_uid else None
    if pt is None:
        if ct is not None:
            pts = [s for s in pts if s.study_uid == ct.study_uid] or pts
        if not pts:
            raise DicomError("no loadable PET series found", scan.root)
        if len(pts) > 1:
            raise SeriesChoiceError(f"{len(pts)} PET series; pick one: "
                                    + "; ".join(f"{s.uid} ({s.label()})" for s in pts), scan.root, pts)
        pt = pts[0]
    if ct is None:
        same = [s for s in cts if s.study_uid == pt.study_uid]
        cands = [s for s in same if s.frame_of_reference_uid == pt.frame_of_reference_uid] or same or cts
        if not cands:
            raise DicomError("no loadable CT series found", scan.root)
        if len(cands) > 1:
            raise SeriesChoiceError(f"{len(cands)} CT series; pick one: "
                                    + "; ".join(f"{s.uid} ({s.label()})" for s in cands), scan.root, cands)
        ct = cands[0]
    return ct, pt


def iter_load_petct(path: str | Path, ct_uid: str | None = None, pet_uid: str | None = None,
                    consent: bool = False, **pet_kwargs):
    """Load the CT and PET of a study and resample PET onto the CT grid (generator).

    ``pet_kwargs`` go to the PET loader (``suv_type``, ``suv_user_values``, ...).
    Returns a :class:`PetCt`.
    """
    from radgui.io.dicom import iter_load_series, iter_scan_dicom

    scan = yield from iter_scan_dicom(path)
    ct_info, pt_info = pick_petct(scan, ct_uid, pet_uid)
    ct = yield from iter_load_series(ct_info)
    pet = yield from iter_load_series(pt_info, **pet_kwargs)
    warnings = check_frame_of_reference(ct, pet, consent)
    yield Step(1, 1, "resampling PET onto the CT grid")
    fused = resample_onto(pet, ct)
    fused.meta["warnings"].extend(warnings)
    pet.meta["warnings"].extend(w for w in warnings if w not in pet.meta["warnings"])
    return PetCt(ct, pet, fused, warnings)


def load_petct(path, **kwargs) -> PetCt:
    """Blocking twin of :func:`iter_load_petct`."""
    return run(iter_load_petct(path, **kwargs))


def pet_on_ct(pet, ct, consent: bool = False):
    """PET resampled onto the CT grid (linear), after the frame-of-reference check."""
    warnings = check_frame_of_reference(ct, pet, consent)
    out = resample_onto(pet, ct)
    out.meta["warnings"].extend(warnings)
    return out


def suv_stats(volume, mask: sitk.Image) -> dict[str, float]:
    """SUVmax, SUVmean and volume (ml) inside a mask on ``volume``'s grid."""
    values = np.asarray(volume.array)[sitk.GetArrayViewFromImage(mask) > 0]
    if values.size == 0:
        from radgui.errors import EmptyMaskError

        raise EmptyMaskError("the mask is empty on this grid")
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    return {"suv_max": float(values.max()), "suv_mean": float(values.mean()),
            "volume_ml": float(values.size * voxel_ml)}


# --------------------------------------------------------------------------
# Image-level fusion
# --------------------------------------------------------------------------
#: Fusion methods of :func:`fuse`.
FUSION_METHODS = ("weighted", "wavelet")
#: Default CT window (HU) mapped onto [0, 1] before fusion.
DEFAULT_CT_WINDOW_HU = (-1000.0, 1000.0)
#: Default SUV range mapped onto [0, 1] before fusion (SUV cap 20).
DEFAULT_PET_RANGE_SUV = (0.0, 20.0)
#: Default PET weight.
DEFAULT_WEIGHT = 0.5
#: Largest wavelet decomposition level accepted.
MAX_FUSION_LEVEL = 4

_RULE = {
    "weighted": "F = w*P + (1-w)*C voxel-wise",
    "wavelet": "DWT of C and P; approximation w*P_a + (1-w)*C_a; each detail coefficient the one of larger "
               "absolute value (ties: PET); inverse DWT cropped to the CT shape; not clipped",
}


def _range(value, what: str, default) -> tuple[float, float]:
    if value is None:
        value = default
    try:
        if isinstance(value, (str, bytes)) or any(isinstance(v, (bool, str)) for v in value):
            raise TypeError
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise FusionError(f"{what} must be two numbers (low, high), got {value!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise FusionError(f"{what} must be finite with low < high, got ({lo:g}, {hi:g})")
    return lo, hi


def normalise(array, value_range: tuple[float, float]) -> np.ndarray:
    """``array`` clipped to ``value_range = (lo, hi)`` and scaled to [0, 1] (float32).

    ``(clip(x, lo, hi) - lo) / (hi - lo)``: the normalisation :func:`fuse`
    applies to CT (``lo, hi`` = the HU window) and PET (the SUV range).
    """
    lo, hi = _range(value_range, "value range", None)
    a = np.asarray(array, dtype=np.float32)
    return ((np.clip(a, lo, hi) - np.float32(lo)) / np.float32(hi - lo)).astype(np.float32, copy=False)


def fusion_parameters(method: str = "weighted", weight: float = DEFAULT_WEIGHT, *,
                      ct_window_hu=None, pet_range_suv=None, wavelet: str = "db1", level: int = 1) -> dict:
    """The checked parameters of :func:`fuse` as a plain dict (what provenance and bundles record).

    Raises
    ------
    FusionError
        Unknown method, weight outside [0, 1], bad window or range, unknown
        wavelet, level outside 1..:data:`MAX_FUSION_LEVEL`.
    """
    if method not in FUSION_METHODS:
        raise FusionError(f"unknown fusion method {method!r}: use {' or '.join(map(repr, FUSION_METHODS))}")
    try:
        if isinstance(weight, (bool, str)):
            raise TypeError
        w = float(weight)
    except (TypeError, ValueError):
        raise FusionError(f"fusion weight must be a number in [0, 1], got {weight!r}") from None
    if not (0.0 <= w <= 1.0):
        raise FusionError(f"fusion weight (of PET) must lie in [0, 1], got {w:g}")
    out = {"method": method, "weight": w,
           "ct_window_hu": list(_range(ct_window_hu, "CT window (HU)", DEFAULT_CT_WINDOW_HU)),
           "pet_range_suv": list(_range(pet_range_suv, "PET range (SUV)", DEFAULT_PET_RANGE_SUV))}
    if method == "wavelet":
        import pywt

        if not isinstance(wavelet, str) or wavelet not in pywt.wavelist(kind="discrete"):
            raise FusionError(f"unknown discrete wavelet {wavelet!r} (e.g. 'db1', 'coif1', 'sym4')")
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 1 <= level <= MAX_FUSION_LEVEL:
            raise FusionError(f"wavelet level must be an integer 1..{MAX_FUSION_LEVEL}, got {level!r}")
        out.update(wavelet=wavelet, level=int(level), mode="symmetric")
    out["rule"] = _RULE[method]
    return out


def _wavelet_fuse(c: np.ndarray, p: np.ndarray, w: float, wavelet: str, level: int) -> np.ndarray:
    import pywt

    shape = c.shape
    most = pywt.dwtn_max_level(shape, wavelet)
    if level > most:
        raise FusionError(f"image shape {shape} (z,y,x) is too small for {level} level(s) of wavelet "
                          f"{wavelet!r} (at most {most})")
    cc = pywt.wavedecn(c, wavelet, mode="symmetric", level=level)
    pc = pywt.wavedecn(p, wavelet, mode="symmetric", level=level)
    fused = [(w * pc[0] + (1.0 - w) * cc[0]).astype(np.float32)]
    for cd, pd in zip(cc[1:], pc[1:]):
        fused.append({k: np.where(np.abs(pd[k]) >= np.abs(cd[k]), pd[k], cd[k]) for k in cd})
    out = pywt.waverecn(fused, wavelet, mode="symmetric")
    return np.ascontiguousarray(out[tuple(slice(0, n) for n in shape)], dtype=np.float32)


def fuse(ct, pet_on_ct, method: str = "weighted", weight: float = DEFAULT_WEIGHT, *,
         ct_window_hu=None, pet_range_suv=None, wavelet: str = "db1", level: int = 1):
    """One fused PET/CT image on the CT grid (image-level fusion for radiomics).

    Parameters
    ----------
    ct : Volume
        CT in HU.
    pet_on_ct : Volume
        PET in SUV already on the CT grid (:func:`pet_on_ct` or
        ``PetCt.pet_on_ct``): same size, spacing and origin.
    method : {"weighted", "wavelet"}
        See the module docstring for both rules.
    weight : float
        Weight of PET in [0, 1] (CT gets ``1 - weight``); default 0.5.
    ct_window_hu : (float, float), optional
        CT window mapped onto [0, 1] (default -1000..1000 HU).
    pet_range_suv : (float, float), optional
        SUV range mapped onto [0, 1] (default 0..20).
    wavelet : str
        Discrete wavelet of the ``"wavelet"`` method (PyWavelets name).
    level : int
        Decomposition levels of the ``"wavelet"`` method (1..4).

    Returns
    -------
    Volume
        float32, modality ``OT``, the CT's geometry; ``meta["fusion"]`` holds
        the parameters (:func:`fusion_parameters`), the inputs' names and
        SHA-256 hashes and the software versions; ``meta["warnings"]`` both
        inputs' warnings.

    Raises
    ------
    FusionError
        Bad parameters, grids that differ, NaN or infinite voxels.
    """
    from radgui.io.volume import GEOMETRY_TOL_MM, Volume, grid_mismatch_mm

    params = fusion_parameters(method, weight, ct_window_hu=ct_window_hu, pet_range_suv=pet_range_suv,
                               wavelet=wavelet, level=level)
    for v, what in ((ct, "CT"), (pet_on_ct, "PET")):
        if not isinstance(v, Volume):
            raise FusionError(f"{what} must be a radgui Volume, got {type(v).__name__}")
        if v.image.GetDimension() != 3 or v.image.GetNumberOfComponentsPerPixel() != 1:
            raise FusionError(f"{what} {v.name!r} must be a 3D scalar image")
    mismatch = grid_mismatch_mm(ct.image, pet_on_ct.image)
    if mismatch > GEOMETRY_TOL_MM or not np.allclose(ct.image.GetSpacing(), pet_on_ct.image.GetSpacing(),
                                                      rtol=1e-6, atol=1e-6):
        what = (f"sizes {ct.shape} and {pet_on_ct.shape} (z,y,x)" if mismatch == float("inf")
                else f"grids differ by up to {mismatch:.3f} mm")
        raise FusionError(f"PET {pet_on_ct.name!r} is not on the CT grid of {ct.name!r} ({what}); "
                          "resample it first (radgui.io.petct.pet_on_ct)")
    if pet_on_ct.modality not in ("PT", "OT"):
        raise FusionError(f"{pet_on_ct.name!r} is a {pet_on_ct.modality} image, not a PET in SUV")
    c_raw, p_raw = ct.array, pet_on_ct.array
    for arr, what in ((c_raw, "CT"), (p_raw, "PET")):
        if np.issubdtype(arr.dtype, np.floating):
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            if bad:
                raise FusionError(f"{what}: {bad} voxel(s) are NaN or infinite; fill them before fusing")
    c = normalise(c_raw, params["ct_window_hu"])
    p = normalise(p_raw, params["pet_range_suv"])
    w = np.float32(params["weight"])
    if method == "weighted":
        f = (w * p + (np.float32(1.0) - w) * c).astype(np.float32, copy=False)
    else:
        f = _wavelet_fuse(c, p, float(w), params["wavelet"], params["level"])
    del c, p
    image = sitk.GetImageFromArray(f)
    image.CopyInformation(ct.image)
    import pywt

    import radgui

    meta = {"source": "fusion", "name": f"fused PET/CT ({method}, w={params['weight']:g})",
            "warnings": list(dict.fromkeys([*ct.warnings, *pet_on_ct.warnings])),
            "fusion": {**params, "ct": ct.name, "pet": pet_on_ct.name,
                       "ct_sha256": ct.hash(), "pet_sha256": pet_on_ct.hash(),
                       "normalisation": "CT clip to ct_window_hu, PET clip to pet_range_suv, each scaled to [0, 1]",
                       "versions": {"radgui": radgui.__version__, "pywavelets": pywt.__version__,
                                    "numpy": np.__version__}}}
    return Volume(image, "OT", meta)


def fusion_kwargs(params) -> dict:
    """The :func:`fuse` keywords of a recorded parameter dict (``meta["fusion"]``, a bundle, a manifest).

    Unknown keys (``rule``, hashes, versions) are dropped; the values are
    checked again by :func:`fusion_parameters`, so a dict from a file cannot
    smuggle anything else in.

    Raises
    ------
    FusionError
        ``params`` is not a mapping, or a value is invalid.
    """
    from collections.abc import Mapping

    if isinstance(params, str):
        params = {"method": params}
    if not isinstance(params, Mapping):
        raise FusionError(f"fusion parameters must be a method name or a mapping, got {type(params).__name__}")
    keys = ("method", "weight", "ct_window_hu", "pet_range_suv", "wavelet", "level")
    kw = {k: params[k] for k in keys if k in params and params[k] is not None}
    checked = fusion_parameters(**kw)
    return {k: checked[k] for k in keys if k in checked}


def fuse_pair(ct, pet, consent: bool = False, **fusion):
    """:func:`fuse` of a CT and a PET on any grid: PET is first resampled onto the CT grid if needed.

    A PET already on the CT grid (same size, spacing and origin within
    1 µm) is used as it is; otherwise :func:`pet_on_ct` resamples it after
    the frame-of-reference check (``consent`` as there: images without a
    FrameOfReferenceUID, e.g. NRRD files, need it).
    """
    from radgui.io.volume import GEOMETRY_TOL_MM, Volume, grid_mismatch_mm

    fusion_parameters(**fusion)  # bad parameters fail before any resampling
    if not isinstance(pet, Volume) or not isinstance(ct, Volume):
        raise FusionError("CT and PET must be radgui Volumes")
    same = (grid_mismatch_mm(ct.image, pet.image) <= GEOMETRY_TOL_MM
            and np.allclose(ct.image.GetSpacing(), pet.image.GetSpacing(), rtol=1e-6, atol=1e-6))
    return fuse(ct, pet if same else pet_on_ct(pet, ct, consent=consent), **fusion)


def fusion_reach_voxels(method: str = "weighted", wavelet: str = "db1", level: int = 1) -> tuple[int, int]:
    """``(reach, alignment)`` in voxels of a fusion: how far a fused voxel depends on its neighbours.

    Weighted fusion is voxel-wise (0, 1). Wavelet fusion with a filter of
    length ``F`` over ``L`` levels: a fused voxel depends on inputs within
    ``F * 2**L`` voxels, and the decimation phase repeats every ``2**L``
    voxels; a crop whose start is a multiple of ``2**L`` and that keeps
    ``F * 2**L`` voxels around a region gives, inside the region, exactly the
    values of the whole-image fusion (``tests/test_fusion_engine.py`` checks
    it bit for bit).
    """
    if method != "wavelet":
        return 0, 1
    import pywt

    step = 2 ** int(level)
    return pywt.Wavelet(wavelet).dec_len * step, step


def fuse_region(ct, pet_on_ct, lo_zyx, hi_zyx, **fusion):
    """:func:`fuse` computed only around the index box ``[lo_zyx, hi_zyx)``: a cropped fused Volume.

    The crop is the box grown by :func:`fusion_reach_voxels` and aligned to
    the wavelet's decimation, clipped to the image; inside the box its values
    are those of ``fuse(ct, pet_on_ct, **fusion)`` (bit for bit), at a
    fraction of the cost when the box is small. Its geometry is the crop's
    (origin moved, same spacing); ``meta["fusion"]["region_index_zyx"]``
    gives the crop's ``[start, stop)`` in the CT's (z, y, x) indices, and the
    recorded hashes are those of the cropped inputs. Falls back to the whole
    image when the crop is too small for the wavelet level.
    """
    from radgui.io.volume import Volume

    params = fusion_parameters(**fusion)
    if not isinstance(ct, Volume) or not isinstance(pet_on_ct, Volume):
        raise FusionError("CT and PET must be radgui Volumes")
    if ct.shape != pet_on_ct.shape:
        return fuse(ct, pet_on_ct, **fusion)  # fuse() names the mismatch
    reach, step = fusion_reach_voxels(params["method"], params.get("wavelet", "db1"), params.get("level", 1))
    shape = np.asarray(ct.shape)
    lo = np.asarray(lo_zyx, int)
    hi = np.asarray(hi_zyx, int)
    if lo.shape != (3,) or hi.shape != (3,) or np.any(lo < 0) or np.any(hi > shape) or np.any(lo >= hi):
        raise FusionError(f"region [{lo.tolist()}, {hi.tolist()}) is not a box inside the image {tuple(shape)}")
    start = np.maximum((lo - reach) // step * step, 0)
    stop = np.minimum(-(-(hi + reach) // step) * step, shape)
    if params["method"] == "wavelet":
        import pywt

        if pywt.dwtn_max_level(tuple(int(n) for n in stop - start), params["wavelet"]) < params["level"]:
            start, stop = np.zeros(3, int), shape
    if np.all(start == 0) and np.all(stop == shape):
        out = fuse(ct, pet_on_ct, **fusion)
    else:
        (z0, y0, x0), (z1, y1, x1) = start.tolist(), stop.tolist()  # SimpleITK slices in (x, y, z)
        sub = [Volume(v.image[x0:x1, y0:y1, z0:z1], v.modality, {**v.meta, "warnings": list(v.warnings)})
               for v in (ct, pet_on_ct)]
        out = fuse(sub[0], sub[1], **fusion)
    out.meta["fusion"]["region_index_zyx"] = [start.tolist(), stop.tolist()]
    return out
