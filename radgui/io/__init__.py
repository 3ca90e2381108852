"""Reading and writing images and masks; geometry conventions live here.

See :mod:`radgui.io.volume` for the (z, y, x) / LPS convention.
"""

from radgui.io.volume import (
    IMAGE_SUFFIXES,
    Volume,
    array_view,
    canonicalize,
    choose_label,
    grid_mismatch_mm,
    image_hash,
    label_values,
    load_mask,
    memory_budget,
    load_volume,
    mask_from_array,
    mask_to_array,
    read_image,
    save_mask,
    volume_from_array,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "Volume",
    "array_view",
    "canonicalize",
    "choose_label",
    "grid_mismatch_mm",
    "image_hash",
    "label_values",
    "load_mask",
    "memory_budget",
    "load_volume",
    "mask_from_array",
    "mask_to_array",
    "read_image",
    "save_mask",
    "volume_from_array",
]

# DICOM series, SUV and segmentation objects (see radgui.io.dicom, radgui.io.suv, radgui.io.seg).
from radgui.io.dicom import (  # noqa: E402
    DicomScan,
    SeriesInfo,
    list_series,
    load_dicom_volume,
    load_series,
    scan_dicom,
)

__all__ += ["DicomScan", "SeriesInfo", "list_series", "load_dicom_volume", "load_series", "scan_dicom"]
