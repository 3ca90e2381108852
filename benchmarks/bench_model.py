"""Wall time of repeated nested cross-validation (issue 7's benchmark).

Two pipelines on a synthetic cohort of 100 patients x 1,000 features
(5 informative):

1. ``zscore -> LASSO-CV (10-fold, glmnet path) -> Radscore logistic`` under
   R x 5-fold repeated nested CV (issue target: R = 100);
2. ``zscore -> univariate filter -> stacking (SVM + RF + XGBoost tuned by
   inner-CV random search, logistic meta-learner)`` under R x 5-fold nested
   CV (issue target: R = 20).

Each runs at 1 and 2 joblib workers. The default (``--quick``) runs few
repeats so ``make bench`` stays short, and prints the per-fold time and the
extrapolated full-size time; ``--full`` runs the issue's sizes (tens of
minutes on a laptop). Everything that ran is printed.

A second table (issue 20) runs the LASSO pipeline's nested CV locally
(``n_jobs=1``) and on a Dask cluster (a ``LocalCluster`` of 2 worker
processes, or ``--scheduler ADDRESS``), and checks that the predictions are
identical (``np.array_equal``).

Run: ``.venv/bin/python benchmarks/bench_model.py [--full] [--lasso-repeats R] [--stack-repeats R] [--jobs 1 2]
[--scheduler ADDRESS | --no-cluster]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd


def cohort(n=100, p=1000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"original_glcm_F{i:04d}" for i in range(p)])
    lp = X.iloc[:, :5].to_numpy() @ np.array([1.5, -1.2, 1.0, -0.8, 0.8])
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    return X, y


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="issue sizes: 100 x 5 LASSO, 20 x 5 stacking")
    parser.add_argument("--quick", action="store_true", help="small repeat counts (the default)")
    parser.add_argument("--lasso-repeats", type=int)
    parser.add_argument("--stack-repeats", type=int)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-stacking", action="store_true")
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler for the cluster table (default: a LocalCluster)")
    parser.add_argument("--no-cluster", action="store_true", help="skip the local-vs-Dask table")
    args = parser.parse_args(argv)
    lasso_r = args.lasso_repeats or (100 if args.full else 5)
    stack_r = args.stack_repeats or (20 if args.full else 1)

    from radgui.model.learners import build_pipeline
    from radgui.model.validation import repeated_cv

    X, y = cohort()
    runs = [("zscore + LASSO-CV + logistic", {"zscore": {}, "lasso": {"folds": 10, "rule": "1se"}},
             {"name": "lasso"}, lasso_r, 100)]
    if not args.skip_stacking:
        runs.append(("zscore + univariate + stacking (tuned)",
                     {"zscore": {}, "univariate": {"test": "mannwhitney", "alpha": 0.05, "min_features": 5}},
                     {"name": "stacking", "tune": {"n_iter": 3, "folds": 3}}, stack_r, 20))
    print(f"radgui model benchmark: {len(y)} patients x {X.shape[1]} features, 5-fold outer CV; "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'pipeline':<42} {'repeats':>7} {'jobs':>4} {'wall s':>9} {'s/fold':>8} {'AUC':>6} "
          f"{'est. full s':>11} {'(full R)':>8}")
    for name, steps, learner, repeats, full_r in runs:
        for jobs in args.jobs:
            pipe = build_pipeline(steps, learner, seed=0)
            t0 = time.perf_counter()
            res = repeated_cv(pipe, X, y, repeats=repeats, folds=5, seed=0, n_jobs=jobs)
            wall = time.perf_counter() - t0
            per_fold = wall / (repeats * 5)
            print(f"{name:<42} {repeats:>7} {jobs:>4} {wall:>9.1f} {per_fold:>8.2f} {res.auc:>6.3f} "
                  f"{per_fold * full_r * 5:>11.0f} {full_r:>8}", flush=True)
    print("est. full s = s/fold x full repeats x 5 folds (same jobs); run --full to measure it.")
    if not args.no_cluster:
        cluster_table(X, y, runs[0], lasso_r, args.scheduler)


def cluster_table(X, y, run, repeats, scheduler=None):
    """Nested CV of one pipeline locally and on Dask: wall time, ratio, identical predictions."""
    import numpy as np

    from radgui.model.learners import build_pipeline
    from radgui.model.validation import repeated_cv

    name, steps, learner, _, _ = run
    pipe = build_pipeline(steps, learner, seed=0)
    t0 = time.perf_counter()
    local = repeated_cv(pipe, X, y, repeats=repeats, folds=5, seed=0, n_jobs=1)
    t_local = time.perf_counter() - t0
    cluster = None
    if scheduler is None:
        from distributed import LocalCluster

        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        scheduler, label = cluster.scheduler_address, "Dask LocalCluster, 2 worker processes"
        t_start = time.perf_counter() - t0
    else:
        label, t_start = f"Dask scheduler {scheduler}", 0.0
    try:
        t0 = time.perf_counter()
        dask = repeated_cv(pipe, X, y, repeats=repeats, folds=5, seed=0, scheduler=scheduler)
        t_dask = time.perf_counter() - t0
    finally:
        if cluster is not None:
            cluster.close()
    same = "yes" if np.array_equal(local.predictions, dask.predictions) else "NO"
    print(f"\nnested CV of '{name}', {repeats} x 5-fold: local vs Dask (wall s; cluster start-up not included)")
    print(f"{'run':<42} {'wall s':>8} {'x local':>8} {'AUC':>6} {'identical':>9}")
    print(f"{'local, n_jobs=1':<42} {t_local:>8.1f} {1.0:>8.2f} {local.auc:>6.3f} {'-':>9}")
    print(f"{label:<42} {t_dask:>8.1f} {t_dask / t_local:>8.2f} {dask.auc:>6.3f} {same:>9}")
    if t_start:
        print(f"(cluster start-up {t_start:.1f} s)")


if __name__ == "__main__":
    main()
