"""Benchmark: radgui.features.fastshape.calculate_coefficients vs stock PyRadiomics' C extension.

Run: ``.venv/bin/python benchmarks/bench_shape.py [--repeats N]``

For lung1, brain1, breast1 and the generated large lesion
(:func:`radgui.features.phantoms.large_lesion_case`), the mask is cropped and
padded the way ``RadiomicsShape`` does it; stock ``cShape.calculate_coefficients``
and ours are timed interleaved (median of ``--repeats``, default 7) after one
warm-up each. The table prints both medians, the ratio ours/stock from the same
run, the surface-area and volume relative differences and whether the four
diameters are bit-identical.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

CASES = Path("/work/shared/data/cases")


def _padded_mask(image, mask):
    from radiomics import imageoperations

    bb, _ = imageoperations.checkMask(image, mask, label=1)
    _, cm = imageoperations.cropToTumorMask(image, mask, bb)
    arr = np.pad(sitk.GetArrayFromImage(cm) == 1, 1)
    return arr, np.array(cm.GetSpacing()[::-1], dtype=np.float64)


def _cases():
    for name in ("lung1", "brain1", "breast1"):
        img = sitk.ReadImage(str(CASES / f"{name}_image.nrrd"))
        msk = sitk.ReadImage(str(CASES / f"{name}_label.nrrd"))
        yield name, _padded_mask(img, msk)
    from radgui.features.phantoms import large_lesion_case

    yield "large lesion", _padded_mask(*large_lesion_case())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    from radiomics import cShape

    from radgui.features import fastshape

    rows = []
    for name, (arr, sp) in _cases():
        ref = cShape.calculate_coefficients(arr, sp)
        got = fastshape.calculate_coefficients(arr, sp)
        t_stock, t_fast = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            cShape.calculate_coefficients(arr, sp)
            t1 = time.perf_counter()
            fastshape.calculate_coefficients(arr, sp)
            t2 = time.perf_counter()
            t_stock.append(t1 - t0)
            t_fast.append(t2 - t1)
        s, f = statistics.median(t_stock) * 1e3, statistics.median(t_fast) * 1e3
        rows.append((name, int(arr.sum()), s, f, f / s,
                     abs(got[0] - ref[0]) / ref[0], abs(got[1] - ref[1]) / ref[1],
                     got[2] == ref[2]))
    print(f"{'case':14s} {'voxels':>8s} {'stock ms':>9s} {'fast ms':>8s} {'ratio':>6s} "
          f"{'SA rel':>9s} {'Vol rel':>9s} diam==")
    for r in rows:
        print(f"{r[0]:14s} {r[1]:8d} {r[2]:9.2f} {r[3]:8.2f} {r[4]:6.2f} {r[5]:9.1e} {r[6]:9.1e} {r[7]}")


if __name__ == "__main__":
    main()
