"""Every ``examples/*.py`` runs, prints what it promises, loads no Qt and writes only into its OUTDIR.

Each script runs in its own process (as ``python examples/<name>.py OUTDIR``
would), from an empty working directory, so a script that writes next to
itself or into the current directory fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # about 15 s for all of them

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))

# Run the script as __main__ with OUTDIR as its argument, then check that no GUI toolkit was imported.
RUNNER = """
import runpy, sys
script, outdir = sys.argv[1], sys.argv[2]
sys.argv = [script, outdir]
runpy.run_path(script, run_name="__main__")
gui = sorted({m.split(".")[0] for m in sys.modules} & {"PySide6", "PyQt5", "PyQt6", "qtpy", "napari", "magicgui"})
assert not gui, f"{script} imported {gui}"
"""

#: script -> (regex the output must match, files it must write into OUTDIR)
EXPECTED = {
    "load_and_geometry.py": (r"spacing   \(z, y, x\) = \(5\.000, 0\.570, 0\.570\) mm", ["geometry.json"]),
    "dicom_series_and_suv.py": (r"SUVmax    4\.000 \(truth 4\.000\)", ["dicom"]),
    "rois_rings_core.py": (r"ring9mm .*\n.*core2mm", ["tumour.nrrd", "ring3mm.nrrd", "core2mm.nrrd"]),
    "extract_features.py": (r"features  107 per ROI for tumour, ring3mm, ring6mm",
                            ["features.csv", "features_wide.csv", "provenance.json"]),
    "cohort_extraction.py": (r"done 4, skipped 0, failed 0.*\n(.*\n)*re-run    done 0, skipped 4",
                             ["manifest.csv", "features.csv"]),
    "statistics.py": (r"ICC\(2,1\)  0\.\d{3} \[", ["statistics.png"]),
    "predict_patient.py": (r"probability 0\.\d{3}  95% CI \[0\.\d{3}, 0\.\d{3}\]\n(.*\n)*risk group  (high|low)",
                           ["prediction.json"]),
}


def test_the_documented_examples_exist():
    missing = set(EXPECTED) - {p.name for p in SCRIPTS}
    assert not missing, f"examples listed in examples/README.md are missing: {sorted(missing)}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_example_runs(script, tmp_path):
    outdir, cwd = tmp_path / "out", tmp_path / "cwd"
    cwd.mkdir()
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(script), str(outdir)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout}\n{proc.stderr}"
    pattern, files = EXPECTED.get(script.name, ("", []))  # a new example: exit 0 and a clean cwd suffice
    assert re.search(pattern, proc.stdout), f"{script.name} printed:\n{proc.stdout}"
    for name in files:
        assert (outdir / name).exists(), f"{script.name} did not write {name} into OUTDIR"
    assert not any(cwd.iterdir()), f"{script.name} wrote into the working directory: {list(cwd.iterdir())}"
