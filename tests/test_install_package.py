"""The desktop build recipe (no build here: `make package` is too heavy for CI): spec, hooks, icons, .desktop."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "packaging"
SPEC = PKG / "radgui.spec"


def _spec_names() -> dict:
    """Top-level assignments of the spec that are plain literals or simple paths, evaluated safely."""
    return {node.targets[0].id: node for node in ast.parse(SPEC.read_text()).body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}


def _png(width: int, height: int, pixel) -> bytes:
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _check_screenshot():
    spec = importlib.util.spec_from_file_location("install_check_screenshot", PKG / "check_screenshot.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_spec_parses_and_is_one_folder_with_hooks_and_data():
    tree = ast.parse(SPEC.read_text())
    calls = {n.func.id: n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= set(calls)
    exe = {k.arg: k.value for k in calls["EXE"].keywords}
    assert ast.literal_eval(exe["exclude_binaries"]) is True  # one-folder, not one-file
    analysis = {k.arg: k.value for k in calls["Analysis"].keywords}
    assert {"datas", "hookspath", "runtime_hooks", "hiddenimports", "excludes"} <= set(analysis)
    text = SPEC.read_text()
    # the demo case and model (resources/), the napari manifest and the hooks folder are named
    assert '(str(REPO / "resources"), "radgui/resources")' in text
    assert '"napari.yaml"), "radgui/gui")' in text
    assert 'HOOKS = [str(SPEC_DIR / "hooks")]' in text
    assert 'radgui_main.py' in text and (PKG / "radgui_main.py").is_file()
    excludes = ast.literal_eval(_spec_names()["EXCLUDES"].value)
    assert {"PyQt5", "PyQt6", "PySide2"} <= set(excludes)  # one Qt binding only


def test_demo_data_and_model_that_the_spec_bundles_exist():
    for name in ["demo/lung1_ct.nrrd", "demo/lung1_tumour.nrrd", "models/demo.radgui-model",
                 "presets/ct-original.yaml", "icons/radgui.svg"]:
        assert (REPO / "resources" / name).is_file(), name
    assert (REPO / "radgui" / "gui" / "napari.yaml").is_file()


@pytest.mark.parametrize("package", ["radgui", "napari", "napari_resources", "npe2", "vispy", "radiomics",
                                     "xgboost", "sksurv", "skops"])
def test_hook_for_each_package_with_data_files_or_lazy_imports(package):
    hook = PKG / "hooks" / f"hook-{package}.py"
    tree = ast.parse(hook.read_text())
    assigned = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    assert assigned & {"datas", "hiddenimports", "binaries"}
    assert importlib.util.find_spec(package) is not None  # the hook is named after a real import name


def test_pyradiomics_hook_collects_the_parameter_schema():
    text = (PKG / "hooks" / "hook-radiomics.py").read_text()
    assert 'subdir="schemas"' in text and 'copy_metadata("pyradiomics-cuda")' in text
    schema = Path(importlib.util.find_spec("radiomics").submodule_search_locations[0]) / "schemas"
    assert (schema / "paramSchema.yaml").is_file() and (schema / "schemaFuncs.py").is_file()


def test_runtime_hook_picks_pyside6():
    tree = ast.parse((PKG / "hooks" / "rthook_radgui.py").read_text())
    defaults = {ast.literal_eval(c.args[0]): ast.literal_eval(c.args[1]) for c in ast.walk(tree)
                if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "setdefault"}
    assert defaults == {"QT_API": "pyside6"}


def test_desktop_entry():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string((PKG / "radgui.desktop").read_text())
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "radgui"
    # plain `radgui` takes no file arguments (files open with `radgui view PATH`): no %F/%f, no MimeType
    assert entry["Exec"] == "radgui" and entry["Icon"] == "radgui" and "MimeType" not in entry
    assert entry["Actions"] == "demo;" and parser["Desktop Action demo"]["Exec"] == "radgui demo"
    assert entry["Categories"].endswith(";") and "MedicalSoftware" in entry["Categories"]
    assert entry["Terminal"] == "false"


@pytest.mark.parametrize("size", [16, 32, 48, 64, 128, 256, 512])
def test_icon_set(size):
    data = (PKG / "icons" / f"radgui-{size}.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (size, size)


def test_windows_and_macos_icons():
    ico = (PKG / "icons" / "radgui.ico").read_bytes()
    assert ico[:4] == b"\x00\x00\x01\x00" and struct.unpack("<H", ico[4:6])[0] >= 5  # >= 5 sizes
    assert (PKG / "icons" / "radgui.icns").read_bytes()[:4] == b"icns"


def test_written_windows_and_macos_steps():
    text = (REPO / "docs" / "install.md").read_text()
    assert "### Windows" in text and "### macOS" in text and "### Linux" in text
    assert "radgui.ico" in text and "radgui.icns" in text and "packaging\\radgui.spec" in text


def test_makefile_package_targets():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^package: \$\(VENV\)/\.installed-package\n\t\$\(PY\) -m PyInstaller .*packaging/radgui\.spec",
                     makefile, re.M)
    block = re.search(r"^package-test:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "dist/radgui/radgui demo --screenshot build/package-test.png" in block
    assert "$(ON_SCREEN)" in block and "packaging/check_screenshot.py build/package-test.png" in block
    assert "dist/radgui/radgui -c" in block and "packaging/check_frozen.py" in block


def test_frozen_entry_runs_python_c_like_python(tmp_path):
    """In the build sys.executable is radgui itself: `radgui -c CODE ARGS` must behave like `python -c`
    (the skops probe of radgui.model.bundle starts its child that way)."""
    spec = importlib.util.spec_from_file_location("install_radgui_main", PKG / "radgui_main.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "argv.txt"
    code = f"import sys; open({str(out)!r}, 'w').write(repr(sys.argv) + __name__)"
    saved = sys.argv[:]
    try:
        assert mod._run_code(["radgui", "-c", code, "/root", "[\"a\"]"]) == 0
    finally:
        sys.argv = saved
    assert out.read_text() == "['-c', '/root', '[\"a\"]']__main__"


def test_screenshot_check_refuses_blank_small_and_non_png(tmp_path):
    check = _check_screenshot().check
    blank = tmp_path / "blank.png"
    blank.write_bytes(_png(900, 700, lambda x, y: (0, 0, 0)))
    assert check(blank) == f"{blank}: the image is blank"
    small = tmp_path / "small.png"
    small.write_bytes(_png(100, 80, lambda x, y: (x % 256, y % 256, 7)))
    assert check(small) == f"{small}: 100x80 is smaller than 800x600"
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"GIF89a" + b"\x00" * 40)
    assert check(fake) == f"{fake}: not a PNG file"
    assert check(tmp_path / "none.png") == f"{tmp_path / 'none.png'}: no screenshot written"
    good = tmp_path / "good.png"
    good.write_bytes(_png(900, 700, lambda x, y: ((x * 7) % 256, (y * 3) % 256, (x + y) % 256)))
    assert check(good) is None
    out = subprocess.run([sys.executable, str(PKG / "check_screenshot.py"), str(blank)], capture_output=True, text=True)
    assert out.returncode == 1 and out.stderr.strip() == f"{blank}: the image is blank"
