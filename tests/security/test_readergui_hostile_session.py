"""A crafted .radgui file opened from the GUI: malformed panel values are skipped with one message
(never an exception that leaves the window half-restored); a refused file changes no layer."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("napari")

SHAPE = (4, 12, 14)


@pytest.fixture
def window(make_napari_viewer, tmp_path, monkeypatch):
    from radgui.gui import session_actions
    from radgui.gui.app import create_viewer

    monkeypatch.setenv("RADGUI_RECOVERY_DIR", str(tmp_path / "recovery"))
    said = []
    monkeypatch.setattr(session_actions, "_notify", lambda text, error=False: said.append(text))
    viewer, docks = create_viewer(viewer=make_napari_viewer(show=True))
    actions = session_actions.actions_for(viewer)
    yield viewer, docks, actions, said
    actions.mark_clean()


def _session_file(tmp_path, **fields):
    from radgui.io import load_volume
    from radgui.session import Session, save_session

    img = sitk.GetImageFromArray(np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE))
    sitk.WriteImage(img, str(tmp_path / "ct.nrrd"))
    vol = load_volume(tmp_path / "ct.nrrd")
    s = Session()
    s.add_image("ct", vol)
    m = np.zeros(SHAPE, np.uint8)
    m[1:3, 2:6, 3:9] = 1
    s.set_roi("tumour", m, like=vol)
    s.update(**fields)
    return save_session(s, tmp_path / "bad.radgui"), m


@pytest.mark.gui
def test_malformed_rings_clinical_and_view_are_skipped(window, tmp_path):
    viewer, docks, actions, said = window
    path, mask = _session_file(tmp_path, rings={"core_depth_mm": {"x": 1}, "hu_range": "ab"},
                               clinical={"age": {"nested": [1]}}, panels={"predict_time": "soon"},
                               view={"zoom": -5, "point": ["a", "b", "c"], "center": [1e308, "x"]})
    distances = docks["ROI"].distances.text()
    actions.open_session(path)
    assert [ly.name for ly in viewer.layers] == ["ct", "tumour"]
    assert np.array_equal(np.asarray(viewer.layers["tumour"].data), mask)
    assert said == [
        "the session's ring settings were not restored (malformed: float() argument must be a string or a "
        "real number, not 'dict')",
        "the session's Predict inputs were not restored (malformed: could not convert string to float: 'soon')",
        "the session's view were not restored (malformed: could not convert string to float: 'a')",
    ]
    assert docks["ROI"].distances.text() == distances and docks["ROI"].core_depth.value() == 0


@pytest.mark.gui
def test_session_from_a_newer_radgui_changes_nothing(window, tmp_path):
    viewer, docks, actions, said = window
    path, _ = _session_file(tmp_path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(members["manifest.json"])
    doc["schema_version"] = 99
    members["manifest.json"] = json.dumps(doc).encode()
    newer = tmp_path / "newer.radgui"
    with zipfile.ZipFile(newer, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    from radgui.gui.app import open_paths

    open_paths(viewer, tmp_path / "ct.nrrd")
    before = [ly.name for ly in viewer.layers]
    from qtpy.QtWidgets import QFileDialog

    actions.mark_clean()
    mp = pytest.MonkeyPatch()
    mp.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(newer), ""))
    try:
        assert actions.open_session_dialog() is None
    finally:
        mp.undo()
    assert [ly.name for ly in viewer.layers] == before
    assert said == [f"{newer}: session schema version 99 is from a newer radgui (this one reads up to 1); "
                    "update radgui to open it"]
