"""ROI tool latency: grow preview and the 3/6/9 mm ring set, against one pass over the volume.

Cases

* ``lung1``: the shared lung CT (512x512x48, 0.57x0.57x5 mm) and its tumour
  (skipped when the shared data are absent);
* ``synthetic``: a 512x512x400 int16 CT at 0.7x0.7x1.0 mm (body, lungs,
  noise) with a 5 cm spherical tumour and vessels.

Rows

* ``grow preview``: :func:`radgui.roi.grow_region` from one seed at the
  tumour centre (solid preset, 30 mm radius, 1.5 mm opening, fill holes):
  what the dock recomputes for each change of a control. Target < 100 ms.
* ``rings 3/6/9``: :func:`radgui.roi.rings` (annular, cropped to the tumour
  box + 9 mm before the distance transform). Target < 200 ms.
* ``ring set + core + unions``: :func:`radgui.roi.derived_vois` with a 2 mm
  core and the three tumour+ring unions (what the dock's button makes).
* ``rings, uncropped EDT``: a plain distance transform over the whole
  volume (lung1 only), to show what cropping saves.
* ``numpy sum``: one memory-bound pass over the volume, the unit of the
  ``x sum`` column.

Each row is the median of ``REPEATS`` runs after one warm-up.
Run: ``.venv/bin/python benchmarks/bench_roi.py``
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPEATS = 5
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cases"


def timed(fn, repeats=REPEATS) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0


def synthetic_ct(shape=(400, 512, 512), spacing=(1.0, 0.7, 0.7), tumour_radius_mm=25.0):
    """A chest-like CT: body ellipse, two lungs, a solid tumour and a few vessels."""
    rng = np.random.default_rng(0)
    nz, ny, nx = shape
    sp = np.asarray(spacing)
    yy, xx = np.mgrid[0:ny, 0:nx]
    body2d = ((yy - ny / 2) / (0.42 * ny)) ** 2 + ((xx - nx / 2) / (0.47 * nx)) ** 2 <= 1
    lung_r = ((yy - ny / 2) / (0.3 * ny)) ** 2 + ((xx - 0.32 * nx) / (0.14 * nx)) ** 2 <= 1
    lung_l = ((yy - ny / 2) / (0.3 * ny)) ** 2 + ((xx - 0.68 * nx) / (0.14 * nx)) ** 2 <= 1
    slab = np.full((ny, nx), -1000, np.int16)
    slab[body2d] = 30
    slab[lung_r | lung_l] = -850
    ct = np.broadcast_to(slab, shape).copy()
    ct += rng.integers(-20, 21, size=shape, dtype=np.int16)
    # tumour in the right lung
    centre = np.array([nz // 2, ny // 2, int(0.32 * nx)])
    r = np.ceil(tumour_radius_mm / sp).astype(int) + 2
    box = tuple(slice(c - k, c + k + 1) for c, k in zip(centre, r))
    g = np.ogrid[tuple(slice(-k, k + 1) for k in r)]
    dist = np.sqrt(sum((gi * s) ** 2 for gi, s in zip(g, sp)))
    tumour_local = dist <= tumour_radius_mm
    ct[box][tumour_local] = 40 + rng.integers(-20, 21, size=int(tumour_local.sum()), dtype=np.int16)
    # vessels: thin tubes along z through the lung near the tumour
    for dy, dx in ((0, 40), (30, -45), (-35, 10)):
        y0, x0 = centre[1] + dy, centre[2] + dx
        ct[:, y0 - 1:y0 + 2, x0 - 1:x0 + 2] = 40
    mask = np.zeros(shape, bool)
    mask[box] = tumour_local
    return ct, mask, tuple(int(c) for c in centre), tuple(float(s) for s in sp)


def lung1_case():
    from radgui.io import load_mask, load_volume, mask_to_array

    image, label = SHARED / "lung1_image.nrrd", SHARED / "lung1_label.nrrd"
    if not image.exists():
        return None
    vol = load_volume(image)
    mask = mask_to_array(load_mask(label, vol)) > 0
    centre = tuple(int(v) for v in np.round(np.argwhere(mask).mean(0)))
    return np.asarray(vol.array), mask, centre, vol.spacing


def bench_case(name, ct, mask, seed, spacing, uncropped=False):
    from scipy import ndimage as ndi

    from radgui.roi import derived_vois, grow_region, rings

    rows = []
    ref = timed(lambda: ct.sum())
    res = grow_region(ct, spacing, seed, preset="solid", max_radius_mm=30, opening_mm=1.5)
    rows.append(("grow preview", timed(lambda: grow_region(ct, spacing, seed, preset="solid",
                                                            max_radius_mm=30, opening_mm=1.5)),
                 f"{res.voxel_count} vox, crop {res.mask.shape}"))
    rows.append(("rings 3/6/9", timed(lambda: rings(mask, spacing, (3, 6, 9))), "annular"))
    rows.append(("ring set + core + unions",
                 timed(lambda: derived_vois(mask, spacing, (3, 6, 9), core_depth_mm=2, unions=True)),
                 "7 VOIs"))
    if uncropped:
        rows.append(("rings, uncropped EDT",
                     timed(lambda: ndi.distance_transform_edt(~mask, sampling=spacing) <= 9, repeats=2),
                     "whole volume"))
    rows.append(("numpy sum", ref, "reference"))
    diam = 2 * (3 * mask.sum() * np.prod(spacing) / (4 * np.pi)) ** (1 / 3)
    print(f"\n{name}: {ct.shape[::-1]} (x,y,z) {ct.dtype}, spacing {tuple(round(s, 3) for s in spacing)} mm "
          f"(z,y,x), tumour {mask.sum()} voxels (equivalent diameter {diam:.0f} mm)")
    print(f"{'operation':<28}{'ms':>10}{'x sum':>10}  note")
    for label, ms, note in rows:
        print(f"{label:<28}{ms:>10.1f}{ms / ref:>10.1f}  {note}")
    return rows


def main() -> int:
    lung = lung1_case()
    if lung is None:
        print(f"lung1 not found under {SHARED}; skipping it", file=sys.stderr)
    else:
        bench_case("lung1", *lung, uncropped=True)
    t0 = time.perf_counter()
    ct, mask, seed, spacing = synthetic_ct()
    print(f"\n(synthetic CT generated in {time.perf_counter() - t0:.1f} s)")
    bench_case("synthetic 5 cm tumour", ct, mask, seed, spacing)
    print("\nTargets: grow preview < 100 ms, rings 3/6/9 < 200 ms.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
