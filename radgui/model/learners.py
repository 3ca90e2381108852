"""Learners and the radiomics pipeline builder.

Learners (``learner.name`` in the config):

``lasso``
    LASSO logistic with CV-chosen lambda; Radscore = its linear predictor with
    the LASSO coefficients, as the papers publish it.
``logistic``
    Unpenalised logistic regression on the features the selection steps kept.
``svm``, ``rf``, ``xgboost``
    RBF support-vector machine (Platt-scaled probabilities), random forest,
    gradient-boosted trees (xgboost); each tuned by inner-CV random search.
``stacking``
    SVM + RF + XGBoost base learners (each tuned by inner-CV random search),
    combined on their out-of-fold probabilities by a logistic or MLP
    meta-learner (scikit-learn ``StackingClassifier``).

All hyper-parameter searches run inside the training data they are given, so
in nested cross-validation they are part of the inner loop.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.stats import loguniform, randint, uniform
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import Pipeline

from radgui.errors import ConfigError
from radgui.model import steps as st

LEARNERS = ("lasso", "logistic", "svm", "rf", "xgboost", "stacking")
STEP_ORDER = ("icc", "nzv", "zscore", "combat", "correlation", "univariate", "mrmr", "lasso", "stability", "rfe")


def _svm(seed):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    # Platt-scaled probabilities (scikit-learn >= 1.9 spelling of SVC(probability=True))
    svm = CalibratedClassifierCV(SVC(kernel="rbf", random_state=seed), method="sigmoid",
                                 cv=st.GroupedStratifiedKFold(3), ensemble=False)
    return svm, {"estimator__C": loguniform(1e-2, 1e2), "estimator__gamma": loguniform(1e-4, 1e0)}


def _rf(seed):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1), {
        "max_depth": [2, 3, 5, None], "min_samples_leaf": randint(1, 8), "max_features": ["sqrt", 0.3, 0.6]}


def _xgb(seed):
    from xgboost import XGBClassifier

    return XGBClassifier(n_estimators=150, max_depth=3, learning_rate=0.1, subsample=0.8,
                         colsample_bytree=0.8, n_jobs=1, random_state=seed, eval_metric="logloss",
                         verbosity=0), {
        "max_depth": randint(2, 6), "learning_rate": loguniform(0.02, 0.3),
        "n_estimators": randint(50, 300), "subsample": uniform(0.6, 0.4)}


_BASES = {"svm": _svm, "rf": _rf, "xgboost": _xgb}


def _tuned(name, seed, tune: Mapping | None):
    est, dist = _BASES[name](seed)
    tune = dict(tune or {})
    n_iter = int(tune.get("n_iter", 10))
    if n_iter <= 0:
        return est
    return RandomizedSearchCV(est, dist, n_iter=n_iter, scoring="roc_auc", refit=True,
                              cv=st.GroupedStratifiedKFold(int(tune.get("folds", 3)), shuffle=True,
                                                           random_state=seed),
                              random_state=seed, n_jobs=1)


def make_learner(config: Mapping | None, seed: int | None = None, lasso: Mapping | None = None):
    """Build an unfitted final estimator from ``learner`` config.

    Parameters
    ----------
    config : mapping
        ``{"name": ..., "tune": {"n_iter", "folds"}, "meta": "logistic"|"mlp"}``.
    seed : int
    lasso : mapping, optional
        LASSO settings (the ``lasso`` step) used when ``name`` is ``lasso``.
    """
    config = dict(config or {"name": "lasso"})
    name = config.get("name", "lasso")
    if name == "lasso":
        return st.LassoLogisticCV(random_state=seed, **dict(lasso or {}))
    if name == "logistic":
        return LogisticRegression(C=np.inf, max_iter=5000)
    if name in _BASES:
        return _tuned(name, seed, config.get("tune"))
    if name == "stacking":
        from sklearn.ensemble import StackingClassifier

        meta = config.get("meta", "logistic")
        if meta == "logistic":
            final = LogisticRegression(max_iter=2000)
        elif meta == "mlp":
            from sklearn.neural_network import MLPClassifier

            final = MLPClassifier(hidden_layer_sizes=(8,), alpha=1e-2, max_iter=2000, random_state=seed)
        else:
            raise ConfigError(f"learner.meta must be 'logistic' or 'mlp', got {meta!r}")
        bases = [(b, _tuned(b, seed, config.get("tune"))) for b in ("svm", "rf", "xgboost")]
        return StackingClassifier(bases, final_estimator=final, stack_method="predict_proba",
                                  cv=st.GroupedStratifiedKFold(int(config.get("stack_folds", 5)), shuffle=True,
                                                               random_state=seed), n_jobs=1)
    raise ConfigError(f"unknown learner {name!r} (choose from {', '.join(LEARNERS)})")


def build_pipeline(steps: Mapping[str, Mapping | None], learner: Mapping | None = None, *,
                   icc: Mapping[str, float] | None = None, seed: int | None = None) -> Pipeline:
    """The radiomics pipeline: the configured steps in their fixed order, then the learner.

    Parameters
    ----------
    steps : mapping step name -> parameters (or None/{} for defaults)
        Any of :data:`STEP_ORDER`; absent steps are skipped.
    learner : mapping
        See :func:`make_learner`.
    icc : mapping feature -> ICC
        Needed by the ``icc`` step.
    seed : int
    """
    steps = {k: dict(v or {}) for k, v in (steps or {}).items() if v is not False}
    unknown = sorted(set(steps) - set(STEP_ORDER))
    if unknown:
        raise ConfigError(f"unknown step(s) {unknown} (known: {', '.join(STEP_ORDER)})")
    learner = dict(learner or {"name": "lasso"})
    out = []
    for name in STEP_ORDER:
        if name not in steps:
            continue
        p = steps[name]
        if name == "icc":
            if icc is None:
                raise ConfigError("the 'icc' step needs an ICC table ('icc_table:' in the config)")
            out.append(("icc", st.ICCFilter(icc=dict(icc), **p)))
        elif name == "nzv":
            out.append(("nzv", st.NearZeroVariance(**p)))
        elif name == "zscore":
            out.append(("zscore", st.ZScore()))
        elif name == "combat":
            p.pop("covariates", None)  # covariates travel as index levels (see steps module)
            out.append(("combat", st.ComBat(**p)))
        elif name == "correlation":
            out.append(("correlation", st.CorrelationFilter(**p)))
        elif name == "univariate":
            out.append(("univariate", st.UnivariateFilter(**p)))
        elif name == "mrmr":
            out.append(("mrmr", st.MRMR(**p)))
        elif name == "lasso":
            if learner.get("name", "lasso") != "lasso":  # else the learner itself is the LASSO
                out.append(("lasso", st.LassoLogisticCV(random_state=seed, **p)))
        elif name == "stability":
            out.append(("stability", st.StabilitySelection(random_state=seed, **p)))
        elif name == "rfe":
            out.append(("rfe", st.RFESelector(**p)))
    out.append(("learner", make_learner(learner, seed, steps.get("lasso"))))
    return Pipeline(out)


def set_seed(estimator, seed: int):
    """Set every ``random_state`` parameter of a (nested) estimator to ``seed``."""
    params = {k: seed for k in estimator.get_params(deep=True) if k.endswith("random_state")}
    if params:
        estimator.set_params(**params)
    return estimator


def deployable(estimator):
    """The fitted estimator with hyper-parameter searches replaced by their refitted best model.

    Predictions are unchanged (a fitted ``RandomizedSearchCV`` predicts with
    ``best_estimator_``); what remains holds only plain fitted models, which
    :mod:`skops.io` can store with a short trusted-type list.
    """
    from sklearn.ensemble import StackingClassifier
    from sklearn.utils import Bunch

    import copy

    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold

    def plain(cv):  # the grouped splitter is training-only; the bundle stores a plain (trusted) one
        if isinstance(cv, st.GroupedStratifiedKFold):
            return StratifiedKFold(cv.n_splits, shuffle=cv.shuffle, random_state=cv.random_state if cv.shuffle else None)
        return cv

    if isinstance(estimator, RandomizedSearchCV):
        return deployable(estimator.best_estimator_)
    if isinstance(estimator, CalibratedClassifierCV) and isinstance(estimator.cv, st.GroupedStratifiedKFold):
        est = copy.copy(estimator)
        est.cv = plain(estimator.cv)
        return est
    if isinstance(estimator, StackingClassifier) and hasattr(estimator, "estimators_"):
        est = copy.copy(estimator)
        est.cv = plain(estimator.cv)
        est.estimators_ = [deployable(e) for e in estimator.estimators_]
        est.estimators = [(n, e) for (n, _), e in zip(estimator.estimators, est.estimators_)]
        est.named_estimators_ = Bunch(**{n: e for (n, _), e in zip(estimator.estimators, est.estimators_)})
        return est
    return estimator
