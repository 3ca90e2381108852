"""Paired bootstrap of survival models (radgui.stats.paired_bootstrap), checked against a hand-written loop."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines.utils import concordance_index as lifelines_c

from radgui.errors import StatsInputError
from radgui.stats import paired_bootstrap, paired_c_index
from radgui.stats.bootstrap import resample_indices


def _cohort(n=90, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t_event = rng.exponential(10 * np.exp(-1.2 * x))
    t_cens = rng.uniform(5, 30, n)
    return np.minimum(t_event, t_cens), (t_event <= t_cens).astype(int), x, rng


def _hand(t, e, a, b, idx):
    """Harrell's C of b minus a on each replicate, with lifelines directly (higher risk = shorter survival)."""
    return np.array([lifelines_c(t[i], -b[i], e[i]) - lifelines_c(t[i], -a[i], e[i]) for i in idx])


def test_paired_c_index_equals_a_hand_loop_over_the_same_seeded_replicates():
    t, e, x, rng = _cohort()
    a, b = x + rng.normal(scale=2.0, size=x.size), x + rng.normal(scale=0.5, size=x.size)
    r = paired_c_index(t, e, {"a": a, "b": b}, n_boot=300, seed=7)
    d = r.pairs["b vs a"]
    idx = resample_indices(e, 300, np.random.default_rng(7), True, None)
    hand = _hand(t, e, a, b, idx)
    np.testing.assert_allclose(d.replicates, hand, atol=1e-12)
    assert d.diff == pytest.approx(lifelines_c(t, -b, e) - lifelines_c(t, -a, e), abs=1e-12)
    lo, hi = np.quantile(hand, [0.025, 0.975])
    assert (d.ci_low, d.ci_high) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
    k = min((hand <= 0).sum(), (hand >= 0).sum())
    assert d.p_value == pytest.approx(min(1.0, 2 * (k + 1) / (hand.size + 1)))
    assert d.se == pytest.approx(np.std(hand, ddof=1))
    # each model's own interval comes from the same replicates
    own = [lifelines_c(t[i], -a[i], e[i]) for i in idx]
    assert r.intervals["a"] == pytest.approx(tuple(np.quantile(own, [0.025, 0.975])))
    assert d.n_failed == 0 and d.n_boot == 300


def test_identical_models_differ_by_exactly_zero():
    t, e, x, _ = _cohort(seed=1)
    r = paired_c_index(t, e, {"a": x, "b": x.copy()}, n_boot=200, seed=0)
    d = r.pairs["b vs a"]
    assert (d.diff, d.ci_low, d.ci_high, d.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert np.all(d.replicates == 0)


def test_a_clearly_better_model_has_p_below_005():
    t, e, x, rng = _cohort(n=120, seed=2)
    noise = rng.normal(size=x.size)
    r = paired_c_index(t, e, {"noise": noise, "true": x}, n_boot=400, seed=3)
    d = r.pairs["true vs noise"]
    assert d.diff > 0.15 and d.ci_low > 0
    assert d.p_value < 0.05
    assert d.p_value >= 2 / (400 + 1)  # the +1 rule: never 0
    # the reverse order flips the sign, not the p-value
    rev = paired_c_index(t, e, {"true": x, "noise": noise}, n_boot=400, seed=3).pairs["noise vs true"]
    assert rev.diff == pytest.approx(-d.diff) and rev.p_value == pytest.approx(d.p_value)
    assert (rev.ci_low, rev.ci_high) == (pytest.approx(-d.ci_high), pytest.approx(-d.ci_low))


def test_grouped_resampling_draws_whole_patients_as_the_hand_loop():
    t, e, x, rng = _cohort(n=60, seed=4)
    # every patient has two rows (two lesions) with the same outcome
    t2, e2 = np.repeat(t, 2), np.repeat(e, 2)
    a, b = np.repeat(x, 2) + rng.normal(size=120), np.repeat(x, 2) + rng.normal(scale=0.3, size=120)
    g = np.repeat([f"P{i}" for i in range(60)], 2)
    r = paired_c_index(t2, e2, {"a": a, "b": b}, n_boot=150, seed=5, groups=g)
    assert r.grouped
    idx = resample_indices(e2, 150, np.random.default_rng(5), True, g)
    for i in idx[:20]:  # whole patients: both rows of a drawn patient come together
        assert len(i) == 120 and all(np.sum(g[i] == p) % 2 == 0 for p in np.unique(g[i]))
    np.testing.assert_allclose(r.pairs["b vs a"].replicates, _hand(t2, e2, a, b, idx), atol=1e-12)


def test_any_metric_with_a_failing_replicate_is_left_out_for_both_models():
    y = np.array([0, 1] * 10)
    s_a, s_b = np.arange(20.0), np.arange(20.0)[::-1]
    calls = []

    def metric(yy, s):
        calls.append(1)
        if len(calls) == 5:  # one replicate of model a fails
            raise ValueError("degenerate")
        return float(np.mean(s[yy == 1]))

    r = paired_bootstrap(metric, y, {"a": s_a, "b": s_b}, n_boot=10, seed=0)
    d = r.pairs["b vs a"]
    assert d.n_failed == 1 and d.replicates.size == 9
    assert np.isnan(r.replicates["a"]).sum() == 1 and np.isnan(r.replicates["b"]).sum() == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"scores": {"a": [1.0, 2, 3]}}, "scores of model 'a' have shape (3,) but y has 8 rows"),
    ({"scores": {"a": [1.0, 2, 3, 4, 5, 6, 7, np.nan]}}, "scores of model 'a' have 1 missing or infinite value(s)"),
    ({"n_boot": 1}, "n_boot must be at least 2, got 1"),
    ({"event": [0] * 8}, "the concordance index needs at least one event"),
    ({"event": [0, 1, 2, 1, 0, 1, 1, 1]}, "event must hold 0 (censored) or 1 (event)"),
    ({"pairs": [("a", "zz")]}, "pair ('a', 'zz') names a model without scores (models: a, b)"),
    ({"groups": ["p"] * 3}, "groups has 3 rows but y has 8"),
    ({"scores": {}}, "scores must map at least one model name to its scores"),
])
def test_bad_input_is_refused_in_one_line(kwargs, message):
    args = {"time": [5.0, 8, 3, 9, 2, 7, 4, 6], "event": [1, 0, 1, 1, 1, 0, 1, 1],
            "scores": {"a": [1.0, 2, 3, 4, 5, 6, 7, 8], "b": [2.0, 1, 3, 4, 6, 5, 8, 7]}, "n_boot": 20, "seed": 0}
    args.update(kwargs)
    with pytest.raises(StatsInputError) as exc:
        paired_c_index(args.pop("time"), args.pop("event"), args.pop("scores"), **args)
    assert str(exc.value) == message


def test_fast_time_dependent_auc_equals_scikit_survival_with_ties():
    from sksurv.metrics import cumulative_dynamic_auc
    from sksurv.util import Surv

    from radgui.model.designs import _auc_at, _ipcw

    ref_t, ref_e, x, rng = _cohort(n=150, seed=6)
    t, e, x = ref_t[:100], ref_e[:100], x[:100]  # the test rows lie within the reference's censoring follow-up
    risk = np.round(x + rng.normal(scale=0.5, size=x.size), 1)  # ties in the risk score
    w = _ipcw((ref_t, ref_e), t, e)
    metric = _auc_at(8.0)
    for idx in [np.arange(100), *resample_indices(e, 5, np.random.default_rng(0), True, None)]:
        ref = cumulative_dynamic_auc(Surv.from_arrays(ref_e.astype(bool), ref_t),
                                     Surv.from_arrays(e[idx].astype(bool), t[idx]), risk[idx], [8.0])[0][0]
        assert metric(e[idx], risk[idx], t[idx], w[idx]) == pytest.approx(float(ref), abs=1e-12)
    with pytest.raises(ValueError, match="within follow-up time"):
        metric(e, risk, np.minimum(t, 7.0), w)


def test_survival_pairwise_resamples_patients_whole_for_both_metrics():
    from sksurv.metrics import cumulative_dynamic_auc
    from sksurv.util import Surv

    from radgui.model.designs import survival_pairwise

    t, e, x, rng = _cohort(n=150, seed=8)
    ref = (t, e)
    sub = np.arange(50)  # 50 patients with two rows each (two lesions), within the reference's follow-up
    t2, e2 = np.repeat(t[sub], 2), np.repeat(e[sub], 2)
    g = np.repeat([f"P{i}" for i in sub], 2)
    lps = {"a": np.repeat(x[sub], 2) + rng.normal(size=100), "b": np.repeat(x[sub], 2)}
    per, pairs = survival_pairwise(t2, e2, lps, ref, 8.0, groups=g, seed=2, n_boot=40)
    idx = resample_indices(e2, 40, np.random.default_rng(2), True, g)
    hand_c = _hand(t2, e2, lps["a"], lps["b"], idx)
    sref = Surv.from_arrays(e.astype(bool), t)

    def auc(s, i):
        return float(cumulative_dynamic_auc(sref, Surv.from_arrays(e2[i].astype(bool), t2[i]), s[i], [8.0])[0][0])

    hand_auc = np.array([auc(lps["b"], i) - auc(lps["a"], i) for i in idx])
    c, a = pairs["b vs a"]["c_index"], pairs["b vs a"]["auc_at_horizon"]
    assert [c["ci_low"], c["ci_high"]] == pytest.approx(list(np.quantile(hand_c, [0.025, 0.975])), abs=1e-12)
    assert [a["ci_low"], a["ci_high"]] == pytest.approx(list(np.quantile(hand_auc, [0.025, 0.975])), abs=1e-12)
    assert per["b"]["auc_at_horizon"] == pytest.approx(auc(lps["b"], np.arange(100)), abs=1e-12)
    assert per["a"]["ci_low"] <= per["a"]["c_index"] <= per["a"]["ci_high"]


def test_survival_pairwise_says_why_when_no_replicate_has_a_usable_pair():
    from radgui.model.designs import survival_pairwise
    from radgui.report.extras import survival_pairwise_rows

    # both events at the same time, after every censoring: Harrell's C has no usable pair in any replicate
    t = np.array([5.0, 5.0, 1, 2, 3, 4])
    e = np.array([1, 1, 0, 0, 0, 0])
    lps = {"a": np.arange(6.0), "b": np.arange(6.0)[::-1]}
    per, pairs = survival_pairwise(t, e, lps, (np.r_[t, 9.0], np.r_[e, 0]), 4.5, seed=0, n_boot=20)
    assert "error" in pairs["b vs a"]["c_index"] and np.isnan(per["a"]["ci_low"])
    comp = {"pairwise": {"test": pairs}, "cohorts": {"test": {"external": False}}}
    assert survival_pairwise_rows(comp)[0][2:4] == ["NA", "NA"]
