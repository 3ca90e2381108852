"""Segmentations in DICOM: DICOM-SEG (write and read, via highdicom) and RTSTRUCT (read).

Masks in radgui are SimpleITK label images on a Volume's canonical grid
(see :mod:`radgui.io.volume`). Here they are exchanged with other tools:

* :func:`write_seg` writes one binary DICOM-SEG with one segment per ROI
  (named), referencing the DICOM images the Volume was loaded from; exported
  files are de-identified (:mod:`radgui.io.deid`) unless ``identifying=True``;
* :func:`read_seg` reads a DICOM-SEG onto a Volume, frame by frame through
  the referenced SOP instances (highdicom), else by plane position;
* :func:`read_rtstruct` rasterises RTSTRUCT closed planar contours onto the
  referenced Volume: a voxel is inside when its centre is inside the polygon
  (even-odd rule, so holes drawn as inner contours stay holes).

Axis order is the trap here: DICOM Rows run along the column direction
(y for axial images) and Columns along the row direction (x); tests use
grids with rows != columns to catch swaps.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radgui.errors import DicomError, GeometryMismatchError, MaskLabelError

#: Tolerance, in mm, for matching a frame or contour plane to a slice.
PLANE_TOL_MM = 0.5

#: Type 2 attributes (Patient, General Study modules) highdicom copies from the source images;
#: set empty when a series lacks them.
_TYPE2_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                 "ReferringPhysicianName", "StudyID", "AccessionNumber")


def _original_layout(volume) -> sitk.Image:
    """The Volume's image in the orientation the DICOM frames were stored in."""
    direction = volume.meta.get("reorientation", {}).get("original_direction")
    if direction is None:
        return volume.image
    code = sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines([float(v) for v in direction])
    return sitk.DICOMOrient(volume.image, code)


def _dicom_meta(volume) -> dict:
    meta = volume.meta.get("dicom")
    if not meta or not meta.get("files"):
        raise DicomError("DICOM-SEG needs an image loaded from DICOM (its source instances); "
                         "save the mask as NRRD or NIfTI instead")
    return meta


_ROLE_NAME = re.compile(r"^(?:(?P<union>tumou?r\+ring)|(?P<ring>ring)|(?P<core>core))(?P<mm>\d+(?:[.p]\d+)?)mm$",
                        re.IGNORECASE)


def segment_role(name: str, info: dict | None = None) -> dict:
    """What a ROI is, for its DICOM coding: role, distance and the algorithm that made it.

    ``info`` (all optional): ``role`` ("tumour", "ring", "core", "union"),
    ``distance_mm``, ``algorithm`` ("manual", "region_growing", "derived"),
    ``parameters`` (dict, e.g. the region-growing settings). Without ``info``
    the role is read from radgui's names: ``ring<d>mm``, ``core<d>mm``,
    ``tumour+ring<d>mm`` (derived) and anything else a manual tumour.
    """
    info = dict(info or {})
    m = _ROLE_NAME.match(str(name))
    if m and "role" not in info:
        info["role"] = "union" if m.group("union") else "ring" if m.group("ring") else "core"
        info.setdefault("distance_mm", float(m.group("mm").replace("p", ".")))
    role = info.setdefault("role", "tumour")
    if role not in ROLE_CODES:
        raise ValueError(f"unknown ROI role {role!r}: use one of {', '.join(ROLE_CODES)}")
    info.setdefault("algorithm", "manual" if role == "tumour" else "derived")
    if info["algorithm"] not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {info['algorithm']!r}: use one of {', '.join(ALGORITHMS)}")
    info.setdefault("parameters", {})
    if info.get("distance_mm") is not None:
        info["parameters"] = {**info["parameters"], "distance_mm": info["distance_mm"]}
    return info


#: role -> (category, type, type modifier): (code value, scheme, meaning), all from pydicom's SCT dictionary.
ROLE_CODES = {
    "tumour": (("49755003", "SCT", "Morphologically Abnormal Structure"), ("108369006", "SCT", "Neoplasm"), None),
    "core": (("49755003", "SCT", "Morphologically Abnormal Structure"), ("108369006", "SCT", "Neoplasm"),
             ("26216008", "SCT", "Central")),
    "union": (("49755003", "SCT", "Morphologically Abnormal Structure"), ("108369006", "SCT", "Neoplasm"),
              ("255503000", "SCT", "Entire")),
    "ring": (("85756007", "SCT", "Tissue"), ("85756007", "SCT", "Tissue"), ("14414005", "SCT", "Peripheral")),
}

#: algorithm -> (SegmentAlgorithmType, algorithm family in CID 7162, algorithm name)
ALGORITHMS = {
    "manual": ("MANUAL", ("123109", "DCM", "Manual Processing"), None),
    "region_growing": ("SEMIAUTOMATIC", ("123101", "DCM", "Neighborhood Analysis"), "radgui region growing"),
    "derived": ("AUTOMATIC", ("123104", "DCM", "Morphological Operations"), "radgui derived VOI"),
}


def _segment_description(hd, number: int, name: str, info: dict, version: str):
    from pydicom.sr.coding import Code

    category, kind, modifier = ROLE_CODES[info["role"]]
    algo_type, family, algo_name = ALGORITHMS[info["algorithm"]]
    ident = None
    if algo_name is not None:
        params = {str(k)[:64]: str(v)[:64] for k, v in info["parameters"].items()}
        ident = hd.AlgorithmIdentificationSequence(name=algo_name, family=Code(*family), version=version,
                                                   parameters=params or None)
    desc = hd.seg.SegmentDescription(
        segment_number=number, segment_label=name[:64], segmented_property_category=Code(*category),
        segmented_property_type=Code(*kind), algorithm_type=getattr(hd.seg.SegmentAlgorithmTypeValues, algo_type),
        algorithm_identification=ident)
    if modifier is not None:
        item = desc.SegmentedPropertyTypeCodeSequence[0]
        from pydicom.dataset import Dataset
        from pydicom.sequence import Sequence

        mod = Dataset()
        mod.CodeValue, mod.CodingSchemeDesignator, mod.CodeMeaning = modifier
        item.SegmentedPropertyTypeModifierCodeSequence = Sequence([mod])
    if info.get("distance_mm") is not None:
        desc.SegmentDescription = f"{info['role']} {info['distance_mm']:g} mm"[:64]
    return desc


def write_seg(masks: dict, volume, path: str | Path, *, identifying: bool = False,
              description: str = "radgui segmentation", series_number: int = 900,
              roles: dict | None = None) -> Path:
    """Write ROIs as one binary DICOM-SEG referencing ``volume``'s DICOM images.

    Parameters
    ----------
    masks : dict of str -> SimpleITK.Image or ndarray
        ROI name -> label image (or (z, y, x) array) on ``volume``'s grid;
        voxels > 0 are inside. One segment per ROI, labelled with its name.
    volume : Volume
        Loaded from DICOM (``meta["dicom"]`` lists its files).
    path : str or Path
        Output file (``.dcm``).
    identifying : bool
        Keep patient/study identification (opt-in). By default the SEG is
        de-identified with the PS3.15 basic profile (retain UIDs option).
    roles : dict of str -> dict, optional
        Per ROI, what :func:`segment_role` needs (role, distance, algorithm,
        parameters); by default read from the ROI names. Each segment is coded
        by role (SNOMED CT category/type/modifier) and algorithm
        (MANUAL / SEMIAUTOMATIC region growing / AUTOMATIC derived, with the
        algorithm's name, family and parameters).

    Returns
    -------
    Path
    """
    import highdicom as hd
    import pydicom
    from radgui import __version__
    from radgui.files import atomic_path
    from radgui.io.deid import deidentify, refuse_leaks, source_values

    meta = _dicom_meta(volume)
    if any("resampled" in w for w in volume.warnings):
        raise DicomError("this volume was resampled on loading (tilt or spacing); a DICOM-SEG must sit on "
                         "the original slices: save the mask as NRRD or NIfTI instead", path)
    if not masks:
        raise ValueError("no ROI to write")
    layers = []
    names = []
    for name, m in masks.items():
        img = m if isinstance(m, sitk.Image) else None
        if img is None:
            from radgui.io.volume import mask_from_array

            img = mask_from_array(np.asarray(m) > 0, volume)
        if img.GetSize() != volume.image.GetSize():
            raise GeometryMismatchError(f"ROI '{name}' is not on the image grid")
        img = sitk.Cast(img > 0, sitk.sitkUInt8)
        img.CopyInformation(volume.image)
        code = _original_layout_code(volume)
        orig = sitk.DICOMOrient(img, code) if code else img
        layers.append(sitk.GetArrayFromImage(orig))
        names.append(str(name))
    stack = np.stack(layers, axis=-1).astype(bool)  # (frames, rows, cols, segments)
    files = meta["files"]
    frame_idx = meta.get("frame_indices") or [None] * len(files)
    if stack.shape[0] != len(files):
        raise DicomError(f"mask has {stack.shape[0]} slices but the series has {len(files)} images", path)
    if all(i is None for i in frame_idx):
        sources = [pydicom.dcmread(f) for f in files]
        pixel_array = stack
    else:  # one multi-frame source: frames in file order
        if len(set(files)) != 1:
            raise DicomError("DICOM-SEG export of several multi-frame files is not supported", path)
        sources = [pydicom.dcmread(files[0])]
        pixel_array = np.zeros_like(stack)
        for k, fi in enumerate(frame_idx):
            pixel_array[fi] = stack[k]
    for src in sources:  # Type 2 attributes highdicom copies; a series may lack them
        for kw in _TYPE2_COPIED:
            if kw not in src:
                setattr(src, kw, "")
    roles = roles or {}
    descriptions = [_segment_description(hd, k + 1, name, segment_role(name, roles.get(name)), __version__)
                    for k, name in enumerate(names)]
    try:
        seg = hd.seg.Segmentation(
            source_images=sources, pixel_array=pixel_array,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=descriptions,
            series_instance_uid=hd.UID(), series_number=series_number, sop_instance_uid=hd.UID(),
            instance_number=1, manufacturer="radgui", manufacturer_model_name="radgui",
            software_versions=__version__, device_serial_number="0", series_description=description[:64],
            omit_empty_frames=False)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise DicomError(f"cannot build the DICOM-SEG from this series ({str(exc)[:160]})", path) from None
    if not identifying:
        originals = source_values(sources)
        deidentify(seg)
        refuse_leaks(seg, originals, path)  # never write a SEG that still identifies the patient
    path = Path(path)
    with atomic_path(path) as tmp:
        seg.save_as(tmp)
    return path


def _original_layout_code(volume) -> str | None:
    direction = volume.meta.get("reorientation", {}).get("original_direction")
    if direction is None:
        return None
    return sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines([float(v) for v in direction])


def _to_canonical(arr_orig: np.ndarray, volume) -> sitk.Image:
    ref = _original_layout(volume)
    img = sitk.GetImageFromArray(arr_orig.astype(np.uint8))
    img.CopyInformation(ref)
    out = sitk.DICOMOrient(img, "LPS")
    out.CopyInformation(volume.image)
    return out


def read_seg(path: str | Path, like) -> dict[str, sitk.Image]:
    """Read a DICOM-SEG onto ``like`` (a Volume loaded from DICOM).

    Returns
    -------
    dict of str -> SimpleITK.Image
        Segment label -> UInt8 mask (0/1) on ``like``'s canonical grid.

    Raises
    ------
    DicomError
        Not a SEG, or it does not reference ``like``'s images and its planes
        do not fall on ``like``'s slices.
    """
    import highdicom as hd

    path = Path(path)
    meta = _dicom_meta(like)
    try:
        seg = hd.seg.segread(path)
    except Exception as exc:  # noqa: BLE001
        raise DicomError(f"not a readable DICOM-SEG ({str(exc)[:160]})", path) from None
    numbers = [int(item.SegmentNumber) for item in seg.SegmentSequence]
    labels = {int(item.SegmentNumber): str(item.get("SegmentLabel", f"segment{item.SegmentNumber}"))
              for item in seg.SegmentSequence}
    ref = _original_layout(like)
    shape = tuple(reversed(ref.GetSize()))
    try:
        if any(i is not None for i in meta.get("frame_indices") or []):
            raise ValueError("multi-frame source")
        arr = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=meta["sop_instance_uids"], segment_numbers=numbers,
            assert_missing_frames_are_empty=True, dtype=np.uint8)
    except Exception:  # noqa: BLE001 - fall back on plane positions
        arr = _seg_by_position(seg, numbers, like, ref, path)
    if arr.shape[:3] != shape:
        raise GeometryMismatchError(f"segmentation is {arr.shape[:3]} but the image is {shape}", path)
    return {labels[n]: _to_canonical(arr[..., k] > 0, like) for k, n in enumerate(numbers)}


def _seg_by_position(seg, numbers, like, ref: sitk.Image, path) -> np.ndarray:
    """Place SEG frames on the image's slices by their ImagePositionPatient."""
    pixels = seg.pixel_array
    if pixels.ndim == 2:
        pixels = pixels[None]
    shape = tuple(reversed(ref.GetSize()))
    out = np.zeros((*shape, len(numbers)), np.uint8)
    per = seg.PerFrameFunctionalGroupsSequence
    shared_seq = seg.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None

    def group(item, name):
        for source in (item, shared):
            seq = source.get(name) if source is not None else None
            if seq:
                return seq[0]
        raise DicomError(f"segmentation frame lacks {name}", path)

    for f, item in enumerate(per):
        ipp = np.asarray(group(item, "PlanePositionSequence").ImagePositionPatient, float)
        seg_no = int(group(item, "SegmentIdentificationSequence").ReferencedSegmentNumber)
        idx = np.asarray(ref.TransformPhysicalPointToContinuousIndex(tuple(float(v) for v in ipp)))
        k = int(round(idx[2]))
        off_mm = np.abs(idx - np.array([0.0, 0.0, k])) * np.asarray(ref.GetSpacing())
        if np.max(off_mm) > PLANE_TOL_MM or not 0 <= k < shape[0]:
            raise DicomError(f"segmentation frame {f + 1} does not fall on a slice of the image", path)
        if pixels.shape[1:] != shape[1:]:
            raise GeometryMismatchError("segmentation frames differ in size from the image slices", path)
        out[k, :, :, numbers.index(seg_no)] |= pixels[f].astype(np.uint8)
    return out


def read_rtstruct(path: str | Path, like, roi_names: list[str] | None = None) -> dict[str, sitk.Image]:
    """Rasterise RTSTRUCT closed planar contours onto ``like``'s grid.

    Parameters
    ----------
    path : str or Path
        The RTSTRUCT file.
    like : Volume
        The referenced image (its FrameOfReferenceUID is checked).
    roi_names : list of str, optional
        Only these ROIs (default: all with contours).

    Returns
    -------
    dict of str -> SimpleITK.Image
        ROI name -> UInt8 mask on ``like``'s canonical grid. A voxel is in the
        ROI when its centre is inside the contour polygon of its slice (even-odd
        rule across contours of one slice).
    """
    import pydicom
    from skimage.draw import polygon as draw_polygon

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:  # noqa: BLE001
        raise DicomError(f"not a readable DICOM file ({str(exc)[:120]})", path) from None
    if str(ds.get("Modality", "")).upper() != "RTSTRUCT":
        raise DicomError(f"not an RTSTRUCT (Modality {ds.get('Modality', '?')})", path)
    warnings = []
    for_uid = like.meta.get("dicom", {}).get("frame_of_reference_uid")
    ref_for = [str(it.get("FrameOfReferenceUID", "")) for it in ds.get("ReferencedFrameOfReferenceSequence", [])]
    if not for_uid:
        warnings.append("RTSTRUCT placed by physical coordinates only: the image is not from DICOM, so its "
                        "frame of reference could not be checked")
    if for_uid and ref_for and for_uid not in ref_for:
        raise GeometryMismatchError(
            f"RTSTRUCT refers to FrameOfReferenceUID {ref_for[0]}, the image has {for_uid}", path)
    names = {int(r.ROINumber): str(r.ROIName) for r in ds.get("StructureSetROISequence", [])}
    missing = [n for n in roi_names or () if n not in names.values()]
    if missing:
        shown = ", ".join(repr(n) for n in list(names.values())[:12])
        raise MaskLabelError(f"has no ROI named {missing[0]!r} (ROIs: {shown or 'none'})", path)
    image = like.image
    size = np.asarray(image.GetSize())  # x, y, z
    origin = np.asarray(image.GetOrigin())
    spacing = np.asarray(image.GetSpacing())
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    inv = np.linalg.inv(direction * spacing[None, :])
    out: dict[str, sitk.Image] = {}
    for roi in ds.get("ROIContourSequence", []):
        name = names.get(int(roi.ReferencedROINumber), f"roi{roi.ReferencedROINumber}")
        if roi_names is not None and name not in roi_names:
            continue
        arr = np.zeros(tuple(reversed(size)), np.uint8)  # z, y, x
        for contour in roi.get("ContourSequence", []):
            kind = str(contour.get("ContourGeometricType", "CLOSED_PLANAR")).upper()
            pts = np.asarray(contour.ContourData, float).reshape(-1, 3)
            if kind == "POINT" or len(pts) < 3:
                continue
            idx = (pts - origin) @ inv.T  # continuous (x, y, z) indices
            axis = int(np.argmin(np.ptp(idx, axis=0)))
            if np.ptp(idx[:, axis]) * spacing[axis] > PLANE_TOL_MM:
                warnings.append(f"{name}: a non-planar contour was skipped")
                continue
            k = int(round(float(np.mean(idx[:, axis]))))
            if abs(np.mean(idx[:, axis]) - k) * spacing[axis] > PLANE_TOL_MM or not 0 <= k < size[axis]:
                warnings.append(f"{name}: a contour lies between or outside the image slices and was skipped")
                continue
            u, v = [a for a in (0, 1, 2) if a != axis]  # plane axes (x,y,z numbering), u < v
            # in the (z, y, x) array the plane's rows are axis v and columns axis u
            plane_shape = (size[v], size[u])
            rr, cc = draw_polygon(idx[:, v], idx[:, u], shape=plane_shape)
            sl = [slice(None)] * 3
            sl[2 - axis] = k
            plane = arr[tuple(sl)]
            mask = np.zeros(plane_shape, np.uint8)
            mask[rr, cc] = 1
            plane ^= mask
        img = sitk.GetImageFromArray(arr)
        img.CopyInformation(image)
        out[name] = img
    if not out:
        raise DicomError("no contour ROI found" + (f" named {roi_names}" if roi_names else ""), path)
    if warnings:
        like.meta.setdefault("warnings", []).extend(dict.fromkeys(warnings))
    return out


def read_dicom_masks(path: str | Path, like, only: str | None = None) -> dict[str, sitk.Image]:
    """Read a DICOM-SEG or RTSTRUCT file onto ``like``, by its Modality (``only``: one segment, by name)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # noqa: BLE001
        raise DicomError(f"not a readable DICOM file ({str(exc)[:120]})", path) from None
    modality = str(ds.get("Modality", "")).upper()
    if modality == "SEG":
        found = read_seg(path, like)
        if only is not None and only not in found:
            shown = ", ".join(repr(n) for n in list(found)[:12])
            raise MaskLabelError(f"has no segment named {only!r} (segments: {shown or 'none'})", path)
        return found if only is None else {only: found[only]}
    if modality == "RTSTRUCT":
        return read_rtstruct(path, like, None if only is None else [only])
    raise DicomError(f"not a segmentation object (Modality {modality or '?'})", path)


#: Source attributes an exported ROI name must not repeat.
_IDENTIFYING_NAME_SOURCES = ("PatientName", "PatientID", "OtherPatientIDs", "AccessionNumber", "PatientBirthDate",
                             "InstitutionName", "ReferringPhysicianName")

#: RTROIInterpretedType per role (DICOM PS3.3 C.8.8.8).
_RT_TYPE = {"tumour": "GTV", "core": "GTV", "union": "CONTROL", "ring": "CONTROL"}


def mask_contours(plane: np.ndarray) -> list[np.ndarray]:
    """Closed contours of one binary plane, as (N, 2) (row, column) index polygons.

    Traced at level 0.5 between voxel centres (marching squares on the plane
    padded with background), so rasterising them back with the centre-inside,
    even-odd rule of :func:`read_rtstruct` gives the plane's voxels; holes come
    out as inner contours.
    """
    from skimage.measure import find_contours

    padded = np.pad(np.asarray(plane, bool).astype(np.float32), 1)
    out = []
    for c in find_contours(padded, 0.5, fully_connected="high"):
        c = c - 1.0
        if len(c) > 1 and np.allclose(c[0], c[-1]):
            c = c[:-1]  # DICOM closes the polygon implicitly
        if len(c) >= 3:
            out.append(c)
    return out


def write_rtstruct(masks: dict, volume, path: str | Path, *, identifying: bool = False,
                   label: str = "radgui", roles: dict | None = None) -> Path:
    """Write ROIs as an RTSTRUCT of closed planar contours on the image's slices.

    One contour per connected outline of each slice (inner outlines are holes,
    even-odd rule), each referencing the slice's SOP instance; the structure
    set references ``volume``'s series and frame of reference. De-identified
    like :func:`write_seg` unless ``identifying=True``.

    Parameters
    ----------
    masks : dict of str -> SimpleITK.Image or ndarray
        ROI name -> mask on ``volume``'s grid.
    volume : Volume
        Loaded from DICOM (single-frame images).
    path : str or Path
    identifying : bool
    label : str
        StructureSetLabel.
    roles : dict, optional
        As for :func:`write_seg` (RTROIInterpretedType and ROIGenerationAlgorithm).
    """
    import datetime as dt

    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, RTStructureSetStorage, generate_uid

    from radgui import __version__
    from radgui.files import atomic_path
    from radgui.io.deid import deidentify, refuse_leaks, source_values

    meta = _dicom_meta(volume)
    if any("resampled" in w for w in volume.warnings):
        raise DicomError("this volume was resampled on loading; an RTSTRUCT must reference the original "
                         "slices: save the mask as NRRD or NIfTI instead", path)
    if any(i is not None for i in meta.get("frame_indices") or []):
        raise DicomError("RTSTRUCT export of a multi-frame image is not supported; write a DICOM-SEG", path)
    if not masks:
        raise ValueError("no ROI to write")
    files = meta["files"]
    ref = _original_layout(volume)
    code = _original_layout_code(volume)
    n_slices = ref.GetSize()[2]
    if n_slices != len(files):
        raise DicomError(f"image has {n_slices} slices but the series has {len(files)} files", path)
    src = pydicom.dcmread(files[0], stop_before_pixels=True)
    origin = np.asarray(ref.GetOrigin())
    axes = np.asarray(ref.GetDirection()).reshape(3, 3) * np.asarray(ref.GetSpacing())[None, :]
    now = dt.datetime.now()

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = RTStructureSetStorage
    for kw in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
               "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName"):
        setattr(ds, kw, src.get(kw, ""))
    ds.StudyInstanceUID = src.StudyInstanceUID
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 901
    ds.InstanceNumber = 1
    ds.Manufacturer = "radgui"
    ds.ManufacturerModelName = "radgui"
    ds.SoftwareVersions = __version__
    ds.StructureSetLabel = label[:16]
    ds.StructureSetDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.StructureSetTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.SeriesDescription = "radgui contours"
    ds.FrameOfReferenceUID = meta["frame_of_reference_uid"]
    contour_images = []
    for uid in meta["sop_instance_uids"]:
        item = Dataset()
        item.ReferencedSOPClassUID = src.SOPClassUID
        item.ReferencedSOPInstanceUID = uid
        contour_images.append(item)
    series = Dataset()
    series.SeriesInstanceUID = meta["series_uid"]
    series.ContourImageSequence = Sequence(contour_images)
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (retired), as TPS write
    study.ReferencedSOPInstanceUID = src.StudyInstanceUID
    study.RTReferencedSeriesSequence = Sequence([series])
    ref_for = Dataset()
    ref_for.FrameOfReferenceUID = meta["frame_of_reference_uid"]
    ref_for.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([ref_for])
    roles = roles or {}
    ss_rois, roi_contours, observations = [], [], []
    palette = [(255, 0, 0), (0, 200, 0), (0, 120, 255), (255, 200, 0), (200, 0, 200)]
    for number, (name, m) in enumerate(masks.items(), start=1):
        info = segment_role(name, roles.get(name))
        img = m if isinstance(m, sitk.Image) else None
        if img is None:
            from radgui.io.volume import mask_from_array

            img = mask_from_array(np.asarray(m) > 0, volume)
        if img.GetSize() != volume.image.GetSize():
            raise GeometryMismatchError(f"ROI '{name}' is not on the image grid", path)
        img = sitk.Cast(img > 0, sitk.sitkUInt8)
        img.CopyInformation(volume.image)
        arr = sitk.GetArrayFromImage(sitk.DICOMOrient(img, code) if code else img)  # (slice, row, col)
        r = Dataset()
        r.ROINumber = number
        r.ReferencedFrameOfReferenceUID = meta["frame_of_reference_uid"]
        r.ROIName = str(name)[:64]
        r.ROIGenerationAlgorithm = {"manual": "MANUAL", "region_growing": "SEMIAUTOMATIC"}.get(
            info["algorithm"], "AUTOMATIC")
        r.ROIGenerationDescription = (f"{info['role']}"
                                      + (f" {info['distance_mm']:g} mm" if info.get("distance_mm") else "")
                                      + f"; radgui {__version__}")[:64]
        ss_rois.append(r)
        items = []
        for k in np.flatnonzero(arr.reshape(arr.shape[0], -1).any(axis=1)):
            for poly in mask_contours(arr[k]):
                idx = np.column_stack([poly[:, 1], poly[:, 0], np.full(len(poly), float(k))])  # (col, row, k)
                pts = origin[None, :] + idx @ axes.T
                c = Dataset()
                img_ref = Dataset()
                img_ref.ReferencedSOPClassUID = src.SOPClassUID
                img_ref.ReferencedSOPInstanceUID = meta["sop_instance_uids"][k]
                c.ContourImageSequence = Sequence([img_ref])
                c.ContourGeometricType = "CLOSED_PLANAR"
                c.NumberOfContourPoints = len(pts)
                c.ContourData = [f"{v:.4f}"[:16] for v in pts.ravel()]
                items.append(c)
        rc = Dataset()
        rc.ReferencedROINumber = number
        rc.ROIDisplayColor = list(palette[(number - 1) % len(palette)])
        rc.ContourSequence = Sequence(items)
        roi_contours.append(rc)
        o = Dataset()
        o.ObservationNumber = number
        o.ReferencedROINumber = number
        o.RTROIInterpretedType = _RT_TYPE[info["role"]]
        o.ROIInterpreter = ""
        observations.append(o)
    ds.StructureSetROISequence = Sequence(ss_rois)
    ds.ROIContourSequence = Sequence(roi_contours)
    ds.RTROIObservationsSequence = Sequence(observations)
    if not identifying:
        originals = source_values([src])
        deidentify(ds)
        # ROI Name is Z in the basic profile (it may hold free text from the source); these names are radgui's
        # own ROI names, put back (the Clean Descriptors approach); the self-check below still refuses any
        # name that repeats an identifying value of the source images.
        for item, (name, _) in zip(ds.StructureSetROISequence, masks.items()):
            item.ROIName = str(name)[:64]
        ident = [str(src.get(kw, "") or "").strip().lower() for kw in _IDENTIFYING_NAME_SOURCES]
        for name in masks:
            if any(v and len(v) >= 3 and v in str(name).lower() for v in ident):
                raise DicomError(f"ROI name {str(name)[:40]!r} repeats the patient's identification; rename it "
                                 "or export with identifying=True; nothing was written", path)
        refuse_leaks(ds, originals, path, allowed=("StructureSetROISequence/ROIName",))
    path = Path(path)
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path
