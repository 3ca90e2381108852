"""Decisions about a DICOM series read fields, never the wording of a message (issue 14, item 3).

A series' ``problem`` and ``warnings`` are text for people; parts of them can
come from elsewhere (a future rewording, another module's warning). Whether a
series may be resampled, which exception it raises and whether the volume is
quantitative must follow ``problem_kind`` and the ``derived``/``lossy``
flags, so text that happens to contain the old trigger words changes nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

from dicom_factory import write_ct_series
from radgui.errors import DicomError, SliceSpacingError
from radgui.io.dicom import ProblemKind, list_series, load_series


def _one_series(tmp_path, **kwargs):
    write_ct_series(tmp_path, **kwargs)
    (series,) = list_series(tmp_path)
    return series


def test_problem_text_naming_resample_spacing_does_not_unlock_a_refused_series(tmp_path):
    series = _one_series(tmp_path)
    series.problem = "header says: pass resample_spacing=True to fix"  # wording, not a kind
    series.problem_kind = ProblemKind.GEOMETRY
    assert not series.resamplable
    with pytest.raises(DicomError) as info:
        load_series(series, resample_spacing=True)
    assert type(info.value) is DicomError  # refused outright, not offered as resampling
    assert "resample_spacing=True to fix" in str(info.value)

    from radgui.gui.opening import _refused

    assert _refused(series)


def test_missing_slice_is_told_by_kind(tmp_path):
    positions = [np.array([-20.0, -30.0, 10.0 + 2.5 * k]) for k in (0, 1, 2, 4, 5, 6, 7, 8)]
    series = _one_series(tmp_path, n_slices=8, positions=positions)
    assert series.problem_kind is ProblemKind.SLICE_SPACING and series.resamplable
    series.problem = "uneven"  # the message no longer names the option: the kind still decides
    with pytest.raises(SliceSpacingError):
        load_series(series)
    vol = load_series(series, resample_spacing=True)
    assert vol.meta["resampled"] is True and vol.meta["quantitative"] is True

    from radgui.gui.opening import _refused

    assert not _refused(series)


def test_a_warning_mentioning_lossy_does_not_make_a_volume_non_quantitative(tmp_path):
    series = _one_series(tmp_path)
    series.warnings.append("note: the lossy-compression check found nothing; excluded from quantification? no")
    vol = load_series(series)
    assert vol.meta["quantitative"] is True
    assert vol.meta["lossy"] is False and vol.meta["derived"] is False


def test_derived_and_lossy_flags_make_it_non_quantitative(tmp_path):
    series = _one_series(tmp_path, image_type=("DERIVED", "SECONDARY", "MPR"))
    assert series.derived and not series.lossy and not series.quantitative
    vol = load_series(series)
    assert vol.meta["quantitative"] is False and vol.meta["derived"] is True
    assert series.to_dict()["derived"] is True and series.to_dict()["problem_kind"] is None


def test_suv_dialog_asks_by_key_not_by_wording():
    """The SUV dialog fills the suv_user_values keys the engine names (SuvError.keys); a label that merely
    mentions 'weight' or 'Dose' (a reworded message, header text) asks for nothing."""
    from radgui.errors import SuvError
    from radgui.io.suv import NEEDS, _answers

    assert _answers([NEEDS["weight_kg"], NEEDS["dose_bq"]]) == ["weight_kg", "dose_bq"]
    assert _answers(["weight of evidence: RadionuclideTotalDose discussed", "PatientWeight"]) == []
    err = SuvError("reworded", missing=["anything at all"], keys=["half_life_s"])
    assert err.keys == ["half_life_s"] and err.missing == ["anything at all"]
