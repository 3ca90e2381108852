"""Load time of a DICOM CT series: radgui's checked loader vs plain SimpleITK.

Writes a 300-slice 512x512 CT series (int16, Explicit VR Little Endian) to a
temporary folder, then times

* ``SimpleITK.ImageSeriesReader`` (GDCM file-name sorting + read), the
  reference that trusts the files, and
* ``radgui.io.load_volume`` (pydicom headers, grouping, geometry and spacing
  checks, per-slice rescale, canonical orientation).

Each is run ``REPEATS`` times after one warm-up (files in the OS cache); the
best time is reported. Target: radgui <= 1.5x SimpleITK.

Run: ``.venv/bin/python benchmarks/bench_dicom.py [--slices N] [--size N]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPEATS = 3


def write_series(folder: Path, n_slices: int, size: int) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    rng = np.random.default_rng(0)
    base = (rng.normal(0, 30, (size, size)) + 1024).astype(np.int16)
    for k in range(n_slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.Modality = "CT"
        ds.PatientName, ds.PatientID = "Bench^Mark", "BENCH"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.SeriesDescription = "benchmark CT"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [-250.0, -250.0, -300.0 + 1.25 * k]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [0.9765625, 0.9765625]
        ds.SliceThickness = 1.25
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = "-1024", "1"
        ds.PixelData = (base + k).tobytes()
        ds.save_as(folder / f"IM{k:05d}.dcm", enforce_file_format=True)


def time_sitk(folder: Path):
    import SimpleITK as sitk

    t0 = time.perf_counter()
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    return time.perf_counter() - t0, image


def time_radgui(folder: Path):
    from radgui.io import load_volume

    t0 = time.perf_counter()
    vol = load_volume(folder)
    return time.perf_counter() - t0, vol


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args(argv)
    import SimpleITK as sitk

    with tempfile.TemporaryDirectory(prefix="radgui-bench-dicom-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        write_series(folder, args.slices, args.size)
        print(f"wrote {args.slices} slices of {args.size}x{args.size} in {time.perf_counter() - t0:.1f} s")
        time_sitk(folder)  # warm-up: files into the OS cache
        time_radgui(folder)
        ref = min(time_sitk(folder)[0] for _ in range(REPEATS))
        ours_runs = [time_radgui(folder) for _ in range(REPEATS)]
        ours = min(t for t, _ in ours_runs)
        vol = ours_runs[-1][1]
        _, image = time_sitk(folder)
        same = np.array_equal(sitk.GetArrayViewFromImage(image), vol.array)
    ratio = ours / ref
    print()
    print(f"{'loader':<36}{'time (s)':>10}{'ratio':>8}")
    print(f"{'SimpleITK ImageSeriesReader':<36}{ref:>10.3f}{1.0:>8.2f}")
    print(f"{'radgui.io.load_volume (checked)':<36}{ours:>10.3f}{ratio:>8.2f}")
    print()
    print(f"same voxel values as SimpleITK: {same}; target ratio <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
