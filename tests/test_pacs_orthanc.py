"""radgui.io.pacs against a real Orthanc on loopback (DIMSE and DICOMweb): search, retrieve, store, failures.

Skips cleanly when the Orthanc binary or its DICOMweb plugin is absent (tests/orthanc.py).
"""

from __future__ import annotations

import json
import socket
import threading

import numpy as np
import pydicom
import pytest

from radgui.errors import CancelledError, PacsError
from radgui.io import list_series, load_volume
from radgui.io import pacs
from dicom_factory import write_ct_series
import orthanc as orthanc_helper

RADGUI_AE = "RADGUITEST"


@pytest.fixture(autouse=True)
def _deid_key(monkeypatch):
    monkeypatch.setenv("RADGUI_DEID_KEY", "radgui-tests")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    why = orthanc_helper.missing()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("orthanc")
    store_port = orthanc_helper.free_port()
    srv = orthanc_helper.start_orthanc(tmp, RADGUI_AE, store_port)
    srv.store_port = store_port
    data = tmp_path_factory.mktemp("series")
    srv.ct = write_ct_series(data / "ct", n_slices=8, rows=24, cols=32)
    srv.ct2 = write_ct_series(data / "mr", n_slices=4, rows=16, cols=16, modality="MR", description="MR other",
                              extra=lambda ds, k: (setattr(ds, "PatientID", "OTHER02"),
                                                   setattr(ds, "AccessionNumber", "ACC999"),
                                                   setattr(ds, "StudyDate", "20230105")))
    for p in [*srv.ct["paths"], *srv.ct2["paths"]]:
        srv.upload(p)
    yield srv
    srv.stop()
    assert srv.process.poll() is not None


def _dimse(server, **kw) -> pacs.Node:
    spec = {"ae_title": server.aet, "host": "127.0.0.1", "port": server.dicom_port, **kw}
    return pacs.parse_nodes({"calling_ae": RADGUI_AE, "store_port": server.store_port, "timeout_s": 10,
                             "nodes": {"orthanc": spec}})["orthanc"]


def _web(server) -> pacs.Node:
    return pacs.parse_nodes({"nodes": {"web": {"url": server.dicomweb, "token": "s3cret-token"}}})["web"]


def test_echo_both_protocols(server):
    pacs.echo(_dimse(server))
    pacs.echo(_web(server))


@pytest.mark.parametrize("kind", ["dimse", "dicomweb"])
def test_find_by_patient_accession_dates_modality(server, kind):
    node = _dimse(server) if kind == "dimse" else _web(server)
    ct_uid, mr_uid = server.ct["series_uid"], server.ct2["series_uid"]
    assert [r["series_uid"] for r in pacs.find(node, patient_id="PHANTOM01")] == [ct_uid]
    assert [r["series_uid"] for r in pacs.find(node, accession="ACC999")] == [mr_uid]
    assert [r["series_uid"] for r in pacs.find(node, date_from="20230101", date_to="20231231")] == [mr_uid]
    assert [r["series_uid"] for r in pacs.find(node, modality="MR")] == [mr_uid]
    assert pacs.find(node, patient_id="NOBODY") == []
    (row,) = pacs.find(node, patient_id="PHANTOM01", modality="CT")
    assert (row["study_uid"], row["modality"], row["accession"]) == (server.ct["study_uid"], "CT", "ACC123")


@pytest.mark.parametrize("kind,method", [("dimse", "get"), ("dimse", "move"), ("dicomweb", "get")])
def test_retrieve_then_load_through_the_dicom_path(server, tmp_path, kind, method):
    node = _dimse(server) if kind == "dimse" else _web(server)
    seen = []
    folder = pacs.retrieve(node, server.ct["study_uid"], server.ct["series_uid"], tmp_path,
                           method=method, progress=lambda d, t: seen.append((d, t)))
    assert folder == tmp_path / server.ct["series_uid"]
    assert seen[0] == (0, 8) and seen[-1] == (8, 8)
    assert len(list(folder.glob("*.dcm"))) == 8
    (info,) = list_series(folder)
    assert info.uid == server.ct["series_uid"] and info.problem is None
    vol = load_volume(folder)
    np.testing.assert_allclose(np.asarray(vol.array), server.ct["values"], atol=1e-3)


def test_retrieve_interrupted_resumes_without_duplicates(server, tmp_path):
    node = _dimse(server)
    calls = {"n": 0}

    def cancel():
        calls["n"] += 1
        return calls["n"] > 3  # the first poll is before any instance: stop after 3 arrived

    with pytest.raises(CancelledError, match="cancelled after 3 of 8 instances"):
        pacs.retrieve(node, server.ct["study_uid"], server.ct["series_uid"], tmp_path, cancel=cancel)
    folder = tmp_path / server.ct["series_uid"]
    first = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.dcm")}
    assert len(first) == 3
    # what a kill -9 can leave: a torn index line and a half-written temporary file
    with open(folder / pacs.INDEX_NAME, "a") as f:
        f.write('{"sop": "1.2.3", "sha')
    (folder / ".radgui-tmp-half.dcm").write_bytes(b"DICM half")
    fetched = []
    pacs.retrieve(node, server.ct["study_uid"], server.ct["series_uid"], tmp_path,
                  progress=lambda d, t: fetched.append(d))
    assert fetched == [3, 4, 5, 6, 7, 8]  # only the five missing came over the wire
    lines = [json.loads(x) for x in (folder / pacs.INDEX_NAME).read_text().splitlines()]
    assert len(lines) == 8 and len({x["sop"] for x in lines}) == 8
    assert sorted(p.name for p in folder.iterdir()) == sorted([pacs.INDEX_NAME, *[f"{x['sop']}.dcm" for x in lines]])
    assert all(folder.joinpath(n).stat().st_mtime_ns == t for n, t in first.items())  # not rewritten
    assert load_volume(folder).shape == server.ct["values"].shape


@pytest.mark.parametrize("kind", ["dimse", "dicomweb"])
def test_send_seg_sr_and_pdf_back(server, tmp_path, kind):
    from radgui.io.seg import write_seg
    from radgui.report.sr import write_sr

    node = _dimse(server) if kind == "dimse" else _web(server)
    folder = pacs.retrieve(_dimse(server), server.ct["study_uid"], server.ct["series_uid"], tmp_path / "cache")
    vol = load_volume(folder)
    m = np.zeros(vol.shape, bool)
    m[2:5, 5:15, 5:20] = True
    seg = write_seg({"lesion": m}, vol, tmp_path / "seg.dcm", series_number=910 + (kind == "dicomweb"))
    write_sr(vol, seg, {"lesion": {"volume_ml": 1.5}}, tmp_path / "sr.dcm")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    enc = pacs.encapsulate_pdf(pdf, sorted(folder.glob("*.dcm")), tmp_path / "report.dcm")
    ds = pydicom.dcmread(enc)
    assert ds.StudyInstanceUID == server.ct["study_uid"]  # filed with the source study
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == server.ct["series_uid"]
    assert len(ds.SourceInstanceSequence) == 8
    assert ds.PatientID != "PHANTOM01" and "Phantom" not in str(ds.PatientName)  # de-identified by default
    assert bytes(ds.EncapsulatedDocument).startswith(pdf.read_bytes())
    sent = [seg, tmp_path / "sr.dcm", enc]
    assert pacs.send(node, sent) == 3
    for p in sent:
        sop = pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID
        assert server.get(f"/tools/lookup".replace("/tools/lookup", "/instances?expand"))  # server answers
        found = [i for i in server.get("/instances?expand") if i["MainDicomTags"].get("SOPInstanceUID") == sop]
        assert len(found) == 1, p.name


def test_identifying_pdf_keeps_the_patient(server, tmp_path):
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    enc = pacs.encapsulate_pdf(pdf, server.ct["paths"][:2], tmp_path / "r.dcm", identifying=True)
    assert pydicom.dcmread(enc).PatientID == "PHANTOM01"


# ------------------------------------------------------------------------------------------- failures
def test_unreachable_node_is_one_clear_line(tmp_path):
    port = orthanc_helper.free_port()  # nothing listens there
    node = pacs.parse_nodes({"nodes": {"gone": {"ae_title": "X", "host": "127.0.0.1", "port": port}}})["gone"]
    with pytest.raises(PacsError, match=rf"^node 'gone' \(X@127.0.0.1:{port}\): unreachable \(connection refused\)$"):
        pacs.echo(node)
    with pytest.raises(PacsError, match="unreachable"):
        pacs.retrieve(node, "1.2.3", "1.2.3.4", tmp_path)
    assert list((tmp_path / "1.2.3.4").iterdir()) == []  # nothing half-made in the cache
    web = pacs.parse_nodes({"nodes": {"w": {"url": f"http://127.0.0.1:{port}/dicom-web"}}})["w"]
    with pytest.raises(PacsError, match=r"^node 'w' \(http://127.0.0.1:\d+/dicom-web\): echo: unreachable"):
        pacs.echo(web)


def test_wrong_ae_title_is_refused_with_the_reason(server):
    with pytest.raises(PacsError) as info:
        pacs.echo(_dimse(server, ae_title="WRONGAE"))
    # Orthanc answers A-ASSOCIATE-RJ; rarely pynetdicom sees the closed socket before it (then no reason)
    assert str(info.value) in (
        f"node 'orthanc' (WRONGAE@127.0.0.1:{server.dicom_port}): association refused (called ae title not "
        "recognised): is 'WRONGAE' the node's AE title?",
        f"node 'orthanc' (WRONGAE@127.0.0.1:{server.dicom_port}): association refused (the node closed the "
        f"connection without a reason): are 'WRONGAE' (its AE title) and '{RADGUI_AE}' (ours) right, and does it "
        "accept these services?")


def test_refused_association_names_our_ae_title():
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    scp = AE(ae_title="STRICT")
    scp.add_supported_context(Verification)
    scp.require_calling_aet = ["SOMEONEELSE"]
    port = orthanc_helper.free_port()
    srv = scp.start_server(("127.0.0.1", port), block=False)
    try:
        node = pacs.parse_nodes({"calling_ae": "RADGUI", "nodes": {
            "s": {"ae_title": "STRICT", "host": "127.0.0.1", "port": port}}})["s"]
        with pytest.raises(PacsError, match=r"association refused \(calling ae title not recognised\): the node "
                                            r"does not know our AE title 'RADGUI'"):
            pacs.echo(node)
    finally:
        srv.shutdown()


def test_silent_node_times_out():
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)  # accepts TCP, never speaks DICOM
    port = lsock.getsockname()[1]
    held = []
    stop = threading.Event()

    def accept():
        lsock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(lsock.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        node = pacs.parse_nodes({"nodes": {"slow": {"ae_title": "S", "host": "127.0.0.1", "port": port,
                                                     "timeout_s": 1}}})["slow"]
        with pytest.raises(PacsError, match=r"^node 'slow' .*: the association was not accepted within 1 s \(timeout\)$"):
            pacs.echo(node)
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        lsock.close()


def test_retrieve_killed_half_way_resumes(server, tmp_path):
    """A real kill -9 in the middle of a C-GET: the cache keeps only complete instances and resumes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = f"""
import os, signal
from radgui.io import pacs
node = pacs.parse_nodes({{"calling_ae": {RADGUI_AE!r}, "nodes": {{"o": {{"ae_title": {server.aet!r},
    "host": "127.0.0.1", "port": {server.dicom_port}}}}}}})["o"]
def progress(done, total):
    if done == 4:
        os.kill(os.getpid(), signal.SIGKILL)
pacs.retrieve(node, {server.ct['study_uid']!r}, {server.ct['series_uid']!r}, {str(tmp_path)!r}, progress=progress)
"""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-500:]
    folder = tmp_path / server.ct["series_uid"]
    assert len(list(folder.glob("*.dcm"))) == 4
    fetched = []
    pacs.retrieve(_dimse(server), server.ct["study_uid"], server.ct["series_uid"], tmp_path,
                  progress=lambda d, t: fetched.append(d))
    assert fetched == [4, 5, 6, 7, 8]
    lines = (folder / pacs.INDEX_NAME).read_text().splitlines()
    assert len(lines) == 8 == len({json.loads(x)["sop"] for x in lines})
    assert len(list(folder.glob("*.dcm"))) == 8


def test_silent_dicomweb_node_times_out():
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)  # the kernel accepts the connection; nobody ever answers the HTTP request
    try:
        port = lsock.getsockname()[1]
        node = pacs.parse_nodes({"nodes": {"w": {"url": f"http://127.0.0.1:{port}/dicom-web", "timeout_s": 1}}})["w"]
        with pytest.raises(PacsError, match=r"^node 'w' \(http://127.0.0.1:\d+/dicom-web\): search: no answer "
                                            r"within 1 s \(timeout\)$"):
            pacs.find(node, patient_id="X")
    finally:
        lsock.close()
