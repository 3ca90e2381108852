"""PACS dock driven like a user against a real Orthanc: load nodes, test, search, retrieve (opens the image), cancel."""

from __future__ import annotations

import pytest

import orthanc as orthanc_helper
from dicom_factory import write_ct_series

napari = pytest.importorskip("napari")
AE = "RADGUIDOCK"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    why = orthanc_helper.missing()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("orthanc_dock")
    srv = orthanc_helper.start_orthanc(tmp, AE, orthanc_helper.free_port())
    srv.ct = write_ct_series(tmp / "ct", n_slices=6, rows=16, cols=16)
    for p in srv.ct["paths"]:
        srv.upload(p)
    srv.nodes = tmp / "pacs.yaml"
    srv.nodes.write_text(f"calling_ae: {AE}\nnodes:\n  orthanc:\n    ae_title: {srv.aet}\n    host: 127.0.0.1\n"
                         f"    port: {srv.dicom_port}\n")
    yield srv
    srv.stop()


@pytest.fixture
def dock(qtbot, server, tmp_path):
    from napari.components import ViewerModel

    from radgui.gui.pacs_dock import PacsDock

    viewer = ViewerModel()
    d = PacsDock(viewer)
    qtbot.addWidget(d)
    d.settings_edit.setText(str(server.nodes))
    d.load_settings()
    d.cache_edit.setText(str(tmp_path / "cache"))
    return d


def _wait(qtbot, dock):
    qtbot.waitUntil(lambda: not dock.runner.busy and dock.retrieve_button.isEnabled(), timeout=30000)


def test_echo_search_retrieve_opens_the_series(qtbot, dock, server, tmp_path):
    assert [dock.node_combo.itemText(i) for i in range(dock.node_combo.count())] == ["orthanc"]
    dock.echo()
    _wait(qtbot, dock)
    assert dock.status.text() == "orthanc: OK"
    dock.patient_edit.setText("PHANTOM01")
    dock.search()
    _wait(qtbot, dock)
    assert dock.status.text() == "1 series"
    assert dock.table.item(0, 6).text() == server.ct["series_uid"]
    dock.retrieve()
    _wait(qtbot, dock)
    folder = tmp_path / "cache" / server.ct["series_uid"]
    assert dock.status.text() == f"retrieved into {folder}", dock.status.text()
    assert len(list(folder.glob("*.dcm"))) == 6
    assert dock.progress.value() == 100
    assert [layer.data.shape for layer in dock.viewer.layers] == [server.ct["values"].shape]


def test_errors_show_in_the_dock(qtbot, dock, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: {x: {ae_title: 'A\\\\B', host: h, port: 1}}\n")
    dock.load_settings(str(bad))
    assert "is not an AE title" in dock.status.text() and dock.node_combo.count() == 0
    dock.echo()
    assert dock.status.text() == "no PACS node: load a settings file first"
    port = orthanc_helper.free_port()
    gone = tmp_path / "gone.yaml"
    gone.write_text(f"nodes: {{gone: {{ae_title: X, host: 127.0.0.1, port: {port}}}}}\n")
    dock.load_settings(str(gone))
    dock.echo()
    _wait(qtbot, dock)
    assert dock.status.text() == f"node 'gone' (X@127.0.0.1:{port}): unreachable (connection refused)"
