"""Generic bootstrap CI: stratification, seeding, n_jobs invariance, progress steps."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from radgui.errors import StatsInputError
from radgui.progress import Step, run
from radgui.stats import bootstrap_ci, iter_bootstrap_ci
from radgui.stats.bootstrap import resample_indices


def test_stratified_resampling_keeps_class_sizes():
    y = np.array([0] * 7 + [1] * 3)
    idx = resample_indices(y, 100, np.random.default_rng(0), stratified=True)
    assert idx.shape == (100, 10)
    assert (y[idx].sum(axis=1) == 3).all()
    free = resample_indices(y, 200, np.random.default_rng(0), stratified=False)
    assert len(set(y[free].sum(axis=1))) > 1


def test_mean_ci_close_to_normal_theory():
    rng = np.random.default_rng(1)
    x = rng.normal(10, 2, 400)
    r = bootstrap_ci(lambda y, v: v.mean(), np.zeros(400), x, n_boot=2000, seed=3)
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert r.estimate == pytest.approx(x.mean())
    assert r.se == pytest.approx(se, rel=0.1)
    assert r.ci_low == pytest.approx(x.mean() - 1.96 * se, abs=0.05)
    assert r.n_failed == 0 and r.replicates.size == 2000


@pytest.mark.slow
def test_seeded_and_independent_of_n_jobs():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 120)
    s = y + rng.normal(size=120)
    a = bootstrap_ci(roc_auc_score, y, s, n_boot=120, seed=7)
    b = bootstrap_ci(roc_auc_score, y, s, n_boot=120, seed=7, n_jobs=2)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert a == b
    c = bootstrap_ci(roc_auc_score, y, s, n_boot=120, seed=8)
    assert c != a


def test_dataframe_rows_are_resampled_together():
    df = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) * 2})
    r = bootstrap_ci(lambda y, d: float((d.b - 2 * d.a).abs().sum()), np.zeros(50), df, n_boot=20, seed=0)
    assert r.ci_high == 0


@pytest.mark.filterwarnings("ignore:Only one class is present")
def test_failed_replicates_are_counted():
    y = np.array([0] * 18 + [1] * 2)
    s = np.arange(20.0)
    r = bootstrap_ci(roc_auc_score, y, s, n_boot=200, stratified=False, seed=0)
    assert r.n_failed > 0 and r.replicates.size == 200 - r.n_failed


def test_iter_twin_yields_progress_steps():
    steps = []
    r = run(iter_bootstrap_ci(lambda y, v: v.mean(), np.zeros(30), np.arange(30.0), n_boot=120, seed=0), steps.append)
    assert all(isinstance(s, Step) for s in steps)
    assert [s.done for s in steps] == [50, 100, 120] and steps[-1].total == 120
    assert r.n_boot == 120


def test_bad_bootstrap_inputs():
    with pytest.raises(StatsInputError, match="rows"):
        bootstrap_ci(roc_auc_score, [0, 1, 0], [0.1, 0.2])
    with pytest.raises(StatsInputError, match="level"):
        bootstrap_ci(roc_auc_score, [0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], level=95)
    with pytest.raises(StatsInputError, match="n_boot"):
        bootstrap_ci(roc_auc_score, [0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], n_boot=1)
