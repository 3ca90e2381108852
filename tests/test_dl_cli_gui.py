"""`radgui dl synth|train|extract` end to end on files, and the DL features dock (progress, Cancel)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch", reason="the dl extra (torch) is not installed: make test-dl")
pytest.importorskip("monai", reason="the dl extra (MONAI) is not installed: make test-dl")

from radgui.cli import main  # noqa: E402

pytestmark = pytest.mark.dl

CROP_ARGS = ["--crop-mm", "24", "--spacing-mm", "1.5", "--window", "-100", "200", "--threads", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dlcli")
    assert main(["dl", "synth", str(folder), "--n", "16", "--seed", "2"]) == 0
    weights = folder / "w.safetensors"
    assert main(["dl", "train", str(folder / "manifest.csv"), "--outcomes", str(folder / "outcomes.csv"),
                 "--label", "response", "--out", str(weights), "--epochs", "2", "--quiet", *CROP_ARGS]) == 0
    return folder, weights


def test_cli_train_then_extract_a_cohort_and_one_roi(trained, capsys):
    folder, weights = trained
    assert weights.is_file() and weights.with_suffix(".json").is_file()
    out = folder / "dl.csv"
    assert main(["dl", "extract", str(weights), str(folder / "manifest.csv"), "-o", str(out), "--quiet"]) == 0
    table = pd.read_csv(out, dtype={"patient_id": str})
    assert list(table.columns[:6]) == ["patient_id", "roi", "timepoint", "reader", "center", "label"]
    assert [c for c in table.columns if c.startswith("dl_")] == [f"dl_{i}" for i in range(64)]
    assert len(table) == 16 and table["patient_id"].iloc[0] == "syn0000"
    patients = folder / "dl_patients.csv"
    assert main(["dl", "extract", str(weights), str(folder / "manifest.csv"), "-o", str(patients), "--quiet",
                 "--patient-table"]) == 0
    ptable = pd.read_csv(patients, dtype={"patient_id": str})
    assert list(ptable.columns) == ["patient_id", *[f"dl_{i}" for i in range(64)]]  # radgui train's features file
    np.testing.assert_array_equal(ptable.iloc[:, 1:].to_numpy(), table.iloc[:, 6:].to_numpy())
    capsys.readouterr()
    assert main(["dl", "extract", str(weights), "--image", str(folder / "images/syn0000.nrrd"),
                 "--mask", str(folder / "images/syn0000_mask.nrrd"), "--quiet"]) == 0
    one = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    # the same ROI gives the same features through both paths
    np.testing.assert_allclose(one[[f"dl_{i}" for i in range(64)]].to_numpy()[0],
                               table[[f"dl_{i}" for i in range(64)]].to_numpy()[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("argv, match", [
    (["train", "{m}", "--outcomes", "{o}", "--out", "{d}/x.safetensors"], "give --label"),
    (["train", "{m}", "--outcomes", "{o}", "--time", "t", "--out", "{d}/x.safetensors"], "both --time and --event"),
    (["train", "{m}", "--outcomes", "{o}", "--label", "nope", "--out", "{d}/x.safetensors"], "lacks column"),
    (["train", "{m}", "--outcomes", "{o}", "--label", "response", "--out", "{d}/x.pt"], "must end in .safetensors"),
    (["extract", "{d}/missing.safetensors", "{m}"], "weights file not found"),
    (["extract", "{w}"], "give a manifest, or --image and --mask"),
    (["train", "{m}", "--outcomes", "{o}", "--label", "response", "--out", "{d}/x.safetensors", "--spacing-mm",
      "0"], "spacing_mm"),
])
def test_cli_bad_input_is_one_line_and_exit_2(trained, capsys, argv, match):
    folder, weights = trained
    fill = {"m": folder / "manifest.csv", "o": folder / "outcomes.csv", "d": folder, "w": weights}
    code = main(["dl", *[a.format(**fill) for a in argv], "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and match in err and err.count("\n") == 1, err


# ----------------------------------------------------------------------------- the dock
@pytest.fixture
def dock(qtbot, monkeypatch, trained):
    pytest.importorskip("napari")
    from napari.components import ViewerModel

    from radgui.gui import dl_dock
    from radgui.gui.layers import add_roi, add_volume
    from radgui.io import load_mask, load_volume

    errors = []
    monkeypatch.setattr(dl_dock, "_notify_error", errors.append)
    folder, weights = trained
    viewer = ViewerModel()
    vol = load_volume(folder / "images/syn0001.nrrd")
    add_volume(viewer, vol)
    add_roi(viewer, load_mask(folder / "images/syn0001_mask.nrrd", like=vol), vol, name="tumour")
    widget = dl_dock.DLDock(viewer)
    qtbot.addWidget(widget)
    return widget, weights, errors, folder


def test_dock_extracts_the_current_roi_in_the_background(dock, qtbot, tmp_path):
    widget, weights, errors, folder = dock
    assert widget.roi_combo.currentText() == "tumour"
    widget.start_extraction()
    assert errors == ["Choose a weights file first (radgui dl train writes one)"]
    widget.set_weights(weights)
    widget.start_extraction()
    qtbot.waitUntil(lambda: not widget.busy, timeout=60_000)
    assert widget.result is not None and widget.table.rowCount() == 64
    assert widget.progress.value() == 100 and widget.export_button.isEnabled()
    assert widget.status.text() == ("64 deep features of tumour (se-resnet-small, binary target, 24 mm at 1.5 mm "
                                    "crop, cpu)")
    ref = pd.read_csv(folder / "dl.csv") if (folder / "dl.csv").exists() else None
    if ref is not None:
        np.testing.assert_allclose(widget.result.to_numpy(), ref.iloc[1][[f"dl_{i}" for i in range(64)]].to_numpy(
            dtype=float), rtol=1e-5, atol=1e-6)
    path = widget.export_csv(tmp_path / "one.csv")
    assert list(pd.read_csv(path).columns[:2]) == ["roi", "dl_0"]


def test_dock_cancel_shows_nothing_and_a_bad_file_is_one_line(dock, qtbot, tmp_path):
    widget, weights, errors, _folder = dock
    widget.set_weights(weights)
    widget.start_extraction()
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.busy, timeout=60_000)
    assert widget.result is None and widget.status.text() == "cancelled"
    bad = tmp_path / "evil.safetensors"
    bad.write_bytes(b"\x80\x04junk")
    bad.with_suffix(".json").write_text(weights.with_suffix(".json").read_text())
    widget.set_weights(bad)
    widget.start_extraction()
    qtbot.waitUntil(lambda: not widget.busy, timeout=60_000)
    assert widget.result is None and errors and "pickle or torch.save archive" in errors[-1]


def test_cropping_a_cohort_beyond_the_memory_budget_is_refused_before_reading(trained, monkeypatch):
    from radgui.dl import crop_cohort
    from radgui.dl.synthetic import CROP
    from radgui.errors import DLInputError

    folder, _weights = trained
    monkeypatch.setenv("RADGUI_MEMORY_BUDGET_GB", "0.0005")          # ~0.5 MB < 16 crops of 24^3 float32
    with pytest.raises(DLInputError, match=r"16 crops of 24\^3 voxels need .* memory budget"):
        crop_cohort(folder / "manifest.csv", CROP)
