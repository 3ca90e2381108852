"""Start-up path (issue 17 item 2): nothing heavy before the first paint, docks built when first shown.

Each check runs in a fresh interpreter on its own Xvfb screen, so ``sys.modules``
shows exactly what radgui's start-up imported (a count of modules, not a
timing: it does not depend on how busy the machine is). The docks are then
opened as a user does, by clicking their tabs, and their geometry is read
back from Qt.
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

#: Modules the empty window must not import before its first paint (the measured start-up hogs).
HEAVY = ("scipy.signal", "scipy.stats", "sklearn", "radiomics", "lifelines", "matplotlib")

SCRIPT = textwrap.dedent('''
    import json, sys, time
    from qtpy.QtCore import QEvent, QObject, QPoint, QRect, Qt
    from qtpy.QtWidgets import QApplication, QScrollArea, QTabBar
    from qtpy.QtTest import QTest

    HEAVY = %(heavy)r
    MODE = sys.argv[1]
    painted = {}

    class Probe(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Paint and obj.isWindow() and obj.inherits("QMainWindow") and not painted:
                painted["heavy"] = sorted(m for m in HEAVY if m in sys.modules)
                # viewer is None: painted while the window was being built, before any case could load
                painted["layers"] = len(viewer.layers) if viewer is not None else 0
                painted["saves"] = len(saves)
            return False

    viewer = None
    app = QApplication.instance() or QApplication(sys.argv)
    from napari.settings import get_settings
    saves = []  # napari's settings file written (YAML), counted
    _settings_cls, _save = type(get_settings()), type(get_settings()).save
    _settings_cls.save = lambda self, *a, **k: (saves.append(1), _save(self, *a, **k))[1]
    probe = Probe()
    app.installEventFilter(probe)
    from radgui.gui.app import DOCKS, PRIMARY_BUTTONS
    if MODE == "demo":
        from radgui.cli.demo import LOADING, start_demo
        viewer, docks = start_demo()
        status_at_start = viewer.status
        end = time.monotonic() + 120
        while len(viewer.layers) < 2 and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)
    else:
        from radgui.gui.app import create_viewer
        viewer, docks = create_viewer(show=True)
        status_at_start = None
    for _ in range(20):
        app.processEvents()
    window = docks["View"].window()
    view_dock = viewer.window.dock_widgets["View"].parent()
    built_at_start = list(docks.built())
    end = time.monotonic() + 60  # the ROI dock (viewer bindings: Ctrl+click grow) is built after the first paint
    while not docks.is_built("ROI") and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    # ... behind View: built, not brought to the front
    roi_warm = docks.is_built("ROI") and viewer.window.dock_widgets["ROI"].parent().visibleRegion().isEmpty()
    grow_bound = any(getattr(cb, "__name__", "") == "_on_mouse_press" for cb in viewer.mouse_drag_callbacks)
    hidden = {"before": view_dock.width()}
    docks["Train"]  # read from a script: built while its tab stays hidden
    for _ in range(10):
        app.processEvents()
    hidden.update(after=view_dock.width(), view_in_front=not view_dock.visibleRegion().isEmpty(),
                  train_built=docks.is_built("Train"))
    from radgui.gui.app import _show_scale_bar  # noqa: F401 - the overlay it turns on
    overlay = viewer.canvas.overlays["scale_bar"] if hasattr(viewer, "canvas") else viewer.scale_bar
    out = {"scale_bar": overlay.visible, "hidden_build": hidden, "painted": painted, "status_at_start": status_at_start, "layers": [ly.name for ly in viewer.layers],
           "built_at_start": built_at_start, "roi_warm": roi_warm, "grow_bound": grow_bound, "window": [window.width(), window.height()], "docks": {}}
    shots = sys.argv[2] if len(sys.argv) > 2 else None
    for _m, _c, title, _a in DOCKS:
        qdock = viewer.window.dock_widgets[title].parent()
        bars = [b for b in window.findChildren(QTabBar) if any(b.tabText(i) == title for i in range(b.count()))]
        row = {"built_before": docks.is_built(title), "tab": bool(bars)}
        if bars:  # click the dock's tab as a user does
            bar = bars[0]
            index = next(i for i in range(bar.count()) if bar.tabText(i) == title)
            QTest.mouseClick(bar, Qt.LeftButton, Qt.NoModifier, bar.tabRect(index).center())
        for _ in range(20):
            app.processEvents()
        row["built_after"] = docks.is_built(title)
        widget = docks.built().get(title)
        area = qdock.widget()
        row["placeholder_left"] = area.objectName().startswith("radgui_placeholder")
        top_left = qdock.mapTo(window, QPoint(0, 0))
        row["dock"] = [top_left.x(), top_left.y(), qdock.width(), qdock.height()]
        row["in_front"] = not qdock.visibleRegion().isEmpty()
        row["buttons"] = {}
        for name in PRIMARY_BUTTONS[title]:
            btn = getattr(widget, name, None) if widget is not None else None
            if btn is None:
                row["buttons"][name] = None
                continue
            if isinstance(area, QScrollArea):
                area.ensureWidgetVisible(btn)
                app.processEvents()
            rect = QRect(btn.mapTo(window, QPoint(0, 0)), btn.size())
            row["buttons"][name] = [btn.isVisible(), window.rect().contains(rect)]
        from radgui.gui.window import canvas_widget
        canvas = canvas_widget(window)
        row["canvas_width"] = canvas.width() if canvas is not None else None
        out["docks"][title] = row
        if shots:
            window.grab().save(f"{shots}/{MODE}_{title.replace('/', '')}.png")
    print("RESULT " + json.dumps(out))
    viewer.close()
''') % {"heavy": HEAVY}


def _run(mode: str, tmp_path, size=(1366, 768)):
    w, h = size
    env = dict(os.environ, NAPARI_CONFIG=str(tmp_path / "settings" / "settings.yaml"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               RADGUI_RECOVERY_DIR=str(tmp_path / "recovery"))
    env.pop("DISPLAY", None)
    shots = os.environ.get("RADGUI_STARTUP_SHOTS")
    args = [mode] + ([shots] if shots else [])
    proc = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {w}x{h}x24", sys.executable, "-c", SCRIPT, *args],
                          capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def _check_docks(out, size):
    from radgui.gui.app import DOCKS, PRIMARY_BUTTONS

    w, h = out["window"]
    # only View, the dock in front, and ROI once the window has painted (the heavy-import check at the first
    # paint shows ROI was not built before it)
    assert out["built_at_start"][0] == DOCKS[0][2] and set(out["built_at_start"]) <= {DOCKS[0][2], "ROI"}, \
        out["built_at_start"]
    # built behind View after the first paint, so Ctrl+click grows a ROI before the ROI tab is opened
    assert out["roi_warm"] and out["grow_bound"], (out["roi_warm"], out["grow_bound"])
    hidden = out["hidden_build"]  # a dock read (built) behind the front tab moves nothing
    assert hidden["train_built"] and hidden["view_in_front"] and hidden["after"] == hidden["before"], hidden
    for title, row in out["docks"].items():
        assert row["tab"], f"{title}: no tab to click"
        if title not in (DOCKS[0][2], "Train", "ROI"):
            assert not row["built_before"], f"{title} was built before its tab was clicked"
        assert row["built_after"] and not row["placeholder_left"], f"{title}: not built by clicking its tab"
        assert row["in_front"], f"{title}: not in front after clicking its tab"
        x, y, dw, dh = row["dock"]
        # inside the window (a lazy dock once ended at negative x after napari re-laid the tabs)
        assert x >= 0 and y >= 0 and x + dw <= w and y + dh <= h, f"{title} dock {row['dock']} outside {w}x{h}"
        # the canvas keeps room (the eager window also leaves only 260 px of 1366 beside the 760 px Predict dock)
        assert row["canvas_width"] and row["canvas_width"] > 0.15 * w, f"{title}: canvas squeezed {row}"
        assert set(row["buttons"]) == set(PRIMARY_BUTTONS[title])
        for name, state in row["buttons"].items():
            assert state is not None and all(state), f"{title}.{name} not in sight at {size}: {row}"


@pytest.mark.gui
@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run for a screen of a given size")
@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_empty_window_paints_without_heavy_imports_and_builds_docks_on_first_show(size, tmp_path):
    out = _run("empty", tmp_path, size)
    assert out["painted"], "the main window never painted"
    assert out["painted"]["heavy"] == [], f"imported before the first paint: {out['painted']['heavy']}"
    # napari writes its settings file each time a dock lands in an area (22 writes, ~0.4 s, with radgui's
    # docks): placed with saving off, written once
    assert out["painted"]["saves"] == 1, out["painted"]
    assert out["scale_bar"], "the mm scale bar (turned on after the first paint) is off"
    _check_docks(out, size)


@pytest.mark.gui
@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run for a screen of a given size")
def test_demo_paints_empty_window_first_then_loads_the_case(tmp_path):
    from radgui.cli.demo import LOADING

    out = _run("demo", tmp_path)
    assert out["painted"]["layers"] == 0, "the demo case loaded before the window painted"
    assert out["painted"]["heavy"] == [], out["painted"]
    assert out["status_at_start"] == LOADING
    assert out["layers"] == ["demo lung CT", "tumour"]
    _check_docks(out, (1366, 768))


def test_docks_mapping_builds_on_first_read_only():
    from radgui.gui.app import Docks

    made = []
    docks = Docks()
    docks._add("View", widget="view-widget")

    def build():
        made.append("ROI")
        docks._set("ROI", "roi-widget")

    docks._add("ROI", builder=build)
    seen = []
    docks.on_build("ROI", seen.append)
    assert list(docks) == ["View", "ROI"] and len(docks) == 2 and "ROI" in docks
    assert docks.built() == {"View": "view-widget"} and not docks.is_built("ROI") and made == []
    assert docks["ROI"] == "roi-widget" and docks.get("ROI") == "roi-widget"
    assert made == ["ROI"] and seen == ["roi-widget"]  # built once, hook called once
    docks.on_build("ROI", seen.append)  # already built: called at once
    assert seen == ["roi-widget", "roi-widget"]
    assert docks.get("nope") is None
    with pytest.raises(KeyError):
        docks["nope"]
    lazy = Docks()  # the autosave snapshot reads while peeking: nothing is built by reading
    lazy._add("Predict", builder=lambda: made.append("Predict"))
    with lazy.peeking():
        assert lazy.get("Predict") is None
    assert "Predict" not in made and not lazy.is_built("Predict")


def test_a_dock_built_during_blinded_reading_is_blinded():
    from types import SimpleNamespace

    from radgui.gui.app import Docks, _keep_blinded

    calls = []
    worklist = SimpleNamespace(reader_session=SimpleNamespace(blinded=True), _set_blinded_ui=calls.append)
    docks = Docks()
    docks._add("Worklist", widget=worklist)
    _keep_blinded(docks)
    assert calls == [True]
    for session in (None, SimpleNamespace(blinded=False)):  # signed out, or an unblinded session
        worklist.reader_session = session
        _keep_blinded(docks)
    assert calls == [True]
    _keep_blinded(Docks())  # no Worklist dock (plain napari, or not opened yet): nothing to do


@pytest.mark.gui
def test_after_first_paint_runs_once_and_falls_back_for_a_window_never_shown(qtbot):
    from qtpy.QtWidgets import QWidget

    from radgui.gui.app import after_first_paint

    calls = []
    hidden, shown = QWidget(), QWidget()
    qtbot.addWidget(hidden)
    qtbot.addWidget(shown)
    after_first_paint(hidden, lambda: calls.append("hidden"), fallback_ms=50)
    after_first_paint(shown, lambda: calls.append("shown"), fallback_ms=60_000)  # only its paint can fire it
    shown.show()
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=10_000)
    shown.update()  # later paints do not call it again
    qtbot.wait(100)
    assert sorted(calls) == ["hidden", "shown"]


@pytest.mark.gui
def test_splash_is_a_plain_window_with_its_message_and_closes_after_the_main_window_paints(qtbot):
    from qtpy.QtGui import QColor, QPixmap
    from qtpy.QtWidgets import QSplashScreen, QWidget

    from radgui.gui._qt import is_alive
    from radgui.gui.splash import _splash_label, close_splash, say

    base = QPixmap(300, 100)
    base.fill(QColor("#262930"))
    splash = _splash_label(base, "Loading napari")  # not given to qtbot: closing it deletes it
    # not a QSplashScreen: its show() waits up to 1 s for an expose event that Xvfb without a window manager
    # never delivers to it
    assert not isinstance(splash, QSplashScreen) and splash.isWindow()
    assert splash.objectName() == "radgui_splash"  # what bench_startup's probe looks for

    def inked(label):  # pixels of the message's colour in the bottom-left quarter
        image = label.pixmap().toImage()
        return sum(image.pixelColor(x, y) != QColor("#262930") for x in range(0, 150) for y in range(60, 100))

    first = inked(splash)
    assert first > 20, "no message drawn"
    say(splash, "Loading napari and building the window")  # a longer message: more ink
    assert inked(splash) > first
    assert QColor(base.toImage().pixelColor(10, 90)) == QColor("#262930")  # the base picture is left as it was
    splash.show()
    window = QWidget()
    qtbot.addWidget(window)
    close_splash(splash, window)
    qtbot.wait(100)
    assert splash.isVisible()  # the main window has not painted yet
    window.show()
    qtbot.waitUntil(lambda: not is_alive(splash) or not splash.isVisible(), timeout=5000)


@pytest.mark.gui
def test_splash_leaves_an_existing_application_alone(qtbot):
    from radgui.gui.splash import close_splash, say, show_splash

    assert show_splash() is None  # pytest-qt's QApplication exists: no second one, no splash
    say(None, "ignored")
    close_splash(None, None)
