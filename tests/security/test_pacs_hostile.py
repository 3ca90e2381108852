"""Hostile PACS settings, hostile PACS answers and a tampered cache (radgui.io.pacs); no network needed."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace

import pydicom
import pytest

from radgui.errors import InputFileError, PacsError, UntrustedInputError
from radgui.io import pacs
from dicom_factory import write_ct_series

TOKEN = "tok-7f3a-SECRET"


def _nodes(spec, **top):
    return pacs.parse_nodes({**top, "nodes": {"n": spec}}, "pacs.yaml")


@pytest.mark.parametrize("spec,message", [
    ({"ae_title": "A\\B", "host": "h", "port": 104}, "ae_title 'A\\\\B' is not an AE title"),
    ({"ae_title": "X" * 17, "host": "h", "port": 104}, "is not an AE title"),
    ({"ae_title": "A", "host": "h", "port": 70000}, "port must be a port number 0-65535, not '70000'"),
    ({"ae_title": "A", "host": "h", "port": True}, "port must be a port number"),
    ({"ae_title": "A", "host": "h;rm -rf /", "port": 104}, "is not a host name or address"),
    ({"ae_title": "A", "host": "h"}, "port missing"),
    ({"ae_title": "A", "host": "h", "port": 104, "evil": 1}, "unknown key(s) evil"),
    ({"url": "file:///etc/passwd"}, "url must be http(s)://host/..."),
    ({"url": "http://user:pw@pacs.example/dicom-web"}, "put credentials in token/token_env, not in the URL"),
    ({"url": "http://pacs.example/dicom-web", "token": TOKEN}, "refusing to send a token over plain http to pacs.example"),
    ({"url": "https://pacs.example/dicom-web", "token": "a\nX-Injected: 1"}, "the token is not a single line"),
    ({"url": "https://pacs.example/dicom-web", "token_env": "RADGUI_NO_SUCH_VAR_XYZ"}, "is not set"),
    ({"ae_title": "A", "host": "h", "port": 104, "timeout_s": 1e9}, "timeout_s must be a number of seconds"),
])
def test_bad_settings_are_refused_in_one_line(spec, message):
    with pytest.raises(PacsError) as info:
        _nodes(spec)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert TOKEN not in str(info.value)


def test_settings_file_goes_through_the_bounded_parser(tmp_path):
    p = tmp_path / "pacs.yaml"
    p.write_text("a: &x [1, 2]\nnodes:\n  n: {ae_title: A, host: h, port: *x}\n")
    with pytest.raises(UntrustedInputError):
        pacs.load_nodes(p)
    p.write_bytes(b"#" * (2 << 20))
    with pytest.raises(InputFileError, match="larger than 1 MiB"):
        pacs.load_nodes(p)
    j = tmp_path / "pacs.json"
    j.write_text('{"nodes": {"n": {"ae_title": "A", "host": "h", "port": NaN}}}')
    with pytest.raises(UntrustedInputError):
        pacs.load_nodes(j)


def test_token_is_never_printed_or_logged(caplog):
    node = _nodes({"url": "http://127.0.0.1:9/dicom-web", "token": TOKEN, "timeout_s": 2})["n"]
    assert TOKEN not in repr(node) and TOKEN not in str(node) and TOKEN not in node.describe()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PacsError) as info:
        pacs.echo(node)  # port 9 (discard) on loopback: nothing listens
    assert "unreachable" in str(info.value) and TOKEN not in str(info.value)
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("uid", ["../../etc/passwd", "1.2.3/../../x", "1.2.a", "", "1." + "2" * 70, "1..2"])
def test_hostile_uids_never_become_file_names(uid, tmp_path):
    with pytest.raises(PacsError, match="is not a DICOM UID"):
        pacs.SeriesCache(tmp_path, uid)
    assert list(tmp_path.iterdir()) == []


def _instance(tmp_path, **over):
    truth = write_ct_series(tmp_path / "src", n_slices=2, rows=8, cols=8, shuffle=False)
    ds = pydicom.dcmread(truth["paths"][0])
    for k, v in over.items():
        setattr(ds, k, v)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return truth, ds, buf.getvalue()


def test_an_instance_other_than_the_one_asked_for_is_refused(tmp_path):
    truth, ds, data = _instance(tmp_path)
    cache = pacs.SeriesCache(tmp_path / "cache", truth["series_uid"])
    with pytest.raises(PacsError, match="when 1.2.3.4 of .* was asked for"):
        cache.add("1.2.3.4", data)  # the node answered with another instance
    other = pacs.SeriesCache(tmp_path / "cache", "1.2.3")
    with pytest.raises(PacsError, match="of series .* when"):
        other.add(ds.SOPInstanceUID, data)  # right instance, wrong series
    with pytest.raises(PacsError, match="is not a readable DICOM file"):
        cache.add("1.2.3.4", b"<html>502 Bad Gateway</html>")
    assert [p.name for p in cache.folder.iterdir()] == [] and [p.name for p in other.folder.iterdir()] == []


def test_tampered_or_unvouched_cache_files_are_dropped_and_fetched_again(tmp_path):
    truth, ds, data = _instance(tmp_path)
    cache = pacs.SeriesCache(tmp_path / "cache", truth["series_uid"])
    cache.add(ds.SOPInstanceUID, data)
    cache.add(ds.SOPInstanceUID, data)  # a second delivery of the same instance: no duplicate line
    assert len((cache.folder / pacs.INDEX_NAME).read_text().splitlines()) == 1
    f = cache.folder / f"{ds.SOPInstanceUID}.dcm"
    f.write_bytes(data[:-10] + b"0123456789")  # changed after it was checked in
    (cache.folder / "9.9.9.dcm").write_bytes(data)  # a file no index line vouches for
    reopened = pacs.SeriesCache(tmp_path / "cache", truth["series_uid"])
    assert reopened.present == {}
    assert sorted(p.name for p in reopened.folder.iterdir()) == [pacs.INDEX_NAME]


def test_store_handler_refuses_unrequested_instances(tmp_path):
    truth, ds, data = _instance(tmp_path)
    cache = pacs.SeriesCache(tmp_path / "cache", truth["series_uid"])
    errors = []
    handle = pacs._store_handler(cache, {"1.2.3.4"}, errors)
    event = SimpleNamespace(dataset=pydicom.dcmread(io.BytesIO(data)), file_meta=ds.file_meta)
    assert handle(event) == 0xC000
    assert errors == [f"unrequested instance '{ds.SOPInstanceUID}'"]
    assert [p.name for p in cache.folder.iterdir()] == []


def test_a_node_answering_bad_uids_or_escapes_is_refused(monkeypatch):
    node = _nodes({"ae_title": "A", "host": "127.0.0.1", "port": 104})["n"]
    row = pydicom.Dataset()
    row.PatientID, row.StudyInstanceUID, row.SeriesInstanceUID = "P\x1b[31mX", "1.2.3", "../evil"
    monkeypatch.setattr(pacs, "_dimse_find", lambda node, q, limit=pacs.MAX_RESULTS: [row])
    with pytest.raises(PacsError, match=r"answered with a bad series UID '\.\./evil' is not a DICOM UID"):
        pacs.find(node)
    row.SeriesInstanceUID = "1.2.3.4"
    (found,) = pacs.find(node)
    assert "\x1b" not in found["patient_id"]
    dup = pydicom.Dataset()
    dup.SOPInstanceUID = "1.2.3.4.5"
    monkeypatch.setattr(pacs, "_dimse_find", lambda node, q, limit=pacs.MAX_RESULTS: [dup, dup])
    assert pacs.list_instances(node, "1.2.3", "1.2.3.4") == ["1.2.3.4.5"]


@pytest.mark.parametrize("kwargs,message", [
    ({"patient_id": "*"}, "must be printable, at most 64 characters, without * ? \\"),
    ({"accession": "A\\B"}, "must be printable"),
    ({"date_from": "2024-01-01"}, "is not YYYYMMDD"),
    ({"date_from": "20240301", "date_to": "20240101"}, "ends before it starts"),
    ({"modality": "CT\\MR"}, "is not a DICOM modality code"),
])
def test_bad_search_criteria_are_refused_before_any_traffic(kwargs, message, monkeypatch):
    node = _nodes({"ae_title": "A", "host": "127.0.0.1", "port": 104})["n"]
    monkeypatch.setattr(pacs, "_dimse_find", lambda *a, **k: pytest.fail("queried the node"))
    with pytest.raises(PacsError) as info:
        pacs.find(node, **kwargs)
    assert message in str(info.value)


def test_pdf_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("RADGUI_DEID_KEY", "radgui-tests")
    truth = write_ct_series(tmp_path / "ct", n_slices=2, rows=8, cols=8)
    fake = tmp_path / "x.pdf"
    fake.write_bytes(b"MZ\x90\x00 not a pdf")
    with pytest.raises(InputFileError, match="not a PDF file"):
        pacs.encapsulate_pdf(fake, truth["paths"], tmp_path / "x.dcm")
    named = tmp_path / "named.pdf"
    named.write_bytes(b"%PDF-1.4\nBT (Patient: Test Phantom) Tj ET\n%%EOF\n")
    with pytest.raises(InputFileError, match="the PDF contains the patient's PatientName"):
        pacs.encapsulate_pdf(named, truth["paths"], tmp_path / "n.dcm")
    assert not (tmp_path / "x.dcm").exists() and not (tmp_path / "n.dcm").exists()
    out = pacs.encapsulate_pdf(named, truth["paths"], tmp_path / "n.dcm", identifying=True)
    assert pydicom.dcmread(out).PatientName == "Test^Phantom"


def test_send_refuses_everything_when_one_file_is_not_dicom(tmp_path, monkeypatch):
    node = _nodes({"ae_title": "A", "host": "127.0.0.1", "port": 104})["n"]
    truth = write_ct_series(tmp_path / "ct", n_slices=1, rows=8, cols=8)
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\0" * 10)
    monkeypatch.setattr(pacs, "_associate", lambda *a, **k: pytest.fail("connected"))
    with pytest.raises(InputFileError, match="junk.dcm: not a readable DICOM file"):
        pacs.send(node, [truth["paths"][0], junk])
