"""DICOM series discovery, validation and volume assembly.

radgui reads DICOM headers with pydicom and checks what SimpleITK's series
reader would silently trust: slices are sorted by their position along the
slice normal (not by file name or InstanceNumber), every slice's
RescaleSlope/Intercept is applied to that slice, and the stack is refused
(or, on request, resampled and labelled) when slices are missing, unevenly
spaced, sheared by a gantry tilt, duplicated at one position or without
geometry. Every warning travels with the :class:`~radgui.io.volume.Volume`
in ``meta["warnings"]``.

Main entry points
-----------------
:func:`scan_dicom` / :func:`iter_scan_dicom`
    Group the files of a folder (recursively) or a DICOMDIR into series.
:func:`list_series`
    The series found (one :class:`SeriesInfo` each).
:func:`load_series` / :func:`iter_load_series`
    Assemble one series into a Volume (PET in SUV, see :mod:`radgui.io.suv`).
:func:`load_dicom_volume`
    What :func:`radgui.io.load_volume` calls for a folder, DICOMDIR or .dcm.

Geometry: the volume is assembled in the acquisition's own frame (columns of
the direction matrix: row direction, column direction, slice normal) and then
handed to :func:`radgui.io.volume.canonicalize`, the single place where radgui
converts to its canonical LPS (z, y, x) layout.

References
----------
DICOM PS3.3 C.7.6.2 (Image Plane Module): ImagePositionPatient,
ImageOrientationPatient, PixelSpacing (row spacing, then column spacing).
dcm2niix's checks (Li et al., J Neurosci Methods 2016) inspired the list of
refused inputs.
"""

from __future__ import annotations

import os
import struct
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radgui.errors import (
    DicomError,
    InputFileError,
    MemoryBudgetError,
    SeriesChoiceError,
    SliceSpacingError,
)
from radgui.io.volume import DEFAULT_MEMORY_BUDGET as _VOLUME_BUDGET
from radgui.io.volume import memory_budget
from radgui.progress import Step, run

#: Default memory budget for one decoded volume, in bytes (4 GiB); shared with every image format.
DEFAULT_MEMORY_BUDGET = _VOLUME_BUDGET

#: Largest deviation, in mm, of one slice step from the nominal spacing.
SPACING_TOL_MM = 0.2

#: Shear (gantry tilt) angle from which a stack is called sheared, in degrees.
SHEAR_TOL_DEG = 0.1

#: How to load a stack with missing slices or uneven spacing: the exact options (Python, CLI, viewer).
RESAMPLE_HINT = ("to load it interpolated onto an even grid (linear, recorded in the warnings) pass "
                 "resample_spacing=True (Python) or --resample-spacing (radgui extract, predict, roi, view), "
                 "or answer Yes in the viewer")



class ProblemKind(str, Enum):
    """Why a series is refused (:attr:`SeriesInfo.problem_kind`); decisions read this, never the text."""

    #: Geometry radgui cannot use (no positions, irregular stack, ...): refused.
    GEOMETRY = "geometry"
    #: Missing slices or uneven slice spacing: refused unless loaded with ``resample_spacing=True``.
    SLICE_SPACING = "slice_spacing"
    #: More than one sample per pixel (colour): refused.
    COLOUR = "colour"


#: Tolerance on direction cosines when grouping by orientation.
ORIENTATION_TOL = 1e-3

#: Modalities that are images radgui can assemble into volumes.
IMAGE_MODALITIES = {"CT", "PT", "MR", "NM", "OT"}

#: Modalities routed to the mask readers of :mod:`radgui.io.seg`.
MASK_MODALITIES = {"SEG", "RTSTRUCT"}

_UNCOMPRESSED = {
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
}
_LOSSY_SYNTAXES = {
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.101",
    "1.2.840.10008.1.2.4.102", "1.2.840.10008.1.2.4.103", "1.2.840.10008.1.2.4.110",
    "1.2.840.10008.1.2.4.112",
}
_INSTALL_HINT = {
    "JPEG 2000": "pip install pylibjpeg pylibjpeg-openjpeg",
    "JPEG-LS": "pip install pylibjpeg pylibjpeg-libjpeg",
    "JPEG": "pip install pylibjpeg pylibjpeg-libjpeg",
    "RLE": "pip install pylibjpeg pylibjpeg-rle",
    "HTJ2K": "pip install pylibjpeg pylibjpeg-openjpeg",
}


# --------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------
@dataclass
class Frame:
    """Header facts of one 2D image: a single-frame file or one frame of a multi-frame file."""

    path: Path
    frame_index: int | None
    sop_uid: str
    series_uid: str
    modality: str
    rows: int
    cols: int
    ipp: np.ndarray | None
    iop: np.ndarray | None
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing) = (dy, dx) mm
    slope: float = 1.0
    intercept: float = 0.0
    instance_number: int | None = None
    acquisition_number: str = ""
    acquisition_datetime: str = ""  # YYYYMMDDHHMMSS.ffffff when known
    temporal_key: str = ""
    frame_reference_time_ms: float | None = None
    frame_duration_ms: float | None = None
    image_type: tuple[str, ...] = ()
    transfer_syntax: str = ""
    bits_allocated: int = 16
    bits_stored: int = 16
    pixel_representation: int = 0
    samples_per_pixel: int = 1
    lossy: bool = False
    frame_of_reference_uid: str = ""


@dataclass
class SeriesInfo:
    """One series found by :func:`scan_dicom` (possibly a split of a DICOM series).

    ``uid`` is radgui's key: the SeriesInstanceUID, followed by ``#`` and
    :attr:`part` when the DICOM series was split (by orientation, image size
    or acquisition). ``part`` names the exact images of this part (a hash of
    their SOPInstanceUIDs), so the key finds the same images whether the
    folder above or below is scanned.
    ``problem`` is the reason loading would be refused (None when loadable),
    for people; ``problem_kind`` (a :class:`ProblemKind`) is what code
    decides on. ``derived`` and ``lossy`` flag a derived/secondary image and
    lossy compression (both excluded from quantification).
    """

    uid: str
    series_uid: str
    modality: str
    description: str
    date: str
    time: str
    number: str
    study_uid: str
    frame_of_reference_uid: str
    frames: list[Frame] = field(default_factory=list, repr=False)
    header: Any = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    problem: str | None = None
    problem_kind: ProblemKind | None = None
    derived: bool = False
    lossy: bool = False
    part: str = ""
    rows: int = 0
    cols: int = 0
    spacing_mm: tuple[float, float, float] | None = None  # (z, y, x)
    root: Path | None = None

    @property
    def resamplable(self) -> bool:
        """True when the only problem is the slice spacing (``resample_spacing=True`` loads it)."""
        return self.problem_kind is ProblemKind.SLICE_SPACING

    @property
    def quantitative(self) -> bool:
        """False for a derived/secondary or lossy-compressed image."""
        return not (self.derived or self.lossy)

    @property
    def n_slices(self) -> int:
        """Number of 2D images (frames) in the series."""
        return len(self.frames)

    @property
    def files(self) -> list[Path]:
        """Files of the series, in the order found."""
        return list(dict.fromkeys(f.path for f in self.frames))

    def label(self) -> str:
        """One line for a picker: modality, description, slices, size."""
        sp = "" if self.spacing_mm is None else " @ " + "x".join(f"{s:.3g}" for s in self.spacing_mm) + " mm"
        return (f"{self.modality} {self.description or '(no description)'} "
                f"[{self.n_slices} x {self.rows}x{self.cols}{sp}] {self.date}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (what ``radgui series --json`` prints)."""
        return {
            "uid": self.uid, "series_uid": self.series_uid, "modality": self.modality,
            "description": self.description, "date": self.date, "time": self.time,
            "number": self.number, "study_uid": self.study_uid,
            "frame_of_reference_uid": self.frame_of_reference_uid,
            "slices": self.n_slices, "rows": self.rows, "columns": self.cols,
            "spacing_mm_zyx": None if self.spacing_mm is None else list(self.spacing_mm),
            "warnings": list(self.warnings), "problem": self.problem,
            "problem_kind": None if self.problem_kind is None else self.problem_kind.value,
            "loadable": self.problem is None, "resamplable": self.resamplable,
            "derived": self.derived, "lossy": self.lossy,
        }


@dataclass
class MaskObject:
    """A DICOM-SEG or RTSTRUCT found while scanning; read it with :mod:`radgui.io.seg`."""

    path: Path
    modality: str
    sop_uid: str
    referenced_series_uid: str
    description: str


@dataclass
class DicomScan:
    """What a folder or DICOMDIR holds: series, mask objects and what was skipped."""

    root: Path
    series: list[SeriesInfo] = field(default_factory=list)
    masks: list[MaskObject] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)

    def find(self, uid: str) -> SeriesInfo:
        """The series whose key or SeriesInstanceUID is ``uid``."""
        hits = [s for s in self.series if s.uid == uid]
        if not hits and "#" in uid:  # a part found by a scan of another folder: same images
            base, part = uid.split("#", 1)
            hits = [s for s in self.series if s.series_uid == base and s.part == part]
        if not hits:
            hits = [s for s in self.series if s.series_uid == uid]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise DicomError(f"no series with UID {uid}; found: {_series_list(self.series)}", self.root)
        raise SeriesChoiceError(
            f"DICOM series {uid} was split into {len(hits)} series; pick one of: {_series_list(hits)}",
            self.root, hits)


def _series_list(series) -> str:
    return "; ".join(f"{s.uid} ({s.label()})" for s in series)


# --------------------------------------------------------------------------
# Header parsing
# --------------------------------------------------------------------------
_CONTROL = dict.fromkeys([*range(0x00, 0x20), *range(0x7F, 0xA0)], " ")


def printable(text) -> str:
    """``text`` with control characters (C0, DEL, C1: terminal escape sequences) replaced by spaces.

    Header strings (SeriesDescription, ...) come from whoever wrote the file;
    they are shown in terminals, tables and dialogs only through this.
    """
    return " ".join(str(text if text is not None else "").translate(_CONTROL).split())


def _f(value, default=None):
    try:
        if value is None or value == "":
            return default
        return float(value)
    except (TypeError, ValueError):
        return default


def _vec(value, n):
    try:
        arr = np.asarray([float(v) for v in value], float)
    except (TypeError, ValueError):
        return None
    return arr if arr.shape == (n,) and np.all(np.isfinite(arr)) else None


def _datetime(ds, date_kw, time_kw, dt_kw=None) -> str:
    if dt_kw and ds.get(dt_kw):
        return str(ds.get(dt_kw)).strip()
    t = str(ds.get(time_kw, "") or "").strip()
    if not t:
        return ""
    d = str(ds.get(date_kw, "") or ds.get("SeriesDate", "") or ds.get("StudyDate", "") or "").strip()
    return d + t


def _read_header(path: Path):
    """pydicom header without pixels, or None for a non-DICOM file."""
    import warnings

    import pydicom
    from pydicom.errors import InvalidDicomError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pydicom.dcmread(path, stop_before_pixels=True)
        except (PermissionError, IsADirectoryError, NotADirectoryError):
            raise  # unreadable, not "not DICOM": the caller says why
        except InvalidDicomError:
            # no preamble: accept only files that start like a raw DICOM data set (group 0002 or 0008),
            # so large non-DICOM files are never parsed as garbage elements
            try:
                with open(path, "rb") as fh:
                    head = fh.read(4)
            except OSError:
                return None
            if head[:2] not in (b"\x02\x00", b"\x08\x00"):
                return None
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
                return ds if "SOPInstanceUID" in ds and "Modality" in ds else None
            except Exception:  # noqa: BLE001 - any parse failure means "not DICOM"
                return None
        except Exception:  # noqa: BLE001 - truncated headers, garbage
            return None


def _frames_from_header(ds, path: Path) -> list[Frame]:
    """One :class:`Frame` per 2D image; enhanced multi-frame files give one per frame."""
    ts = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "1.2.840.10008.1.2")
    lossy = str(ds.get("LossyImageCompression", "") or "").strip() == "01" or ts in _LOSSY_SYNTAXES
    common = dict(
        path=path, sop_uid=str(ds.get("SOPInstanceUID", "")), series_uid=str(ds.get("SeriesInstanceUID", "")),
        modality=str(ds.get("Modality", "OT") or "OT").upper(), rows=int(ds.get("Rows", 0) or 0),
        cols=int(ds.get("Columns", 0) or 0),
        instance_number=int(ds.InstanceNumber) if ds.get("InstanceNumber") not in (None, "") else None,
        acquisition_number=str(ds.get("AcquisitionNumber", "") or ""),
        image_type=tuple(str(v).upper() for v in (ds.get("ImageType") or ())),
        transfer_syntax=ts, bits_allocated=int(ds.get("BitsAllocated", 16) or 16),
        bits_stored=int(ds.get("BitsStored", ds.get("BitsAllocated", 16)) or 16),
        pixel_representation=int(ds.get("PixelRepresentation", 0) or 0),
        samples_per_pixel=int(ds.get("SamplesPerPixel", 1) or 1), lossy=lossy,
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "") or ""),
    )
    n_frames = int(_f(ds.get("NumberOfFrames"), 1) or 1)
    if "PerFrameFunctionalGroupsSequence" in ds or n_frames > 1:
        return _multiframe(ds, common, n_frames)
    ps = _vec(ds.get("PixelSpacing"), 2)
    temporal = "|".join(str(ds.get(k, "") or "") for k in (
        "TemporalPositionIdentifier", "EchoNumbers", "TriggerTime", "DiffusionBValue"))
    return [Frame(
        frame_index=None, ipp=_vec(ds.get("ImagePositionPatient"), 3), iop=_vec(ds.get("ImageOrientationPatient"), 6),
        pixel_spacing=None if ps is None else (float(ps[0]), float(ps[1])),
        slope=_f(ds.get("RescaleSlope"), 1.0), intercept=_f(ds.get("RescaleIntercept"), 0.0),
        acquisition_datetime=_datetime(ds, "AcquisitionDate", "AcquisitionTime", "AcquisitionDateTime"),
        temporal_key=temporal,
        frame_reference_time_ms=_f(ds.get("FrameReferenceTime")),
        frame_duration_ms=_f(ds.get("ActualFrameDuration")),
        **common)]


def _group(ds, seq_name, shared, per_frame):
    for source in (per_frame, shared):
        seq = source.get(seq_name) if source is not None else None
        if seq:
            return seq[0]
    return None


def _multiframe(ds, common, n_frames) -> list[Frame]:
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    per = ds.get("PerFrameFunctionalGroupsSequence") or []
    frames = []
    for i in range(n_frames):
        pf = per[i] if i < len(per) else None
        pos = _group(ds, "PlanePositionSequence", shared, pf)
        ori = _group(ds, "PlaneOrientationSequence", shared, pf)
        meas = _group(ds, "PixelMeasuresSequence", shared, pf)
        pvt = _group(ds, "PixelValueTransformationSequence", shared, pf)
        content = _group(ds, "FrameContentSequence", shared, pf)
        ipp = _vec(pos.get("ImagePositionPatient"), 3) if pos is not None else None
        iop = _vec(ori.get("ImageOrientationPatient"), 6) if ori is not None else _vec(ds.get("ImageOrientationPatient"), 6)
        ps = _vec(meas.get("PixelSpacing"), 2) if meas is not None else _vec(ds.get("PixelSpacing"), 2)
        slope = _f(pvt.get("RescaleSlope"), None) if pvt is not None else None
        intercept = _f(pvt.get("RescaleIntercept"), None) if pvt is not None else None
        temporal = ""
        acq = ""
        if content is not None:
            temporal = str(content.get("TemporalPositionIndex", "") or "")
            acq = str(content.get("FrameAcquisitionDateTime", "") or "")
        frames.append(Frame(
            frame_index=i, ipp=ipp, iop=iop,
            pixel_spacing=None if ps is None else (float(ps[0]), float(ps[1])),
            slope=slope if slope is not None else _f(ds.get("RescaleSlope"), 1.0),
            intercept=intercept if intercept is not None else _f(ds.get("RescaleIntercept"), 0.0),
            acquisition_datetime=acq or _datetime(ds, "AcquisitionDate", "AcquisitionTime", "AcquisitionDateTime"),
            temporal_key=temporal, **common))
    return frames


# --------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------
def _candidate_files(root: Path) -> tuple[list[Path], Counter]:
    skipped: Counter = Counter()
    if root.is_file() and root.name.upper() == "DICOMDIR":
        from pydicom.fileset import FileSet

        try:
            fs = FileSet(root)
        except Exception as exc:  # noqa: BLE001
            raise DicomError(f"cannot read the DICOMDIR ({exc})", root) from None
        files = []
        for inst in fs:
            p = Path(inst.path)
            if p.exists():
                files.append(p)
            else:
                skipped["missing file listed in DICOMDIR"] += 1
        return files, skipped
    if root.is_file():
        return [root], skipped
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if name.upper() == "DICOMDIR":
                skipped["DICOMDIR"] += 1
                continue
            if name.startswith("."):
                skipped["hidden file"] += 1
                continue
            files.append(p)
    return files, skipped


def iter_scan_dicom(path: str | Path):
    """Scan a folder (recursively), a DICOMDIR or a single file for DICOM series.

    Yields :class:`~radgui.progress.Step` per file; returns a :class:`DicomScan`.
    Junk files, DICOMDIRs, non-image objects and localizers are skipped and
    counted in ``scan.skipped``; SEG and RTSTRUCT objects are listed in
    ``scan.masks``; duplicate SOPInstanceUIDs are dropped and logged.
    """
    root = Path(path)
    if not root.exists():
        raise InputFileError("no such file or folder", root)
    files, skipped = _candidate_files(root)
    scan = DicomScan(root=root, skipped=skipped)
    frames: list[Frame] = []
    headers: dict[str, Any] = {}
    seen: dict[tuple[str, int | None], Path] = {}
    total = len(files)
    for k, p in enumerate(files):
        if k % 16 == 0:
            yield Step(k, total, f"reading DICOM headers ({k}/{total})")
        try:
            if p.stat().st_size == 0:
                skipped["empty file"] += 1
                continue
        except OSError:
            skipped["unreadable file"] += 1
            continue
        try:
            ds = _read_header(p)
        except OSError as exc:
            from radgui.files import describe_os_error

            skipped[f"unreadable file ({describe_os_error(exc)})"] += 1
            scan.log.append(f"skipped {p}: {describe_os_error(exc)}")
            continue
        if ds is None:
            skipped["not DICOM"] += 1
            continue
        modality = str(ds.get("Modality", "") or "").upper()
        sop_class = str(ds.get("SOPClassUID", ""))
        if modality in MASK_MODALITIES:
            scan.masks.append(MaskObject(p, modality, str(ds.get("SOPInstanceUID", "")),
                                         _referenced_series(ds), printable(ds.get("SeriesDescription", "") or "")))
            continue
        if sop_class == "1.2.840.10008.1.3.10" or "DirectoryRecordSequence" in ds:
            skipped["DICOMDIR"] += 1
            continue
        if "Rows" not in ds or "Columns" not in ds:
            skipped[f"non-image object ({modality or 'no modality'})"] += 1
            continue
        image_type = [str(v).upper() for v in (ds.get("ImageType") or ())]
        if "LOCALIZER" in image_type or "SCOUT" in image_type:
            skipped["localizer/scout"] += 1
            continue
        for fr in _frames_from_header(ds, p):
            key = (fr.sop_uid, fr.frame_index)
            if key in seen:
                skipped["duplicate SOPInstanceUID"] += 1
                scan.log.append(f"dropped {p}: duplicate SOPInstanceUID {fr.sop_uid} (kept {seen[key]})")
                continue
            seen[key] = p
            frames.append(fr)
            headers.setdefault(fr.series_uid, ds)
    yield Step(total, total, "grouping series")
    by_series: dict[str, list[Frame]] = defaultdict(list)
    for fr in frames:
        by_series[fr.series_uid].append(fr)
    import warnings

    with warnings.catch_warnings():  # pydicom decodes header text lazily and warns on odd escape bytes
        warnings.simplefilter("ignore", UserWarning)
        for uid, group in by_series.items():
            scan.series.extend(_split_series(uid, group, headers[uid], root))
    dup_lines = [ln for ln in scan.log if "duplicate SOPInstanceUID" in ln]
    for s in scan.series:
        kept = {str(f.path) for f in s.frames}
        dups = [ln for ln in dup_lines if ln.rsplit("(kept ", 1)[-1].rstrip(")") in kept]
        if dups:
            s.log.extend(dups)
            s.warnings.append(f"{len(dups)} duplicate instance(s) (same SOPInstanceUID) dropped")
    scan.series.sort(key=lambda s: (s.study_uid, s.date, s.time, _num(s.number), s.uid))
    return scan


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("inf")


def _referenced_series(ds) -> str:
    for seq_name in ("ReferencedSeriesSequence",):
        seq = ds.get(seq_name)
        if seq:
            return str(seq[0].get("SeriesInstanceUID", ""))
    try:  # RTSTRUCT
        study = ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
        return str(study.RTReferencedSeriesSequence[0].SeriesInstanceUID)
    except (AttributeError, IndexError, KeyError):
        return ""


def _orientation_key(fr: Frame):
    if fr.iop is None:
        return None
    return tuple(np.round(fr.iop / ORIENTATION_TOL).astype(int) * ORIENTATION_TOL)


def _split_series(uid: str, frames: list[Frame], header, root: Path) -> list[SeriesInfo]:
    """Split one DICOM series by orientation, image size and (for duplicates) acquisition."""
    if any(fr.ipp is None or fr.iop is None or fr.pixel_spacing is None for fr in frames):
        info = _series_info(uid, uid, frames, header, root)  # refused as a whole, never split
        info.part = _part_id(frames)
        return [info]
    parts: dict[tuple, list[Frame]] = defaultdict(list)
    for fr in frames:
        ps = None if fr.pixel_spacing is None else tuple(round(v, 4) for v in fr.pixel_spacing)
        parts[(_orientation_key(fr), fr.rows, fr.cols, ps)].append(fr)
    reasons = []
    if len({k[0] for k in parts}) > 1:
        reasons.append("orientation")
    if len({k[1:3] for k in parts}) > 1:
        reasons.append("image size")
    if len({k[3] for k in parts}) > 1:
        reasons.append("pixel spacing")
    groups: list[tuple[list[Frame], list[str]]] = []
    for part in parts.values():
        for sub, why in _split_duplicates(part):
            groups.append((sub, reasons + why))
    out = []
    for k, (group, why) in enumerate(groups):
        part = _part_id(group)
        key = uid if len(groups) == 1 else f"{uid}#{part}"
        info = _series_info(key, uid, group, header, root)
        info.part = part
        if why and len(groups) > 1:
            info.warnings.append(f"DICOM series split by {', '.join(dict.fromkeys(why))} "
                                 f"(part {k + 1} of {len(groups)}); never merged")
        out.append(info)
    return out


def _part_id(frames: list[Frame]) -> str:
    """8 hex digits naming exactly these images (SOPInstanceUID and frame number)."""
    import hashlib

    ids = sorted(f"{f.sop_uid}/{f.frame_index}" for f in frames)
    return hashlib.sha1("\n".join(ids).encode()).hexdigest()[:8]


def _position_key(fr: Frame):
    if fr.ipp is None or fr.iop is None:
        return None
    n = np.cross(fr.iop[:3], fr.iop[3:])
    return round(float(fr.ipp @ n), 2)


def _split_duplicates(frames: list[Frame]):
    """Split frames sharing a position by acquisition/time; mark unresolvable ones."""
    positions = Counter(_position_key(f) for f in frames)
    if all(c == 1 for p, c in positions.items() if p is not None):
        return [(frames, [])]
    for attr, why in (("acquisition_number", "acquisition number"), ("temporal_key", "temporal position"),
                      ("acquisition_datetime", "acquisition time")):
        values = {getattr(f, attr) for f in frames}
        if len(values) < 2:
            continue
        subs = defaultdict(list)
        for f in frames:
            subs[getattr(f, attr)].append(f)
        if all(max(Counter(_position_key(f) for f in sub).values()) == 1 for sub in subs.values()):
            return [(sub, [why]) for _, sub in sorted(subs.items())]
    return [(frames, ["duplicate positions"])]


def _series_info(key, uid, frames, header, root) -> SeriesInfo:
    first = frames[0]
    info = SeriesInfo(
        uid=key, series_uid=uid, modality=first.modality,
        description=printable(header.get("SeriesDescription", "") or ""),
        date=str(header.get("SeriesDate", "") or header.get("StudyDate", "") or ""),
        time=str(header.get("SeriesTime", "") or ""), number=str(header.get("SeriesNumber", "") or ""),
        study_uid=str(header.get("StudyInstanceUID", "") or ""),
        frame_of_reference_uid=first.frame_of_reference_uid, frames=frames, header=header,
        rows=first.rows, cols=first.cols, root=root)
    try:
        geo = analyse_geometry(frames)
    except DicomError as exc:
        info.problem, info.problem_kind = exc.reason, ProblemKind.GEOMETRY
        return info
    info.spacing_mm = (geo.slice_spacing_mm, geo.pixel_spacing[0], geo.pixel_spacing[1])
    info.warnings.extend(geo.warnings)
    info.log.extend(geo.log)
    if geo.spacing_problem:
        info.problem, info.problem_kind = geo.spacing_problem, ProblemKind.SLICE_SPACING
    info.derived = _is_derived(frames)
    info.lossy = any(f.lossy for f in frames)
    info.warnings.extend(_content_warnings(frames, header))
    if info.modality not in IMAGE_MODALITIES:
        info.warnings.append(f"modality {info.modality} is not one radgui quantifies")
    if first.samples_per_pixel != 1:
        info.problem = f"colour image ({first.samples_per_pixel} samples per pixel), not a quantitative volume"
        info.problem_kind = ProblemKind.COLOUR
    return info


def _is_derived(frames) -> bool:
    """ImageType DERIVED (value 1) or SECONDARY (value 2)."""
    itype = frames[0].image_type
    return bool(itype) and (itype[0] == "DERIVED" or (len(itype) > 1 and itype[1] == "SECONDARY"))


def _content_warnings(frames, header) -> list[str]:
    out = []
    itype = frames[0].image_type
    if _is_derived(frames):
        joined = "\\".join(itype)
        out.append(f"derived/secondary image (ImageType {joined}): excluded from quantification")
    if any(f.lossy for f in frames):
        out.append("lossy compressed image (LossyImageCompression 01 or a lossy transfer syntax): "
                   "unsuitable for radiomics")
    if len({f.frame_of_reference_uid for f in frames}) > 1:
        out.append("slices carry different FrameOfReferenceUIDs")
    return out


# --------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------
@dataclass
class StackGeometry:
    """Geometry of a stack of 2D frames, sorted along the slice normal."""

    order: list[int]
    positions_mm: np.ndarray  # along the normal, ascending
    row: np.ndarray
    col: np.ndarray
    normal: np.ndarray
    stack_dir: np.ndarray
    pixel_spacing: tuple[float, float]  # (dy, dx) mm
    slice_spacing_mm: float  # nominal step along the normal
    shear_deg: float
    origin: np.ndarray
    spacing_problem: str | None = None
    spacing_kind: str | None = None  # "missing" or "variable"
    warnings: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def analyse_geometry(frames: list[Frame], path: Path | None = None) -> StackGeometry:
    """Sort frames along the slice normal and check the stack.

    Raises
    ------
    DicomError
        No ImagePositionPatient/ImageOrientationPatient/PixelSpacing, one
        image only, or two images at the same position.
    """
    for f in frames:
        missing = [name for name, v in (("ImagePositionPatient", f.ipp), ("ImageOrientationPatient", f.iop),
                                        ("PixelSpacing", f.pixel_spacing)) if v is None]
        if missing:
            where = f.path if f.frame_index is None else f"{f.path} frame {f.frame_index + 1}"
            raise DicomError(f"{where}: no {' or '.join(missing)}; the slice cannot be placed in space", path)
        if f.pixel_spacing[0] <= 0 or f.pixel_spacing[1] <= 0:
            raise DicomError(f"{f.path}: PixelSpacing {f.pixel_spacing} is not positive", path)
    if len(frames) < 2:
        raise DicomError("a single image, not a volume", path)
    iop = frames[0].iop
    row, col = iop[:3] / np.linalg.norm(iop[:3]), iop[3:] / np.linalg.norm(iop[3:])
    if abs(float(row @ col)) > 1e-3:
        raise DicomError(f"{frames[0].path}: ImageOrientationPatient row and column are not orthogonal", path)
    normal = np.cross(row, col)
    d = np.array([float(f.ipp @ normal) for f in frames])
    order = list(np.argsort(d, kind="stable"))
    d_sorted = d[order]
    steps = np.diff(d_sorted)
    log: list[str] = []
    warnings: list[str] = []
    if np.any(steps < 1e-3):
        k = int(np.argmax(steps < 1e-3))
        a, b = frames[order[k]], frames[order[k + 1]]
        raise DicomError(f"two images at the same position ({a.path.name} and {b.path.name}) "
                         "that acquisition number/time cannot separate", path)
    numbers = [frames[i].instance_number for i in order]
    if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
        if numbers != sorted(numbers) and numbers != sorted(numbers, reverse=True):
            log.append("InstanceNumber order differs from slice position order; sorted by position")
    ipp_sorted = np.array([frames[i].ipp for i in order])
    span = ipp_sorted[-1] - ipp_sorted[0]
    stack_dir = span / np.linalg.norm(span)
    shear = float(np.degrees(np.arccos(np.clip(abs(stack_dir @ normal), -1, 1))))
    # in-plane offsets of each slice against the straight stack through the first and last
    nominal = float(np.median(steps))
    info = StackGeometry(order=order, positions_mm=d_sorted, row=row, col=col, normal=normal,
                         stack_dir=stack_dir if shear >= SHEAR_TOL_DEG else normal,
                         pixel_spacing=frames[0].pixel_spacing, slice_spacing_mm=nominal,
                         shear_deg=shear, origin=ipp_sorted[0], warnings=warnings, log=log)
    if shear >= SHEAR_TOL_DEG:
        # each slice must lie on the straight line of the stack, else it is not one shear
        t = (ipp_sorted - ipp_sorted[0]) @ stack_dir
        off = ipp_sorted - ipp_sorted[0] - np.outer(t, stack_dir)
        if np.max(np.linalg.norm(off, axis=1)) > SPACING_TOL_MM:
            raise DicomError("slice positions do not lie on one straight line (irregular stack)", path)
    dev = np.abs(steps - nominal)
    if np.any(dev > SPACING_TOL_MM):
        ratios = steps / nominal
        bad = dev > SPACING_TOL_MM
        multiples = np.abs(ratios[bad] - np.round(ratios[bad])) * nominal <= SPACING_TOL_MM
        k = int(np.argmax(bad))
        where = f"between z={d_sorted[k]:.2f} and {d_sorted[k + 1]:.2f} mm along the slice normal"
        if np.all(multiples) and np.all(np.round(ratios[bad]) >= 2):
            n_missing = int(np.sum(np.round(ratios[bad]) - 1))
            info.spacing_kind = "missing"
            info.spacing_problem = (
                f"{n_missing} missing slice(s): gap of {steps[k]:.2f} mm {where} (nominal {nominal:.2f} mm); "
                f"refused; {RESAMPLE_HINT}")
        else:
            info.spacing_kind = "variable"
            info.spacing_problem = (
                f"variable slice spacing from {steps.min():.2f} to {steps.max():.2f} mm "
                f"(first uneven step {where}); refused, never averaged; {RESAMPLE_HINT}")
    if shear >= SHEAR_TOL_DEG:
        warnings.append(f"gantry tilt / sheared stack of {shear:.2f} degrees")
    return info


# --------------------------------------------------------------------------
# Pixel decoding
# --------------------------------------------------------------------------
def _decoder_available(ts: str) -> bool:
    from pydicom.pixels import get_decoder

    try:
        return bool(get_decoder(ts).is_available)
    except (NotImplementedError, ValueError):
        return False


def _check_decodable(frames: list[Frame], path) -> None:
    for ts in sorted({f.transfer_syntax for f in frames}):
        if ts in _UNCOMPRESSED or _decoder_available(ts):
            continue
        from pydicom.uid import UID

        name = UID(ts).name
        hint = next((h for k, h in _INSTALL_HINT.items() if k.lower() in name.lower()),
                    "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg")
        example = next(f.path for f in frames if f.transfer_syntax == ts)
        raise DicomError(f"{example}: pixel data compressed with {name} ({ts}) and no decoder is installed; "
                         f"install one with: {hint}", path)


def _fast_native(path: Path, fr: Frame) -> np.ndarray | None:
    """Stored values of an uncompressed little-endian single frame, straight from the file tail."""
    if fr.transfer_syntax not in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1") or fr.samples_per_pixel != 1:
        return None
    if fr.bits_allocated not in (8, 16, 32):
        return None
    if fr.bits_stored != fr.bits_allocated and fr.pixel_representation == 1:
        return None
    n = fr.rows * fr.cols * fr.bits_allocated // 8
    raw = path.read_bytes()
    if len(raw) < n + 12:
        return None
    tag = b"\xe0\x7f\x10\x00"
    ln = struct.pack("<I", n)
    start = len(raw) - n
    explicit = raw[start - 12:start] in (tag + b"OW\x00\x00" + ln, tag + b"OB\x00\x00" + ln)
    implicit = raw[start - 8:start] == tag + ln
    if not (explicit or implicit):
        return None
    kind = "i" if fr.pixel_representation == 1 else "u"
    arr = np.frombuffer(raw, dtype=f"<{kind}{fr.bits_allocated // 8}", count=fr.rows * fr.cols, offset=start)
    if fr.bits_stored < fr.bits_allocated:
        arr = arr & ((1 << fr.bits_stored) - 1)
    return arr.reshape(fr.rows, fr.cols)


def _decode_file(path: Path) -> np.ndarray:
    import pydicom

    try:
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array
    except (PermissionError, IsADirectoryError, FileNotFoundError):
        raise  # reported as "cannot read the file (reason)" by _read_frames
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types
        msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if "length" in msg.lower() or "truncat" in msg.lower() or isinstance(exc, EOFError):
            raise DicomError(f"{path}: truncated pixel data ({msg})", path) from None
        raise DicomError(f"{path}: cannot decode the pixel data ({msg})", path) from None
    return arr


def _read_frames(frames: list[Frame], path):
    """Yield (index, stored 2D array) for frames in the given order."""
    cache: dict[Path, np.ndarray] = {}
    for i, fr in enumerate(frames):
        try:
            arr = _read_frame(fr, cache, path)
        except OSError as exc:
            from radgui.files import describe_os_error

            raise DicomError(f"{fr.path}: cannot read the file ({describe_os_error(exc)})", path) from None
        if arr.shape != (fr.rows, fr.cols):
            raise DicomError(f"{fr.path}: pixel data of shape {arr.shape} but Rows x Columns is "
                             f"{fr.rows} x {fr.cols}", path)
        yield i, arr


def _read_frame(fr: Frame, cache: dict, path) -> np.ndarray:
    """Stored values of one frame (multi-frame files decoded once, kept in ``cache``)."""
    if fr.frame_index is None:
        arr = _fast_native(fr.path, fr)
        return _decode_file(fr.path) if arr is None else arr
    if fr.path not in cache:
        cache.clear()
        cache[fr.path] = _decode_file(fr.path)
    full = cache[fr.path]
    if full.ndim == 2:
        full = full[None]
    if fr.frame_index >= full.shape[0]:
        raise DicomError(f"{fr.path}: truncated pixel data (frame {fr.frame_index + 1} missing)", path)
    return full[fr.frame_index]


def estimate_bytes(series: SeriesInfo, float_output: bool = True) -> int:
    """Bytes the decoded volume needs, from the header alone."""
    return len(series.frames) * series.rows * series.cols * (4 if float_output else 2)


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------
def iter_load_series(series: SeriesInfo, *, suv: bool = True, suv_type: str = "bw",
                     suv_user_values: dict | None = None, resample_spacing: bool = False,
                     tilt: str = "resample", memory_budget_bytes: int | None = None):
    """Assemble one series into a :class:`~radgui.io.volume.Volume` (generator).

    Parameters
    ----------
    series : SeriesInfo
        From :func:`scan_dicom`.
    suv : bool
        PET only: convert to SUV (default). False keeps activity values
        (after RescaleSlope) and records that in a warning.
    suv_type : {"bw", "lbm_james", "lbm_janma", "bsa", "ibw"}
        Which SUV normalisation; see :func:`radgui.io.suv.suv_factors`.
    suv_user_values : dict, optional
        Values typed by the user when tags are missing (``weight_kg``,
        ``dose_bq``, ``injection_datetime``, ``half_life_s``, ``height_m``,
        ``sex``); they are recorded as user-entered in ``meta["suv"]``.
    resample_spacing : bool
        Missing slices or uneven spacing are refused unless this is True;
        then the stack is interpolated linearly onto an even grid along the
        slice normal and a warning says so.
    tilt : {"resample", "refuse"}
        What to do with a gantry-tilted (sheared) stack: resample it onto an
        axis-aligned grid (linear, with a warning) or refuse.
    memory_budget_bytes : int, optional
        Refuse before decoding when the header implies more (default 4 GiB,
        or the ``RADGUI_MEMORY_BUDGET_GB`` environment variable).

    Yields
    ------
    Step
        One per slice decoded.

    Returns
    -------
    Volume
        Canonical LPS orientation; CT in HU, PET in SUV (``meta["suv"]``).
    """
    from radgui.io.volume import Volume, canonicalize

    where = series.root
    if series.problem and not (resample_spacing and series.resamplable):
        cls = SliceSpacingError if series.resamplable else DicomError
        raise cls(f"series {series.uid} ({series.description or series.modality}): {series.problem}", where)
    frames_all = series.frames
    geo = analyse_geometry(frames_all, where)
    frames = [frames_all[i] for i in geo.order]
    is_pet = series.modality == "PT"
    slopes = np.array([f.slope for f in frames], float)
    intercepts = np.array([f.intercept for f in frames], float)
    integer_ok = (not is_pet and np.all(slopes == 1.0) and np.all(intercepts == np.round(intercepts))
                  and frames[0].bits_allocated <= 16)
    budget = memory_budget(memory_budget_bytes)
    need = estimate_bytes(series, float_output=not integer_ok)
    if need > budget:
        raise MemoryBudgetError(
            f"series {series.uid}: {len(frames)} images of {series.rows}x{series.cols} need "
            f"{need / 1024**3:.2f} GiB, over the memory budget of {budget / 1024**3:.2f} GiB "
            "(raise it with memory_budget_bytes= or RADGUI_MEMORY_BUDGET_GB)", where)
    _check_decodable(frames, where)
    if tilt not in ("resample", "refuse"):
        raise ValueError("tilt must be 'resample' or 'refuse'")
    if geo.shear_deg >= SHEAR_TOL_DEG and tilt == "refuse":
        raise DicomError(f"series {series.uid}: gantry tilt / sheared stack of {geo.shear_deg:.2f} degrees; "
                         "refused (load with tilt='resample' to resample onto an axis-aligned grid)", where)
    warnings = list(series.warnings)
    log = list(series.log)
    suv_record = None
    factors = None
    if is_pet and suv:
        from radgui.io.suv import suv_factors

        factors, suv_record = suv_factors(series.header, frames, suv_type=suv_type,
                                          user_values=suv_user_values, path=where)
        warnings.extend(suv_record.get("warnings", []))
    elif is_pet:
        warnings.append("PET values kept as stored units after RescaleSlope (no SUV conversion)")
    shape = (len(frames), series.rows, series.cols)
    out = np.empty(shape, np.int16 if integer_ok else np.float32)
    total = len(frames)
    for i, stored in _read_frames(frames, where):
        if i % 8 == 0:
            yield Step(i, total, f"decoding slice {i + 1}/{total}")
        if integer_ok:
            if intercepts[i] == 0:
                if stored.dtype == np.int16 or (stored.dtype.itemsize == 1):
                    out[i] = stored
                    continue
            vals = stored.astype(np.int32) + int(intercepts[i])
            if vals.min(initial=0) < -32768 or vals.max(initial=0) > 32767:
                out = out.astype(np.float32)
                integer_ok = False
            out[i] = vals
        else:
            sl = stored.astype(np.float32)
            if slopes[i] != 1.0:
                sl *= np.float32(slopes[i])
            if intercepts[i] != 0.0:
                sl += np.float32(intercepts[i])
            if factors is not None:
                sl *= np.float32(factors[i])
            out[i] = sl
    yield Step(total, total, "building the volume")
    if len(set(slopes)) > 1 or len(set(intercepts)) > 1:
        log.append("RescaleSlope/Intercept vary between slices: applied per slice in float32")
    positions = geo.positions_mm
    if geo.spacing_problem:
        out, positions, target = _resample_even(out, positions, geo)
        warnings.append(f"{geo.spacing_problem.split(';')[0]}: resampled on request to an even spacing of "
                        f"{target:.3f} mm (linear interpolation along the slice normal)")
    step_along_stack = (positions[-1] - positions[0]) / (len(positions) - 1) / abs(float(geo.stack_dir @ geo.normal))
    image = sitk.GetImageFromArray(out)
    image.SetSpacing((geo.pixel_spacing[1], geo.pixel_spacing[0], float(step_along_stack)))
    image.SetOrigin(tuple(float(v) for v in geo.origin))
    direction = np.column_stack([geo.row, geo.col, geo.stack_dir])
    image.SetDirection(tuple(direction.ravel()))
    if geo.shear_deg >= SHEAR_TOL_DEG:
        image = resample_axis_aligned(image)
        warnings.append(f"gantry tilt / sheared stack of {geo.shear_deg:.2f} degrees: resampled onto an "
                        "axis-aligned grid (linear interpolation)")
        warnings = [w for w in warnings if w != f"gantry tilt / sheared stack of {geo.shear_deg:.2f} degrees"]
    canonical, record = canonicalize(image, where)
    files = [str(f.path) for f in frames]
    meta: dict[str, Any] = {
        "source": str(Path(where).resolve()) if where is not None else "",
        "name": series.description or f"{series.modality} {series.number}".strip(),
        "reorientation": record,
        "warnings": list(dict.fromkeys(warnings)),
        "log": log,
        "modality_source": "DICOM Modality",
        "quantitative": not (series.derived or any(f.lossy for f in frames)),
        "lossy": any(f.lossy for f in frames),
        "derived": series.derived,
        # Interpolated on loading (uneven slices on request, or a gantry tilt): not the stored slices.
        "resampled": bool(geo.spacing_problem) or geo.shear_deg >= SHEAR_TOL_DEG,
        "dicom": {
            "series_uid": series.series_uid, "key": series.uid, "study_uid": series.study_uid,
            "frame_of_reference_uid": series.frame_of_reference_uid,
            "sop_instance_uids": [f.sop_uid for f in frames],
            "frame_indices": [f.frame_index for f in frames],
            "files": files, "description": series.description, "date": series.date,
            "time": series.time, "shear_deg": geo.shear_deg,
            "rescale_slopes_vary": bool(len(set(slopes)) > 1),
        },
    }
    if is_pet:
        meta["units"] = "SUV" if suv_record else str(series.header.get("Units", "") or "")
        if suv_record:
            meta["suv"] = suv_record
    elif series.modality == "CT":
        meta["units"] = "HU"
    modality = series.modality if series.modality in ("CT", "MR", "PT") else "OT"
    return Volume(canonical, modality, meta)


def _resample_even(arr: np.ndarray, positions: np.ndarray, geo: StackGeometry):
    """Linear interpolation along the slice axis onto an even grid."""
    steps = np.diff(positions)
    target = geo.slice_spacing_mm if geo.spacing_kind == "missing" else float(steps.min())
    n = int(np.floor((positions[-1] - positions[0]) / target + 1e-6)) + 1
    t = positions[0] + target * np.arange(n)
    idx = np.clip(np.searchsorted(positions, t, side="right") - 1, 0, len(positions) - 2)
    w = ((t - positions[idx]) / (positions[idx + 1] - positions[idx])).astype(np.float32)
    a = arr.astype(np.float32, copy=False)
    out = a[idx] * (1 - w)[:, None, None] + a[idx + 1] * w[:, None, None]
    return out.astype(np.float32), t, target


def resample_axis_aligned(image: sitk.Image, default_value: float | None = None) -> sitk.Image:
    """Resample an image with any direction (sheared or oblique) onto an axis-aligned LPS grid.

    The grid covers the image's physical bounding box; each LPS axis takes the
    spacing of the image axis closest to it. Linear interpolation; outside
    the image the minimum value is used (air for CT, 0 for PET).
    """
    size = np.asarray(image.GetSize())
    corners = [image.TransformContinuousIndexToPhysicalPoint([float(c * (s - 1)) for c, s in zip(corner, size)])
               for corner in np.ndindex(2, 2, 2)]
    corners = np.asarray(corners)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    spacing_in = np.asarray(image.GetSpacing())
    spacing = np.array([spacing_in[int(np.argmax(np.abs(direction[j])))] for j in range(3)])
    n = np.floor((hi - lo) / spacing + 1e-6).astype(int) + 1
    if default_value is None:
        mm = sitk.MinimumMaximumImageFilter()
        mm.Execute(image)
        default_value = mm.GetMinimum()
    ref = sitk.Image([int(v) for v in n], sitk.sitkFloat32)
    ref.SetSpacing(tuple(float(v) for v in spacing))
    ref.SetOrigin(tuple(float(v) for v in lo))
    ref.SetDirection(tuple(np.eye(3).ravel()))
    return sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), ref, sitk.Transform(), sitk.sitkLinear,
                         float(default_value), sitk.sitkFloat32)


# --------------------------------------------------------------------------
# Public blocking API
# --------------------------------------------------------------------------
def scan_dicom(path: str | Path) -> DicomScan:
    """Blocking twin of :func:`iter_scan_dicom`."""
    return run(iter_scan_dicom(path))


def list_series(path: str | Path) -> list[SeriesInfo]:
    """The image series in a folder (recursively), DICOMDIR or file, one :class:`SeriesInfo` each."""
    return scan_dicom(path).series


def load_series(series: SeriesInfo, **kwargs) -> Any:
    """Blocking twin of :func:`iter_load_series`."""
    return run(iter_load_series(series, **kwargs))


def choose_series(scan: DicomScan, series_uid: str | None = None) -> SeriesInfo:
    """The series to load: the only one, or the one named by ``series_uid``.

    Raises
    ------
    SeriesChoiceError
        Several series and none named; the message lists them.
    DicomError
        No image series at all (the message counts what was skipped).
    """
    if series_uid is not None:
        return scan.find(series_uid)
    if not scan.series:
        skipped = ", ".join(f"{n} {what}" for what, n in scan.skipped.items()) or "no files"
        masks = f"; {len(scan.masks)} segmentation object(s)" if scan.masks else ""
        raise DicomError(f"no DICOM image series found (skipped: {skipped}{masks})", scan.root)
    if len(scan.series) > 1:
        raise SeriesChoiceError(
            f"{len(scan.series)} series found; pick one with series_uid=: {_series_list(scan.series)}",
            scan.root, scan.series)
    return scan.series[0]


def iter_load_dicom_volume(path: str | Path, series_uid: str | None = None, **kwargs):
    """Scan ``path`` and load one series (generator twin of :func:`load_dicom_volume`)."""
    scan = yield from iter_scan_dicom(path)
    series = choose_series(scan, series_uid)
    volume = yield from iter_load_series(series, **kwargs)
    volume.meta["scan_skipped"] = dict(scan.skipped)
    return volume


def load_dicom_volume(path: str | Path, series_uid: str | None = None, modality: str | None = None,
                      **kwargs) -> Any:
    """Load a DICOM folder, DICOMDIR or single .dcm file as a Volume.

    One series: it is loaded. Several: :class:`~radgui.errors.SeriesChoiceError`
    lists them, and ``series_uid=`` picks one. Keyword arguments go to
    :func:`iter_load_series`. ``modality`` is ignored (DICOM says it).
    """
    path = Path(path)
    if path.is_file() and path.name.upper() != "DICOMDIR":
        # a single file: load the series it belongs to, from its folder
        try:
            ds = _read_header(path)
        except OSError as exc:
            from radgui.files import describe_os_error

            raise InputFileError(f"cannot read the file ({describe_os_error(exc)})", path) from None
        if ds is None:
            raise InputFileError("not a DICOM file", path)
        scan = scan_dicom(path.parent)
        if series_uid is None:  # the series (or the part of a split series) this file belongs to
            here = os.path.abspath(path)
            mine = [s for s in scan.series if any(os.path.abspath(f.path) == here for f in s.frames)]
            series = mine[0] if len(mine) == 1 else choose_series(scan, str(ds.get("SeriesInstanceUID", "")))
        else:
            series = choose_series(scan, series_uid)
        return load_series(series, **kwargs)
    return run(iter_load_dicom_volume(path, series_uid, **kwargs))
