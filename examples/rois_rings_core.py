"""Grow a tumour from a seed, then make peritumoral rings and an intratumoral core, and measure them.

A synthetic CT (lung at -850 HU, a 10 mm radius nodule at 40 HU, noise) on an
anisotropic grid (0.7 x 0.7 mm in-plane, 2.5 mm slices) stands in for a
patient: every distance below is Euclidean, in mm, whatever the voxel size.

Run::

    .venv/bin/python examples/rois_rings_core.py [OUTDIR]

Writes the phantom CT and every ROI as NRRD into OUTDIR (default: a new
temporary folder).
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radgui import roi
from radgui.io import load_volume, save_mask

outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="radgui-example-"))
outdir.mkdir(parents=True, exist_ok=True)

# A phantom CT written as NRRD, as you would get it from a scanner export.
spacing_zyx = (2.5, 0.7, 0.7)
shape_zyx = (24, 96, 96)
radius_mm = 10.0
z, y, x = (np.indices(shape_zyx).T * spacing_zyx).T  # voxel centres in mm, (z, y, x)
centre = np.array(shape_zyx) // 2 * spacing_zyx
inside = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= radius_mm**2
hu = np.where(inside, 40.0, -850.0) + np.random.default_rng(0).normal(0, 15, shape_zyx)
image = sitk.GetImageFromArray(hu.astype(np.int16))  # numpy (z, y, x) -> SimpleITK (x, y, z)
image.SetSpacing(spacing_zyx[::-1])                   # SimpleITK wants (x, y, z)
sitk.WriteImage(image, str(outdir / "phantom_ct.nrrd"))

ct = load_volume(outdir / "phantom_ct.nrrd")

# 1. Region growing from one seed (voxel index z, y, x), solid-nodule HU preset, 30 mm leak guard.
seed = tuple(int(i) for i in np.array(shape_zyx) // 2)
tumour = roi.grow(ct.array, ct.spacing, seeds=[seed], preset="solid", max_radius_mm=30)
true_ml = 4 / 3 * np.pi * radius_mm**3 / 1000
print(f"grown     tumour from seed {seed}: {tumour.sum()} voxels "
      f"(true sphere {true_ml:.2f} mL, Dice {2 * (tumour & inside).sum() / (tumour.sum() + inside.sum()):.3f})")

# 2. Rings 3/6/9 mm outside the tumour (annular: disjoint shells) and a 2 mm deep core.
vois = {"tumour": tumour}
vois.update(roi.rings(tumour, ct.spacing, distances_mm=(3, 6, 9), mode="annular"))
vois["core2mm"] = roi.core(tumour, ct.spacing, depth_mm=2)

# 3. Measure every ROI; show how thick the 3 mm ring really is along each axis.
print(f"{'roi':10s} {'voxels':>7s} {'mL':>7s} {'3D diam mm':>10s} {'mean HU':>8s}")
for name, mask in vois.items():
    m = roi.measure(mask, ct)
    print(f"{name:10s} {m['voxel_count']:7d} {m['volume_ml']:7.2f} {m['max_3d_diameter_mm']:10.1f} {m['mean']:8.1f}")
    save_mask(mask, outdir / f"{name}.nrrd", like=ct)

thick = roi.axis_thickness_mm(vois["ring3mm"], tumour, ct.spacing)
print("ring3mm   thickness through the centroid: "
      + ", ".join(f"{axis} {mm:.1f} mm ({vox:g} voxels)" for axis, (mm, vox) in thick.items()))
print(f"wrote     {len(vois)} masks to {outdir}")
