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


def write_seg(masks: dict, volume, path: str | Path, *, identifying: bool = False,
              description: str = "radgui segmentation", series_number: int = 900) -> Path:
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

    Returns
    -------
    Path
    """
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    from radgui import __version__
    from radgui.files import atomic_path
    from radgui.io.deid import deidentify, identifying_attributes, source_values

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
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=k + 1, segment_label=name[:64],
            segmented_property_category=codes.SCT.Tissue, segmented_property_type=codes.SCT.Neoplasm,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
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
        leaks = identifying_attributes(seg, originals)
        if leaks:  # the independent self-check: never write a SEG that still identifies the patient
            raise DicomError(f"de-identification left identifying attributes ({', '.join(leaks[:8])}); "
                             "nothing was written", path)
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
