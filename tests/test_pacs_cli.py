"""``radgui pacs echo|find|get|send`` against a real Orthanc on loopback (skips when Orthanc is absent)."""

from __future__ import annotations

import json

import pydicom
import pytest

from radgui.cli import main
from dicom_factory import write_ct_series
import orthanc as orthanc_helper

AE = "RADGUICLI"


@pytest.fixture(autouse=True)
def _deid_key(monkeypatch):
    monkeypatch.setenv("RADGUI_DEID_KEY", "radgui-tests")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    why = orthanc_helper.missing()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("orthanc_cli")
    store_port = orthanc_helper.free_port()
    srv = orthanc_helper.start_orthanc(tmp, AE, store_port)
    ct = write_ct_series(tmp / "ct", n_slices=5, rows=16, cols=16)
    for p in ct["paths"]:
        srv.upload(p)
    nodes = tmp / "pacs.yaml"
    nodes.write_text(f"calling_ae: {AE}\nstore_port: {store_port}\nnodes:\n"
                     f"  dimse:\n    ae_title: {srv.aet}\n    host: 127.0.0.1\n    port: {srv.dicom_port}\n"
                     f"  web:\n    url: {srv.dicomweb}\n    token_env: RADGUI_TEST_PACS_TOKEN\n")
    yield srv, ct, nodes
    srv.stop()


def test_cli_echo_find_get_send(setup, tmp_path, capsys, monkeypatch):
    srv, ct, nodes = setup
    monkeypatch.setenv("RADGUI_TEST_PACS_TOKEN", "tok-do-not-print")
    for name in ("dimse", "web"):
        assert main(["pacs", "echo", "--nodes", str(nodes), "--node", name]) == 0
    assert main(["pacs", "find", "--nodes", str(nodes), "--node", "web", "--patient-id", "PHANTOM01", "--json"]) == 0
    out = capsys.readouterr().out
    assert "tok-do-not-print" not in out
    rows = json.loads(out[out.index("["):])
    assert [r["series_uid"] for r in rows] == [ct["series_uid"]]
    assert main(["pacs", "get", "--nodes", str(nodes), "--node", "dimse", "--study-uid", ct["study_uid"],
                 "--series-uid", ct["series_uid"], "--cache", str(tmp_path / "cache")]) == 0
    captured = capsys.readouterr()
    folder = tmp_path / "cache" / ct["series_uid"]
    assert captured.out.strip() == str(folder) and "5/5 instances" in captured.err
    assert len(list(folder.glob("*.dcm"))) == 5
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    assert main(["pacs", "send", "--nodes", str(nodes), "--node", "web", "--pdf", str(pdf),
                 "--source", str(folder)]) == 0
    assert "stored 1 file(s)" in capsys.readouterr().out
    sop = pydicom.dcmread(tmp_path / "report.pdf.dcm").SOPInstanceUID
    assert any(i["MainDicomTags"].get("SOPInstanceUID") == sop for i in srv.get("/instances?expand"))


def test_cli_errors_are_one_line_exit_2(setup, tmp_path, capsys, monkeypatch):
    srv, ct, nodes = setup
    monkeypatch.setenv("RADGUI_TEST_PACS_TOKEN", "tok-do-not-print")
    assert main(["pacs", "echo", "--nodes", str(nodes)]) == 2  # two nodes: which one?
    err = capsys.readouterr().err
    assert err == "radgui pacs: error: several PACS nodes are configured (dimse, web); choose one\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"nodes:\n  x:\n    ae_title: WRONG\n    host: 127.0.0.1\n    port: {srv.dicom_port}\n")
    assert main(["pacs", "echo", "--nodes", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "association refused (" in err and "'WRONG'" in err
    assert main(["pacs", "send", "--nodes", str(nodes), "--node", "dimse", "--pdf", str(bad)]) == 2
    assert capsys.readouterr().err == "radgui pacs: error: --pdf needs --source (the series the report is about)\n"
