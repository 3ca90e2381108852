"""ROI algorithms on (z, y, x) arrays with physical spacing in mm (no Qt).

* :func:`grow` / :func:`grow_region`: region growing from seeds (CT presets,
  adaptive, PET fraction of SUVmax or fixed SUV) with leakage guards.
* :func:`rings`, :func:`core`, :func:`tumour_ring_unions`, :func:`derived_vois`:
  peritumoral rings, intratumoral core and unions by Euclidean distance in mm.
* editing: :func:`fill_holes`, :func:`keep_largest`, :func:`remove_islands`,
  :func:`smooth`, :func:`margin`, :func:`logical`, :func:`interpolate_slices`.
* :func:`measure`: volume, RECIST and 3D diameters, intensity, PET SUV;
  :func:`volume_ml` the one voxel-count-to-mL conversion.
* :class:`RoiSession`: the Qt-free model behind the ROI dock (seeds, grow
  preview, ring-set undo groups); :func:`mask_change`: the changed voxels
  between two ROIs (one undo step).

Every function leaves its inputs untouched and returns new arrays.
"""

from radgui.roi._common import RoiParameterError
from radgui.roi.edit import (
    EDIT_OPS,
    LOGICAL_OPS,
    apply_edit,
    fill_holes,
    interpolate_slices,
    keep_largest,
    logical,
    margin,
    remove_islands,
    smooth,
)
from radgui.roi.grow import PRESETS, GrowResult, grow, grow_region
from radgui.roi.measure import (
    PEAK_RADIUS_MM,
    iter_measure_many,
    max_3d_diameter_mm,
    measure,
    recist_mm,
    suv_peak,
    volume_ml,
)
from radgui.roi.rings import (
    axis_thickness_mm,
    body_mask,
    core,
    RingSet,
    derived_vois,
    distance_to_tumour_mm,
    iter_derived_vois,
    iter_ring_set,
    ring_thickness,
    rings,
    tumour_ring_unions,
)
from radgui.roi.session import MaskChange, RingSetGroup, RoiSession, derived_name, mask_change, parse_distances

__all__ = [
    "EDIT_OPS",
    "LOGICAL_OPS",
    "MaskChange",
    "RingSet",
    "RingSetGroup",
    "RoiSession",
    "apply_edit",
    "derived_name",
    "iter_derived_vois",
    "iter_measure_many",
    "iter_ring_set",
    "mask_change",
    "parse_distances",
    "ring_thickness",
    "volume_ml",
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
