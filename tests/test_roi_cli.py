"""``radgui roi grow|rings|measure`` on the lung1 case and on bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from radgui.cli import main
from radgui.io import load_mask, load_volume, mask_to_array


def test_grow_rings_measure_on_lung1(lung1, tmp_path, capsys):
    image, label = lung1
    vol = load_volume(image)
    truth = mask_to_array(load_mask(label, vol)) > 0
    seed = ",".join(str(int(v)) for v in np.round(np.argwhere(truth).mean(0)))
    out = tmp_path / "grown.nrrd"
    assert main(["roi", "grow", str(image), "--seed", seed, "--preset", "solid", "-o", str(out),
                 "--json", str(tmp_path / "g.json")]) == 0
    grown = mask_to_array(load_mask(out, vol)) > 0
    assert 2 * (grown & truth).sum() / (grown.sum() + truth.sum()) >= 0.8
    info = json.loads((tmp_path / "g.json").read_text())
    assert info["params"]["preset"] == "solid" and info["measures"]["voxel_count"] == grown.sum()

    vdir = tmp_path / "voi"
    assert main(["roi", "rings", str(image), str(label), "--distances", "3,6,9", "--core", "2",
                 "--unions", "--clip", "body", "-o", str(vdir)]) == 0
    report = json.loads((vdir / "rings.json").read_text())
    assert set(report["vois"]) == {"core2mm", "ring3mm", "ring6mm", "ring9mm", "tumour+ring3mm",
                                   "tumour+ring6mm", "tumour+ring9mm"}
    ring3 = mask_to_array(load_mask(vdir / "ring3mm.nrrd", vol)) > 0
    assert ring3.any() and not (ring3 & truth).any()
    assert report["vois"]["ring3mm"]["thickness_through_centroid"]["x"]["mm"] == pytest.approx(3.0, abs=0.9)

    csv = tmp_path / "m.csv"
    assert main(["roi", "measure", str(image), str(label), str(vdir / "ring3mm.nrrd"), "--csv", str(csv)]) == 0
    table = pd.read_csv(csv)
    assert list(table["voxel_count"]) == [truth.sum(), ring3.sum()]
    assert table.loc[0, "volume_ml"] == pytest.approx(truth.sum() * np.prod(vol.spacing) / 1000)


def test_bad_input_exits_2_with_one_line(lung1, tmp_path, capsys):
    image, label = lung1
    assert main(["roi", "grow", str(image), "--seed", "999,0,0", "-o", str(tmp_path / "x.nrrd")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "outside the image" in err[0]
    assert main(["roi", "grow", str(image), "-o", str(tmp_path / "x.nrrd")]) == 2
    assert "--seed" in capsys.readouterr().err
    assert main(["roi", "rings", str(image), str(label), "--distances", "3,-1", "-o", str(tmp_path)]) == 2
    assert "positive" in capsys.readouterr().err
    assert main(["roi", "measure", str(image), str(tmp_path / "missing.nrrd")]) == 2
    assert "missing.nrrd" in capsys.readouterr().err
    # a seed in air grows nothing: a clear message, no empty file
    assert main(["roi", "grow", str(image), "--seed", "1,5,5", "-o", str(tmp_path / "air.nrrd")]) == 2
    assert "nothing grew" in capsys.readouterr().err
    assert not (tmp_path / "air.nrrd").exists()
