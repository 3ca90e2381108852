"""Creating a study from a folder of images, a manifest CSV or a DICOM tree."""

from __future__ import annotations

import shutil
from pathlib import Path

from radgui.errors import RadguiError, StudyError
from radgui.study.store import Study

#: Manifest columns with a meaning; every other column is clinical/outcome data (hidden from blinded readers).
MANIFEST_COLUMNS = ("image", "case_id", "series_uid", "study_uid", "timepoint", "centre", "center")
MAX_CASES = 100_000


def _image_files(folder: Path) -> list[Path]:
    from radgui.io import IMAGE_SUFFIXES

    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.startswith(".") and any(p.name.lower().endswith(s) for s in IMAGE_SUFFIXES):
            out.append(p)
    return out


def _read_manifest(path: Path):
    import pandas as pd

    if not path.is_file():
        raise StudyError("manifest not found", path)
    if path.stat().st_size > 64 * 1024 * 1024:
        raise StudyError("manifest is over 64 MiB", path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise StudyError(f"cannot read the manifest as CSV ({' '.join(str(exc).split())[:160]})", path) from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    if "image" not in df.columns:
        raise StudyError("manifest lacks the column 'image'", path)
    if df.empty:
        raise StudyError("manifest has no row", path)
    if len(df) > MAX_CASES:
        raise StudyError(f"manifest has {len(df)} rows, at most {MAX_CASES}", path)
    return df


def create_study(folder: str | Path, source: str | Path, *, copy_images: bool = False,
                 actor: str = "coordinator") -> Study:
    """Create a study in ``folder`` from ``source``.

    Parameters
    ----------
    folder : path
        New (or empty) study folder.
    source : path
        A folder of image files (one case each, pseudonymous ids ``S0001``...
        in sorted order), a manifest ``.csv`` (column ``image``, optional
        ``case_id``, ``series_uid``, ``study_uid``, ``timepoint``, ``centre``;
        other columns are clinical/outcome data), or a DICOM tree (one case
        per series).
    copy_images : bool
        Copy image files into ``STUDY/images`` so the study folder is self-contained.

    Returns
    -------
    Study
    """
    folder, source = Path(folder), Path(source)
    if not source.exists():
        raise StudyError("study source not found (a folder of images, a manifest CSV or a DICOM tree)", source)
    rows: list[dict] = []
    if source.is_file() and source.suffix.lower() == ".csv":
        df = _read_manifest(source)
        base = source.resolve().parent
        for i, rec in enumerate(df.to_dict("records"), start=2):
            img = Path(rec["image"].strip())
            img = img if img.is_absolute() else base / img
            if not rec["image"].strip() or not img.exists():
                raise StudyError(f"manifest line {i}: image {rec['image']!r} not found", source)
            clinical = {k: v for k, v in rec.items() if k not in MANIFEST_COLUMNS and v != ""}
            rows.append({"image": img, "case_id": rec.get("case_id") or None,
                         "series_uid": rec.get("series_uid", ""), "study_uid": rec.get("study_uid", ""),
                         "timepoint": rec.get("timepoint", ""),
                         "centre": rec.get("centre") or rec.get("center", ""), "clinical": clinical})
    elif source.is_dir():
        files = _image_files(source)
        if files:
            rows = [{"image": p} for p in files]
        else:
            from radgui.io.dicom import scan_dicom

            try:
                scan = scan_dicom(source)
            except RadguiError as exc:
                raise StudyError(f"no image files and no readable DICOM series here ({exc.reason})", source) from None
            for s in scan.series:
                if s.problem:
                    continue
                rows.append({"image": source, "series_uid": s.uid, "study_uid": s.study_uid})
            if not rows:
                raise StudyError("no image files and no loadable DICOM series found", source)
    else:
        raise StudyError("study source must be a folder of images, a manifest .csv or a DICOM folder", source)
    if len(rows) > MAX_CASES:
        raise StudyError(f"{len(rows)} cases, at most {MAX_CASES}", source)
    ids = [r.get("case_id") for r in rows if r.get("case_id")]
    if len(set(ids)) != len(ids):
        raise StudyError("manifest repeats a case_id", source)
    from radgui.study.store import check_name

    for cid in ids:
        check_name(cid, "case")
    existed = folder.exists()
    study = Study.initialise(folder, actor)
    try:
        if copy_images:
            dest = study.folder / "images"
            dest.mkdir(exist_ok=True)
            for i, r in enumerate(rows):
                if Path(r["image"]).is_file():
                    from radgui.files import atomic_path

                    target = dest / f"{i + 1:05d}_{Path(r['image']).name}"
                    with atomic_path(target) as tmp:
                        shutil.copyfile(r["image"], tmp)
                    r["image"] = target
                else:
                    raise StudyError("copy_images copies image files; a DICOM folder stays where it is", r["image"])
        with study.transaction() as cur:
            for r in rows:
                study.add_case(r["image"], r.get("case_id"), series_uid=r.get("series_uid", ""),
                               study_uid=r.get("study_uid", ""), timepoint=r.get("timepoint", ""),
                               centre=r.get("centre", ""), clinical=r.get("clinical"), cur=cur)
            study._audit(cur, "import_cases", {"source": str(source), "cases": len(rows)})
    except BaseException:
        study.close()
        if not existed:  # the folder is ours: leave nothing half-made
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return study
