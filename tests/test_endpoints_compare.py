"""`models:` in a survival-only config: LASSO-Cox per subset compared by validated C-index and td-AUC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from radgui.model.config import config_from_dict

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train"


def _doc(**changes):
    doc = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    doc.update(outcome=None, clinical_model={"screen_p": 0.1},
               validation={"repeats": 1, "folds": 3, "bootstrap": 0, "n_jobs": 1},
               steps={"nzv": {}, "zscore": {}, "lasso": {"folds": 3, "n_lambdas": 10, "min_ratio": 0.1}},
               models=[{"name": "texture", "features": {"feature_classes": ["glcm", "glrlm", "glszm"]}},
                       {"name": "shape+fo", "features": {"feature_classes": ["shape", "firstorder"]}}])
    doc.update(changes)
    return doc


def _table(result):
    import pandas as pd

    return pd.read_csv(result.config.features).set_index("patient_id")


@pytest.mark.slow
def test_survival_models_compared_by_validated_c_index_with_cis():
    from radgui.model.survival import _surv
    from radgui.model.train import train
    from radgui.stats import concordance_index
    from sksurv.metrics import cumulative_dynamic_auc

    result = train(config_from_dict(_doc(), base=EXAMPLE))
    cmp = result.metrics["comparison"]
    assert list(cmp["cohorts"]) == ["cross-validated", "test", "train"]
    assert cmp["cohorts"]["train"]["prediction"].startswith("apparent")
    assert cmp["cohorts"]["cross-validated"]["prediction"].startswith("out-of-fold")
    names = [m.name for m in result.study_models]
    assert names == ["texture", "shape+fo"]
    tr = {m.name: m for m in result.study_models}
    cohort = result.predictions
    # the final model is the best out-of-fold C-index and is the bundled/trained one
    cv = {n: cmp["cohorts"]["cross-validated"]["models"][n]["c_index"] for n in names}
    assert cmp["final"] == max(cv, key=cv.get)
    final = tr[cmp["final"]]
    # the bundled model is built on the final model's columns and the same split: the same Radscore (it then adds
    # the screened clinical variables, whose C-index is metrics["survival"])
    test_rows = cohort["test"].index
    assert list(result.study_models[0].predictions) == ["cross-validated", "train", "test"]
    np.testing.assert_allclose(final.fitted.radiomics_.decision_function(
        _table(result).loc[test_rows, final.columns]), cohort["test"]["radscore"], atol=1e-10)
    for n in names:
        for cname in ("test", "cross-validated"):
            row = cmp["cohorts"][cname]["models"][n]
            f = cohort["test"] if cname == "test" else cohort["train"]
            lp = tr[n].predictions[cname]
            assert row["c_index"] == pytest.approx(concordance_index(f["time"], f["event"], lp), abs=1e-12)
            assert row["ci_low"] <= row["c_index"] <= row["ci_high"]
            ref, _ = cumulative_dynamic_auc(_surv(cohort["train"]["time"], cohort["train"]["event"]),
                                            _surv(f["time"], f["event"]), lp, [24.0])
            assert row["auc_at_horizon"] == pytest.approx(float(np.ravel(ref)[0]), abs=1e-12)
    # the same fold plan for every model: the out-of-fold rows are the training rows
    assert all(len(tr[n].predictions["cross-validated"]) == len(cohort["train"]) for n in names)
    # the console summary lists every model with its validated C-indices only
    from radgui.report.workflow import summary_line

    lines = summary_line(result.metrics).splitlines()
    assert lines[0].startswith(f"final model: {cmp['final']} (")
    for n in names:
        c = cmp["cohorts"]
        assert f"model {n}: cross-validated C-index {c['cross-validated']['models'][n]['c_index']:.3f}; " \
               f"test C-index {c['test']['models'][n]['c_index']:.3f}" in lines


def test_final_true_picks_the_bundled_survival_model():
    from radgui.model.train import train

    doc = _doc(validation={"repeats": 0, "folds": 3, "bootstrap": 0, "n_jobs": 1})
    doc["models"][1]["final"] = True
    result = train(config_from_dict(doc, base=EXAMPLE))
    cmp = result.metrics["comparison"]
    assert cmp["final"] == "shape+fo" and cmp["final_reason"] == "marked final: true in the config"
    assert list(cmp["cohorts"]) == ["test", "train"]
    assert set(result.metrics["selected_features"]) <= set(result.study_models[1].columns)


@pytest.mark.slow
def test_survival_comparison_page_lists_every_model_and_cohort(tmp_path):
    from radgui.model.train import train
    from radgui.report.extras import survival_comparison_rows, survival_extra_pages
    from radgui.report.model_report import report_from_training

    doc = _doc(validation={"repeats": 0, "folds": 3, "bootstrap": 0, "n_jobs": 1})
    result = train(config_from_dict(doc, base=EXAMPLE))
    cmp = result.metrics["comparison"]
    rows = survival_comparison_rows(cmp)
    assert [r[1].rstrip(" *") for r in rows] == ["texture", "shape+fo"] * 2
    r = cmp["cohorts"]["test"]["models"]["texture"]
    assert rows[0][2] == f"{r['c_index']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
    assert rows[0][0].startswith("test (n=48,")
    figures = []
    fake = type("Pdf", (), {"savefig": lambda self, fig: figures.append(fig)})()
    survival_extra_pages(result)[0](fake)
    assert figures[0].axes[0].get_title(loc="left").startswith("Survival model comparison")
    files = report_from_training(result, tmp_path / "out")
    assert files[1].read_bytes()[:4] == b"%PDF"
    import json

    assert json.loads(files[2].read_text())["comparison"]["final"] == cmp["final"]
