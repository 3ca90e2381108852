"""Every seed-study example (``examples/studies/*.py``) runs at reduced repeats and shows its comparison.

``tests/test_examples.py`` runs ``examples/*.py`` only (not sub-folders), so
the studies are run here, each in its own process from an empty working
directory, with ``--quick`` (1 x 3-fold CV, no bootstrap; same design).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # 20-45 s each on a shared 2-core machine

STUDIES = Path(__file__).resolve().parents[1] / "examples" / "studies"
#: script -> (model that must come out final, words the output must contain)
EXPECTED = {
    "anlotinib_ct_nomogram.py": ("nomogram", "test "),
    "egfr_delta_radiomics.py": ("delta", "classic"),
    "peritumoral_nsclc_survival.py": ("ring6mm", "ring9mm"),
    "surufatinib_stacking.py": ("lasso", "centre7-later"),
    "petct_immunotherapy.py": ("", "kruskal+svm"),
}


def test_every_study_is_listed():
    assert sorted(p.name for p in STUDIES.glob("[!_]*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_study_example_runs(script, tmp_path):
    out = tmp_path / "out"
    work = tmp_path / "cwd"
    work.mkdir()
    p = subprocess.run([sys.executable, str(STUDIES / script), str(out), "--quick"], cwd=work, capture_output=True,
                       text=True, timeout=600, env={"PYTHONPATH": str(STUDIES.parents[1]), "PATH": "/usr/bin:/bin",
                                                    "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg"})
    assert p.returncode == 0, p.stderr[-2000:]
    final, word = EXPECTED[script]
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("final "))
    assert final in line.split("(")[0]
    assert word in p.stdout
    for name in ("report.pdf", "metrics.json", "model.radgui-model", "manifest.json", "predictions.csv"):
        assert (out / "out" / name).is_file()
    assert list(work.iterdir()) == []  # nothing written outside OUTDIR
