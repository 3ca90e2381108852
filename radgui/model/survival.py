"""Survival models: LASSO-Cox selection and Cox on Radscore + clinical (lifelines).

Cox fits use :func:`radgui.stats.cox` (lifelines ``CoxPHFitter``, Efron ties).
The LASSO-Cox uses lifelines' elastic-net penalty with ``l1_ratio=1``:
lifelines minimises ``-loglik/n + penalizer * ||b||_1`` with a smooth
approximation of ``|b|``, so coefficients shrink to nearly (not exactly)
zero; features with ``|b| < zero_tol`` are treated as not selected. The
penalty is chosen by k-fold cross-validated Harrell's C.

References
----------
Tibshirani R. The lasso method for variable selection in the Cox model.
Stat Med 1997;16:385-95.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.model_selection import KFold

from radgui.errors import ConfigError


def _cph(penalizer: float):
    from lifelines import CoxPHFitter

    return CoxPHFitter(penalizer=penalizer, l1_ratio=1.0 if penalizer > 0 else 0.0)


class LassoCox(BaseEstimator):
    """LASSO-penalised Cox regression with the penalty chosen by CV C-index.

    ``fit(X, time, event)`` with ``X`` a DataFrame of (z-scored) features.

    Attributes
    ----------
    penalizer_ : float
    cv_cindex_ : ndarray (mean C per penalizer)
    coef_ : Series (all features; ~0 for dropped ones)
    selected_ : list of str
    """

    def __init__(self, penalizers: Sequence[float] = (0.3, 0.1, 0.05, 0.02, 0.01), folds: int = 5,
                 zero_tol: float = 1e-3, random_state: int | None = None):
        self.penalizers = penalizers
        self.folds = folds
        self.zero_tol = zero_tol
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, time, event):
        from lifelines.utils import concordance_index

        t = np.asarray(time, dtype=float)
        e = np.asarray(event, dtype=int)
        if e.sum() < 2:
            raise ConfigError("LASSO-Cox needs at least two events")
        cv = KFold(self.folds, shuffle=True, random_state=self.random_state)
        scores = np.zeros((self.folds, len(self.penalizers)))
        for f, (tr, te) in enumerate(cv.split(X)):
            for j, pen in enumerate(self.penalizers):
                m = self._fit(X.iloc[tr], t[tr], e[tr], pen)
                risk = X.iloc[te].to_numpy(float) @ m.params_.to_numpy()
                scores[f, j] = concordance_index(t[te], -risk, e[te]) if e[te].sum() else np.nan
        self.cv_cindex_ = np.nanmean(scores, axis=0)
        self.penalizer_ = float(self.penalizers[int(np.nanargmax(self.cv_cindex_))])
        m = self._fit(X, t, e, self.penalizer_)
        self.coef_ = m.params_.copy()
        big = self.coef_.abs() >= self.zero_tol
        self.selected_ = list(self.coef_.index[big]) or [self.coef_.abs().idxmax()]
        return self

    @staticmethod
    def _fit(X, t, e, pen):
        frame = X.copy()
        frame["__time"], frame["__event"] = t, e
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _cph(pen).fit(frame, "__time", "__event")

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        """Linear predictor ``X @ coef_`` (higher = shorter survival)."""
        return X[list(self.coef_.index)].to_numpy(float) @ self.coef_.to_numpy()


def cox_linear_model(frame: pd.DataFrame, duration: str, event: str, covariates: Sequence[str],
                     horizon: float):
    """Fit a Cox model and return ``(CoxResult, coefficients, covariance, baseline survival at horizon)``.

    The baseline survival refers to a linear predictor computed *without*
    centring (``lp = sum(b * x)``), so ``S(h | x) = S0(h) ** exp(lp)``.
    """
    from radgui.stats import cox

    res = cox(frame[[duration, event, *covariates]], duration, event, list(covariates))
    model = res.model
    params = model.params_[list(covariates)]
    cov = model.variance_matrix_.loc[list(covariates), list(covariates)].to_numpy()
    zero = pd.DataFrame(np.zeros((1, len(covariates))), columns=list(covariates))
    s0 = float(model.predict_survival_function(zero, times=[horizon]).iloc[0, 0])
    return res, params, cov, s0
