"""ROI algorithms on (z, y, x) arrays with physical spacing in mm (no Qt).

* :func:`grow` / :func:`grow_region`: region growing from seeds (CT presets,
  adaptive, PET fraction of SUVmax or fixed SUV) with leakage guards.
* :func:`rings`, :func:`core`, :func:`tumour_ring_unions`, :func:`derived_vois`:
  peritumoral rings, intratumoral core and unions by Euclidean distance in mm.
* editing: :func:`fill_holes`, :func:`keep_largest`, :func:`remove_islands`,
  :func:`smooth`, :func:`margin`, :func:`logical`, :func:`interpolate_slices`.
* :func:`measure`: volume, RECIST and 3D diameters, intensity, PET SUV.

Every function leaves its inputs untouched and returns new arrays.
"""

from radgui.roi._common import RoiParameterError
from radgui.roi.edit import (
    LOGICAL_OPS,
    fill_holes,
    interpolate_slices,
    keep_largest,
    logical,
    margin,
    remove_islands,
    smooth,
)
from radgui.roi.grow import PRESETS, GrowResult, grow, grow_region
from radgui.roi.measure import PEAK_RADIUS_MM, max_3d_diameter_mm, measure, recist_mm, suv_peak
from radgui.roi.rings import (
    axis_thickness_mm,
    body_mask,
    core,
    derived_vois,
    distance_to_tumour_mm,
    rings,
    tumour_ring_unions,
)

__all__ = [
    "LOGICAL_OPS",
    "PEAK_RADIUS_MM",
    "PRESETS",
    "GrowResult",
    "RoiParameterError",
    "axis_thickness_mm",
    "body_mask",
    "core",
    "derived_vois",
    "distance_to_tumour_mm",
    "fill_holes",
    "grow",
    "grow_region",
    "interpolate_slices",
    "keep_largest",
    "logical",
    "margin",
    "max_3d_diameter_mm",
    "measure",
    "recist_mm",
    "remove_islands",
    "rings",
    "smooth",
    "suv_peak",
    "tumour_ring_unions",
]
