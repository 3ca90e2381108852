"""The new steps in a full training run: the bundle reproduces the pipeline (user order with ComBat before the
z-score, PCA folded back onto the features, Relief), and the report gets the extra pages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from radgui.model.bundle import ModelBundle
from radgui.model.config import config_from_dict
from radgui.model.predict import predict_from_features

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train"


def _train(steps, tmp_path, **changes):
    from radgui.model.train import train
    from radgui.report.model_report import report_from_training

    doc = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    doc["validation"] = {"repeats": 1, "folds": 3, "bootstrap": 0, "n_jobs": 1}
    doc["steps"] = steps
    doc.update(changes)
    result = train(config_from_dict(doc, base=EXAMPLE))
    files = report_from_training(result, tmp_path / "out")
    return result, files


def _bundle_reproduces(result, bundle_path, n=12):
    bundle = ModelBundle.load(bundle_path)
    f = pd.read_csv(EXAMPLE / "data" / "features.csv").set_index("patient_id")
    c = pd.read_csv(EXAMPLE / "data" / "clinical.csv").set_index("patient_id")
    X = result.predictions["test"]
    for pid in X.index[:n]:
        clinical = {k: c.loc[pid, k] for k in ("age", "ecog", "sex", "nlr", "center")}
        pred = predict_from_features(bundle, f.loc[pid].to_dict(), clinical)
        assert pred.radscore == pytest.approx(X.loc[pid, "radscore"], abs=1e-8)
        assert pred.probability == pytest.approx(X.loc[pid, "combined"], abs=1e-8)
    return bundle


@pytest.mark.slow
def test_user_order_combat_before_zscore_with_bootstrap_lasso_end_to_end(tmp_path):
    steps = {"nzv": {}, "zscore": {}, "combat": {}, "correlation": {"threshold": 0.9},
             "stability": {"n_bootstrap": 5, "top_k": 6, "resample": "bootstrap", "folds": 3},
             "lasso": {"folds": 3, "n_lambdas": 15},
             "order": ["nzv", "combat", "zscore", "correlation", "stability", "lasso"]}
    result, (bundle_path, pdf, _) = _train(steps, tmp_path)
    assert list(result.radiomics.named_steps) == ["nzv", "combat", "zscore", "correlation", "stability", "learner"]
    _bundle_reproduces(result, bundle_path)
    assert "ComBat harmonisation by center (parametric empirical Bayes); z-score" in result.methods
    # extra pages: selection frequencies, Radscore by outcome, Cox table, K-M landmarks, time-dependent ROC
    from radgui.report.extras import extra_pages

    assert len(extra_pages(result)) == 5
    assert pdf.read_bytes().count(b"/Type /Page\n") + pdf.read_bytes().count(b"/Type /Page ") >= 12


@pytest.mark.slow
def test_pca_and_relief_runs_give_a_bundle_that_reproduces_the_pipeline(tmp_path):
    steps = {"nzv": {}, "zscore": {}, "combat": {}, "relief": {"k": 12, "n_neighbors": 5},
             "pca": {"n_components": 4}, "lasso": {"folds": 3, "n_lambdas": 15}}
    result, (bundle_path, _, _) = _train(steps, tmp_path)
    assert list(result.radiomics.named_steps) == ["nzv", "zscore", "combat", "relief", "pca", "learner"]
    bundle = _bundle_reproduces(result, bundle_path)
    kept = result.radiomics.named_steps["relief"].selected_
    assert set(bundle.radscore["coefficients"]) == set(kept)  # folded from 4 components onto the 12 features
    assert "Relief selection (12 features)" in result.methods and "PCA fitted in each training fold" in result.methods


def test_extra_pages_of_a_run_without_survival_or_stability():
    """Only the Radscore-by-outcome page applies; a survival page needs event data."""
    from types import SimpleNamespace

    from matplotlib.backends.backend_pdf import PdfPages

    from radgui.report.extras import extra_pages

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"y": np.r_[np.zeros(20, int), np.ones(20, int)], "radscore": rng.normal(size=40)})
    cfg = config_from_dict({"features": "f.csv", "outcome": {"column": "y"}, "steps": {"zscore": {}, "lasso": {}}})
    result = SimpleNamespace(config=cfg, radiomics=None, predictions={"train": frame}, metrics={})
    pages = extra_pages(result)
    assert len(pages) == 1
    import io

    buf = io.BytesIO()
    with PdfPages(buf) as pdf:
        pages[0](pdf)
        assert pdf.get_pagecount() == 1


def test_time_dependent_roc_page_scores_risk_by_the_outcome_direction():
    """A favourable modelled outcome (response): high linear predictor = low risk of the survival event."""
    from radgui.report.extras import td_roc_page
    from radgui.stats import time_dependent_auc

    rng = np.random.default_rng(1)
    lp = rng.normal(size=80)
    t = rng.exponential(10 * np.exp(lp))  # high lp: long survival
    frame = pd.DataFrame({"time": np.minimum(t, 30), "event": (t < 30).astype(int), "linear_predictor": lp})
    figures = []
    fake = type("Pdf", (), {"savefig": lambda self, fig: figures.append(fig)})()
    for direction, sign in (("favourable", -1), ("adverse", 1)):
        td_roc_page({"train": frame}, frame, (6.0, 12.0), "months", direction=direction)(fake)
        legend = [x.get_text() for x in figures[-1].axes[0].get_legend().get_texts()]
        ref = time_dependent_auc(frame.time, frame.event, frame.time, frame.event, sign * lp, [6, 12])
        assert legend == [f"6 months: AUC {ref[0]:.2f}", f"12 months: AUC {ref[1]:.2f}"]
        assert (ref > 0.6).all() if sign < 0 else (ref < 0.4).all()


@pytest.mark.slow
def test_survival_model_report_gets_time_dependent_roc_at_the_landmarks(tmp_path):
    from radgui.report.extras import survival_extra_pages
    from radgui.stats import time_dependent_auc

    steps = {"nzv": {}, "zscore": {}, "lasso": {"folds": 3, "n_lambdas": 10, "min_ratio": 0.1}}
    result, (_, pdf, _) = _train(steps, tmp_path, outcome=None, clinical_model={"screen_p": 0.1},
                                 validation={"repeats": 1, "folds": 3, "bootstrap": 0, "n_jobs": 1})
    pages = survival_extra_pages(result)
    assert len(pages) == 2
    figures = []
    fake = type("Pdf", (), {"savefig": lambda self, fig: figures.append(fig)})()
    pages[0](fake)
    tr, te = result.predictions["train"], result.predictions["test"]
    legend = [x.get_text() for x in figures[0].axes[1].get_legend().get_texts()]
    ref = time_dependent_auc(tr.time, tr.event, te.time, te.event, te.linear_predictor, [6, 12, 24])
    assert legend == [f"{t} months: AUC {a:.2f}" for t, a in zip((6, 12, 24), ref)]
    assert pdf.read_bytes()[:4] == b"%PDF"


@pytest.mark.slow
def test_fixed_clinical_model_in_a_training_run(tmp_path):
    """clinical_model: {select: false}: every clinical variable in the clinical and combined models."""
    steps = {"zscore": {}, "lasso": {"folds": 3, "n_lambdas": 10}}
    result, (bundle_path, _, _) = _train(steps, tmp_path, clinical_model={"select": False})
    assert result.clinical.selected_ == ["age", "ecog", "sex", "nlr"]
    assert result.combined.clinical_.selected_ == ["radscore", "age", "ecog", "sex", "nlr"]
    assert "were fixed in advance (no screening or stepwise selection)" in result.methods
    terms = [t.name for t in ModelBundle.load(bundle_path).linear_model.terms]
    assert terms == ["radscore", "age", "ecog", "sex", "nlr"]


@pytest.mark.slow
def test_grid_searched_svm_bundle_saves_and_loads_with_the_current_allowlist(tmp_path):
    """A grid search is stored as its refitted best model: no new skops type (NEW_TRUSTED_TYPES is empty)."""
    from radgui.model import steps as st

    steps = {"zscore": {}, "correlation": {"threshold": 0.9}, "rfe": {"n_features": 4, "estimator": "svm"}}
    result, (bundle_path, _, _) = _train(steps, tmp_path, learner={"name": "svm", "tune": {"method": "grid",
                                                                                           "folds": 2}},
                                         validation={"repeats": 0, "folds": 3, "bootstrap": 0, "n_jobs": 1})
    assert st.NEW_TRUSTED_TYPES == ()
    bundle = ModelBundle.load(bundle_path)
    assert bundle.model_kind == "skops" and len(bundle.estimator_features) == 4
    _bundle_reproduces(result, bundle_path, n=6)


@pytest.mark.slow
def test_pca_with_a_plain_logistic_learner_folds_back_onto_the_features(tmp_path):
    """PCA then an unpenalised logistic (no LASSO): the bundle once named the components (KeyError 'PC1');
    it must hold the Radscore folded back onto the z-scored features and reproduce the pipeline."""
    result, (bundle_path, _, _) = _train({"zscore": {}, "pca": {"n_components": 4}}, tmp_path,
                                         learner={"name": "logistic"})
    bundle = _bundle_reproduces(result, bundle_path)
    assert not any(f.startswith("PC") for f in bundle.radscore["coefficients"])
    assert set(bundle.radscore["coefficients"]) == set(result.radiomics.named_steps["pca"].feature_names_in_)
