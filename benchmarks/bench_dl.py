"""Deep-learning features on CPU: training and extraction time per 100 patients (radgui.dl).

A synthetic cohort of 100 patients (``radgui.dl.synthetic``: NRRD images of
28 x 48 x 48 voxels, 1.5 x 1 x 1 mm, a texture that carries a binary outcome)
is written to a temporary folder, then timed:

* ``crop``: load image and mask, centre a cube on the ROI, resample it
  (SimpleITK, linear) and normalise: :func:`radgui.dl.crop_cohort`;
* ``train``: :func:`radgui.dl.train` of ``se-resnet-small`` for a fixed number
  of epochs (early stopping off so every run does the same work; 80/20 split
  inside), on 1 and on 2 torch threads;
* ``extract``: the penultimate layer of 100 crops (:meth:`DLModel.embed`),
  and the whole ``extract_cohort`` (files -> ``dl_*`` table);
* ``pyradiomics``: radgui's PyRadiomics cohort extraction (``ct-original``
  preset) of the same 100 ROIs, for scale: the ratio column is a row's time
  over it.

Two crop sizes: 16^3 voxels of 1.5 mm and 24^3 voxels of 1 mm (24 mm cubes).
Wall times (``time.perf_counter``) of one run each, after a warm-up of torch's
kernels; the machine's load is printed. Run:
``.venv/bin/python benchmarks/bench_dl.py [--epochs 20] [--no-radiomics]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--no-radiomics", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from radgui.dl import TrainConfig, crop_cohort, extract_cohort, train
    from radgui.dl.synthetic import CROP, SMALL_CROP, write_synthetic_cohort

    n = args.patients
    per100 = 100.0 / n
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        manifest, outcomes = write_synthetic_cohort(tmp, n=n, seed=0)
        print(f"wrote {n} synthetic patients in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        import pandas as pd

        y = pd.read_csv(outcomes)["response"].to_numpy()
        radiomics_s = None
        if not args.no_radiomics:
            from radgui.features.cohort import extract_cohort as radiomics_cohort

            t0 = time.perf_counter()
            radiomics_cohort(manifest, Path(tmp) / "radiomics.csv", preset="ct-original")
            radiomics_s = (time.perf_counter() - t0) * per100
        for spec, label in ((SMALL_CROP, "16^3 x 1.5 mm"), (CROP, "24^3 x 1 mm")):
            t0 = time.perf_counter()
            keys, crops = crop_cohort(manifest, spec)
            rows.append((label, "crop (files -> cubes)", 1, (time.perf_counter() - t0) * per100))
            # warm-up: oneDNN builds its kernels on first use of each shape (seconds); not counted
            train(crops[:12], y[:12], crop=spec, config=TrainConfig(max_epochs=1, patience=1, threads=1))
            model = None
            for threads in (1, 2):
                cfg = TrainConfig(max_epochs=args.epochs, patience=args.epochs, threads=threads, seed=0)
                t0 = time.perf_counter()
                res = train(crops, y, crop=spec, config=cfg)
                dt = (time.perf_counter() - t0) * per100
                rows.append((label, f"train {args.epochs} epochs", threads, dt))
                rows.append((label, "train, per epoch", threads, dt / args.epochs))
                model = model or res.model
            model.embed(crops[:16])
            before = torch.get_num_threads()
            for threads in (1, 2):
                torch.set_num_threads(threads)
                t0 = time.perf_counter()
                model.embed(crops)
                rows.append((label, "extract (network only)", threads, (time.perf_counter() - t0) * per100))
            torch.set_num_threads(1)
            t0 = time.perf_counter()
            extract_cohort(model, manifest, Path(tmp) / "dl.csv")
            rows.append((label, "extract_cohort (files -> dl_* CSV)", 1, (time.perf_counter() - t0) * per100))
            torch.set_num_threads(before)
    print(f"\nradgui.dl on CPU, per 100 patients ({n} timed), se-resnet-small (64 features), "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| crop | step | torch threads | seconds / 100 patients | ratio to PyRadiomics ct-original |")
    print("|---|---|---|---|---|")
    for label, step, threads, s in rows:
        ratio = f"{s / radiomics_s:.2f}" if radiomics_s else "n/a"
        print(f"| {label} | {step} | {threads} | {s:.2f} | {ratio} |")
    if radiomics_s:
        print(f"| - | PyRadiomics ct-original cohort extraction (1 process) | - | {radiomics_s:.2f} | 1.00 |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
