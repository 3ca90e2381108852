"""Bad survival-study input (kinds, external cohorts) is refused in one line naming the file or key, before fitting."""

from __future__ import annotations

import pandas as pd
import pytest

from radgui.errors import ConfigError
from radgui.model.config import config_from_dict
from survcomp_synth import write_study


def refused_config(doc, base) -> str:
    with pytest.raises(ConfigError) as exc:
        config_from_dict(doc, base=base)
    assert "\n" not in str(exc.value)
    return exc.value.reason


def refused_training(doc, base) -> ConfigError:
    from radgui.model.train import train

    with pytest.raises(ConfigError) as exc:
        train(config_from_dict(doc, base=base))
    assert "\n" not in str(exc.value)
    return exc.value


def test_clinical_and_combined_survival_models_are_accepted(tmp_path):
    cfg = config_from_dict(write_study(tmp_path), base=tmp_path)
    assert [m["kind"] for m in cfg.models] == ["radiomics", "radiomics", "clinical", "combined"]
    assert cfg.models[2]["clinical"] == ["age", "stage"] and cfg.models[0]["clinical"] == []
    assert [e["name"] for e in cfg.external] == ["centre B"]


def test_scout_and_all_clinical_survival_studies_are_refused(tmp_path):
    doc = write_study(tmp_path)
    doc["models"][0]["scout"] = {"by": "roi"}
    assert refused_config(doc, tmp_path).startswith("models[0] 'tumour': a survival-only config compares Cox models")
    doc = write_study(tmp_path)
    doc["models"] = [{"name": "clin", "kind": "clinical"}]
    assert refused_config(doc, tmp_path).startswith("a survival study needs at least one radiomics or combined model")


def test_combined_model_needs_clinical_variables(tmp_path):
    doc = write_study(tmp_path)
    doc.pop("clinical_variables")
    assert refused_config(doc, tmp_path) == ("models[2] 'clinical': a clinical model needs clinical variables "
                                             "('clinical_variables' in the config)")
    doc = write_study(tmp_path)
    doc["models"][3]["clinical"] = ["ecog"]
    assert refused_config(doc, tmp_path).startswith("models[3] 'combined'.clinical must list clinical_variables")


def test_external_without_models_is_refused_for_a_single_survival_model(tmp_path):
    doc = write_study(tmp_path)
    doc.pop("models")
    assert refused_config(doc, tmp_path).startswith("'external:' cohorts of a survival-only config are read by "
                                                    "'models:'")


def test_external_cohort_with_too_few_events_is_refused_naming_its_file(tmp_path):
    doc = write_study(tmp_path)
    c = pd.read_csv(tmp_path / "ec.csv")
    c["death"] = 0
    c.loc[0, "death"] = 1
    c.to_csv(tmp_path / "ec.csv", index=False)
    exc = refused_training(doc, tmp_path)
    assert exc.reason == ("external cohort 'centre B' has 1 event ('death' = 1); validating a survival model needs "
                          "at least 2")
    assert str(exc).startswith(str(tmp_path / "ec.csv"))


def test_external_cohort_with_negative_times_or_missing_columns_is_refused(tmp_path):
    doc = write_study(tmp_path)
    c = pd.read_csv(tmp_path / "ec.csv")
    c.loc[3, "os_months"] = -1
    c.to_csv(tmp_path / "ec.csv", index=False)
    assert refused_training(doc, tmp_path).reason.startswith(
        "external cohort 'centre B': survival time 'os_months' is negative for 1 patient(s)")
    doc = write_study(tmp_path)
    f = pd.read_csv(tmp_path / "ef.csv").drop(columns=["ring6mm__original_glcm_F0"])
    f.to_csv(tmp_path / "ef.csv", index=False)
    exc = refused_training(doc, tmp_path)
    assert exc.reason == "feature column(s) ['ring6mm__original_glcm_F0'] of the training cohort are missing"
    assert str(exc).startswith(str(tmp_path / "ef.csv"))
    doc = write_study(tmp_path)
    c = pd.read_csv(tmp_path / "ec.csv").drop(columns=["age"])
    c.to_csv(tmp_path / "ec.csv", index=False)
    assert refused_training(doc, tmp_path).reason == "clinical variable 'age' is not a column of the clinical table"


def test_external_name_clashing_with_the_split_cohort_is_refused(tmp_path):
    doc = write_study(tmp_path)
    doc["split"] = {"method": "external", "features": "ef.csv", "clinical": "ec.csv"}
    doc["external"] = [{"name": "external", "features": "ef.csv", "clinical": "ec.csv"}]
    assert refused_training(doc, tmp_path).reason.startswith("external cohort name 'external' is also the name")
