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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radgui.errors import DicomError, FrameOfReferenceError, SeriesChoiceError
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
