"""Decision-curve analysis (net benefit).

References
----------
Vickers AJ, Elkin EB. Decision curve analysis: a novel method for evaluating
prediction models. Med Decis Making 2006;26:565-574.
Vickers AJ, van Calster B, Steyerberg EW. A simple, step-by-step guide to
interpreting decision curve analysis. Diagn Progn Res 2019;3:18.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radgui.errors import StatsInputError

from ._checks import as_binary, as_float, probabilities, same_length

__all__ = ["decision_curve"]


def decision_curve(y, prob, thresholds=None) -> pd.DataFrame:
    """Net benefit of treating by the model, treating all and treating none.

    Parameters
    ----------
    y : array-like of 0/1
        Outcome (1 = event).
    prob : array-like in [0, 1]
        Predicted risk; a patient is treated when ``prob >= threshold``.
    thresholds : array-like in [0, 1), optional
        Threshold probabilities ``pt``; default ``0.01, 0.02, ..., 0.99``.

    Returns
    -------
    DataFrame
        Columns ``threshold, net_benefit, net_benefit_all, net_benefit_none``
        (the last is 0), one row per threshold, with also ``tp`` and ``fp``
        counts.

    Notes
    -----
    ``NB(pt) = TP/n - FP/n * pt / (1 - pt)``; treat-all uses TP = events and
    FP = non-events; treat-none is 0 (Vickers & Elkin 2006). ``pt = 1`` is
    refused (infinite harm weight).

    Examples
    --------
    >>> d = decision_curve([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], [0.5])
    >>> float(d.net_benefit[0])  # TP=1, FP=1 of 4 at pt 0.5
    0.0
    """
    yb = as_binary(y, need_both=False)
    p = probabilities(prob)
    same_length(y=yb, prob=p)
    if thresholds is None:
        pt = np.round(np.arange(1, 100) / 100, 2)
    else:
        pt = as_float(np.atleast_1d(thresholds), "thresholds")
    if pt.min() < 0 or pt.max() >= 1:
        raise StatsInputError(f"thresholds must lie in [0, 1), got range [{pt.min()}, {pt.max()}]")
    n = yb.size
    treat = p[None, :] >= pt[:, None]
    tp = (treat & (yb[None, :] == 1)).sum(axis=1)
    fp = (treat & (yb[None, :] == 0)).sum(axis=1)
    w = pt / (1 - pt)
    nb = tp / n - fp / n * w
    events = yb.sum()
    nb_all = events / n - (n - events) / n * w
    return pd.DataFrame(
        {
            "threshold": pt,
            "net_benefit": nb,
            "net_benefit_all": nb_all,
            "net_benefit_none": np.zeros_like(pt),
            "tp": tp,
            "fp": fp,
        }
    )
