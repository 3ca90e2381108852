"""Delta radiomics: change of each feature between two time points.

For a feature value :math:`b` at baseline and :math:`f` at follow-up,

* absolute change ``delta_<feature> = f - b``,
* relative change ``relative_<feature> = (f - b) / |b|`` (NaN where ``b == 0``),

with the interval between the scans recorded (``interval_days``). This is the
definition used by delta-radiomics studies of treatment response (Fave X et
al., Sci Rep 2017;7:588, "Delta-radiomics features for the prediction of
patient outcomes in non-small cell lung cancer").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radgui.errors import FeatureExtractionError


def delta(baseline: pd.DataFrame | pd.Series, followup: pd.DataFrame | pd.Series,
          interval_days: float | pd.Series | None = None) -> pd.DataFrame:
    """Absolute and relative change of every feature from baseline to follow-up.

    Parameters
    ----------
    baseline, followup : DataFrame or Series
        Features at the two time points, aligned by index (ROI name, or
        patient) and columns (feature names). A Series is one row.
    interval_days : float or Series, optional
        Days between the baseline and follow-up scans (a Series aligned on the
        index gives one interval per row); stored in column ``interval_days``.

    Returns
    -------
    DataFrame
        Index: the rows present at both time points. Columns:
        ``interval_days``, then ``delta_<feature>`` for every feature, then
        ``relative_<feature>``. ``attrs["interval_days"]`` holds the interval.

    Raises
    ------
    FeatureExtractionError
        No feature or no row in common, or a negative interval.
    """
    if isinstance(baseline, pd.Series):
        baseline = baseline.to_frame().T
    if isinstance(followup, pd.Series):
        followup = followup.to_frame().T
    rows = baseline.index.intersection(followup.index)
    cols = [c for c in baseline.columns if c in set(followup.columns)]
    cols = [c for c in cols if pd.api.types.is_numeric_dtype(baseline[c]) and pd.api.types.is_numeric_dtype(followup[c])]
    if len(rows) == 0:
        raise FeatureExtractionError("delta: baseline and follow-up share no row (ROI or patient)")
    if not cols:
        raise FeatureExtractionError("delta: baseline and follow-up share no numeric feature column")
    b = baseline.loc[rows, cols].astype(float)
    f = followup.loc[rows, cols].astype(float)
    absolute = f - b
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = absolute / b.abs().where(b != 0)
    out = pd.concat([absolute.add_prefix("delta_"), relative.add_prefix("relative_")], axis=1)
    if interval_days is not None:
        days = interval_days.reindex(rows) if isinstance(interval_days, pd.Series) else interval_days
        if np.any(np.asarray(days, float) < 0):
            raise FeatureExtractionError(f"delta: the interval must not be negative (got {interval_days})")
        out.insert(0, "interval_days", days)
        out.attrs["interval_days"] = (interval_days.to_dict() if isinstance(interval_days, pd.Series)
                                      else float(interval_days))
    out.index.name = baseline.index.name
    return out


def delta_table(features: pd.DataFrame, baseline: str = "baseline", followup: str = "followup",
                interval_days: float | dict | pd.Series | None = None,
                keys: tuple[str, ...] = ("patient_id", "roi", "reader"),
                timepoint_column: str = "timepoint") -> pd.DataFrame:
    """Delta features for every patient of a cohort table with a time-point column.

    Parameters
    ----------
    features : DataFrame
        Rows as written by ``radgui extract --manifest`` (key columns,
        ``timepoint``, features).
    baseline, followup : str
        Values of ``timepoint_column`` marking the two scans.
    interval_days : float, dict or Series, optional
        Days between the scans: one number for all, or per ``patient_id``.
    keys : tuple of str
        Columns identifying a row within a time point (those absent are ignored).

    Returns
    -------
    DataFrame
        As :func:`delta`, indexed by ``keys``, for rows present at both time points.
    """
    if timepoint_column not in features.columns:
        raise FeatureExtractionError(f"no {timepoint_column!r} column in the features table")
    keys = [k for k in keys if k in features.columns]
    if not keys:
        raise FeatureExtractionError("cannot pair time points: none of the key columns is present")
    frame = features.copy()
    for k in keys:
        frame[k] = frame[k].fillna("").astype(str)
    tp = frame[timepoint_column].fillna("").astype(str)
    meta = set(keys) | {timepoint_column, "center", "label", "image", "mask"}
    numeric = [c for c in frame.columns if c not in meta and pd.api.types.is_numeric_dtype(frame[c])]
    base = frame[tp == baseline].set_index(keys)[numeric]
    follow = frame[tp == followup].set_index(keys)[numeric]
    if base.empty or follow.empty:
        raise FeatureExtractionError(
            f"need rows at both time points {baseline!r} and {followup!r}; found {sorted(set(tp))}")
    days = interval_days
    if isinstance(interval_days, (dict, pd.Series)):
        per_patient = pd.Series(interval_days, dtype=float)
        rows = base.index.intersection(follow.index)
        pid = rows.get_level_values("patient_id") if "patient_id" in keys else rows
        days = pd.Series(per_patient.reindex(pid).to_numpy(), index=rows)
    return delta(base, follow, days)
