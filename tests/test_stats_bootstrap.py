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


def test_stratified_on_a_continuous_y_falls_back_with_a_warning():
    """Stratifying on a continuous y resamples each row with itself: a silent zero-width CI (issue 12)."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=60)
    with pytest.warns(RuntimeWarning, match="60 distinct values in 60 rows .* resampled without stratification"):
        r = bootstrap_ci(lambda v: v.mean(), x, n_boot=300, seed=1)
    assert not r.stratified
    assert r.ci_high - r.ci_low > 0.2          # ~ 2 * 1.96 / sqrt(60) = 0.5; it was 0.0
    # a binary outcome is still stratified, silently
    import warnings

    y = np.r_[np.zeros(30), np.ones(30)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bootstrap_ci(lambda a, b: b.mean(), y, x, n_boot=100, seed=1).stratified


def test_grouped_bootstrap_draws_whole_patients():
    from radgui.stats.bootstrap import bootstrap_cis, resample_indices

    groups = np.repeat(np.arange(20), 3)
    y = np.repeat(np.r_[np.zeros(10), np.ones(10)], 3).astype(int)
    for idx in resample_indices(y, 20, np.random.default_rng(0), groups=groups):
        counts = np.bincount(groups[idx], minlength=20)
        assert np.all(counts % 3 == 0) and counts.sum() == 60        # stratified: 10 + 10 patients
    rng = np.random.default_rng(1)
    score = y + np.repeat(rng.normal(0, 0.8, 20), 3) + rng.normal(0, 0.1, 60)   # rows of a patient agree
    from sklearn.metrics import roc_auc_score

    g = bootstrap_ci(roc_auc_score, y, score, n_boot=300, seed=2, groups=groups)
    plain = bootstrap_ci(roc_auc_score, y, score, n_boot=300, seed=2)
    assert g.grouped and not plain.grouped
    assert (g.ci_high - g.ci_low) > (plain.ci_high - plain.ci_low)   # rows of a patient are not independent
    many = bootstrap_cis({"auc": roc_auc_score, "mean": lambda a, b: b.mean()}, y, score, n_boot=300, seed=2,
                         groups=groups)
    assert set(many) == {"auc", "mean"} and many["auc"].estimate == pytest.approx(roc_auc_score(y, score))
    with pytest.raises(StatsInputError, match="groups has 3 rows but y has 60"):
        bootstrap_ci(roc_auc_score, y, score, n_boot=10, groups=[1, 2, 3])
