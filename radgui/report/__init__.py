"""PDF/PNG reports built from :mod:`radgui.plots` figures (no Qt, no pyplot).

* :mod:`radgui.report.model_report` - the model validation report of
  ``radgui train`` / ``radgui evaluate`` (``report.pdf`` + ``metrics.json``).
"""
