"""A CT-like phantom with a large lobulated lesion, generated in code (tests and benchmarks).

The shipped sample cases have small ROIs (lung1: 837 voxels, brain1: 4,137),
where per-call overhead dominates; radiomics on a large lesion spends its time
elsewhere (texture matrices, the shape mesh). :func:`large_lesion_case` builds
a reproducible stand-in for the held-out CT of issue 20: a chest-CT-sized grid
(512 x 512 x 61 voxels, 0.63 x 0.63 x 5 mm), soft tissue (about 40 HU) with
smooth texture and noise inside a body ellipse in air (-1000 HU), and a
lobulated lesion of about 20,000 voxels (about 40 mL, radius 21 mm with
angular lobes) of denser, more heterogeneous tissue.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

#: Grid of :func:`large_lesion_case`, (z, y, x) voxels and mm.
LARGE_SHAPE_ZYX = (61, 512, 512)
LARGE_SPACING_ZYX = (5.0, 0.63, 0.63)


def large_lesion_case(seed: int = 7, shape_zyx=LARGE_SHAPE_ZYX,
                      spacing_zyx=LARGE_SPACING_ZYX, radius_mm: float = 21.0) -> tuple[sitk.Image, sitk.Image]:
    """CT-like int16 image and a UInt8 0/1 lesion mask on the same grid.

    Parameters
    ----------
    seed : int
        Noise seed (the lesion's shape does not depend on it).
    shape_zyx, spacing_zyx : tuple
        Grid size (voxels) and spacing (mm), (z, y, x).
    radius_mm : float
        Mean lesion radius; lobes vary it by up to about 25 %.

    Returns
    -------
    image, mask : SimpleITK.Image
        Origin (0, 0, 0), identity direction.
    """
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape_zyx
    sz, sy, sx = spacing_zyx
    z, y, x = np.ogrid[:nz, :ny, :nx]
    # body: an ellipse of soft tissue with smooth texture; air outside
    body = ((y - ny / 2) / (0.42 * ny)) ** 2 + ((x - nx / 2) / (0.47 * nx)) ** 2 <= 1
    tissue = 40 + 30 * np.sin(x / 7.0) * np.cos(y / 9.0) + 20 * np.sin(z / 3.0)
    arr = np.where(body, tissue, -1000.0) + rng.normal(0, 25, shape_zyx)
    # lesion: lobulated sphere centred off-axis, mean radius radius_mm
    cz, cy, cx = nz // 2, int(ny * 0.55), int(nx * 0.39)
    pz, py, px = (z - cz) * sz, (y - cy) * sy, (x - cx) * sx
    r = np.sqrt(pz ** 2 + py ** 2 + px ** 2) + 1e-9
    theta = np.arccos(np.clip(pz / r, -1, 1))
    phi = np.arctan2(py, px)
    rad = radius_mm * (1 + 0.15 * np.sin(3 * phi) * np.sin(2 * theta) + 0.08 * np.cos(5 * phi))
    lesion = r <= rad
    arr = np.where(lesion, 60 + 40 * np.sin(r / 2.5) + rng.normal(0, 35, shape_zyx), arr)
    image = sitk.GetImageFromArray(np.clip(np.rint(arr), -1024, 3071).astype(np.int16))
    image.SetSpacing((float(sx), float(sy), float(sz)))
    mask = sitk.GetImageFromArray(lesion.astype(np.uint8))
    mask.CopyInformation(image)
    return image, mask
