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
