"""Nomogram ticks where the coefficients put them, points back to probability, K-M placement numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from radgui.model.bundle import ModelBundle, Predictor, Term, nomogram_scales
from radgui.model.predict import predict_from_features
from radgui.plots.km_placement import KMPlacementDisplay
from radgui.plots.nomogram import NomogramDisplay


@pytest.fixture(scope="module")
def demo_bundle():
    from radgui.demo import demo_model_path

    return ModelBundle.load(demo_model_path())


@pytest.fixture
def known_bundle(tmp_path):
    """Radscore (coef 1, range -2..3) + age (0.04 per year, 30..90) + ECOG (0 / 0.5 / 1.2)."""
    b = ModelBundle.from_formula(0.0, {"original_firstorder_Mean": 1.0}, ranges={"original_firstorder_Mean": (-2, 3)})
    b.predictors += [Predictor(name="age", source="clinical", unit="years", min=18, max=100, label="Age"),
                     Predictor(name="ecog", source="clinical", type="categorical", categories=["0", "1", "2"],
                               label="ECOG")]
    b.linear_model.intercept = -1.5
    b.linear_model.terms += [Term(name="age", coefficient=0.04, label="Age"),
                             Term(name="ecog", type="categorical", reference="0",
                                  coefficients={"1": 0.5, "2": 1.2}, label="ECOG")]
    b.nomogram = nomogram_scales(b.linear_model, {"radscore": (-2.0, 3.0), "age": (30.0, 90.0)})
    return ModelBundle.load(b.save(tmp_path / "known"))  # valid on disk too


def _tick_labels(display, row):
    """(x, label) of the tick labels drawn on a nomogram row."""
    y = display.rows_[row] + 0.12 * 1.4
    return {t.get_text(): t.get_position()[0] for t in display.ax_.findobj(Text)
            if abs(t.get_position()[1] - y) < 1e-9}


def test_ticks_sit_where_the_coefficients_put_them(known_bundle):
    d = NomogramDisplay(known_bundle).plot()
    # widest span: Radscore, 1 x (3 - -2) = 5 LP units -> 100 points, i.e. 20 points per LP unit
    rad = _tick_labels(d, "Radscore")
    assert len(rad) >= 4
    for lab, x in rad.items():
        assert x == pytest.approx((float(lab) + 2) * 20, abs=1e-9), lab
    age = _tick_labels(d, "Age")
    assert len(age) >= 4
    for lab, x in age.items():
        assert x == pytest.approx(0.04 * (float(lab) - 30) * 20, abs=1e-9), lab
    assert _tick_labels(d, "ECOG") == pytest.approx({"0": 0.0, "1": 10.0, "2": 24.0})
    pts = _tick_labels(d, "Points")
    assert pts["50"] == pytest.approx(50.0)


def test_drawn_points_map_back_to_the_probability(known_bundle, demo_bundle):
    cases = [(known_bundle, {"original_firstorder_Mean": 0.7}, {"age": 71, "ecog": "2"}),
             (demo_bundle, {p.name: (p.p01 + p.p99) / 2 for p in demo_bundle.predictors if p.source == "radiomics"},
              {"ecog": "1", "nlr": 4.2})]
    for bundle, feats, clin in cases:
        pred = predict_from_features(bundle, feats, clin)
        d = NomogramDisplay(bundle, pred).plot()
        marks = {}
        for ln in d.ax_.findobj(Line2D):
            if ln.get_marker() == "v":
                marks[float(ln.get_ydata()[0])] = float(ln.get_xdata()[0])
        drawn = sum(marks[d.rows_[a["label"] or a["term"]]] for a in bundle.nomogram["axes"])
        nomo = bundle.nomogram
        lp = math.log(pred.probability / (1 - pred.probability))
        implied = (lp - nomo["lp_at_zero_points"]) * nomo["points_per_lp"]
        assert abs(drawn - implied) < 0.5
        assert pred.total_points == pytest.approx(implied, abs=1e-6)
        # the total-points marker sits at the total on the Total Points axis
        assert marks[d.rows_["Total Points"]] == pytest.approx(float(d.x_of_total_(pred.total_points)))


def test_km_placement_numbers_match_lifelines(demo_bundle):
    from lifelines import KaplanMeierFitter

    feats = {p.name: p.p99 for p in demo_bundle.predictors if p.source == "radiomics"}
    pred = predict_from_features(demo_bundle, feats, {"ecog": "2", "nlr": 6.0})
    fig = Figure(figsize=(8, 3.4))
    d = KMPlacementDisplay(demo_bundle, pred, time_point=12).plot(fig)
    ref = demo_bundle.reference_cohort
    grp = ref[ref["risk_group"] == pred.risk_group]
    kmf = KaplanMeierFitter().fit(grp["time"], grp["event"])
    s = d.summary_
    assert s["group"] == pred.risk_group and s["n"] == len(grp)
    assert s["rate"] == pytest.approx(float(kmf.survival_function_at_times(12).iloc[0]), rel=1e-12)
    ci = kmf.confidence_interval_survival_function_
    row = ci[ci.index <= 12].iloc[-1]
    assert s["rate_ci_low"] == pytest.approx(row.iloc[0], rel=1e-6)
    assert s["rate_ci_high"] == pytest.approx(row.iloc[1], rel=1e-6)
    # median, R survfit's rule on lifelines' curve: first time S <= 0.5, the midpoint to the
    # next time when S equals 0.5 exactly (lifelines itself reports the first time S < 0.5)
    sf = kmf.survival_function_.iloc[:, 0]
    at = sf.index[np.isclose(sf.to_numpy(), 0.5, rtol=0, atol=1e-12)]
    below = sf.index[sf.to_numpy() < 0.5]
    expected = (at[0] + sf.index[sf.index > at[0]][0]) / 2 if len(at) else below[0]
    assert s["median"] == pytest.approx(expected, rel=1e-12)
    # the patient's group is drawn bold; numbers at risk are tabulated for both groups
    label = f"{pred.risk_group.capitalize()} risk"
    lines = d.km_.lines_
    assert lines[label].get_linewidth() > max(ln.get_linewidth() for k, ln in lines.items() if k != label)
    assert d.km_.at_risk_.shape[0] == 2 and int(d.km_.at_risk_.iloc[:, 0].sum()) == len(ref)
    # the patient's LP is marked on the reference distribution
    # (issue 16: an LP beyond the axis is clipped at the edge with an arrow, not drawn off the axis)
    lo, hi = d.ax_dist_.get_ylim()
    hl = [ln for ln in d.ax_dist_.get_lines() if np.allclose(ln.get_ydata(), pred.linear_predictor)]
    texts = " ".join(t.get_text() for t in d.ax_dist_.texts)
    if lo <= pred.linear_predictor <= hi:
        assert hl and not d.patient_clipped_, "patient's linear predictor not marked"
    else:
        assert d.patient_clipped_ and not hl and "beyond the\ntraining range" in texts
    assert "this patient" in texts


def test_km_placement_without_survival_times(known_bundle):
    import pandas as pd

    from radgui.errors import BundleError

    with pytest.raises(BundleError, match="no reference cohort"):
        KMPlacementDisplay(known_bundle)
    known_bundle.reference_cohort = pd.DataFrame({"linear_predictor": np.linspace(-2, 2, 30),
                                                  "risk_group": ["low"] * 15 + ["high"] * 15})
    d = KMPlacementDisplay(known_bundle).plot()
    assert d.ax_km_ is None and d.ax_dist_ is not None
