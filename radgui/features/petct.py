"""PET, CT and fused PET/CT features of four VOIs in one call.

The PET/CT radiomics design of the seed study: from one tumour mask drawn on
the CT grid, four VOIs are built with :mod:`radgui.roi.rings` (one distance
map):

``tumour``
    The tumour as drawn.
``ring<d>mm``
    The peritumoral ring, voxels with ``0 < D <= d`` mm outside the tumour
    (:func:`radgui.roi.rings.derived_vois`, boundary distance).
``core<d>mm``
    The intratumoral core, tumour voxels deeper than ``d`` mm.
``tumour+ring<d>mm``
    The tumour plus its ring.

and PyRadiomics features (:func:`radgui.features.extract`, one filtering
pass per image for the four VOIs) are computed on up to three images, all on
the CT grid:

``ct``
    The CT in HU (preset ``ct-original`` by default).
``pet``
    The PET in SUV resampled onto the CT grid (linear; preset ``pet-suv``).
``fused``
    :func:`radgui.io.petct.fuse` of the two (preset ``petct-fused``: its bin
    width 0.02 suits the [0, 1] range of the fused image). With a preset of
    the original image only (:func:`is_local`), only the box around the VOIs
    is fused (:func:`radgui.io.petct.fuse_region`: the same values, in a
    fraction of the time of the whole CT).

The result is one row per patient whose columns are
``<image>_<voi><ROI_SEP><feature>``, e.g. ``fused_ring6mm__original_glcm_Imc1``
or ``pet_tumour+ring6mm__original_firstorder_Maximum``: the ROI name in the
``<roi>__<feature>`` convention of :func:`radgui.features.flatten` is
``<image>_<voi>``, so a model trained on these columns names its ROIs the
same way (see :func:`bundle_rois`).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from radgui.errors import EmptyMaskError, FusionError, GeometryMismatchError
from radgui.features.extract import ROI_SEP, iter_extract
from radgui.progress import Step, run, scaled

#: Images :func:`iter_extract_petct` can compute features on, in column order.
IMAGES = ("ct", "pet", "fused")
#: Default preset per image.
DEFAULT_PRESETS = {"ct": "ct-original", "pet": "pet-suv", "fused": "petct-fused"}
#: Separator between image and VOI in a ROI name (``fused_ring6mm``).
IMAGE_SEP = "_"


def voi_names(ring_mm: float, core_depth_mm: float) -> dict[str, str]:
    """The four VOI names for these distances: ``{"tumour", "ring", "core", "tumour+ring"} -> name``."""
    from radgui.roi._common import fmt_mm

    return {"tumour": "tumour", "ring": f"ring{fmt_mm(ring_mm)}mm", "core": f"core{fmt_mm(core_depth_mm)}mm",
            "tumour+ring": f"tumour+ring{fmt_mm(ring_mm)}mm"}


def column_prefix(image: str, voi: str) -> str:
    """``<image>_<voi>``: the ROI part of a column name (``fused_core3mm``)."""
    return f"{image}{IMAGE_SEP}{voi}"


def _tumour_array(mask, ct) -> np.ndarray:
    from radgui.io.volume import GEOMETRY_TOL_MM, grid_mismatch_mm

    if isinstance(mask, sitk.Image):
        if grid_mismatch_mm(mask, ct.image) > GEOMETRY_TOL_MM:
            raise GeometryMismatchError(f"the tumour mask is not on the CT grid of {ct.name!r} "
                                        f"(mask size {mask.GetSize()}, CT {ct.image.GetSize()} x,y,z)")
        arr = sitk.GetArrayFromImage(mask)
    else:
        arr = np.asarray(mask)
        if arr.shape != ct.shape:
            raise GeometryMismatchError(f"the tumour mask has shape {arr.shape} but the CT {ct.name!r} has "
                                        f"{ct.shape} (z, y, x)")
    out = arr > 0
    if not out.any():
        raise EmptyMaskError("the tumour mask is empty (no voxel > 0); draw or load the tumour first")
    return out


def build_vois(tumour, spacing, ring_mm: float = 6.0, core_depth_mm: float = 3.0, *, clip=None,
               image=None) -> dict[str, np.ndarray]:
    """The four VOIs (tumour, ring, core, tumour+ring) as boolean (z, y, x) arrays, from one distance map.

    Thin wrapper of :func:`radgui.roi.rings.derived_vois` (annular ring,
    ``unions=True``); see :func:`iter_build_vois` for the generator.
    """
    return run(iter_build_vois(tumour, spacing, ring_mm, core_depth_mm, clip=clip, image=image))


def iter_build_vois(tumour, spacing, ring_mm: float = 6.0, core_depth_mm: float = 3.0, *, clip=None,
                    image=None):
    """:func:`build_vois` as an ``iter_*`` generator; returns ``{name: bool array}`` in VOI order."""
    from radgui.roi.rings import iter_derived_vois

    t = np.asarray(tumour) > 0
    if not t.any():
        raise EmptyMaskError("the tumour mask is empty (no voxel > 0); draw or load the tumour first")
    names = voi_names(ring_mm, core_depth_mm)
    vois = yield from iter_derived_vois(t, spacing, [ring_mm], mode="annular", core_depth_mm=core_depth_mm,
                                        unions=True, clip=clip, image=image)
    return {names["tumour"]: t, names["ring"]: vois[names["ring"]], names["core"]: vois[names["core"]],
            names["tumour+ring"]: vois[names["tumour+ring"]]}


def iter_extract_petct(ct, pet_on_ct, tumour_mask, *, fusion: Mapping | str = "weighted",
                       ring_mm: float = 6.0, core_depth_mm: float = 3.0, clip=None,
                       images: tuple[str, ...] = IMAGES, presets: Mapping[str, Any] | None = None,
                       case_id: str = "case") -> Generator[Step, None, pd.DataFrame]:
    """Features of CT, PET and fused PET/CT for the four VOIs, as one row (generator).

    Parameters
    ----------
    ct : Volume
        CT in HU.
    pet_on_ct : Volume
        PET in SUV on the CT grid (:func:`radgui.io.petct.pet_on_ct`).
    tumour_mask : SimpleITK.Image or array_like
        The tumour on the CT grid (voxels > 0).
    fusion : str or mapping
        A method name (``"weighted"``, ``"wavelet"``) or the keywords of
        :func:`radgui.io.petct.fuse` (``{"method": "wavelet", "weight": 0.5,
        "ct_window_hu": [-1000, 1000], "pet_range_suv": [0, 20], ...}``).
    ring_mm : float
        Ring width in mm (default 6).
    core_depth_mm : float
        Core depth in mm (default 3).
    clip : None, "body" or bool array
        Where the ring may go (see :func:`radgui.roi.rings.rings`); ``"body"``
        uses the CT.
    images : tuple of str
        Which of ``"ct"``, ``"pet"``, ``"fused"`` to extract (in that order).
    presets : mapping, optional
        Preset per image (default :data:`DEFAULT_PRESETS`).
    case_id : str
        Index of the one row.

    Yields
    ------
    Step
        VOIs, fusion, and each image's extraction progress.

    Returns
    -------
    pandas.DataFrame
        One row (index ``case_id``, index name ``patient_id``), columns
        ``<image>_<voi>__<feature>`` (images, then VOIs, then PyRadiomics'
        order). ``attrs["provenance"]`` holds per image the extraction
        provenance, the fusion parameters (``meta["fusion"]``), the VOI
        distances and voxel counts, and ``rois`` (:func:`bundle_rois`);
        ``attrs["diagnostics"]`` per column prefix.

    Raises
    ------
    FusionError
        Bad fusion parameters, PET not on the CT grid, unknown image name.
    EmptyMaskError, GeometryMismatchError
        Empty tumour, empty core, mask not on the CT grid.
    """
    from radgui.io.petct import fuse, fuse_region, fusion_kwargs
    from radgui.io.volume import Volume

    images = tuple(images)
    unknown = [i for i in images if i not in IMAGES]
    if unknown or not images or len(set(images)) != len(images):
        raise FusionError(f"images must be distinct names among {', '.join(IMAGES)}, got {list(images)}")
    from radgui.features.presets import load_preset

    chosen = {**DEFAULT_PRESETS, **dict(presets or {})}
    chosen = {i: load_preset(chosen[i]) for i in images}  # a bad preset fails before any work
    fusion_kw = fusion_kwargs(fusion)  # checked before any work
    for v, what in ((ct, "CT"), (pet_on_ct, "PET")):
        if not isinstance(v, Volume):
            raise FusionError(f"{what} must be a radgui Volume, got {type(v).__name__}")
    tumour = _tumour_array(tumour_mask, ct)
    total = 10 + 90 * len(images)
    yield Step(0, total, "building the four VOIs")
    gen = iter_build_vois(tumour, ct.spacing, ring_mm, core_depth_mm, clip=clip,
                          image=ct.array if clip is not None else None)
    vois = yield from scaled(gen, 0, 5, total, "VOIs: ")  # the VOI steps: the first 5 units of the bar
    sources: dict[str, Any] = {"ct": ct, "pet": pet_on_ct}
    fused_box = None
    if "fused" in images:
        yield Step(5, total, f"fusing PET and CT ({fusion_kw['method']})")
        if is_local(chosen["fused"]):
            from radgui.roi._common import bbox

            lo, hi = bbox(np.logical_or.reduce(list(vois.values())))
            sources["fused"] = fuse_region(ct, pet_on_ct, lo.tolist(), hi.tolist(), **fusion_kw)
            fused_box = tuple(slice(a, b) for a, b in zip(*sources["fused"].meta["fusion"]["region_index_zyx"]))
        else:
            sources["fused"] = fuse(ct, pet_on_ct, **fusion_kw)
    elif "pet" in images:
        from radgui.io.volume import GEOMETRY_TOL_MM, grid_mismatch_mm

        if grid_mismatch_mm(ct.image, pet_on_ct.image) > GEOMETRY_TOL_MM:
            raise FusionError(f"PET {pet_on_ct.name!r} is not on the CT grid of {ct.name!r}; "
                              "resample it first (radgui.io.petct.pet_on_ct)")
    def on_grid(image, box):
        out = {}
        for name, arr in vois.items():
            m = sitk.GetImageFromArray(np.ascontiguousarray(arr if box is None else arr[box]).astype(np.uint8))
            m.CopyInformation(image)
            out[name] = m
        return out

    masks = on_grid(ct.image, None)
    masks_of = {"ct": masks, "pet": masks}
    if "fused" in sources:
        masks_of["fused"] = masks if fused_box is None else on_grid(sources["fused"].image, fused_box)

    row: dict[str, float] = {}
    provenance: dict[str, Any] = {"vois": {n: int(np.count_nonzero(a)) for n, a in vois.items()},
                                  "ring_mm": float(ring_mm), "core_depth_mm": float(core_depth_mm),
                                  "clip": clip if isinstance(clip, str) or clip is None else "mask",
                                  "images": list(images), "presets": {}, "extraction": {}}
    diagnostics: dict[str, dict] = {}
    for k, image in enumerate(images):
        base = 10 + 90 * k
        df = yield from scaled(iter_extract(sources[image], masks_of[image], chosen[image]), base, 90, total,
                               f"{image}: ")
        for voi in vois:
            prefix = column_prefix(image, voi)
            for col in df.columns:
                row[f"{prefix}{ROI_SEP}{col}"] = float(df.at[voi, col])
            diagnostics[prefix] = df.attrs["diagnostics"].get(voi, {})
        provenance["extraction"][image] = df.attrs["provenance"]
        provenance["presets"][image] = df.attrs["provenance"]["preset"]
    if "fused" in sources:
        provenance["fusion"] = sources["fused"].meta["fusion"]
    provenance["rois"] = bundle_rois(images, vois, provenance.get("fusion"), provenance["presets"])
    out = pd.DataFrame([row], index=pd.Index([case_id], name="patient_id"))
    out.attrs["provenance"] = provenance
    out.attrs["diagnostics"] = diagnostics
    yield Step(total, total, f"{len(images)} image(s) x {len(vois)} VOIs, {out.shape[1]} features")
    return out


def is_local(preset) -> bool:
    """True when a preset's features of a ROI depend only on the voxels near it.

    Original image only, no resampling, no whole-image normalisation: the
    fused image is then computed only around the VOIs
    (:func:`radgui.io.petct.fuse_region`, same values), not on the whole CT.
    """
    from radgui.features.presets import load_preset

    p = load_preset(preset)
    st = p.settings
    resampling = st.get("interpolator") is not None and st.get("resampledPixelSpacing") is not None
    return set(p.image_types) <= {"Original"} and not resampling and not st.get("normalize", False)


def extract_petct(ct, pet_on_ct, tumour_mask, **kwargs) -> pd.DataFrame:
    """Blocking twin of :func:`iter_extract_petct` (same parameters and result)."""
    return run(iter_extract_petct(ct, pet_on_ct, tumour_mask, **kwargs))


def bundle_rois(images, vois, fusion: Mapping | None, presets: Mapping[str, Any] | None = None) -> dict:
    """``provenance.rois`` entries for a model trained on these columns.

    Each ROI ``<image>_<voi>`` records the image (``modality`` CT, PT or
    FUSED, see :class:`radgui.model.bundle.RoiRole`), the study ROI its mask comes from
    (``mask``: the VOI name), the preset, and for ``fused`` the fusion
    parameters (:func:`radgui.io.petct.fusion_kwargs`): what
    :func:`radgui.model.patient.iter_predict` needs to rebuild the fused image.
    """
    from radgui.io.petct import fusion_kwargs

    out = {}
    for image in images:
        for voi in vois:
            spec: dict[str, Any] = {"modality": {"ct": "CT", "pet": "PT", "fused": "FUSED"}[image], "mask": voi}
            if presets and isinstance(presets.get(image), str):
                spec["preset"] = presets[image]
            if image == "fused" and fusion is not None:
                spec["fusion"] = fusion_kwargs(fusion)
            out[column_prefix(image, voi)] = spec
    return out


def split_column(name: str) -> tuple[str, str, str]:
    """``(image, voi, feature)`` of a ``<image>_<voi>__<feature>`` column.

    Raises
    ------
    FusionError
        When the name does not follow that pattern.
    """
    roi, sep, feature = name.partition(ROI_SEP)
    image, isep, voi = roi.partition(IMAGE_SEP)
    if not sep or not isep or image not in IMAGES or not voi or not feature:
        raise FusionError(f"column {name!r} is not <image>_<voi>{ROI_SEP}<feature> with image in "
                          f"{', '.join(IMAGES)}")
    return image, voi, feature


def save_table(table: pd.DataFrame, path) -> list:
    """Write the table as CSV and its provenance as ``<path>.provenance.json``, both atomically.

    Returns the two paths.
    """
    import json
    from pathlib import Path

    from radgui.files import write_csv, write_json

    path = Path(path)
    out = [write_csv(path, table, index=True)]
    prov = json.loads(json.dumps(table.attrs.get("provenance", {}), default=str))
    out.append(write_json(path.with_name(path.name + ".provenance.json"), prov))
    return out
