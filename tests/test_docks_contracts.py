"""The import contracts of pyproject's [tool.importlinter] hold (also run as ``lint-imports`` in ``make test``).

* the engine (every package but radgui.cli and radgui.gui) never imports Qt,
  napari or magicgui, not even through another radgui module;
* layers: cli and gui on top, then report > plots > model > features > roi >
  io, with stats, errors, progress, files and untrusted at the bottom.
"""

from __future__ import annotations

from pathlib import Path

import pytest

importlinter = pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept(monkeypatch, capsys):
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Contracts: 2 kept, 0 broken." in out


def test_a_layer_violation_is_caught(monkeypatch, capsys, tmp_path):
    """The contract is not vacuous: an io module importing radgui.features breaks it."""
    import shutil

    from importlinter.cli import lint_imports

    copy = tmp_path / "radgui"
    shutil.copytree(ROOT / "radgui", copy, ignore=shutil.ignore_patterns("__pycache__", "resources"))
    (copy / "io" / "_upward.py").write_text("import radgui.features  # noqa: F401\n")
    (copy / "roi" / "_qt_here.py").write_text("import qtpy  # noqa: F401\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in __import__("sys").modules if m == "radgui" or m.startswith("radgui.")]:
        monkeypatch.delitem(__import__("sys").modules, name)
    code = lint_imports(config_filename=str(tmp_path / "pyproject.toml"), no_cache=True)
    out = capsys.readouterr().out
    assert code == 1
    assert "radgui.io._upward -> radgui.features" in out
    assert "radgui.roi._qt_here -> qtpy" in out
