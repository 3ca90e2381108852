"""Intraclass correlation coefficients (Shrout & Fleiss 1979; McGraw & Wong 1996).

The six forms come from the two-way ANOVA of a targets x raters table
(``n`` targets, ``k`` raters, no missing cells):

========  ===========================  ==================================
form      McGraw & Wong name           model
========  ===========================  ==================================
ICC(1,1)  ICC(1)                       one-way random, single rater
ICC(2,1)  ICC(A,1)                     two-way random, absolute agreement
ICC(3,1)  ICC(C,1)                     two-way mixed, consistency
ICC(1,k)  ICC(k)                       one-way random, mean of k raters
ICC(2,k)  ICC(A,k)                     two-way random, absolute, mean of k
ICC(3,k)  ICC(C,k)                     two-way mixed, consistency, mean of k
========  ===========================  ==================================

F statistics, p-values and confidence intervals are those of R
``psych::ICC`` (and pingouin ``intraclass_corr``): exact F intervals for forms
1 and 3, the Satterthwaite approximation of McGraw & Wong for form 2.

References
----------
Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater
reliability. Psychol Bull 1979;86:420-428.
McGraw KO, Wong SP. Forming inferences about some intraclass correlation
coefficients. Psychol Methods 1996;1:30-46.
Koo TK, Li MY. A guideline of selecting and reporting intraclass correlation
coefficients for reliability research. J Chiropr Med 2016;15:155-163.
Revelle W. psych: Procedures for Psychological, Psychometric, and Personality
Research. R package (``ICC``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from radgui.errors import StatsInputError

from ._checks import check_level

__all__ = ["ICC", "icc", "ICC_FORMS"]

ICC_FORMS = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)")

_ALIASES = {
    # Shrout & Fleiss, with and without the parentheses / comma
    "ICC(1,1)": "ICC(1,1)", "ICC1": "ICC(1,1)", "ICC(2,1)": "ICC(2,1)", "ICC2": "ICC(2,1)",
    "ICC(3,1)": "ICC(3,1)", "ICC3": "ICC(3,1)", "ICC(1,K)": "ICC(1,k)", "ICC1K": "ICC(1,k)",
    "ICC(2,K)": "ICC(2,k)", "ICC2K": "ICC(2,k)", "ICC(3,K)": "ICC(3,k)", "ICC3K": "ICC(3,k)",
    # McGraw & Wong
    "ICC(1)": "ICC(1,1)", "ICC(K)": "ICC(1,k)", "ICC(A,1)": "ICC(2,1)", "ICC(C,1)": "ICC(3,1)",
    "ICC(A,K)": "ICC(2,k)", "ICC(C,K)": "ICC(3,k)",
}


@dataclass(frozen=True)
class ICC:
    """An intraclass correlation with its F test and confidence interval.

    Attributes
    ----------
    icc : float
        NaN when the ratings have no variance (a constant feature).
    ci_low, ci_high : float
    f : float
        F statistic of the test ``ICC = 0``.
    p_value : float
    df1, df2 : float
    form : str
        Canonical Shrout & Fleiss name, e.g. ``"ICC(2,1)"``.
    n_targets, n_raters : int
    level : float
    """

    icc: float
    ci_low: float
    ci_high: float
    f: float
    p_value: float
    df1: float
    df2: float
    form: str
    n_targets: int
    n_raters: int
    level: float = 0.95

    def passes(self, threshold: float) -> bool:
        """True when ``icc >= threshold``; a NaN ICC never passes."""
        return bool(np.isfinite(self.icc) and self.icc >= threshold)


def _canonical(form: str) -> str:
    key = str(form).upper().replace(" ", "").replace("_", "")
    if key in _ALIASES:
        return _ALIASES[key]
    raise StatsInputError(f"unknown ICC form {form!r}; use one of {', '.join(ICC_FORMS)} (or ICC(A,1), ICC(C,1), ...)")


def _matrix(ratings, nan_policy):
    try:
        x = np.asarray(ratings, dtype=float)
    except (TypeError, ValueError):
        raise StatsInputError("ratings must be a numeric targets x raters table") from None
    if x.ndim != 2:
        raise StatsInputError(f"ratings must be 2-D (targets x raters), got shape {x.shape}")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        if nan_policy == "omit":
            x = x[~bad]
        else:
            raise StatsInputError(
                f"{int(bad.sum())} target(s) have missing ratings; remove them or pass nan_policy='omit'"
            )
    n, k = x.shape
    if n < 2 or k < 2:
        raise StatsInputError(f"ICC needs at least 2 targets and 2 raters, got {n} x {k}")
    return x


def icc(ratings, form: str = "ICC(2,1)", level: float = 0.95, nan_policy: str = "raise") -> ICC:
    """Intraclass correlation of a targets x raters table.

    Parameters
    ----------
    ratings : array-like or DataFrame, shape (n_targets, n_raters)
        One row per target (patient, lesion), one column per rater or
        repeated segmentation/scan.
    form : str
        ``"ICC(1,1)"``, ``"ICC(2,1)"`` (default: two-way random, absolute
        agreement, single rater, as recommended for inter-reader radiomics
        reproducibility by Koo & Li 2016), ``"ICC(3,1)"``, ``"ICC(1,k)"``,
        ``"ICC(2,k)"``, ``"ICC(3,k)"``; McGraw & Wong names ``ICC(1)``,
        ``ICC(A,1)``, ``ICC(C,1)``, ``ICC(k)``, ``ICC(A,k)``, ``ICC(C,k)`` and
        psych's ``ICC1``, ``ICC2k``, ... are accepted.
    level : float
        Confidence level.
    nan_policy : {"raise", "omit"}
        ``"omit"`` drops targets with any missing rating.

    Returns
    -------
    ICC
        ``icc, ci_low, ci_high, f, p_value`` (+ ``df1, df2, form``).
        A table without variance (constant feature) gives NaN everywhere,
        and ``ICC.passes(threshold)`` is then False.

    Notes
    -----
    With mean squares for targets (MSR), raters (MSC), residual (MSE) and
    within-target (MSW): ICC(1,1) = (MSR - MSW) / (MSR + (k-1) MSW);
    ICC(2,1) = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE)/n);
    ICC(3,1) = (MSR - MSE) / (MSR + (k-1) MSE); the k forms drop the
    ``(k-1)`` terms (Shrout & Fleiss 1979, Table 1).

    References
    ----------
    Shrout & Fleiss, Psychol Bull 1979;86:420. McGraw & Wong, Psychol Methods
    1996;1:30. psych ``ICC``.

    Examples
    --------
    Six targets rated twice (Koo & Li's ICC(2,1), absolute agreement):

    >>> r = icc([[9, 10], [6, 7], [8, 8], [7, 6], [10, 9], [6, 6]], "ICC(2,1)")
    >>> round(r.icc, 4), r.n_targets, r.n_raters, round(r.p_value, 4)
    (0.8718, 6, 2, 0.0077)
    >>> round(icc([[9, 10], [6, 7], [8, 8], [7, 6], [10, 9], [6, 6]], "ICC(3,1)").icc, 4)
    0.85
    """
    level = check_level(level)
    canon = _canonical(form)
    if nan_policy not in ("raise", "omit"):
        raise StatsInputError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    x = _matrix(ratings, nan_policy)
    n, k = x.shape
    grand = x.mean()
    ss_total = ((x - grand) ** 2).sum()
    ss_r = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_c = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_e = ss_total - ss_r - ss_c
    df_r, df_c, df_e, df_w = n - 1, k - 1, (n - 1) * (k - 1), n * (k - 1)
    msr, msc, mse = ss_r / df_r, ss_c / df_c, max(ss_e, 0.0) / df_e
    msw = (ss_c + max(ss_e, 0.0)) / df_w
    alpha = 1 - level
    nan = float("nan")
    scale = max(abs(grand), x.std(), 1.0)
    if ss_total <= (1e-12 * scale) ** 2 * x.size or msr <= 0:
        one_way = canon.startswith("ICC(1")
        return ICC(nan, nan, nan, nan, nan, df_r, df_w if one_way else df_e, canon, n, k, level)

    single = canon.endswith(",1)")
    with np.errstate(divide="ignore", invalid="ignore"):
        if not canon.startswith("ICC(2"):
            # one-way (error = within-target MS) or two-way consistency (error = residual MS):
            # the same formulas and exact F intervals with a different error term
            ms_err, d2 = (msw, df_w) if canon.startswith("ICC(1") else (mse, df_e)
            d1 = df_r
            f = msr / ms_err
            fl = f / _st.f.ppf(1 - alpha / 2, d1, d2)
            fu = f * _st.f.ppf(1 - alpha / 2, d2, d1)
            if single:
                val = (msr - ms_err) / (msr + (k - 1) * ms_err)
                lo, hi = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
            else:
                val = (msr - ms_err) / msr
                lo, hi = 1 - 1 / fl, 1 - 1 / fu
        else:  # two-way random, absolute agreement
            f = msr / mse
            d1, d2 = df_r, df_e
            icc21 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
            fj = msc / mse
            vn = (k - 1) * (n - 1) * (k * icc21 * fj + n * (1 + (k - 1) * icc21) - k * icc21) ** 2
            vd = (n - 1) * k**2 * icc21**2 * fj**2 + (n * (1 + (k - 1) * icc21) - k * icc21) ** 2
            v = vn / vd
            f_u = _st.f.ppf(1 - alpha / 2, n - 1, v)
            f_l = _st.f.ppf(1 - alpha / 2, v, n - 1)
            lo = n * (msr - f_u * mse) / (f_u * (k * msc + (k * n - k - n) * mse) + n * msr)
            hi = n * (f_l * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_l * msr)
            if single:
                val = icc21
            else:
                val = (msr - mse) / (msr + (msc - mse) / n)
                lo, hi = lo * k / (1 + lo * (k - 1)), hi * k / (1 + hi * (k - 1))
        p = float(_st.f.sf(f, d1, d2)) if np.isfinite(f) else 0.0
    if val == 1.0 and not (np.isfinite(lo) and np.isfinite(hi)):  # perfect agreement: MSE = 0
        lo = hi = 1.0
    return ICC(float(val), float(lo), float(hi), float(f), p, float(d1), float(d2), canon, n, k, level)
