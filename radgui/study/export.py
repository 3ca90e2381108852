"""Exporting a study's segmentations as a cohort manifest for ``radgui extract --manifest``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from radgui.study.store import Study

COLUMNS = ["patient_id", "image", "mask", "roi", "timepoint", "reader", "center"]


def export_table(study: Study, reader: str | None = None, include_round: bool = True) -> pd.DataFrame:
    """One row per segmentation (absolute paths): the ``radgui extract --manifest`` columns.

    Repeat rounds appear with the reader as ``<reader>/r<round>`` so rows stay unique.
    """
    cases = {c.case_id: c for c in study.cases()}
    rows = []
    for s in study.segmentations(reader):
        c = cases[s.case_id]
        who = s.reader if s.round == 1 or not include_round else f"{s.reader}/r{s.round}"
        rows.append({"patient_id": s.case_id, "image": str(c.image), "mask": str(s.file), "roi": s.roi,
                     "timepoint": c.timepoint, "reader": who, "center": c.centre})
    return pd.DataFrame(rows, columns=COLUMNS)


def export_manifest(study: Study, path: str | Path, reader: str | None = None) -> Path:
    """Write :func:`export_table` as a CSV (atomically)."""
    from radgui.files import write_csv

    return write_csv(Path(path), export_table(study, reader), index=False)
