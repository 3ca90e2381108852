"""Seed study 1: CT radiomics nomogram for anlotinib response (LASSO logistic Radscore + clinical nomogram).

The paper's methods, step by step: CT features of the tumour; a random 7:3
training/validation split; z-score; correlation filter; LASSO logistic
regression (10-fold CV, lambda.1se) gives the Radscore; clinical variables
screened by univariate logistic regression and stepwise AIC; a combined
nomogram; radiomics vs clinical vs combined compared by DeLong, NRI, IDI and
decision curves. The cohort here is synthetic, with that shape.

Run: ``python examples/studies/anlotinib_ct_nomogram.py OUTDIR [--quick]``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _study import args, run_study, synthetic  # noqa: E402

CONFIG = """\
schema_version: 1
name: Anlotinib response, CT radiomics nomogram (synthetic)
features: features.csv
clinical: clinical.csv
outcome: {column: outcome, positive: 1, direction: favourable, label: response}
clinical_variables:
  age: {type: continuous, unit: years}
  stage: {type: categorical, categories: ["III", "IV"]}
split: {method: holdout, test_fraction: 0.3, balance: {max_smd: 0.1, tries: 100}}
steps: {zscore: {}, correlation: {threshold: 0.9}, lasso: {folds: 10, rule: 1se}}
learner: {name: lasso}
models:
  - {name: radiomics, kind: radiomics, features: {roi: [tumour]}}
  - {name: clinical, kind: clinical}
  - {name: nomogram, kind: combined, features: {roi: [tumour]}, final: true}
validation: {repeats: 20, folds: 5, bootstrap: 0}
seed: 11
"""


def main():
    out, quick = args()
    feats, clin = synthetic(140, {"tumour__original": 12, "tumour__wavelet-LLH": 6}, {"tumour__original": 1.0},
                            seed=11)
    feats.to_csv(out / "features.csv", index=False)
    clin.to_csv(out / "clinical.csv", index=False)
    run_study(out, CONFIG, quick)


if __name__ == "__main__":
    main()
