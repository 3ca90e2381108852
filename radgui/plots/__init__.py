"""Matplotlib figures, drawn into a given Axes, with no Qt or pyplot state.

Curve displays (scikit-learn ``*Display`` style) live in
:mod:`radgui.plots.curves`; the nomogram in :mod:`radgui.plots.nomogram`.
"""

from .curves import (
    CalibrationDisplay,
    DecisionCurveDisplay,
    KaplanMeierDisplay,
    PrecisionRecallDisplay,
    RocDisplay,
)

__all__ = [
    "RocDisplay",
    "PrecisionRecallDisplay",
    "CalibrationDisplay",
    "DecisionCurveDisplay",
    "KaplanMeierDisplay",
]
