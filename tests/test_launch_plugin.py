"""radgui as a plain napari plugin: every dock through napari's plugin manager, the reader.

The napari part runs in a fresh interpreter (plain ``napari.Viewer``, empty
settings through ``NAPARI_CONFIG``) so napari discovers radgui through its
entry point exactly as a user's napari does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[1]


def _write(array, path, spacing=(0.8, 0.8, 2.5), origin=(-10.0, 5.0, 30.0)):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)  # x, y, z
    image.SetOrigin(origin)
    sitk.WriteImage(image, str(path))
    return path


@pytest.fixture
def ct_and_mask(tmp_path):
    rng = np.random.default_rng(0)
    ct = rng.normal(40, 30, (12, 40, 48)).astype(np.int16)
    ct[:, :4, :] = -1000  # air: a CT by its values
    mask = np.zeros(ct.shape, np.uint8)
    mask[4:8, 10:20, 12:24] = 1
    return _write(ct, tmp_path / "case_image.nrrd"), _write(mask, tmp_path / "case_label.nii.gz")


PLAIN_NAPARI = textwrap.dedent('''
    import json, sys
    import napari
    from qtpy.QtWidgets import QApplication
    from radgui.gui.app import DOCKS
    viewer = napari.Viewer(show=True)
    out = {"docks": {}, "layers": []}
    widgets = {}
    for _module, cls_name, title, _area in DOCKS:
        dock, widget = viewer.window.add_plugin_dock_widget("radgui", title)
        QApplication.processEvents()
        widgets[title] = widget
        out["docks"][title] = [type(widget).__name__, getattr(widget.viewer, "__wrapped__", widget.viewer) is viewer,
                                      dock.isVisible()]
    for path in sys.argv[1:3]:
        for layer in viewer.open(path, plugin="radgui"):
            out["layers"].append([layer.name, type(layer).__name__, [round(float(v), 4) for v in layer.scale],
                                  str(layer.data.dtype)])
    image, label = viewer.layers
    out["paired"] = label.metadata["volume"] is image.metadata["volume"]
    view = widgets["View"]
    out["status_bar_readout"] = getattr(view, "status_label", None) is not None
    out["not_claimed"] = []
    from radgui.gui.reader import get_reader
    for path in sys.argv[3:]:
        out["not_claimed"].append(get_reader(path) is None)
    viewer.close()
    print("RESULT " + json.dumps(out))
''')


@pytest.mark.gui
def test_every_dock_and_the_reader_in_plain_napari(ct_and_mask, tmp_path):
    ct, mask = ct_and_mask
    other = tmp_path / "photos"
    other.mkdir()
    (other / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    env = dict(os.environ, NAPARI_CONFIG=str(tmp_path / "napari_settings.yaml"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", PLAIN_NAPARI, str(ct), str(mask),
                           str(other), str(tmp_path / "table.csv"), str(other / "a.png")],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    from radgui.gui.app import DOCKS

    assert {t: v[0] for t, v in out["docks"].items()} == {title: cls for _m, cls, title, _a in DOCKS}
    assert all(v[1] and v[2] for v in out["docks"].values()), out["docks"]
    assert out["status_bar_readout"] is True
    assert out["layers"] == [["case_image", "Image", [2.5, 0.8, 0.8], "int16"],
                             ["case_label", "Labels", [2.5, 0.8, 0.8], "uint8"]]
    assert out["paired"] is True  # the mask belongs to the CT it was opened on (radgui's ROI docks see it)
    assert out["not_claimed"] == [True, True, True]


def test_reader_claims_only_what_it_reads(tmp_path, ct_and_mask):
    from radgui.gui.reader import get_reader, read

    ct, mask = ct_and_mask
    assert get_reader(str(ct)) is read and get_reader(str(mask)) is read
    (tmp_path / "notes.txt").write_text("hello")
    empty = tmp_path / "empty"
    empty.mkdir()
    dicom = tmp_path / "dicom"
    dicom.mkdir()
    (dicom / "IM0001").write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 16)
    withdicomdir = tmp_path / "disc"
    withdicomdir.mkdir()
    (withdicomdir / "DICOMDIR").write_bytes(b"\0" * 132)
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader(str(empty)) is None
    nrrds = tmp_path / "nrrds"
    nrrds.mkdir()
    ct.rename(nrrds / ct.name)
    assert get_reader(str(nrrds)) is None  # NRRD files but no DICOM: napari opens the files one by one
    nested = tmp_path / "patient" / "study"
    nested.mkdir(parents=True)
    (nested / "1.2.3").write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 16)
    assert get_reader(str(tmp_path / "patient")) is read  # series in a sub-folder
    assert get_reader(str(dicom)) is read
    assert get_reader(str(withdicomdir)) is read


def test_manifest_claims_no_wildcard():
    npe2 = pytest.importorskip("npe2")
    manifest = npe2.PluginManifest.from_file(ROOT / "radgui" / "gui" / "napari.yaml")
    (reader,) = manifest.contributions.readers
    assert "*" not in reader.filename_patterns
    assert set(reader.filename_patterns) == {"*.nrrd", "*.nhdr", "*.nii", "*.nii.gz", "*.mha", "*.mhd",
                                             "*.dcm", "DICOMDIR"}


def test_reader_returns_labels_for_an_integer_mask_and_image_for_ct(ct_and_mask):
    from radgui.gui.reader import read

    ct, mask = ct_and_mask
    (data, kwargs, kind), = read(str(mask))
    assert kind == "labels" and data.dtype == np.uint8 and int(data.sum()) == 4 * 10 * 12
    assert kwargs["metadata"]["roi"] is True
    (data, kwargs, kind), = read(str(ct))
    assert kind == "image" and data.dtype == np.int16


def test_reader_keeps_a_float_or_many_valued_image_as_image(tmp_path):
    from radgui.gui.reader import read

    pet = _write(np.random.default_rng(1).random((6, 10, 10)).astype(np.float32) * 5, tmp_path / "pet.nrrd")
    mr = _write((np.arange(600).reshape(6, 10, 10) % 997).astype(np.uint16), tmp_path / "mr.nrrd")
    assert read(str(pet))[0][2] == "image"
    assert read(str(mr))[0][2] == "image"  # 599 distinct values: more labels than a mask holds


def test_dock_constructors_name_napari_viewer():
    import importlib
    import inspect

    from radgui.gui.app import DOCKS

    for module, cls_name, _t, _a in DOCKS:
        cls = getattr(importlib.import_module(f"radgui.gui.{module}"), cls_name)
        assert list(inspect.signature(cls.__init__).parameters)[1] == "napari_viewer", cls_name
