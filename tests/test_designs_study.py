"""Several models in one run (``models:``): the known best region wins, folds are shared, comparisons match stats."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from designs_synth import cohort

from radgui.errors import ConfigError
from radgui.model.config import config_from_dict
from radgui.model.train import train
from radgui.stats import delong_test, idi, nri

pytestmark = pytest.mark.slow

FAST = {"zscore": {}, "univariate": {"test": "mannwhitney", "alpha": 0.05}}
CLIN = {"age": {"type": "continuous"}, "ecog": {"type": "categorical", "categories": ["0", "1"]}}


def _doc(tmp_path, feats, clin, **extra):
    feats.to_csv(tmp_path / "f.csv", index=False)
    clin.to_csv(tmp_path / "c.csv", index=False)
    return {"features": "f.csv", "clinical": "c.csv", "outcome": {"column": "response"}, "clinical_variables": CLIN,
            "steps": FAST, "learner": {"name": "logistic"},
            "validation": {"repeats": 2, "folds": 3, "bootstrap": 0, "n_jobs": 1}, "seed": 7, **extra}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    feats, clin = cohort(n=120, per=1, strength=0.9, seed=3)
    ext_f, ext_c = cohort(n=60, per=1, strength=0.9, seed=4)
    ext_f.to_csv(tmp / "ef.csv", index=False)
    ext_c.to_csv(tmp / "ec.csv", index=False)
    doc = _doc(tmp, feats, clin, split={"method": "holdout", "test_fraction": 0.3,
                                        "balance": {"max_smd": 0.1, "tries": 100}},
               external=[{"name": "centre B", "features": "ef.csv", "clinical": "ec.csv"}],
               models=[{"name": r, "features": {"roi": [r]}} for r in ("tumour", "ring3mm", "ring6mm")]
               + [{"name": "clinical", "kind": "clinical"}])
    cfg = config_from_dict(doc, base=tmp, source=tmp / "study.yaml")
    return tmp, cfg, train(cfg)


def test_true_best_region_comes_out_best(study):
    _, _, r = study
    comp = r.metrics["comparison"]
    assert comp["final"] == "ring6mm"
    assert comp["final_reason"].startswith("no model was marked final: true; ring6mm has the best nested "
                                           "cross-validation (out-of-fold) AUC")
    for c in ("cross-validated", "test", "centre B"):
        aucs = {m: e["auc"] for m, e in comp["cohorts"][c]["models"].items()}
        assert max(aucs, key=aucs.get) == "ring6mm", (c, aucs)
    # the bundle is the final model, on its subset only
    assert set(r.bundle.radscore["coefficients"]) <= {c for c in r.study_models[2].columns}
    assert r.metrics["cohort"]["test_cohort"] == "test" and "centre B" in r.metrics["models"]


def test_three_cohorts_and_balanced_split(study):
    _, _, r = study
    comp = r.metrics["comparison"]
    assert list(comp["cohorts"]) == ["cross-validated", "test", "centre B", "train"]
    assert comp["cohorts"]["centre B"]["n"] == 60 and comp["cohorts"]["centre B"]["validated"] is True
    assert comp["cohorts"]["train"]["validated"] is False
    assert comp["cohorts"]["train"]["prediction"].startswith("apparent")
    split = comp["split"]
    assert split["balanced"] is True and max(split["smd"].values()) <= 0.1 and split["seed"] >= 7
    # the final model's own single-model run used the same split (same seed, same test patients)
    assert r.metrics["split"]["seed"] == split["seed"]
    assert list(r.predictions["test"].index) == list(r.comparison["test"].index)
    assert set(r.prediction_table["cohort"]) == {"train", "test", "centre B"}
    assert set(r.cohort_tables) == {"train", "test", "centre B"}


def test_cutoffs_from_out_of_fold_predictions(study):
    from radgui.stats import binary_metrics, youden_cutoff

    _, _, r = study
    comp = r.metrics["comparison"]
    cv = r.comparison["cross-validated"]
    for m in comp["models"]:
        assert m["cutoff"]["source"].startswith("nested cross-validation")
        assert m["cutoff"]["value"] == pytest.approx(youden_cutoff(cv["y"], cv[m["name"]]).threshold)
        te = r.comparison["test"]
        bm = binary_metrics(te["y"], te[m["name"]], m["cutoff"]["value"])
        assert comp["cohorts"]["test"]["models"][m["name"]]["sensitivity"] == pytest.approx(bm.sensitivity)


def test_nri_idi_delong_equal_radgui_stats(study):
    _, _, r = study
    comp = r.metrics["comparison"]
    cuts = comp["nri_cutoffs"]
    for c in ("cross-validated", "test", "centre B"):
        f = r.comparison[c]
        pair = comp["cohorts"][c]["pairs"]["ring6mm vs tumour"]
        assert (pair["old"], pair["new"]) == ("tumour", "ring6mm")
        y, old, new = f["y"], f["tumour"], f["ring6mm"]
        for key, ref in (("nri_continuous", nri(y, old, new)), ("nri_categorical", nri(y, old, new, cutoffs=cuts)),
                         ("idi", idi(y, old, new))):
            got = pair[key]
            assert (got["value"], got["ci_low"], got["ci_high"], got["p_value"]) == pytest.approx(
                (ref.value, ref.ci_low, ref.ci_high, ref.p_value))
        d = delong_test(y, new, old)
        assert pair["delong"]["p_value"] == pytest.approx(d.p_value)
        assert pair["delong"]["diff"] == pytest.approx(d.auc_a - d.auc_b)
    assert len(comp["cohorts"]["test"]["pairs"]) == 6  # 4 models, every pair


def test_report_and_metrics_written(study, tmp_path):
    from radgui.report.model_report import report_from_training

    _, _, r = study
    bundle, pdf, metrics = report_from_training(r, tmp_path / "out")
    m = json.loads(metrics.read_text())
    assert m["comparison"]["final"] == "ring6mm"
    assert m["comparison"]["models"][2]["features"] == r.study_models[2].columns
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Model comparison: study design" in text and "Feature subsets, resolved" in text
    assert "Pairwise comparisons, centre B" in text


def test_grouped_folds_shared_across_models(tmp_path):
    feats, clin = cohort(n=60, per=1, strength=1.0, seed=5, group_rows=2, rois=("tumour", "ring6mm"),
                         types=("original",))
    doc = _doc(tmp_path, feats, clin, group="patient", split={"method": "holdout", "test_fraction": 0.3},
               models=[{"name": "tumour", "features": {"roi": ["tumour"]}},
                       {"name": "ring6mm", "features": {"roi": ["ring6mm"]}, "final": True},
                       {"name": "both", "kind": "combined", "features": {"roi": ["tumour", "ring6mm"]}}])
    r = train(config_from_dict(doc, base=tmp_path))
    models = r.study_models
    ids = [m.cv.fold_ids for m in models]
    assert all(np.array_equal(ids[0], f) for f in ids[1:])
    assert (ids[0] >= 0).all()
    patients = r.comparison["cross-validated"].index.str.replace(r"_t\d$", "", regex=True).to_numpy()
    for rep in ids[0]:
        for p in np.unique(patients):
            assert len(set(rep[patients == p])) == 1  # a patient's rows in one fold
    train_p = set(r.comparison["train"].index.str[:4])
    test_p = set(r.comparison["test"].index.str[:4])
    assert train_p and test_p and not train_p & test_p
    comp = r.metrics["comparison"]
    assert comp["folds"]["grouped"] is True and comp["final"] == "ring6mm"
    assert comp["final_reason"] == "marked final: true in the config"
    assert comp["cohorts"]["test"]["n_patients"] * 2 == comp["cohorts"]["test"]["n"]


def test_subset_matching_no_column_stops_before_training(tmp_path):
    feats, clin = cohort(n=40, per=1)
    doc = _doc(tmp_path, feats, clin, models=[{"name": "ring9", "features": {"roi": ["ring9mm"]}}])
    with pytest.raises(ConfigError, match=r"models\[0\] 'ring9'.features \{roi: \[ring9mm\]\} matches no column"):
        train(config_from_dict(doc, base=tmp_path))


def test_cli_bad_study_config_is_one_line_exit_2(tmp_path):
    (tmp_path / "c.yaml").write_text("features: f.csv\noutcome: {column: y}\nmodels:\n  - {name: a}\n  - {name: a}\n")
    p = subprocess.run([sys.executable, "-m", "radgui", "train", str(tmp_path / "c.yaml"), "--out",
                        str(tmp_path / "o")], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "duplicate model name 'a'" in p.stderr
    assert not (tmp_path / "o").exists()


def test_cli_summary_has_one_line_per_model(study):
    from radgui.cli.train import summary_line

    _, _, r = study
    lines = summary_line(r.metrics).splitlines()
    assert lines[0].startswith("final model: ring6mm (no model was marked final: true")
    assert lines[1].startswith("combined model AUC (test): ")
    model_lines = [ln for ln in lines if ln.startswith("model ")]
    assert [ln.split(":")[0] for ln in model_lines] == ["model tumour", "model ring3mm", "model ring6mm",
                                                        "model clinical"]
    assert "cross-validated AUC" in model_lines[0] and "centre B AUC" in model_lines[0]
    assert "train AUC" not in model_lines[0]  # apparent numbers are not summarised


def test_single_model_run_with_external_cohorts_and_fixed_split_seed(tmp_path):
    feats, clin = cohort(n=80, per=1, strength=1.0, seed=9, rois=("ring6mm",), types=("original",))
    ef, ec = cohort(n=40, per=1, strength=1.0, seed=10, rois=("ring6mm",), types=("original",))
    ef.to_csv(tmp_path / "ef.csv", index=False)
    ec.to_csv(tmp_path / "ec.csv", index=False)
    doc = _doc(tmp_path, feats, clin, split={"method": "holdout", "test_fraction": 0.3, "seed": 123},
               external=[{"name": "B", "features": "ef.csv", "clinical": "ec.csv"},
                         {"name": "C", "features": "ef.csv", "clinical": "ec.csv"}])
    doc["validation"] = {"repeats": 0, "folds": 3, "bootstrap": 0, "n_jobs": 1}
    r = train(config_from_dict(doc, base=tmp_path))
    from radgui.model.validation import holdout_split

    assert r.metrics["split"] == {"method": "holdout", "seed": 123}
    _, te = holdout_split(clin["response"].to_numpy(), 0.3, seed=123)
    assert sorted(r.predictions["test"].index) == sorted(clin["patient_id"].iloc[te])
    assert r.metrics["models"]["B"]["n"] == 40 and r.metrics["models"]["C"]["combined"]["auc"] == pytest.approx(
        r.metrics["models"]["B"]["combined"]["auc"])
    assert r.metrics["cohort"]["external_cohorts"] == {"B": {"n": 40, "events": 20}, "C": {"n": 40, "events": 20}}
    assert r.metrics["headline"]["source"] == "test"
