"""Benchmark radgui.stats: DeLong scaling, bootstrap AUC CI, bootstrapped LASSO+logistic fit.

Run: ``.venv/bin/python benchmarks/bench_stats.py`` (about a minute on 2 cores).

Rows
----
* DeLong test (two correlated scores) at n = 1e3, 1e4, 1e5 with the midrank
  algorithm (Sun & Xu 2014), and the O(n^2) pairwise definition as the
  reference path at n = 1e3 and 1e4. The ratio t(1e5)/t(1e4) shows the
  O(n log n) scaling (about 10-13x; O(n^2) would be 100x).
* Bootstrap AUC CI, 2000 stratified resamples, n = 500: radgui's vectorised
  path against the generic per-replicate loop (``bootstrap_ci`` over
  scikit-learn's ``roc_auc_score``).
* 500-resample bootstrap of a full pipeline on 100 patients x 1000 features:
  standardise, LASSO selection (L1 logistic, liblinear, C = 0.3), logistic
  refit on the selected features, AUC on the original data (the inner step of
  Harrell's optimism bootstrap), with joblib n_jobs = 1 and 2.
"""

from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.feature_selection import SelectFromModel
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from radgui.stats import bootstrap_ci, delong_test, roc_auc


def timeit(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def naive_delong(y, a, b):
    """O(n^2) DeLong by the pairwise kernel (reference path)."""
    out = []
    for s in (a, b):
        p, q = s[y == 1], s[y == 0]
        k = (p[:, None] > q[None, :]) + 0.5 * (p[:, None] == q[None, :])
        out.append((k.mean(), k.mean(axis=1), k.mean(axis=0)))
    v10 = np.vstack([o[1] for o in out])
    v01 = np.vstack([o[2] for o in out])
    cov = np.cov(v10) / v10.shape[1] + np.cov(v01) / v01.shape[1]
    return (out[0][0] - out[1][0]) / np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])


def scores(n, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, y + rng.normal(0, 1.5, n), 0.5 * y + rng.normal(0, 1, n)


def l1_logistic(C):
    """L1-penalised logistic regression (liblinear) for old and new scikit-learn."""
    import sklearn

    major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 8):  # `penalty` is deprecated from 1.8 on
        return LogisticRegression(l1_ratio=1.0, solver="liblinear", C=C)
    return LogisticRegression(penalty="l1", solver="liblinear", C=C)


class LassoLogisticAUC:
    """Fit the pipeline on a bootstrap sample; return its AUC on the original data."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __call__(self, yb, Xb):
        model = make_pipeline(
            StandardScaler(),
            SelectFromModel(l1_logistic(0.3)),
            LogisticRegression(max_iter=1000),
        )
        model.fit(Xb, yb)
        return roc_auc_score(self.y, model.predict_proba(self.X)[:, 1])


def main():
    rows = []

    # 1. DeLong scaling
    t_fast = {}
    for n in (1_000, 10_000, 100_000):
        y, a, b = scores(n)
        t_fast[n] = timeit(lambda: delong_test(y, a, b))
    t_naive = {}
    for n in (1_000, 10_000):
        y, a, b = scores(n)
        t_naive[n] = timeit(lambda: naive_delong(y, a, b), repeat=1 if n > 5000 else 3)
        assert abs(naive_delong(y, a, b) - delong_test(y, a, b).z) < 1e-8
    for n in (1_000, 10_000, 100_000):
        ref = t_naive.get(n)
        rows.append((f"DeLong test, n={n:,}", t_fast[n], ref, "O(n^2) pairwise"))
    rows.append(("  scaling t(1e5)/t(1e4)", t_fast[100_000] / t_fast[10_000], None,
                 "x (O(n log n) ~ 12x, O(n^2) 100x)"))
    rows.append(("  reference scaling t(1e4)/t(1e3)", t_naive[10_000] / t_naive[1_000], None, "x (O(n^2) pairwise)"))

    # 2. bootstrap AUC CI
    y, a, _ = scores(500, seed=1)
    t_vec = timeit(lambda: roc_auc(y, a, ci="bootstrap", n_boot=2000, seed=0))
    t_loop = timeit(lambda: bootstrap_ci(roc_auc_score, y, a, n_boot=2000, seed=0), repeat=1)
    rows.append(("Bootstrap AUC CI, 2000 x n=500", t_vec, t_loop, "per-replicate sklearn loop"))

    # 3. LASSO + logistic bootstrap
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 1000))
    lin = X[:, :5] @ np.array([1.0, -1.0, 0.8, 0.6, -0.5])
    yl = (rng.random(100) < 1 / (1 + np.exp(-lin))).astype(int)
    stat = LassoLogisticAUC(X, yl)
    t_j = {}
    for n_jobs in (1, 2):
        t0 = time.perf_counter()
        r = bootstrap_ci(stat, yl, X, n_boot=500, seed=0, n_jobs=n_jobs)
        t_j[n_jobs] = time.perf_counter() - t0
    rows.append(("LASSO+logistic bootstrap 500 x (100x1000), n_jobs=1", t_j[1], None, ""))
    rows.append(("LASSO+logistic bootstrap 500 x (100x1000), n_jobs=2", t_j[2], t_j[1], "n_jobs=1"))

    print(f"radgui.stats benchmark  (python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"numpy {np.__version__})")
    print(f"{'case':<56} {'radgui s':>10} {'reference s':>12} {'speed-up':>9}  reference")
    print("-" * 110)
    for name, t, ref, note in rows:
        if name.startswith("  "):
            print(f"{name:<56} {t:>10.1f} {'':>12} {'':>9}  {note}")
            continue
        ref_s = f"{ref:12.4f}" if ref is not None else f"{'-':>12}"
        sp = f"{ref / t:8.1f}x" if ref is not None else f"{'-':>9}"
        print(f"{name:<56} {t:>10.4f} {ref_s} {sp}  {note if ref is not None else ''}")
    print(f"\nLASSO bootstrap: apparent AUC {r.estimate:.3f}, bootstrap-model AUC on original data "
          f"{np.mean(r.replicates):.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}], failed {r.n_failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
