"""Radiomics features: PyRadiomics with study presets, a crop-first fast path, delta and cohort extraction.

Public functions
----------------
``extract`` / ``iter_extract``
    Features of several ROIs of one image (DataFrame indexed by ROI name).
``presets`` / ``load_preset``
    Shipped PyRadiomics presets and loading/validating any YAML.
``delta``
    Delta radiomics between two time points.
``extract_cohort`` / ``iter_extract_cohort``
    A manifest of cases, in parallel processes or on a Dask cluster.
``icc``
    Re-exported from :mod:`radgui.stats.icc` (inter-reader agreement).

PyRadiomics is imported lazily, on first extraction.
"""

from __future__ import annotations

from radgui.features.cohort import aggregate_lesions, extract_cohort, iter_extract_cohort, read_manifest
from radgui.features.delta import delta, delta_table
from radgui.features.extract import ROI_SEP, extract, flatten, iter_extract
from radgui.features.presets import Preset, load_preset, preset_from_text, presets

__all__ = [
    "ROI_SEP",
    "Preset",
    "aggregate_lesions",
    "delta",
    "delta_table",
    "extract",
    "extract_cohort",
    "flatten",
    "icc",
    "iter_extract",
    "iter_extract_cohort",
    "load_preset",
    "preset_from_text",
    "presets",
    "read_manifest",
]


def __getattr__(name):
    # radgui.stats.icc is written by another module owner; import it lazily so
    # radgui.features works before (and without paying for) it.
    if name == "icc":
        try:
            from radgui.stats.icc import icc
        except ImportError as exc:  # pragma: no cover - until radgui.stats.icc lands
            raise AttributeError("radgui.features.icc needs radgui.stats.icc, which is not available") from exc
        return icc
    raise AttributeError(f"module 'radgui.features' has no attribute {name!r}")
