"""Overlaid comparison curves: one curve per model, one legend entry per reference line."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from radgui.plots.model_figures import ModelComparisonDisplay


def test_comparison_display_overlays_every_model():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    preds = {f"m{i}": np.clip(0.5 + (y - 0.5) * 0.2 * i + rng.normal(scale=0.2, size=80), 0.01, 0.99)
             for i in range(3)}
    axes = Figure().subplots(3, 1)
    drawn = ModelComparisonDisplay(y, preds, "test").plot(*axes)
    assert len(drawn) == 3
    roc, pr, dca = ([t.get_text() for t in ax.get_legend().get_texts()] for ax in axes)
    assert [t.split(" ")[0] for t in roc] == ["m0", "Chance", "m1", "m2"]
    assert sum(t.startswith("No skill") for t in pr) == 1 and len(pr) == 4
    assert dca == ["m0", "Treat all", "Treat none", "m1", "m2"]
    assert axes[0].get_title() == "ROC: test"


def test_comparison_display_skips_missing_panels():
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    ax = Figure().subplots()
    assert ModelComparisonDisplay(y, {"a": np.linspace(0.1, 0.9, 20)}, "cv").plot(None, ax, None) == [ax]
    assert ax.get_title() == "Precision-recall: cv"
