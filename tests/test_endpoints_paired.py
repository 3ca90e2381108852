"""Dynamic studies: `timepoints:` puts the paired Wilcoxon test of the Radscore between two time points into a run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from radgui.model.config import config_from_dict


def _cohort(tmp_path, n=60, unpaired=("P003", "P017")):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    rows = []
    for i in range(n):
        pid = f"P{i:03d}"
        base = rng.normal(size=6) + 0.8 * y[i] * np.r_[1, 1, 0, 0, 0, 0]
        for tp, shift in (("pre", 0.0), ("post", 0.5)):
            if tp == "post" and pid in unpaired:
                continue
            rows.append({"scan_id": f"{pid}-{tp}", "patient": pid, "timepoint": tp, "response": int(y[i]),
                         **{f"tumour__original_firstorder_F{j}": base[j] + shift * (j < 2) + rng.normal(scale=0.2)
                            for j in range(6)}})
    pd.DataFrame(rows).to_csv(tmp_path / "features.csv", index=False)
    return {"features": "features.csv", "id_column": "scan_id", "group": "patient",
            "outcome": {"column": "response", "positive": 1},
            "timepoints": {"column": "timepoint", "baseline": "pre", "followup": "post"},
            "steps": {"zscore": {}, "lasso": {"folds": 3, "n_lambdas": 10}},
            "validation": {"repeats": 0, "folds": 3, "bootstrap": 0, "n_jobs": 1}, "seed": 1}


def test_run_reports_paired_wilcoxon_of_the_radscore_equal_to_scipy(tmp_path):
    from radgui.model.train import train
    from radgui.report.extras import extra_pages

    cfg = config_from_dict(_cohort(tmp_path), base=tmp_path)
    result = train(cfg)
    pc = result.metrics["paired_change"]
    assert set(pc) == {"train", "test"}
    assert pc["train"]["validation"] == "apparent" and pc["test"]["validation"] == "held-out (validated)"
    assert "timepoint" not in result.bundle.estimator_features if result.bundle.estimator_features else True
    f = pd.read_csv(tmp_path / "features.csv").set_index("scan_id")
    all_unpaired = []
    for cohort in ("train", "test"):
        p = result.predictions[cohort]
        rs = pd.DataFrame({"patient": f.loc[p.index, "patient"], "tp": f.loc[p.index, "timepoint"],
                           "rs": p["radscore"]})
        wide = rs.pivot(index="patient", columns="tp", values="rs")
        paired = wide.dropna()
        ref = stats.wilcoxon(paired["post"], paired["pre"])
        m = pc[cohort]
        assert m["n_pairs"] == len(paired)
        assert m["statistic"] == pytest.approx(float(ref.statistic), abs=1e-12)
        assert m["p_value"] == pytest.approx(float(ref.pvalue), abs=1e-12)
        assert m["median_change"] == pytest.approx(float((paired["post"] - paired["pre"]).median()), abs=1e-12)
        assert m["unpaired"] == sorted(wide.index[wide.isna().any(axis=1)])
        all_unpaired += m["unpaired"]
    assert sorted(all_unpaired) == ["P003", "P017"]
    figures = []
    fake = type("Pdf", (), {"savefig": lambda self, fig: figures.append(fig)})()
    for page in extra_pages(result):
        page(fake)
    text = " ".join(t.get_text() for fig in figures for ax in fig.axes for t in ax.texts)
    assert "excluded, only one of the two time points" in text
    assert any("Radscore change" in ax.get_title() for fig in figures for ax in fig.axes)
