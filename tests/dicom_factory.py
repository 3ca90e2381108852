"""Synthetic DICOM series written with pydicom, for radgui's DICOM tests.

Every function writes files into a folder and returns what a correct reader
must find (the expected array in (z, y, x) order, in HU or SUV, and the
geometry), so tests compare against truth that does not come from radgui.

The phantom value is a linear function of the *physical* LPS position:
``value = 2*x + 3*y + 5*z - 500`` (mm); any axis swap, flip or misplaced slice
changes it, and linear interpolation reproduces it exactly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    EnhancedCTImageStorage,
    ExplicitVRLittleEndian,
    PositronEmissionTomographyImageStorage,
    generate_uid,
)

STUDY_DATE = "20240301"


def phantom_value(points_xyz: np.ndarray) -> np.ndarray:
    """The phantom's value at physical LPS points (..., 3) in mm."""
    p = np.asarray(points_xyz, float)
    return 2.0 * p[..., 0] + 3.0 * p[..., 1] + 5.0 * p[..., 2] - 500.0


def _base(modality: str, sop_class: str, study_uid: str, series_uid: str, for_uid: str,
          description: str, number: int) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = generate_uid()
    ds.SOPClassUID = sop_class
    ds.Modality = modality
    ds.PatientName = "Test^Phantom"
    ds.PatientID = "PHANTOM01"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "M"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = for_uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = STUDY_DATE
    ds.StudyTime = "100000"
    ds.SeriesTime = "110000"
    ds.AcquisitionTime = "110000"
    ds.SeriesDescription = description
    ds.SeriesNumber = number
    ds.StudyID = "1"
    ds.AccessionNumber = "ACC123"
    ds.ReferringPhysicianName = "Doctor^Who"
    ds.InstitutionName = "Test Hospital"
    ds.Manufacturer = "radgui-tests"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    return ds


def _grid_points(ipp, row, col, rows, cols, dy, dx) -> np.ndarray:
    """Physical points (rows, cols, 3) of one slice."""
    j, i = np.mgrid[0:rows, 0:cols]
    return (np.asarray(ipp, float)[None, None, :] + (i * dx)[..., None] * np.asarray(row)[None, None, :]
            + (j * dy)[..., None] * np.asarray(col)[None, None, :])


def write_ct_series(folder, n_slices=10, rows=48, cols=64, pixel_spacing=(0.8, 0.7), slice_spacing=2.5,
                    origin=(-20.0, -30.0, 10.0), iop=(1, 0, 0, 0, 1, 0), positions=None, slopes=None,
                    intercept=-1024.0, modality="CT", description="CT phantom", series_uid=None,
                    study_uid=None, for_uid=None, number=2, shuffle=True, instance_numbers=None,
                    image_type=None, name="ct", extra=None, value_fn=phantom_value, pet_factor=None):
    """Write a CT (or any single-frame) series; return a dict with the truth.

    Parameters
    ----------
    positions : list of 3-vectors, optional
        ImagePositionPatient of each slice (default: a straight stack along
        the normal with ``slice_spacing``).
    slopes : list of float, optional
        RescaleSlope per slice (default 1).
    extra : callable(ds, k), optional
        Edits each dataset before it is written (to make bad inputs).

    Returns
    -------
    dict
        ``paths`` (in slice order), ``values`` (z, y, x expected values in
        slice order), ``positions``, ``series_uid``, ``study_uid``,
        ``for_uid``, ``row``, ``col``, ``normal``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    for_uid = for_uid or generate_uid()
    iop = np.asarray(iop, float)
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    if positions is None:
        positions = [np.asarray(origin, float) + k * slice_spacing * normal for k in range(n_slices)]
    positions = [np.asarray(p, float) for p in positions]
    n = len(positions)
    slopes = list(slopes) if slopes is not None else [1.0] * n
    sop_class = PositronEmissionTomographyImageStorage if modality == "PT" else CTImageStorage
    rng = np.random.default_rng(0)
    order = rng.permutation(n) if shuffle else np.arange(n)
    values, paths = [], []
    for k in range(n):
        ds = _base(modality, sop_class, study_uid, series_uid, for_uid, description, number)
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = int(instance_numbers[k]) if instance_numbers is not None else k + 1
        if image_type is not None:
            ds.ImageType = list(image_type)
        ds.ImagePositionPatient = [float(v) for v in positions[k]]
        ds.ImageOrientationPatient = [float(v) for v in iop]
        ds.PixelSpacing = [float(pixel_spacing[0]), float(pixel_spacing[1])]
        ds.SliceThickness = float(slice_spacing)
        ds.Rows, ds.Columns = rows, cols
        ds.RescaleSlope = f"{slopes[k]:.6g}"
        ds.RescaleIntercept = f"{intercept:.6g}"
        if modality == "CT":
            ds.RescaleType = "HU"
            ds.KVP = 120
        pts = _grid_points(positions[k], row, col, rows, cols, pixel_spacing[0], pixel_spacing[1])
        val = value_fn(pts)
        stored = np.round((val - intercept) / slopes[k]).astype(np.int16)
        truth = stored.astype(np.float64) * slopes[k] + intercept
        ds.PixelData = stored.tobytes()
        if extra is not None:
            extra(ds, k)
        path = folder / f"{name}_{int(order[k]):04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        values.append(truth)
        paths.append(path)
    return {"paths": paths, "values": np.stack(values), "positions": positions, "series_uid": series_uid,
            "study_uid": study_uid, "for_uid": for_uid, "row": row, "col": col, "normal": normal,
            "pixel_spacing": pixel_spacing}


def sphere_suv(points_xyz: np.ndarray, center=(0.0, 0.0, 20.0)) -> np.ndarray:
    """SUV phantom: 1.0 background with a hot (4.0) sphere of radius 12 mm."""
    r = np.linalg.norm(np.asarray(points_xyz) - np.asarray(center), axis=-1)
    return np.where(r < 12.0, 4.0, 1.0)


def write_pet_series(folder, convention="bqml_start", n_slices=10, rows=32, cols=40, weight_kg=75.0,
                     height_m=1.80, sex="M", dose_bq=370e6, half_life_s=6586.2, minutes_after=60.0,
                     origin=(-80.0, -64.0, 0.0), pixel_spacing=(4.0, 4.0), slice_spacing=4.0,
                     study_uid=None, for_uid=None, intercept=0.0, drop=(), name="pt", number=3,
                     description="PET phantom"):
    """Write a PET series whose SUVbw is :func:`sphere_suv`; return the truth.

    ``convention``: ``bqml_start`` (Bq/ml, DecayCorrection START),
    ``bqml_admin``, ``bqml_start_mbq`` (dose in MBq), ``gml`` (stored SUVbw),
    ``bqml_start_midnight`` (injection before midnight, time only).
    ``drop`` removes tags (keywords) to make a PET without SUV tags.
    The activity in Bq/ml is computed here from the textbook definition
    SUVbw = C / (D e^(-lambda t) / W), independently of radgui.io.suv.
    """
    lam = np.log(2.0) / half_life_s
    scan = datetime(2024, 3, 1, 11, 0, 0)
    if convention == "bqml_start_midnight":
        scan = datetime(2024, 3, 2, 0, 20, 0)
    inj = scan - timedelta(minutes=minutes_after)
    if convention == "bqml_admin":
        bq_per_suv = dose_bq / (weight_kg * 1000.0)
    elif convention == "gml":
        bq_per_suv = 1.0
    else:
        bq_per_suv = dose_bq * np.exp(-lam * minutes_after * 60.0) / (weight_kg * 1000.0)
    slopes = []
    stored_per_slice = []

    def value_fn(pts):
        return sphere_suv(pts) * bq_per_suv

    # per-slice slope so that the maximum uses most of int16 (like scanners do)
    for k in range(n_slices):
        slopes.append(float(f"{4.0 * bq_per_suv / 30000.0 * (1 + 0.01 * k):.6g}"))

    def extra(ds, k):
        ds.Units = "GML" if convention == "gml" else "BQML"
        if convention == "gml":
            ds.SUVType = "BW"
        ds.DecayCorrection = "ADMIN" if convention == "bqml_admin" else "START"
        ds.CorrectedImage = ["ATTN", "DECY"]
        ds.SeriesType = ["WHOLE BODY", "IMAGE"]
        ds.SeriesDate = ds.AcquisitionDate = scan.strftime("%Y%m%d")
        ds.SeriesTime = ds.AcquisitionTime = scan.strftime("%H%M%S")
        ds.PatientWeight = f"{weight_kg:g}"
        ds.PatientSize = f"{height_m:g}"
        ds.PatientSex = sex
        ds.FrameReferenceTime = "0"
        ds.ActualFrameDuration = 120000
        rp = Dataset()
        rp.Radiopharmaceutical = "FDG"
        rp.RadionuclideTotalDose = f"{dose_bq / 1e6:g}" if convention == "bqml_start_mbq" else f"{dose_bq:.6g}"
        rp.RadionuclideHalfLife = f"{half_life_s:g}"
        rp.RadiopharmaceuticalStartTime = inj.strftime("%H%M%S")
        if convention != "bqml_start_midnight":
            rp.RadiopharmaceuticalStartDateTime = inj.strftime("%Y%m%d%H%M%S")
        ds.RadiopharmaceuticalInformationSequence = Sequence([rp])
        for kw in drop:
            if kw in ds:
                delattr(ds, kw)
            if kw in rp:
                delattr(rp, kw)

    out = write_ct_series(folder, n_slices=n_slices, rows=rows, cols=cols, pixel_spacing=pixel_spacing,
                          slice_spacing=slice_spacing, origin=origin, slopes=slopes, intercept=intercept,
                          modality="PT", description=description, study_uid=study_uid, for_uid=for_uid,
                          name=name, extra=extra, value_fn=value_fn, number=number)
    del stored_per_slice
    out["suv"] = out["values"] / bq_per_suv
    out["bq_per_suv"] = bq_per_suv
    return out


def write_enhanced_ct(path, n_frames=6, rows=24, cols=32, pixel_spacing=(0.9, 0.6), slice_spacing=3.0,
                      origin=(5.0, -12.0, -40.0), intercept=-1024.0, slopes=None):
    """Write one enhanced (multi-frame) CT file with per-frame positions; return the truth.

    Frames are stored in reverse position order, so a reader that ignores
    the per-frame PlanePositionSequence gets a flipped volume.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = _base("CT", EnhancedCTImageStorage, generate_uid(), generate_uid(), generate_uid(),
               "Enhanced CT", 7)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.Rows, ds.Columns = rows, cols
    ds.NumberOfFrames = n_frames
    slopes = slopes or [1.0] * n_frames
    shared = Dataset()
    meas = Dataset()
    meas.PixelSpacing = [float(pixel_spacing[0]), float(pixel_spacing[1])]
    meas.SliceThickness = float(slice_spacing)
    shared.PixelMeasuresSequence = Sequence([meas])
    ori = Dataset()
    ori.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    shared.PlaneOrientationSequence = Sequence([ori])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per = []
    frames = []
    truth = []
    for f in range(n_frames):
        z_index = n_frames - 1 - f  # stored in reverse order
        ipp = np.asarray(origin) + np.array([0.0, 0.0, z_index * slice_spacing])
        item = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [float(v) for v in ipp]
        item.PlanePositionSequence = Sequence([pos])
        pvt = Dataset()
        pvt.RescaleSlope = f"{slopes[f]:g}"
        pvt.RescaleIntercept = f"{intercept:g}"
        pvt.RescaleType = "HU"
        item.PixelValueTransformationSequence = Sequence([pvt])
        per.append(item)
        val = phantom_value(_grid_points(ipp, (1, 0, 0), (0, 1, 0), rows, cols, *pixel_spacing))
        stored = np.round((val - intercept) / slopes[f]).astype(np.int16)
        frames.append(stored)
        truth.append((z_index, stored * slopes[f] + intercept))
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    ds.PixelData = np.stack(frames).tobytes()
    ds.save_as(path, enforce_file_format=True)
    values = np.stack([v for _, v in sorted(truth, key=lambda t: t[0])])
    return {"path": path, "values": values, "origin": origin}


def write_junk(folder) -> list[Path]:
    """A text file, an empty file and random bytes: things a DICOM folder holds."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "README.txt", folder / "empty.dcm", folder / "random.bin"]
    paths[0].write_text("not a DICOM file\n")
    paths[1].write_bytes(b"")
    paths[2].write_bytes(np.random.default_rng(1).bytes(3000))
    return paths


def read(path) -> Dataset:
    """Read a file back (full dataset)."""
    return pydicom.dcmread(path)


def write_rtstruct(path, series: dict, rois: dict, for_uid: str | None = None) -> Path:
    """Write an RTSTRUCT with closed planar contours.

    ``rois`` maps a ROI name to a list of (N, 3) arrays of physical LPS points
    (mm), one per contour; ``series`` is what :func:`write_ct_series` returned.
    """
    from pydicom.uid import RTStructureSetStorage

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = _base("RTSTRUCT", RTStructureSetStorage, series["study_uid"], generate_uid(),
               for_uid or series["for_uid"], "contours", 50)
    for kw in ("SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated", "BitsStored", "HighBit",
               "PixelRepresentation", "ImageType", "FrameOfReferenceUID"):
        delattr(ds, kw)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StructureSetLabel = "test"
    ref_for = Dataset()
    ref_for.FrameOfReferenceUID = for_uid or series["for_uid"]
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study.ReferencedSOPInstanceUID = series["study_uid"]
    ser = Dataset()
    ser.SeriesInstanceUID = series["series_uid"]
    study.RTReferencedSeriesSequence = Sequence([ser])
    ref_for.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([ref_for])
    ss_rois, contours_seq, observations = [], [], []
    for number, (name, polys) in enumerate(rois.items(), start=1):
        r = Dataset()
        r.ROINumber = number
        r.ReferencedFrameOfReferenceUID = for_uid or series["for_uid"]
        r.ROIName = name
        r.ROIGenerationAlgorithm = "MANUAL"
        ss_rois.append(r)
        rc = Dataset()
        rc.ReferencedROINumber = number
        rc.ROIDisplayColor = [255, 0, 0]
        items = []
        for poly in polys:
            c = Dataset()
            c.ContourGeometricType = "CLOSED_PLANAR"
            c.NumberOfContourPoints = len(poly)
            c.ContourData = [f"{v:.4f}" for v in np.asarray(poly, float).ravel()]
            items.append(c)
        rc.ContourSequence = Sequence(items)
        contours_seq.append(rc)
        o = Dataset()
        o.ObservationNumber = number
        o.ReferencedROINumber = number
        o.RTROIInterpretedType = "GTV"
        o.ROIInterpreter = ""
        observations.append(o)
    ds.StructureSetROISequence = Sequence(ss_rois)
    ds.ROIContourSequence = Sequence(contours_seq)
    ds.RTROIObservationsSequence = Sequence(observations)
    ds.save_as(path, enforce_file_format=True)
    return path


#: Values planted by :func:`plant_identifying`, keyed by keyword (what de-identification must remove).
PLANTED = {
    "ClinicalTrialSponsorName": "Acme Pharma",
    "ClinicalTrialProtocolID": "PROTO-77",
    "ClinicalTrialProtocolName": "Secret Trial",
    "ClinicalTrialSiteID": "SITE-9",
    "ClinicalTrialSiteName": "Test Hospital Site",
    "ClinicalTrialSubjectID": "SUBJ-0042",
    "ClinicalTrialSubjectReadingID": "READ-0042",
    "ConsultingPhysicianName": "Consult^Carla",
    "ReasonForVisit": "Follow-up of Test^Phantom, born 1970",
    "RequestingPhysician": "Request^Rita",
    "OtherPatientIDs": "OTHER-ID-1",
    "InstitutionAddress": "1 Main Street, Springfield",
    "StationName": "CT-STATION-7",
    "OperatorsName": "Operator^Otto",
    "PerformedProcedureStepStartDate": "20240301",
    "AcquisitionDateTime": "20240301110000",
}


def plant_identifying(ds: Dataset, k: int = 0) -> None:
    """Put identifying data where de-identification tends to miss it (an ``extra=`` for the writers).

    Top-level Clinical Trial attributes, a free-text ReasonForVisit holding
    the patient's name, a ContributingEquipmentSequence whose
    ContributionDateTime equals the acquisition date-time, a
    RequestAttributesSequence-like nesting (Referenced Study > dates), and
    private tags at top level and inside a sequence.
    """
    for kw, value in PLANTED.items():
        setattr(ds, kw, value)
    eq = Dataset()
    eq.Manufacturer = "Scanner Inc"
    eq.InstitutionName = "Test Hospital"
    eq.StationName = "CT-STATION-7"
    eq.ContributionDateTime = "20240301110000"
    eq.ContributionDescription = "acquired by Operator^Otto"
    purpose = Dataset()
    purpose.CodeValue, purpose.CodingSchemeDesignator, purpose.CodeMeaning = "109101", "DCM", "Acquisition Equipment"
    eq.PurposeOfReferenceCodeSequence = Sequence([purpose])
    private = eq.private_block(0x0009, "RADGUI TEST", create=True)
    private.add_new(0x01, "LO", "nested private Test^Phantom")
    ds.ContributingEquipmentSequence = Sequence([eq])
    visit = Dataset()
    visit.ScheduledProcedureStepStartDate = "20240301"
    visit.ScheduledPerformingPhysicianName = "Sched^Sam"
    visit.RequestedProcedureID = "RP-1"
    visit.ReasonForTheRequestedProcedure = "cough in Test^Phantom"
    ds.RequestAttributesSequence = Sequence([visit])
    block = ds.private_block(0x0011, "RADGUI TEST", create=True)
    block.add_new(0x01, "LO", "Test^Phantom private")
