"""The engine never imports Qt or napari (checked in a fresh interpreter)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import radgui

GUI_MODULES = ("qtpy", "PySide6", "PyQt5", "PyQt6", "napari", "magicgui")


def engine_modules() -> list[str]:
    mods = []
    for info in pkgutil.walk_packages(radgui.__path__, prefix="radgui."):
        if info.name.startswith("radgui.gui") or info.name == "radgui.__main__":
            continue
        mods.append(info.name)
    return mods


def test_engine_modules_do_not_import_qt_or_napari():
    mods = engine_modules()
    assert "radgui.io.volume" in mods and "radgui.cli" in mods
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {GUI_MODULES!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"GUI modules loaded by the engine: {out.stdout.strip()}"


def test_import_radgui_is_light():
    code = "import sys, radgui; print(sorted(m for m in sys.modules if m.startswith(('SimpleITK','radiomics','napari','qtpy'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"
