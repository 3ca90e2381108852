"""Cohort extraction from a manifest: processes on one machine or a Dask cluster.

A manifest is a CSV file with one row per (image, mask) pair:

=============  =========  ===================================================
column         required   meaning
=============  =========  ===================================================
patient_id     yes        patient (or case) identifier
image          yes        image file or DICOM folder (relative to the CSV)
mask           yes        label map on the image's grid (relative to the CSV)
label          no         label value in the mask (default: the mask's only
                          label; required when the mask holds several)
roi            no         ROI name (default ``tumour``); several rows of one
                          image with different ROIs share one filtering pass
timepoint      no         e.g. ``baseline`` / ``followup`` (delta radiomics)
reader         no         who segmented it (inter-reader ICC)
center         no         acquiring centre (multi-centre studies)
modality       no         CT / MR / PT / OT (default: guessed)
image_type     no         empty (the image as it is) or ``fused``: features of
                          the fused PET/CT image (:func:`radgui.io.petct.fuse`)
                          of ``image`` (the CT) and ``pet``
pet            no         PET image in SUV (file or DICOM folder), for
                          ``image_type`` ``fused``; on the CT grid, or DICOM
                          sharing the CT's FrameOfReferenceUID
fusion         no         ``weighted`` (default) or ``wavelet``
fusion_weight  no         weight of PET in [0, 1] (default 0.5)
=============  =========  ===================================================

Fused rows use the default CT window and SUV range of
:func:`radgui.io.petct.fuse`, and the run's one preset (run fused rows with
``petct-fused``, whose bin width suits the [0, 1] fused image). Give them
their own ROI name (``fused_tumour``) when the same patient also has CT rows,
since rows are keyed by patient, ROI, time point and reader.

A PyRadiomics batch CSV (``Image,Mask[,Label][,...]`` columns, as the
``pyradiomics`` command line reads) is accepted as it is: each row becomes
case ``case<N>`` (N counted from 1, as PyRadiomics numbers its cases) unless
the file also has a ``patient_id`` (or ``ID``) column; ``Label`` is the label;
masks may be any format :func:`radgui.io.load_mask` reads (``RS.dcm#GTV``).

The output CSV has the key columns (``patient_id, roi, timepoint, reader,
center, label``) then one column per feature. It is written case by case, each
case's rows in one all-or-nothing append (:func:`radgui.files.append_text`), so
an interrupted run loses at most the cases in flight, and a second run skips
every row already in the output (resumable). Resuming first cuts off a torn
last line that a killed run may leave, and refuses an output whose lines do not
all have the header's number of fields. A failing case is logged with its
reason (``<output stem>.failures.csv``) and never stops the others.

Parallelism: ``workers`` processes with :class:`concurrent.futures.ProcessPoolExecutor`,
or a Dask distributed cluster given by ``scheduler`` (an address such as
``tcp://10.0.0.5:8786``, or a ``distributed.Client``); no home-made scheduler.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radgui.errors import FeatureExtractionError, InputFileError, OutputFileError, RadguiError
from radgui.files import append_text, check_writable, describe_os_error, drop_torn_tail, write_csv
from radgui.progress import Step, run

#: Columns identifying one output row.
KEY_COLUMNS = ("patient_id", "roi", "timepoint", "reader", "center", "label")
#: Columns that must be present in a manifest.
REQUIRED_COLUMNS = ("patient_id", "image", "mask")
#: Optional manifest columns.
OPTIONAL_COLUMNS = ("label", "roi", "timepoint", "reader", "center", "modality",
                    "image_type", "pet", "fusion", "fusion_weight")
#: Values of the ``image_type`` column ("" is the image as it is).
IMAGE_TYPES = ("", "original", "fused")


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and check a cohort manifest; relative paths are resolved against its folder.

    Raises
    ------
    InputFileError
        Missing file, missing required columns, empty manifest, duplicate rows
        (same patient, ROI, time point and reader twice).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError("manifest not found", path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(f"cannot read the manifest as CSV ({' '.join(str(exc).split())[:160]})", path) from None
    original = [c.strip() for c in df.columns]
    df.columns = [c.lower() for c in original]
    if "patient_id" not in df.columns and {"Image", "Mask"} <= set(original):  # a PyRadiomics batch CSV
        if "label_channel" in df.columns and any(str(v).strip() not in ("", "0") for v in df["label_channel"]):
            raise InputFileError("a Label_channel column (layered masks) is not supported; name the segment "
                                 "in the Mask column instead (mask.seg.nrrd#NAME)", path)
        df["patient_id"] = df["id"] if "id" in df.columns else [f"case{i + 1}" for i in range(len(df))]
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InputFileError(f"manifest lacks column(s) {', '.join(missing)}; needs "
                             f"{', '.join(REQUIRED_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)})", path)
    if df.empty:
        raise InputFileError("manifest has no row", path)
    for col in OPTIONAL_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    df["roi"] = df["roi"].where(df["roi"].str.strip() != "", "tumour")
    base = path.resolve().parent
    for col in ("image", "mask", "pet"):
        df[col] = [str((base / p).resolve()) if p and not Path(p).is_absolute() else p for p in df[col]]
    _check_fused_rows(df, path)
    dup = df.duplicated(subset=["patient_id", "roi", "timepoint", "reader"], keep=False)
    if dup.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(dup)[:5])
        raise InputFileError(f"manifest lines {rows} repeat the same patient_id/roi/timepoint/reader", path)
    return df


def _check_fused_rows(df: pd.DataFrame, path: Path) -> None:
    """Refuse unknown ``image_type`` values and fused rows without a PET or with bad fusion values."""
    from radgui.errors import FusionError
    from radgui.io.petct import fusion_parameters

    df["image_type"] = df["image_type"].str.strip().str.lower()
    for i, row in enumerate(df.to_dict("records")):
        line = i + 2
        if row["image_type"] not in IMAGE_TYPES:
            raise InputFileError(f"manifest line {line}: image_type {row['image_type']!r} is not one of "
                                 "'', 'original', 'fused'", path)
        if row["image_type"] != "fused":
            continue
        if not str(row["pet"]).strip():
            raise InputFileError(f"manifest line {line}: image_type fused needs the PET image in the pet column",
                                 path)
        try:
            fusion_parameters(**_fusion_of(row))
        except FusionError as exc:
            raise InputFileError(f"manifest line {line}: {exc}", path) from None


def _fusion_of(row: dict) -> dict:
    """:func:`radgui.io.petct.fuse` keywords of a manifest row (``fusion``, ``fusion_weight``)."""
    out: dict[str, Any] = {"method": str(row.get("fusion", "") or "").strip().lower() or "weighted"}
    weight = str(row.get("fusion_weight", "") or "").strip()
    if weight:
        try:
            out["weight"] = float(weight)
        except ValueError:
            out["weight"] = weight  # refused with its value by fusion_parameters
    return out


def _key(row: dict | pd.Series) -> tuple[str, ...]:
    return tuple(str(row.get(c, "") if row.get(c, "") == row.get(c, "") else "") for c in
                 ("patient_id", "roi", "timepoint", "reader"))


def _tasks(manifest: pd.DataFrame, done: set[tuple[str, ...]]) -> list[list[dict]]:
    """Group the rows still to do by image (one filtering pass per image)."""
    groups: dict[tuple, list[dict]] = {}
    for row in manifest.to_dict("records"):
        if _key(row) in done:
            continue
        gkey = (row["image"], row["patient_id"], row["timepoint"], row["reader"], row["label"], row["modality"],
                row.get("image_type", ""), row.get("pet", ""), row.get("fusion", ""), row.get("fusion_weight", ""))
        groups.setdefault(gkey, []).append(row)
    return list(groups.values())


def extract_case(rows: list[dict], preset: Any) -> dict[str, Any]:
    """Extract one image's ROIs (a task of :func:`iter_extract_cohort`); never raises.

    Returns ``{"rows": [...], "failures": [...]}``: one dict of key columns and
    features per successful ROI, and ``{key columns, "image", "reason"}`` per
    failure. Runs in worker processes and on Dask workers.
    """
    from radgui.features.extract import extract
    from radgui.io.volume import load_mask, load_volume

    out: dict[str, Any] = {"rows": [], "failures": []}
    first = rows[0]

    def keys(row):
        return {c: row.get(c, "") for c in KEY_COLUMNS}

    def fail(row, reason):
        out["failures"].append({**keys(row), "image": row["image"], "mask": row["mask"], "reason": reason})

    try:
        volume = load_volume(first["image"], modality=first.get("modality") or None)
        if first.get("image_type") == "fused":
            from radgui.io.petct import fuse_pair

            pet = load_volume(first["pet"], modality="PT")
            ct = volume
            volume = fuse_pair(ct, pet, **_fusion_of(first))
        label = int(first["label"]) if str(first.get("label", "")).strip() else None
        masks = {}
        for row in rows:
            try:
                masks[row["roi"]] = load_mask(row["mask"], volume, label=label)
            except (RadguiError, OSError) as exc:
                fail(row, str(exc))
        if masks:
            df = extract(volume, masks, preset, label=label, on_error="skip")
            for row in rows:
                if row["roi"] in df.index:
                    feats = df.loc[row["roi"]].to_dict()
                    out["rows"].append({**keys(row), **feats})
                elif row["roi"] in df.attrs.get("errors", {}):
                    fail(row, df.attrs["errors"][row["roi"]])
    except (RadguiError, OSError, ValueError, RuntimeError, MemoryError) as exc:
        for row in rows:
            if not any(f["roi"] == row["roi"] for f in out["failures"]):
                fail(row, f"{type(exc).__name__}: {exc}" if not isinstance(exc, RadguiError) else str(exc))
    return out


def _done_keys(output: Path) -> tuple[set[tuple[str, ...]], list[str] | None, int]:
    """Keys of the rows already in ``output``, its header, and the bytes of a torn last line dropped.

    A run killed in the middle of an append can leave a last line without its
    newline: it is cut off (its row is extracted again). Every other line must
    have as many fields as the header, or resuming would append onto a damaged
    or foreign file: that is refused, naming the line.
    """
    if not output.is_file():
        return set(), None, 0

    def refuse(why):
        return InputFileError(f"cannot resume: the existing output {why}; move it away or write to a new file",
                              output)

    # Look at the header before repairing anything: a file that is not ours is never truncated.
    try:
        with output.open("rb") as fh:
            first = fh.readline(16 << 20)
    except OSError as exc:
        raise InputFileError(f"cannot resume: cannot read the existing output ({describe_os_error(exc)})",
                             output) from exc
    if first and not first.endswith(b"\n") and not (first.startswith(b"patient_id")
                                                    or b"patient_id".startswith(first)):
        raise refuse("is not a radgui features CSV (no patient_id column in its header)")
    if first.endswith(b"\n"):
        try:
            header = next(csv.reader([first.decode("utf-8")]))
        except (csv.Error, UnicodeDecodeError, StopIteration):
            header = []
        if "patient_id" not in header:
            raise refuse("is not a radgui features CSV (no patient_id column in its header)")
    try:
        torn = drop_torn_tail(output)  # only a torn header, or a torn row after a radgui header
    except OSError as exc:
        raise OutputFileError(f"cannot resume: cannot repair the existing output ({describe_os_error(exc)})",
                              output) from exc
    if output.stat().st_size == 0:
        return set(), None, torn

    keys: set[tuple[str, ...]] = set()
    try:
        with output.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            if len(set(header)) != len(header):
                dup = next(c for c in header if header.count(c) > 1)
                raise refuse(f"has the column {dup!r} twice in its header")
            where = [header.index(c) if c in header else None for c in ("patient_id", "roi", "timepoint", "reader")]
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise refuse(f"line {reader.line_num} has {len(row)} fields where the header has "
                                 f"{len(header)} (damaged, or written by something else)")
                keys.add(tuple("" if i is None else row[i] for i in where))
    except (csv.Error, UnicodeDecodeError, StopIteration) as exc:
        raise refuse(f"is not a readable CSV ({' '.join(str(exc).split())[:120]})") from None
    return keys, header, torn


def _append(output: Path, rows: list[dict], header: list[str] | None) -> list[str] | None:
    """Append rows (and the header on the first write) all-or-nothing."""
    if not rows:
        return header  # still None when nothing was written yet (the first case failed)
    frame = pd.DataFrame(rows)
    if header is None:
        header = list(frame.columns)
        text = frame.to_csv(index=False, lineterminator="\n")
    else:
        extra = [c for c in frame.columns if c not in header]
        if extra:
            raise FeatureExtractionError(
                f"{output}: new rows have {len(extra)} feature(s) the existing output lacks (e.g. {extra[0]}); "
                "was it written with another preset? Write to a new file")
        text = frame.reindex(columns=header).to_csv(index=False, header=False, lineterminator="\n")
    append_text(output, text)
    return header


def _fmt_eta(seconds: float) -> str:
    seconds = int(round(max(seconds, 0)))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def iter_extract_cohort(manifest: str | Path | pd.DataFrame, output: str | Path, preset: Any = "ct-original",
                        *, workers: int = 1, scheduler: Any = None,
                        connect_timeout_s: float = 10.0) -> Generator[Step, None, dict]:
    """Extract features for every row of a manifest into a CSV, yielding progress with an ETA.

    Parameters
    ----------
    manifest : str, Path or DataFrame
        The manifest CSV (see module docstring) or an already read one
        (:func:`read_manifest`).
    output : str or Path
        Features CSV; appended to case by case, rows already in it are skipped.
    preset : str, Path, Preset or dict
        Feature preset (validated before any case starts).
    workers : int
        Worker processes on this machine (1: in this process).
    scheduler : str or distributed.Client, optional
        Run the cases on a Dask distributed cluster instead.
    connect_timeout_s : float
        How long to try reaching ``scheduler`` before giving up.

    Returns
    -------
    dict
        ``{"done": n rows written, "skipped": n already present, "failed": n,
        "failures": [...], "output": path, "failures_file": path or None,
        "seconds": wall time, "repaired_bytes": bytes of a torn last line dropped}``.
    """
    from radgui.features.presets import load_preset

    preset = load_preset(preset)
    df = manifest if isinstance(manifest, pd.DataFrame) else read_manifest(manifest)
    output = Path(output)
    check_writable(output.parent)  # before any case runs, not after the first hour of them
    output.parent.mkdir(parents=True, exist_ok=True)
    done_keys, header, torn = _done_keys(output)
    tasks = _tasks(df, done_keys)
    skipped = len(df) - sum(len(t) for t in tasks)
    total = len(tasks)
    failures: list[dict] = []
    written = 0
    t0 = time.monotonic()
    repaired = f" (dropped a torn last line of {torn} bytes left by an interrupted run)" if torn else ""
    yield Step(0, total, f"{total} case(s) to extract, {skipped} row(s) already done{repaired}")

    def progress(i):
        elapsed = time.monotonic() - t0
        eta = elapsed / i * (total - i) if i else 0.0
        return Step(i, total, f"{i}/{total} cases, {len(failures)} failed, ETA {_fmt_eta(eta)}")

    results = _run_tasks(tasks, preset, workers, scheduler, connect_timeout_s)
    for i, result in enumerate(results, start=1):
        try:
            header = _append(output, result["rows"], header)
            written += len(result["rows"])
        except FeatureExtractionError as exc:  # columns differ from the output's: fail these rows only
            failures.extend({**{c: r.get(c, "") for c in KEY_COLUMNS}, "image": "", "mask": "", "reason": str(exc)}
                            for r in result["rows"])
        failures.extend(result["failures"])
        yield progress(i)

    failures_file = output.with_name(output.stem + ".failures.csv")
    if failures:
        write_csv(failures_file, pd.DataFrame(failures), index=False)
    elif failures_file.exists():
        failures_file.unlink()
    return {"done": written, "skipped": skipped, "failed": len(failures), "failures": failures,
            "output": str(output), "failures_file": str(failures_file) if failures else None,
            "seconds": time.monotonic() - t0, "repaired_bytes": torn}


def _run_tasks(tasks, preset, workers, scheduler, connect_timeout_s=10.0):
    """Yield each task's result as it completes, in this process, processes or Dask."""
    if not tasks:
        return
    if scheduler is not None:
        yield from _run_dask(tasks, preset, scheduler, connect_timeout_s)
        return
    workers = max(1, int(workers))
    if workers == 1 or len(tasks) == 1:
        for t in tasks:
            yield extract_case(t, preset)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # Never fork the parent (it may run Qt or Dask threads): a fork server that has
    # imported PyRadiomics once forks cheap workers (Linux); elsewhere spawn.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["radgui.features.extract", "radiomics.featureextractor"])
    else:  # pragma: no cover - macOS/Windows
        ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks), os.cpu_count() or workers),
                             mp_context=ctx) as pool:
        futures = {pool.submit(extract_case, t, preset): t for t in tasks}
        try:
            for fut in as_completed(futures):
                try:
                    yield fut.result()
                except Exception as exc:  # a worker died (out of memory, killed)
                    t = futures[fut]
                    yield {"rows": [], "failures": [
                        {**{c: r.get(c, "") for c in KEY_COLUMNS}, "image": r["image"], "mask": r["mask"],
                         "reason": f"worker failed: {type(exc).__name__}: {exc}"} for r in t]}
        finally:
            for fut in futures:
                fut.cancel()


def _run_dask(tasks, preset, scheduler, connect_timeout_s=10.0):
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - optional dependency
        raise FeatureExtractionError("--scheduler needs Dask: pip install 'radgui[cluster]'") from None
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout=connect_timeout_s) if own else scheduler
    except (OSError, TimeoutError, ValueError) as exc:
        raise FeatureExtractionError(f"cannot connect to the Dask scheduler {scheduler!r}: {exc}") from None
    try:
        futures = [client.submit(extract_case, t, preset, pure=False) for t in tasks]
        by_future = dict(zip(futures, tasks))
        for fut in as_completed(futures):
            try:
                yield fut.result()
            except Exception as exc:
                t = by_future[fut]
                yield {"rows": [], "failures": [
                    {**{c: r.get(c, "") for c in KEY_COLUMNS}, "image": r["image"], "mask": r["mask"],
                     "reason": f"Dask task failed: {type(exc).__name__}: {exc}"} for r in t]}
    finally:
        if own:
            client.close()


def extract_cohort(manifest, output, preset="ct-original", *, workers: int = 1, scheduler=None,
                   callback=None, connect_timeout_s: float = 10.0) -> dict:
    """Blocking twin of :func:`iter_extract_cohort`; ``callback`` receives each :class:`Step`."""
    return run(iter_extract_cohort(manifest, output, preset, workers=workers, scheduler=scheduler,
                               connect_timeout_s=connect_timeout_s), callback)


def aggregate_lesions(features: pd.DataFrame, how: str = "mean",
                      by: tuple[str, ...] = ("patient_id", "timepoint", "reader"),
                      size_column: str | None = None) -> pd.DataFrame:
    """One row per patient from several lesions: the mean of each feature, or the largest lesion.

    Parameters
    ----------
    features : DataFrame
        Rows as written by :func:`extract_cohort` (key columns + features).
    how : {"mean", "largest"}
        ``mean`` averages every numeric feature over the patient's lesions;
        ``largest`` keeps the row of the lesion with the largest volume.
    by : tuple of str
        Columns identifying one patient row (those absent are ignored).
    size_column : str, optional
        Column giving lesion size for ``largest``; default the first present of
        ``original_shape_MeshVolume``, ``original_shape_VoxelVolume``.

    Returns
    -------
    DataFrame
        One row per group, with ``n_lesions`` and ``aggregation`` columns;
        ``roi`` lists the lesions joined by ``+`` (mean) or names the kept one.
    """
    if how not in ("mean", "largest"):
        raise FeatureExtractionError(f"unknown lesion aggregation {how!r}; use 'mean' or 'largest'")
    keys = [c for c in by if c in features.columns]
    if not keys:
        raise FeatureExtractionError(f"cannot aggregate lesions: none of the columns {', '.join(by)} is present")
    meta = [c for c in features.columns if c in KEY_COLUMNS or c in ("image", "mask")]
    numeric = [c for c in features.columns if c not in meta and pd.api.types.is_numeric_dtype(features[c])]
    frame = features.copy()
    for k in keys:
        frame[k] = frame[k].fillna("")
    grouped = frame.groupby(keys, sort=False, dropna=False)
    if how == "mean":
        out = grouped[numeric].mean()
        if "roi" in frame.columns:
            out.insert(0, "roi", grouped["roi"].agg(lambda s: "+".join(map(str, s))))
    else:
        if size_column is None:
            size_column = next((c for c in ("original_shape_MeshVolume", "original_shape_VoxelVolume")
                                if c in frame.columns), None)
        if size_column is None or size_column not in frame.columns:
            raise FeatureExtractionError("largest-lesion aggregation needs a shape volume column "
                                         "(original_shape_MeshVolume); enable the shape class")
        idx = grouped[size_column].idxmax()
        out = frame.loc[idx.values].set_index(keys)
        out = out[[c for c in ["roi", *numeric] if c in out.columns]]
    out.insert(0, "n_lesions", grouped.size())
    out.insert(1, "aggregation", how)
    return out.reset_index()
