"""Build the synthetic demo model: ``resources/models/demo.radgui-model``.

Reproducible (seeded; two builds give the same bundle); about two minutes on 2 cores::

    .venv/bin/python packaging/build_demo_model.py [--n 150] [--seed 20240607] [--out PATH]

Steps, each with radgui's real engine:

1. :func:`radgui.demo.cohort.cohort_table` draws 150 synthetic patients
   (clinical variables, lesion size/heterogeneity, PFS and the binary outcome
   "progression within 12 months") from the generative model documented in
   :mod:`radgui.demo.cohort`, and renders each patient's CT-like lesion
   phantom (16 x 64 x 64 voxels).
2. :func:`radgui.features.extract` computes the ``ct-original`` preset's
   features (PyRadiomics, 107 features) of every phantom's tumour ROI.
3. :func:`radgui.model.train.train` (issue 7's training pipeline, from a
   config written here: the same YAML keys ``radgui train`` reads) splits the
   cohort 70/30 (stratified holdout) and, on the 70 %, fits the
   near-zero-variance filter, z-scoring, the correlation filter
   (|r| > 0.9) and LASSO logistic with 5-fold CV (lambda.1se) -> Radscore, then
   the combined logistic model (Radscore forced in; age / ECOG / NLR by
   univariate screening p < 0.1 and stepwise AIC). It reports the holdout AUC
   with its DeLong CI, the Youden cutoff of the training probabilities (risk
   groups) and writes the reference cohort (training patients' linear
   predictor, risk group, PFS time and event). Nested CV and the bootstrap
   are switched off to keep the build to a couple of minutes.
4. The demo's own provenance is added (synthetic flag and banner, modality
   and voxel-spacing range of the phantoms, example clinical values).
5. A self-check: the bundle's prediction from the extracted features equals
   the fitted model's for every patient (to 1e-9).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
PRESET = "ct-original"
CLINICAL = {
    "age": {"type": "continuous", "unit": "years", "min": 18.0, "max": 100.0, "label": "Age", "axis": (30, 90)},
    "ecog": {"type": "categorical", "categories": ["0", "1", "2"], "unit": "", "label": "ECOG PS"},
    "nlr": {"type": "continuous", "unit": "ratio", "min": 0.1, "max": 50.0, "label": "NLR", "axis": (0, 12)},
}


def extract_features(table: pd.DataFrame, jobs: int = 1) -> pd.DataFrame:
    """ct-original features of every patient's phantom (one row per patient)."""
    from joblib import Parallel, delayed

    def one(row):
        from radgui.demo.cohort import phantom_for
        from radgui.features import extract

        vol, mask = phantom_for(row).to_volume(row["patient_id"])
        return extract(vol, {"tumour": mask}, PRESET).loc["tumour"]

    rows = Parallel(n_jobs=jobs)(delayed(one)(r) for _, r in table.iterrows())
    feats = pd.DataFrame(rows)
    feats.index = table["patient_id"].to_numpy()
    return feats


def build(n: int = 150, seed: int = 20240607, jobs: int = 1, verbose: bool = True, workdir: Path | None = None):
    """Generate, extract, train with :func:`radgui.model.train.train`; return ``(bundle, result)``."""
    import tempfile

    from radgui.demo import DEMO_BANNER, EXAMPLE_CLINICAL
    from radgui.demo.cohort import PHANTOM_SHAPE, cohort_table
    from radgui.features.presets import load_preset
    from radgui.model.config import config_from_dict
    from radgui.model.predict import predict_from_features
    from radgui.model.train import train

    t0 = time.time()
    say = print if verbose else (lambda *a, **k: None)
    # radgui.model.steps.lasso_logistic's saga solver draws from numpy's global
    # RandomState (it sets no random_state); seed it so the build is reproducible.
    np.random.seed(seed % 2**32)
    table = cohort_table(n, seed)
    feats = extract_features(table, jobs)
    say(f"extracted {feats.shape[1]} features of {len(feats)} phantoms in {time.time() - t0:.0f} s")

    tmp = tempfile.TemporaryDirectory() if workdir is None else None
    folder = Path(tmp.name) if tmp is not None else Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    feats.rename_axis("patient_id").reset_index().to_csv(folder / "features.csv", index=False)
    table[["patient_id", *CLINICAL, "progression_12m", "pfs_months", "event"]].to_csv(
        folder / "clinical.csv", index=False)
    preset = load_preset(PRESET)
    config = config_from_dict({
        "schema_version": 1,
        "name": "Demo: synthetic lung lesion nomogram",
        "features": "features.csv", "clinical": "clinical.csv", "id_column": "patient_id",
        "outcome": {"column": "progression_12m", "positive": 1, "label": "progression within 12 months"},
        "survival": {"time": "pfs_months", "event": "event", "horizon": 12, "unit": "months"},
        "clinical_variables": {k: {kk: vv for kk, vv in v.items() if kk != "axis"} for k, v in CLINICAL.items()},
        "feature_preset": {"name": PRESET, "hash": preset.sha256},
        "split": {"method": "holdout", "test_fraction": 0.3},
        "steps": {"nzv": {}, "zscore": {}, "correlation": {"threshold": 0.9}, "lasso": {"folds": 5, "rule": "1se"}},
        "learner": {"name": "lasso"},
        "clinical_model": {"screen_p": 0.1, "direction": "both"},
        # holdout validation only: nested CV and the bootstrap would take far longer than the demo needs
        "validation": {"repeats": 0, "folds": 5, "bootstrap": 0, "n_jobs": 1},
        "seed": seed,
        "intended_use": "Demonstration of radgui only; trained on simulated phantoms. Never use on patients.",
    }, base=folder)
    result = train(config)
    bundle = result.bundle
    v = bundle.provenance.get("validation", {})
    say(f"trained in {time.time() - t0:.0f} s; Radscore of {len(bundle.radscore['coefficients'])} features; "
        f"terms {[t.name for t in bundle.linear_model.terms]}; holdout AUC {v.get('auc'):.3f} "
        f"[{v.get('auc_ci_low'):.3f}, {v.get('auc_ci_high'):.3f}]")

    sp = table[["spacing_z_mm", "spacing_xy_mm", "spacing_xy_mm"]].to_numpy(float)
    y = table["progression_12m"].to_numpy()
    n_test = int(result.metrics["cohort"]["n_test"])
    bundle.provenance.pop("created", None)  # keep the build byte-reproducible
    bundle.provenance.update({
        "synthetic_demo": True,
        "banner": DEMO_BANNER,
        "description": ("Synthetic demo model built by packaging/build_demo_model.py from lesion phantoms "
                        "(radgui.demo.cohort) with radgui.model.train; every patient is simulated. It shows "
                        "how radgui applies a combined Radscore + clinical nomogram; it has no clinical meaning."),
        "roi": "tumour", "modality": "CT",
        "spacing_mm": {"min": sp.min(axis=0).round(4).tolist(), "max": sp.max(axis=0).round(4).tolist()},
        "cohort": {"n": int(n), "events": int(y.sum()), "n_training": int(n - n_test),
                   "events_training": int(result.metrics["cohort"]["events_train"]), "n_validation": n_test,
                   "generator": "radgui.demo.cohort.cohort_table", "seed": int(seed),
                   "phantom_shape_zyx": list(PHANTOM_SHAPE)},
        "example_clinical": dict(EXAMPLE_CLINICAL),
    })
    bundle.provenance["validation"]["method"] = "stratified 30% holdout"
    bundle.provenance["reference_cohort"].update(
        {"description": "the training cohort", "endpoint": "progression-free survival"})
    for p in bundle.predictors:  # readable labels for the form and the nomogram
        if p.source == "clinical" and p.name in CLINICAL:
            p.label = CLINICAL[p.name]["label"]
    for t in bundle.linear_model.terms:
        if t.name in CLINICAL:
            t.label = CLINICAL[t.name]["label"]
    for ax in bundle.nomogram["axes"]:
        if ax["term"] in CLINICAL:
            ax["label"] = CLINICAL[ax["term"]]["label"]

    # --- self-check: the bundle reproduces the fitted model for every patient
    clin = table.set_index("patient_id")[list(CLINICAL)]
    X = pd.concat([feats, clin], axis=1)
    p_fit = result.combined.predict_proba(X)[:, 1]
    kept = [p.name for p in bundle.clinical_predictors]
    rad = bundle.radiomics_features
    worst = 0.0
    for i in range(len(X)):
        row = X.iloc[i]
        pr = predict_from_features(bundle, row[rad].to_dict(), {k: row[k] for k in kept})
        worst = max(worst, abs(pr.probability - p_fit[i]))
    if worst > 1e-9:
        raise SystemExit(f"self-check failed: bundle and fitted model differ by {worst:g}")
    say(f"self-check: bundle reproduces the fitted model (max |dp| = {worst:.1e}); {time.time() - t0:.0f} s")
    if tmp is not None:
        tmp.cleanup()
    return bundle, result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--seed", type=int, default=20240607)
    parser.add_argument("--jobs", type=int, default=1, help="processes for feature extraction")
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "models" / "demo.radgui-model")
    args = parser.parse_args(argv)
    bundle, _ = build(args.n, args.seed, args.jobs)
    path = bundle.save(args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
