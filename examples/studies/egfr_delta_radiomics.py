"""Seed study 2: delta radiomics for EGFR-TKI response (two time points, two lesions per patient, ``group:``).

The paper's methods: CT before treatment and at first follow-up; delta
features ``(follow-up - baseline)`` of each lesion; a classic (baseline)
model, a delta model and their union compared; LASSO logistic Radscore;
patients split 7:3. Here each patient has two target lesions (two rows), so
``group: patient`` keeps a patient's lesions on one side of every split and
fold. Columns are named ``pre__...``, ``post__...`` and ``delta__...`` so
that the time point is the ``roi`` of the subset. The cohort is synthetic.

Run: ``python examples/studies/egfr_delta_radiomics.py OUTDIR [--quick]``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _study import args, run_study, synthetic  # noqa: E402

CONFIG = """\
schema_version: 1
name: EGFR-TKI response, classic vs delta radiomics (synthetic)
features: features.csv
clinical: clinical.csv
id_column: lesion_id
group: patient
outcome: {column: outcome, positive: 1, direction: favourable, label: response}
split: {method: holdout, test_fraction: 0.3}
steps: {zscore: {}, lasso: {folds: 10, rule: 1se}}
models:
  - {name: classic, features: {roi: [pre]}}
  - {name: delta, features: {roi: [delta]}}
  - {name: classic+delta, features: {roi: [pre, delta]}}
validation: {repeats: 20, folds: 5, bootstrap: 0}
seed: 5
"""


def main():
    out, quick = args()
    n = 90
    base, clin = synthetic(n, {"pre__original": 8}, {}, seed=5)
    change, _ = synthetic(n, {"chg__original": 8}, {}, seed=6)
    y = clin["outcome"].to_numpy()
    rows_f, rows_c = [], []
    rng = np.random.default_rng(7)
    for lesion in (1, 2):
        pre = base.drop(columns="patient_id").to_numpy() + rng.normal(scale=0.3, size=(n, 8))
        # responders' lesions change more (the delta carries the signal, the baseline little)
        post = pre + change.drop(columns="patient_id").to_numpy() * 0.5 - 0.6 * y[:, None] * np.r_[1, -1, 1, 0, 0, 0, 0, 0]
        names = [c.split("__", 1)[1] for c in base.columns[1:]]
        f = pd.DataFrame({"lesion_id": [f"{p}-L{lesion}" for p in clin["patient_id"]], "patient": clin["patient_id"]})
        for j, nm in enumerate(names):
            f[f"pre__{nm}"], f[f"post__{nm}"], f[f"delta__{nm}"] = pre[:, j], post[:, j], post[:, j] - pre[:, j]
        rows_f.append(f)
        c = clin.rename(columns={"patient_id": "patient"}).assign(lesion_id=f["lesion_id"])
        rows_c.append(c)
    pd.concat(rows_f, ignore_index=True).to_csv(out / "features.csv", index=False)
    pd.concat(rows_c, ignore_index=True).to_csv(out / "clinical.csv", index=False)
    run_study(out, CONFIG, quick)


if __name__ == "__main__":
    main()
