"""Wall time and peak memory of LASSO-Cox (penalty path + 10-fold CV): radgui vs scikit-survival directly.

Synthetic, seeded cohorts (5 informative features, ~55 % events):
150 patients x 500 features and 300 x 2,000 (``--full`` adds 300 x 10,000).
Each measurement runs in a fresh subprocess:

* ``radgui``: :class:`radgui.model.survival.LassoCox` (10-fold CV stratified
  by event, CV partial-likelihood deviance, lambda.1se; the default of a
  survival config), and with ``score="cindex"``;
* ``sksurv direct``: the same procedure written straight on scikit-survival
  (``CoxnetSurvivalAnalysis`` path on all patients, then one path per fold on
  the same lambdas, held-out ``concordance_index_censored``, best lambda): the
  least any wrapper has to do.

Time (the fastest of ``--repeats`` runs) is measured in one subprocess, memory in another (``tracemalloc`` peak of
the fit, plus the process's peak RSS from ``resource.getrusage``). The ratio
is radgui / direct wall time (target <= 1.2). Everything that ran is printed.

Run: ``.venv/bin/python benchmarks/bench_survival.py [--full] [--lambdas 50] [--folds 10]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, tracemalloc, warnings
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold
from sksurv.linear_model import CoxnetSurvivalAnalysis
from sksurv.metrics import concordance_index_censored
from sksurv.util import Surv
import lifelines.utils  # noqa: F401 - imported before timing, like everything else
from radgui.model.survival import LassoCox

n, p, method, folds, lambdas, memory, repeats = sys.argv[1:8]
n, p, folds, lambdas, memory, repeats = int(n), int(p), int(folds), int(lambdas), memory == "1", int(repeats)
rng = np.random.default_rng(0)
X = rng.normal(size=(n, p))
lp = X[:, :5] @ np.array([1.0, -1.0, 0.8, -0.8, 0.6])
t = rng.exponential(10 * np.exp(-lp))
c = rng.exponential(15, n)
time_, event = np.minimum(t, c), (t <= c).astype(int)
frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(p)])


def direct():
    y = Surv.from_arrays(event > 0, time_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = CoxnetSurvivalAnalysis(l1_ratio=1.0, n_alphas=lambdas).fit(X, y)
        alphas = full.alphas_
        scores = []
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(X, event):
            m = CoxnetSurvivalAnalysis(l1_ratio=1.0, alphas=alphas).fit(X[tr], y[tr])
            risk = X[te] @ m.coef_
            scores.append([concordance_index_censored(event[te] > 0, time_[te], risk[:, j])[0]
                           for j in range(alphas.size)])
    best = int(np.argmax(np.mean(scores, axis=0)))
    coef = full.coef_[:, best]
    return int((coef != 0).sum()), float(alphas[best]), set(np.flatnonzero(coef)) >= set(range(5))


def radgui(score):
    m = LassoCox(folds=folds, n_lambdas=lambdas, score=score, random_state=0).fit(frame, time_, event)
    return len(m.selected_), m.lambda_, {"f0", "f1", "f2", "f3", "f4"} <= set(m.selected_)


run = direct if method == "direct" else (lambda: radgui(method.split(":")[1]))
if memory:
    tracemalloc.start()
walls = []
for _ in range(repeats):  # the fastest of a few runs: the machine is shared
    t0 = time.perf_counter()
    n_sel, lam, truth = run()
    walls.append(time.perf_counter() - t0)
wall = min(walls)
peak = tracemalloc.get_traced_memory()[1] / 2**20 if memory else None
print(json.dumps({"wall": wall, "peak_mb": peak, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "n_selected": n_sel, "lambda": lam, "truth": bool(truth)}))
"""


def measure(n, p, method, folds, lambdas, memory, repeats=1):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(p), method, str(folds), str(lambdas),
                          "1" if memory else "0", str(repeats)], capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise SystemExit(f"benchmark child failed ({method}, {n} x {p}): {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also 300 x 10,000")
    parser.add_argument("--quick", action="store_true", help="150 x 500 and 300 x 2,000 (the default)")
    parser.add_argument("--lambdas", type=int, default=50)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3, help="timing runs per row (the fastest is shown)")
    args = parser.parse_args(argv)
    sizes = [(150, 500), (300, 2000)] + ([(300, 10000)] if args.full else [])
    methods = [("sksurv direct (C-index)", "direct"), ("radgui LassoCox (deviance, 1se)", "radgui:deviance"),
               ("radgui LassoCox (C-index, 1se)", "radgui:cindex")]
    print(f"LASSO-Cox path ({args.lambdas} lambdas) + {args.folds}-fold CV, one process per row, 1 BLAS thread; "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'n x p':<12} {'method':<33} {'wall s':>7} {'ratio':>6} {'fit peak MB':>11} {'RSS MB':>7} "
          f"{'selected':>8} {'lambda':>8} {'truth':>5}")
    for n, p in sizes:
        base = None
        for label, method in methods:
            t = measure(n, p, method, args.folds, args.lambdas, memory=False, repeats=args.repeats)
            m = measure(n, p, method, args.folds, args.lambdas, memory=True)
            base = t["wall"] if base is None else base
            print(f"{f'{n} x {p}':<12} {label:<33} {t['wall']:>7.2f} {t['wall'] / base:>6.2f} {m['peak_mb']:>11.1f} "
                  f"{m['rss_mb']:>7.0f} {t['n_selected']:>8} {t['lambda']:>8.4f} {'yes' if t['truth'] else 'no':>5}",
                  flush=True)
    print("ratio = wall / sksurv-direct wall (target <= 1.2); truth = all 5 informative features selected.")


if __name__ == "__main__":
    main()
