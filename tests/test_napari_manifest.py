"""The npe2 manifest is valid and offers every dock of the radgui window."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import radgui


def test_manifest_lists_every_dock_and_each_imports():
    npe2 = pytest.importorskip("npe2")
    from radgui.gui.app import DOCKS

    manifest = npe2.PluginManifest.from_file(Path(radgui.__file__).parent / "gui" / "napari.yaml")
    commands = {c.id: c.python_name for c in manifest.contributions.commands}
    widgets = {w.display_name: commands[w.command] for w in manifest.contributions.widgets}
    assert widgets == {title: f"radgui.gui.{module}:{cls}" for module, cls, title, _ in DOCKS}
    for python_name in commands.values():
        module, attr = python_name.split(":")
        assert hasattr(importlib.import_module(module), attr), python_name
