"""DICOM series discovery and assembly: geometry against truth, and the bad-input contract.

Every series is synthetic (tests/dicom_factory.py); the expected values come
from the phantom's formula at each voxel's physical position, and clean
series are also compared with SimpleITK's own series reader.
"""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from radgui.errors import (
    DicomError,
    MemoryBudgetError,
    RadguiError,
    SeriesChoiceError,
    SliceSpacingError,
)
from radgui.io import dicom, load_volume
from radgui.io.volume import canonicalize
from dicom_factory import phantom_value, write_ct_series, write_enhanced_ct, write_junk


def _physical_points(volume) -> np.ndarray:
    """Physical LPS (x, y, z) of every voxel of a canonical Volume, shape (z, y, x, 3)."""
    z, y, x = np.meshgrid(*[np.arange(n) for n in volume.shape], indexing="ij")
    oz, oy, ox = volume.origin
    sz, sy, sx = volume.spacing
    return np.stack([ox + x * sx, oy + y * sy, oz + z * sz], axis=-1)


def _assert_phantom(volume, atol=0.51):
    expected = phantom_value(_physical_points(volume))
    np.testing.assert_allclose(np.asarray(volume.array, float), expected, atol=atol)


def _sitk_reference(folder):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image, _ = canonicalize(reader.Execute())
    return image


# --------------------------------------------------------------------------
# Clean series: geometry and values
# --------------------------------------------------------------------------
@pytest.mark.parametrize("rows,cols", [(48, 64), (40, 40)])
def test_axial_matches_phantom_and_simpleitk(tmp_path, rows, cols):
    truth = write_ct_series(tmp_path, rows=rows, cols=cols, pixel_spacing=(0.8, 0.7))
    vol = load_volume(tmp_path)
    assert vol.modality == "CT" and vol.shape == (10, rows, cols)
    assert vol.spacing == pytest.approx((2.5, 0.8, 0.7))
    assert vol.origin == pytest.approx((10.0, -30.0, -20.0))
    _assert_phantom(vol)
    ref = _sitk_reference(tmp_path)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(ref), vol.array)
    assert ref.GetOrigin() == pytest.approx(vol.image.GetOrigin())
    assert ref.GetSpacing() == pytest.approx(vol.image.GetSpacing())
    assert vol.meta["dicom"]["series_uid"] == truth["series_uid"]
    assert vol.meta["units"] == "HU" and vol.array.dtype == np.int16
    assert vol.warnings == []


@pytest.mark.parametrize("iop", [(0, 1, 0, 0, 0, -1), (1, 0, 0, 0, 0, -1), (-1, 0, 0, 0, -1, 0)])
def test_sagittal_coronal_and_flipped_orientations(tmp_path, iop):
    write_ct_series(tmp_path, rows=30, cols=36, iop=iop, n_slices=8, origin=(5.0, -7.0, 12.0))
    vol = load_volume(tmp_path)
    _assert_phantom(vol)
    assert vol.meta["reorientation"]["changed"] == (tuple(iop) != (1, 0, 0, 0, 1, 0))


def test_instance_order_differs_from_position_order(tmp_path):
    write_ct_series(tmp_path, instance_numbers=[5, 3, 9, 1, 2, 10, 4, 8, 7, 6])
    vol = load_volume(tmp_path)
    _assert_phantom(vol)
    assert any("sorted by position" in line for line in vol.meta["log"])


def test_per_slice_rescale_slope_applied_in_float32(tmp_path):
    slopes = [0.5, 1.0, 0.25, 2.0, 0.75, 1.5, 0.5, 1.25, 3.0, 0.1]
    truth = write_ct_series(tmp_path, slopes=slopes, intercept=-1000.0)
    vol = load_volume(tmp_path)
    assert vol.array.dtype == np.float32
    np.testing.assert_allclose(vol.array, truth["values"].astype(np.float32), rtol=1e-6, atol=1e-3)
    assert any("per slice" in line for line in vol.meta["log"])


def test_enhanced_multiframe_uses_per_frame_geometry(tmp_path):
    truth = write_enhanced_ct(tmp_path / "mf" / "enhanced.dcm", slopes=[1, 2, 1, 0.5, 1, 1])
    vol = load_volume(tmp_path / "mf")
    assert vol.shape == (6, 24, 32)
    assert vol.spacing == pytest.approx((3.0, 0.9, 0.6))
    np.testing.assert_allclose(vol.array, truth["values"], atol=1e-3)
    _assert_phantom(vol, atol=1.01)  # slope 2 quantises by up to 1 HU


def test_single_file_loads_its_series(tmp_path):
    truth = write_ct_series(tmp_path)
    vol = load_volume(truth["paths"][3])
    assert vol.shape[0] == 10


# --------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------
def test_several_series_are_listed_never_merged(tmp_path):
    a = write_ct_series(tmp_path / "a", description="arterial", name="a")
    b = write_ct_series(tmp_path / "b", description="venous", name="b", n_slices=7, study_uid=a["study_uid"])
    with pytest.raises(SeriesChoiceError) as err:
        load_volume(tmp_path)
    assert len(err.value.series) == 2 and "arterial" in str(err.value) and "venous" in str(err.value)
    vol = load_volume(tmp_path, series_uid=b["series_uid"])
    assert vol.shape[0] == 7 and vol.name == "venous"
    listed = dicom.list_series(tmp_path)
    assert {s.description for s in listed} == {"arterial", "venous"}
    assert all(s.problem is None for s in listed)


def test_missing_slice_refused_then_resampled_on_request(tmp_path):
    pos = [np.array([-20.0, -30.0, 10.0 + 2.5 * k]) for k in range(10) if k != 4]
    write_ct_series(tmp_path, positions=pos)
    with pytest.raises(SliceSpacingError, match="1 missing slice"):
        load_volume(tmp_path)
    vol = load_volume(tmp_path, resample_spacing=True)
    assert vol.shape[0] == 10 and vol.spacing[0] == pytest.approx(2.5)
    assert any("resampled on request" in w for w in vol.warnings)
    _assert_phantom(vol, atol=0.6)  # linear phantom: linear interpolation is exact


def test_gap_off_nominal_by_more_than_02mm_refused(tmp_path):
    pos = [np.array([0.0, 0.0, 2.5 * k + (0.3 if k >= 5 else 0.0)]) for k in range(10)]
    write_ct_series(tmp_path, positions=pos)
    with pytest.raises(SliceSpacingError, match="variable slice spacing"):
        load_volume(tmp_path)


def test_gap_within_02mm_accepted(tmp_path):
    pos = [np.array([0.0, 0.0, 2.5 * k + (0.1 if k == 5 else 0.0)]) for k in range(10)]
    write_ct_series(tmp_path, positions=pos)
    assert load_volume(tmp_path).shape[0] == 10


def test_variable_spacing_refused_never_averaged_then_resampled(tmp_path):
    z = np.concatenate([np.arange(5) * 1.25, 7.5 + np.arange(5) * 2.5])
    pos = [np.array([0.0, 0.0, v]) for v in z]
    write_ct_series(tmp_path, positions=pos)
    with pytest.raises(SliceSpacingError, match="variable slice spacing from 1.25 to 2.50"):
        load_volume(tmp_path)
    vol = load_volume(tmp_path, resample_spacing=True)
    assert vol.spacing[0] == pytest.approx(1.25)
    _assert_phantom(vol, atol=0.6)
    assert any("even spacing" in w for w in vol.warnings)


@pytest.mark.parametrize("kind", ["tilted_orientation", "sheared_positions"])
def test_gantry_tilt_resampled_with_warning_or_refused(tmp_path, kind):
    t = np.radians(12.0)
    if kind == "tilted_orientation":  # IOP tilted, positions straight along z (typical tilted gantry)
        iop = (1, 0, 0, 0, np.cos(t), -np.sin(t))
        pos = [np.array([-20.0, -15.0, 2.5 * k]) for k in range(10)]
    else:  # axial IOP, positions sheared along y
        iop = (1, 0, 0, 0, 1, 0)
        pos = [np.array([-20.0, -15.0 + 2.5 * k * np.tan(t), 2.5 * k]) for k in range(10)]
    write_ct_series(tmp_path, iop=iop, positions=pos, rows=40, cols=44)
    with pytest.raises(DicomError, match="12.00 degrees"):
        load_volume(tmp_path, tilt="refuse")
    vol = load_volume(tmp_path)
    assert any("12.00 degrees: resampled onto an axis-aligned grid" in w for w in vol.warnings)
    # voxels well inside the data keep the phantom's value at their physical position
    arr = np.asarray(vol.array, float)
    expected = phantom_value(_physical_points(vol))
    from scipy.ndimage import binary_erosion

    inside = binary_erosion(arr > arr.min() + 1, iterations=2)
    assert inside.sum() > 2000
    np.testing.assert_allclose(arr[inside], expected[inside], atol=0.6)


def test_tilt_below_01_degree_not_flagged(tmp_path):
    t = np.radians(0.05)
    pos = [np.array([0.0, 2.5 * k * np.tan(t), 2.5 * k]) for k in range(10)]
    write_ct_series(tmp_path, positions=pos)
    vol = load_volume(tmp_path)
    assert not any("tilt" in w for w in vol.warnings)


def test_mixed_orientations_split(tmp_path):
    uid = pydicom.uid.generate_uid()
    write_ct_series(tmp_path, series_uid=uid, name="ax")
    write_ct_series(tmp_path, series_uid=uid, name="sag", iop=(0, 1, 0, 0, 0, -1), n_slices=6)
    series = dicom.list_series(tmp_path)
    assert sorted(s.n_slices for s in series) == [6, 10]
    assert all("split by orientation" in " ".join(s.warnings) for s in series)
    sag = next(s for s in series if s.n_slices == 6)
    _assert_phantom(load_volume(tmp_path, series_uid=sag.uid))
    with pytest.raises(SeriesChoiceError, match="split into 2"):
        load_volume(tmp_path, series_uid=uid)


def test_rows_columns_differ_split(tmp_path):
    uid = pydicom.uid.generate_uid()
    write_ct_series(tmp_path, series_uid=uid, name="big", rows=48, cols=64)
    write_ct_series(tmp_path, series_uid=uid, name="small", rows=32, cols=32, origin=(0, 0, 100))
    series = dicom.list_series(tmp_path)
    assert sorted((s.rows, s.cols) for s in series) == [(32, 32), (48, 64)]
    assert all("image size" in " ".join(s.warnings) for s in series)


def test_localizer_excluded(tmp_path):
    write_ct_series(tmp_path)
    write_ct_series(tmp_path / "scout", n_slices=1, name="loc", image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
                    iop=(1, 0, 0, 0, 0, -1))
    scan = dicom.scan_dicom(tmp_path)
    assert len(scan.series) == 1 and scan.skipped["localizer/scout"] == 1
    assert load_volume(tmp_path).shape[0] == 10


def test_duplicate_sop_instance_dropped_and_logged(tmp_path):
    truth = write_ct_series(tmp_path)
    shutil.copy(truth["paths"][2], tmp_path / "copy_of_slice.dcm")
    vol = load_volume(tmp_path)
    assert vol.shape[0] == 10
    assert any("duplicate" in w for w in vol.warnings)
    assert vol.meta["scan_skipped"]["duplicate SOPInstanceUID"] == 1


def test_two_images_at_one_position_split_by_acquisition(tmp_path):
    uid = pydicom.uid.generate_uid()
    for acq in (1, 2):
        write_ct_series(tmp_path, series_uid=uid, name=f"acq{acq}", n_slices=6,
                        extra=lambda ds, k, acq=acq: setattr(ds, "AcquisitionNumber", acq))
    series = dicom.list_series(tmp_path)
    assert len(series) == 2 and all(s.n_slices == 6 for s in series)
    assert all("acquisition" in " ".join(s.warnings) for s in series)


def test_two_images_at_one_position_inseparable_refused(tmp_path):
    uid = pydicom.uid.generate_uid()
    write_ct_series(tmp_path, series_uid=uid, name="a", n_slices=6)
    write_ct_series(tmp_path, series_uid=uid, name="b", n_slices=6)
    with pytest.raises(DicomError, match="two images at the same position"):
        load_volume(tmp_path)


@pytest.mark.parametrize("tag", ["ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"])
def test_missing_geometry_refused_naming_the_file(tmp_path, tag):
    truth = write_ct_series(tmp_path, extra=lambda ds, k: delattr(ds, tag) if k == 3 else None)
    with pytest.raises(DicomError, match=tag) as err:
        load_volume(tmp_path)
    assert truth["paths"][3].name in str(err.value)


def test_truncated_pixel_data_refused_naming_the_file(tmp_path):
    truth = write_ct_series(tmp_path)
    victim = truth["paths"][4]
    victim.write_bytes(victim.read_bytes()[:-1000])
    with pytest.raises(DicomError, match="truncated|cannot decode") as err:
        load_volume(tmp_path)
    assert victim.name in str(err.value)


def test_junk_and_dicomdir_skipped_and_counted(tmp_path):
    write_ct_series(tmp_path / "series")
    write_junk(tmp_path / "junk")
    (tmp_path / "DICOMDIR").write_bytes(b"whatever")
    scan = dicom.scan_dicom(tmp_path)
    assert len(scan.series) == 1
    assert scan.skipped["not DICOM"] == 2 and scan.skipped["empty file"] == 1 and scan.skipped["DICOMDIR"] == 1
    assert load_volume(tmp_path).shape[0] == 10


def test_dicomdir_is_read(tmp_path):
    from pydicom.fileset import FileSet

    truth = write_ct_series(tmp_path / "src")
    fs = FileSet()
    for p in truth["paths"]:
        fs.add(pydicom.dcmread(p))
    fs.write(tmp_path / "media")
    vol = load_volume(tmp_path / "media" / "DICOMDIR")
    assert vol.shape == (10, 48, 64)
    _assert_phantom(vol)


def test_compressed_without_decoder_refused_with_install_hint(tmp_path, monkeypatch):
    from pydicom.uid import RLELossless

    def compress(ds, k):
        ds.compress(RLELossless)

    write_ct_series(tmp_path, extra=compress)
    _assert_phantom(load_volume(tmp_path))  # the decoder is there: values are right
    monkeypatch.setattr(dicom, "_decoder_available", lambda ts: False)
    with pytest.raises(DicomError, match="no decoder is installed.*pip install pylibjpeg"):
        load_volume(tmp_path)


def test_lossy_compression_flagged(tmp_path):
    write_ct_series(tmp_path, extra=lambda ds, k: setattr(ds, "LossyImageCompression", "01"))
    vol = load_volume(tmp_path)
    assert vol.meta["lossy"] and not vol.meta["quantitative"]
    assert any("unsuitable for radiomics" in w for w in vol.warnings)


def test_derived_secondary_excluded_from_quantification(tmp_path):
    write_ct_series(tmp_path, image_type=("DERIVED", "SECONDARY", "MPR"))
    vol = load_volume(tmp_path)
    assert not vol.meta["quantitative"]
    assert any("excluded from quantification" in w for w in vol.warnings)


def test_frame_of_reference_mismatch_within_series_warned(tmp_path):
    write_ct_series(tmp_path, extra=lambda ds, k: setattr(ds, "FrameOfReferenceUID", "1.2.3.4") if k == 0 else None)
    vol = load_volume(tmp_path)
    assert any("FrameOfReferenceUID" in w for w in vol.warnings)


def test_memory_budget_refused_before_decoding(tmp_path, monkeypatch):
    write_ct_series(tmp_path)

    def boom(*a, **k):  # decoding must not start
        raise AssertionError("decoded despite the budget")

    monkeypatch.setattr(dicom, "_read_frames", boom)
    with pytest.raises(MemoryBudgetError, match="over the memory budget"):
        load_volume(tmp_path, memory_budget_bytes=10_000)
    monkeypatch.setenv("RADGUI_MEMORY_BUDGET_GB", "0.00001")
    with pytest.raises(MemoryBudgetError):
        load_volume(tmp_path)


def test_empty_folder_and_only_junk(tmp_path):
    write_junk(tmp_path)
    with pytest.raises(DicomError, match="no DICOM image series found.*not DICOM"):
        load_volume(tmp_path)


def test_errors_are_radgui_errors(tmp_path):
    with pytest.raises(RadguiError):
        load_volume(tmp_path / "nope")


def test_raw_dataset_without_preamble_is_read(tmp_path):
    from pydicom.filebase import DicomFileLike
    from pydicom.filewriter import write_dataset

    truth = write_ct_series(tmp_path)
    for p in truth["paths"]:  # old-style files: no preamble, no file meta, implicit VR
        ds = pydicom.dcmread(p)
        del ds.file_meta
        with open(p, "wb") as fh:
            out = DicomFileLike(fh)
            out.is_little_endian, out.is_implicit_VR = True, True
            write_dataset(out, ds)
    _assert_phantom(load_volume(tmp_path))
