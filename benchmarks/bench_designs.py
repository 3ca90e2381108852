"""Wall time of a multi-model comparison (issue 13's benchmark).

Four radiomics models (one per ROI subset of a synthetic cohort of 150
patients x 1,000 features: ``tumour``, ``ring3mm``, ``ring6mm``, ``ring9mm``,
250 columns each; the outcome depends on ``ring6mm``) compared under R x
5-fold repeated nested cross-validation on one shared fold plan
(:func:`radgui.model.designs.iter_compare`: every model's CV, its fit, and the
comparison with DeLong, NRI, IDI on every cohort). Each model is
``zscore -> univariate filter -> LASSO-CV (5-fold) -> Radscore logistic``.

It runs at 1 and 2 joblib workers and on a Dask ``LocalCluster`` (2 workers,
1 thread each) through joblib's dask backend (``--scheduler ADDRESS``
connects to an existing Dask scheduler instead). Quick by default (R = 1 on
150 x 400 features, about a minute on a free 2-core machine); ``--full`` is
the issue's size (R = 100 on 150 x 1,000). Everything that ran is printed as
a table.

Run: ``.venv/bin/python benchmarks/bench_designs.py [--full] [--repeats R] [--jobs 1 2] [--scheduler ADDR|none]``
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROIS = ("tumour", "ring3mm", "ring6mm", "ring9mm")


def write_cohort(folder: Path, n=150, p=1000, seed=0) -> None:
    rng = np.random.default_rng(seed)
    per = p // len(ROIS)
    cols = [f"{r}__original_glcm_F{i:04d}" for r in ROIS for i in range(per)]
    X = rng.normal(size=(n, len(cols)))
    signal = X[:, 2 * per:2 * per + 5] @ np.array([1.2, -1.0, 0.9, -0.8, 0.7])  # ring6mm
    y = (rng.random(n) < 1 / (1 + np.exp(-signal))).astype(int)
    ids = [f"P{i:03d}" for i in range(n)]
    feats = pd.DataFrame(X, columns=cols)
    feats.insert(0, "patient_id", ids)
    feats["response"] = y
    feats.to_csv(folder / "features.csv", index=False)


def config(folder: Path, repeats: int, n_jobs: int):
    from radgui.model.config import config_from_dict

    return config_from_dict({
        "features": "features.csv", "outcome": {"column": "response"}, "split": {"method": "none"},
        "steps": {"zscore": {}, "univariate": {"test": "mannwhitney", "alpha": 0.05, "min_features": 5},
                  "lasso": {"folds": 5, "rule": "1se"}},
        "validation": {"repeats": repeats, "folds": 5, "bootstrap": 0, "n_jobs": n_jobs},
        "models": [{"name": r, "features": {"roi": [r]}} for r in ROIS]}, base=folder)


def timed(cfg):
    from radgui.model.designs import iter_compare
    from radgui.progress import run

    t = time.perf_counter()
    res = run(iter_compare(cfg))
    return time.perf_counter() - t, res


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the issue's size: 4 models x 100 x 5-fold")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 400 features (the default)")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--features", type=int, help="feature columns in all (4 models share them equally)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scheduler", default="local",
                        help="'local' (a 2-worker LocalCluster, the default), a scheduler address, or 'none'")
    args = parser.parse_args(argv)
    repeats = args.repeats or (100 if args.full else 1)
    p = args.features or (1000 if args.full else 400)
    import warnings

    warnings.simplefilter("ignore")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_cohort(folder, p=p)
        for jobs in args.jobs:
            wall, res = timed(config(folder, repeats, jobs))
            rows.append((f"joblib, {jobs} job(s)", wall, res))
        if args.scheduler != "none":
            try:
                import joblib
                from dask.distributed import Client, LocalCluster
            except ImportError as exc:
                rows.append((f"dask: not run ({exc})", float("nan"), None))
            else:
                cluster = None
                if args.scheduler == "local":
                    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
                    client = Client(cluster)
                else:
                    client = Client(args.scheduler)
                try:
                    with joblib.parallel_config(backend="dask"):
                        wall, res = timed(config(folder, repeats, -1))
                    rows.append((f"dask ({'LocalCluster 2 x 1' if cluster else args.scheduler})", wall, res))
                finally:
                    client.close()
                    if cluster is not None:
                        cluster.close()
    print(f"4 models x {repeats} x 5-fold nested CV, 150 patients x {p:,} features ({p // 4} per model); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'backend':<32} {'wall s':>8} {'x first':>7} {'s/fold-fit':>10}  validated AUC per model (out-of-fold)")
    ref = ref_wall = None
    for name, wall, res in rows:
        if res is None:
            print(f"{name:<32} {'-':>8}")
            continue
        aucs = {m: e["auc"] for m, e in res.metrics["cohorts"]["cross-validated"]["models"].items()}
        ref = ref or aucs
        ref_wall = ref_wall or wall  # the ratio is against the first row (1 job), run in the same process
        same = "same" if all(abs(aucs[k] - ref[k]) < 1e-12 for k in aucs) else "DIFFERENT"
        print(f"{name:<32} {wall:8.1f} {wall / ref_wall:7.2f} {wall / (4 * repeats * 5):10.2f}  "
              + ", ".join(f"{k} {v:.3f}" for k, v in aucs.items()) + f" ({same}); best {res.final.name}")


if __name__ == "__main__":
    main()
