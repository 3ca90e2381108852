"""Build the synthetic demo model: ``resources/models/demo.radgui-model``.

Reproducible and seeded; runs in about a minute on 2 cores::

    .venv/bin/python packaging/build_demo_model.py [--n 150] [--seed 20240607] [--out PATH]

Steps, each with radgui's real engine:

1. :func:`radgui.demo.cohort.cohort_table` draws 150 synthetic patients
   (clinical variables, lesion size/heterogeneity, PFS and the binary outcome
   "progression within 12 months") from the generative model documented in
   :mod:`radgui.demo.cohort`, and renders each patient's CT-like lesion
   phantom (16 x 64 x 64 voxels).
2. :func:`radgui.features.extract` computes the ``ct-original`` preset's
   features (PyRadiomics, 107 features) of every phantom's tumour ROI.
3. A stratified 70/30 holdout split (:func:`radgui.model.validation.holdout_split`).
4. Training on the 70 %, with issue 7's pipeline pieces
   (:func:`radgui.model.learners.build_pipeline` and
   :class:`radgui.model.clinical.CombinedModel`): near-zero-variance filter,
   z-scoring, correlation filter (|r| > 0.9), LASSO logistic with 5-fold CV
   (lambda.1se) -> Radscore; then the combined logistic model (Radscore forced
   in, age / ECOG / NLR by univariate screening p < 0.1 and stepwise AIC).
   ``radgui.model.train`` (the config-driven trainer) did not exist when this
   script was written, so the fitted pieces are turned into a
   :class:`radgui.model.ModelBundle` here.
5. Validation AUC with its DeLong CI on the 30 % holdout
   (:func:`radgui.stats.roc_auc`); the Youden cutoff of the training
   probabilities (:func:`radgui.stats.youden_cutoff`) defines the risk groups.
6. The reference cohort for the K-M placement panel: every patient's linear
   predictor, risk group, PFS time and event.
7. A self-check: the bundle's prediction from the extracted features equals
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


def _round_out(lo, hi):
    step = 10 ** np.floor(np.log10(max(hi - lo, 1e-9))) / 2
    return float(np.floor(lo / step) * step), float(np.ceil(hi / step) * step)


def build(n: int = 150, seed: int = 20240607, jobs: int = 1, verbose: bool = True):
    """Generate, extract, train and return ``(bundle, report)``."""
    from radgui.demo import DEMO_BANNER, EXAMPLE_CLINICAL
    from radgui.demo.cohort import PHANTOM_SHAPE, cohort_table
    from radgui.features.extract import versions
    from radgui.features.presets import load_preset
    from radgui.model.bundle import LinearModel, ModelBundle, Predictor, Term, nomogram_scales
    from radgui.model.clinical import CombinedModel
    from radgui.model.learners import build_pipeline
    from radgui.model.predict import predict_from_features
    from radgui.model.validation import holdout_split
    from radgui.stats import roc_auc, youden_cutoff

    t0 = time.time()
    say = print if verbose else (lambda *a, **k: None)
    # radgui.model.steps.lasso_logistic's saga solver draws from numpy's global
    # RandomState (it sets no random_state); seed it so the build is reproducible.
    np.random.seed(seed % 2**32)
    table = cohort_table(n, seed)
    feats = extract_features(table, jobs)
    say(f"extracted {feats.shape[1]} features of {len(feats)} phantoms in {time.time() - t0:.0f} s")
    y = table["progression_12m"].to_numpy()
    clin = table.set_index("patient_id")[list(CLINICAL)]
    X = pd.concat([feats, clin], axis=1)
    train, test = holdout_split(y, 0.3, seed=seed)

    radiomics = build_pipeline({"nzv": {}, "zscore": {}, "correlation": {"threshold": 0.9},
                                "lasso": {"folds": 5, "rule": "1se"}}, {"name": "lasso"}, seed=seed)
    variables = {k: {"type": v["type"], **({"categories": v["categories"]} if "categories" in v else {})}
                 for k, v in CLINICAL.items()}
    model = CombinedModel(radiomics=radiomics, radiomics_columns=list(feats.columns), variables=variables,
                          screen_p=0.1, direction="both")
    model.fit(X.iloc[train], y[train])
    say(f"trained in {time.time() - t0:.0f} s; clinical variables kept: {model.clinical_.selected_}")

    # --- the Radscore formula (LASSO on z-scored features)
    pipe = model.radiomics_
    formula = pipe.named_steps["learner"].radscore_formula()
    rad_feats = list(formula["coefficients"])
    zscore = pipe.named_steps["zscore"].to_dict(rad_feats)

    # --- the final combined logistic model
    res = model.clinical_.result_
    kept = [v for v in model.clinical_.selected_ if v != "radscore"]
    terms = [Term(name="radscore", coefficient=float(res.params["radscore"]), label="Radscore")]
    for v in kept:
        spec = CLINICAL[v]
        if spec["type"] == "categorical":
            terms.append(Term(name=v, type="categorical", reference=spec["categories"][0],
                              coefficients={lvl: float(res.params[f"{v}={lvl}"]) for lvl in spec["categories"][1:]},
                              label=spec["label"]))
        else:
            terms.append(Term(name=v, coefficient=float(res.params[v]), label=spec["label"]))
    lm = LinearModel(link="logit", intercept=float(res.params["const"]), terms=terms)
    order = ["const"] + [c for t in terms for c in ([t.name] if t.type == "continuous" else
                                                   [f"{t.name}={lvl}" for lvl in t.coefficients])]
    lm.covariance = res.cov_params().loc[order, order].to_numpy(float)

    # --- predictors with training ranges
    Xtr = X.iloc[train]
    preds = []
    for f in rad_feats:
        col = Xtr[f].to_numpy(float)
        preds.append(Predictor(name=f, source="radiomics", unit="", min=float(col.min()), max=float(col.max()),
                               p01=float(np.percentile(col, 1)), p99=float(np.percentile(col, 99)), label=f))
    for v in kept:
        spec = CLINICAL[v]
        if spec["type"] == "categorical":
            preds.append(Predictor(name=v, source="clinical", type="categorical", unit="",
                                   categories=list(spec["categories"]), label=spec["label"]))
        else:
            col = Xtr[v].to_numpy(float)
            preds.append(Predictor(name=v, source="clinical", unit=spec["unit"], min=spec["min"], max=spec["max"],
                                   p01=float(np.percentile(col, 1)), p99=float(np.percentile(col, 99)),
                                   label=spec["label"]))

    radscore_all = model.radscore(X)
    rs_tr = radscore_all[train]
    terms[0].p01, terms[0].p99 = float(np.percentile(rs_tr, 1)), float(np.percentile(rs_tr, 99))
    ranges = {"radscore": _round_out(float(np.percentile(radscore_all, 1)), float(np.percentile(radscore_all, 99)))}
    for v in kept:
        if CLINICAL[v]["type"] == "continuous":
            ranges[v] = CLINICAL[v]["axis"]
    nomogram = nomogram_scales(lm, ranges)

    # --- probabilities, validation, cutoff
    p_all = model.predict_proba(X)[:, 1]
    lp_all = model.decision_function(X)
    val = roc_auc(y[test], p_all[test])
    app = roc_auc(y[train], p_all[train])
    cut = youden_cutoff(y[train], p_all[train])
    risk = np.where(p_all >= cut.threshold, "high", "low")
    reference = pd.DataFrame({"linear_predictor": lp_all, "risk_group": risk,
                              "time": table["pfs_months"].to_numpy(), "event": table["event"].to_numpy(),
                              "set": np.where(np.isin(np.arange(n), train), "training", "validation")})
    say(f"validation AUC {val.auc:.3f} [{val.ci_low:.3f}, {val.ci_high:.3f}] (n={len(test)}); "
        f"apparent {app.auc:.3f}; Youden cutoff p >= {cut.threshold:.3f}")

    sp = table[["spacing_z_mm", "spacing_xy_mm", "spacing_xy_mm"]].to_numpy(float)
    preset = load_preset(PRESET)
    import sklearn
    import statsmodels

    provenance = {
        "synthetic_demo": True,
        "banner": DEMO_BANNER,
        "description": ("Synthetic demo model built by packaging/build_demo_model.py from lesion phantoms "
                        "(radgui.demo.cohort); every patient is simulated. It shows how radgui applies a "
                        "combined Radscore + clinical nomogram; it has no clinical meaning."),
        "feature_preset": PRESET, "feature_preset_sha256": preset.sha256,
        "roi": "tumour", "modality": "CT",
        "spacing_mm": {"min": sp.min(axis=0).round(4).tolist(), "max": sp.max(axis=0).round(4).tolist()},
        "cohort": {"n": int(n), "events": int(y.sum()), "n_training": int(len(train)),
                   "events_training": int(y[train].sum()), "n_validation": int(len(test)),
                   "events_validation": int(y[test].sum()), "generator": "radgui.demo.cohort.cohort_table",
                   "seed": int(seed), "phantom_shape_zyx": list(PHANTOM_SHAPE)},
        "validation": {"method": "stratified 30% holdout", "auc": val.auc, "auc_ci_low": val.ci_low,
                       "auc_ci_high": val.ci_high, "ci_method": "DeLong", "apparent_auc": app.auc},
        "training": {"steps": ["near-zero variance", "z-score", "correlation filter |r|>0.9",
                               "LASSO logistic, 5-fold CV, lambda.1se"],
                     "combined": "logistic: Radscore (forced) + clinical by univariate p<0.1 and stepwise AIC",
                     "clinical_selected": kept, "lambda": float(pipe.named_steps["learner"].lambda_),
                     "trainer": "radgui.model.learners.build_pipeline + radgui.model.clinical.CombinedModel"},
        "reference_cohort": {"description": "all 150 synthetic patients (training and validation)",
                             "endpoint": "progression-free survival", "time_unit": "months", "landmark": 12},
        "example_clinical": dict(EXAMPLE_CLINICAL),
        "software": {**versions(), "scikit-learn": sklearn.__version__, "statsmodels": statsmodels.__version__},
    }
    bundle = ModelBundle(
        name="Demo: synthetic lung lesion nomogram",
        model_kind="logistic",
        outcome={"name": "progression within 12 months", "type": "binary", "positive": "1"},
        predictors=preds,
        intended_use="Demonstration of radgui only; trained on simulated phantoms. Never use on patients.",
        zscore=zscore, radscore=formula, linear_model=lm,
        cutoff={"value": float(cut.threshold), "scale": "probability", "method": "Youden (training)"},
        nomogram=nomogram, provenance=provenance, reference_cohort=reference,
    )

    # --- self-check: the bundle reproduces the fitted model for every patient
    worst = 0.0
    for i, pid in enumerate(X.index):
        clin_i = {v: X.iloc[i][v] for v in kept}
        pr = predict_from_features(bundle, X.iloc[i][rad_feats].to_dict(), clin_i)
        worst = max(worst, abs(pr.probability - p_all[i]))
    if worst > 1e-9:
        raise SystemExit(f"self-check failed: bundle and fitted model differ by {worst:g}")
    say(f"self-check: bundle reproduces the fitted model (max |dp| = {worst:.1e}); {time.time() - t0:.0f} s")
    return bundle, {"validation_auc": val.auc, "features": rad_feats, "clinical": kept}


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
