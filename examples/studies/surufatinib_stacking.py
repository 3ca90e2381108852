"""Seed study 4: 7-centre surufatinib response model (ComBat by centre, stacking, external cohorts).

The paper's methods: CT features from seven centres harmonised by ComBat
(centre as batch); a univariate filter; a stacking ensemble (SVM, random
forest, XGBoost; logistic meta-learner) against a LASSO logistic Radscore;
a combined model with clinical variables; an internal test cohort and
external validation cohorts. Here ComBat is fitted on the training patients
only (inside every fold) and radgui refuses to harmonise a centre it never
saw, so the two external cohorts are later patients of centres 6 and 7
(temporal external validation), not centres left out of training; the paper
harmonised every centre together, which lets the external patients'
features shape the harmonisation. The cohort is synthetic.

Run: ``python examples/studies/surufatinib_stacking.py OUTDIR [--quick]``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _study import args, run_study, synthetic  # noqa: E402

CENTRES = [f"C{i}" for i in range(1, 8)]
CONFIG = """\
schema_version: 1
name: Surufatinib response, 7-centre stacking model (synthetic)
features: features.csv
clinical: clinical.csv
center: centre
outcome: {column: outcome, positive: 1, direction: favourable, label: response}
clinical_variables:
  age: {type: continuous, unit: years}
  stage: {type: categorical, categories: ["III", "IV"]}
split: {method: holdout, test_fraction: 0.3, balance: {max_smd: 0.1, tries: 100}}
external:
  - {name: centre6-later, features: ext6_features.csv, clinical: ext6_clinical.csv}
  - {name: centre7-later, features: ext7_features.csv, clinical: ext7_clinical.csv}
steps: {zscore: {}, combat: {}, univariate: {test: mannwhitney, alpha: 0.05, min_features: 3}}
models:
  - {name: stacking, learner: {name: stacking, tune: {n_iter: 2, folds: 3}}, final: true}
  - {name: lasso, steps: {zscore: {}, combat: {}, lasso: {folds: 10, rule: 1se}}, learner: {name: lasso}}
  - {name: combined, kind: combined, steps: {zscore: {}, combat: {}, lasso: {folds: 10}}, learner: {name: lasso}}
validation: {repeats: 10, folds: 5, bootstrap: 0}
seed: 21
"""


def main():
    out, quick = args()
    blocks = {"tumour__original": 8, "tumour__log-sigma-3-0-mm-3D": 4}
    feats, clin = synthetic(150 if quick else 210, blocks, {"tumour__original": 1.0}, seed=21, centres=CENTRES)
    feats.to_csv(out / "features.csv", index=False)
    clin.to_csv(out / "clinical.csv", index=False)
    for k, c in ((6, "C6"), (7, "C7")):
        f, cl = synthetic(60, blocks, {"tumour__original": 1.0}, seed=21 + k, centres=[c])
        f["patient_id"] = cl["patient_id"] = [f"{c}-{i:03d}" for i in range(len(f))]
        f.to_csv(out / f"ext{k}_features.csv", index=False)
        cl.to_csv(out / f"ext{k}_clinical.csv", index=False)
    config = CONFIG
    if quick:  # CI: a lighter stacking search, and the LASSO model is bundled (its final refit is fast)
        config = config.replace("tune: {n_iter: 2, folds: 3}}, final: true}", "tune: {n_iter: 1, folds: 2}, "
                                "stack_folds: 2}}").replace("learner: {name: lasso}}\n  - {name: combined",
                                                            "learner: {name: lasso}, final: true}\n  - {name: combined")
        print("quick     stacking search reduced; the lasso model is bundled in this run")
    run_study(out, config, quick)


if __name__ == "__main__":
    main()
