"""kill -9 at random (seeded) times of real ``radgui extract --manifest`` and ``radgui train`` processes.

Each run is a real process executing :func:`radgui.cli.main` with the usual
arguments, killed with SIGKILL. To keep 20+ kills of each affordable, the
processes are forked from a "zygote" process that has already imported radgui,
PyRadiomics, scikit-learn and matplotlib (the imports are 1-3 s of each run,
and killing inside them tests nothing); what runs after the fork is exactly the
``radgui`` console script's ``main(argv)``.

After every kill:

- cohort: the features CSV reads with ``pd.read_csv`` once resume has cut a
  torn tail (the only repair resume makes), no row is duplicated or torn and
  every row equals the same row of a clean run; the run that finally completes
  holds exactly the clean run's rows;
- train: the output folder verifies against its manifest (it always has one:
  the first, unkilled run made it), the bundle is a loadable zip, and the set is
  either the previous good one or the new run's complete one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

from radgui.files import TEMP_PREFIX, drop_torn_tail, sha256_file, verify_manifest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(signal, "SIGKILL"),
                                 reason="needs fork() and SIGKILL (POSIX)")]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "train"
KILLS = 20

ZYGOTE = r"""
import json, os, sys
import radgui.cli, radgui.features.cohort, radgui.features.extract, radgui.io.volume
import radiomics.featureextractor
import radgui.model.train, radgui.model.config, radgui.report.model_report
import matplotlib.backends.backend_pdf, skops.io
import importlib
for name in ("statsmodels.api", "formulaic", "patsy", "PIL.Image", "radgui.plots.curves",
             "radgui.plots.model_figures", "radgui.plots.nomogram", "radgui.stats"):
    try:
        importlib.import_module(name)
    except ImportError:
        pass
from radgui.cli import main

sys.stdout.write("ready\n"); sys.stdout.flush()
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.chdir(req["cwd"])
        fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        try:
            rc = main(req["argv"])
        except BaseException as exc:
            import traceback
            traceback.print_exc()
            rc = 99
        sys.stdout.flush(); sys.stderr.flush()
        if req.get("modules"):  # a warm-up run: tell the zygote what the command imports
            with open(req["modules"], "w") as fh:
                json.dump(sorted(sys.modules), fh)
        os._exit(rc)
    if req.get("modules"):
        os.waitpid(pid, 0)
        for name in json.load(open(req["modules"])):
            if name not in sys.modules and not name.startswith("__"):
                try:
                    importlib.import_module(name)
                except BaseException:
                    pass
        sys.stdout.write("warm\n"); sys.stdout.flush()
        continue
    sys.stdout.write(f"{pid}\n"); sys.stdout.flush()
    _, status = os.waitpid(pid, 0)
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    rc = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sys.stdout.write(json.dumps({"pid": pid, "signal": sig, "rc": rc}) + "\n"); sys.stdout.flush()
"""


class Zygote:
    """A process that forks one real ``radgui`` CLI run per request."""

    def __init__(self, workdir: Path):
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
        self.workdir = workdir
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, cwd=workdir)
        self._buf = b""
        self.n = 0
        assert self._line(120) == "ready"

    def _line(self, timeout: float | None) -> str | None:
        """Next line from the zygote, or None when ``timeout`` passes first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("the zygote process died")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def run(self, argv: list[str], cwd: Path, kill_after: float | None = None) -> dict:
        """Run ``radgui ARGV`` in ``cwd``; SIGKILL it after ``kill_after`` s if still running.

        Returns ``{"pid", "signal", "rc", "seconds", "log"}``.
        """
        self.n += 1
        log = cwd / f"run-{self.n}.log"
        self.proc.stdin.write((json.dumps({"argv": argv, "cwd": str(cwd), "log": str(log)}) + "\n").encode())
        self.proc.stdin.flush()
        pid = int(self._line(60))
        t0 = time.monotonic()
        status = self._line(kill_after) if kill_after is not None else self._line(600)
        if status is None:  # still running (not yet reaped by the zygote, so the pid is still this child)
            os.kill(pid, signal.SIGKILL)
            status = self._line(60)
        result = json.loads(status)
        result["seconds"] = time.monotonic() - t0
        result["log"] = log.read_text(errors="replace") if log.exists() else ""
        return result

    def warm(self, argv: list[str], cwd: Path) -> None:
        """Run ``radgui ARGV`` once, then import in the zygote every module it imported."""
        self.n += 1
        req = {"argv": argv, "cwd": str(cwd), "log": str(cwd / f"warm-{self.n}.log"),
               "modules": str(cwd / f"warm-{self.n}.json")}
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        self.proc.stdin.flush()
        assert self._line(600) == "warm"

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    z = Zygote(tmp_path_factory.mktemp("zygote"))
    yield z
    z.close()


# --------------------------------------------------------------------------- cohort extraction

def _cohort(folder: Path, n: int) -> Path:
    rows = []
    for i in range(n):
        rng = np.random.default_rng(i)
        arr = (rng.normal(0, 100, (6, 12, 12)) - 500).astype(np.int16)
        img = sitk.GetImageFromArray(arr)
        sitk.WriteImage(img, str(folder / f"p{i}.nrrd"))
        lab = np.zeros(arr.shape, np.uint8)
        lab[1:5, 2:10, 2:10] = 1
        lab[1:3, 2:6, 2:6] = 2
        m = sitk.GetImageFromArray(lab)
        m.CopyInformation(img)
        sitk.WriteImage(m, str(folder / f"p{i}_label.nrrd"))
        for roi, label in (("tumour", 1), ("core", 2)):  # two labels in one map: the manifest names each
            rows.append({"patient_id": f"P{i:02d}", "image": f"p{i}.nrrd", "mask": f"p{i}_label.nrrd", "roi": roi,
                         "label": label})
    path = folder / "cohort.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    (folder / "preset.yaml").write_text(yaml.safe_dump(
        {"imageType": {"Original": {}}, "featureClass": {"firstorder": None, "shape": None},
         "setting": {"binWidth": 25, "label": 1}}))
    return path


def _check_resumable(csv: Path, reference: pd.DataFrame) -> tuple[int, bool]:
    """What resume sees after a kill: rows read with pd.read_csv, none duplicated, each equal to the clean run's."""
    if not csv.exists():
        return 0, False
    copy = csv.with_name("after-kill.csv")
    shutil.copyfile(csv, copy)
    torn = drop_torn_tail(copy) > 0
    if copy.stat().st_size == 0:
        return 0, torn
    table = pd.read_csv(copy, dtype={"patient_id": str})
    assert list(table.columns) == list(reference.columns)
    keys = list(zip(table["patient_id"], table["roi"]))
    assert len(keys) == len(set(keys)), "a row was written twice"
    ref = reference.set_index(["patient_id", "roi"])
    got = table.set_index(["patient_id", "roi"])
    pd.testing.assert_frame_equal(got, ref.loc[got.index], check_dtype=False)
    return len(table), torn


def test_kill_cohort_extraction(tmp_path, zygote):
    manifest = _cohort(tmp_path, 12)
    argv = ["extract", "--manifest", str(manifest), "--preset", str(tmp_path / "preset.yaml"), "--quiet", "-o"]
    zygote.warm([*argv, str(tmp_path / "warm.csv")], tmp_path)
    clean = zygote.run([*argv, str(tmp_path / "clean.csv")], tmp_path)
    assert (clean["signal"], clean["rc"]) == (0, 0), clean["log"]
    reference = pd.read_csv(tmp_path / "clean.csv", dtype={"patient_id": str})
    assert len(reference) == 24
    assert (tmp_path / "warm.csv").read_bytes() == (tmp_path / "clean.csv").read_bytes()
    duration = clean["seconds"]

    rng = random.Random(20260511)
    out = tmp_path / "features.csv"
    kills = completed = torn_seen = 0
    rows_at_kill = []
    while kills < KILLS:
        res = zygote.run([*argv, str(out)], tmp_path, kill_after=rng.uniform(0.0, duration))
        if res["signal"] == signal.SIGKILL:
            kills += 1
            n, torn = _check_resumable(out, reference)
            rows_at_kill.append(n)
            torn_seen += torn
            continue
        # the run finished before its kill: it resumed from whatever the kills left and completed
        assert (res["signal"], res["rc"]) == (0, 0), res["log"]
        table = pd.read_csv(out, dtype={"patient_id": str})
        pd.testing.assert_frame_equal(table.sort_values(["patient_id", "roi"]).reset_index(drop=True),
                                      reference.sort_values(["patient_id", "roi"]).reset_index(drop=True),
                                      check_dtype=False)
        completed += 1
        out.unlink()  # start another cohort from scratch
    final = zygote.run([*argv, str(out)], tmp_path)
    assert (final["signal"], final["rc"]) == (0, 0), final["log"]
    table = pd.read_csv(out, dtype={"patient_id": str})
    assert sorted(zip(table["patient_id"], table["roi"])) == sorted(zip(reference["patient_id"], reference["roi"]))
    assert kills >= KILLS
    assert len(set(rows_at_kill)) > 1, f"the kills all landed at the same point: {rows_at_kill}"
    print(f"cohort: {kills} kills, {completed} completed resumes, rows at kill {rows_at_kill}, "
          f"torn tails {torn_seen}, clean run {duration:.2f} s")


# --------------------------------------------------------------------------- training

def _train_config(tmp: Path, seed: int) -> Path:
    spec = importlib.util.spec_from_file_location("make_cohort", EXAMPLE / "make_cohort.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    feats, clin = mod.make(90, seed)
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


def _set_of(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if not p.name.startswith(TEMP_PREFIX)}


def _assert_complete_set(folder: Path) -> None:
    """One run's bundle, report and metrics, each complete, matching the manifest written after them."""
    from radgui.model.bundle import ModelBundle

    assert verify_manifest(folder) == []
    assert sorted(json.loads((folder / "manifest.json").read_text())["files"]) == [
        "metrics.json", "model.radgui-model", "predictions.csv", "report.pdf"]
    ModelBundle.load(folder / "model.radgui-model")  # a loadable zip, validated
    pdf = (folder / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF") and len(pdf) > 10_000
    assert "models" in json.loads((folder / "metrics.json").read_text())


def test_kill_train(tmp_path, zygote):
    configs = [_train_config(tmp_path, 0), _train_config(tmp_path, 3)]
    out = tmp_path / "model"
    zygote.warm(["train", str(configs[1]), "--out", str(tmp_path / "warm"), "--quiet"], tmp_path)
    first = zygote.run(["train", str(configs[0]), "--out", str(out), "--quiet"], tmp_path)
    assert (first["signal"], first["rc"]) == (0, 0), first["log"]
    _assert_complete_set(out)
    good = _set_of(out)
    duration = first["seconds"]

    rng = random.Random(20260512)
    kills = runs = 0
    outcome = []
    while kills < KILLS:
        runs += 1
        res = zygote.run(["train", str(configs[runs % 2]), "--out", str(out), "--quiet"], tmp_path,
                         kill_after=rng.uniform(0.05, 1.0) * duration)
        killed = res["signal"] == signal.SIGKILL
        if not killed:
            assert (res["signal"], res["rc"]) == (0, 0), res["log"]
        kills += killed
        # whatever happened, the folder holds one complete set that verifies, with a loadable bundle
        _assert_complete_set(out)
        now = _set_of(out)
        if killed:
            outcome.append("previous" if now == good else "new")
        else:
            assert now != good  # a finished run replaced the whole set (its report has a new date)
            outcome.append("finished")
        good = now
    final = zygote.run(["train", str(configs[1]), "--out", str(out), "--quiet"], tmp_path)
    assert (final["signal"], final["rc"]) == (0, 0), final["log"]
    _assert_complete_set(out)
    assert not [p.name for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]  # a clean run clears stale temps
    assert kills >= KILLS and outcome.count("previous") >= 5
    print(f"train: {kills} kills over {runs} runs; outcomes {outcome}; clean run {duration:.2f} s")
