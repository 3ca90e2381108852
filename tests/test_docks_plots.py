"""Two ROC curves on one Axes share one chance diagonal, without attributes planted on the Axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402


def test_one_chance_line_per_axes_and_no_planted_attribute():
    import matplotlib.pyplot as plt

    from radgui.plots.curves import RocDisplay

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    fig, ax = plt.subplots()
    RocDisplay.from_predictions(y, y + rng.normal(0, 1, 60), ax=ax, name="a")
    RocDisplay.from_predictions(y, y + rng.normal(0, 2, 60), ax=ax, name="b")
    assert [ln.get_label() for ln in ax.get_lines()].count("Chance") == 1
    assert not [k for k in vars(ax) if k.startswith("_radgui")]
    _, other = plt.subplots()
    RocDisplay.from_predictions(y, y + rng.normal(0, 1, 60), ax=other)
    assert [ln.get_label() for ln in other.get_lines()].count("Chance") == 1
    plt.close("all")
