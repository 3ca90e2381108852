"""First launch: the real radgui window on a 1366x768 and a 1920x1080 screen, empty napari settings.

Each run is a fresh interpreter on its own Xvfb screen (``xvfb-run -s
"-screen 0 WxHx24"``) with ``NAPARI_CONFIG`` pointing at a settings file that
does not exist yet (napari's first start). The test asserts, from widget
geometry, that the window fills the screen, that the View dock is in front,
and that every dock's primary buttons (:data:`radgui.gui.app.PRIMARY_BUTTONS`)
lie inside the visible window and inside their dock's viewport with no
sideways scrolling when the user clicks the dock's tab. With
``RADGUI_LAUNCH_SHOTS=folder`` it also saves a PNG of the window per dock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import json, os, sys
    from qtpy.QtCore import QPoint, QRect
    from qtpy.QtWidgets import QApplication, QScrollArea
    from radgui.cli.demo import open_demo
    from radgui.gui.app import DOCKS, PRIMARY_BUTTONS

    viewer, docks = open_demo(show=True)
    app = QApplication.instance()
    for _ in range(20):
        app.processEvents()
    window = docks["View"].window()
    avail = window.screen().availableGeometry()
    out = {"screen": [avail.width(), avail.height()], "window": [window.width(), window.height()],
           "front": [t for _m, _c, t, _a in DOCKS if not docks[t].visibleRegion().isEmpty()], "docks": {}}
    shots = os.environ.get("RADGUI_LAUNCH_SHOTS")
    for _m, _c, title, _a in DOCKS:
        qdock = viewer.window.dock_widgets[title].parent()
        qdock.raise_()  # what clicking the dock's tab does (no resizing)
        for _ in range(10):
            app.processEvents()
        area = qdock.widget()
        row = {"hscroll": bool(isinstance(area, QScrollArea) and area.horizontalScrollBar().isVisible()),
               "buttons": {}}
        for name in PRIMARY_BUTTONS[title]:
            btn = getattr(docks[title], name)
            if isinstance(area, QScrollArea):
                area.ensureWidgetVisible(btn)
                app.processEvents()
            top_left = btn.mapTo(window, QPoint(0, 0))
            rect = QRect(top_left, btn.size())
            port = area.viewport() if isinstance(area, QScrollArea) else area
            in_port = QRect(port.mapTo(window, QPoint(0, 0)), port.size())
            row["buttons"][name] = [btn.isVisible(), window.rect().contains(rect), in_port.contains(rect),
                                    btn.width(), btn.sizeHint().width()]
        out["docks"][title] = row
        if shots:
            window.grab().save(os.path.join(shots, f"{avail.width()}x{avail.height()}_{title.replace('/', '')}.png"))
    print("RESULT " + json.dumps(out))
    viewer.close()
''')


@pytest.mark.gui
@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run for a screen of a given size")
@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_first_launch_fills_the_screen_and_shows_every_primary_button(size, tmp_path):
    from radgui.gui.app import DOCKS, PRIMARY_BUTTONS

    w, h = size
    env = dict(os.environ, NAPARI_CONFIG=str(tmp_path / "settings" / "settings.yaml"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("DISPLAY", None)
    proc = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {w}x{h}x24", sys.executable, "-c", SCRIPT],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["screen"] == [w, h]
    assert out["window"][0] >= 0.9 * w and out["window"][1] >= 0.9 * h, out
    assert out["front"] == ["View"], out["front"]  # first launch opens on the View dock
    assert set(out["docks"]) == {t for _m, _c, t, _a in DOCKS}
    for title, row in out["docks"].items():
        assert not row["hscroll"], f"{title}: sideways scroll bar at {w}x{h}"
        assert set(row["buttons"]) == set(PRIMARY_BUTTONS[title])
        for name, (visible, in_window, in_port, width, hint) in row["buttons"].items():
            assert visible and in_window and in_port, f"{title}.{name} not in sight at {w}x{h}: {row}"
            assert width >= hint, f"{title}.{name} squeezed below its text at {w}x{h}: {width} < {hint}"
