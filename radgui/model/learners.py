"""Learners and the radiomics pipeline builder.

Learners (``learner.name`` in the config):

``lasso``
    LASSO logistic with CV-chosen lambda; Radscore = its linear predictor with
    the LASSO coefficients, as the papers publish it.
``logistic``
    Unpenalised logistic regression on the features the selection steps kept.
``svm``, ``rf``, ``xgboost``
    RBF support-vector machine (Platt-scaled probabilities), random forest,
    gradient-boosted trees (xgboost); each tuned by inner-CV random search
    (``tune: {method: random, n_iter: 10}``) or by an exhaustive grid search
    over :data:`GRIDS` (``tune: {method: grid}``).
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
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline

from radgui.errors import ConfigError
from radgui.model import steps as st

LEARNERS = ("lasso", "logistic", "svm", "rf", "xgboost", "stacking")
STEP_ORDER = ("icc", "nzv", "zscore", "combat", "correlation", "univariate", "mrmr", "relief", "pca", "lasso",
              "stability", "rfe")
TUNE_METHODS = ("random", "grid")
#: ``before`` must come before ``after`` in a user step order (``steps.order``), and why.
ORDER_RULES = (
    ("icc", "pca", "the ICC filter looks features up by name, and PCA replaces them by components"),
    ("combat", "pca", "ComBat harmonises features, not principal components"),
    ("zscore", "pca", "PCA needs standardised features"),
    ("zscore", "lasso", "the LASSO penalty needs standardised features"),
    ("zscore", "stability", "the LASSO penalty needs standardised features"),
)


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


_DEVICE: list[str] = []  # xgboost_device()'s answer, found once per process


def _cuda_usable() -> bool:
    """Whether this xgboost build has CUDA and a one-round fit on device 0 works (no torch import)."""
    import xgboost

    try:
        if not xgboost.build_info().get("USE_CUDA"):
            return False  # e.g. the xgboost-cpu wheel radgui installs by default
        d = xgboost.DMatrix(np.array([[0.0], [1.0], [0.0], [1.0]]), label=np.array([0, 1, 0, 1]))
        xgboost.train({"device": "cuda", "tree_method": "hist", "verbosity": 0}, d, num_boost_round=1)
        return True
    except Exception:  # noqa: BLE001 - no driver, no device, out of memory: all mean "use the CPU"
        return False


def xgboost_device() -> str:
    """``"cuda"`` when XGBoost can train on a GPU here, else ``"cpu"`` (checked once per process).

    The check asks xgboost itself (``build_info()["USE_CUDA"]``, then a
    one-round fit with ``device="cuda"``), so it needs neither torch nor a
    CUDA toolkit. ``RADGUI_XGBOOST_DEVICE=cpu`` (or ``cuda``) overrides it.
    radgui's default dependency is the ``xgboost-cpu`` wheel, which has no
    CUDA: there the answer is always ``"cpu"``; install the full ``xgboost``
    wheel to train on a GPU. GPU and CPU trees agree closely but not to the
    last bit; the device used is recorded in the bundle's provenance
    (:func:`compute_provenance`).
    """
    import os

    forced = os.environ.get("RADGUI_XGBOOST_DEVICE", "").strip().lower()
    if forced:
        if forced not in ("cpu", "cuda"):
            raise ConfigError(f"RADGUI_XGBOOST_DEVICE must be 'cpu' or 'cuda', got {forced!r}")
        return forced
    if not _DEVICE:
        _DEVICE.append("cuda" if _cuda_usable() else "cpu")
    return _DEVICE[0]


def compute_provenance(learner: Mapping | None) -> dict:
    """``{"compute": {...}}`` for a bundle's provenance: the XGBoost build and device a learner trained on."""
    name = dict(learner or {}).get("name", "lasso")
    if name not in ("xgboost", "stacking"):
        return {}
    import xgboost

    return {"compute": {"xgboost": xgboost.__version__, "xgboost_cuda_build": bool(
        xgboost.build_info().get("USE_CUDA")), "xgboost_device": xgboost_device()}}


def _xgb(seed):
    from xgboost import XGBClassifier

    return XGBClassifier(n_estimators=150, max_depth=3, learning_rate=0.1, subsample=0.8,
                         colsample_bytree=0.8, n_jobs=1, random_state=seed, eval_metric="logloss",
                         verbosity=0, device=xgboost_device()), {
        "max_depth": randint(2, 6), "learning_rate": loguniform(0.02, 0.3),
        "n_estimators": randint(50, 300), "subsample": uniform(0.6, 0.4)}


_BASES = {"svm": _svm, "rf": _rf, "xgboost": _xgb}
#: The grids of ``tune: {method: grid}`` (every combination is fitted on every inner fold).
GRIDS = {
    "svm": {"estimator__C": [0.01, 0.1, 1.0, 10.0, 100.0], "estimator__gamma": [1e-4, 1e-3, 1e-2, 1e-1, 1.0]},
    "rf": {"max_depth": [2, 3, 5, None], "min_samples_leaf": [1, 3, 5], "max_features": ["sqrt", 0.3, 0.6]},
    "xgboost": {"max_depth": [2, 3, 4, 5], "learning_rate": [0.03, 0.1, 0.3], "n_estimators": [50, 150, 300]},
}


def grid_size(name: str) -> int:
    """Number of parameter combinations in :data:`GRIDS` ``[name]``."""
    return int(np.prod([len(v) for v in GRIDS[name].values()]))


def _tuned(name, seed, tune: Mapping | None):
    est, dist = _BASES[name](seed)
    tune = dict(tune or {})
    method = tune.get("method", "random")
    cv = st.GroupedStratifiedKFold(int(tune.get("folds", 3)), shuffle=True, random_state=seed)
    if method == "grid":
        return GridSearchCV(est, GRIDS[name], scoring="roc_auc", refit=True, cv=cv, n_jobs=1)
    if method != "random":
        raise ConfigError(f"learner.tune.method must be one of {', '.join(TUNE_METHODS)}, got {method!r}")
    n_iter = int(tune.get("n_iter", 10))
    if n_iter <= 0:
        return est
    return RandomizedSearchCV(est, dist, n_iter=n_iter, scoring="roc_auc", refit=True, cv=cv,
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
        Any of :data:`STEP_ORDER`; absent steps are skipped. An ``order``
        entry (a list of the step names) replaces the fixed order; see
        :func:`check_step_order`.
    learner : mapping
        See :func:`make_learner`.
    icc : mapping feature -> ICC
        Needed by the ``icc`` step.
    seed : int
    """
    steps = dict(steps or {})
    user_order = steps.pop("order", None)
    steps = {k: dict(v or {}) for k, v in steps.items() if v is not False}
    unknown = sorted(set(steps) - set(STEP_ORDER))
    if unknown:
        raise ConfigError(f"unknown step(s) {unknown} (known: {', '.join(STEP_ORDER)})")
    # a survival pipeline is built without its 'lasso' (the Cox learner replaces it): keep the others' order
    order = STEP_ORDER if user_order is None else check_step_order(
        [s for s in user_order if s in steps or s != "lasso"] if isinstance(user_order, list) else user_order, steps)
    learner = dict(learner or {"name": "lasso"})
    out = []
    for name in order:
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
            after = "zscore" in steps and order.index("zscore") > order.index("combat")
            out.append(("combat", st.ComBat(**p, zscore_after=after)))
        elif name == "correlation":
            out.append(("correlation", st.CorrelationFilter(**p)))
        elif name == "univariate":
            out.append(("univariate", st.UnivariateFilter(**p)))
        elif name == "mrmr":
            out.append(("mrmr", st.MRMR(**p)))
        elif name == "relief":
            out.append(("relief", st.ReliefSelector(**p)))
        elif name == "pca":
            out.append(("pca", st.PCAStep(**p)))
        elif name == "lasso":
            if learner.get("name", "lasso") != "lasso":  # else the learner itself is the LASSO
                out.append(("lasso", st.LassoLogisticCV(random_state=seed, **p)))
        elif name == "stability":
            out.append(("stability", st.StabilitySelection(random_state=seed, **p)))
        elif name == "rfe":
            out.append(("rfe", st.RFESelector(random_state=seed, **p)))
    out.append(("learner", make_learner(learner, seed, steps.get("lasso"))))
    return Pipeline(out)


#: The class each configured step builds (``build_pipeline``); its constructor holds the step's defaults.
STEP_CLASSES = {"icc": st.ICCFilter, "nzv": st.NearZeroVariance, "zscore": st.ZScore, "combat": st.ComBat,
                "correlation": st.CorrelationFilter, "univariate": st.UnivariateFilter, "mrmr": st.MRMR,
                "relief": st.ReliefSelector, "pca": st.PCAStep, "lasso": st.LassoLogisticCV,
                "stability": st.StabilitySelection, "rfe": st.RFESelector}


def step_parameters(name: str, params: Mapping | None) -> dict:
    """The parameters a configured step runs with: its constructor defaults, overridden by the config.

    The one source of step defaults: the methods paragraph and the GUI read
    them here instead of repeating the numbers.

    Examples
    --------
    >>> step_parameters("lasso", {"rule": "min"})["folds"], step_parameters("lasso", {"rule": "min"})["rule"]
    (10, 'min')
    """
    defaults = STEP_CLASSES[name]().get_params(deep=False)
    return {**{k: v for k, v in defaults.items() if k not in ("icc", "random_state")}, **dict(params or {})}


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

    if isinstance(estimator, (RandomizedSearchCV, GridSearchCV)):
        return deployable(estimator.best_estimator_)
    if type(estimator).__name__ == "XGBClassifier" and estimator.get_params().get("device") not in (None, "cpu"):
        est = copy.deepcopy(estimator)  # trained on a GPU; the bundle predicts on any machine's CPU
        est.set_params(device="cpu")
        return est
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


def check_step_order(order, steps: Mapping) -> tuple[str, ...]:
    """Validate a user step order (``steps.order``) against the enabled ``steps``; return it.

    The order must name every enabled step exactly once and nothing else, and
    respect :data:`ORDER_RULES` (e.g. z-score before LASSO or PCA). Raises a
    one-line :class:`ConfigError` otherwise.
    """
    enabled = [k for k, v in steps.items() if k != "order" and v is not False]
    if not isinstance(order, list) or not all(isinstance(s, str) for s in order):
        raise ConfigError(f"steps.order must be a list of step names, got {order!r}")
    dup = sorted({s for s in order if order.count(s) > 1})
    if dup:
        raise ConfigError(f"steps.order names {dup} more than once")
    unknown = [s for s in order if s not in STEP_ORDER]
    if unknown:
        raise ConfigError(f"steps.order names unknown step(s) {unknown} (known: {', '.join(STEP_ORDER)})")
    extra = [s for s in order if s not in enabled]
    missing = [s for s in enabled if s not in order]
    if extra or missing:
        raise ConfigError(f"steps.order must list exactly the configured steps {enabled}"
                          + (f"; it lists {extra}, which are not configured" if extra else "")
                          + (f"; it leaves out {missing}" if missing else ""))
    for before, after, why in ORDER_RULES:
        if before in order and after in order and order.index(before) > order.index(after):
            raise ConfigError(f"steps.order puts '{after}' before '{before}', which cannot work: {why}")
    return tuple(order)


#: Upper bounds of the new steps' integer settings (a config cannot ask for unbounded work).
STEP_LIMITS = {"k": 100_000, "n_neighbors": 1_000, "n_bootstrap": 5_000, "top_k": 100_000, "n_features": 100_000}


def check_step_params(name: str, params: Mapping) -> str | None:
    """A one-line problem with the values of a new step's settings, or None (types and ranges only).

    Limits that depend on the data (Relief's ``k`` above the number of
    features, PCA's ``n_components`` above ``min(rows, features)``) are
    checked when the step is fitted.
    """
    def pos_int(key):
        v, hi = params.get(key), STEP_LIMITS[key]
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= hi):
            return f"steps.{name}.{key} must be a positive integer (at most {hi}), got {v!r}"
        return None

    if name == "relief":
        if params.get("method", "relieff") not in st.RELIEF_METHODS:
            return f"steps.relief.method must be one of {', '.join(st.RELIEF_METHODS)}, got {params['method']!r}"
        return pos_int("k") or pos_int("n_neighbors")
    if name == "pca":
        v = params.get("n_components", 0.95)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (
            (float(v).is_integer() and v >= 1) or 0 < v < 1)
        if not ok:
            return (f"steps.pca.n_components must be an integer >= 1 (components) or a fraction in (0, 1) "
                    f"(share of variance), got {v!r}")
        return None
    if name == "stability":
        if params.get("resample", "subsample") not in st.RESAMPLES:
            return f"steps.stability.resample must be one of {', '.join(st.RESAMPLES)}, got {params['resample']!r}"
        f = params.get("sample_fraction")
        if f is not None and (not isinstance(f, (int, float)) or isinstance(f, bool) or not 0 < f <= 1):
            return f"steps.stability.sample_fraction must be in (0, 1], got {f!r}"
        return pos_int("n_bootstrap") or pos_int("top_k")
    if name == "rfe":
        if params.get("estimator", "logistic") not in st.RFE_ESTIMATORS:
            return f"steps.rfe.estimator must be one of {', '.join(st.RFE_ESTIMATORS)}, got {params['estimator']!r}"
        return pos_int("n_features")
    return None


def bundle_radscore(pipe, radscore: dict) -> dict:
    """A Radscore formula over the pipeline's last features, folded back through a PCA step onto its inputs."""
    named = pipe.named_steps
    if "pca" not in named or not radscore:
        return radscore
    a, coefs = named["pca"].fold_linear(radscore["intercept"], radscore["coefficients"])
    return {**radscore, "intercept": a, "coefficients": coefs}
