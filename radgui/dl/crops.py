"""Tumour-centred crops: a cube of fixed size in mm, resampled to a fixed spacing, normalised.

The crop grid is built in physical space (LPS, mm) around the ROI's centroid
and handed to SimpleITK's resampler (linear interpolation); the (z, y, x) /
(x, y, z) bookkeeping is :mod:`radgui.io`'s (:func:`radgui.io.volume_from_array`
makes the reference grid), so nothing here touches ITK's axis order. Voxels of
the cube outside the image take the window's low value (CT: air) or, without a
window, the image's minimum.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radgui.errors import DLInputError, EmptyMaskError, RadguiError
from radgui.progress import Step, run

#: Smallest and largest crop edge in voxels.
MIN_VOXELS, MAX_VOXELS = 8, 128


@dataclass(frozen=True)
class CropSpec:
    """How a ROI becomes the network's input cube.

    Parameters
    ----------
    size_mm : float
        Edge of the cube in mm (the same along z, y and x).
    spacing_mm : float
        Isotropic voxel spacing of the cube in mm; ``size_mm / spacing_mm``
        voxels per edge (rounded; 8 to 128).
    window : (float, float) or None
        Intensity window ``(low, high)`` in the image's units (CT: HU): values
        are clipped to it and mapped to [0, 1]. None: z-score inside the cube
        (MR, values without a physical scale).
    """

    size_mm: float = 48.0
    spacing_mm: float = 2.0
    window: tuple[float, float] | None = (-1000.0, 400.0)

    def __post_init__(self):
        for name in ("size_mm", "spacing_mm"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise DLInputError(f"crop {name} must be a finite positive number of mm, got {v!r}")
        n = self.voxels
        if not MIN_VOXELS <= n <= MAX_VOXELS:
            raise DLInputError(f"crop of {self.size_mm:g} mm at {self.spacing_mm:g} mm is {n} voxels per edge; "
                               f"it must be {MIN_VOXELS} to {MAX_VOXELS}")
        if self.window is not None:
            w = tuple(self.window)
            if len(w) != 2 or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in w) or w[0] >= w[1]:
                raise DLInputError(f"crop window must be two finite numbers low < high, got {self.window!r}")
            object.__setattr__(self, "window", (float(w[0]), float(w[1])))

    @property
    def voxels(self) -> int:
        """Voxels per edge of the cube."""
        return int(round(self.size_mm / self.spacing_mm))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["window"] = None if self.window is None else list(self.window)
        d["voxels"] = self.voxels
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CropSpec:
        if not isinstance(d, dict) or set(d) - {"size_mm", "spacing_mm", "window", "voxels"}:
            raise DLInputError(f"crop spec must have size_mm, spacing_mm and window, got {d!r}"[:200])
        window = d.get("window")
        spec = cls(d.get("size_mm"), d.get("spacing_mm"), None if window is None else tuple(window))
        if "voxels" in d and d["voxels"] != spec.voxels:
            raise DLInputError(f"crop spec says {d['voxels']} voxels but {spec.size_mm:g}/{spec.spacing_mm:g} mm "
                               f"gives {spec.voxels}")
        return spec


def roi_centroid_mm(volume, mask) -> np.ndarray:
    """Physical LPS centroid (z, y, x) in mm of a mask's non-zero voxels on ``volume``'s grid.

    Raises
    ------
    EmptyMaskError
        The mask has no voxel.
    """
    from radgui.io import mask_to_array

    arr = mask_to_array(mask) if not isinstance(mask, np.ndarray) else mask
    idx = np.argwhere(arr != 0)
    if idx.size == 0:
        raise EmptyMaskError("the ROI has no voxel: no crop can be centred on it", volume.meta.get("source") or None)
    return volume.index_to_physical(idx.mean(axis=0))


def normalise(cube: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    """Clip to ``window`` and map to [0, 1], or z-score the cube when ``window`` is None (float32)."""
    cube = np.asarray(cube, dtype=np.float32)
    if window is not None:
        lo, hi = window
        return ((np.clip(cube, lo, hi) - lo) / (hi - lo)).astype(np.float32)
    sd = float(cube.std())
    return ((cube - float(cube.mean())) / sd if sd > 0 else np.zeros_like(cube)).astype(np.float32)


def crop_roi(volume, mask, spec: CropSpec = CropSpec()) -> np.ndarray:
    """The normalised cube (z, y, x), ``spec.voxels`` per edge, centred on the ROI's centroid.

    Parameters
    ----------
    volume : radgui.io.Volume
        The image (canonical LPS, as radgui loads it).
    mask : SimpleITK.Image or numpy.ndarray
        The ROI on ``volume``'s grid (non-zero voxels).
    spec : CropSpec
        Size and spacing in mm, intensity window.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(n, n, n)``, n = ``spec.voxels``.
    """
    import SimpleITK as sitk

    from radgui.io import array_view, volume_from_array

    n, s = spec.voxels, float(spec.spacing_mm)
    centre = roi_centroid_mm(volume, mask)
    origin = centre - (n - 1) / 2.0 * s
    ref = volume_from_array(np.zeros((n, n, n), np.float32), spacing=(s, s, s), origin=tuple(origin))
    pad = spec.window[0] if spec.window is not None else float(np.min(volume.array))
    cube = sitk.Resample(volume.image, ref.image, sitk.Transform(), sitk.sitkLinear, float(pad), sitk.sitkFloat32)
    return normalise(array_view(cube), spec.window)


def _load_case(row: dict):
    from radgui.io import load_mask, load_volume

    label = str(row.get("label") or "").strip()
    modality = str(row.get("modality") or "").strip() or None
    volume = load_volume(row["image"], modality=modality)
    mask = load_mask(row["mask"], like=volume, label=int(label) if label else None)
    return volume, mask


def iter_crop_cohort(manifest, spec: CropSpec = CropSpec()) -> Generator[Step, None, tuple]:
    """Crop every row of a cohort manifest (``radgui extract --manifest``'s format).

    Returns ``(keys, crops)``: a DataFrame of the manifest's key columns (one
    row per crop) and a float32 array ``(rows, n, n, n)``. A case that cannot
    be read or cropped stops the run with an error naming its patient.
    """
    import pandas as pd

    from radgui.features.cohort import KEY_COLUMNS, read_manifest

    from radgui.io import memory_budget

    df = manifest if isinstance(manifest, pd.DataFrame) else read_manifest(manifest)
    n, rows, cubes = len(df), [], []
    need = n * spec.voxels ** 3 * 4
    if need > memory_budget():
        raise DLInputError(f"{n} crops of {spec.voxels}^3 voxels need {need / 2**30:.1f} GiB, more than the memory "
                           f"budget of {memory_budget() / 2**30:.1f} GiB; use fewer patients or smaller crops")
    for i, row in enumerate(df.to_dict("records")):
        yield Step(i, n, f"crop {row['patient_id']} ({i + 1}/{n})")
        try:
            volume, mask = _load_case(row)
            cubes.append(crop_roi(volume, mask, spec))
        except RadguiError as exc:
            raise DLInputError(f"patient {row['patient_id']}: {exc}") from exc
        rows.append({k: row.get(k, "") for k in KEY_COLUMNS})
    yield Step(n, n, f"cropped {n} ROIs")
    keys = pd.DataFrame(rows, columns=list(KEY_COLUMNS))
    return keys, np.stack(cubes) if cubes else np.zeros((0, spec.voxels, spec.voxels, spec.voxels), np.float32)


def crop_cohort(manifest, spec: CropSpec = CropSpec()) -> tuple:
    """Blocking twin of :func:`iter_crop_cohort`."""
    return run(iter_crop_cohort(manifest, spec))
