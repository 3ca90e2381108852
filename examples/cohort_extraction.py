"""Extract features for a cohort listed in a manifest CSV.

Writes four synthetic nodule cases (radius 6, 8, 10 and 12 mm), a manifest
(``patient_id,image,mask``; paths relative to the CSV), then extracts them with
``radgui.features.extract_cohort``. The same run from the shell::

    radgui extract --manifest OUTDIR/manifest.csv -o OUTDIR/features.csv --preset ct-original --workers 2

The output is written case by case: run it again and the cases already in
``features.csv`` are skipped (resumable); a failing case is listed in
``features.failures.csv`` and does not stop the others.

Run::

    .venv/bin/python examples/cohort_extraction.py [OUTDIR]

Writes the cases, ``manifest.csv`` and ``features.csv`` into OUTDIR
(default: a new temporary folder).
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk

from radgui.features import extract_cohort

outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="radgui-example-"))
(outdir / "cases").mkdir(parents=True, exist_ok=True)


def write_case(folder, patient_id, radius_mm, seed):
    """A nodule phantom (CT in HU) and its label map as NRRD; returns the two relative paths."""
    spacing_zyx = np.array([3.0, 0.8, 0.8])
    zz, yy, xx = np.indices((16, 64, 64)) * spacing_zyx[:, None, None, None]
    r = np.sqrt((zz - 24) ** 2 + (yy - 25.6) ** 2 + (xx - 25.6) ** 2)
    hu = np.where(r <= radius_mm, 35.0, -850.0) + np.random.default_rng(seed).normal(0, 15, r.shape)
    paths = []
    for kind, arr in (("image", hu.astype(np.int16)), ("label", (r <= radius_mm).astype(np.uint8))):
        img = sitk.GetImageFromArray(arr)
        img.SetSpacing(tuple(spacing_zyx[::-1]))  # SimpleITK order: (x, y, z)
        sitk.WriteImage(img, str(folder / f"{patient_id}_{kind}.nrrd"), useCompression=True)
        paths.append(f"cases/{patient_id}_{kind}.nrrd")
    return paths


rows = []
for i, radius in enumerate((6, 8, 10, 12)):
    image, mask = write_case(outdir / "cases", f"P{i + 1:02d}", radius, seed=i)
    rows.append({"patient_id": f"P{i + 1:02d}", "image": image, "mask": mask, "center": "synthetic"})
pd.DataFrame(rows).to_csv(outdir / "manifest.csv", index=False)
print(f"manifest  {outdir / 'manifest.csv'} ({len(rows)} cases)")

result = extract_cohort(outdir / "manifest.csv", outdir / "features.csv", "ct-original", workers=1)
print(f"cohort    done {result['done']}, skipped {result['skipped']}, failed {result['failed']}"
      f" in {result['seconds']:.1f} s")

features = pd.read_csv(outdir / "features.csv")
cols = ["patient_id", "roi", "original_shape_MeshVolume", "original_shape_Maximum3DDiameter",
        "original_firstorder_Mean"]
print(features[cols].to_string(index=False, float_format=lambda v: f"{v:.1f}"))

again = extract_cohort(outdir / "manifest.csv", outdir / "features.csv", "ct-original")
print(f"re-run    done {again['done']}, skipped {again['skipped']} (already in features.csv)")
