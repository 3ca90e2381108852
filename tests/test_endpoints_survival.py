"""Several survival endpoints (PFS and OS) in one run: config, metrics per endpoint, report pages."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from radgui.model.config import config_from_dict

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train"
PFS = {"name": "PFS", "time": "pfs_months", "event": "progression", "horizon": 24, "unit": "months"}
OS = {"name": "OS", "time": "os_months", "event": "death", "horizon": 36, "unit": "months"}


def _example(tmp_path, **changes):
    """The training example with an OS endpoint added to its clinical table (OS >= PFS, death after progression)."""
    data = tmp_path / "data"
    shutil.copytree(EXAMPLE / "data", data)
    clin = pd.read_csv(data / "clinical.csv")
    rng = np.random.default_rng(3)
    clin["os_months"] = (clin["pfs_months"] + rng.exponential(12, len(clin))).round(2)
    clin["death"] = ((clin["progression"] == 1) & (rng.random(len(clin)) < 0.7)).astype(int)
    clin.to_csv(data / "clinical.csv", index=False)
    doc = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    doc["validation"] = {"repeats": 1, "folds": 3, "bootstrap": 0, "n_jobs": 1}
    doc["steps"] = {"nzv": {}, "zscore": {}, "lasso": {"folds": 3, "n_lambdas": 10, "min_ratio": 0.1}}
    doc["survival"] = [PFS, OS]
    doc.update(changes)
    return doc, tmp_path, clin


def test_single_mapping_is_one_primary_endpoint():
    doc = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    cfg = config_from_dict(doc, base=EXAMPLE)
    assert cfg.endpoints == [cfg.survival]
    assert cfg.survival["time"] == "pfs_months" and cfg.survival["name"] == "progression"


def test_list_of_endpoints_first_is_primary():
    doc = yaml.safe_load((EXAMPLE / "config.yaml").read_text())
    doc["survival"] = [PFS, OS]
    cfg = config_from_dict(doc, base=EXAMPLE)
    assert [e["name"] for e in cfg.endpoints] == ["PFS", "OS"]
    assert cfg.survival == PFS


@pytest.mark.slow
def test_binary_run_reports_every_endpoint(tmp_path):
    from radgui.model.train import train
    from radgui.report.extras import extra_pages
    from radgui.report.model_report import report_from_training
    from radgui.stats import concordance_index

    doc, base, clin = _example(tmp_path)
    result = train(config_from_dict(doc, base=base))
    eps = result.metrics["endpoints"]
    assert list(eps) == ["PFS", "OS"] and eps["PFS"]["role"] == "primary" and eps["OS"]["role"] == "secondary"
    assert set(eps["OS"]["cohorts"]) == {"train", "test", "cross-validated"}
    assert eps["OS"]["cohorts"]["train"]["validation"] == "apparent"
    assert eps["OS"]["cohorts"]["test"]["validation"] == "held-out (validated)"
    # the primary endpoint's numbers are the run's survival numbers
    assert eps["PFS"]["cohorts"]["test"]["c_index_linear_predictor"] == \
        result.metrics["survival"]["test"]["c_index_linear_predictor"]
    # OS: the same linear predictor against os_months/death of the same patients (favourable: risk = -lp)
    te = result.predictions["test"]
    c = clin.set_index("patient_id").loc[te.index]
    ref = concordance_index(c["os_months"].to_numpy(float), c["death"].to_numpy(int), -te["linear_predictor"])
    assert eps["OS"]["cohorts"]["test"]["c_index_linear_predictor"] == pytest.approx(ref, abs=1e-12)
    assert eps["OS"]["cohorts"]["test"]["events"] == int(c["death"].sum())
    figures = []
    fake = type("Pdf", (), {"savefig": lambda self, fig: figures.append(fig)})()
    for page in extra_pages(result):
        page(fake)
    titles = " ".join(ax.get_title(loc="left") + ax.get_title() for f in figures for ax in f.axes)
    assert "OS, test cohort: Cox regression of months to event" in titles
    assert "PFS, test cohort: Cox regression of months to event" in titles
    assert "OS, test: by predicted group" in titles
    files = report_from_training(result, tmp_path / "out")
    assert files[1].read_bytes()[:4] == b"%PDF"


def test_survival_only_run_trains_primary_and_reports_secondary(tmp_path):
    from radgui.model.train import train
    from radgui.report.extras import survival_extra_pages
    from radgui.stats import concordance_index

    doc, base, clin = _example(tmp_path, outcome=None, clinical_model={"screen_p": 0.1})
    result = train(config_from_dict(doc, base=base))
    eps = result.metrics["endpoints"]
    assert list(eps) == ["PFS", "OS"]
    tr = result.predictions["train"]
    c = clin.set_index("patient_id").loc[tr.index]
    assert (tr["time"].to_numpy() == c["pfs_months"].to_numpy()).all()   # trained on the primary endpoint
    ref = concordance_index(c["os_months"].to_numpy(float), c["death"].to_numpy(int), tr["linear_predictor"])
    assert eps["OS"]["cohorts"]["train"]["c_index_linear_predictor"] == pytest.approx(ref, abs=1e-12)
    assert eps["OS"]["cohorts"]["train"]["validation"] == "apparent"
    pages = survival_extra_pages(result)
    assert len(pages) == 4   # td-ROC + K-M of PFS, then K-M and the C-index page of OS
    figures = []
    fake = type("Pdf", (), {"savefig": lambda self, fig: figures.append(fig)})()
    for page in pages:
        page(fake)
    text = " ".join(t.get_text() for f in figures for ax in f.axes for t in ax.texts) + \
        " ".join(ax.get_title(loc="left") for f in figures for ax in f.axes)
    assert "OS (secondary), test: by predicted group" in text
    assert "Secondary endpoint OS" in text
