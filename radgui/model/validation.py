"""Validation schemes: holdout, k-fold, repeated nested CV, bootstrap optimism, external.

Every scheme refits the *whole* pipeline (every selection and tuning step)
on each training set, so estimates are not inflated by feature selection on
the test patients (Ambroise & McLachlan 2002). Tuning and lambda choice run
inside the pipeline's own inner cross-validation: the outer loop here plus
that inner loop make the CV nested.

Work is spread over ``n_jobs`` processes with joblib, or over a Dask
distributed cluster (``scheduler``: an address such as ``tcp://10.0.0.5:8786``
or a ``distributed.Client``; joblib's ``dask`` backend, never a home-made
scheduler). Each task gets its own seed derived from the master seed
(``numpy.random.SeedSequence``) and its result is stored at its own place, so
results are bit-identical whatever ``n_jobs``, the scheduler or the order in
which tasks finish. Progress steps carry an estimate of the time left.

References
----------
Harrell FE, Lee KL, Mark DB. Multivariable prognostic models: issues in
developing models, evaluating assumptions and adequacy, and measuring and
reducing errors. Stat Med 1996;15:361-87 (bootstrap optimism correction).
Varma S, Simon R. Bias in error estimation when using cross-validation for
model selection. BMC Bioinformatics 2006;7:91 (nested CV).
"""

from __future__ import annotations

import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from radgui.errors import SchedulerError
from radgui.model.learners import set_seed
from radgui.model.steps import GroupedStratifiedKFold, groups_of
from radgui.progress import Step, run


def score(estimator, X) -> np.ndarray:
    """Predicted probability of the positive class."""
    return np.asarray(estimator.predict_proba(X)[:, 1], dtype=float)


def _seeds(seed, n) -> list[int]:
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


def _rows(X, idx):
    return X.iloc[idx] if hasattr(X, "iloc") else X[idx]


#: Seconds to wait for a Dask scheduler to answer before giving up with a :class:`SchedulerError`.
CONNECT_TIMEOUT_S = 10.0


@contextmanager
def dask_client(scheduler, timeout_s: float | None = None):
    """A connected ``distributed.Client`` for ``scheduler`` (an address or a Client), closed after if we opened it.

    Raises a one-line :class:`SchedulerError` naming the address when Dask is
    missing, the address is malformed, or nothing answers within ``timeout_s``
    (default :data:`CONNECT_TIMEOUT_S`).
    """
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - optional dependency
        raise SchedulerError(f"--scheduler {scheduler!r} needs Dask: pip install 'radgui[cluster]'") from None
    if isinstance(scheduler, Client):
        yield scheduler
        return
    timeout_s = CONNECT_TIMEOUT_S if timeout_s is None else timeout_s
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise SchedulerError(f"the Dask scheduler address must be text such as tcp://host:8786, got {scheduler!r}")
    try:
        client = Client(scheduler, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SchedulerError(f"cannot connect to the Dask scheduler {scheduler!r} within {timeout_s:g} s: "
                             f"{reason}") from None
    try:
        yield client
    finally:
        client.close()


def _parallel_map(fn, arg_tuples, n_jobs: int, scheduler, shared=()):
    """``fn(*args)`` for each tuple, in order, as a generator: in-process, joblib processes or a Dask cluster.

    ``shared`` are large arguments (the feature table) sent to the Dask
    workers once instead of with every task.
    """
    if scheduler is None:
        if n_jobs == 1:
            yield from (fn(*a) for a in arg_tuples)
            return
        yield from Parallel(n_jobs=n_jobs, return_as="generator")(delayed(fn)(*a) for a in arg_tuples)
        return
    from joblib import parallel_config

    with dask_client(scheduler) as client:
        if not client.scheduler_info().get("workers"):
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                raise SchedulerError(f"the Dask scheduler {scheduler if isinstance(scheduler, str) else client!r} "
                                     f"has no workers ({exc})") from None
        # the backend is bound when Parallel is built: leave the config before yielding, so that it does
        # not leak into the caller's code between steps
        with parallel_config(backend="dask", client=client, scatter=[s for s in shared if s is not None]):
            par = Parallel(n_jobs=-1, return_as="generator")
        yield from par(delayed(fn)(*a) for a in arg_tuples)


def eta_text(started: float, done: int, total: int) -> str:
    """``", about 3 min left"`` from the time since ``started`` (``time.monotonic()``) and the work done."""
    if done <= 0 or total <= done:
        return ""
    left = (time.monotonic() - started) / done * (total - done)
    if left < 60:
        return f", about {max(1, round(left))} s left"
    if left < 3600:
        return f", about {round(left / 60)} min left"
    return f", about {left / 3600:.1f} h left"


def _fit_predict(estimator, X, y, train, test, seed):
    est = set_seed(clone(estimator), seed)
    est.fit(_rows(X, train), y[train])
    return test, score(est, _rows(X, test))


@dataclass
class CVResult:
    """Result of (repeated) cross-validation.

    Attributes
    ----------
    prediction : ndarray
        Per patient, the mean of its out-of-fold predictions over repeats.
    predictions : ndarray (repeats x n)
        Every repeat's out-of-fold predictions.
    auc : float
        AUC of ``prediction``.
    repeat_auc : ndarray
        AUC of each repeat.
    repeats, folds : int
    """

    prediction: np.ndarray
    predictions: np.ndarray
    auc: float
    repeat_auc: np.ndarray
    repeats: int
    folds: int
    fold_ids: np.ndarray | None = field(default=None, repr=False)  # repeats x n: the fold of each row

    def summary(self) -> dict:
        return {"auc_of_mean_prediction": float(self.auc), "auc_mean": float(np.mean(self.repeat_auc)),
                "auc_sd": float(np.std(self.repeat_auc, ddof=1)) if self.repeats > 1 else 0.0,
                "auc_2.5%": float(np.quantile(self.repeat_auc, 0.025)),
                "auc_97.5%": float(np.quantile(self.repeat_auc, 0.975)),
                "repeats": self.repeats, "folds": self.folds}


def fold_plan(y, groups=None, repeats: int = 100, folds: int = 5, seed: int = 0) -> list[tuple]:
    """The outer folds of repeated CV: ``[(repeat, train_idx, test_idx, fit_seed), ...]``.

    A function of ``y``, ``groups``, ``repeats``, ``folds`` and ``seed`` only,
    so that several models validated with one plan (``models:`` in a config)
    see exactly the same folds; with ``groups`` a patient's rows are in one fold.
    """
    y = np.asarray(y)
    n = len(y)
    split_seeds = _seeds(seed, repeats)
    fit_seeds = _seeds(seed + 1 if seed is not None else None, repeats * folds)
    tasks = []
    for r in range(repeats):
        cv = GroupedStratifiedKFold(folds, shuffle=True, random_state=split_seeds[r])
        for k, (tr, te) in enumerate(cv.split(np.zeros((n, 1)), y, groups)):
            tasks.append((r, tr, te, fit_seeds[r * folds + k]))
    return tasks


def iter_repeated_cv(estimator, X, y, *, repeats: int = 100, folds: int = 5, seed: int = 0,
                     n_jobs: int = 1, groups=None, plan=None, scheduler=None) -> Generator[Step, None, CVResult]:
    """Repeated stratified k-fold CV of a whole pipeline (nested when it tunes inside).

    Each patient gets the mean of its out-of-fold predictions over repeats.
    Yields a :class:`Step` per finished fold (with the time left); returns a
    :class:`CVResult`. ``repeats=1`` is plain k-fold CV. Rows of one patient
    (``groups``, or the ``group`` index level of ``X``) always fall in the
    same fold (``StratifiedGroupKFold``). ``plan`` (from :func:`fold_plan`)
    gives the folds explicitly (several models on one plan share every fold).
    ``scheduler`` (a Dask address or ``distributed.Client``) runs the folds on
    that cluster instead of ``n_jobs`` local processes; the result is the same.
    """
    y = np.asarray(y)
    n = len(y)
    if groups is None:
        groups = groups_of(X)
    tasks = fold_plan(y, groups, repeats, folds, seed) if plan is None else list(plan)
    fold_ids = np.full((repeats, n), -1)
    for i, (r, _, te, _) in enumerate(tasks):
        fold_ids[r, te] = i % folds
    preds = np.full((repeats, n), np.nan)
    total = len(tasks)
    yield Step(0, total, f"cross-validation: {repeats} x {folds}-fold")
    started = time.monotonic()
    results = _parallel_map(_fit_predict, [(estimator, X, y, tr, te, s) for _, tr, te, s in tasks],
                            n_jobs, scheduler, shared=(X,))
    for done, ((r, *_), (te, p)) in enumerate(zip(tasks, results), 1):
        preds[r, te] = p
        yield Step(done, total, f"cross-validation: fold {done} of {total}{eta_text(started, done, total)}")
    repeat_auc = np.array([roc_auc_score(y, preds[r]) for r in range(repeats)])
    mean = preds.mean(axis=0)
    return CVResult(mean, preds, float(roc_auc_score(y, mean)), repeat_auc, repeats, folds, fold_ids)


def repeated_cv(estimator, X, y, **kwargs) -> CVResult:
    """Blocking twin of :func:`iter_repeated_cv`."""
    return run(iter_repeated_cv(estimator, X, y, **kwargs))


def holdout_split(y, test_fraction: float = 0.3, seed: int | None = 0, stratify=None, groups=None):
    """Stratified train/test indices (stratified on ``y`` unless ``stratify`` is given).

    With ``groups`` (the patient of each row) the split is drawn over
    patients, stratified on whether a patient has any positive row, so that
    all rows of a patient land on the same side.
    """
    y = np.asarray(y)
    idx = np.arange(len(y))
    if groups is None:
        return train_test_split(idx, test_size=test_fraction, random_state=seed,
                                stratify=y if stratify is None else stratify)
    groups = np.asarray(groups).astype(str)
    ug, inv = np.unique(groups, return_inverse=True)
    label = np.zeros(len(ug), dtype=int)
    np.maximum.at(label, inv, (y == y.max()).astype(int))
    g_tr, g_te = train_test_split(np.arange(len(ug)), test_size=test_fraction, random_state=seed,
                                  stratify=label if min(np.bincount(label, minlength=2)) >= 2 else None)
    return idx[np.isin(inv, g_tr)], idx[np.isin(inv, g_te)]


def grouped_resample(y, groups, rng: np.random.Generator) -> np.ndarray:
    """One bootstrap sample of row indices: patients drawn with replacement, with all their rows."""
    ug, inv = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    members = [np.flatnonzero(inv == k) for k in range(len(ug))]
    pick = rng.integers(0, len(ug), len(ug))
    return np.concatenate([members[k] for k in pick])


@dataclass
class OptimismResult:
    """Harrell's bootstrap optimism correction of the AUC.

    ``corrected = apparent - mean(auc_boot_on_boot - auc_boot_on_original)``.
    """

    apparent: float
    optimism: float
    corrected: float
    n_boot: int
    boot_auc: np.ndarray = field(repr=False)
    test_auc: np.ndarray = field(repr=False)

    def summary(self) -> dict:
        return {"apparent_auc": self.apparent, "optimism": self.optimism,
                "optimism_corrected_auc": self.corrected, "n_boot": self.n_boot}


def _boot_one(estimator, X, y, seed, groups=None):
    rng = np.random.default_rng(seed)
    n = len(y)
    for _ in range(100):
        idx = rng.integers(0, n, n) if groups is None else grouped_resample(y, groups, rng)
        if 0 < y[idx].sum() < len(idx):
            break
    est = set_seed(clone(estimator), seed)
    Xb = _rows(X, idx)
    if groups is None and isinstance(Xb, pd.DataFrame):
        # copies of one patient in a bootstrap sample must not sit on both sides of the
        # pipeline's own inner folds (LASSO lambda CV, tuning, cross-fitted Radscore)
        Xb = _with_group_level(Xb, idx.astype(str))
    est.fit(Xb, y[idx])
    return roc_auc_score(y[idx], score(est, Xb)), roc_auc_score(y, score(est, X))


def _with_group_level(X: pd.DataFrame, groups) -> pd.DataFrame:
    """``X`` with a ``group`` index level (replacing any existing one)."""
    from radgui.model.steps import GROUP_LEVEL

    idx = X.index
    arrays = [idx.get_level_values(i) for i in range(idx.nlevels)]
    names = list(idx.names)
    if GROUP_LEVEL in names:
        k = names.index(GROUP_LEVEL)
        arrays.pop(k)
        names.pop(k)
    out = X.copy()
    out.index = pd.MultiIndex.from_arrays([*arrays, np.asarray(groups)], names=[*names, GROUP_LEVEL])
    return out


def iter_bootstrap_optimism(estimator, X, y, *, n_boot: int = 500, seed: int = 0, n_jobs: int = 1,
                            fitted=None, groups=None, scheduler=None) -> Generator[Step, None, OptimismResult]:
    """Bootstrap optimism-corrected AUC (Harrell 1996; Steyerberg 2019, ch. 17).

    The full pipeline is refitted on each bootstrap sample; optimism is the
    mean difference between its AUC on the bootstrap sample and on the
    original data; the corrected AUC is the apparent AUC minus optimism.
    ``fitted`` may give the model already fitted on all of ``X`` (apparent AUC).
    With ``groups`` (or a ``group`` index level on ``X``) patients are
    resampled with all their rows (cluster bootstrap). ``scheduler`` as in
    :func:`iter_repeated_cv`.
    """
    y = np.asarray(y)
    if groups is None:
        groups = groups_of(X)
    total = n_boot + 1
    yield Step(0, total, f"bootstrap optimism: {n_boot} resamples")
    if fitted is None:
        fitted = set_seed(clone(estimator), seed).fit(X, y)
    apparent = float(roc_auc_score(y, score(fitted, X)))
    seeds = _seeds(seed, n_boot)
    started = time.monotonic()
    results = _parallel_map(_boot_one, [(estimator, X, y, s, groups) for s in seeds], n_jobs, scheduler,
                            shared=(X,))
    boot, test = [], []
    for done, (b, t) in enumerate(results, 1):
        boot.append(b)
        test.append(t)
        yield Step(done, total, f"bootstrap optimism: resample {done} of {n_boot}{eta_text(started, done, n_boot)}")
    boot, test = np.array(boot), np.array(test)
    optimism = float(np.mean(boot - test))
    return OptimismResult(apparent, optimism, apparent - optimism, n_boot, boot, test)


def bootstrap_optimism(estimator, X, y, **kwargs) -> OptimismResult:
    """Blocking twin of :func:`iter_bootstrap_optimism`."""
    return run(iter_bootstrap_optimism(estimator, X, y, **kwargs))


def evaluate(fitted, X, y) -> dict:
    """AUC (with DeLong CI when :mod:`radgui.stats` is present) of a fitted model on a cohort."""
    from radgui.stats import roc_auc

    y = np.asarray(y)
    p = score(fitted, X)
    r = roc_auc(y, p)
    return {"n": int(len(y)), "events": int(np.sum(y)), "auc": r.auc, "auc_ci_low": r.ci_low,
            "auc_ci_high": r.ci_high, "prediction": p}


def as_series(values, index) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=index)
