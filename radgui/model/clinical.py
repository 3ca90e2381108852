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


def _fit_logit(y, design: pd.DataFrame):
    """Unpenalised logistic regression (statsmodels GLM, binomial) with intercept."""
    import statsmodels.api as sm

    X = sm.add_constant(design, has_constant="add") if design.shape[1] else \
        pd.DataFrame({"const": np.ones(len(y))}, index=design.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.GLM(np.asarray(y, dtype=float), X, family=sm.families.Binomial()).fit()


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
        If False, fit all variables without screening or stepwise selection.

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
        self.result_ = _fit_logit(yb, design[self.columns_])
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

    On ``fit``: the radiomics pipeline is fitted on the radiomics columns; its
    Radscore (decision function, or logit of the probability for non-linear
    learners) on the same training patients enters a logistic model with the
    clinical variables selected by screening and stepwise AIC (Radscore
    forced in). Everything is refitted inside each resampling fold.

    Parameters
    ----------
    radiomics : estimator
        Unfitted radiomics pipeline.
    radiomics_columns : sequence of str
    variables : mapping of clinical variable specs
    screen_p, direction : see :class:`ClinicalLogistic`
    """

    def __init__(self, radiomics=None, radiomics_columns: Sequence[str] = (),
                 variables: Mapping[str, Mapping] | None = None, screen_p: float = 0.1, direction: str = "both"):
        self.radiomics = radiomics
        self.radiomics_columns = radiomics_columns
        self.variables = variables
        self.screen_p = screen_p
        self.direction = direction

    def fit(self, X, y):
        from sklearn.base import clone

        self.classes_ = np.unique(np.asarray(y))
        self.radiomics_ = clone(self.radiomics).fit(X[list(self.radiomics_columns)], y)
        frame = self._clinical_frame(X)
        self.clinical_ = ClinicalLogistic(self.variables, self.screen_p, self.direction,
                                          forced=("radscore",)).fit(frame, y)
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
