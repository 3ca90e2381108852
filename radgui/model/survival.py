"""Survival models: LASSO-Cox on a penalty path (scikit-survival) and Cox on Radscore + clinical (lifelines).

The LASSO-Cox is scikit-survival's :class:`~sksurv.linear_model.CoxnetSurvivalAnalysis`
(``l1_ratio=1``), the coordinate-descent algorithm of glmnet's Cox family
(Simon et al. 2011): it minimises ``-loglik/n + lambda * ||b||_1`` (Breslow
ties) over a path of ``n_lambdas`` values from ``lambda_max`` (every
coefficient zero) down to ``min_ratio * lambda_max``, with exact zeros, so it
stays fast and stable when there are many more features than patients. The
penalty is chosen by k-fold cross-validation stratified by event:

* ``score="deviance"`` (default, glmnet's ``cv.glmnet(family="cox")``): the
  cross-validated partial-likelihood deviance of Verweij & van Houwelingen
  (1993), fold ``k`` contributing ``-2 (l(b_-k) - l_-k(b_-k)) / d_k`` (full-data
  minus training-data log partial likelihood at the training coefficients,
  per event of the fold), averaged over folds weighted by their events;
* ``score="cindex"``: Harrell's C of the held-out linear predictor.

``rule="min"`` takes the lambda with the best mean score (``lambda.min``);
``rule="1se"`` the largest lambda whose score is within one standard error
of that best one (``lambda.1se``, a sparser model). Cox fits use
:func:`radgui.stats.cox` (lifelines ``CoxPHFitter``, Efron ties).

References
----------
Tibshirani R. The lasso method for variable selection in the Cox model.
Stat Med 1997;16:385-95.
Simon N, Friedman J, Hastie T, Tibshirani R. Regularization paths for Cox's
proportional hazards model via coordinate descent. J Stat Softw 2011;39(5).
Verweij PJM, van Houwelingen HC. Cross-validation in survival analysis.
Stat Med 1993;12:2305-14.
Polsterl S. scikit-survival: a library for time-to-event analysis built on
top of scikit-learn. J Mach Learn Res 2020;21(212):1-6.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from radgui.model.steps import GroupedStratifiedKFold

from radgui.errors import ConfigError, ModelFitError

RULES = ("min", "1se")
SCORES = ("deviance", "cindex")


def breslow_loglik(eta, time, event) -> np.ndarray:
    """Breslow log partial likelihood of linear predictors ``eta`` (n,) or (n, L); one value per column."""
    eta = np.asarray(eta, dtype=float)
    one = eta.ndim == 1
    eta = eta[:, None] if one else eta
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    order = np.argsort(-time, kind="stable")          # longest first: the risk set is a prefix
    t, e, eta = time[order], event[order], eta[order]
    shift = eta.max(axis=0)
    cum = np.cumsum(np.exp(eta - shift), axis=0)
    last = np.searchsorted(-t, -t, side="right") - 1  # tied times share the whole risk set
    log_risk = np.log(cum[last]) + shift
    out = (eta[e] - log_risk[e]).sum(axis=0)
    return out[0] if one else out


def _surv(time, event):
    from sksurv.util import Surv

    return Surv.from_arrays(np.asarray(event, dtype=bool), np.asarray(time, dtype=float))


def _coxnet_path(X, time, event, *, alphas=None, n_lambdas=50, min_ratio=None, max_iter=100000):
    """``(alphas, coef (p, L), converged)`` of the LASSO-Cox path.

    A numerical failure of the solver is a one-line :class:`ModelFitError`;
    running out of iterations is reported by ``converged = False``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    kw = {"alphas": np.asarray(alphas, float)} if alphas is not None else \
        {"n_alphas": int(n_lambdas), "alpha_min_ratio": "auto" if min_ratio is None else float(min_ratio)}
    model = CoxnetSurvivalAnalysis(l1_ratio=1.0, max_iter=int(max_iter), **kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(np.asarray(X, dtype=float), _surv(time, event))
        except (ArithmeticError, ValueError) as exc:
            raise ModelFitError(f"LASSO-Cox could not be fitted ({str(exc).splitlines()[0]}); raise "
                                "steps.lasso.min_ratio or reduce the number of features") from None
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return np.asarray(model.alphas_, float), np.asarray(model.coef_, float), converged


def _not_converged(max_iter, smallest) -> ModelFitError:
    return ModelFitError(f"LASSO-Cox did not converge within {int(max_iter)} iterations even on the shortest "
                         f"penalty path (smallest lambda {smallest:.3g}); raise steps.lasso.min_ratio or reduce the "
                         "number of features")


class LassoCox(BaseEstimator):
    """LASSO-penalised Cox regression on a penalty path with the penalty chosen by k-fold CV.

    ``fit(X, time, event)`` with ``X`` a DataFrame of (z-scored) features.

    Parameters
    ----------
    folds : int
        CV folds (stratified by event); every fold needs an event, so the
        data need at least ``folds`` events.
    rule : {"1se", "min"}
        ``lambda.1se`` or ``lambda.min`` (see the module docstring).
    n_lambdas : int
        Length of the path (it may stop earlier, like glmnet's, once the
        model is nearly saturated).
    min_ratio : float, optional
        Smallest lambda as a fraction of ``lambda_max``; default 0.01 when
        there are more features than patients, else 1e-4 (glmnet's).
    score : {"deviance", "cindex"}
        CV criterion.
    max_iter : int
        Coordinate-descent iterations per fit. Where the solver runs out of
        them (near-saturated models at the smallest lambdas, typical when
        there are more patients than features), the path is shortened by
        20 % steps until the full-data fit and every fold converge, like
        glmnet; if even three lambdas do not converge,
        :class:`~radgui.errors.ModelFitError` is raised (one line).

    Attributes
    ----------
    lambdas_ : ndarray (L,), decreasing
    coef_path_ : ndarray (p, L)
    cv_mean_, cv_se_ : ndarray (L,)
        Mean CV score per lambda and its standard error.
    lambda_min_, lambda_1se_, lambda_ : float
        The best, the one-SE and the chosen lambda.
    index_ : int
        Position of ``lambda_`` on the path.
    path_stopped_ : bool
        True when the path was shortened because the solver did not converge.
    fallback_ : bool
        True when the chosen lambda selected no feature and the largest
        lambda selecting one was used instead.
    coef_ : Series (all features; exactly 0 for dropped ones)
    selected_ : list of str
    """

    def __init__(self, folds: int = 10, rule: str = "1se", n_lambdas: int = 50, min_ratio: float | None = None,
                 score: str = "deviance", max_iter: int = 100000, random_state: int | None = None):
        self.folds = folds
        self.rule = rule
        self.n_lambdas = n_lambdas
        self.min_ratio = min_ratio
        self.score = score
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, time, event):
        if self.rule not in RULES:
            raise ConfigError(f"LASSO-Cox rule must be one of {', '.join(RULES)}, got {self.rule!r}")
        if self.score not in SCORES:
            raise ConfigError(f"LASSO-Cox score must be one of {', '.join(SCORES)}, got {self.score!r}")
        X = pd.DataFrame(X)
        A = X.to_numpy(float)
        t = np.asarray(time, dtype=float)
        e = np.asarray(event, dtype=int)
        n_events = int(e.sum())
        if n_events < max(2, self.folds):
            raise ConfigError(f"LASSO-Cox with {self.folds}-fold cross-validation needs at least "
                              f"{max(2, self.folds)} events (one per fold); these data have {n_events}")
        lambdas, path, ok = _coxnet_path(A, t, e, n_lambdas=self.n_lambdas, min_ratio=self.min_ratio,
                                         max_iter=self.max_iter)
        requested = lambdas.size
        splits = list(GroupedStratifiedKFold(self.folds, shuffle=True, random_state=self.random_state).split(X, e))
        fold_coefs = None
        while True:  # like glmnet, stop the path where the solver no longer converges (full data or any fold)
            if ok:
                fold_coefs = []
                for tr, _ in splits:
                    _, coef, ok = _coxnet_path(A[tr], t[tr], e[tr], alphas=lambdas, max_iter=self.max_iter)
                    if not ok:
                        break
                    fold_coefs.append(coef)
            if ok:
                break
            if lambdas.size <= 3:
                raise _not_converged(self.max_iter, lambdas[-1])
            lambdas = lambdas[: max(3, int(lambdas.size * 0.8))]
            _, path, ok = _coxnet_path(A, t, e, alphas=lambdas, max_iter=self.max_iter)
        # the solver may end a path early (saturated fit, as glmnet does): keep the lambdas every fit reached
        reached = min([path.shape[1]] + [c.shape[1] for c in fold_coefs])
        if reached < lambdas.size:
            lambdas, path = lambdas[:reached], path[:, :reached]
            fold_coefs = [c[:, :reached] for c in fold_coefs]
        self.lambdas_, self.coef_path_ = lambdas, path
        self.path_stopped_ = bool(lambdas.size < requested)
        L = self.lambdas_.size
        raw = np.full((self.folds, L), np.nan)
        weights = np.zeros(self.folds)
        for k, ((tr, te), coef) in enumerate(zip(splits, fold_coefs)):
            if self.score == "deviance":
                full = breslow_loglik(A @ coef, t, e)
                train = breslow_loglik(A[tr] @ coef, t[tr], e[tr])
                weights[k] = e[te].sum()
                raw[k] = -2.0 * (full - train) / weights[k]
            else:
                from lifelines.utils import concordance_index

                risk = A[te] @ coef
                weights[k] = 1.0
                raw[k] = [concordance_index(t[te], -risk[:, j], e[te]) for j in range(L)]
        w = weights / weights.sum()
        self.cv_mean_ = w @ raw
        self.cv_se_ = np.sqrt((w @ (raw - self.cv_mean_) ** 2) / (self.folds - 1))
        sign = 1.0 if self.score == "deviance" else -1.0            # lower deviance / higher C is better
        best = int(np.argmin(sign * self.cv_mean_))
        within = sign * self.cv_mean_ <= sign * self.cv_mean_[best] + self.cv_se_[best]
        one_se = int(np.flatnonzero(within)[0])                      # lambdas decrease: first = largest
        self.lambda_min_, self.lambda_1se_ = float(self.lambdas_[best]), float(self.lambdas_[one_se])
        idx = best if self.rule == "min" else one_se
        nonzero = (self.coef_path_ != 0).sum(axis=0)
        self.fallback_ = bool(nonzero[idx] == 0)
        if self.fallback_:
            idx = int(np.flatnonzero(nonzero > 0)[0]) if (nonzero > 0).any() else idx
        self.index_ = idx
        self.lambda_ = float(self.lambdas_[idx])
        self.n_events_ = n_events
        self.coef_ = pd.Series(self.coef_path_[:, idx], index=X.columns)
        sel = self.coef_ != 0
        self.selected_ = list(self.coef_.index[sel]) or [self.coef_.index[0]]
        return self

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        """Linear predictor ``X @ coef_`` (higher = shorter survival)."""
        return X[list(self.coef_.index)].to_numpy(float) @ self.coef_.to_numpy()

    def summary(self) -> dict:
        """The chosen penalty and how, for ``metrics.json``."""
        return {"solver": "scikit-survival CoxnetSurvivalAnalysis (l1_ratio=1, Breslow ties)",
                "score": self.score, "rule": self.rule, "folds": self.folds, "n_lambdas": int(self.lambdas_.size),
                "lambda": self.lambda_, "lambda_min": self.lambda_min_, "lambda_1se": self.lambda_1se_,
                "n_selected": int((self.coef_ != 0).sum()), "fallback_to_first_nonzero": self.fallback_,
                "path_stopped_where_solver_failed": self.path_stopped_, "smallest_lambda": float(self.lambdas_[-1]),
                "n_events": self.n_events_}


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
