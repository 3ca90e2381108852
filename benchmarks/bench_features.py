"""Benchmark: radgui's feature extraction vs stock PyRadiomics, per core and on 2 workers; cohort throughput.

Run: ``.venv/bin/python benchmarks/bench_features.py [--quick] [--repeats N] [--cases ...] [--presets ...]``

For every shipped preset on the lung1, brain1 and breast1 sample cases and
a generated large-lesion CT (:func:`radgui.features.phantoms.large_lesion_case`:
512 x 512 x 61 voxels, 0.63 x 0.63 x 5 mm, a lobulated lesion of about
20,000 voxels), one fresh subprocess per (case, preset) loads the image,
warms both paths up (imports, first-use costs) and then times, interleaved
and ``--repeats`` times (default 3): stock ``RadiomicsFeatureExtractor.execute``
on the whole image, radgui with ``workers=1`` (the per-core figure) and radgui
with ``workers=2``. The table prints the medians, the ratio of each radgui
median to the stock median of the same run, and the max relative difference
between radgui and stock over every feature (from the last repeat of each
worker count; the worse of the two). The ``ceiling`` column divides the
stock time by the time radgui spends inside PyRadiomics' own feature classes
(one profiled run: their C matrix builders and numpy formulas, which radgui
runs unchanged): no change outside them can beat it.

``ct-log-native`` is an extra row (ct-log without resampling) showing LoG on
the whole volume, where stock filters every voxel; ``ct-wavelet+rings``
extracts tumour, a peritumoral ring and a core (stock: three calls; radgui:
one filtering pass); it is left out on the large case (stock alone takes
minutes there). The PET preset bins at 0.25 SUV, so it runs on each image
rescaled linearly to 0-12 (SUV-like); on raw HU it would build GLCMs with
thousands of grey levels.

Cohort throughput: 20 synthetic cases (48 x 96 x 96 CT-like phantoms with a
spherical lesion, preset ct-wavelet) through ``extract_cohort`` with 1 and 2
worker processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = Path(os.environ.get("RADGUI_SHARED", REPO.parent / "shared")) / "data" / "cases"
PRESETS = ["ct-original", "ct-wavelet", "ct-log", "ct-log-native", "ct-iso1mm", "pet-suv", "ct-wavelet+rings"]


def _preset(name: str):
    from radgui.features import load_preset

    if name == "ct-log-native":
        params = load_preset("ct-log").extractor_params()
        for key in ("resampledPixelSpacing", "interpolator", "padDistance"):
            params["setting"].pop(key, None)
        return params
    return name


def _load(case: str):
    if case == "large":
        from radgui.features.phantoms import large_lesion_case

        return large_lesion_case()
    from radgui.io import load_mask, load_volume

    vol = load_volume(CASES / f"{case}_image.nrrd")
    return vol.image, load_mask(CASES / f"{case}_label.nrrd", vol)


def child(case: str, preset: str, out: str, repeats: str) -> None:
    """One (case, preset) in this fresh process: interleaved, repeated timings and the features, as JSON."""
    import statistics

    import SimpleITK as sitk

    from radgui.features.extract import extract, stock_extract

    image, mask = _load(case)
    if preset == "pet-suv":
        peak = float(sitk.GetArrayViewFromImage(image).max())
        lo = float(sitk.GetArrayViewFromImage(image).min())
        image = sitk.Cast((sitk.Cast(image, sitk.sitkFloat32) - lo) * (12.0 / (peak - lo)), sitk.sitkFloat32)
    params = _preset(preset.replace("+rings", ""))
    rois = {"tumour": mask}
    if preset.endswith("+rings"):
        # tumour, a 3-voxel peritumoral ring and a 2-voxel-eroded core: stock runs three times,
        # radgui filters once for the three.
        rois["ring"] = sitk.Cast(sitk.And(sitk.BinaryDilate(mask, (3, 3, 1)), sitk.Not(mask)), sitk.sitkUInt8)
        rois["core"] = sitk.BinaryErode(mask, (2, 2, 0))

    def stock():
        return {f"{roi}:{k}": v for roi, m in rois.items() for k, v in stock_extract(image, m, params).items()}

    def radgui(workers):
        df = extract(image, rois, params, workers=workers)
        return {f"{roi}:{k}": float(v) for roi in df.index for k, v in df.loc[roi].items()}

    # import and first-use costs outside the timing, for both (a small ROI keeps the warm-up short)
    small = sitk.BinaryErode(mask, (1, 1, 0)) if case == "large" else mask
    stock_extract(image, small, params)
    extract(image, {"t": small}, params, workers=1)
    times: dict[str, list[float]] = {"stock": [], "w1": [], "w2": []}
    feats: dict[str, dict] = {}
    for _ in range(int(repeats)):
        for mode, fn in (("stock", stock), ("w1", lambda: radgui(1)), ("w2", lambda: radgui(2))):
            t0 = time.perf_counter()
            feats[mode] = fn()
            times[mode].append(time.perf_counter() - t0)
    Path(out).write_text(json.dumps({"median_s": {k: statistics.median(v) for k, v in times.items()},
                                     "times_s": times, "features": feats, "class_share": class_share(radgui)}))


def class_share(radgui) -> float:
    """Share of a ``workers=1`` run spent in PyRadiomics' feature classes (``execute``: C matrices and formulas).

    radgui runs those unchanged, so ``stock / (share x radgui)`` is the most
    any change outside them could reach (the table's ceiling column). One
    cProfile run, after the timed ones: an estimate (profiling slows Python
    code more than C).
    """
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    radgui(1)
    prof.disable()
    stats = pstats.Stats(prof).stats  # (file, line, function) -> (calls, primitive, tottime, cumtime, callers)
    def cumulative(folder: str, file: str, function: str) -> float:
        return sum(v[3] for (path, _line, name), v in stats.items()
                   if name == function and Path(path).parts[-2:] == (folder, file))

    total = cumulative("features", "extract.py", "extract")
    classes = cumulative("radiomics", "base.py", "execute")
    return classes / total if total else float("nan")


def run_child(case, preset, repeats):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    try:
        subprocess.run([sys.executable, __file__, "--child", case, preset, out, str(repeats)], check=True,
                       stdout=subprocess.DEVNULL)
        return json.loads(Path(out).read_text())
    finally:
        Path(out).unlink(missing_ok=True)


def max_rel(a: dict, b: dict) -> float:
    if list(a) != list(b):
        return float("nan")
    worst = 0.0
    for k, r in b.items():
        g = a[k]
        if g == r or (g != g and r != r):
            continue
        worst = max(worst, abs(g - r) / max(abs(r), 1e-12))
    return worst


def make_cohort(folder: Path, n: int = 20) -> Path:
    import numpy as np
    import pandas as pd
    import SimpleITK as sitk

    rows = []
    shape = (48, 96, 96)
    z, y, x = np.indices(shape)
    for i in range(n):
        rng = np.random.default_rng(i)
        arr = (250 * np.sin(x / (3 + i % 4)) * np.cos(y / 5) + rng.normal(0, 50, shape) - 300).astype(np.int16)
        img = sitk.GetImageFromArray(arr)
        img.SetSpacing((0.7, 0.7, 2.5))
        sitk.WriteImage(img, str(folder / f"case{i:02d}.nrrd"))
        r = 6 + i % 5
        lab = (((x - 48) / r) ** 2 + ((y - 48) / r) ** 2 + ((z - 24) * 2.5 / 0.7 / r) ** 2 <= 1).astype(np.uint8)
        m = sitk.GetImageFromArray(lab)
        m.CopyInformation(img)
        sitk.WriteImage(m, str(folder / f"case{i:02d}_label.nrrd"))
        rows.append({"patient_id": f"S{i:02d}", "image": f"case{i:02d}.nrrd", "mask": f"case{i:02d}_label.nrrd"})
    path = folder / "cohort.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, metavar=("CASE", "PRESET", "OUT", "REPEATS"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="brain1 only, one repeat, no cohort")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per mode (median; default 3)")
    parser.add_argument("--cases", default="lung1,brain1,breast1,large",
                        help="comma-separated: lung1, brain1, breast1 (sample cases), large (generated)")
    parser.add_argument("--presets", default=",".join(PRESETS), help=f"comma-separated, of: {', '.join(PRESETS)}")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    cases = ["brain1"] if args.quick else [c.strip() for c in args.cases.split(",") if c.strip()]
    repeats = 1 if args.quick else max(1, args.repeats)
    if any(c != "large" for c in cases) and not CASES.exists():
        print(f"sample cases not found at {CASES}; set RADGUI_SHARED", file=sys.stderr)
        return 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(median of {repeats}, stock and radgui interleaved in one process per row; "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at start)")
    print(f"{'case':7s} {'preset':16s} {'stock s':>8s} {'radgui s':>8s} {'per core':>8s} "
          f"{'2 wkr s':>8s} {'2 wkr':>7s} {'n feat':>6s} {'max rel diff':>12s} {'ceiling':>8s}")
    for case in cases:
        for preset in [p.strip() for p in args.presets.split(",") if p.strip()]:
            if case == "large" and preset.endswith("+rings"):
                continue
            r = run_child(case, preset, repeats)
            med, f = r["median_s"], r["features"]
            diff = max(max_rel(f["w1"], f["stock"]), max_rel(f["w2"], f["stock"]))
            print(f"{case:7s} {preset:16s} {med['stock']:8.2f} {med['w1']:8.2f} "
                  f"{med['stock'] / med['w1']:7.1f}x {med['w2']:8.2f} {med['stock'] / med['w2']:6.1f}x "
                  f"{len(f['stock']):6d} {diff:12.3g} {med['stock'] / (r['class_share'] * med['w1']):7.1f}x",
                  flush=True)
    print("(radgui s: workers=1, the per-core figure; 2 wkr: workers=2; ratios against stock in the same"
          " run; n feat counts features x ROIs; large = generated large-lesion CT; ceiling: stock s over the"
          " time radgui spends in PyRadiomics' own feature classes (C matrices, formulas), which it runs"
          " unchanged: the most that removing everything else could give)")
    if args.quick:
        return 0
    from radgui.features import extract_cohort

    print()
    print(f"{'cohort (20 synthetic cases, ct-wavelet)':42s} {'wall s':>7s} {'cases/min':>9s} {'vs 1 worker':>11s}")
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        manifest = make_cohort(Path(tmp))
        for workers in (1, 2):
            out = Path(tmp) / f"f{workers}.csv"
            t0 = time.perf_counter()
            summary = extract_cohort(manifest, out, "ct-wavelet", workers=workers)
            wall = time.perf_counter() - t0
            rate = summary["done"] / wall * 60
            base = base or rate
            label = f"{workers} worker(s), {summary['done']} done"
            print(f"{label:42s} "
                  f"{wall:7.1f} {rate:9.1f} {rate / base:10.2f}x", flush=True)
    print(f"(machine: {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
