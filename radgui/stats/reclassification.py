"""Net reclassification improvement (NRI) and integrated discrimination
improvement (IDI) of a new model over an old one.

Standard errors and z-tests follow Pencina et al. (2008) and R
``Hmisc::improveProb`` (asymptotic, normal-theory); the CI is
``value +/- z * SE``.

References
----------
Pencina MJ, D'Agostino RB Sr, D'Agostino RB Jr, Vasan RS. Evaluating the added
predictive ability of a new marker: from area under the ROC curve to
reclassification and beyond. Stat Med 2008;27:157-172.
Pencina MJ, D'Agostino RB Sr, Steyerberg EW. Extensions of net reclassification
improvement calculations to measure usefulness of new biomarkers. Stat Med
2011;30:11-21.
Harrell FE. Hmisc: ``improveProb``. R package.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from radgui.errors import StatsInputError

from ._checks import as_binary, as_float, check_level, probabilities, same_length

__all__ = ["Reclassification", "nri", "idi"]


@dataclass(frozen=True)
class Reclassification:
    """NRI or IDI with its event and non-event components.

    Attributes
    ----------
    value : float
        NRI (sum of components) or IDI.
    ci_low, ci_high : float
        ``value +/- z * se``.
    p_value : float
        Two-sided z-test of ``value = 0``.
    se : float
    events, nonevents : float
        NRI: ``P(up|event) - P(down|event)`` and ``P(down|non-event) -
        P(up|non-event)``. IDI: the mean change of risk in events and minus
        the mean change in non-events (so ``value = events + nonevents``).
    kind : str
        ``"continuous NRI"``, ``"categorical NRI"`` or ``"IDI"``.
    """

    value: float
    ci_low: float
    ci_high: float
    p_value: float
    se: float
    events: float
    nonevents: float
    kind: str
    level: float = 0.95


def _inputs(y, p_old, p_new):
    yb = as_binary(y)
    a = probabilities(p_old, "p_old")
    b = probabilities(p_new, "p_new")
    same_length(y=yb, p_old=a, p_new=b)
    return yb, a, b


def _result(value, se, ev, ne, kind, level):
    z = _st.norm.ppf(0.5 + level / 2)
    p = float(2 * _st.norm.sf(abs(value / se))) if se > 0 else (1.0 if value == 0 else 0.0)
    return Reclassification(float(value), float(value - z * se), float(value + z * se), p, float(se),
                            float(ev), float(ne), kind, level)


def nri(y, p_old, p_new, cutoffs=None, level: float = 0.95) -> Reclassification:
    """Net reclassification improvement of ``p_new`` over ``p_old``.

    Parameters
    ----------
    y : array-like of 0/1
    p_old, p_new : array-like in [0, 1]
        Predicted risks of the old and new model.
    cutoffs : sequence of float, optional
        Risk category boundaries (e.g. ``[0.1, 0.2]``; a risk equal to a
        boundary goes to the upper category). Given: categorical NRI (moving
        up = to a higher category). None: continuous ("category-free", NRI>0)
        NRI, where up means ``p_new > p_old``.
    level : float

    Returns
    -------
    Reclassification
        ``value, ci_low, ci_high, p_value`` with ``events`` and
        ``nonevents`` components.

    Notes
    -----
    ``SE^2 = (pu_e + pd_e - (pu_e - pd_e)^2) / n_e + (pu_n + pd_n - (pu_n -
    pd_n)^2) / n_n`` (Pencina 2008, as ``Hmisc::improveProb``).

    Examples
    --------
    >>> y = [0, 0, 0, 1, 1, 1]
    >>> r = nri(y, [0.2, 0.4, 0.6, 0.4, 0.5, 0.7], [0.1, 0.3, 0.4, 0.6, 0.7, 0.9], cutoffs=[0.5])
    >>> r.kind, round(r.value, 4), round(r.events, 4), round(r.nonevents, 4)
    ('categorical NRI', 0.6667, 0.3333, 0.3333)
    >>> nri(y, [0.2, 0.4, 0.6, 0.4, 0.5, 0.7], [0.1, 0.3, 0.4, 0.6, 0.7, 0.9]).value
    2.0
    """
    level = check_level(level)
    yb, a, b = _inputs(y, p_old, p_new)
    if cutoffs is None:
        up, down, kind = b > a, b < a, "continuous NRI"
    else:
        c = np.sort(as_float(np.atleast_1d(cutoffs), "cutoffs"))
        if c.min() <= 0 or c.max() >= 1:
            raise StatsInputError(f"cutoffs must lie strictly between 0 and 1, got {c.tolist()}")
        ca, cb = np.searchsorted(c, a, side="right"), np.searchsorted(c, b, side="right")
        up, down, kind = cb > ca, cb < ca, "categorical NRI"
    ev, ne = yb == 1, yb == 0
    pu_e, pd_e = up[ev].mean(), down[ev].mean()
    pu_n, pd_n = up[ne].mean(), down[ne].mean()
    n_e, n_n = ev.sum(), ne.sum()
    nri_e, nri_n = pu_e - pd_e, pd_n - pu_n
    var = (pu_e + pd_e - (pu_e - pd_e) ** 2) / n_e + (pu_n + pd_n - (pu_n - pd_n) ** 2) / n_n
    return _result(nri_e + nri_n, np.sqrt(max(var, 0.0)), nri_e, nri_n, kind, level)


def idi(y, p_old, p_new, level: float = 0.95) -> Reclassification:
    """Integrated discrimination improvement of ``p_new`` over ``p_old``.

    ``IDI = (mean p_new - mean p_old | events) - (mean p_new - mean p_old |
    non-events)``, i.e. the gain in discrimination slope.
    ``SE^2 = var(d | events)/n_e + var(d | non-events)/n_n`` with ``d = p_new -
    p_old`` and ``ddof = 1`` (Pencina 2008; ``Hmisc::improveProb``).

    Parameters
    ----------
    y : array-like of 0/1
    p_old, p_new : array-like in [0, 1]
    level : float

    Returns
    -------
    Reclassification
        ``events`` is the mean change in events, ``nonevents`` minus the mean
        change in non-events.

    Examples
    --------
    >>> r = idi([0, 0, 0, 1, 1, 1], [0.2, 0.4, 0.6, 0.4, 0.5, 0.7], [0.1, 0.3, 0.4, 0.6, 0.7, 0.9])
    >>> r.kind, round(r.value, 4), round(r.events, 4), round(r.nonevents, 4)
    ('IDI', 0.3333, 0.2, 0.1333)
    """
    level = check_level(level)
    yb, a, b = _inputs(y, p_old, p_new)
    d = b - a
    de, dn = d[yb == 1], d[yb == 0]
    if de.size < 2 or dn.size < 2:
        raise StatsInputError("IDI needs at least 2 events and 2 non-events")
    se = np.sqrt(de.var(ddof=1) / de.size + dn.var(ddof=1) / dn.size)
    return _result(de.mean() - dn.mean(), se, de.mean(), -dn.mean(), "IDI", level)
