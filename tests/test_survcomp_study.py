"""Survival studies (issue 13): clinical and combined Cox models, external cohorts, pairwise paired-bootstrap tests."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.utils import concordance_index as lifelines_c

from radgui.model.config import config_from_dict
from survcomp_synth import write_study

N_BOOT = 100


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    import warnings

    import radgui.model.designs as designs
    from radgui.model.train import train

    folder = tmp_path_factory.mktemp("survcomp")
    doc = write_study(folder)
    short = pd.read_csv(folder / "ec.csv")  # a second external cohort followed up for 20 months only
    short["death"] = np.where(short["os_months"] > 20, 0, short["death"])
    short["os_months"] = short["os_months"].clip(upper=20)
    short.to_csv(folder / "short.csv", index=False)
    doc["external"].append({"name": "short", "features": "ef.csv", "clinical": "short.csv"})
    old, designs.N_BOOT_C = designs.N_BOOT_C, N_BOOT
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = train(config_from_dict(doc, base=folder))
    finally:
        designs.N_BOOT_C = old
    return result, folder


def test_cohorts_are_validated_and_the_external_one_is_labelled(study):
    result, _ = study
    cmp = result.metrics["comparison"]
    assert list(cmp["cohorts"]) == ["cross-validated", "test", "centre B", "short", "train"]
    ext = cmp["cohorts"]["centre B"]
    assert ext["prediction"] == "external cohort, validated" and ext["external"] and ext["validated"]
    assert (ext["n"], ext["n_patients"]) == (80, 80)
    assert cmp["externals"] == ["centre B", "short"]
    assert not cmp["cohorts"]["train"]["validated"] and cmp["cohorts"]["train"]["prediction"].startswith("apparent")
    assert [m["kind"] for m in cmp["models"]] == ["radiomics", "radiomics", "clinical", "combined"]
    # pairwise tests on validated cohorts only, every pair once
    assert list(cmp["pairwise"]) == ["cross-validated", "test", "centre B", "short"]
    assert list(cmp["pairwise"]["test"]) == ["ring6 vs tumour", "clinical vs tumour", "combined vs tumour",
                                             "clinical vs ring6", "combined vs ring6", "combined vs clinical"]


def test_every_model_is_scored_on_the_external_cohort_as_an_independent_c_index(study):
    result, folder = study
    cmp = result.metrics["comparison"]
    ext = pd.read_csv(folder / "ec.csv")
    for m in result.study_models:
        lp = np.asarray(m.predictions["centre B"], float)
        row = cmp["cohorts"]["centre B"]["models"][m.name]
        assert row["c_index"] == pytest.approx(lifelines_c(ext["os_months"], -lp, ext["death"]), abs=1e-12)
        assert row["ci_low"] <= row["c_index"] <= row["ci_high"]
    # the external rows are in predictions.csv, with every model's linear predictor
    t = result.prediction_table
    assert (t["cohort"] == "centre B").sum() == 80
    assert set(t.loc[t["cohort"] == "centre B", "prediction"]) == {"external, validated"}
    final = next(m for m in result.study_models if m.name == cmp["final"])
    np.testing.assert_allclose(t.loc[t["cohort"] == "centre B", "linear_predictor"], final.predictions["centre B"],
                               atol=1e-9)


def test_clinical_model_is_lifelines_cox_on_its_screened_variables(study):
    result, folder = study
    m = next(m for m in result.study_models if m.name == "clinical")
    assert m.fitted.radiomics_ is None and "radscore" not in m.fitted.selected_
    kept = m.fitted.selected_
    assert kept and set(kept) <= {"age", "stage"}
    clin = pd.read_csv(folder / "c.csv").set_index("patient_id")
    train_ids = result.predictions["train"].index
    d = clin.loc[train_ids]
    X = pd.DataFrame({"age": d["age"], "stage=IV": (d["stage"] == "IV").astype(float)})
    cols = [c for v in kept for c in m.fitted.groups_[v]]
    cph = CoxPHFitter().fit(X[cols].assign(T=d["os_months"], E=d["death"]), "T", "E")
    np.testing.assert_allclose(m.fitted.params_[cols].to_numpy(), cph.params_[cols].to_numpy(), rtol=1e-4)
    # and its univariate screening p-values are lifelines' Wald p-values
    for v, col in (("age", "age"), ("stage", "stage=IV")):
        uni = CoxPHFitter().fit(X[[col]].assign(T=d["os_months"], E=d["death"]), "T", "E")
        assert m.fitted.screening_[v] == pytest.approx(float(uni.summary.loc[col, "p"]), rel=1e-4)


def test_pairwise_differences_equal_a_hand_loop_over_the_same_replicates(study):
    from sksurv.metrics import cumulative_dynamic_auc
    from sksurv.util import Surv

    from radgui.stats.bootstrap import resample_indices

    result, folder = study
    cmp = result.metrics["comparison"]
    tr = result.predictions["train"]
    ref = Surv.from_arrays(tr["event"].astype(bool), tr["time"].astype(float))
    ext = pd.read_csv(folder / "ec.csv")
    t, e = ext["os_months"].to_numpy(float), ext["death"].to_numpy(int)
    lp = {m.name: np.asarray(m.predictions["centre B"], float) for m in result.study_models}
    idx = resample_indices(e, N_BOOT, np.random.default_rng(result.config.seed), True, None)
    for key in ("combined vs clinical", "ring6 vs tumour"):
        new, old = key.split(" vs ")
        pair = cmp["pairwise"]["centre B"][key]
        hand = np.array([lifelines_c(t[i], -lp[new][i], e[i]) - lifelines_c(t[i], -lp[old][i], e[i]) for i in idx])
        assert pair["c_index"]["diff"] == pytest.approx(
            lifelines_c(t, -lp[new], e) - lifelines_c(t, -lp[old], e), abs=1e-12)
        assert [pair["c_index"]["ci_low"], pair["c_index"]["ci_high"]] == pytest.approx(
            list(np.quantile(hand, [0.025, 0.975])), abs=1e-12)
        k = min((hand <= 0).sum(), (hand >= 0).sum())
        assert pair["c_index"]["p_value"] == pytest.approx(min(1, 2 * (k + 1) / (N_BOOT + 1)))

        def auc(s, i=slice(None)):
            return float(cumulative_dynamic_auc(ref, Surv.from_arrays(e[i].astype(bool), t[i]), s[i], [24.0])[0][0])

        hand_auc = np.array([auc(lp[new], i) - auc(lp[old], i) for i in idx])
        assert pair["auc_at_horizon"]["diff"] == pytest.approx(auc(lp[new]) - auc(lp[old]), abs=1e-12)
        assert pair["auc_at_horizon"]["ci_low"] == pytest.approx(np.quantile(hand_auc, 0.025), abs=1e-12)
    # the signal is in the 6 mm ring: it beats the tumour-only Radscore on the external cohort
    better = cmp["pairwise"]["centre B"]["ring6 vs tumour"]["c_index"]
    assert better["diff"] > 0 and better["p_value"] < 0.05


def test_bundle_is_the_final_models_own_procedure(study):
    result, _ = study
    cmp = result.metrics["comparison"]
    assert cmp["final"] == "ring6" and cmp["final_reason"].startswith("no model was marked final: true; ring6 has")
    final = next(m for m in result.study_models if m.name == "ring6")
    # a radiomics model: the bundle is Radscore-only Cox, with the same linear predictor as the compared model
    assert list(result.metrics["final_model"]["terms"]) == ["radscore"]
    np.testing.assert_allclose(result.predictions["test"]["linear_predictor"], final.predictions["test"], atol=1e-9)
    assert result.metrics["survival"]["test"]["c_index_linear_predictor"] == pytest.approx(
        cmp["cohorts"]["test"]["models"]["ring6"]["c_index"], abs=1e-12)


def test_summary_line_report_and_metrics_json(study, tmp_path):
    from radgui.report.extras import survival_pairwise_rows
    from radgui.report.model_report import report_from_training
    from radgui.report.workflow import summary_line

    result, _ = study
    cmp = result.metrics["comparison"]
    lines = summary_line(result.metrics).splitlines()
    c = cmp["cohorts"]
    assert (f"model combined: cross-validated C-index {c['cross-validated']['models']['combined']['c_index']:.3f}; "
            f"test C-index {c['test']['models']['combined']['c_index']:.3f}; external centre B C-index "
            f"{c['centre B']['models']['combined']['c_index']:.3f}; external short C-index "
            f"{c['short']['models']['combined']['c_index']:.3f}") in lines
    d = cmp["pairwise"]["centre B"]["clinical vs ring6"]["c_index"]  # ring6 (final) is the 'old' one: sign flipped
    assert (f"ring6 vs clinical, external centre B: delta C-index {-d['diff']:+.3f} [{-d['ci_high']:+.3f}, "
            f"{-d['ci_low']:+.3f}], paired bootstrap p {d['p_value']:.3f}") in lines
    rows = survival_pairwise_rows(cmp)
    assert len(rows) == 4 * 6 and rows[-1][0] == "short (external)" and rows[0][0] == "cross-validated (internal)"
    files = report_from_training(result, tmp_path / "out")
    assert files[1].read_bytes()[:4] == b"%PDF"
    saved = json.loads(files[2].read_text())["comparison"]
    assert saved["pairwise"]["test"]["combined vs clinical"]["c_index"]["p_value"] == pytest.approx(
        cmp["pairwise"]["test"]["combined vs clinical"]["c_index"]["p_value"])


def test_survival_report_pages_list_external_cohorts_apart(study):
    from radgui.report.extras import survival_comparison_page, survival_comparison_rows

    result, _ = study
    cmp = result.metrics["comparison"]
    assert {r[0].split(" (")[0] for r in survival_comparison_rows(cmp, external=True)} == {"centre B", "short"}
    assert "centre B" not in {r[0].split(" (")[0] for r in survival_comparison_rows(cmp, external=False)}
    figures = []
    survival_comparison_page(cmp, "months")(type("Pdf", (), {"savefig": lambda self, f: figures.append(f)})())
    titles = [f.axes[0].get_title(loc="left") for f in figures]
    assert titles == ["Survival model comparison (Cox models: radiomics, clinical, combined)",
                      "External cohorts, validated (every survival model)",
                      "Pairwise comparisons of the survival models (validated cohorts)"]


def test_a_horizon_beyond_an_external_follow_up_leaves_its_auc_undefined_not_the_c_index(study):
    from radgui.report.extras import survival_pairwise_rows

    result, _ = study
    cmp = result.metrics["comparison"]
    block = cmp["cohorts"]["short"]
    assert block["longest_follow_up"] <= 20
    for row in block["models"].values():
        assert row["auc_at_horizon"] is None and row["auc_error"] and 0 < row["c_index"] < 1
    pair = cmp["pairwise"]["short"]["ring6 vs tumour"]
    assert "error" in pair["auc_at_horizon"] and 0 <= pair["c_index"]["p_value"] <= 1
    row = next(r for r in survival_pairwise_rows(cmp) if r[0] == "short (external)")
    assert row[4:] == ["NA", "NA"]


def test_a_combined_final_model_is_bundled_with_its_own_clinical_variables(tmp_path, monkeypatch):
    import warnings

    import radgui.model.designs as designs
    from radgui.model.train import train

    monkeypatch.setattr(designs, "N_BOOT_C", 30)
    doc = write_study(tmp_path)
    doc.pop("external")
    doc["validation"] = {"repeats": 0, "folds": 3, "bootstrap": 0, "n_jobs": 1}
    doc["clinical_model"] = {"screen_p": 1.0}  # every variable passes the screen: the bundle's terms are known
    doc["models"] = [{"name": "ring6", "features": {"roi": ["ring6mm"]}},
                     {"name": "nomogram", "features": {"roi": ["ring6mm"]}, "kind": "combined", "clinical": ["age"],
                      "final": True}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(config_from_dict(doc, base=tmp_path))
    cmp = result.metrics["comparison"]
    assert cmp["final"] == "nomogram" and list(cmp["cohorts"]) == ["test", "train"]
    assert list(result.metrics["final_model"]["terms"]) == ["radscore", "age"]  # not stage: not the model's
    nomogram = result.study_models[1]
    np.testing.assert_allclose(result.predictions["test"]["linear_predictor"], nomogram.predictions["test"],
                               atol=1e-9)
    assert [p.name for p in result.bundle.predictors if p.source == "clinical"] == ["age"]


def test_the_bundled_model_is_validated_on_every_external_cohort(study):
    result, folder = study
    cmp, surv = result.metrics["comparison"], result.metrics["survival"]
    assert list(surv) == ["train", "test", "centre B", "short"]
    ext = surv["centre B"]
    assert ext["prediction"] == "external cohort, validated"
    assert ext["c_index_linear_predictor"] == pytest.approx(cmp["cohorts"]["centre B"]["models"][cmp["final"]]
                                                            ["c_index"], abs=1e-12)
    assert ext["time_dependent"]["auc"] == pytest.approx(
        cmp["cohorts"]["centre B"]["models"][cmp["final"]]["auc_at_horizon"], abs=1e-12)
    # K-M groups by the training median linear predictor
    lp = result.predictions["centre B"]["linear_predictor"]
    assert ext["n_high"] == int((lp >= result.metrics["cutoff"]["value"]).sum())
    assert surv["short"]["time_dependent"]["auc"] is None and "beyond" in surv["short"]["note"]
