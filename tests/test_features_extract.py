"""extract(): inputs, bad-input errors, provenance, flattening, progress; delta radiomics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radgui.errors import EmptyMaskError, FeatureExtractionError, GeometryMismatchError, PresetError
from radgui.features import delta, extract, flatten, iter_extract
from radgui.io import Volume, image_hash
from radgui.progress import Step

FAST = {"imageType": {"Original": {}}, "featureClass": {"firstorder": None, "shape": None},
        "setting": {"binWidth": 25}}


def image(shape=(10, 24, 24), seed=1, dtype=np.int16):
    rng = np.random.default_rng(seed)
    arr = rng.normal(0, 100, shape).astype(dtype)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.9, 0.9, 2.5))
    return img


def cube(img, lo=(3, 8, 8), hi=(7, 16, 16), value=1):
    arr = np.zeros(tuple(reversed(img.GetSize())), np.uint8)
    arr[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = value
    return arr


def to_sitk(arr, like):
    m = sitk.GetImageFromArray(arr)
    m.CopyInformation(like)
    return m


def test_dataframe_indexed_by_roi_with_pyradiomics_names():
    img = image()
    df = extract(img, {"tumour": cube(img).astype(bool), "small": to_sitk(cube(img, hi=(5, 12, 12)), img)}, FAST)
    assert list(df.index) == ["tumour", "small"] and df.index.name == "roi"
    assert "original_firstorder_Mean" in df.columns and "original_shape_VoxelVolume" in df.columns
    assert not any(c.startswith("diagnostics_") for c in df.columns)
    # analytic truth: the mean of the voxels in the box, and the box volume in mm3
    arr = sitk.GetArrayFromImage(img)
    assert df.at["tumour", "original_firstorder_Mean"] == pytest.approx(arr[3:7, 8:16, 8:16].mean())
    assert df.at["tumour", "original_shape_VoxelVolume"] == pytest.approx(4 * 8 * 8 * 0.9 * 0.9 * 2.5)


def test_provenance_and_diagnostics_kept_apart():
    img = image()
    vol = Volume(img, "CT", {"warnings": ["slice gap at z=3"], "source": "/x/ct.nrrd"})
    m = to_sitk(cube(img), img)
    df = extract(vol, {"t": m}, "ct-original")
    prov = df.attrs["provenance"]
    assert prov["preset"] == "ct-original" and len(prov["preset_sha256"]) == 64
    assert prov["image_sha256"] == image_hash(img)
    assert prov["mask_sha256"]["t"] == image_hash(m)
    assert prov["warnings"] == ["slice gap at z=3"] and prov["modality"] == "CT"
    for key in ("radgui", "pyradiomics", "SimpleITK", "numpy"):
        assert prov[key]
    assert "diagnostics_Versions_PyRadiomics" in df.attrs["diagnostics"]["t"]


def test_label_selection_and_absent_label():
    img = image()
    lab = cube(img, value=2) + cube(img, lo=(1, 1, 1), hi=(3, 4, 4), value=3)
    df = extract(img, {"t": to_sitk(lab, img)}, FAST, label=2)
    assert df.at["t", "original_shape_VoxelVolume"] == pytest.approx(4 * 8 * 8 * 0.9 * 0.9 * 2.5)
    # issue 11: several labels and no choice are refused (one mask rule), never label 1 by default
    with pytest.raises(FeatureExtractionError, match=r"holds 2 labels \(2, 3\); choose .* --label N"):
        extract(img, {"t": to_sitk(lab, img)}, FAST)
    with pytest.raises(FeatureExtractionError, match=r"label 4 is absent.*2, 3"):
        extract(img, {"t": to_sitk(lab, img)}, FAST, label=4)


def test_empty_mask():
    img = image()
    with pytest.raises(EmptyMaskError, match="'ring' is empty"):
        extract(img, {"ring": np.zeros(tuple(reversed(img.GetSize())), bool)}, FAST)


def test_single_voxel_mask():
    img = image()
    with pytest.raises(FeatureExtractionError, match="single voxel"):
        extract(img, {"dot": cube(img, lo=(3, 3, 3), hi=(4, 4, 4))}, FAST)


def test_line_mask_needs_two_dimensions():
    img = image()
    with pytest.raises(FeatureExtractionError, match="1 dimension"):
        extract(img, {"line": cube(img, lo=(3, 3, 3), hi=(4, 4, 9))}, FAST)


def test_geometry_mismatch_names_the_roi_and_mm():
    img = image()
    m = to_sitk(cube(img), img)
    m.SetOrigin((3.0, 0.0, 0.0))
    with pytest.raises(GeometryMismatchError, match=r"'t'.*3\.000 mm"):
        extract(img, {"t": m}, FAST)
    with pytest.raises(GeometryMismatchError, match="shape"):
        extract(img, {"t": np.ones((2, 2, 2), bool)}, FAST)


def test_nan_in_image():
    img = sitk.Cast(image(), sitk.sitkFloat32)
    arr = sitk.GetArrayFromImage(img)
    arr[0, 0, 0] = np.nan
    bad = sitk.GetImageFromArray(arr)
    bad.CopyInformation(img)
    with pytest.raises(FeatureExtractionError, match="1 voxel.*NaN"):
        extract(bad, {"t": cube(img)}, FAST)


def test_preset_with_unknown_key_fails_before_work():
    img = image()
    with pytest.raises(PresetError, match="binwidth"):
        extract(img, {"t": cube(img)}, {"setting": {"binwidth": 25}})


def test_bad_roi_skipped_without_losing_the_others():
    img = image()
    rois = {"good": cube(img), "empty": np.zeros(tuple(reversed(img.GetSize())), np.uint8),
            "dot": cube(img, lo=(3, 3, 3), hi=(4, 4, 4))}
    df = extract(img, rois, FAST, on_error="skip")
    assert list(df.index) == ["good"]
    assert set(df.attrs["errors"]) == {"empty", "dot"}
    assert "empty" in df.attrs["errors"]["empty"]


def test_progress_steps_reach_total():
    img = image()
    gen = iter_extract(img, {"a": cube(img), "b": cube(img, hi=(6, 14, 14))}, FAST)
    steps = []
    while True:
        try:
            steps.append(next(gen))
        except StopIteration as stop:
            df = stop.value
            break
    assert all(isinstance(s, Step) for s in steps) and len(steps) >= 3
    assert steps[-1].done == steps[-1].total and len(df) == 2
    assert all(0 <= s.done <= s.total for s in steps)


def test_flatten_prefixes_roi():
    df = pd.DataFrame({"original_firstorder_Mean": [1.0, 2.0]}, index=pd.Index(["tumour", "ring6mm"], name="roi"))
    row = flatten(df)
    assert row["tumour__original_firstorder_Mean"] == 1.0 and row["ring6mm__original_firstorder_Mean"] == 2.0


# --------------------------------------------------------------------------
# delta radiomics
# --------------------------------------------------------------------------
def test_delta_absolute_and_relative_change():
    base = pd.DataFrame({"f1": [10.0, 0.0], "f2": [-4.0, 2.0]}, index=pd.Index(["tumour", "ring"], name="roi"))
    follow = pd.DataFrame({"f1": [5.0, 1.0], "f2": [-2.0, 2.0]}, index=pd.Index(["tumour", "ring"], name="roi"))
    d = delta(base, follow, interval_days=42)
    assert d.at["tumour", "delta_f1"] == -5.0 and d.at["tumour", "relative_f1"] == -0.5
    assert d.at["tumour", "relative_f2"] == 0.5  # (-2 - -4) / |-4|
    assert np.isnan(d.at["ring", "relative_f1"])  # baseline 0
    assert (d["interval_days"] == 42).all() and d.attrs["interval_days"] == 42.0


def test_delta_on_extracted_features():
    img = image()
    later = sitk.Cast(image(seed=1) + 50, sitk.sitkInt16)
    b = extract(img, {"t": cube(img)}, FAST)
    f = extract(later, {"t": cube(img)}, FAST)
    d = delta(b, f, 30)
    assert d.at["t", "delta_original_firstorder_Mean"] == pytest.approx(50.0)
    assert d.at["t", "delta_original_shape_VoxelVolume"] == 0.0


def test_delta_bad_inputs():
    a = pd.DataFrame({"f": [1.0]}, index=["x"])
    with pytest.raises(FeatureExtractionError, match="no row"):
        delta(a, pd.DataFrame({"f": [1.0]}, index=["y"]))
    with pytest.raises(FeatureExtractionError, match="negative"):
        delta(a, a, -3)


def test_icc_is_reexported_from_stats():
    from radgui import features
    from radgui.stats.icc import icc

    assert features.icc is icc


def test_engine_import_loads_no_qt():
    import subprocess
    import sys

    code = ("import sys, radgui.features, radgui.features.cohort, radgui.features.reproducibility, "
            "radgui.cli.extract, radgui.cli.icc; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('qtpy', 'PySide6', 'napari', 'magicgui')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_delta_table_pairs_time_points_per_patient():
    from radgui.features import delta_table

    table = pd.DataFrame({
        "patient_id": ["A", "A", "B", "B", "C"],
        "roi": ["tumour"] * 5,
        "timepoint": ["baseline", "followup", "baseline", "followup", "baseline"],
        "f": [10.0, 12.0, 4.0, 2.0, 7.0],
    })
    d = delta_table(table, interval_days={"A": 30, "B": 45})
    assert list(d.index.get_level_values("patient_id")) == ["A", "B"]  # C has no follow-up
    assert d["delta_f"].tolist() == [2.0, -2.0] and d["relative_f"].tolist() == [0.2, -0.5]
    assert d["interval_days"].tolist() == [30.0, 45.0]
    with pytest.raises(FeatureExtractionError, match="both time points"):
        delta_table(table, followup="week6")


def test_image_hash_is_sha256_of_geometry_then_voxel_bytes():
    import hashlib

    arr = np.arange(2 * 3 * 5, dtype=np.int16).reshape(2, 3, 5) - 7
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.5, 0.7, 2.0))
    expected = hashlib.sha256()
    expected.update(repr((img.GetSize(), img.GetSpacing(), img.GetOrigin(), img.GetDirection(),
                          img.GetPixelIDTypeAsString())).encode())
    expected.update(arr.tobytes())
    assert image_hash(img) == expected.hexdigest()
    assert image_hash(sitk.GetImageFromArray(arr.astype(np.float32))) != image_hash(img)
