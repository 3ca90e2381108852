"""radgui.dl without the extra: importing it is cheap and torch-free; using it says how to install it.

These run in every `make test`, torch installed or not (torch is hidden in a subprocess).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

HIDE_TORCH = """
import sys
for name in ("torch", "monai", "safetensors", "safetensors.torch"):
    sys.modules[name] = None   # import torch -> ImportError, as on a machine without the extra
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", HIDE_TORCH + textwrap.dedent(code)], cwd=ROOT, text=True,
                          capture_output=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_import_radgui_dl_needs_no_torch():
    out = _run("""
        import radgui.dl, radgui.dl.crops, radgui.dl.net, radgui.dl.weights, radgui.dl.training, radgui.dl.extract
        import radgui.cli.dl
        assert sys.modules["torch"] is None
        print(radgui.dl.CropSpec().voxels, radgui.dl.ArchSpec().feature_dim)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["24", "64"]


@pytest.mark.parametrize("call", [
    "radgui.dl.train(np.zeros((12, 24, 24, 24), np.float32), np.arange(12) % 2)",
    "radgui.dl.load_weights('w.safetensors')",
    "radgui.dl.build_network()",
])
def test_using_it_without_torch_is_one_line_missing_extra_error(call):
    out = _run(f"""
        import numpy as np
        import radgui.dl
        from radgui.errors import MissingExtraError
        try:
            {call}
        except MissingExtraError as exc:
            print("REFUSED", exc)
    """)
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line.startswith("REFUSED deep-learning features need torch") and "radgui[dl]" in line
    assert "\n" not in line


def test_cli_without_torch_exits_2_with_the_install_hint(tmp_path):
    out = _run(f"""
        from radgui.cli import main
        sys.exit(main(["dl", "extract", "{tmp_path}/w.safetensors", "--image", "a.nrrd", "--mask", "b.nrrd"]))
    """)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "install radgui[dl]" in out.stderr


def test_patient_table_keeps_patient_id_and_dl_columns_and_refuses_repeats():
    import pandas as pd

    from radgui.dl import patient_table
    from radgui.errors import DLInputError

    table = pd.DataFrame({"patient_id": ["a", "b"], "roi": ["tumour"] * 2, "label": ["", ""],
                          "dl_0": [0.5, 1.5], "dl_1": [2.0, 3.0]})
    out = patient_table(table)
    assert list(out.columns) == ["patient_id", "dl_0", "dl_1"] and out["dl_1"].tolist() == [2.0, 3.0]
    with pytest.raises(DLInputError, match="patient a has 2 rows"):
        patient_table(pd.concat([table, table.iloc[[0]]]))
