"""Worklist and Agreement docks in a real radgui window: blinded reader sessions, progress,
Ctrl+N / Ctrl+P with saving on case change, and the agreement panel."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("napari")

SHAPE = (6, 16, 20)


def _block(n: int) -> np.ndarray:
    m = np.zeros(SHAPE, np.uint8)
    m[2:4, 4:9, 2:2 + n] = 1
    return m


@pytest.fixture
def study(tmp_path, monkeypatch):
    """4 cases; reader B has segmented all of them; A and C are assigned all, nothing done."""
    from radgui.io import volume_from_array
    from radgui.study import assign, create_study

    monkeypatch.setenv("RADGUI_RECOVERY_DIR", str(tmp_path / "recovery"))
    (tmp_path / "imgs").mkdir()
    for i in range(4):
        v = volume_from_array(np.random.default_rng(i).normal(40, 20, SHAPE).astype(np.float32))
        sitk.WriteImage(v.image, str(tmp_path / "imgs" / f"case{i}.nrrd"))
    st = create_study(tmp_path / "study", tmp_path / "imgs")
    for reader in ("A", "B", "C"):
        assign(st, reader)
    with st.reader_session("B") as rs:
        for k, c in enumerate(rs.cases()):
            rs.save_segmentation(c.case_id, "tumour", _block(10 + k), like=rs.load_image(c.case_id))
            rs.save_segmentation(c.case_id, "secret_node", _block(3), like=rs.load_image(c.case_id))
    st.close()
    return tmp_path / "study"


@pytest.fixture
def window(make_napari_viewer, qtbot):
    from radgui.gui.app import create_viewer
    from radgui.gui.session_actions import actions_for

    viewer, docks = create_viewer(viewer=make_napari_viewer(show=True))
    yield viewer, docks, actions_for(viewer)
    qtbot.waitUntil(lambda: not docks["Agreement"].busy, timeout=30_000)
    actions_for(viewer).mark_clean()


def _key(qtbot, viewer, key):
    from qtpy.QtCore import Qt

    win = viewer.window._qt_window
    win.activateWindow()
    win.raise_()
    qtbot.waitUntil(lambda: win.isActiveWindow(), timeout=3000)
    qtbot.keyClick(win, key, Qt.ControlModifier)
    qtbot.wait(30)


@pytest.mark.gui
def test_blinded_reader_never_sees_other_readers_work(window, study, qtbot):
    from qtpy.QtCore import Qt

    viewer, docks, actions = window
    wl = docks["Worklist"]
    wl.open_study(study)
    assert [wl.reader_combo.itemText(i) for i in range(wl.reader_combo.count())] == ["A", "B", "C"]
    wl.reader_combo.setCurrentText("A")
    assert wl.blinded.isChecked()
    qtbot.mouseClick(wl.sign_in_button, Qt.LeftButton)
    assert wl.progress_label.text() == "A: 0/4 done (blinded)"
    seen = []
    for step in range(4):
        names = [ly.name for ly in viewer.layers]
        seen.append(names)
        # only the case image and A's own (empty) ROI: nothing of B
        assert names == [wl.cases[wl.index].case_id, "tumour"], names
        assert not np.asarray(viewer.layers["tumour"].data).any()
        assert all(ly.name != "secret_node" for ly in viewer.layers)
        if step < 3:
            qtbot.mouseClick(wl.next_button, Qt.LeftButton)
    assert [n[0] for n in seen] == ["S0001", "S0002", "S0003", "S0004"]
    # the Predict dock's clinical form is hidden and disabled, and Open session refused, while blinded
    predict = docks["Predict"]
    assert not predict.form_box.isVisibleTo(predict) and not predict.form_box.isEnabled()
    assert actions.locked
    with pytest.raises(Exception, match="blinded reader session"):
        actions.open_session(study / "x.radgui")
    qtbot.mouseClick(wl.sign_out_button, Qt.LeftButton)
    assert predict.form_box.isVisibleTo(predict) and predict.isEnabled() and not actions.locked


@pytest.mark.gui
def test_worklist_progress_shortcuts_and_save_on_case_change(window, study, qtbot):
    from qtpy.QtCore import Qt

    from radgui.study import Study

    viewer, docks, actions = window
    wl = docks["Worklist"]
    wl.open_study(study)
    wl.reader_combo.setCurrentText("A")
    qtbot.mouseClick(wl.sign_in_button, Qt.LeftButton)
    assert wl.index == 0
    # draw in case 1, go on with Ctrl+N: the ROI is saved into the study
    viewer.layers["tumour"].data = _block(5)
    _key(qtbot, viewer, Qt.Key_N)
    assert wl.index == 1
    assert wl.progress_label.text() == "A: 1/4 done (blinded)"
    assert wl.progress.value() == 1 and wl.progress.maximum() == 4
    assert wl.case_list.item(0).text().endswith("done") and wl.case_list.item(1).text().endswith("to do")
    assert not actions.dirty  # the study holds the work: no unsaved-changes prompt
    # back with Ctrl+P: A's own ROI is reopened
    _key(qtbot, viewer, Qt.Key_P)
    assert wl.index == 0
    assert np.array_equal(np.asarray(viewer.layers["tumour"].data) > 0, _block(5) > 0)
    assert [ly.name for ly in viewer.layers] == ["S0001", "tumour"]
    with Study.open(study) as st:
        assert [(s.case_id, s.roi) for s in st.segmentations("A")] == [("S0001", "tumour")]
        assert st.status()["readers"]["A"] == {"assigned": 4, "segmented": 1}
    # signing in again continues at the first case to do
    qtbot.mouseClick(wl.sign_out_button, Qt.LeftButton)
    qtbot.mouseClick(wl.sign_in_button, Qt.LeftButton)
    assert wl.index == 1 and wl.done_count == 1
    # reader C, blinded, never sees A's saved tumour of S0001 (nor B's)
    qtbot.mouseClick(wl.sign_out_button, Qt.LeftButton)
    wl.reader_combo.setCurrentText("C")
    qtbot.mouseClick(wl.sign_in_button, Qt.LeftButton)
    assert wl.cases[wl.index].case_id == "S0001" and wl.progress_label.text() == "C: 0/4 done (blinded)"
    assert [ly.name for ly in viewer.layers] == ["S0001", "tumour"]
    assert not np.asarray(viewer.layers["tumour"].data).any()


def _count(volume, mask, roi):
    n = float(sitk.GetArrayViewFromImage(mask).astype(bool).sum())
    return {"count": n, "constant": 7.0}


@pytest.mark.gui
def test_agreement_panel_runs_shows_and_exports(window, study, qtbot, tmp_path, monkeypatch):
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QFileDialog

    from radgui.study import Study

    viewer, docks, actions = window
    with Study.open(study) as st, st.reader_session("C") as rs:
        for k, c in enumerate(rs.cases()):
            rs.save_segmentation(c.case_id, "tumour", _block(9 + 2 * k), like=rs.load_image(c.case_id))
    ag = docks["Agreement"]
    ag.set_study(study)
    ag.extractor = _count
    qtbot.mouseClick(ag.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: ag.result is not None, timeout=30_000)
    assert ag.icc_table.rowCount() == 2
    rows = {ag.icc_table.item(r, 0).text(): ag.icc_table.item(r, 3).text() for r in range(2)}
    assert rows == {"count": "reproducible", "constant": "not assessable"}
    # B vs C on 4 cases: one overlap row each; Dice of blocks 10+k vs 9+2k voxels wide
    assert ag.overlap_table.rowCount() == 4
    dice0 = float(ag.overlap_table.item(0, 3).text())
    assert dice0 == pytest.approx(2 * 9 / (10 + 9), abs=1e-3)
    assert ag.overlap_table.item(0, 2).text() == "B vs C"
    assert "1 of 2 features reproducible" in ag.summary.text()
    out = tmp_path / "export"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    qtbot.mouseClick(ag.export_button, Qt.LeftButton)
    assert {p.name for p in out.iterdir()} >= {"icc.csv", "overlap.csv", "icc_histogram.png", "manifest.json"}


@pytest.mark.gui
def test_agreement_failure_is_one_line_and_cancel_shows_nothing(window, study, qtbot, tmp_path):
    from qtpy.QtCore import Qt

    viewer, docks, actions = window
    ag = docks["Agreement"]
    ag.set_study(study)
    ag.repeat_reader.setText("B")  # B has one round only
    qtbot.mouseClick(ag.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not ag.busy, timeout=30_000)
    assert ag.summary.text() == "agreement needs segmentations by at least 2 rounds of reader 'B'; found ['B/r1']"
    assert ag.result is None and not ag.export_button.isEnabled()
