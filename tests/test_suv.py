"""PET SUV: the 17 OncoRay digital reference objects and synthetic PET series.

Truth: the DROs' published min/median/max (0.20/1.00/4.00 inside the mask,
DRO_list.csv), and for synthetic series the activity written from the textbook
SUV definition in tests/dicom_factory.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radgui.errors import SuvError
from radgui.io import load_volume
from radgui.io.suv import bsa_m2, ibw_kg, lbm_james_kg, lbm_janma_kg, parse_datetime
from radgui.io.volume import load_mask
from dicom_factory import write_pet_series

DROS = ["DRO_0_0", "DRO_1_0", "DRO_2_0", "DRO_2_1", "DRO_2_2", "DRO_2_3", "DRO_2_4", "DRO_2_5", "DRO_3_0",
        "DRO_3_1", "DRO_3_2", "DRO_3_3", "DRO_3_4", "DRO_4_0", "DRO_4_1", "DRO_4_2", "DRO_5_0"]


def _dro_stats(folder):
    vol = load_volume(folder / "PT")
    # The NIfTI mask is on the PET grid (SimpleITK reads NIfTI's RAS affine into LPS).
    mask = load_mask(folder / "mask" / "DRO_mask.nii.gz", vol)
    values = vol.array[sitk.GetArrayViewFromImage(mask) > 0]
    return vol, values.min(), np.median(values), values.max()


@pytest.mark.parametrize("name", DROS)
def test_dro_suv_min_median_max(pet_dro_dir, name):
    vol, lo, med, hi = _dro_stats(pet_dro_dir / name)
    assert vol.modality == "PT" and vol.meta["units"] == "SUV"
    assert vol.meta["suv"]["suv_type"] == "bw"
    got = (round(float(lo), 2), round(float(med), 2), round(float(hi), 2))
    if name == "DRO_2_3":
        # Units CM2ML: the DRO stores SUVbsa with RescaleSlope 0.01 and truncates
        # (0.05, 0.26, 1.05). No single factor maps these to 0.20/1.00/4.00 at two
        # decimals (0.26 x f in [0.995, 1.005) needs f >= 3.827 while 1.05 x f <
        # 4.005 needs f < 3.815), so the exact Du Bois conversion W/BSA = 3.788 is
        # checked instead, and the values within the DRO's own quantisation.
        factor = vol.meta["suv"]["factor"]
        assert factor == pytest.approx(70000.0 / (0.007184 * 175**0.725 * 70**0.425 * 1e4), rel=1e-9)
        assert got == pytest.approx((0.20, 1.00, 4.00), abs=0.025)
    else:
        assert got == (0.20, 1.00, 4.00)


def test_dro_records_every_value_used(pet_dro_dir):
    vol = load_volume(pet_dro_dir / "DRO_3_2" / "PT")
    suv = vol.meta["suv"]
    assert suv["weight_kg"] == 70.0 and suv["half_life_s"] == 6586.2
    assert suv["dose_administered_bq"] == 368080000.0
    assert suv["decay_correction"] == "START"
    assert "back-computed" in suv["reference_time_source"]
    assert abs(parse_datetime(suv["reference_datetime"]) - parse_datetime("20250101110000")).total_seconds() < 3
    ge = load_volume(pet_dro_dir / "DRO_3_3" / "PT").meta["suv"]
    assert ge["reference_time_source"].startswith("GE private")
    midnight = load_volume(pet_dro_dir / "DRO_4_2" / "PT").meta["suv"]
    assert midnight["injection_datetime"].startswith("2025-01-01T23:30")
    assert any("midnight" in w for w in midnight["warnings"])


@pytest.mark.parametrize("convention", ["bqml_start", "bqml_admin", "bqml_start_mbq", "gml", "bqml_start_midnight"])
def test_synthetic_pet_conventions(tmp_path, convention):
    truth = write_pet_series(tmp_path, convention=convention)
    vol = load_volume(tmp_path)
    np.testing.assert_allclose(vol.array, truth["suv"], rtol=2e-4, atol=2e-4)
    assert vol.array.max() == pytest.approx(4.0, abs=1e-3)


def test_lbm_bsa_ibw_against_hand_computed_values(tmp_path):
    # 75 kg, 180 cm male; formulas written out independently of radgui.io.suv
    w, h = 75.0, 180.0
    james = 1.10 * 75 - 128 * (75 / 180) ** 2
    janma = 9270 * 75 / (6680 + 216 * (75 / 1.8**2))
    ibw = 48.0 + 1.06 * (180 - 152)
    bsa = 0.007184 * 180**0.725 * 75**0.425
    assert lbm_james_kg(w, h, "M") == pytest.approx(james)
    assert lbm_janma_kg(w, h, "M") == pytest.approx(janma)
    assert lbm_janma_kg(w, h, "M") == pytest.approx(59.52, abs=0.01)  # 695250 / 11680
    assert ibw_kg(h, "M") == pytest.approx(ibw)
    assert bsa_m2(w, h) == pytest.approx(bsa)
    truth = write_pet_series(tmp_path, convention="bqml_start", weight_kg=w, height_m=1.80, sex="M")
    for suv_type, scale in (("lbm_james", james / w), ("lbm_janma", janma / w), ("ibw", ibw / w),
                            ("bsa", bsa * 1e4 / (w * 1000))):
        vol = load_volume(tmp_path, suv_type=suv_type)
        np.testing.assert_allclose(vol.array, truth["suv"] * scale, rtol=3e-4, atol=1e-5)
        assert vol.meta["suv"]["suv_type"] == suv_type


def test_female_and_other_sex_formulas():
    assert lbm_james_kg(60, 165, "F") == pytest.approx(1.07 * 60 - 148 * (60 / 165) ** 2)
    assert ibw_kg(165, "F") == pytest.approx(45.5 + 0.91 * 13)
    assert ibw_kg(175, "O") == pytest.approx(((48 + 1.06 * 23) + (45.5 + 0.91 * 23)) / 2)


def test_missing_tags_refused_listing_them_then_user_values(tmp_path):
    truth = write_pet_series(tmp_path, drop=("PatientWeight", "RadionuclideTotalDose"))
    with pytest.raises(SuvError) as err:
        load_volume(tmp_path)
    assert "PatientWeight" in str(err.value) and "RadionuclideTotalDose" in str(err.value)
    assert len(err.value.missing) == 2
    assert err.value.keys == ["weight_kg", "dose_bq"]   # the suv_user_values that answer them
    vol = load_volume(tmp_path, suv_user_values={k: {"weight_kg": 75.0, "dose_bq": 370e6}[k] for k in err.value.keys})
    np.testing.assert_allclose(vol.array, truth["suv"], rtol=2e-4, atol=2e-4)
    assert vol.meta["suv"]["user_entered"] == {"weight_kg": 75.0, "dose_bq": 370e6}
    raw = load_volume(tmp_path, suv=False)
    assert "suv" not in raw.meta and any("no SUV" in w for w in raw.warnings)


def test_missing_injection_time_refused(tmp_path):
    write_pet_series(tmp_path, drop=("RadiopharmaceuticalStartTime", "RadiopharmaceuticalStartDateTime"))
    with pytest.raises(SuvError, match="RadiopharmaceuticalStartDateTime"):
        load_volume(tmp_path)


def test_rescale_intercept_not_zero_refuses_suv(tmp_path):
    write_pet_series(tmp_path, intercept=10.0)
    with pytest.raises(SuvError, match="RescaleIntercept is 10"):
        load_volume(tmp_path)


def test_unknown_units_refused(tmp_path):
    from dicom_factory import write_ct_series

    write_ct_series(tmp_path, modality="PT", extra=lambda ds, k: setattr(ds, "Units", "PROPCPS"), intercept=0)
    with pytest.raises(SuvError, match="PROPCPS"):
        load_volume(tmp_path)


def _edit(paths, fn):
    import pydicom

    for p in paths:
        ds = pydicom.dcmread(p)
        fn(ds)
        ds.save_as(p)


def test_half_life_from_radionuclide_code_and_weight_in_grams(tmp_path):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    truth = write_pet_series(tmp_path, drop=("RadionuclideHalfLife",))

    def fix(ds):
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "C-111A1", "SRT", "^18^Fluorine"
        ds.RadiopharmaceuticalInformationSequence[0].RadionuclideCodeSequence = Sequence([code])
        ds.PatientWeight = "75000"

    _edit(truth["paths"], fix)
    vol = load_volume(tmp_path)
    np.testing.assert_allclose(vol.array, truth["suv"], rtol=2e-4, atol=2e-4)
    warnings = " ".join(vol.meta["suv"]["warnings"])
    assert "F-18" in warnings and "grams" in warnings
    assert vol.meta["suv"]["weight_kg"] == 75.0


def test_philips_counts_without_factors_refused(tmp_path):
    truth = write_pet_series(tmp_path)
    _edit(truth["paths"], lambda ds: setattr(ds, "Units", "CNTS"))
    with pytest.raises(SuvError, match="7053,1000"):
        load_volume(tmp_path)
