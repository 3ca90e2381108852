"""Outputs through the real entry points: cohort resume after a torn/full write, train/evaluate sets,
GUI exports, a closed stdout, YAML bombs as training configs and presets."""

from __future__ import annotations

import errno
import re
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

from radgui import files
from radgui.cli import main
from radgui.errors import InputFileError, OutputFileError
from radgui.features import extract_cohort
from radgui.files import verify_manifest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "train"
PRESET = {"imageType": {"Original": {}}, "featureClass": {"firstorder": None, "shape": None},
          "setting": {"binWidth": 25}}


def _case(folder: Path, name: str, seed: int) -> tuple[str, str]:
    rng = np.random.default_rng(seed)
    arr = (rng.normal(0, 100, (8, 16, 16)) - 500).astype(np.int16)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.8, 0.8, 2.0))
    sitk.WriteImage(img, str(folder / f"{name}.nrrd"))
    lab = np.zeros(arr.shape, np.uint8)
    lab[2:6, 4:12, 4:12] = 1
    m = sitk.GetImageFromArray(lab)
    m.CopyInformation(img)
    sitk.WriteImage(m, str(folder / f"{name}_label.nrrd"))
    return f"{name}.nrrd", f"{name}_label.nrrd"


@pytest.fixture
def cohort(tmp_path):
    """A manifest of 4 small cases; returns (manifest, manifest of the first 2)."""
    rows = []
    for i in range(4):
        img, lab = _case(tmp_path, f"p{i}", i)
        rows.append({"patient_id": f"P{i}", "image": img, "mask": lab, "roi": "tumour"})
    full, half = tmp_path / "cohort.csv", tmp_path / "first-two.csv"
    pd.DataFrame(rows).to_csv(full, index=False)
    pd.DataFrame(rows[:2]).to_csv(half, index=False)
    return full, half


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def _radgui_error_line(capsys) -> str:
    """The one ``radgui ...: error:`` line of stderr (training also lets library warnings through)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("radgui ")]
    assert len(lines) == 1, err
    return lines[0]


# --------------------------------------------------------------------------- cohort CSV

def test_resume_drops_a_torn_last_line(cohort, tmp_path):
    full, half = cohort
    out = tmp_path / "features.csv"
    extract_cohort(half, out, PRESET)
    good = out.read_bytes()
    torn = good.splitlines(keepends=True)[-1][:57]  # a disk-full or kill -9 left half of a row
    out.write_bytes(good + torn)
    summary = extract_cohort(full, out, PRESET)
    assert summary["repaired_bytes"] == 57
    assert summary["done"] == 2 and summary["skipped"] == 2
    table = pd.read_csv(out)
    assert list(table["patient_id"]) == ["P0", "P1", "P2", "P3"]
    assert table.shape[1] == len(good.splitlines()[0].split(b","))
    assert out.read_bytes().startswith(good)


def test_resume_refuses_a_line_with_the_wrong_field_count(cohort, tmp_path, capsys):
    full, half = cohort
    out = tmp_path / "features.csv"
    extract_cohort(half, out, PRESET)
    lines = out.read_text().splitlines(keepends=True)
    n = len(lines[0].split(","))
    lines[1] = ",".join(lines[1].split(",")[: n - 5]) + "\n"  # a short (damaged) row in the middle
    out.write_text("".join(lines))
    before = out.read_bytes()
    with pytest.raises(InputFileError) as info:
        extract_cohort(full, out, PRESET)
    assert str(info.value) == (f"{out}: cannot resume: the existing output line 2 has {n - 5} fields where the "
                               f"header has {n} (damaged, or written by something else); move it away or write "
                               "to a new file")
    assert main(["extract", "--manifest", str(full), "-o", str(out), "--preset", "ct-original", "--quiet"]) == 2
    assert "line 2 has" in _one_error_line(capsys)
    assert out.read_bytes() == before


def test_resume_refuses_the_glued_line_an_old_resume_made(cohort, tmp_path):
    """The issue's file: a half row, then the next resume's first row glued onto it, then more rows."""
    full, half = cohort
    out = tmp_path / "features.csv"
    extract_cohort(half, out, PRESET)
    header, first, second = out.read_text().splitlines(keepends=True)
    n = len(header.split(","))
    half_row = first[: len(first) // 2].rstrip("\n")
    glued = half_row + second  # no newline after the half row: the next append continued the same line
    out.write_text(header + first + glued + second.replace("P1", "P7"))
    glued_fields = len(glued.rstrip("\n").split(","))
    assert glued_fields > n
    before = out.read_bytes()
    with pytest.raises(InputFileError, match=re.escape(f"line 3 has {glued_fields} fields where the header has {n}")):
        extract_cohort(full, out, PRESET)
    assert out.read_bytes() == before


@pytest.mark.parametrize("content", ["id,value\nA,1\n", "id,value\nA,1", "notes without a newline"])
def test_resume_never_repairs_a_file_that_is_not_ours(cohort, tmp_path, content):
    full, _ = cohort
    out = tmp_path / "features.csv"
    out.write_text(content)
    with pytest.raises(InputFileError, match="no patient_id column in its header"):
        extract_cohort(full, out, PRESET)
    assert out.read_text() == content  # not truncated at its last newline


@pytest.mark.parametrize("torn_header", ["patient_id,roi,time", "patie"])
def test_resume_after_a_kill_in_the_first_write_starts_over(cohort, tmp_path, torn_header):
    full, _ = cohort
    out = tmp_path / "features.csv"
    out.write_text(torn_header)
    summary = extract_cohort(full, out, PRESET)
    assert summary["repaired_bytes"] == len(torn_header) and summary["done"] == 4
    assert list(pd.read_csv(out)["patient_id"]) == ["P0", "P1", "P2", "P3"]


def test_failed_append_keeps_the_csv_readable_and_resume_completes(cohort, tmp_path, monkeypatch):
    """The issue's disk-full run: the failing append leaves no half row; the run stops with exit 2."""
    full, _ = cohort
    out = tmp_path / "features.csv"
    real_write = os.write
    calls = []

    def second_append_fails(fd, data):
        calls.append(len(data))
        if len(calls) == 2:
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(files.os, "write", second_append_fails)
    with pytest.raises(OutputFileError) as info:
        extract_cohort(full, out, PRESET)
    assert str(info.value).startswith(f"{out}: cannot append (disk full)")
    assert list(pd.read_csv(out)["patient_id"]) == ["P0"]
    assert out.read_bytes().endswith(b"\n")
    monkeypatch.setattr(files.os, "write", real_write)
    again = extract_cohort(full, out, PRESET)
    assert again["done"] == 3 and again["skipped"] == 1 and again["repaired_bytes"] == 0
    table = pd.read_csv(out)
    assert list(table["patient_id"]) == ["P0", "P1", "P2", "P3"] and not table.duplicated().any()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 512 KiB tmpfs (root only; skipped where mounting is not permitted)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)],
                              capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=20)


def _ballast(disk: Path, leave: int) -> Path:
    st = os.statvfs(disk)
    path = disk / "ballast"
    path.write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
    return path


def test_cohort_on_a_real_full_disk_then_resume(cohort, tiny_disk, capsys):
    full, _ = cohort
    out = tiny_disk / "features.csv"
    ballast = _ballast(tiny_disk, 5000)  # room for the header and a few rows of ~700 bytes, not 4 KiB pages more
    rc = main(["extract", "--manifest", str(full), "-o", str(out), "--preset", "ct-original", "--quiet"])
    line = _one_error_line(capsys)
    assert rc == 2 and line.startswith(f"radgui extract: error: {out}: cannot append (disk full)")
    kept = pd.read_csv(out) if out.stat().st_size else pd.DataFrame({"patient_id": []})
    assert out.stat().st_size == 0 or out.read_bytes().endswith(b"\n")
    assert len(kept) < 4 and not kept.duplicated().any()
    ballast.unlink()
    rc = main(["extract", "--manifest", str(full), "-o", str(out), "--preset", "ct-original", "--quiet"])
    assert rc == 0
    table = pd.read_csv(out)
    assert list(table["patient_id"]) == ["P0", "P1", "P2", "P3"]


def test_single_case_output_folder_is_checked_before_extracting(tmp_path, capsys, monkeypatch):
    extract_module = importlib.import_module("radgui.features.extract")  # the module, not the function

    img, lab = _case(tmp_path, "p0", 0)
    (tmp_path / "plain").write_text("x")

    def must_not_run(*a, **k):
        raise AssertionError("extraction started although the output folder is not writable")

    monkeypatch.setattr(extract_module, "iter_extract", must_not_run)
    out = tmp_path / "plain" / "f.csv"
    rc = main(["extract", "--image", str(tmp_path / img), "--mask", str(tmp_path / lab), "-o", str(out), "--quiet"])
    assert rc == 2
    assert _one_error_line(capsys) == f"radgui extract: error: {out.parent}: output folder is not writable (not a folder)"


# --------------------------------------------------------------------------- train / evaluate

def _train_config(tmp: Path, seed: int = 0, n: int = 90) -> Path:
    spec = importlib.util.spec_from_file_location("make_cohort", EXAMPLE / "make_cohort.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    feats, clin = mod.make(n, seed)
    feats.to_csv(tmp / f"features{seed}.csv", index=False)
    clin.to_csv(tmp / f"clinical{seed}.csv", index=False)
    doc = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    doc["features"], doc["clinical"] = f"features{seed}.csv", f"clinical{seed}.csv"
    doc.pop("survival")
    doc["validation"] = {"repeats": 0, "folds": 3, "bootstrap": 0, "n_jobs": 1}
    doc["steps"] = {"zscore": {}, "lasso": {"folds": 3, "n_lambdas": 5}}
    path = tmp / f"config{seed}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_train_checks_the_output_folder_before_training(tmp_path, capsys, monkeypatch):
    import radgui.model.train as train_module

    config = _train_config(tmp_path)
    (tmp_path / "plain").write_text("a file, not a folder")

    def must_not_run(*args, **kwargs):
        raise AssertionError("training started although the output folder is not writable")

    monkeypatch.setattr(train_module, "iter_train", must_not_run)
    assert main(["train", str(config), "--out", str(tmp_path / "plain" / "out")]) == 2
    assert _one_error_line(capsys) == (f"radgui train: error: {tmp_path / 'plain' / 'out'}: output folder is not "
                                       "writable (not a folder)")


@pytest.mark.slow
def test_train_on_a_full_disk_keeps_the_previous_set(tmp_path, tiny_disk, capsys):
    out = tiny_disk / "model"
    assert main(["train", str(_train_config(tmp_path, 0)), "--out", str(out), "--quiet"]) == 0
    stdout = capsys.readouterr().out
    assert f"wrote {out / 'manifest.json'}" in stdout
    assert verify_manifest(out) == []
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["manifest.json", "metrics.json", "model.radgui-model", "predictions.csv", "report.pdf"]
    ballast = _ballast(tiny_disk, 20_000)  # the new report (tens of kB) cannot fit
    assert main(["train", str(_train_config(tmp_path, 3)), "--out", str(out), "--quiet"]) == 2
    line = _radgui_error_line(capsys)
    assert "cannot write (disk full)" in line and "previous" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temporary left, nothing replaced
    assert verify_manifest(out) == []
    from radgui.model.bundle import ModelBundle

    ModelBundle.load(out / "model.radgui-model")
    ballast.unlink()
    assert main(["train", str(_train_config(tmp_path, 3)), "--out", str(out), "--quiet"]) == 0
    assert verify_manifest(out) == [] and (out / "report.pdf").read_bytes() != before["report.pdf"]


@pytest.mark.slow
def test_evaluate_writes_a_verified_set_and_checks_the_folder_first(tmp_path, capsys, monkeypatch):
    config = _train_config(tmp_path, 0)
    assert main(["train", str(config), "--out", str(tmp_path / "m"), "--quiet"]) == 0
    bundle = tmp_path / "m" / "model.radgui-model"
    args = ["evaluate", str(bundle), str(tmp_path / "features0.csv"), "--clinical", str(tmp_path / "clinical0.csv"),
            "--outcome", "response"]
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "ev")]) == 0
    assert f"wrote {tmp_path / 'ev' / 'manifest.json'}" in capsys.readouterr().out
    assert verify_manifest(tmp_path / "ev") == []
    doc = (tmp_path / "ev" / "manifest.json").read_text()
    assert all(name in doc for name in ("report.pdf", "predictions.csv", "metrics.json"))
    import radgui.model.train as train_module

    def must_not_run(*a, **k):
        raise AssertionError("evaluation started although the output folder is not writable")

    monkeypatch.setattr(train_module, "evaluate_bundle", must_not_run)
    (tmp_path / "plain").write_text("x")
    assert main([*args, "--out", str(tmp_path / "plain" / "ev")]) == 2
    assert "output folder is not writable (not a folder)" in _radgui_error_line(capsys)


# --------------------------------------------------------------------------- GUI exports

def _failing_after_partial(path_arg_index=0):
    def fail(*args, **kwargs):
        Path(args[path_arg_index]).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    return fail


def test_gui_features_export_keeps_previous_files_on_a_full_disk(tmp_path, monkeypatch):
    pytest.importorskip("qtpy")
    from radgui.gui.features_dock import FeaturesDock

    target = tmp_path / "f.csv"
    target.write_text("old csv\n")
    (tmp_path / "f.provenance.json").write_text("{}\n")
    result = pd.DataFrame({"original_firstorder_Mean": [1.0]}, index=pd.Index(["tumour"], name="roi"))
    monkeypatch.setattr(files.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OutputFileError, match="disk full"):
        FeaturesDock.export_csv(SimpleNamespace(result=result), target)
    assert target.read_text() == "old csv\n" and (tmp_path / "f.provenance.json").read_text() == "{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "f.provenance.json"]
    monkeypatch.undo()
    FeaturesDock.export_csv(SimpleNamespace(result=result), target)
    assert pd.read_csv(target, index_col="roi").loc["tumour", "original_firstorder_Mean"] == 1.0


def test_gui_figure_export_never_leaves_a_partial_image(tmp_path):
    pytest.importorskip("qtpy")
    from matplotlib.figure import Figure

    from radgui.gui.predict_dock import PredictDock

    target = tmp_path / "nomogram.png"
    target.write_bytes(b"\x89PNG old")
    fig = Figure()
    fig.savefig = _failing_after_partial()
    dock = SimpleNamespace(nomogram_canvas=SimpleNamespace(figure=fig), km_canvas=None)
    with pytest.raises(OutputFileError, match="disk full"):
        PredictDock.export_figure(dock, "nomogram", target)
    assert target.read_bytes() == b"\x89PNG old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nomogram.png"]
    dock.nomogram_canvas.figure = Figure()
    PredictDock.export_figure(dock, "nomogram", target)
    assert target.read_bytes().startswith(b"\x89PNG\r\n")


# --------------------------------------------------------------------------- closed stdout (| head)

def _with_closed_stdout(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (`head`) is already gone: every write gets EPIPE
    try:
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        return subprocess.run([sys.executable, "-c", "import sys; from radgui.cli import main; sys.exit(main())",
                               *args], stdout=write_end, stderr=subprocess.PIPE, cwd=cwd, env=env, timeout=120)
    finally:
        os.close(write_end)


def test_broken_pipe_exits_quietly(tmp_path):
    done = _with_closed_stdout(["extract", "--list-presets"], tmp_path)
    assert done.stderr.decode() == ""
    assert done.returncode == 141


def test_broken_pipe_after_a_real_extraction(tmp_path):
    img, lab = _case(tmp_path, "p0", 0)
    done = _with_closed_stdout(["extract", "--image", img, "--mask", lab, "--preset", "ct-original", "--quiet"],
                               tmp_path)
    assert (done.returncode, done.stderr.decode()) == (141, "")


def test_broken_pipe_while_writing_a_table(tmp_path):
    rows = [{"patient_id": f"P{i}", "reader": r, "f": float(i + (r == "B") * 0.1)} for i in range(30) for r in "AB"]
    pd.DataFrame(rows).to_csv(tmp_path / "f.csv", index=False)
    done = _with_closed_stdout(["icc", str(tmp_path / "f.csv")], tmp_path)
    assert (done.returncode, done.stderr.decode()) == (141, "")


# --------------------------------------------------------------------------- YAML bombs at the entry points

def _alias_bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


HOSTILE = {"alias-bomb": (_alias_bomb(), "anchors (&name) are not allowed"),
           "deep": ("[" * 5000 + "]" * 5000 + "\n", "nested deeper than 64 levels")}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_training_config_is_refused_fast(tmp_path, capsys, kind):
    text, reason = HOSTILE[kind]
    config = tmp_path / f"{kind}.yaml"
    config.write_text(text)
    t0 = time.monotonic()
    rc = main(["train", str(config), "--out", str(tmp_path / "out")])
    elapsed = time.monotonic() - t0
    line = _one_error_line(capsys)
    assert rc == 2
    assert line.startswith(f"radgui train: error: {config}: not valid YAML (") and reason in line
    assert not (tmp_path / "out").exists()  # nothing ran
    assert elapsed < 10, "a generous guard only: the refusal is at the first anchor / 65th level"


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_preset_is_refused_fast(tmp_path, capsys, kind):
    from radgui.errors import RadguiError
    from radgui.features.presets import load_preset

    text, reason = HOSTILE[kind]
    preset = tmp_path / f"{kind}.yaml"
    preset.write_text(text)
    t0 = time.monotonic()
    with pytest.raises(RadguiError, match=re.escape(reason)):
        load_preset(preset)
    rc = main(["extract", "--preset", str(preset), "--image", str(tmp_path / "none.nrrd"),
               "--mask", str(tmp_path / "none_label.nrrd"), "-o", str(tmp_path / "f.csv")])
    line = _one_error_line(capsys)
    assert rc == 2 and line.startswith("radgui extract: error: ") and reason in line
    assert not (tmp_path / "f.csv").exists()
    assert time.monotonic() - t0 < 10
