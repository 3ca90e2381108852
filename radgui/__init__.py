"""radgui: a desktop radiomics workstation on napari.

Research use only, not for clinical decisions.

``import radgui`` loads the engine only; Qt and napari are imported by
:mod:`radgui.gui` alone.
"""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("radgui")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0+unknown"

RESEARCH_NOTICE = "Research use only, not for clinical decisions."

#: Shipped resources (presets, demo data, demo model, icons); inside the wheel.
RESOURCES = Path(__file__).resolve().parent / "resources"

__all__ = ["__version__", "RESEARCH_NOTICE", "RESOURCES"]
