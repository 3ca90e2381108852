"""Benchmark: radgui's crop-first extraction vs stock PyRadiomics, and cohort throughput.

Run: ``.venv/bin/python benchmarks/bench_features.py [--quick]``

For every shipped preset on the lung1 and brain1 sample cases, each
extraction runs in its own fresh subprocess (so memory is not shared between
runs) which reports

* wall time of the extraction call (image and mask already loaded),
* peak resident memory of the process (VmHWM) and the peak *added* by the
  extraction (VmHWM minus the RSS just before it),
* the features, from which the parent computes the max relative difference
  between radgui and stock over every feature.

``ct-log-native`` is an extra row (ct-log without resampling) showing LoG on
the whole volume, where stock filters every voxel; ``ct-wavelet+rings``
extracts tumour, a peritumoral ring and a core (stock: three calls; radgui:
one filtering pass). Modules are imported and the preset validated before
the timing starts, in both modes. The PET preset bins at
0.25 SUV, so it runs on each image rescaled linearly to 0-12 (SUV-like);
on raw HU it would build GLCMs with thousands of grey levels.

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


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _preset(name: str):
    from radgui.features import load_preset

    if name == "ct-log-native":
        params = load_preset("ct-log").extractor_params()
        for key in ("resampledPixelSpacing", "interpolator", "padDistance"):
            params["setting"].pop(key, None)
        return params
    return name


def child(mode: str, case: str, preset: str, out: str) -> None:
    """One extraction in this (fresh) process; writes timings, memory and features as JSON."""
    import SimpleITK as sitk

    from radgui.features.extract import extract, stock_extract
    from radgui.io import load_mask, load_volume

    vol = load_volume(CASES / f"{case}_image.nrrd")
    mask = load_mask(CASES / f"{case}_label.nrrd", vol)
    image = vol.image
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
    # import and first-use costs outside the timing, for both
    import radiomics.featureextractor  # noqa: F401
    from radgui.features import load_preset

    load_preset(params)

    before = _rss_kb("VmRSS")
    t0 = time.perf_counter()
    if mode == "radgui":
        df = extract(image, rois, params)
        feats = {f"{roi}:{k}": float(v) for roi in df.index for k, v in df.loc[roi].items()}
    else:
        feats = {f"{roi}:{k}": v for roi, m in rois.items() for k, v in stock_extract(image, m, params).items()}
    wall = time.perf_counter() - t0
    peak = _rss_kb("VmHWM")
    Path(out).write_text(json.dumps({"wall_s": wall, "peak_mb": peak / 1024, "added_mb": (peak - before) / 1024,
                                     "features": feats}))


def run_child(mode, case, preset):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    try:
        subprocess.run([sys.executable, __file__, "--child", mode, case, preset, out], check=True,
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
    parser.add_argument("--child", nargs=4, metavar=("MODE", "CASE", "PRESET", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="brain1 only, no cohort")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    if not CASES.exists():
        print(f"sample cases not found at {CASES}; set RADGUI_SHARED", file=sys.stderr)
        return 1
    cases = ["brain1"] if args.quick else ["lung1", "brain1"]
    print(f"{'case':7s} {'preset':16s} {'stock s':>8s} {'radgui s':>8s} {'speed-up':>8s} "
          f"{'stock MB':>9s} {'radgui MB':>9s} {'mem ratio':>9s} {'n feat':>6s} {'max rel diff':>12s}")
    for case in cases:
        for preset in PRESETS:
            s = run_child("stock", case, preset)
            r = run_child("radgui", case, preset)
            diff = max_rel(r["features"], s["features"])
            print(f"{case:7s} {preset:16s} {s['wall_s']:8.2f} {r['wall_s']:8.2f} {s['wall_s'] / r['wall_s']:7.1f}x "
                  f"{s['added_mb']:9.0f} {r['added_mb']:9.0f} {r['added_mb'] / max(s['added_mb'], 1):8.2f}x "
                  f"{len(s['features']):6d} {diff:12.3g}", flush=True)
    print("(MB: peak resident memory added by the extraction call, each run in a fresh process;"
          " n feat counts features x ROIs)")
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
