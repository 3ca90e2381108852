"""Fused-image feature extraction against the CT and PET ones (issue 19 item 1's benchmark).

On lung1 (CT 512 x 512 x 48, 0.57 x 0.57 x 5 mm, tumour of 837 voxels) with a
synthetic PET in SUV on the CT grid (1 + 9 x the Gaussian-smoothed tumour, plus
uniform noise), the four VOIs (tumour, ring 6 mm, core 3 mm, tumour + ring) are
built once, then features of the four VOIs are extracted in one
:func:`radgui.features.extract` call per image:

* CT with ``ct-original``, PET with ``pet-suv``;
* fused (weighted and wavelet) with ``petct-fused``, timed as fusion plus
  extraction, once fusing the whole CT grid and once only the VOIs' box
  (:func:`radgui.io.petct.fuse_region`, what ``extract_petct`` does; the
  table says whether the features are the same).

The median of ``--repeats`` runs of each is printed with its ratio to the CT
run, and the one-call :func:`radgui.features.petct.extract_petct` (VOIs,
fusion, three extractions) for comparison.

Run: ``.venv/bin/python benchmarks/bench_fusion.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def load_case():
    import SimpleITK as sitk
    from scipy import ndimage as ndi

    sys.path.insert(0, str(REPO / "tests"))
    from conftest import lung1_paths

    from radgui.io import load_mask, load_volume, volume_from_array

    img, lab = lung1_paths()
    ct = load_volume(img)
    mask = sitk.GetArrayFromImage(load_mask(lab, ct)) > 0
    rng = np.random.default_rng(0)
    suv = 1.0 + 9.0 * ndi.gaussian_filter(mask.astype(np.float32), 2.0) + rng.uniform(0, 0.5, mask.shape)
    pet = volume_from_array(suv.astype(np.float32), ct.spacing, ct.origin, modality="PT", name="synthetic PET")
    return ct, pet, mask


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    from radgui.features import extract
    from radgui.features.petct import build_vois, extract_petct
    from radgui.io.petct import fuse, fuse_region

    ct, pet, tumour = load_case()
    vois = build_vois(tumour, ct.spacing, 6.0, 3.0)
    extract(ct, {"tumour": tumour}, "ct-original")  # warm-up: PyRadiomics import, C extensions
    rows = []
    t, df = timed(lambda: extract(ct, vois, "ct-original"), args.repeats)
    rows.append(("CT", "ct-original", 0.0, t, df.shape[1]))
    t, df = timed(lambda: extract(pet, vois, "pet-suv"), args.repeats)
    rows.append(("PET", "pet-suv", 0.0, t, df.shape[1]))
    union = np.logical_or.reduce(list(vois.values()))
    nz = np.nonzero(union)
    lo, hi = [int(i.min()) for i in nz], [int(i.max()) + 1 for i in nz]
    for method in ("weighted", "wavelet"):
        tf, fused = timed(lambda: fuse(ct, pet, method), args.repeats)
        t, df = timed(lambda: extract(fused, vois, "petct-fused"), args.repeats)
        rows.append((f"fused ({method}), whole image", "petct-fused", tf, t, df.shape[1]))
        tf, part = timed(lambda: fuse_region(ct, pet, lo, hi, method=method), args.repeats)
        box = tuple(slice(a, b) for a, b in zip(*part.meta["fusion"]["region_index_zyx"]))
        sub = {k: v[box] for k, v in vois.items()}
        t, df2 = timed(lambda: extract(part, sub, "petct-fused"), args.repeats)
        same = bool(np.array_equal(df.to_numpy(), df2.to_numpy()))
        rows.append((f"fused ({method}), VOI box {part.shape} (same values: {same})", "petct-fused", tf, t,
                     df2.shape[1]))
    t_all, table = timed(lambda: extract_petct(ct, pet, tumour, fusion="weighted"), args.repeats)

    base = rows[0][2] + rows[0][3]
    print(f"lung1 CT {ct.shape} (z,y,x) {tuple(round(s, 3) for s in ct.spacing)} mm; VOI voxels "
          + ", ".join(f"{k} {int(v.sum())}" for k, v in vois.items()))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; median of {args.repeats} runs")
    print()
    print("| image | preset | fusion (s) | features, 4 VOIs (s) | total (s) | features per VOI | ratio to CT |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, preset, tf, te, nfeat in rows:
        total = tf + te
        print(f"| {name} | {preset} | {tf:.3f} | {te:.3f} | {total:.3f} | {nfeat} | {total / base:.2f} |")
    print(f"| extract_petct (VOIs + weighted fusion + CT, PET, fused) | all three | | | {t_all:.3f} | "
          f"{table.shape[1]} columns | {t_all / base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
