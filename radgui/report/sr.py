"""DICOM SR measurement reports (TID 1500) of radgui's ROIs, written and read with highdicom.

:func:`write_sr` writes a Comprehensive 3D SR holding one TID 1500 Measurement
Report: per ROI one *volumetric ROI measurements* group (TID 1411) that
references the ROI's segment in a DICOM-SEG written by
:func:`radgui.io.seg.write_seg` and, through it, the source series. Each group
holds the volume (SCT 118565006, mL), the RECIST long and short axes
(SCT 103339001 / 103340004, mm), the maximum 3D diameter (IBSI L0JK, mm) and
selected radiomics features coded by their IBSI identifiers (scheme ``IBSI``,
:mod:`radgui.features.ibsi`; features without an IBSI identifier are left
out and listed in the return value). De-identified like the SEG unless
``identifying=True``.

:func:`read_sr` reads one back (highdicom ``srread``) and refuses, in one
line, anything that is not a TID 1500 measurement report.
"""

from __future__ import annotations

from pathlib import Path

from radgui.errors import DicomError

#: radgui measurement key -> (code value, scheme, meaning, UCUM unit, unit meaning)
MEASURES = {
    "volume_ml": ("118565006", "SCT", "Volume", "ml", "milliliter"),
    "recist_long_mm": ("103339001", "SCT", "Long axis", "mm", "millimeter"),
    "recist_short_mm": ("103340004", "SCT", "Short axis", "mm", "millimeter"),
    "max_3d_diameter_mm": ("L0JK", "IBSI", "Maximum 3D diameter", "mm", "millimeter"),
}


def write_sr(volume, seg_path: str | Path, rois: dict, path: str | Path, *, identifying: bool = False,
             series_number: int = 902) -> dict[str, list[str]]:
    """Write a TID 1500 measurement report of ROIs segmented in ``seg_path``.

    Parameters
    ----------
    volume : Volume
        The source image, loaded from DICOM.
    seg_path : path
        The DICOM-SEG holding the ROIs (segment labels = ROI names).
    rois : dict of str -> dict
        ROI name -> measurements (keys of :data:`MEASURES`, e.g. from
        :func:`radgui.roi.measure`) and optionally ``"features"``: a dict of
        PyRadiomics column -> value.
    path : path
        The SR file.

    Returns
    -------
    dict of str -> list of str
        Per ROI, the feature columns left out (no IBSI identifier).
    """
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes
    from pydicom.sr.coding import Code

    from radgui import __version__
    from radgui.features.ibsi import IBSI, feature_key
    from radgui.files import atomic_path
    from radgui.io.deid import deidentify, refuse_leaks, source_values
    from radgui.io.seg import _dicom_meta

    meta = _dicom_meta(volume)
    try:
        seg = pydicom.dcmread(seg_path)
    except Exception as exc:  # noqa: BLE001
        raise DicomError(f"not a readable DICOM file ({str(exc)[:120]})", seg_path) from None
    if str(seg.get("Modality", "")) != "SEG":
        raise DicomError("the SR must reference a DICOM-SEG", seg_path)
    numbers = {str(s.SegmentLabel): int(s.SegmentNumber) for s in seg.SegmentSequence}
    sources = [pydicom.dcmread(f, stop_before_pixels=True) for f in dict.fromkeys(meta["files"])]
    groups, skipped = [], {}
    for name, values in rois.items():
        if name not in numbers:
            raise DicomError(f"the SEG has no segment named {name!r} (segments: {', '.join(numbers)})", seg_path)
        measurements = []
        for key, (cv, scheme, meaning, unit, unit_meaning) in MEASURES.items():
            if values.get(key) is not None:
                measurements.append(hd.sr.Measurement(name=Code(cv, scheme, meaning), value=float(values[key]),
                                                      unit=Code(unit, "UCUM", unit_meaning)))
        skipped[name] = []
        for col, value in (values.get("features") or {}).items():
            key = feature_key(col)
            if key is None or key not in IBSI:
                skipped[name].append(col)
                continue
            code, meaning = IBSI[key]
            measurements.append(hd.sr.Measurement(name=Code(code, "IBSI", meaning[:64]), value=float(value),
                                                  unit=Code("1", "UCUM", "no units")))
        ref = hd.sr.ReferencedSegment(
            sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID, segment_number=numbers[name],
            source_series=hd.sr.SourceSeriesForSegmentation(meta["series_uid"]))
        groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=str(name)[:64]),
            referenced_segment=ref, finding_type=codes.SCT.Lesion, measurements=measurements))
    device = hd.sr.DeviceObserverIdentifyingAttributes(uid=hd.UID(), name="radgui", model_name=__version__)
    context = hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
        observer_type=codes.DCM.Device, observer_identifying_attributes=device))
    report = hd.sr.MeasurementReport(observation_context=context, procedure_reported=Code("363679005", "SCT",
                                                                                          "Imaging procedure"),
                                     imaging_measurements=groups)
    try:
        sr = hd.sr.Comprehensive3DSR(evidence=[seg, *sources], content=report[0], series_instance_uid=hd.UID(),
                                     series_number=series_number, sop_instance_uid=hd.UID(), instance_number=1,
                                     manufacturer="radgui", is_complete=True)
    except (ValueError, TypeError, AttributeError) as exc:
        raise DicomError(f"cannot build the SR ({str(exc)[:160]})", path) from None
    if not identifying:
        originals = source_values(sources)
        # Content Sequence is X in the basic profile (free text from the source may sit there); this one holds
        # only what radgui wrote (codes, numbers, ROI names, radgui's device UID), so it is kept (the Clean
        # Structured Content approach) and ROI names repeating the patient's identification are refused.
        from radgui.io.seg import _IDENTIFYING_NAME_SOURCES

        ident = [str(sources[0].get(kw, "") or "").strip().lower() for kw in _IDENTIFYING_NAME_SOURCES]
        for name in rois:
            if any(v and len(v) >= 3 and v in str(name).lower() for v in ident):
                raise DicomError(f"ROI name {str(name)[:40]!r} repeats the patient's identification; rename it "
                                 "or export with identifying=True; nothing was written", path)
        content = sr.ContentSequence
        del sr.ContentSequence
        deidentify(sr)
        sr.ContentSequence = content
        refuse_leaks(sr, originals, path, allowed=("ContentSequence",))  # radgui's own measurements
    path = Path(path)
    with atomic_path(path) as tmp:
        sr.save_as(tmp, enforce_file_format=True)
    return skipped


def read_sr(path: str | Path) -> dict[str, dict]:
    """Read a TID 1500 measurement report: ROI (tracking identifier) -> measurements.

    Returns
    -------
    dict of str -> dict
        ``{"segment": (SEG SOP instance UID, segment number), "measurements":
        {(code value, scheme): (value, unit)}}`` per ROI.

    Raises
    ------
    DicomError
        Not readable, not an SR, or not a TID 1500 measurement report.
    """
    import highdicom as hd
    import pydicom

    path = Path(path)
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # noqa: BLE001
        raise DicomError(f"not a readable DICOM file ({str(exc)[:120]})", path) from None
    if str(ds.get("Modality", "")) != "SR":
        raise DicomError(f"not a structured report (Modality {ds.get('Modality', '?')})", path)
    templates = [str(t.get("TemplateIdentifier", "")) for t in ds.get("ContentTemplateSequence", [])]
    if templates != ["1500"]:
        raise DicomError(f"not a TID 1500 measurement report (template {', '.join(templates) or 'none'})", path)
    try:
        sr = hd.sr.srread(path)
        groups = sr.content.get_volumetric_roi_measurement_groups()
    except Exception as exc:  # noqa: BLE001
        raise DicomError(f"not a valid TID 1500 measurement report ({str(exc)[:160]})", path) from None
    out = {}
    for g in groups:
        seg_ref = g.referenced_segment
        out[str(g.tracking_identifier)] = {
            "segment": _segment_ref(seg_ref),
            "measurements": {(m.name.value, m.name.scheme_designator): (float(m.value), m.unit.value)
                             for m in g.get_measurements()},
        }
    return out


def _segment_ref(item) -> tuple[str, int] | None:
    if item is None:
        return None
    numbers = item.referenced_segment_numbers or [0]
    return str(item.referenced_sop_instance_uid), int(numbers[0])
