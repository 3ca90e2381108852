"""Dynamic studies: `timepoints:` puts the paired Wilcoxon test of the Radscore between two time points into a run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from radgui.errors import ConfigError
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


@pytest.mark.parametrize("change, message", [
    ({"group": None}, "'timepoints' pairs each patient's baseline and follow-up rows: set 'group: <patient column>'"),
    ({"timepoints": {"column": "timepoint", "baseline": "pre", "followup": "pre"}},
     "timepoints.baseline and timepoints.followup are both 'pre'"),
    ({"timepoints": {"column": "timepoint", "baseline": "pre"}}, "key 'timepoints.followup' is required"),
    ({"timepoints": {"column": "timepoint", "baseline": "pre", "followup": "post", "third": "x"}},
     "unknown key(s) ['third'] under 'timepoints'"),
    ({"timepoints": {"column": ["a"], "baseline": "pre", "followup": "post"}},
     "timepoints.column must be a non-empty name or value, got ['a']"),
])
def test_bad_timepoints_config_is_one_line_error(tmp_path, change, message):
    doc = {**_cohort(tmp_path), **change}
    doc = {k: v for k, v in doc.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        config_from_dict(doc, base=tmp_path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_timepoint_values_and_duplicates_are_checked_on_loading(tmp_path):
    from radgui.model.train import load_cohort

    doc = _cohort(tmp_path)
    cfg = config_from_dict({**doc, "timepoints": {"column": "timepoint", "baseline": "pre", "followup": "week8"}},
                           base=tmp_path)
    with pytest.raises(ConfigError) as err:
        load_cohort(cfg, cfg.features, cfg.clinical)
    assert "time-point column 'timepoint' has no row at ['week8'] (it holds ['post', 'pre'])" in str(err.value)
    f = pd.read_csv(tmp_path / "features.csv")
    f.loc[1, "timepoint"] = "pre"  # P000 now has two baseline rows
    f.to_csv(tmp_path / "features.csv", index=False)
    cfg = config_from_dict(doc, base=tmp_path)
    with pytest.raises(ConfigError) as err:
        load_cohort(cfg, cfg.features, cfg.clinical)
    assert "patient P000 has more than one row at time point 'pre'" in str(err.value)
    cfg = config_from_dict({**doc, "timepoints": {**doc["timepoints"], "column": "visit"}}, base=tmp_path)
    with pytest.raises(ConfigError) as err:
        load_cohort(cfg, cfg.features, cfg.clinical)
    assert "time-point column 'visit' is in neither the clinical nor the feature table" in str(err.value)


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
