"""The ``.radgui`` session file: save and reopen a piece of work.

A session is a zip archive holding ``manifest.json`` (versioned, see
:data:`SCHEMA_VERSION` and :data:`MIGRATIONS`) and one label map per ROI
(``rois/<n>.nrrd``, the image's geometry). Images are referenced, not copied:
their path (absolute, and relative to the session file), their DICOM series
and study UIDs and their hash. See ``docs/study.md`` for the format.

The engine is Qt-free: a GUI turns its layers into :meth:`Session.set_roi`
calls, reads :attr:`Session.dirty` to prompt on close, and on reopening asks
for the images listed in :attr:`Session.missing_images` (or passes a
``resolver`` to :func:`open_session`) and calls :func:`relocate`.
"""

from __future__ import annotations

import copy
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radgui.errors import RadguiError, SessionError

FORMAT = "radgui-session"
#: Schema of the manifest this radgui writes; older ones are migrated, newer ones refused.
SCHEMA_VERSION = 1
SUFFIX = ".radgui"
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
MAX_ROIS = 255
MAX_IMAGES = 64

#: Migration rules, ``{from_version: function(manifest) -> manifest of from_version + 1}``.
#: Rules (see docs/study.md): a migration never drops the user's data; keys it
#: does not know are kept; a file whose version is above :data:`SCHEMA_VERSION`
#: is refused (never half-read); version 1 is the first, so the table is empty.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ImageRef:
    """Where an image of the session is: path and DICOM identity.

    ``path`` is the file (or DICOM folder, with ``series_uid``) as last known.
    """

    key: str
    path: str
    series_uid: str = ""
    study_uid: str = ""
    modality: str = ""
    hash: str = ""

    def to_dict(self, base: Path | None = None) -> dict:
        doc = {"key": self.key, "path": str(self.path), "series_uid": self.series_uid,
               "study_uid": self.study_uid, "modality": self.modality, "hash": self.hash}
        if base is not None:
            try:
                doc["relative_path"] = os.path.relpath(self.path, base)
            except ValueError:  # pragma: no cover - another drive on Windows
                doc["relative_path"] = ""
        return doc

    @classmethod
    def from_volume(cls, key: str, volume) -> ImageRef:
        """The reference of a loaded :class:`radgui.io.Volume`."""
        meta = volume.meta or {}
        dicom = meta.get("dicom") if isinstance(meta.get("dicom"), Mapping) else {}
        return cls(key=key, path=str(meta.get("source", "")),
                   series_uid=str(dicom.get("key") or dicom.get("series_uid") or ""),
                   study_uid=str(dicom.get("study_uid") or ""),
                   modality=str(volume.modality), hash=volume.hash())


@dataclass
class RoiLayer:
    """One ROI: a label map with its geometry, the image it belongs to and its label value."""

    name: str
    mask: sitk.Image
    image: str = "image"
    label: int = 1

    @property
    def array(self) -> np.ndarray:
        """The label map as a (z, y, x) numpy copy."""
        return sitk.GetArrayFromImage(self.mask)


def _as_mask(mask, like) -> sitk.Image:
    if isinstance(mask, sitk.Image):
        return mask
    from radgui.io import mask_from_array

    if like is None:
        raise SessionError("a numpy ROI needs `like` (the Volume or image it was drawn on)")
    arr = np.asarray(mask)
    ref = like.image if hasattr(like, "image") else like
    kind = np.uint16 if arr.size and arr.max() > 255 else np.uint8
    if kind is np.uint16:
        img = sitk.GetImageFromArray(arr.astype(np.uint16))
        img.CopyInformation(ref)
        return img
    return mask_from_array(arr, ref)


@dataclass
class Session:
    """Everything needed to reopen a piece of work.

    Attributes
    ----------
    images : dict of str to ImageRef
    rois : dict of str to RoiLayer
    rings : dict
        Ring parameters (e.g. ``{"distances_mm": [3, 6], "inside": false}``).
    clinical : dict
        Clinical inputs as entered.
    model : dict or None
        The chosen model: ``{"bundle": "demo" or a path, "name": ...}``.
    prediction : dict or None
        The last prediction (``Prediction.to_dict()``).
    view, panels : dict
        Viewer state and dock settings, kept as given (JSON values).
    missing_images : list of str
        After :func:`open_session`: keys of images found nowhere.
    path : Path or None
        Where the session was last saved or opened from.
    changes : int
        Change counter: every edit adds one; :attr:`dirty` compares it with the last save.
    """

    images: dict[str, ImageRef] = field(default_factory=dict)
    rois: dict[str, RoiLayer] = field(default_factory=dict)
    rings: dict = field(default_factory=dict)
    clinical: dict = field(default_factory=dict)
    model: dict | None = None
    prediction: dict | None = None
    view: dict = field(default_factory=dict)
    panels: dict = field(default_factory=dict)
    missing_images: list[str] = field(default_factory=list)
    path: Path | None = None
    changes: int = 0
    saved_changes: int = 0
    saved_at: str | None = None

    # -- change tracking ------------------------------------------------
    @property
    def dirty(self) -> bool:
        """True when there are changes since the last save (the GUI prompts on close)."""
        return self.changes != self.saved_changes

    def mark_changed(self) -> None:
        """Record one change (every setter calls it)."""
        self.changes += 1

    def mark_saved(self) -> None:
        self.saved_changes = self.changes

    # -- edits -----------------------------------------------------------
    def add_image(self, key: str, volume_or_ref) -> ImageRef:
        """Reference an image (a loaded Volume, or an ImageRef)."""
        ref = volume_or_ref if isinstance(volume_or_ref, ImageRef) else ImageRef.from_volume(key, volume_or_ref)
        ref.key = key
        self.images[key] = ref
        self.mark_changed()
        return ref

    def set_roi(self, name: str, mask, like=None, image: str | None = None, label: int | None = None) -> RoiLayer:
        """Add or replace a ROI from a SimpleITK label map or a (z, y, x) array drawn on ``like``."""
        if not isinstance(name, str) or not name.strip() or len(name) > 128:
            raise SessionError(f"ROI name {name!r} must be a non-empty text of at most 128 characters")
        if name not in self.rois and len(self.rois) >= MAX_ROIS:
            raise SessionError(f"a session holds at most {MAX_ROIS} ROIs")
        img = _as_mask(mask, like)
        if image is None:
            image = self.rois[name].image if name in self.rois else (next(iter(self.images), "image"))
        if label is None:
            from radgui.io import label_values

            labels = label_values(sitk.GetArrayViewFromImage(img), name)
            label = int(labels[0]) if len(labels) == 1 else 1
        layer = RoiLayer(name, img, image, int(label))
        self.rois[name] = layer
        self.mark_changed()
        return layer

    def remove_roi(self, name: str) -> None:
        if name not in self.rois:
            raise SessionError(f"no ROI named {name!r}; ROIs are {', '.join(self.rois) or 'none'}")
        del self.rois[name]
        self.mark_changed()

    def update(self, **fields) -> None:
        """Set ``rings``, ``clinical``, ``model``, ``prediction``, ``view`` or ``panels`` (one change)."""
        allowed = {"rings", "clinical", "model", "prediction", "view", "panels"}
        unknown = set(fields) - allowed
        if unknown:
            raise SessionError(f"unknown session field(s) {', '.join(sorted(unknown))}; "
                               f"use {', '.join(sorted(allowed))}")
        for k, v in fields.items():
            setattr(self, k, copy.deepcopy(v))
        self.mark_changed()

    def check_image(self, key: str, volume, tol_mm: float = 1e-3) -> list[str]:
        """Check a (re)loaded image against the session: its ROIs' grids must match.

        Returns warnings (the voxels differ from the saved hash: another
        image, or re-exported). Raises
        :class:`~radgui.errors.GeometryMismatchError` when a ROI of this image
        is on another grid (the wrong image was picked).
        """
        from radgui.errors import GeometryMismatchError
        from radgui.io import grid_mismatch_mm

        ref = self.images.get(key)
        if ref is None:
            raise SessionError(f"no image {key!r} in the session")
        for layer in self.rois.values():
            if layer.image == key and grid_mismatch_mm(layer.mask, volume.image) > tol_mm:
                raise GeometryMismatchError(f"ROI {layer.name!r} does not lie on the grid of this image: is it "
                                            f"the image {key!r} of the session?", volume.meta.get("source"))
        if ref.hash and volume.hash() != ref.hash:
            return [f"image {key!r} differs from the one the session was saved with (voxels or geometry)"]
        return []

    def image_path(self, key: str) -> Path:
        """The image's path, refused when it is missing (ask the user, then :func:`relocate`)."""
        if key not in self.images:
            raise SessionError(f"no image {key!r} in the session")
        if key in self.missing_images:
            raise SessionError(f"image {key!r} was not found at {self.images[key].path}; locate it (relocate)")
        return Path(self.images[key].path)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------
def _geometry(img: sitk.Image) -> dict:
    return {"size": [int(v) for v in img.GetSize()], "spacing": [float(v) for v in img.GetSpacing()],
            "origin": [float(v) for v in img.GetOrigin()], "direction": [float(v) for v in img.GetDirection()]}


def _check_json(value, what: str):
    import json

    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SessionError(f"{what} cannot be saved ({exc})") from None


def manifest_of(session: Session, base: Path | None, extra: Mapping | None = None) -> dict:
    rois = []
    for i, layer in enumerate(session.rois.values()):
        rois.append({"name": layer.name, "file": f"rois/{i:03d}.nrrd", "image": layer.image, "label": layer.label,
                     "geometry": _geometry(layer.mask)})
    doc = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "radgui_version": _version(), "saved_at": _now(),
           "images": [ref.to_dict(base) for ref in session.images.values()], "rois": rois,
           "rings": session.rings, "clinical": session.clinical, "model": session.model,
           "prediction": session.prediction, "view": session.view, "panels": session.panels}
    for key in ("rings", "clinical", "model", "prediction", "view", "panels"):
        _check_json(doc[key], f"session {key}")
    if extra:
        doc.update(extra)
    return doc


def _version() -> str:
    from radgui import __version__

    return __version__


def write_session_file(session: Session, path: str | Path, extra: Mapping | None = None) -> Path:
    """Write ``session`` to ``path`` atomically (temp file + fsync + rename); does not touch ``dirty``."""
    import json

    from radgui.files import atomic_path
    from radgui.io import save_mask

    path = Path(path)
    doc = manifest_of(session, path.resolve().parent, extra)
    with tempfile.TemporaryDirectory(prefix="radgui-session-") as tmpdir:
        files = []
        for entry, layer in zip(doc["rois"], session.rois.values()):
            local = Path(tmpdir) / entry["file"].replace("/", "_")
            save_mask(layer.mask, local)
            files.append((local, entry["file"]))
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w") as zf:
                zf.writestr(MANIFEST, json.dumps(doc, indent=1, allow_nan=False), zipfile.ZIP_DEFLATED)
                for local, name in files:
                    zf.write(local, name, zipfile.ZIP_STORED)
    return path


def save_session(session: Session, path: str | Path) -> Path:
    """Save (Save session): writes ``path`` atomically, then clears :attr:`Session.dirty`."""
    path = Path(path)
    if not path.name.endswith(SUFFIX):
        raise SessionError(f"a session file ends in {SUFFIX}", path)
    changes = session.changes
    write_session_file(session, path)
    session.path = path
    session.saved_changes = changes
    return path


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------
def _migrate(doc: dict, path: Path) -> dict:
    version = doc.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SessionError(f"session manifest has no valid schema_version (got {version!r})", path)
    if version > SCHEMA_VERSION:
        raise SessionError(f"session schema version {version} is from a newer radgui (this one reads up to "
                           f"{SCHEMA_VERSION}); update radgui to open it", path)
    while version < SCHEMA_VERSION:
        doc = MIGRATIONS[version](doc)
        version += 1
        doc["schema_version"] = version
    return doc


def _want(doc, key, types, path, where="session manifest", optional=False, default=None):
    if key not in doc:
        if optional:
            return default
        raise SessionError(f"{where} lacks {key!r}", path)
    value = doc[key]
    if value is None and optional:
        return default
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise SessionError(f"{where}: {key!r} has the wrong type", path)
    if not isinstance(value, types):
        raise SessionError(f"{where}: {key!r} must be {_type_words(types)}, got {type(value).__name__}", path)
    return value


def _type_words(types) -> str:
    names = {dict: "an object", list: "a list", str: "a text", int: "a whole number", float: "a number"}
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(names.get(t, t.__name__) for t in types)


def read_manifest(zf, path: Path) -> dict:
    from radgui.untrusted import load_json

    raw = zf.read(MANIFEST, MAX_MANIFEST_BYTES)
    doc = load_json(raw, f"{path}:{MANIFEST}", max_bytes=MAX_MANIFEST_BYTES)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SessionError(f"{MANIFEST} is not a radgui session manifest (format must be {FORMAT!r})", path)
    return _migrate(doc, path)


def _read_roi(zf, entry: dict, path: Path, tmpdir: Path, memory_budget_bytes) -> RoiLayer:
    from radgui.io import label_values, read_image

    where = "session manifest ROI"
    name = _want(entry, "name", str, path, where)
    member = _want(entry, "file", str, path, where)
    image = _want(entry, "image", str, path, where)
    label = _want(entry, "label", int, path, where)
    geo = _want(entry, "geometry", dict, path, where)
    if not member.startswith("rois/") or not member.endswith(".nrrd"):
        raise SessionError(f"ROI {name!r}: member {member[:80]!r} is not under rois/ as .nrrd", path)
    local = tmpdir / f"roi{len(list(tmpdir.iterdir()))}.nrrd"
    local.write_bytes(zf.read(member))
    try:
        img = read_image(local, memory_budget_bytes)
    except RadguiError as exc:
        raise SessionError(f"ROI {name!r} ({member}): {exc.reason}", path) from None
    if img.GetDimension() != 3 or img.GetNumberOfComponentsPerPixel() != 1:
        raise SessionError(f"ROI {name!r} ({member}) is not a 3D scalar label map", path)
    try:
        labels = label_values(sitk.GetArrayViewFromImage(img))
    except RadguiError as exc:
        raise SessionError(f"ROI {name!r} ({member}): {exc.reason}", path) from None
    if len(labels) and int(label) not in [int(v) for v in labels]:
        raise SessionError(f"ROI {name!r}: label {label} is absent from its label map", path)
    got = _geometry(img)
    for k in ("size", "spacing", "origin"):
        want = geo.get(k)
        if not isinstance(want, list) or len(want) != 3 or not np.allclose(got[k], want, atol=1e-4):
            raise SessionError(f"ROI {name!r}: the label map's {k} {got[k]} differs from the manifest's {want}", path)
    if img.GetPixelID() not in (sitk.sitkUInt8, sitk.sitkUInt16):
        img = sitk.Cast(img, sitk.sitkUInt16 if len(labels) and labels.max() > 255 else sitk.sitkUInt8)
    return RoiLayer(name, img, image, int(label))


def _parse_images(items, path: Path) -> list[ImageRef]:
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise SessionError("session manifest: each image must be an object", path)
        where = "session manifest image"
        ref = ImageRef(key=_want(item, "key", str, path, where), path=_want(item, "path", str, path, where),
                       series_uid=_want(item, "series_uid", str, path, where, True, ""),
                       study_uid=_want(item, "study_uid", str, path, where, True, ""),
                       modality=_want(item, "modality", str, path, where, True, ""),
                       hash=_want(item, "hash", str, path, where, True, ""))
        ref._relative = _want(item, "relative_path", str, path, where, True, "")  # type: ignore[attr-defined]
        out.append(ref)
    return out


def read_session_file(path: str | Path, memory_budget_bytes: int | None = None) -> tuple[Session, dict]:
    """The session in ``path`` and its manifest, without resolving images."""
    from radgui.session._zip import BoundedZip

    path = Path(path)
    with BoundedZip(path, "session file") as zf:
        doc = read_manifest(zf, path)
        raw_images = _want(doc, "images", list, path)
        if len(raw_images) > MAX_IMAGES:
            raise SessionError(f"session lists {len(raw_images)} images, at most {MAX_IMAGES}", path)
        images = _parse_images(raw_images, path)
        entries = _want(doc, "rois", list, path)
        if len(entries) > MAX_ROIS:
            raise SessionError(f"session lists {len(entries)} ROIs, at most {MAX_ROIS}", path)
        rois: dict[str, RoiLayer] = {}
        with tempfile.TemporaryDirectory(prefix="radgui-open-") as tmpdir:
            for entry in entries:
                if not isinstance(entry, dict):
                    raise SessionError("session manifest: each ROI must be an object", path)
                layer = _read_roi(zf, entry, path, Path(tmpdir), memory_budget_bytes)
                if layer.name in rois:
                    raise SessionError(f"ROI {layer.name!r} appears twice", path)
                rois[layer.name] = layer
    keys = [r.key for r in images]
    if len(set(keys)) != len(keys):
        raise SessionError("session manifest lists an image key twice", path)
    session = Session(images={r.key: r for r in images}, rois=rois,
                      rings=_want(doc, "rings", dict, path, optional=True, default={}),
                      clinical=_want(doc, "clinical", dict, path, optional=True, default={}),
                      model=_want(doc, "model", dict, path, optional=True),
                      prediction=_want(doc, "prediction", dict, path, optional=True),
                      view=_want(doc, "view", dict, path, optional=True, default={}),
                      panels=_want(doc, "panels", dict, path, optional=True, default={}),
                      saved_at=_want(doc, "saved_at", str, path, optional=True))
    return session, doc


def open_session(path: str | Path, resolver: Callable[[ImageRef], str | Path | None] | None = None,
                 memory_budget_bytes: int | None = None) -> Session:
    """Open a ``.radgui`` file (Open session).

    Each image is looked for at its stored path, then relative to the session
    file (a study or folder moved as a whole); an image found nowhere is
    passed to ``resolver`` (the GUI asks the user; return a path or None) and,
    still unfound, listed in :attr:`Session.missing_images`: a moved image is
    a question, never a failure.

    Raises
    ------
    SessionError
        Not a zip, corrupt, members missing, manifest invalid, schema from a
        newer radgui, a ROI that is not a label map or disagrees with its
        declared geometry.
    """
    path = Path(path)
    session, _ = read_session_file(path, memory_budget_bytes)
    base = path.resolve().parent
    for ref in session.images.values():
        rel = getattr(ref, "_relative", "")
        candidates = [Path(ref.path)] + ([base / rel] if rel else [])
        found = next((c for c in candidates if str(c) and c.exists()), None)
        if found is None and resolver is not None:
            answer = resolver(ref)
            if answer is not None and Path(answer).exists():
                found = Path(answer)
        if found is None:
            session.missing_images.append(ref.key)
        elif str(found) != ref.path:
            ref.path = str(Path(found).resolve())
            session.mark_changed()
    session.path = path
    session.saved_changes = session.changes
    if session.changes:  # a relocated image is an unsaved change
        session.saved_changes = 0
    return session


def relocate(session: Session, old: str, new: str | Path) -> ImageRef:
    """Point image ``old`` (its key or its old path) at ``new``; one change.

    Raises
    ------
    SessionError
        No such image, or ``new`` does not exist.
    """
    ref = session.images.get(old) or next((r for r in session.images.values() if r.path == str(old)), None)
    if ref is None:
        raise SessionError(f"no image {old!r} in the session; images are {', '.join(session.images) or 'none'}")
    new = Path(new)
    if not new.exists():
        raise SessionError("the new location of the image does not exist", new)
    ref.path = str(new.resolve())
    if ref.key in session.missing_images:
        session.missing_images.remove(ref.key)
    session.mark_changed()
    return ref


# ---------------------------------------------------------------------------
# Exporting ROIs
# ---------------------------------------------------------------------------
def export_rois(rois: Mapping[str, Any], folder: str | Path, like=None, *, multilabel: bool = False,
                suffix: str = ".nrrd", name: str = "rois") -> list[Path]:
    """Save ROIs as label maps with the image's geometry (Save ROI(s)).

    Parameters
    ----------
    rois : dict of str to SimpleITK.Image, RoiLayer or (z, y, x) array
    folder : path
        Created if needed.
    like : Volume, optional
        The image, for numpy ROIs.
    multilabel : bool
        One label map ``<name><suffix>`` (ROI i gets label i + 1, in order)
        with a names sidecar ``<name>.labels.json`` ``{"1": "tumour", ...}``,
        instead of one file per ROI. Overlapping ROIs cannot share one map and
        are refused.
    suffix : ``.nrrd``, ``.nii.gz``, ``.nii`` or ``.mha``

    Returns
    -------
    list of Path
        The files written (atomically, through :mod:`radgui.files`).
    """
    from radgui.files import write_json
    from radgui.io import save_mask

    folder = Path(folder)
    if suffix not in (".nrrd", ".nii.gz", ".nii", ".mha"):
        raise SessionError(f"label maps are written as .nrrd, .nii.gz, .nii or .mha, not {suffix!r}")
    if not rois:
        raise SessionError("no ROI to save")
    folder.mkdir(parents=True, exist_ok=True)
    masks = {k: (v.mask if isinstance(v, RoiLayer) else _as_mask(v, like)) for k, v in rois.items()}
    if not multilabel:
        out = []
        for roi, img in masks.items():
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in roi).strip(".") or "roi"
            out.append(save_mask(img, folder / f"{safe}{suffix}"))
        return out
    if len(masks) > 255:
        raise SessionError("a multi-label map holds at most 255 ROIs")
    first = next(iter(masks.values()))
    combined = np.zeros(tuple(reversed(first.GetSize())), np.uint8)
    names = {}
    for i, (roi, img) in enumerate(masks.items(), start=1):
        if img.GetSize() != first.GetSize():
            raise SessionError(f"ROI {roi!r} is on another grid than {next(iter(masks))!r}; save them separately")
        arr = sitk.GetArrayViewFromImage(img) > 0
        clash = arr & (combined > 0)
        if clash.any():
            other = names[str(int(combined[clash].flat[0]))]
            raise SessionError(f"ROIs {other!r} and {roi!r} overlap in {int(clash.sum())} voxels; "
                               "one multi-label map cannot hold both: save one file per ROI")
        combined[arr] = i
        names[str(i)] = roi
    img = sitk.GetImageFromArray(combined)
    img.CopyInformation(first)
    path = save_mask(img, folder / f"{name}{suffix}")
    side = write_json(folder / f"{name}.labels.json", {"labels": names})
    return [path, side]


def export_dicom_seg(rois: Mapping[str, Any], volume, path: str | Path, **kwargs) -> Path:
    """Save ROIs as one DICOM-SEG referencing ``volume``'s DICOM series (see :func:`radgui.io.seg.write_seg`)."""
    from radgui.io.seg import write_seg

    if not (volume.meta or {}).get("dicom"):
        raise SessionError("DICOM-SEG needs an image loaded from DICOM; save NRRD/NIfTI label maps instead")
    masks = {k: (v.mask if isinstance(v, RoiLayer) else v) for k, v in rois.items()}
    return write_seg(masks, volume, path, **kwargs)
