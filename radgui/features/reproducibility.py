"""Per-feature inter-reader agreement (ICC) from a cohort features table.

Each feature's values are arranged as a targets x readers table (targets: the
rows sharing ``patient_id``, ``roi``, ``timepoint``; readers: the values of the
reader column) and passed to :func:`radgui.stats.icc.icc`; radgui does not
compute ICCs itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radgui.errors import FeatureExtractionError

#: Columns that identify a target (what the readers segmented).
TARGET_COLUMNS = ("patient_id", "roi", "timepoint")
_META = {"patient_id", "roi", "timepoint", "reader", "center", "label", "image", "mask"}


def feature_icc(features: pd.DataFrame, reader_column: str = "reader", form: str = "ICC(2,1)",
                level: float = 0.95, threshold: float = 0.75) -> pd.DataFrame:
    """ICC of every numeric feature between readers (or repeated segmentations).

    Parameters
    ----------
    features : DataFrame
        One row per (target, reader), as written by ``radgui extract --manifest``.
    reader_column : str
        Column naming the reader.
    form : str
        ICC form (default ``"ICC(2,1)"``, two-way random, absolute agreement,
        single rater; Koo & Li 2016).
    level : float
        Confidence level of the interval.
    threshold : float
        ICC at or above which a feature is called reproducible (``passes``).

    Returns
    -------
    DataFrame
        Indexed by feature: ``icc, ci_low, ci_high, f, p_value, n_targets,
        n_readers, passes``.

    Raises
    ------
    FeatureExtractionError
        Missing reader column, fewer than 2 readers or 2 targets seen by
        every reader, no numeric feature.
    """
    from radgui.stats.icc import icc

    if reader_column not in features.columns:
        raise FeatureExtractionError(f"no reader column {reader_column!r}; columns are "
                                     f"{', '.join(map(str, features.columns[:8]))}...")
    targets = [c for c in TARGET_COLUMNS if c in features.columns and c != reader_column]
    if not targets:
        raise FeatureExtractionError("cannot tell targets apart: need a patient_id (and roi/timepoint) column")
    frame = features.copy()
    for c in targets + [reader_column]:
        frame[c] = frame[c].fillna("").astype(str)
    readers = sorted(frame[reader_column].unique())
    if len(readers) < 2:
        raise FeatureExtractionError(f"ICC needs at least 2 readers in column {reader_column!r}, found {readers}")
    numeric = [c for c in frame.columns if c not in _META and c != reader_column
               and pd.api.types.is_numeric_dtype(frame[c])]
    if not numeric:
        raise FeatureExtractionError("no numeric feature column to compute an ICC for")
    wide = frame.pivot_table(index=targets, columns=reader_column, values=numeric, aggfunc="first")
    rows = []
    for feat in numeric:
        table = wide[feat].reindex(columns=readers).dropna()
        if len(table) < 2:
            raise FeatureExtractionError(
                f"ICC needs at least 2 targets rated by every reader; found {len(table)} for {feat}")
        res = icc(table.to_numpy(float), form=form, level=level)
        rows.append({"feature": feat, "icc": res.icc, "ci_low": res.ci_low, "ci_high": res.ci_high,
                     "f": res.f, "p_value": res.p_value, "n_targets": res.n_targets,
                     "n_readers": res.n_raters, "passes": bool(np.isfinite(res.icc) and res.icc >= threshold)})
    out = pd.DataFrame(rows).set_index("feature")
    out.attrs["form"] = form
    return out
