"""PET standardised uptake values (SUV) from DICOM headers.

The rules follow the manual of the OncoRay "Standardizing SUV Computation"
project (Vácha, Hofheinz, Braune, Löck, Zwanenburg: *Comprehensive Manual for
SUV Computation and Digital Reference Objects for its Verification*), whose 17
digital reference objects (DROs) are radgui's test fixtures:

* stored values are first multiplied by each slice's RescaleSlope; a
  RescaleIntercept other than 0 refuses SUV;
* Units ``BQML``: SUVbw = value * W[g] / D, with D the administered dose decay
  corrected to the image's reference time: DecayCorrection ``ADMIN`` (no
  correction), ``START`` (reference time below) or ``NONE`` (each slice
  corrected with its own acquisition time and frame duration:
  SUVbw = value * W / D_adm * lambda*T / (1 - exp(-lambda*T)) * exp(lambda*(t_acq - t_adm)));
* Units ``CNTS`` (Philips): private SUV Scale Factor (7053,1000) gives SUVbw
  directly; else Activity Concentration Scale Factor (7053,1009) gives Bq/ml;
* Units ``GML`` (already SUV, SUVType BW when empty) and ``CM2ML`` (SUVbsa):
  converted back to SUVbw with the patient's weight and LBM/IBW/BSA;
* START reference time, in order: GE private PET scan datetime (0009,100D);
  SeriesDate/Time when not after the earliest acquisition; back-computed
  t_ref = t_acq + T_ave - FrameReferenceTime with
  T_ave = ln(lambda*T / (1 - exp(-lambda*T))) / lambda; else the earliest
  acquisition time (with a warning);
* administration time from RadiopharmaceuticalStartDateTime, else
  RadiopharmaceuticalStartTime on the series date, one day earlier when that
  would be after the reference time (midnight crossing);
* dose below 1e5 is taken as MBq, weight above 1000 as grams (both warned);
  half-life from RadionuclideHalfLife, else from the radionuclide code.

Other normalisations (``suv_type``): lean body mass after James (the DICOM
LBMJAMES128 form: male 1.10 W - 128 (W/H)^2, female 1.07 W - 148 (W/H)^2) and
after Janmahasatian (male 9270 W / (6680 + 216 BMI), female 9270 W / (8780 +
244 BMI)), ideal body weight (male 48.0 + 1.06 (H - 152), female 45.5 + 0.91
(H - 152)) and body surface area (Du Bois: 0.007184 H^0.725 W^0.425 m^2); W in
kg, H in cm; PatientSex "O" uses the mean of the male and female values, as
the manual suggests.

References
----------
Janmahasatian S et al. Clin Pharmacokinet 2005;44:1051-65.
James WPT. Research on obesity. HMSO 1976.
Du Bois D, Du Bois EF. Arch Intern Med 1916;17:863-71.
DICOM PS3.3 C.8.9.1 (PET Series Module), PS3.16 CID 4020 (radionuclides).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from radgui.errors import SuvError

#: SUV normalisations radgui computes.
SUV_TYPES = ("bw", "lbm_james", "lbm_janma", "bsa", "ibw")

#: Half-lives in seconds by radionuclide (DICOM PS3.16 CID 4020 values).
HALF_LIFE_S = {
    "F-18": 6586.2, "C-11": 1223.4, "N-13": 597.9, "O-15": 122.24, "Ga-68": 4057.7,
    "Cu-64": 45721.1, "Zr-89": 282240.0, "Rb-82": 75.45, "I-124": 360806.4, "Y-86": 53064.0,
}
_ELEMENT_NAMES = {"fluorine": "F", "carbon": "C", "nitrogen": "N", "oxygen": "O", "gallium": "Ga",
                  "copper": "Cu", "zirconium": "Zr", "rubidium": "Rb", "iodine": "I", "yttrium": "Y"}

#: Doses below this value are taken to be in MBq (the manual's histogram shows peaks near 4e2 and 4e8).
MBQ_THRESHOLD = 1e5

#: What SUV may be missing, by the ``suv_user_values`` key that answers it (the GUI dialog asks for
#: exactly these keys: ``SuvError.keys``), with the words the error message shows.
NEEDS = {
    "weight_kg": "PatientWeight (0010,1030) [weight_kg]",
    "height_m": "PatientSize (0010,1020) [height_m]",
    "sex": "PatientSex (0010,0040) [sex]",
    "dose_bq": "RadionuclideTotalDose (0018,1074) [dose_bq]",
    "half_life_s": "RadionuclideHalfLife (0018,1075) [half_life_s]",
    "injection_datetime": "RadiopharmaceuticalStartDateTime (0018,1078) or RadiopharmaceuticalStartTime "
                          "(0018,1072) [injection_datetime]",
}


def _answers(missing) -> list[str]:
    """The ``suv_user_values`` keys that answer entries of a missing list (entries are NEEDS values)."""
    return [key for key, label in NEEDS.items() if label in missing]


def _f(v):
    try:
        if v is None or v == "":
            return None
        if isinstance(v, bytes):
            v = v.decode("ascii", "ignore").strip("\x00 ")
        x = float(v)
        return x if math.isfinite(x) else None
    except (TypeError, ValueError):
        return None


def parse_datetime(value: Any) -> datetime | None:
    """A DICOM DT (YYYYMMDDHHMMSS.FFFFFF[+ZZZZ]) or a datetime; None when unparsable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    s = str(value).strip()
    if "T" in s or "-" in s[:10]:
        try:
            return datetime.fromisoformat(s).replace(tzinfo=None)
        except ValueError:
            pass
    s = re.split(r"[+\-]", s)[0].replace(":", "")
    m = re.fullmatch(r"(\d{8})(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?", s)
    if not m:
        return None
    date, hh, mm, ss, frac = m.groups()
    try:
        out = datetime.strptime(date, "%Y%m%d")
    except ValueError:
        return None
    return out + timedelta(hours=int(hh or 0), minutes=int(mm or 0), seconds=int(ss or 0),
                           microseconds=int((frac or "0").ljust(6, "0")))


def _combine(date: str, time: str) -> datetime | None:
    date, time = str(date or "").strip(), str(time or "").strip().replace(":", "")
    if not date or not time:
        return None
    return parse_datetime(date + time)


def _private(ds, group, element):
    el = ds.get((group, element))
    return None if el is None else el.value


def half_life_from_code(rp) -> tuple[float | None, str]:
    """Half-life in s from RadionuclideCodeSequence / Radiopharmaceutical text."""
    texts = []
    for seq in ("RadionuclideCodeSequence", "RadiopharmaceuticalCodeSequence"):
        for item in rp.get(seq) or []:
            texts.append(str(item.get("CodeMeaning", "")))
    texts.append(str(rp.get("Radiopharmaceutical", "")))
    for text in texts:
        t = text.lower()
        mass = re.search(r"(\d{1,3})", t)
        for name, sym in _ELEMENT_NAMES.items():
            if name in t or re.search(rf"\b{sym.lower()}\W?\d", t):
                if mass:
                    key = f"{sym}-{mass.group(1)}"
                    if key in HALF_LIFE_S:
                        return HALF_LIFE_S[key], key
        if "fdg" in t or "fluoro" in t:
            return HALF_LIFE_S["F-18"], "F-18"
    return None, ""


# --------------------------------------------------------------------------
# Body-size normalisations (W in kg, H in cm)
# --------------------------------------------------------------------------
def _by_sex(sex: str, male: float, female: float) -> float:
    return {"M": male, "F": female}.get(sex, (male + female) / 2.0)


def lbm_james_kg(weight_kg: float, height_cm: float, sex: str) -> float:
    """Lean body mass after James (DICOM LBMJAMES128), kg."""
    r = (weight_kg / height_cm) ** 2
    return _by_sex(sex, 1.10 * weight_kg - 128.0 * r, 1.07 * weight_kg - 148.0 * r)


def lbm_morgan_kg(weight_kg: float, height_cm: float, sex: str) -> float:
    """Lean body mass after Morgan (DICOM SUVType LBM), kg."""
    r = (weight_kg / height_cm) ** 2
    return _by_sex(sex, 1.10 * weight_kg - 120.0 * r, 1.07 * weight_kg - 148.0 * r)


def lbm_janma_kg(weight_kg: float, height_cm: float, sex: str) -> float:
    """Lean body mass after Janmahasatian 2005, kg (BMI from W and H in m)."""
    bmi = weight_kg / (height_cm / 100.0) ** 2
    return _by_sex(sex, 9270.0 * weight_kg / (6680.0 + 216.0 * bmi), 9270.0 * weight_kg / (8780.0 + 244.0 * bmi))


def ibw_kg(height_cm: float, sex: str) -> float:
    """Ideal body weight, kg."""
    return _by_sex(sex, 48.0 + 1.06 * (height_cm - 152.0), 45.5 + 0.91 * (height_cm - 152.0))


def bsa_m2(weight_kg: float, height_cm: float) -> float:
    """Body surface area after Du Bois, m^2."""
    return 0.007184 * height_cm ** 0.725 * weight_kg ** 0.425


_STORED_TYPE_TO_MASS = {
    "LBM": lbm_morgan_kg, "LBMJAMES128": lbm_james_kg, "LBMJANMA": lbm_janma_kg,
    "IBW": lambda w, h, s: ibw_kg(h, s),
}
_REQUESTED = {"lbm_james": lbm_james_kg, "lbm_janma": lbm_janma_kg, "ibw": lambda w, h, s: ibw_kg(h, s)}


# --------------------------------------------------------------------------
# Main entry
# --------------------------------------------------------------------------
def _t_ave(lam: float, duration_s: float) -> float:
    """Average count-rate time within a frame of length T (s)."""
    x = lam * duration_s
    if x < 1e-9:
        return duration_s / 2.0
    return math.log(x / (1.0 - math.exp(-x))) / lam


def suv_factors(header, frames, suv_type: str = "bw", user_values: dict | None = None,
                path=None) -> tuple[np.ndarray, dict]:
    """Per-slice factors turning ``stored * RescaleSlope`` into SUV.

    Parameters
    ----------
    header : pydicom.Dataset
        A header of the series (series-level tags, radiopharmaceutical).
    frames : list of radgui.io.dicom.Frame
        The slices, in the volume's order (acquisition time, frame
        duration, RescaleIntercept of each).
    suv_type : str
        One of :data:`SUV_TYPES`.
    user_values : dict, optional
        Values that replace missing or wrong tags: ``weight_kg``, ``height_m``,
        ``sex`` ("M"/"F"/"O"), ``dose_bq``, ``injection_datetime`` (datetime or
        DICOM DT), ``half_life_s``, ``reference_datetime``. Recorded in
        ``record["user_entered"]``.
    path : Path, optional
        Named in error messages.

    Returns
    -------
    factors : ndarray of float64, shape (n_slices,)
    record : dict
        Everything used: SUV type, stored units, weight, height, sex, dose
        (administered and at the reference time), half-life, times and where
        each came from, the normalisation mass/area, warnings.

    Raises
    ------
    SuvError
        RescaleIntercept != 0, unsupported Units, or missing tags; ``.missing``
        lists the tags (and the values a user may type instead).
    """
    if suv_type not in SUV_TYPES:
        raise ValueError(f"suv_type must be one of {SUV_TYPES}")
    user = {k: v for k, v in (user_values or {}).items() if v not in (None, "")}
    warnings: list[str] = []
    missing: list[str] = []
    rec: dict[str, Any] = {"suv_type": suv_type, "warnings": warnings,
                           "user_entered": {k: (v.isoformat() if isinstance(v, datetime) else v)
                                            for k, v in user.items()},
                           "reference": "Vacha et al., Comprehensive Manual for SUV Computation (OncoRay)"}
    intercepts = {f.intercept for f in frames}
    if any(b != 0 for b in intercepts):
        raise SuvError(f"RescaleIntercept is {sorted(intercepts)[-1]:g}, not 0: PET SUV refused "
                       "(the manual excludes such series)", path)
    units = str(header.get("Units", "") or "").upper().strip()
    rec["units_stored"] = units

    weight = _f(user.get("weight_kg")) if "weight_kg" in user else _f(header.get("PatientWeight"))
    if weight is not None and weight > 1000:
        warnings.append(f"PatientWeight {weight:g} > 1000 taken as grams")
        weight /= 1000.0
    if not weight or weight <= 0:
        missing.append(NEEDS["weight_kg"])
        weight = None
    height_m = _f(user.get("height_m")) if "height_m" in user else _f(header.get("PatientSize"))
    if height_m is not None and height_m > 3:
        warnings.append(f"PatientSize {height_m:g} > 3 taken as cm")
        height_m /= 100.0
    sex = str(user.get("sex", header.get("PatientSex", "")) or "").upper().strip()[:1]
    rec.update(weight_kg=weight, height_m=height_m, sex=sex or None)

    # --- stored values -> SUVbw ---------------------------------------------------
    suv_stored_type = str(header.get("SUVType", "") or "").upper().strip() or "BW"
    activity = False
    scale = 1.0
    if units == "GML":
        rec["suv_type_stored"] = suv_stored_type
        if suv_stored_type == "BW":
            scale = 1.0
        elif suv_stored_type in _STORED_TYPE_TO_MASS:
            need = _need_body(weight, height_m, sex, missing, sex_needed=True)
            if need:
                mass = _STORED_TYPE_TO_MASS[suv_stored_type](weight, height_m * 100.0, sex)
                rec["stored_normalisation_kg"] = mass
                scale = weight / mass
        elif suv_stored_type == "BSA":
            if _need_body(weight, height_m, sex, missing, sex_needed=False):
                area = bsa_m2(weight, height_m * 100.0)
                rec["stored_normalisation_m2"] = area
                scale = weight * 1000.0 / (area * 1e4)
        else:
            raise SuvError(f"Units GML with SUVType {suv_stored_type!r}: unknown normalisation", path)
    elif units == "CM2ML":
        rec["suv_type_stored"] = "BSA"
        if _need_body(weight, height_m, sex, missing, sex_needed=False):
            area = bsa_m2(weight, height_m * 100.0)
            rec["stored_normalisation_m2"] = area
            scale = weight * 1000.0 / (area * 1e4)
    elif units == "CNTS":
        suv_sf = _f(_private(header, 0x7053, 0x1000))
        ac_sf = _f(_private(header, 0x7053, 0x1009))
        if suv_sf:
            rec["philips_suv_scale_factor"] = suv_sf
            scale = suv_sf
        elif ac_sf:
            rec["philips_activity_scale_factor"] = ac_sf
            scale = ac_sf
            activity = True
        else:
            raise SuvError("Units CNTS without a Philips SUV Scale Factor (7053,1000) or Activity "
                           "Concentration Scale Factor (7053,1009): counts cannot be converted to SUV", path,
                           missing=["(7053,1000) SUV Scale Factor", "(7053,1009) Activity Concentration Scale Factor"])
    elif units == "BQML":
        activity = True
    else:
        raise SuvError(f"Units {units or '(none)'!r}: conversion to SUV is not defined "
                       "(radgui converts BQML, CNTS with Philips factors, GML and CM2ML)", path,
                       missing=[] if units else ["Units (0054,1001)"])

    factors = np.full(len(frames), scale, float)
    if activity:
        factors = _activity_factors(header, frames, weight, user, rec, missing, warnings, path) * scale
    elif weight is None and units == "GML" and suv_stored_type == "BW" and suv_type == "bw":
        missing.remove(NEEDS["weight_kg"])  # not needed: stored values are SUVbw
    if missing:
        raise SuvError("cannot compute SUV; missing or invalid: " + ", ".join(missing)
                       + " (type the values in the GUI or pass suv_user_values=)", path, missing=missing,
                       keys=_answers(missing))

    # --- SUVbw -> requested type --------------------------------------------------
    if suv_type != "bw":
        need = []
        if not _need_body(weight, height_m, sex, need, sex_needed=suv_type != "bsa"):
            raise SuvError(f"SUV {suv_type} needs " + ", ".join(need), path, missing=need, keys=_answers(need))
        h_cm = height_m * 100.0
        if suv_type == "bsa":
            area = bsa_m2(weight, h_cm)
            rec["normalisation_m2"] = area
            factors = factors * (area * 1e4) / (weight * 1000.0)
            rec["units"] = "cm2/ml"
        else:
            mass = _REQUESTED[suv_type](weight, h_cm, sex)
            rec["normalisation_kg"] = mass
            factors = factors * mass / weight
            rec["units"] = "g/ml"
        if sex == "O":
            warnings.append(f"PatientSex O: SUV {suv_type} uses the mean of the male and female formulas")
    else:
        rec["units"] = "g/ml"
    if np.allclose(factors, factors[0], rtol=1e-12):
        rec["factor"] = float(factors[0])
    else:
        rec["factor_per_slice"] = [float(v) for v in factors]
    return factors, rec


def _need_body(weight, height_m, sex, missing, sex_needed) -> bool:
    ok = True
    if not weight:
        ok = False  # weight already listed
    if not height_m or height_m <= 0:
        missing.append(NEEDS["height_m"])
        ok = False
    if sex_needed and sex not in ("M", "F", "O"):
        missing.append(NEEDS["sex"])
        ok = False
    return ok


def _activity_factors(header, frames, weight, user, rec, missing, warnings, path) -> np.ndarray:
    """W[g] / D(t_ref) per slice for activity concentration in Bq/ml."""
    n = len(frames)
    seq = header.get("RadiopharmaceuticalInformationSequence")
    rp = seq[0] if seq else {}
    dose = _f(user["dose_bq"]) if "dose_bq" in user else _f(rp.get("RadionuclideTotalDose"))
    if dose is not None and 0 < dose < MBQ_THRESHOLD:
        warnings.append(f"RadionuclideTotalDose {dose:g} taken as MBq")
        rec["dose_unit_assumed"] = "MBq"
        dose *= 1e6
    if not dose or dose <= 0:
        missing.append(NEEDS["dose_bq"])
        dose = None
    half = _f(user["half_life_s"]) if "half_life_s" in user else _f(rp.get("RadionuclideHalfLife"))
    if not half and rp:
        half, nuclide = half_life_from_code(rp)
        if half:
            warnings.append(f"half-life {half:g} s taken from the radionuclide code ({nuclide})")
    if not half or half <= 0:
        missing.append(NEEDS["half_life_s"])
        half = None
    decay = str(header.get("DecayCorrection", "") or "").upper().strip()
    if decay not in ("START", "ADMIN", "NONE"):
        missing.append("DecayCorrection (0054,1102)")
    rec.update(dose_administered_bq=dose, half_life_s=half, decay_correction=decay or None)

    # administration time
    t_adm = None
    if "injection_datetime" in user:
        t_adm = parse_datetime(user["injection_datetime"])
        rec["injection_time_source"] = "user-entered"
    elif rp and rp.get("RadiopharmaceuticalStartDateTime"):
        t_adm = parse_datetime(rp.get("RadiopharmaceuticalStartDateTime"))
        rec["injection_time_source"] = "RadiopharmaceuticalStartDateTime (0018,1078)"
    elif rp and rp.get("RadiopharmaceuticalStartTime"):
        date = header.get("SeriesDate") or header.get("AcquisitionDate") or header.get("StudyDate")
        t_adm = _combine(date, rp.get("RadiopharmaceuticalStartTime"))
        rec["injection_time_source"] = "RadiopharmaceuticalStartTime (0018,1072) on the series date"
    if decay in ("START", "NONE") and t_adm is None:
        missing.append(NEEDS["injection_datetime"])
    if missing or weight is None:
        return np.ones(n)
    lam = math.log(2.0) / half
    w_g = weight * 1000.0
    if decay == "ADMIN":
        rec["dose_at_reference_bq"] = dose
        return np.full(n, w_g / dose)
    if decay == "NONE":
        out = np.empty(n)
        for k, fr in enumerate(frames):
            t_acq = parse_datetime(fr.acquisition_datetime)
            dur = fr.frame_duration_ms
            if t_acq is None or not dur:
                raise SuvError("DecayCorrection NONE needs each slice's AcquisitionDate/Time and "
                               f"ActualFrameDuration; missing in {fr.path}", path,
                               missing=["AcquisitionTime (0008,0032)", "ActualFrameDuration (0018,1242)"])
            if t_adm > t_acq and "RadiopharmaceuticalStartTime" in rec.get("injection_time_source", ""):
                t_adm -= timedelta(days=1)
                warnings.append("injection time after acquisition: taken on the previous day (midnight)")
            big_t = dur / 1000.0
            x = lam * big_t
            out[k] = w_g / dose * (x / (1.0 - math.exp(-x)) if x > 1e-12 else 1.0) * math.exp(
                lam * (t_acq - t_adm).total_seconds())
        rec["injection_datetime"] = t_adm.isoformat()
        rec["decay_correction_applied"] = "per slice from acquisition time and frame duration"
        return out
    # START
    t_ref, source = _reference_time(header, frames, lam, user, warnings)
    if t_ref is None:
        raise SuvError("cannot find the decay-correction reference time (SeriesDate/Time, "
                       "AcquisitionDate/Time)", path, missing=["SeriesDate/SeriesTime (0008,0021/0031)"])
    if t_adm > t_ref and "RadiopharmaceuticalStartTime" in rec.get("injection_time_source", ""):
        t_adm -= timedelta(days=1)
        warnings.append("injection time after the scan: taken on the previous day (midnight crossing)")
    elapsed = (t_ref - t_adm).total_seconds()
    if elapsed < 0:
        raise SuvError(f"injection ({t_adm}) is after the reference time ({t_ref})", path,
                       missing=[NEEDS["injection_datetime"]], keys=["injection_datetime"])
    if elapsed > 24 * 3600:
        warnings.append(f"{elapsed / 3600:.1f} h between injection and scan: check the dates")
    dose_ref = dose * math.exp(-lam * elapsed)
    rec.update(injection_datetime=t_adm.isoformat(), reference_datetime=t_ref.isoformat(),
               reference_time_source=source, elapsed_s=elapsed, dose_at_reference_bq=dose_ref)
    return np.full(n, w_g / dose_ref)


def _reference_time(header, frames, lam, user, warnings):
    if "reference_datetime" in user:
        return parse_datetime(user["reference_datetime"]), "user-entered"
    ge = _private(header, 0x0009, 0x100D)
    if ge:
        if isinstance(ge, bytes):
            ge = ge.decode("ascii", "ignore").strip("\x00 ")
        t = parse_datetime(ge)
        if t is not None:
            return t, "GE private PET scan datetime (0009,100D)"
    acq = [parse_datetime(f.acquisition_datetime) for f in frames]
    acq_known = [t for t in acq if t is not None]
    earliest = min(acq_known) if acq_known else None
    series = _combine(header.get("SeriesDate") or header.get("StudyDate"), header.get("SeriesTime"))
    if series is not None and (earliest is None or series <= earliest):
        return series, "SeriesDate/SeriesTime"
    back = []
    for fr, t_acq in zip(frames, acq):
        if t_acq is None or fr.frame_reference_time_ms is None or not fr.frame_duration_ms:
            continue
        back.append(t_acq + timedelta(seconds=_t_ave(lam, fr.frame_duration_ms / 1000.0)
                                      - fr.frame_reference_time_ms / 1000.0))
    if back:
        secs = np.array([(t - back[0]).total_seconds() for t in back])
        if np.ptp(secs) > 1.0:
            warnings.append(f"back-computed reference times differ by up to {np.ptp(secs):.1f} s between slices")
        return back[0] + timedelta(seconds=float(np.median(secs))), (
            "back-computed from AcquisitionTime, FrameReferenceTime and ActualFrameDuration "
            "(SeriesTime is after AcquisitionTime)")
    if earliest is not None:
        warnings.append("SUV reference time taken as the earliest AcquisitionTime (SeriesTime is later)")
        return earliest, "earliest AcquisitionDate/Time"
    return None, ""
