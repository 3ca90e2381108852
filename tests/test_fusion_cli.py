"""``radgui petct fuse|features`` over files and a DICOM PET/CT study."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radgui.cli import main
from dicom_factory import write_ct_series, write_pet_series


def _write(path, arr, spacing=(1.0, 1.0, 1.0)):
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return str(path)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(2)
    tumour = np.zeros((18, 18, 18), np.uint8)
    tumour[5:13, 5:13, 5:13] = 1
    ct = (np.where(tumour, 10.0, -500.0) + rng.normal(0, 30, tumour.shape)).astype(np.float32)
    pet = (np.where(tumour, 9.0, 1.5) + rng.uniform(0, 1, tumour.shape)).astype(np.float32)
    return (tmp_path, _write(tmp_path / "ct.nrrd", ct), _write(tmp_path / "pet.nrrd", pet),
            _write(tmp_path / "mask.nrrd", tumour), ct, pet, tumour.astype(bool))


def test_fuse_writes_the_fused_image(files, capsys):
    folder, ct_p, pet_p, _, ct, pet, _ = files
    out = folder / "fused.nrrd"
    assert main(["petct", "fuse", ct_p, pet_p, "--weight", "0.3", "-o", str(out), "--json",
                 str(folder / "f.json")]) == 0
    arr = sitk.GetArrayFromImage(sitk.ReadImage(str(out)))
    expected = 0.3 * np.clip(pet, 0, 20) / 20 + 0.7 * (np.clip(ct, -1000, 1000) + 1000) / 2000
    np.testing.assert_allclose(arr, expected, atol=1e-6)
    assert json.loads((folder / "f.json").read_text())["fusion"]["weight"] == 0.3
    assert "wrote" in capsys.readouterr().out


def test_features_writes_one_row_with_prefixed_columns(files):
    folder, ct_p, pet_p, mask_p, ct, pet, tumour = files
    out = folder / "feat.csv"
    assert main(["petct", "features", ct_p, pet_p, "--mask", mask_p, "--fusion", "wavelet", "--ring-mm", "2",
                 "--core-mm", "2", "--id", "p7", "-o", str(out), "--quiet"]) == 0
    table = pd.read_csv(out, index_col="patient_id")
    assert table.index.tolist() == ["p7"]
    prefixes = list(dict.fromkeys(c.split("__")[0] for c in table.columns))
    assert prefixes == [f"{i}_{v}" for i in ("ct", "pet", "fused") for v in ("tumour", "ring2mm", "core2mm",
                                                                              "tumour+ring2mm")]
    assert table.at["p7", "ct_tumour__original_firstorder_Mean"] == pytest.approx(ct[tumour].mean(), rel=1e-5)
    prov = json.loads((folder / "feat.csv.provenance.json").read_text())
    assert prov["fusion"]["method"] == "wavelet" and prov["vois"]["tumour"] == 512


def test_features_of_a_dicom_petct_study(tmp_path):
    ct = write_ct_series(tmp_path / "CT", rows=48, cols=64)
    write_pet_series(tmp_path / "PT", study_uid=ct["study_uid"], for_uid=ct["for_uid"])
    from radgui.io.petct import load_petct

    pair = load_petct(tmp_path)
    # the hot sphere of the PET phantom (radius 12 mm at x,y,z = 0,0,20), drawn on the CT grid
    z, y, x = np.meshgrid(*[np.arange(n) for n in pair.ct.shape], indexing="ij")
    oz, oy, ox = pair.ct.origin
    sz, sy, sx = pair.ct.spacing
    r = np.sqrt((ox + x * sx) ** 2 + (oy + y * sy) ** 2 + (oz + z * sz - 20.0) ** 2)
    mask = (r < 9.0).astype(np.uint8)
    img = sitk.GetImageFromArray(mask)
    img.CopyInformation(pair.ct.image)
    sitk.WriteImage(img, str(tmp_path / "tumour.nrrd"))
    out = tmp_path / "f.csv"
    assert main(["petct", "features", str(tmp_path), "--mask", str(tmp_path / "tumour.nrrd"), "--images",
                 "pet,fused", "--ring-mm", "3", "--core-mm", "2", "-o", str(out), "--quiet"]) == 0
    table = pd.read_csv(out, index_col="patient_id")
    # inside the sphere the PET is SUV 4 (linear interpolation of a constant, away from its edge)
    assert table.at["case", "pet_core2mm__original_firstorder_Median"] == pytest.approx(4.0, rel=1e-2)
    assert not any(c.startswith("ct_") for c in table.columns)


@pytest.mark.parametrize("extra,match", [
    (["--weight", "1.5"], r"\[0, 1\]"),
    (["--images", "ct,mr"], "images must be"),
    (["--preset", "mr=ct-original"], "must be ct, pet or fused"),
    (["--preset", "fused=nope"], "nope"),
    (["--ring-mm", "-2"], "positive"),
])
def test_bad_input_exits_2_with_one_line(files, capsys, extra, match):
    _, ct_p, pet_p, mask_p, *_ = files
    assert main(["petct", "features", ct_p, pet_p, "--mask", mask_p, "--quiet", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(match, err), err


def test_pet_on_another_grid_needs_consent_for_files(files, capsys):
    folder, ct_p, _, mask_p, _, pet, _ = files
    coarse = _write(folder / "pet2.nrrd", pet[::2, ::2, ::2].copy(), spacing=(2.0, 2.0, 2.0))
    assert main(["petct", "features", ct_p, coarse, "--mask", mask_p, "--quiet"]) == 2
    assert "explicit consent" in capsys.readouterr().err
    out = folder / "c.csv"
    assert main(["petct", "features", ct_p, coarse, "--mask", mask_p, "--quiet", "--consent", "--ring-mm", "2",
                 "--core-mm", "2", "-o", str(out)]) == 0
    prov = json.loads((folder / "c.csv.provenance.json").read_text())
    assert any("explicit consent" in w for w in prov["extraction"]["pet"]["warnings"])


def test_one_path_must_be_a_study_folder(files, capsys):
    _, ct_p, _, mask_p, *_ = files
    assert main(["petct", "features", ct_p, "--mask", mask_p]) == 2
    assert "give the PET image too" in capsys.readouterr().err
