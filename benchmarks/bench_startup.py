"""Start-up costs: process start to the first painted window, and `import radgui`.

Run: ``python benchmarks/bench_startup.py`` (needs a display or xvfb-run; make
bench provides one). Prints a table; each figure is the median of N runs
(``RADGUI_BENCH_N``, default 3) after one warm-up run that fills the disk cache.

What is timed, in a fresh interpreter each time, from the process's creation
time (``psutil``) to:

* **splash**: the first paint of radgui's splash screen (``radgui.gui.splash``);
* **first paint**: the first paint event of the napari main window (a
  ``QMainWindow``), the moment a user sees the window;
* **case shown**: ``radgui demo`` only, the demo CT and its ROI in the viewer
  and drawn (the event loop has run after they were added).

Paint events are seen by an event filter on the QApplication (the driver
swaps in a ``QApplication`` subclass that installs it, so the start-up path
itself is unchanged: radgui's splash still creates the application) and
removed at the first main-window paint. ``napari.run`` is replaced by a loop
that quits once the figure is taken. The reference is a bare
``napari.Viewer()`` measured the same way in the same run.

``RADGUI_BENCH_BASELINE=/path/to/an/older/checkout`` adds a "before" column:
the same measurements with that tree first on ``PYTHONPATH``, run alternately
with this tree (A, B, A, B, ...) so both see the same machine load.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N = int(os.environ.get("RADGUI_BENCH_N", "3"))
ROOT = Path(__file__).resolve().parents[1]

DRIVER = r'''
import os, sys, time
import psutil
T0 = psutil.Process().create_time()
marks = {}
def mark(name):
    marks.setdefault(name, time.time() - T0)

import qtpy.QtWidgets as QtW
from qtpy.QtCore import QEvent, QObject, QTimer

class Probe(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Paint and obj.isWidgetType() and obj.isWindow():
            if obj.objectName() == "radgui_splash":  # a QLabel now, a QSplashScreen before
                mark("splash")
            elif obj.inherits("QMainWindow"):
                mark("first paint")
                QtW.QApplication.instance().removeEventFilter(self)
        return False

class ProbedApp(QtW.QApplication):
    def __init__(self, *args):
        super().__init__(*args)
        self._radgui_probe = Probe()
        self.installEventFilter(self._radgui_probe)

QtW.QApplication = ProbedApp  # radgui's splash and napari both create theirs through qtpy
mode = sys.argv[1]
import napari

def bench_run(*_args, **_kwargs):
    app = QtW.QApplication.instance()
    def poll():
        if "first paint" not in marks:
            return
        if mode == "demo":
            viewer = napari.current_viewer()
            if viewer is None or len(viewer.layers) < 2:
                return
            for _ in range(3):
                app.processEvents()
            mark("case shown")
        timer.stop()
        app.quit()
    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(5)
    app.exec()

napari.run = bench_run
if mode == "bare":
    viewer = napari.Viewer(show=True)
    napari.run()
else:
    from radgui.cli import main
    main(["demo"] if mode == "demo" else [])
print("MARKS " + " ".join(f"{k.replace(' ', '_')}={v:.3f}" for k, v in marks.items()), flush=True)
os._exit(0)  # skip closing windows and workers: not part of start-up
'''

ROWS = (  # (label, mode, mark)
    ("bare napari.Viewer(): first paint", "bare", "first paint"),
    ("radgui (empty window): splash", "empty", "splash"),
    ("radgui (empty window): first paint", "empty", "first paint"),
    ("radgui demo: first paint", "demo", "first paint"),
    ("radgui demo: case shown", "demo", "case shown"),
)


def _env(tree: Path | None, tmp: str) -> dict:
    env = dict(os.environ, NAPARI_CONFIG=f"{tmp}/settings.yaml", RADGUI_RECOVERY_DIR=f"{tmp}/recovery")
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])
    return env


def measure(mode: str, tree: Path | None = None) -> dict[str, float]:
    """One fresh-interpreter start in ``mode`` (bare, empty, demo); seconds per mark."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", DRIVER, mode], capture_output=True, text=True,
                             env=_env(tree, tmp), timeout=300, cwd=tmp)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("MARKS")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"start-up driver ({mode}) failed: {out.stderr[-2000:]}")
    return {k.replace("_", " "): float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}


def _wall(cmd: list[str], env=None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def screenshot_start(tree: Path | None = None) -> float:
    """``radgui demo --screenshot``: start to the captured window with the case (RADGUI_STARTUP_TIMING)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(_env(tree, tmp), RADGUI_STARTUP_TIMING="1")
        out = subprocess.run([sys.executable, "-m", "radgui", "demo", "--screenshot", f"{tmp}/demo.png"],
                             check=True, capture_output=True, text=True, env=env, cwd=tmp)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("radgui-startup-seconds"))
    return float(line.split()[1])


def main() -> None:
    baseline = os.environ.get("RADGUI_BENCH_BASELINE")
    trees = {"now": ROOT}
    if baseline:
        trees = {"before": Path(baseline).resolve(), "now": ROOT}
    base = statistics.median(_wall([sys.executable, "-c", "pass"]) for _ in range(N))
    print(f"{'what':42s} {'seconds':>8s} {'x python':>9s}")
    print(f"{'python -c pass (reference)':42s} {base:8.3f} {1.0:9.1f}")
    for stmt in ("import radgui", "import radgui.io", "import radgui.cli; radgui.cli.build_parser()"):
        t = statistics.median(_wall([sys.executable, "-c", stmt]) for _ in range(N))
        print(f"{stmt:42s} {t:8.3f} {t / base:9.1f}")
    print(f"\nload average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    for mode in ("bare", "empty", "demo"):  # warm-up: disk cache, napari's icon cache, .pyc files
        for tree in trees.values():
            measure(mode, tree)
    runs: dict[str, dict[str, list[dict]]] = {name: {m: [] for m in ("bare", "empty", "demo")} for name in trees}
    shots: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(N):  # interleaved: every tree sees the same load
        for mode in ("bare", "empty", "demo"):
            for name, tree in trees.items():
                runs[name][mode].append(measure(mode, tree))
        for name, tree in trees.items():
            shots[name].append(screenshot_start(tree))

    def median(name, mode, key):
        vals = [r[key] for r in runs[name][mode] if key in r]
        return statistics.median(vals) if vals else float("nan")

    bare = {name: median(name, "bare", "first paint") for name in trees}
    header = f"{'start -> (median of ' + str(N) + ')':42s}"
    for name in trees:
        header += f" {name + ' s':>9s} {'x bare':>7s}"
    if baseline:
        header += f" {'now/before':>10s}"
    print(header)
    for label, mode, key in ROWS:
        line = f"{label:42s}"
        vals = {}
        for name in trees:
            vals[name] = median(name, mode, key)
            line += f" {vals[name]:9.3f} {vals[name] / bare[name]:7.2f}"
        if baseline:
            line += f" {vals['now'] / vals['before']:10.2f}"
        print(line)
    line = f"{'radgui demo --screenshot: captured':42s}"
    for name in trees:
        t = statistics.median(shots[name])
        line += f" {t:9.3f} {t / bare[name]:7.2f}"
    if baseline:
        line += f" {statistics.median(shots['now']) / statistics.median(shots['before']):10.2f}"
    print(line)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    now_empty = median("now", "empty", "first paint")
    print(f"radgui empty window first paint / bare napari.Viewer() first paint (same run): "
          f"{now_empty / bare['now']:.2f}x (target: radgui <= 3 s on a quiet 2-core machine)")


if __name__ == "__main__":
    main()
