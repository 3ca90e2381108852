"""List the series of a DICOM folder and load a PET series in SUV.

The script first writes a tiny synthetic PET/CT study with pydicom (a CT of 12
slices and a PET of 12 slices in one study), so it runs anywhere; point
``radgui.io.list_series`` / ``load_volume`` at your own folder instead.

The PET is stored the way scanners store it: activity concentration in Bq/mL
(Units BQML, DecayCorrection START), with weight, injected dose, injection time
and half-life in the header. The phantom holds SUV 1 background and an SUV 4
sphere, so radgui's SUVbw must come back as 1 and 4.

Run::

    .venv/bin/python examples/dicom_series_and_suv.py [OUTDIR]

Writes the DICOM files into OUTDIR/dicom (default: a new temporary folder).
"""

import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, PositronEmissionTomographyImageStorage, generate_uid

from radgui.io import list_series, load_volume

WEIGHT_KG, DOSE_BQ, HALF_LIFE_S = 75.0, 370e6, 6586.2  # F-18
SCAN = datetime(2024, 3, 1, 11, 0, 0)
INJECTION = SCAN - timedelta(minutes=60)


def write_series(folder, modality, rows, cols, pixel_mm, slice_mm, n_slices, values_of, extra=None):
    """Write one axial series; ``values_of(x, y, z)`` gives the real-world value at LPS points (mm)."""
    study, frame_of_ref = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"  # shared by CT and PET
    series_uid = generate_uid()
    sop_class = CTImageStorage if modality == "CT" else PositronEmissionTomographyImageStorage
    x = -cols * pixel_mm / 2 + pixel_mm * np.arange(cols)
    y = -rows * pixel_mm / 2 + pixel_mm * np.arange(rows)
    for k in range(n_slices):
        z = -n_slices * slice_mm / 2 + k * slice_mm
        value = values_of(x[None, :], y[:, None], z)  # (rows, cols)
        slope = float(f"{value.max() / 30000:.6g}") if modality == "PT" else 1.0
        intercept = -1024.0 if modality == "CT" else 0.0
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = sop_class
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.Modality, ds.PatientName, ds.PatientID, ds.PatientSex = modality, "Phantom^Example", "EX01", "M"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series_uid, frame_of_ref
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = SCAN.strftime("%Y%m%d")
        ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = SCAN.strftime("%H%M%S")
        ds.SeriesDescription, ds.SeriesNumber, ds.InstanceNumber = f"{modality} phantom", 1 + (modality == "PT"), k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [float(x[0]), float(y[0]), float(z)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = [pixel_mm, pixel_mm], slice_mm
        ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = rows, cols, 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.6g}", f"{intercept:g}"
        if extra:
            extra(ds)
        ds.PixelData = np.round((value - intercept) / slope).astype(np.int16).tobytes()
        ds.save_as(Path(folder) / f"{modality.lower()}_{k:03d}.dcm", enforce_file_format=True)
    return series_uid


def pet_tags(ds):
    """The header fields SUV needs (what a scanner writes)."""
    ds.Units, ds.DecayCorrection, ds.CorrectedImage = "BQML", "START", ["ATTN", "DECY"]
    ds.PatientWeight, ds.PatientSize = f"{WEIGHT_KG:g}", "1.80"
    ds.FrameReferenceTime, ds.ActualFrameDuration = "0", 120000
    drug = Dataset()
    drug.Radiopharmaceutical = "FDG"
    drug.RadionuclideTotalDose = f"{DOSE_BQ:g}"
    drug.RadionuclideHalfLife = f"{HALF_LIFE_S:g}"
    drug.RadiopharmaceuticalStartDateTime = INJECTION.strftime("%Y%m%d%H%M%S")
    ds.RadiopharmaceuticalInformationSequence = Sequence([drug])


def suv_phantom(x, y, z):
    """SUV 4 inside a 12 mm sphere at the centre, SUV 1 elsewhere."""
    return np.where(x**2 + y**2 + z**2 < 12.0**2, 4.0, 1.0)


# SUVbw = C / (D(t) / W): the activity concentration a scanner would store for our SUV phantom.
decay = np.exp(-np.log(2) / HALF_LIFE_S * (SCAN - INJECTION).total_seconds())
bq_per_ml_per_suv = DOSE_BQ * decay / (WEIGHT_KG * 1000.0)

outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="radgui-example-"))
folder = outdir / "dicom"
folder.mkdir(parents=True, exist_ok=True)
write_series(folder, "CT", 64, 64, 1.0, 2.0, 12, lambda x, y, z: np.where(x**2 + y**2 < 28.0**2, 40.0, -1000.0))
write_series(folder, "PT", 16, 16, 4.0, 2.0, 12, lambda x, y, z: suv_phantom(x, y, z) * bq_per_ml_per_suv,
             extra=pet_tags)

# 1. What is in the folder?
series = list_series(folder)
for s in series:
    print(f"series    {s.label()}  loadable={s.problem is None}")

# 2. Load the PET: radgui converts it to SUV (body weight) by default.
pet_info = next(s for s in series if s.modality == "PT")
pet = load_volume(folder, series_uid=pet_info.uid)
print(f"PET       shape (z, y, x) {pet.shape}, spacing {pet.spacing} mm, SUV range "
      f"{pet.array.min():.2f} .. {pet.array.max():.2f}")
suv = pet.meta["suv"]
for key in ("suv_type", "units_stored", "weight_kg", "dose_administered_bq", "dose_at_reference_bq",
            "half_life_s", "injection_datetime", "reference_datetime", "reference_time_source", "factor"):
    print(f"meta[suv] {key:22s} {suv.get(key)}")

# 3. Other normalisations on request, e.g. lean body mass (James); the header gives height and sex.
pet_lbm = load_volume(folder, series_uid=pet_info.uid, suv_type="lbm_james")
print(f"SUL       max {pet_lbm.array.max():.3f} (suv_type {pet_lbm.meta['suv']['suv_type']})")

# 4. The CT of the same study.
ct_info = next(s for s in series if s.modality == "CT")
ct = load_volume(folder, series_uid=ct_info.uid)
print(f"CT        shape (z, y, x) {ct.shape}, HU range {ct.array.min()} .. {ct.array.max()}")
assert abs(pet.array.max() - 4.0) < 0.01 and abs(np.median(pet.array) - 1.0) < 0.01
print(f"SUVmax    {pet.array.max():.3f} (truth 4.000)")
