"""``radgui series PATH [--json]``."""

from __future__ import annotations

import json

from radgui.cli import main
from dicom_factory import write_ct_series, write_junk, write_pet_series


def test_series_table_and_json(tmp_path, capsys):
    ct = write_ct_series(tmp_path / "ct", description="thorax CT")
    write_pet_series(tmp_path / "pt", study_uid=ct["study_uid"])
    pos = [[0.0, 0.0, 2.5 * k] for k in range(8) if k != 3]
    write_ct_series(tmp_path / "gap", positions=pos, description="gappy", name="gap")
    write_junk(tmp_path / "junk")
    assert main(["series", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "thorax CT" in out and "PET phantom" in out and "REFUSED: 1 missing slice" in out
    assert "not DICOM" in out
    assert main(["series", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_desc = {s["description"]: s for s in data["series"]}
    assert by_desc["thorax CT"]["slices"] == 10 and by_desc["thorax CT"]["spacing_mm_zyx"] == [2.5, 0.8, 0.7]
    assert by_desc["PET phantom"]["modality"] == "PT"
    assert by_desc["gappy"]["loadable"] is False
    assert data["skipped"]["not DICOM"] == 2


def test_series_bad_path_exits_2(tmp_path, capsys):
    assert main(["series", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err
    write_junk(tmp_path / "j")
    assert main(["series", str(tmp_path / "j")]) == 2
