"""Clinical and combined logistic models: univariate screening then stepwise AIC.

The clinical model follows the recipe of the radiomics papers: every
candidate variable is screened by a univariate logistic regression
(likelihood-ratio p < ``screen_p``, default 0.1), then a stepwise logistic
regression by AIC (forward, backward or both, statsmodels) keeps the
independent predictors. The *combined* model adds the Radscore (always kept)
to the selected clinical variables; it is the nomogram model.

Categorical variables enter as treatment-coded dummies against their first
level and are added or removed as a whole.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from radgui.errors import ConfigError


def encode(frame: pd.DataFrame, variables: Mapping[str, Mapping]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Design matrix (no intercept) with dummies for categorical variables.

    Parameters
    ----------
    frame : DataFrame
        One column per variable.
    variables : mapping name -> {"type": "continuous"|"categorical", "categories": [...]}
        The first category is the reference level.

    Returns
    -------
    design : DataFrame
        Continuous columns as float; categorical ones as ``name=level`` 0/1.
    groups : dict
        Variable name -> its design columns.
    """
    cols, groups = {}, {}
    for name, spec in variables.items():
        if name not in frame.columns:
            raise ConfigError(f"clinical variable '{name}' is not a column of the clinical table")
        if spec.get("type", "continuous") == "categorical":
            levels = [str(c) for c in spec["categories"]]
            values = frame[name].map(_level_str)
            unknown = sorted(set(values.dropna()) - set(levels))
            if unknown:
                raise ConfigError(f"clinical variable '{name}' has value(s) {unknown} not among its "
                                  f"categories {levels}")
            groups[name] = []
            for lvl in levels[1:]:
                col = f"{name}={lvl}"
                cols[col] = (values == lvl).astype(float)
                groups[name].append(col)
        else:
            cols[name] = pd.to_numeric(frame[name], errors="raise").astype(float)
            groups[name] = [name]
    return pd.DataFrame(cols, index=frame.index), groups


def _level_str(v) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _fit_logit(y, design: pd.DataFrame, record: list | None = None):
    """Unpenalised logistic regression (statsmodels GLM, binomial) with intercept.

    Warnings (perfect separation, non-convergence) are silenced; with
    ``record`` their messages are appended to it.
    """
    import statsmodels.api as sm

    X = sm.add_constant(design, has_constant="add") if design.shape[1] else \
        pd.DataFrame({"const": np.ones(len(y))}, index=design.index)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sm.GLM(np.asarray(y, dtype=float), X, family=sm.families.Binomial()).fit()
    if record is not None:
        record.extend(f"{w.category.__name__}: {w.message}" for w in caught)
    return res


#: A standardised log-odds ratio above this (per SD of the variable) is
#: treated as a sign of separation: odds multiplied by e^10 = 22,000 per SD.
HUGE_COEFFICIENT = 10.0
#: Fitted probabilities this close to 0 or 1 count as "at 0/1".
EXTREME_PROBABILITY = 1e-8


def separation_diagnostics(y, score, *, coefficients: Mapping[str, float] | None = None,
                           sd: Mapping[str, float] | None = None, converged: bool = True,
                           solver_warnings: Sequence[str] = ()) -> list[str]:
    """Signs of complete or quasi-complete separation and non-convergence of a logistic fit.

    Parameters
    ----------
    y : array of 0/1
    score : array
        The fitted linear predictor (or probability) on the training rows.
    coefficients, sd : mappings, optional
        Coefficients and the SD of each variable; a standardised coefficient
        ``|b * sd| > HUGE_COEFFICIENT`` is flagged.
    converged : bool
        The solver's convergence flag.
    solver_warnings : sequence of str
        Messages of warnings raised by the solver (statsmodels
        ``PerfectSeparationWarning``, scikit-learn ``ConvergenceWarning``).

    Returns
    -------
    list of str
        One sentence per problem; empty when none is seen.
    """
    y = np.asarray(y).astype(int)
    z = np.asarray(score, dtype=float)
    out = []
    if not converged:
        out.append("the maximum-likelihood fit did not converge")
    seen = set()
    for w in solver_warnings:
        if ("separation" in w.lower() or "converge" in w.lower()) and w not in seen:
            seen.add(w)
            out.append(f"solver warning: {w.splitlines()[0][:160]}")
    if 0 < y.sum() < y.size and np.all(np.isfinite(z)) and np.ptp(z) > 0:
        lo1, hi0 = z[y == 1].min(), z[y == 0].max()
        hi1, lo0 = z[y == 1].max(), z[y == 0].min()
        if lo1 > hi0 or hi1 < lo0:
            out.append("complete separation: the fitted score splits the two outcome classes perfectly "
                       "(apparent AUC 1; coefficients, probabilities and calibration are not estimable)")
        elif (lo1 == hi0 and np.sum(z == lo1) < y.size) or (hi1 == lo0 and np.sum(z == hi1) < y.size):
            out.append("quasi-complete separation: the fitted score splits the outcome classes up to ties")
    p = z if (z.min() >= 0 and z.max() <= 1) else 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))
    extreme = int(np.sum((p < EXTREME_PROBABILITY) | (p > 1 - EXTREME_PROBABILITY)))
    if extreme:
        out.append(f"{extreme} of {p.size} fitted probabilities are 0 or 1 (within {EXTREME_PROBABILITY:g})")
    for name, b in (coefficients or {}).items():
        s = (sd or {}).get(name, 1.0)
        if np.isfinite(b) and np.isfinite(s) and abs(b * s) > HUGE_COEFFICIENT:
            out.append(f"coefficient of {name} is {b:.3g} ({b * s:+.3g} log-odds per SD): a sign of separation")
        elif not np.isfinite(b):
            out.append(f"coefficient of {name} is not finite")
    return out


def screen_univariate(y, design: pd.DataFrame, groups: Mapping[str, list[str]]) -> pd.DataFrame:
    """Univariate logistic likelihood-ratio test of each variable.

    Returns a DataFrame indexed by variable with ``p_value`` and ``df``.
    """
    null = _fit_logit(y, design.iloc[:, :0])
    rows = {}
    for name, cols in groups.items():
        res = _fit_logit(y, design[cols])
        lr = max(2 * (res.llf - null.llf), 0.0)
        rows[name] = {"lr": lr, "df": len(cols), "p_value": float(stats.chi2.sf(lr, len(cols)))}
    return pd.DataFrame(rows).T


def stepwise_aic(y, design: pd.DataFrame, groups: Mapping[str, list[str]], candidates: Sequence[str],
                 direction: str = "both", forced: Sequence[str] = ()) -> list[str]:
    """Stepwise logistic regression by AIC (as R's ``step``).

    ``forward`` starts from ``forced`` only and adds; ``backward`` starts from
    all candidates and removes; ``both`` starts from all candidates and at
    each step takes the single addition or removal that lowers AIC most.
    Variables in ``forced`` are never removed.
    """
    if direction not in ("forward", "backward", "both"):
        raise ConfigError(f"stepwise direction must be forward, backward or both, got {direction!r}")
    candidates = [c for c in candidates if c not in forced]

    def aic(vars_):
        cols = [c for v in (*forced, *vars_) for c in groups[v]]
        return _fit_logit(y, design[cols]).aic

    current = [] if direction == "forward" else list(candidates)
    best = aic(current)
    while True:
        moves = []
        if direction in ("forward", "both"):
            moves += [(aic(current + [v]), current + [v]) for v in candidates if v not in current]
        if direction in ("backward", "both"):
            moves += [(aic([c for c in current if c != v]), [c for c in current if c != v]) for v in current]
        if not moves:
            break
        new_aic, new = min(moves, key=lambda m: m[0])
        if new_aic < best - 1e-9:
            best, current = new_aic, new
        else:
            break
    return [v for v in candidates if v in current]


class ClinicalLogistic(ClassifierMixin, BaseEstimator):
    """Clinical (or combined) logistic model with screening and stepwise AIC.

    ``X`` is a DataFrame holding the clinical columns named in ``variables``
    (and ``radscore`` when it is forced in).

    Parameters
    ----------
    variables : mapping name -> {"type", "categories"}
    screen_p : float
        Univariate screening threshold (variables with p >= screen_p are
        dropped before stepwise selection); 1 disables screening.
    direction : {"both", "forward", "backward"}
    forced : sequence of str
        Variables always in the model (e.g. ``("radscore",)``).
    select : bool
        If False, fit all variables without screening or stepwise selection
        (a clinical model with fixed variables: ``clinical_model: {select:
        false}``).

    Attributes
    ----------
    screening_ : DataFrame (variable -> p_value)
    selected_ : list of str
    result_ : statsmodels GLM results (params, cov_params, bse)
    columns_ : list of design column names in ``result_`` order after ``const``
    """

    def __init__(self, variables: Mapping[str, Mapping] | None = None, screen_p: float = 0.1,
                 direction: str = "both", forced: Sequence[str] = (), select: bool = True):
        self.variables = variables
        self.screen_p = screen_p
        self.direction = direction
        self.forced = forced
        self.select = select

    def _specs(self):
        specs = dict(self.variables or {})
        for f in self.forced:
            specs.setdefault(f, {"type": "continuous"})
        return specs

    def fit(self, X, y):
        specs = self._specs()
        self.classes_ = np.unique(np.asarray(y))
        yb = (np.asarray(y) == self.classes_[-1]).astype(int)
        design, groups = encode(X, specs)
        free = [v for v in specs if v not in self.forced]
        if self.select and free:
            self.screening_ = screen_univariate(yb, design, {v: groups[v] for v in free})
            passed = [v for v in free if self.screening_.loc[v, "p_value"] < self.screen_p]
            self.selected_ = [*self.forced, *stepwise_aic(yb, design, groups, passed, self.direction,
                                                          forced=self.forced)]
        else:
            self.screening_ = pd.DataFrame(columns=["lr", "df", "p_value"])
            self.selected_ = [*self.forced, *free]
        self.columns_ = [c for v in self.selected_ for c in groups[v]]
        self.groups_ = {v: groups[v] for v in self.selected_}
        self.specs_ = {v: specs[v] for v in self.selected_}
        record = []
        self.result_ = _fit_logit(yb, design[self.columns_], record)
        params = self.result_.params
        self.fit_warnings_ = separation_diagnostics(
            yb, np.asarray(self.result_.fittedvalues, dtype=float),
            coefficients={c: float(params[c]) for c in self.columns_},
            sd={c: float(design[c].std(ddof=0)) for c in self.columns_},
            converged=bool(getattr(self.result_, "converged", True)), solver_warnings=record)
        return self

    def decision_function(self, X):
        check_is_fitted(self, "result_")
        design, _ = encode(X, self.specs_)
        b = self.result_.params
        return float(b["const"]) + design[self.columns_].to_numpy(float) @ b[self.columns_].to_numpy(float)

    def predict_proba(self, X):
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class CombinedModel(ClassifierMixin, BaseEstimator):
    """Radscore (from a radiomics pipeline) + selected clinical variables, logistic.

    On ``fit``: the radiomics pipeline is fitted on the radiomics columns. The
    Radscore that enters the logistic model (with the clinical variables
    selected by screening and stepwise AIC, Radscore forced in) is, by
    default (``cross_fit="auto"``):

    * for the ``lasso`` learner, its linear predictor on the training
      patients, as the papers publish it (the LASSO is shrunk);
    * for every other learner (unpenalised logistic, SVM, random forest,
      XGBoost, stacking), the **out-of-fold** Radscore of the training
      patients: the pipeline is refitted on ``cross_fit_folds - 1`` folds and
      scores the held-out fold (cross-fitting, as stacking does; folds keep a
      patient's rows together). A tree model's in-sample probabilities are
      near 0 and 1, so a logistic fitted on them gets an absurd Radscore
      coefficient and cutoff (issue 12).

    New patients are scored with the pipeline fitted on all training rows.
    Everything is refitted inside each resampling fold.

    Parameters
    ----------
    radiomics : estimator
        Unfitted radiomics pipeline.
    radiomics_columns : sequence of str
    variables : mapping of clinical variable specs
    screen_p, direction : see :class:`ClinicalLogistic`
    cross_fit : {"auto", True, False}
    cross_fit_folds : int
    random_state : int, optional
        Seed of the cross-fitting folds.
    select : bool
        False: a model with fixed variables, every clinical variable next to
        the Radscore, without screening or stepwise selection (as
        :class:`ClinicalLogistic` ``select=False``).

    Attributes
    ----------
    radscore_source_ : {"apparent", "out-of-fold"}
    train_radscore_ : ndarray
        The Radscore the logistic model was fitted on.
    train_prediction_ : ndarray
        The combined probability of the training rows from ``train_radscore_``
        (cross-fitted when the Radscore is out-of-fold).
    """

    def __init__(self, radiomics=None, radiomics_columns: Sequence[str] = (),
                 variables: Mapping[str, Mapping] | None = None, screen_p: float = 0.1, direction: str = "both",
                 cross_fit="auto", cross_fit_folds: int = 5, random_state: int | None = None, select: bool = True):
        self.select = select
        self.radiomics = radiomics
        self.radiomics_columns = radiomics_columns
        self.variables = variables
        self.screen_p = screen_p
        self.direction = direction
        self.cross_fit = cross_fit
        self.cross_fit_folds = cross_fit_folds
        self.random_state = random_state

    def _cross_fits(self) -> bool:
        if self.cross_fit == "auto":
            return not uses_lasso_radscore(self.radiomics)
        return bool(self.cross_fit)

    def fit(self, X, y):
        from sklearn.base import clone

        from radgui.model.learners import set_seed
        from radgui.model.steps import GroupedStratifiedKFold

        self.classes_ = np.unique(np.asarray(y))
        y = np.asarray(y)
        Xr = X[list(self.radiomics_columns)]
        self.radiomics_ = clone(self.radiomics).fit(Xr, y)
        frame = X[[v for v in (self.variables or {})]].copy()
        if self._cross_fits():
            yb = (y == self.classes_[-1]).astype(int)
            folds = max(2, min(int(self.cross_fit_folds), int(np.bincount(yb, minlength=2).min())))
            oof = np.full(len(y), np.nan)
            cv = GroupedStratifiedKFold(folds, shuffle=True, random_state=self.random_state)
            for k, (tr, te) in enumerate(cv.split(Xr, yb)):
                est = clone(self.radiomics)
                if self.random_state is not None:
                    set_seed(est, int(self.random_state) + k)
                est.fit(Xr.iloc[tr], y[tr])
                oof[te] = radscore_of(est, Xr.iloc[te])
            self.radscore_source_ = "out-of-fold"
            frame["radscore"] = oof
        else:
            self.radscore_source_ = "apparent"
            frame["radscore"] = radscore_of(self.radiomics_, Xr)
        self.train_radscore_ = frame["radscore"].to_numpy(float)
        self.clinical_ = ClinicalLogistic(self.variables, self.screen_p, self.direction,
                                          forced=("radscore",), select=self.select).fit(frame, y)
        self.train_prediction_ = self.clinical_.predict_proba(frame)[:, 1]
        return self

    def radscore(self, X) -> np.ndarray:
        return radscore_of(self.radiomics_, X[list(self.radiomics_columns)])

    def _clinical_frame(self, X):
        frame = X[[v for v in (self.variables or {})]].copy()
        frame["radscore"] = radscore_of(getattr(self, "radiomics_", None), X[list(self.radiomics_columns)])
        return frame

    def decision_function(self, X):
        check_is_fitted(self, "clinical_")
        return self.clinical_.decision_function(self._clinical_frame(X))

    def predict_proba(self, X):
        return self.clinical_.predict_proba(self._clinical_frame(X))

    def predict(self, X):
        return self.clinical_.predict(self._clinical_frame(X))


def uses_lasso_radscore(estimator) -> bool:
    """True when the pipeline's final learner is the LASSO (its Radscore is the published linear predictor)."""
    last = estimator[-1] if hasattr(estimator, "steps") else estimator
    return hasattr(last, "radscore_formula")


def radscore_of(estimator, X) -> np.ndarray:
    """Radscore of a fitted radiomics estimator: its linear predictor.

    Linear learners (LASSO, logistic) give their decision function; others
    the logit of their predicted probability.
    """
    last = estimator[-1] if hasattr(estimator, "steps") else estimator
    if hasattr(last, "radscore_formula") or last.__class__.__name__ == "LogisticRegression":
        return np.asarray(estimator.decision_function(X), dtype=float)
    p = np.clip(estimator.predict_proba(X)[:, 1], 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
