"""The synthetic demo: a lesion-phantom cohort and the demo model built from it.

* :mod:`radgui.demo.cohort` generates the cohort (CT-like lesion phantoms,
  clinical variables, outcome and progression-free survival) from a
  documented generative model;
* ``packaging/build_demo_model.py`` extracts features from it with the real
  feature engine, trains the combined model and writes
  ``resources/models/demo.radgui-model``;
* :func:`demo_model_path` and :data:`EXAMPLE_CLINICAL` are what ``radgui
  demo`` and the Predict dock use.

The demo model is synthetic: it is not a clinical model and must never be used
on patients.
"""

from __future__ import annotations

from pathlib import Path

#: Clinical values filled in by ``radgui demo --predict`` (a plausible patient).
EXAMPLE_CLINICAL: dict[str, object] = {"age": 67, "ecog": "1", "nlr": 4.2}

#: Banner shown with the demo model everywhere it appears.
DEMO_BANNER = "synthetic demo, not a clinical model"


def demo_model_path() -> Path:
    """Path of the shipped demo model bundle."""
    from radgui import RESOURCES

    return RESOURCES / "models" / "demo.radgui-model"


def is_demo(bundle) -> bool:
    """True for a bundle built by the demo script (its provenance says so)."""
    return bool((getattr(bundle, "provenance", None) or {}).get("synthetic_demo", False))
