"""Extract PyRadiomics features of a tumour and its peritumoral rings, with provenance.

Uses the shared lung1 case (``/work/shared/data/cases``, or the folder in the
``RADGUI_CASES`` environment variable) when it is there, else a synthetic
nodule phantom. Feature names are PyRadiomics' own
(``original_firstorder_Mean``); ``flatten`` makes one row per patient with
``<roi>__<feature>`` columns (``ring3mm__original_glcm_Imc1``).

Run::

    .venv/bin/python examples/extract_features.py [OUTDIR]

Writes ``features.csv`` (one row per ROI), ``features_wide.csv`` (one row) and
``provenance.json`` into OUTDIR (default: a new temporary folder).
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radgui import roi
from radgui.features import extract, flatten
from radgui.io import load_mask, load_volume, mask_to_array

outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="radgui-example-"))
outdir.mkdir(parents=True, exist_ok=True)
cases = Path(os.environ.get("RADGUI_CASES", "/work/shared/data/cases"))

if (cases / "lung1_image.nrrd").exists():
    image_path, mask_path = cases / "lung1_image.nrrd", cases / "lung1_label.nrrd"
else:  # a 9 mm nodule with some texture in lung, written as NRRD like any other case
    rng = np.random.default_rng(1)
    zz, yy, xx = np.indices((20, 80, 80)) * np.array([2.5, 0.7, 0.7])[:, None, None, None]
    r = np.sqrt((zz - 25) ** 2 + (yy - 28) ** 2 + (xx - 28) ** 2)
    hu = np.where(r <= 9, 30 + 40 * np.sin(xx / 2) * np.cos(yy / 3), -850) + rng.normal(0, 12, r.shape)
    for name, arr in (("phantom_image", hu.astype(np.int16)), ("phantom_label", (r <= 9).astype(np.uint8))):
        img = sitk.GetImageFromArray(arr)
        img.SetSpacing((0.7, 0.7, 2.5))  # SimpleITK order: (x, y, z)
        sitk.WriteImage(img, str(outdir / f"{name}.nrrd"))
    image_path, mask_path = outdir / "phantom_image.nrrd", outdir / "phantom_label.nrrd"

ct = load_volume(image_path)
tumour = load_mask(mask_path, like=ct, label=1)  # a SimpleITK label image on ct's grid
rois = {"tumour": tumour}
rois.update(roi.rings(mask_to_array(tumour), ct.spacing, distances_mm=(3, 6)))  # boolean (z, y, x) arrays

print(f"case      {image_path.name}: {ct.shape} voxels (z, y, x), spacing {ct.spacing} mm")
df = extract(ct, rois, "ct-original")  # one row per ROI, one column per feature
print(f"features  {df.shape[1]} per ROI for {', '.join(df.index)}")
show = ["original_shape_MeshVolume", "original_shape_Sphericity", "original_firstorder_Mean",
        "original_glcm_Contrast", "original_glszm_ZoneEntropy"]
print(df[show].T.to_string(float_format=lambda v: f"{v:.4g}"))

prov = df.attrs["provenance"]
print(f"preset    {prov['preset']} (sha256 {prov['preset_sha256'][:12]}...), image sha256 {prov['image_sha256'][:12]}...")
print(f"versions  radgui {prov['radgui']}, pyradiomics {prov['pyradiomics']}, SimpleITK {prov['SimpleITK']}")
print(f"warnings  {prov['warnings'] or 'none'}")
df.to_csv(outdir / "features.csv")
flatten(df).to_frame(image_path.stem).T.to_csv(outdir / "features_wide.csv")
(outdir / "provenance.json").write_text(json.dumps(prov, indent=2, default=str))
print(f"wrote     features.csv, features_wide.csv, provenance.json to {outdir}")
