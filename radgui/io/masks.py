"""Mask files of other tools: which kind a file is, its segment names, and where each segment lives.

:func:`radgui.io.volume.load_mask` is the one mask reader of every entry point
(GUI, ``radgui extract``, ``roi``, ``predict``, cohort manifests, studies). It
asks this module what a file is and how to find one named segment in it:

* NRRD / NIfTI / MHA label maps (no names: the ROI is a label value);
* 3D Slicer ``.seg.nrrd``, single-layer (one label value per segment) and
  layered (overlapping segments: one layer per group of disjoint segments),
  segment names from the ``SegmentN_Name`` header fields;
* ITK-SNAP label description files (``IDX R G B A VIS MSH "LABEL"`` lines),
  naming the labels of a label map (``label_names=``);
* DICOM-SEG and RTSTRUCT (:mod:`radgui.io.seg`), read onto the image.

A segment is chosen by name with ``path#name`` (``--roi tumour=RS.dcm#GTV``)
or ``segment=``. Whatever is read then passes the mask rule of
:func:`radgui.io.volume.label_values` / :func:`~radgui.io.volume.choose_label`
and the geometry check against the image.

:func:`write_slicer_seg` writes a ``.seg.nrrd`` that 3D Slicer opens as a
segmentation with the ROI names (layered when ROIs overlap).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radgui.errors import InputFileError, MaskLabelError

#: Largest ITK-SNAP label description file read (bytes).
MAX_LABEL_FILE_BYTES = 1024 * 1024

#: Most segments a Slicer header or label description may declare.
MAX_SEGMENTS = 1024

_ITKSNAP_LINE = re.compile(
    r'^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9.eE+-]+)\s+(\d+)\s+(\d+)\s+"([^"\r\n]*)"\s*$')


def split_segment(path: str | Path) -> tuple[Path, str | None]:
    """``"RS.dcm#GTV"`` -> ``(Path("RS.dcm"), "GTV")``; a path that exists as given is not split."""
    text = str(path)
    p = Path(text)
    if "#" in p.name and not p.exists():
        base, name = text.rsplit("#", 1)
        if not name.strip():
            raise InputFileError("names no segment after '#'", base)
        return Path(base), name.strip()
    return p, None


def is_dicom_file(path: Path) -> bool:
    """A DICOM Part 10 file (``DICM`` at byte 128) or a ``.dcm`` file."""
    if path.suffix.lower() == ".dcm":
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def is_slicer_seg(path: Path) -> bool:
    """A 3D Slicer segmentation: a ``.seg.nrrd`` file, or a NRRD whose header has ``Segment0_`` fields."""
    name = path.name.lower()
    if name.endswith(".seg.nrrd"):
        return True
    if not name.endswith((".nrrd", ".nhdr")):
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    return b"\nSegment0_" in head.split(b"\n\n", 1)[0]


def slicer_segments(reader: sitk.ImageFileReader, path: Path) -> dict[str, tuple[int, int]]:
    """Segment name -> (layer, label value) from a Slicer header (read with ``ReadImageInformation``)."""
    keys = set(reader.GetMetaDataKeys())
    out: dict[str, tuple[int, int]] = {}
    for k in range(MAX_SEGMENTS + 1):
        if f"Segment{k}_ID" not in keys and f"Segment{k}_Name" not in keys:
            break
        if k == MAX_SEGMENTS:
            raise InputFileError(f"declares more than {MAX_SEGMENTS} segments", path)
        name = reader.GetMetaData(f"Segment{k}_Name") if f"Segment{k}_Name" in keys else \
            reader.GetMetaData(f"Segment{k}_ID")
        try:
            layer = int(reader.GetMetaData(f"Segment{k}_Layer")) if f"Segment{k}_Layer" in keys else 0
            value = int(reader.GetMetaData(f"Segment{k}_LabelValue")) if f"Segment{k}_LabelValue" in keys else 1
        except ValueError:
            raise InputFileError(f"segment {k} ({name!r}) has a layer or label value that is not a whole "
                                 "number", path) from None
        if layer < 0 or not 0 < value <= 65535:
            raise InputFileError(f"segment {k} ({name!r}) has layer {layer} and label value {value}; expected "
                                 "a layer >= 0 and a label 1-65535", path)
        if name in out:
            raise InputFileError(f"two segments are named {name!r}; rename one in Slicer", path)
        out[name] = (layer, value)
    return out


def read_label_descriptions(path: str | Path) -> dict[str, int]:
    """An ITK-SNAP label description file: label name -> label value (label 0, "Clear Label", left out).

    Raises
    ------
    InputFileError
        Missing, too large, or a line that is neither a comment, blank, nor
        ``IDX R G B A VIS MSH "LABEL"`` (the line number is named); two labels
        with one name.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError("no such label description file", path)
    if path.stat().st_size > MAX_LABEL_FILE_BYTES:
        raise InputFileError(f"label description file is over {MAX_LABEL_FILE_BYTES // 1024} KiB", path)
    text = path.read_bytes().decode("utf-8", errors="replace")
    out: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _ITKSNAP_LINE.match(line)
        if not m:
            shown = line.strip()[:40]
            raise InputFileError(f"line {n} is not an ITK-SNAP label description (IDX R G B A VIS MSH \"LABEL\"): "
                                 f"{shown!r}", path)
        value, name = int(m.group(1)), m.group(8)
        if value == 0:
            continue
        if value > 65535:
            raise InputFileError(f"line {n}: label {value} is over 65535", path)
        if name in out:
            raise InputFileError(f"line {n}: two labels are named {name!r}", path)
        if len(out) >= MAX_SEGMENTS:
            raise InputFileError(f"declares more than {MAX_SEGMENTS} labels", path)
        out[name] = value
    if not out:
        raise InputFileError("label description file names no label", path)
    return out


def write_label_descriptions(names: dict[str, int], path: str | Path) -> Path:
    """Write an ITK-SNAP label description file (label value -> name), e.g. beside a label map from
    :func:`radgui.io.save_mask`. Quotes and line breaks in names are replaced by spaces."""
    from radgui.files import write_text

    palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]
    lines = ["################################################", "# ITK-SnAP Label Description File",
             "# written by radgui", "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL",
             "################################################",
             '    0     0    0    0        0  0  0    "Clear Label"']
    seen = set()
    for k, (name, value) in enumerate(names.items()):
        value = int(value)
        if not 0 < value <= 65535 or value in seen:
            raise MaskLabelError(f"label {value} of {name!r} is not a distinct label 1-65535")
        seen.add(value)
        r, g, b = palette[k % len(palette)]
        safe = re.sub(r'["\r\n\x00]', " ", str(name))
        lines.append(f'{value:5d} {r:5d} {g:4d} {b:4d}        1  1  1    "{safe}"')
    return write_text(path, "\n".join(lines) + "\n")


def pick_segment(names, segment: str | None, path: Path, what: str = "segment", note: str = ""):
    """The one segment asked for (by name), else the only one; otherwise a one-line refusal naming them."""
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
    if segment is not None:
        if segment not in names:
            raise MaskLabelError(f"has no {what} named {segment!r} ({what}s: {shown or 'none'})", path)
        return segment
    if len(names) == 1:
        return names[0]
    raise MaskLabelError(f"{note}holds {len(names)} {what}s ({shown}); choose one with {path.name}#NAME", path)


def _safe_header_value(text: str) -> str:
    return re.sub(r"[\r\n\x00]", " ", str(text))


def slicer_layers(masks: dict[str, np.ndarray]) -> list[list[str]]:
    """Group ROIs into layers of mutually disjoint ROIs (greedy, in order)."""
    layers: list[tuple[np.ndarray, list[str]]] = []
    for name, arr in masks.items():
        for occupied, names in layers:
            if not (occupied & arr).any():
                occupied |= arr
                names.append(name)
                break
        else:
            layers.append((arr.copy(), [name]))
    return [names for _, names in layers]


def write_slicer_seg(masks: dict, like, path: str | Path) -> Path:
    """Write ROIs as a 3D Slicer segmentation (``.seg.nrrd``), segment names kept.

    Disjoint ROIs share a layer (one label value each); overlapping ROIs go to
    further layers (a 4D ``list domain domain domain`` NRRD, as Slicer writes).

    Parameters
    ----------
    masks : dict of str -> SimpleITK.Image or ndarray
        ROI name -> mask on ``like``'s grid (voxels > 0 inside).
    like : Volume
    path : str or Path
        Output ``.seg.nrrd``.
    """
    from radgui.files import atomic_path
    from radgui.io.volume import mask_to_array

    if not masks:
        raise ValueError("no ROI to write")
    ref = like.image
    shape = tuple(reversed(ref.GetSize()))
    arrays = {}
    for name, m in masks.items():
        arr = mask_to_array(m) if isinstance(m, sitk.Image) else np.asarray(m)
        if arr.shape != shape:
            raise MaskLabelError(f"ROI '{name}' is {arr.shape} (z,y,x) but the image is {shape}")
        arrays[str(name)] = arr > 0
    groups = slicer_layers(arrays)
    data = np.zeros((*shape, len(groups)), np.uint8)
    header_segments = []
    k = 0
    for layer, names in enumerate(groups):
        for value, name in enumerate(names, start=1):
            data[..., layer][arrays[name]] = value
            header_segments.append((k, name, layer, value))
            k += 1
    sx, sy, sz = ref.GetSpacing()
    ox, oy, oz = ref.GetOrigin()
    single = len(groups) == 1
    lines = ["NRRD0004", "# radgui segmentation", "type: unsigned char",
             f"dimension: {3 if single else 4}", "space: left-posterior-superior",
             "sizes: " + " ".join(str(v) for v in ([] if single else [len(groups)]) + list(ref.GetSize())),
             "space directions: " + ("" if single else "none ") + f"({sx!r},0,0) (0,{sy!r},0) (0,0,{sz!r})",
             "kinds: " + ("" if single else "list ") + "domain domain domain",
             "endian: little", "encoding: gzip", f"space origin: ({ox!r},{oy!r},{oz!r})",
             "Segmentation_MasterRepresentation:=Binary labelmap",
             "Segmentation_ContainedRepresentationNames:=Binary labelmap|",
             "Segmentation_ReferenceImageExtentOffset:=0 0 0"]
    palette = [(0.5, 0.68, 0.5), (0.94, 0.84, 0.57), (0.69, 0.48, 0.39), (0.44, 0.72, 0.82), (0.85, 0.4, 0.4)]
    extent = f"0 {shape[2] - 1} 0 {shape[1] - 1} 0 {shape[0] - 1}"
    for k, name, layer, value in header_segments:
        r, g, b = palette[k % len(palette)]
        safe = _safe_header_value(name)
        lines += [f"Segment{k}_Color:={r} {g} {b}", f"Segment{k}_ColorAutoGenerated:=1",
                  f"Segment{k}_Extent:={extent}", f"Segment{k}_ID:={safe}", f"Segment{k}_LabelValue:={value}",
                  f"Segment{k}_Layer:={layer}", f"Segment{k}_Name:={safe}", f"Segment{k}_NameAutoGenerated:=0",
                  f"Segment{k}_Tags:=|"]
    body = np.ascontiguousarray(data[..., 0] if single else data).tobytes()
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(("\n".join(lines) + "\n\n").encode("utf-8"))
            fh.write(gzip.compress(body, compresslevel=6))
    return path
