"""Intraclass correlation.

Truth: Shrout PE, Fleiss JL. Psychol Bull 1979;86:420-428, Table 2 (6 targets
rated by 4 judges) and the ICC values of their Table 4:
ICC(1,1)=.17, ICC(2,1)=.29, ICC(3,1)=.71, ICC(1,4)=.44, ICC(2,4)=.62,
ICC(3,4)=.91. The F tests and 95% intervals are those R psych::ICC prints for
the same table (psych's help page, data ``sf``):
ICC1 F=1.8 df 5,18 p=0.16 [-0.13, 0.72]; ICC2 F=11 df 5,15 p=0.00013
[0.019, 0.76]; ICC3 [0.34, 0.95]; ICC1k [-0.88, 0.91]; ICC2k [0.071, 0.93];
ICC3k [0.68, 0.99]. Random tables are cross-checked against pingouin.
"""

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from radgui.errors import StatsInputError
from radgui.stats import ICC_FORMS, icc

SF = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)

PUBLISHED = {
    "ICC(1,1)": (0.17, -0.13, 0.72),
    "ICC(2,1)": (0.29, 0.019, 0.76),
    "ICC(3,1)": (0.71, 0.34, 0.95),
    "ICC(1,k)": (0.44, -0.88, 0.91),
    "ICC(2,k)": (0.62, 0.071, 0.93),
    "ICC(3,k)": (0.91, 0.68, 0.99),
}


@pytest.mark.parametrize("form", ICC_FORMS)
def test_shrout_fleiss_table(form):
    r = icc(SF, form)
    val, lo, hi = PUBLISHED[form]
    assert round(r.icc, 2) == val
    digits = 3 if abs(lo) < 0.1 else 2
    assert round(r.ci_low, digits) == lo
    assert round(r.ci_high, 2) == hi
    if form.startswith("ICC(1"):
        assert round(r.f, 1) == 1.8 and (r.df1, r.df2) == (5, 18) and round(r.p_value, 2) == 0.16
    else:
        assert round(r.f) == 11 and (r.df1, r.df2) == (5, 15) and r.p_value == pytest.approx(0.000135, abs=2e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_random_tables_match_pingouin(seed):
    rng = np.random.default_rng(seed)
    n, k = 25, 3
    x = rng.normal(size=(n, 1)) * 2 + rng.normal(size=(n, k)) + rng.normal(size=(1, k))
    long = pd.DataFrame(
        {"target": np.repeat(np.arange(n), k), "rater": np.tile(np.arange(k), n), "rating": x.ravel()}
    )
    ref = pg.intraclass_corr(long, targets="target", raters="rater", ratings="rating").set_index("Type")
    names = {"ICC(1,1)": "ICC(1,1)", "ICC(2,1)": "ICC(A,1)", "ICC(3,1)": "ICC(C,1)",
             "ICC(1,k)": "ICC(1,k)", "ICC(2,k)": "ICC(A,k)", "ICC(3,k)": "ICC(C,k)"}  # pingouin >= 0.7 names
    for form, pname in names.items():
        r, row = icc(x, form), ref.loc[pname]
        assert r.icc == pytest.approx(row["ICC"], abs=1e-10), form
        assert r.f == pytest.approx(row["F"], rel=1e-10), form
        assert r.p_value == pytest.approx(row["pval"], rel=1e-6, abs=1e-300), form
        # pingouin rounds its CI to 2 decimals
        assert r.ci_low == pytest.approx(row["CI95"][0], abs=0.0051), form
        assert r.ci_high == pytest.approx(row["CI95"][1], abs=0.0051), form


def test_mcgraw_wong_and_psych_aliases():
    assert icc(SF, "ICC(A,1)") == icc(SF, "ICC(2,1)")
    assert icc(SF, "ICC(C,k)").icc == icc(SF, "ICC(3,k)").icc
    assert icc(SF, "icc2k").form == "ICC(2,k)"
    assert icc(pd.DataFrame(SF), "ICC(1)").form == "ICC(1,1)"


def test_zero_variance_feature_is_nan_and_never_passes():
    r = icc(np.full((10, 3), 4.2), "ICC(3,1)")
    assert np.isnan(r.icc) and np.isnan(r.ci_low) and np.isnan(r.p_value)
    assert not r.passes(0.75) and not r.passes(-1)
    assert icc(SF, "ICC(3,1)").passes(0.7) and not icc(SF, "ICC(3,1)").passes(0.75)


def test_perfect_agreement_is_one():
    x = np.repeat(np.arange(8.0)[:, None], 3, axis=1)
    r = icc(x, "ICC(2,1)")
    assert r.icc == 1.0 and r.ci_low == 1.0 and r.passes(0.9)


def test_missing_ratings():
    x = SF.copy()
    x[0, 1] = np.nan
    with pytest.raises(StatsInputError, match="missing ratings"):
        icc(x)
    assert icc(x, nan_policy="omit").n_targets == 5


@pytest.mark.parametrize(
    "ratings, form, match",
    [(SF, "ICC(4,1)", "unknown ICC form"), (SF[:1], "ICC(2,1)", "at least 2 targets"), (SF[:, 0], "ICC1", "2-D")],
)
def test_bad_icc_inputs(ratings, form, match):
    with pytest.raises(StatsInputError, match=match):
        icc(ratings, form)
