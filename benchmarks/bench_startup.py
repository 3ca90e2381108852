"""Start-up costs: process start to first painted window, and `import radgui`.

Run: ``python benchmarks/bench_startup.py`` (needs a display or xvfb-run; make
bench provides one). Prints a table; each figure is the median of N runs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

N = int(os.environ.get("RADGUI_BENCH_N", "3"))

#: A bare napari window, painted and captured like radgui's (the reference radgui's start is divided by).
BARE_VIEWER = """
import os, time, psutil, tempfile
import napari
from qtpy.QtWidgets import QApplication
viewer = napari.Viewer(show=True)
for _ in range(5):
    QApplication.processEvents()
viewer.screenshot(os.path.join(tempfile.mkdtemp(), "bare.png"), canvas_only=False, flash=False)
print(f"radgui-startup-seconds {time.time() - psutil.Process().create_time():.3f}")
viewer.close()
"""


def _wall(cmd: list[str], env=None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def first_paint() -> float:
    env = dict(os.environ, RADGUI_STARTUP_TIMING="1")
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-m", "radgui", "demo", "--screenshot", f"{tmp}/demo.png"],
                             check=True, capture_output=True, text=True, env=env)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("radgui-startup-seconds"))
    return float(line.split()[1])


def bare_viewer_paint() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NAPARI_CONFIG=f"{tmp}/settings.yaml")
        out = subprocess.run([sys.executable, "-c", BARE_VIEWER], check=True, capture_output=True, text=True,
                             env=env)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("radgui-startup-seconds"))
    return float(line.split()[1])


def main() -> None:
    rows = []
    base = statistics.median(_wall([sys.executable, "-c", "pass"]) for _ in range(N))
    rows.append(("python -c pass (reference)", base, 1.0))
    for stmt in ("import radgui", "import radgui.io", "import radgui.cli; radgui.cli.build_parser()"):
        t = statistics.median(_wall([sys.executable, "-c", stmt]) for _ in range(N))
        rows.append((stmt, t, t / base))
    # the first run warms the disk cache; report the median of the next N
    first_paint()
    t = statistics.median(first_paint() for _ in range(N))
    bare = statistics.median(bare_viewer_paint() for _ in range(N))
    rows.append(("bare napari.Viewer(): start -> first painted window", bare, bare / base))
    rows.append(("radgui demo --screenshot: start -> first painted window", t, t / base))
    print(f"{'what':58s} {'seconds':>8s} {'x python':>9s}")
    for what, secs, ratio in rows:
        print(f"{what:58s} {secs:8.3f} {ratio:9.1f}")
    print(f"radgui first paint / bare napari.Viewer() first paint (same run): {t / bare:.2f}x "
          f"(target: radgui <= 3 s on a quiet 2-core machine)")


if __name__ == "__main__":
    main()
