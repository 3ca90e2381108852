"""NRI and IDI.

Truth: hand-counted reclassification tables (Pencina et al., Stat Med
2008;27:157-172, formulas for NRI, IDI and their standard errors, as in R
Hmisc::improveProb) on small data where every count is written out.
"""

import numpy as np
import pytest
from scipy import stats

from radgui.errors import StatsInputError
from radgui.stats import idi, nri

# 6 events, 8 non-events
Y = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
OLD = np.array([0.30, 0.15, 0.25, 0.60, 0.05, 0.40, 0.10, 0.30, 0.22, 0.05, 0.50, 0.12, 0.08, 0.35])
NEW = np.array([0.45, 0.25, 0.20, 0.70, 0.05, 0.35, 0.05, 0.15, 0.25, 0.04, 0.30, 0.12, 0.09, 0.20])


def test_continuous_nri_hand_counted():
    # events: up at 0,1,3 (3), down at 2,5 (2), same at 4 -> 3/6 - 2/6
    # non-events: up at 8,12 (2), down at 6,7,9,10,13 (5), same at 11 -> 5/8 - 2/8
    r = nri(Y, OLD, NEW)
    assert r.events == pytest.approx(1 / 6)
    assert r.nonevents == pytest.approx(3 / 8)
    assert r.value == pytest.approx(1 / 6 + 3 / 8)
    var = (3 / 6 + 2 / 6 - (1 / 6) ** 2) / 6 + (2 / 8 + 5 / 8 - (3 / 8) ** 2) / 8
    assert r.se == pytest.approx(np.sqrt(var))
    assert r.p_value == pytest.approx(2 * stats.norm.sf(r.value / np.sqrt(var)))
    z = stats.norm.ppf(0.975)
    assert (r.ci_low, r.ci_high) == pytest.approx((r.value - z * r.se, r.value + z * r.se))
    assert r.kind == "continuous NRI"


def test_categorical_nri_hand_counted():
    # categories <0.2, [0.2, 0.4), >=0.4
    # events old->new: 0: 1->2 up, 1: 0->1 up, 2: 1->1, 3: 2->2, 4: 0->0, 5: 2->1 down
    # non-events: 6: 0->0, 7: 1->0 down, 8: 1->1, 9: 0->0, 10: 2->1 down, 11: 0->0, 12: 0->0, 13: 1->1
    r = nri(Y, OLD, NEW, cutoffs=[0.2, 0.4])
    assert r.events == pytest.approx(2 / 6 - 1 / 6)
    assert r.nonevents == pytest.approx(2 / 8)
    var = (3 / 6 - (1 / 6) ** 2) / 6 + (2 / 8 - (2 / 8) ** 2) / 8
    assert r.se == pytest.approx(np.sqrt(var))
    assert r.kind == "categorical NRI"


def test_idi_hand_computed():
    d = NEW - OLD
    r = idi(Y, OLD, NEW)
    assert r.events == pytest.approx(d[Y == 1].mean())
    assert r.nonevents == pytest.approx(-d[Y == 0].mean())
    # IDI = difference of discrimination slopes
    slope_new = NEW[Y == 1].mean() - NEW[Y == 0].mean()
    slope_old = OLD[Y == 1].mean() - OLD[Y == 0].mean()
    assert r.value == pytest.approx(slope_new - slope_old)
    se = np.sqrt(d[Y == 1].var(ddof=1) / 6 + d[Y == 0].var(ddof=1) / 8)
    assert r.se == pytest.approx(se)


def test_identical_models_give_zero():
    r = nri(Y, OLD, OLD)
    assert r.value == 0 and r.p_value == 1.0
    assert idi(Y, OLD, OLD).value == 0


def test_bad_reclassification_inputs():
    with pytest.raises(StatsInputError, match="cutoffs"):
        nri(Y, OLD, NEW, cutoffs=[0.2, 1.5])
    with pytest.raises(StatsInputError, match="same length"):
        idi(Y, OLD[:-1], NEW)
    with pytest.raises(StatsInputError, match="probabilities"):
        nri(Y, OLD * 3, NEW)
