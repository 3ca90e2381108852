"""Features as other tools read them: the pyradiomics CLI's CSV, PyRadiomics batch manifests, IBSI, provenance."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radgui.cli import main
from radgui.features.cohort import read_manifest
from radgui.features.ibsi import IBSI, NO_IBSI, ibsi_code, ibsi_table

PYRADIOMICS = Path(sys.executable).with_name("pyradiomics")


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def reference_csv(tmp_path_factory, lung1):
    """The real `pyradiomics` CLI on lung1 with radgui's ct-original parameter file."""
    if not PYRADIOMICS.exists():
        pytest.skip("the pyradiomics console script is not installed")
    from radgui.features.presets import preset_path

    d = tmp_path_factory.mktemp("pyrad")
    batch = d / "batch.csv"
    batch.write_text(f"Image,Mask\n{lung1[0]},{lung1[1]}\n")
    out = d / "ref.csv"
    subprocess.run([str(PYRADIOMICS), str(batch), "--param", str(preset_path("ct-original")), "-o", str(out),
                    "-f", "csv"], check=True, capture_output=True, timeout=600)
    return batch, out


def test_pyradiomics_format_identical_to_the_cli(tmp_path, lung1, reference_csv):
    _, ref = reference_csv
    out = tmp_path / "ours.csv"
    assert main(["extract", "--image", str(lung1[0]), "--mask", str(lung1[1]), "--format", "pyradiomics",
                 "-o", str(out), "--quiet"]) == 0
    theirs, ours = _rows(ref), _rows(out)
    assert len(theirs[0]) == 131 and ours[0] == theirs[0]  # same columns, same order
    assert ours[1] == theirs[1]  # same values, as text (diagnostics hashes included)


def test_pyradiomics_batch_csv_is_a_manifest(tmp_path, lung1, reference_csv):
    batch, ref = reference_csv
    manifest = read_manifest(batch)
    assert list(manifest["patient_id"]) == ["case1"] and manifest["image"][0] == str(lung1[0])
    out = tmp_path / "batch_out.csv"
    assert main(["extract", "--manifest", str(batch), "--format", "pyradiomics", "-o", str(out), "--quiet"]) == 0
    assert _rows(out) == _rows(ref)
    radgui_out = tmp_path / "radgui.csv"
    assert main(["extract", "--manifest", str(batch), "-o", str(radgui_out), "--quiet"]) == 0
    table = pd.read_csv(radgui_out)
    assert table["patient_id"].tolist() == ["case1"]
    ref_row = pd.read_csv(ref).iloc[0]
    assert table["original_firstorder_Mean"][0] == pytest.approx(float(ref_row["original_firstorder_Mean"]), rel=1e-9)
    prov = json.loads((tmp_path / "radgui.csv.provenance.json").read_text())
    assert prov["command"] == "radgui extract" and prov["summary"]["done"] == 1


def test_provenance_and_ibsi_sidecars(tmp_path, lung1):
    out = tmp_path / "f.csv"
    assert main(["extract", "--image", str(lung1[0]), "--mask", str(lung1[1]), "-o", str(out), "--quiet"]) == 0
    prov = json.loads((tmp_path / "f.csv.provenance.json").read_text())
    import hashlib

    assert prov["output"] == {"file": "f.csv", "sha256": hashlib.sha256(out.read_bytes()).hexdigest()}
    assert prov["inputs"]["image"] == str(lung1[0]) and prov["preset"]["name"] == "ct-original"
    assert len(prov["preset"]["sha256"]) == 64 and prov["software"]["pyradiomics"]
    ibsi = pd.read_csv(tmp_path / "f.csv.ibsi.csv", keep_default_na=False).set_index("feature")
    assert ibsi.loc["original_firstorder_Mean", "ibsi_code"] == "Q4LE"
    assert ibsi.loc["original_glcm_JointEntropy", "ibsi_code"] == "TU9B"
    assert ibsi.loc["original_shape_MeshVolume", "ibsi_code"] == "RNU0"
    assert ibsi.loc["original_glcm_MCC", "ibsi_code"] == NO_IBSI
    assert ibsi.loc["original_firstorder_TotalEnergy", "ibsi_code"] == NO_IBSI
    assert "+ 3" in ibsi.loc["original_firstorder_Kurtosis", "note"]
    features = [c for c in pd.read_csv(out, nrows=0).columns if c.startswith("original_")]
    assert len(ibsi) == len(features) == 107


def test_ibsi_codes_are_unique_four_characters():
    codes = [c for c, _ in IBSI.values()]
    assert all(len(c) == 4 and c.isalnum() and c.upper() == c for c in codes)
    # one code may serve two PyRadiomics names only where PyRadiomics documents them as the same feature
    dup = {c for c in codes if codes.count(c) > 1}
    assert dup == set()
    assert ibsi_code("wavelet-LLH_glcm_Idm") == "WF0Z" and ibsi_code("tumour__original_glcm_Idn") == "NDRX"
    assert ibsi_code("patient_id") == "" and ibsi_table(["roi", "original_shape_Maximum2DDiameterSlice"]) \
        .to_dict("records") == [{"feature": "original_shape_Maximum2DDiameterSlice", "ibsi_code": NO_IBSI,
                                 "ibsi_name": "", "note": ""}]


def test_extract_cli_reads_rtstruct_by_name(tmp_path):
    from dicom_factory import write_ct_series, write_rtstruct

    truth = write_ct_series(tmp_path / "ct", rows=48, cols=64)
    polys = []
    for k in (3, 4, 5):
        z = truth["positions"][k][2]
        polys.append(np.array([[-16.1, -27.3, z], [-4.2, -27.3, z], [-4.2, -12.5, z], [-16.1, -12.5, z]]))
    rs = write_rtstruct(tmp_path / "RS.dcm", truth, {"GTV": polys, "other": polys[:1]})
    out = tmp_path / "f.csv"
    assert main(["extract", "--image", str(tmp_path / "ct"), "--mask", f"{rs}#GTV", "--roi",
                 f"other={rs}#other", "-o", str(out), "--quiet"]) == 0
    table = pd.read_csv(out, index_col=0)
    assert list(table.index) == ["tumour", "other"]
    assert table.loc["tumour", "original_shape_VoxelVolume"] > table.loc["other", "original_shape_VoxelVolume"]
