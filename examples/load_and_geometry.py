"""Load a CT and its tumour mask; read the geometry in (z, y, x) millimetres.

radgui reorients every image to LPS with an identity direction on load, so a
voxel's physical position is simply ``origin + spacing * index`` with all three
in (z, y, x) order: the same numbers napari uses as ``translate``/``scale``.

Run::

    .venv/bin/python examples/load_and_geometry.py [OUTDIR]

Uses the demo CT shipped inside radgui (lung1 from the PyRadiomics test data);
writes ``geometry.json`` into OUTDIR (default: a new temporary folder).
"""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

import radgui
from radgui.io import load_mask, load_volume, mask_to_array

outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="radgui-example-"))
outdir.mkdir(parents=True, exist_ok=True)

ct = load_volume(radgui.RESOURCES / "demo" / "lung1_ct.nrrd")
tumour = load_mask(radgui.RESOURCES / "demo" / "lung1_tumour.nrrd", like=ct, label=1)  # SimpleITK, on ct's grid

print(f"image     {ct.name}: modality {ct.modality} ({ct.meta['modality_source']})")
print(f"shape     (z, y, x) = {ct.shape}")
print("spacing   (z, y, x) = (" + ", ".join(f"{s:.3f}" for s in ct.spacing) + ") mm")
print("origin    (z, y, x) = (" + ", ".join(f"{o:.1f}" for o in ct.origin) + ") mm, LPS")
print(f"reoriented on load: {ct.meta['reorientation']['changed']}")

# The mask as a numpy (z, y, x) array; its centroid voxel and where that lies in the patient.
arr = mask_to_array(tumour) > 0
centroid_index = np.round(np.argwhere(arr).mean(axis=0)).astype(int)
centroid_mm = ct.index_to_physical(centroid_index)
print(f"tumour    {int(arr.sum())} voxels, {arr.sum() * np.prod(ct.spacing) / 1000:.2f} mL")
print(f"centroid  voxel (z, y, x) = {tuple(int(i) for i in centroid_index)}"
      f" -> LPS (z, y, x) = ({centroid_mm[0]:.1f}, {centroid_mm[1]:.1f}, {centroid_mm[2]:.1f}) mm")
print(f"HU there  {int(ct.array[tuple(centroid_index)])}")

# Same point the SimpleITK way (x, y, z order), to show the two conventions agree.
xyz = ct.image.TransformIndexToPhysicalPoint([int(i) for i in centroid_index[::-1]])
assert np.allclose(xyz[::-1], centroid_mm)
# And back: physical position -> continuous voxel index.
assert np.allclose(ct.physical_to_index(centroid_mm), centroid_index)

kw = ct.napari_kwargs()  # what radgui's viewer passes to napari's add_image
print("napari    scale = (" + ", ".join(f"{v:.3f}" for v in kw["scale"]) + "), translate = ("
      + ", ".join(f"{v:.1f}" for v in kw["translate"]) + ")")

summary = {"shape_zyx": ct.shape, "spacing_mm_zyx": ct.spacing, "origin_mm_zyx": ct.origin,
           "tumour_centroid_index_zyx": centroid_index.tolist(), "tumour_centroid_mm_zyx": centroid_mm.tolist()}
(outdir / "geometry.json").write_text(json.dumps(summary, indent=2))
print(f"wrote     {outdir / 'geometry.json'}")
