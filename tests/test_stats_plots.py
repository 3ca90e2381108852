"""Curve displays draw into the given Axes, use no pyplot state, and draw what the stats computed."""

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from radgui.plots import (
    CalibrationDisplay,
    DecisionCurveDisplay,
    KaplanMeierDisplay,
    PrecisionRecallDisplay,
    RocDisplay,
)
from radgui.stats import decision_curve, kaplan_meier, roc_auc


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = y + rng.normal(0, 1.2, 200)
    return y, s, 1 / (1 + np.exp(-(s - 0.5)))


def test_roc_display_draws_into_given_axes(data):
    y, s, _ = data
    fig = Figure()
    ax = fig.add_subplot()
    d = RocDisplay.from_predictions(y, s, name="Radscore", ax=ax, show_cutoff=True)
    assert d.ax_ is ax and d.figure_ is fig
    r = roc_auc(y, s)
    assert f"AUC {r.auc:.2f}" in d.line_.get_label() and "Radscore" in d.line_.get_label()
    assert d.line_.get_xdata()[-1] == 1 and d.line_.get_ydata()[-1] == 1
    RocDisplay.from_predictions(y, -s, name="Reversed", ax=ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels.count("Chance") == 1 and any("Reversed" in t for t in labels)


def test_displays_without_ax_make_their_own_figure(data, tmp_path):
    y, s, p = data
    for d in (
        RocDisplay.from_predictions(y, s),
        PrecisionRecallDisplay.from_predictions(y, s),
        CalibrationDisplay.from_predictions(y, p),
        DecisionCurveDisplay.from_predictions(y, p),
        KaplanMeierDisplay.from_survival(np.arange(1, 201), y),
    ):
        assert isinstance(d.figure_, Figure)
        d.figure_.savefig(tmp_path / f"{type(d).__name__}.png", dpi=40)
        assert (tmp_path / f"{type(d).__name__}.png").stat().st_size > 1000


def test_decision_curve_display_plots_the_frame(data):
    y, _, p = data
    fig = Figure()
    d = DecisionCurveDisplay.from_predictions(y, p, [0.1, 0.2, 0.3], ax=fig.add_subplot())
    ref = decision_curve(y, p, [0.1, 0.2, 0.3])
    np.testing.assert_allclose(d.line_.get_ydata(), ref.net_benefit)
    assert {"Treat all", "Treat none"} <= {t.get_text() for t in d.ax_.get_legend().get_texts()}


def test_calibration_display_points_are_the_binned_curve(data):
    y, _, p = data
    d = CalibrationDisplay.from_predictions(y, p, bins=5, ax=Figure().add_subplot())
    xy = d.points_.lines[0].get_xydata()
    np.testing.assert_allclose(xy[:, 0], d.calibration.curve.predicted)
    np.testing.assert_allclose(xy[:, 1], d.calibration.curve.observed)


def test_km_display_numbers_at_risk_table():
    from lifelines.datasets import load_lung

    lung = load_lung()
    fig = Figure(figsize=(6, 5), layout="constrained")
    d = KaplanMeierDisplay.from_survival(lung.time, lung.status, lung.sex, ax=fig.add_subplot(),
                                         time_label="Days")
    assert list(d.at_risk_.index) == ["1", "2"]
    km1 = kaplan_meier(lung.time[lung.sex == 1], lung.status[lung.sex == 1])
    for t, n in zip(d.at_risk_times_, d.at_risk_.loc["1"]):
        assert n == int((lung.time[lung.sex == 1] >= t).sum()) == km1.n_at_risk(t)
    texts = {t.get_text() for t in d.ax_.texts}
    assert "Number at risk" in texts and "138" in texts and "90" in texts
    assert any(t.startswith("Log-rank p") for t in texts)
    np.testing.assert_allclose(d.lines_["1"].get_ydata()[1:], km1.table.survival)
    fixed = KaplanMeierDisplay({"All": kaplan_meier(lung.time, lung.status)}).plot(
        ax=Figure().add_subplot(), at_risk_times=[0, 365, 730])
    assert fixed.at_risk_.loc["All"].tolist() == [228, int((lung.time >= 365).sum()), int((lung.time >= 730).sum())]


def test_importing_plots_loads_no_pyplot_or_qt():
    code = (
        "import sys, numpy as np; from radgui.plots import RocDisplay; "
        "RocDisplay.from_predictions([0,1,0,1],[0.1,0.8,0.3,0.6]).figure_.savefig(__import__('io').BytesIO()); "
        "bad=[m for m in ('matplotlib.pyplot','PySide6','qtpy','napari') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
