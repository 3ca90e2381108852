"""Features as other tools read them: IBSI identifiers, the ``pyradiomics`` CLI's CSV, provenance sidecars.

IBSI codes
----------
:data:`IBSI` maps PyRadiomics feature names (``<class>_<Feature>``) to the
4-character feature identifiers of the IBSI 1 reference manual. Source: the
mapping PyRadiomics itself ships (``labs/pyradiomics-dcm/resources/
featuresDict_IBSIv7.tsv`` in the PyRadiomics repository), with its
PyRadiomics column corrected where it disagrees with PyRadiomics' own feature
definitions:

* GLCM ``Id``/``Idn``/``Idm``/``Idmn`` are inverse difference (IB1Z), its
  normalised form (NDRX), inverse difference moment (WF0Z) and its normalised
  form (1QCO), per the definitions in PyRadiomics' documentation (the TSV
  pairs them in another order);
* GLSZM low/high grey level zone emphasis are XMSY/5GN9 (the TSV puts them on
  the distance-zone codes S1RA/K26C), the small/large area grey level
  emphases are GLSZM (not GLCM) features, and zone variance / entropy carry
  PyRadiomics' names ``ZoneVariance`` / ``ZoneEntropy``;
* GLCM ``Autocorrelation`` (QWB0) and ``Imc1``/``Imc2`` (R8DG/JN9H), left
  blank in the TSV, follow the same IBSI definitions.

``firstorder_Kurtosis`` is IBSI kurtosis IPH6 **plus 3** (PyRadiomics does not
subtract 3); the note says so. Features without an IBSI 1 counterpart
(``firstorder_TotalEnergy``, ``glcm_MCC``, the 2D maximum diameters, ...) are
marked :data:`NO_IBSI`. Codes are for the feature definition; settings such as
filters, discretisation and aggregation are IBSI parameters not encoded here.

PyRadiomics CSV
---------------
:func:`pyradiomics_case` runs the stock ``RadiomicsFeatureExtractor.execute``
on the image and the mask radgui read, and returns the row the ``pyradiomics``
command-line tool writes for one batch case: the case's input columns
(``Image``, ``Mask``, then any others), every ``diagnostics_*`` entry, then
the features, in PyRadiomics' order; :func:`write_pyradiomics_csv` writes
rows with the CLI's header rule and value formatting.
"""

from __future__ import annotations

import csv
import io
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

#: Marker for a PyRadiomics feature with no IBSI 1 equivalent.
NO_IBSI = "no IBSI equivalent"

_ROWS = """
shape MeshVolume RNU0 Volume
shape VoxelVolume YEKZ Approximate volume
shape SurfaceArea C0JK Surface area
shape SurfaceVolumeRatio 2PR5 Surface to volume ratio
shape Compactness1 SKGS Compactness 1
shape Compactness2 BQWJ Compactness 2
shape SphericalDisproportion KRCK Spherical disproportion
shape Sphericity QCFX Sphericity
shape Maximum3DDiameter L0JK Maximum 3D diameter
shape MajorAxisLength TDIC Major axis length
shape MinorAxisLength P9VJ Minor axis length
shape LeastAxisLength 7J51 Least axis length
shape Elongation Q3CK Elongation
shape Flatness N17B Flatness
firstorder Mean Q4LE Mean
firstorder Variance ECT3 Variance
firstorder Skewness KE2A Skewness
firstorder Kurtosis IPH6 Kurtosis
firstorder Median Y12H Median
firstorder Minimum 1GSF Minimum grey level
firstorder 10Percentile QG58 10th percentile
firstorder 90Percentile 8DWT 90th percentile
firstorder Maximum 84IY Maximum grey level
firstorder InterquartileRange SALO Interquartile range
firstorder Range 2OJQ Range
firstorder MeanAbsoluteDeviation 4FUA Mean absolute deviation
firstorder RobustMeanAbsoluteDeviation 1128 Robust mean absolute deviation
firstorder Energy N8CA Energy
firstorder RootMeanSquared 5ZWQ Root mean square
firstorder Entropy TLU2 Intensity histogram entropy
firstorder Uniformity BJ5W Intensity histogram uniformity
glcm MaximumProbability GYBY Joint maximum
glcm JointAverage 60VM Joint average
glcm SumSquares UR99 Joint variance
glcm JointEntropy TU9B Joint entropy
glcm DifferenceAverage TF7R Difference average
glcm DifferenceVariance D3YU Difference variance
glcm DifferenceEntropy NTRS Difference entropy
glcm SumAverage ZGXS Sum average
glcm SumVariance OEEB Sum variance
glcm SumEntropy P6QZ Sum entropy
glcm JointEnergy 8ZQL Angular second moment
glcm Contrast ACUI Contrast
glcm Dissimilarity 8S9J Dissimilarity
glcm Id IB1Z Inverse difference
glcm Idn NDRX Normalised inverse difference
glcm Idm WF0Z Inverse difference moment
glcm Idmn 1QCO Normalised inverse difference moment
glcm InverseVariance E8JP Inverse variance
glcm Correlation NI2N Correlation
glcm Autocorrelation QWB0 Autocorrelation
glcm ClusterTendency DG8W Cluster tendency
glcm ClusterShade 7NFM Cluster shade
glcm ClusterProminence AE86 Cluster prominence
glcm Imc1 R8DG First measure of information correlation
glcm Imc2 JN9H Second measure of information correlation
glrlm ShortRunEmphasis 22OV Short runs emphasis
glrlm LongRunEmphasis W4KF Long runs emphasis
glrlm LowGrayLevelRunEmphasis V3SW Low grey level run emphasis
glrlm HighGrayLevelRunEmphasis G3QZ High grey level run emphasis
glrlm ShortRunLowGrayLevelEmphasis HTZT Short run low grey level emphasis
glrlm ShortRunHighGrayLevelEmphasis GD3A Short run high grey level emphasis
glrlm LongRunLowGrayLevelEmphasis IVPO Long run low grey level emphasis
glrlm LongRunHighGrayLevelEmphasis 3KUM Long run high grey level emphasis
glrlm GrayLevelNonUniformity R5YN Grey level non-uniformity
glrlm GrayLevelNonUniformityNormalized OVBL Normalised grey level non-uniformity
glrlm RunLengthNonUniformity W92Y Run length non-uniformity
glrlm RunLengthNonUniformityNormalized IC23 Normalised run length non-uniformity
glrlm RunPercentage 9ZK5 Run percentage
glrlm GrayLevelVariance 8CE5 Grey level variance
glrlm RunVariance SXLW Run length variance
glrlm RunEntropy HJ9O Run entropy
glszm SmallAreaEmphasis 5QRC Small zone emphasis
glszm LargeAreaEmphasis 48P8 Large zone emphasis
glszm LowGrayLevelZoneEmphasis XMSY Low grey level zone emphasis
glszm HighGrayLevelZoneEmphasis 5GN9 High grey level zone emphasis
glszm SmallAreaLowGrayLevelEmphasis 5RAI Small zone low grey level emphasis
glszm SmallAreaHighGrayLevelEmphasis HW1V Small zone high grey level emphasis
glszm LargeAreaLowGrayLevelEmphasis YH51 Large zone low grey level emphasis
glszm LargeAreaHighGrayLevelEmphasis J17V Large zone high grey level emphasis
glszm GrayLevelNonUniformity JNSA Grey level non-uniformity
glszm GrayLevelNonUniformityNormalized Y1RO Normalised grey level non-uniformity
glszm SizeZoneNonUniformity 4JP3 Zone size non-uniformity
glszm SizeZoneNonUniformityNormalized VB3A Normalised zone size non-uniformity
glszm ZonePercentage P30P Zone percentage
glszm GrayLevelVariance BYLV Grey level variance
glszm ZoneVariance 3NSA Zone size variance
glszm ZoneEntropy GU8N Zone size entropy
ngtdm Coarseness QCDE Coarseness
ngtdm Contrast 65HE Contrast
ngtdm Busyness NQ30 Busyness
ngtdm Complexity HDEZ Complexity
ngtdm Strength 1X9X Strength
gldm SmallDependenceEmphasis SODN Low dependence emphasis
gldm LargeDependenceEmphasis IMOQ High dependence emphasis
gldm LowGrayLevelEmphasis TL9H Low grey level count emphasis
gldm HighGrayLevelEmphasis OAE7 High grey level count emphasis
gldm SmallDependenceLowGrayLevelEmphasis EQ3F Low dependence low grey level emphasis
gldm SmallDependenceHighGrayLevelEmphasis JA6D Low dependence high grey level emphasis
gldm LargeDependenceLowGrayLevelEmphasis NBZI High dependence low grey level emphasis
gldm LargeDependenceHighGrayLevelEmphasis 9QMG High dependence high grey level emphasis
gldm GrayLevelNonUniformity FP8K Grey level non-uniformity
gldm GrayLevelNonUniformityNormalized 5SPA Normalised grey level non-uniformity
gldm DependenceNonUniformity Z87G Dependence count non-uniformity
gldm DependenceNonUniformityNormalized OKJI Dependence count non-uniformity normalised
gldm DependencePercentage 6XV8 Dependence count percentage
gldm GrayLevelVariance 1PFV Grey level variance
gldm DependenceVariance DNX2 Dependence count variance
gldm DependenceEntropy FCBV Dependence count entropy
"""

#: ``class_Feature`` -> (IBSI code, IBSI name).
IBSI: dict[str, tuple[str, str]] = {
    f"{cls}_{feat}": (code, name)
    for cls, feat, code, name in (ln.split(" ", 3) for ln in _ROWS.strip().splitlines())}

#: Notes on features whose PyRadiomics value is not the IBSI value as such.
NOTES = {"firstorder_Kurtosis": "PyRadiomics kurtosis = IBSI kurtosis + 3 (not excess kurtosis)"}

_IMAGE_TYPE = re.compile(r"^(?:original|wavelet-[HL]{2,3}|log-sigma-[0-9-]+mm-3D|square|squareroot|logarithm|"
                         r"exponential|gradient|lbp-(?:2D|3D-m\d+|3D-k))_")


def feature_key(column: str) -> str | None:
    """``original_glcm_Idm`` -> ``glcm_Idm``; None for a column that is not a PyRadiomics feature."""
    text = str(column)
    if "__" in text:  # radgui's wide tables: <roi>__<feature>
        text = text.split("__", 1)[1]
    m = _IMAGE_TYPE.match(text)
    rest = text[m.end():] if m else text
    parts = rest.split("_", 1)
    if len(parts) != 2 or parts[0] not in {"shape", "shape2D", "firstorder", "glcm", "glrlm", "glszm", "ngtdm",
                                           "gldm"}:
        return None
    return rest


def ibsi_code(column: str) -> str:
    """The IBSI 1 identifier of a feature column, else :data:`NO_IBSI` ("" for a non-feature column)."""
    key = feature_key(column)
    if key is None:
        return ""
    return IBSI.get(key, (NO_IBSI, ""))[0]


def ibsi_table(columns: Iterable[str]) -> pd.DataFrame:
    """One row per feature column: ``feature, ibsi_code, ibsi_name, note`` (the IBSI sidecar)."""
    rows = []
    for col in columns:
        key = feature_key(col)
        if key is None:
            continue
        code, name = IBSI.get(key, (NO_IBSI, ""))
        rows.append({"feature": col, "ibsi_code": code, "ibsi_name": name, "note": NOTES.get(key, "")})
    return pd.DataFrame(rows, columns=["feature", "ibsi_code", "ibsi_name", "note"])


def pyradiomics_case(case: dict[str, str], image, mask, preset: Any, label: int | None = None) -> OrderedDict:
    """The row the ``pyradiomics`` CLI writes for one batch case.

    Parameters
    ----------
    case : dict
        The case's batch columns, ``Image`` and ``Mask`` first (absolute paths,
        as the CLI's default ``--format-path absolute``).
    image, mask : SimpleITK.Image
        What radgui read (the mask on the image's grid, from any mask format).
    preset : str, Preset or dict
    label : int, optional
        The ROI's label in ``mask`` (default: the preset's, else 1).
    """
    from radgui.features.extract import _radiomics
    from radgui.features.presets import load_preset

    _radiomics()
    from radiomics import featureextractor

    preset = load_preset(preset)
    extractor = featureextractor.RadiomicsFeatureExtractor(preset.extractor_params())
    row = OrderedDict(case)
    row.update(extractor.execute(image, mask, label=label))
    return row


def write_pyradiomics_csv(target, rows: list[dict]) -> str:
    """Write rows as the ``pyradiomics`` CLI does (header of the first row, later new keys sorted, ``str`` values).

    ``target``: a path (written atomically) or an open text stream. Returns the text.
    """
    first = list(rows[0].keys())
    extra = sorted({k for r in rows[1:] for k in r} - set(first))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, first + extra, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow(r)
    text = buf.getvalue()
    if isinstance(target, (str, Path)):
        from radgui.files import write_text

        write_text(target, text)
    else:
        target.write(text)
    return text


def provenance_path(output: str | Path) -> Path:
    """``features.csv`` -> ``features.csv.provenance.json`` (beside the output)."""
    output = Path(output)
    return output.with_name(output.name + ".provenance.json")


def write_provenance(output: str | Path, *, command: str, inputs: dict, preset=None, extra: dict | None = None,
                     warnings: list | None = None) -> Path:
    """Write the provenance JSON beside a CLI output: what was run, on what, with which software.

    Parameters
    ----------
    output : path
        The output file the record describes (its SHA-256 is recorded).
    command : str
        ``radgui extract``, ``radgui roi rings``, ...
    inputs : dict
        Name -> path (or list of paths) of every input file.
    preset : Preset, optional
        Its name, source and SHA-256 are recorded.
    """
    import datetime as dt
    import hashlib
    import sys

    from radgui.features.extract import versions
    from radgui.files import write_json

    output = Path(output)
    digest = None
    if output.is_file():
        h = hashlib.sha256()
        with open(output, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
    record = {
        "command": command, "argv": [str(a) for a in sys.argv[1:]],
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "output": {"file": output.name, "sha256": digest},
        "inputs": {k: ([str(p) for p in v] if isinstance(v, (list, tuple)) else str(v)) for k, v in inputs.items()},
        "software": versions(),
    }
    if preset is not None:
        record["preset"] = {"name": getattr(preset, "name", str(preset)),
                            "sha256": getattr(preset, "sha256", None)}
    if warnings:
        record["warnings"] = [str(w) for w in warnings]
    record.update(extra or {})
    return write_json(provenance_path(output), record, indent=2, default=str)
