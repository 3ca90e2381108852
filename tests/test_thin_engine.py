"""Engine functions the Predict and Train docks call (and the CLI with them), tested without Qt."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from radgui.errors import ClinicalValueError, ConfigError, PredictionInputError, UntrustedInputError
from radgui.model.bundle import ModelBundle, ModelInputs, Predictor

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "models" / "demo.radgui-model"


class _Vol:
    """Stands in for a Volume: the rules only read ``modality``."""

    def __init__(self, modality):
        self.modality = modality


@pytest.fixture(scope="module")
def demo():
    return ModelBundle.load(DEMO)


def _formula(*features, **prov):
    b = ModelBundle.from_formula(0.0, {f: 0.1 for f in features})
    b.provenance.update(prov)
    b.inputs = ModelInputs.from_provenance(b.provenance, b.radiomics_features)
    return b


# ---------------------------------------------------------------- images and ROIs
def test_split_images_follows_the_image_shown():
    from radgui.model.patient import split_images

    ct, ct2, pet = _Vol("CT"), _Vol("CT"), _Vol("PT")
    assert split_images(ct, [ct, pet]) == (ct, pet)
    assert split_images(pet, [ct, ct2, pet]) == (ct2, pet)  # PET shown: the last non-PET image is the CT
    assert split_images(pet, [pet]) == (None, pet)
    assert split_images(ct, [ct]) == (ct, None)
    assert split_images(None, []) == (None, None)


def test_study_inputs_pet_rois_and_the_chosen_roi(demo):
    from radgui.model.patient import study_inputs

    ct, pet = _Vol("CT"), _Vol("PT")
    m1, m2 = np.ones((2, 2), bool), np.zeros((2, 2), bool)
    vols, rois = study_inputs(demo, ct, pet, {"lesion": (ct, m1), "pet_core": (pet, m2)}, chosen_roi="lesion")
    assert vols == {"CT": ct, "PT": pet}
    assert rois["lesion"] is m1 and rois["tumour"] is m1  # the demo's unprefixed features come from inputs.roi
    assert rois["pet_core"] == (pet, m2)
    vols, rois = study_inputs(demo, ct, None, {"lesion": m1})
    assert vols is ct and set(rois) == {"lesion"}  # no chosen ROI: no alias
    vols, _ = study_inputs(demo, None, pet, {})
    assert vols == {"PT": pet}
    with pytest.raises(PredictionInputError, match="open an image first"):
        study_inputs(demo, None, None, {})


def test_chosen_roi_goes_under_the_roi_the_model_names():
    from radgui.model.patient import study_inputs

    b = _formula("original_firstorder_Mean", roi="gtv")
    m = np.ones((1, 1), bool)
    _, rois = study_inputs(b, _Vol("CT"), None, {"lesion": m}, chosen_roi="lesion")
    assert set(rois) == {"lesion", "gtv"}
    prefixed = _formula("ring3mm__original_firstorder_Mean")
    _, rois = study_inputs(prefixed, _Vol("CT"), None, {"lesion": m}, chosen_roi="lesion")
    assert set(rois) == {"lesion"}  # only prefixed features: nothing to alias


def test_one_pet_rule_for_dock_and_cli():
    from radgui.model.patient import is_pet_roi

    b = _formula("pet_tumour__original_firstorder_Maximum", "suvroi__original_firstorder_Mean",
                 "core__original_firstorder_Mean", rois={"suvroi": {"modality": "PET"}, "pet_x": {"modality": "CT"}})
    assert b.inputs.rois == {"core": {"modality": "CT"}, "pet_tumour": {"modality": "PT"},
                             "suvroi": {"modality": "PT"}, "pet_x": {"modality": "CT"}}
    assert [is_pet_roi(b, r) for r in ("pet_tumour", "suvroi", "core", "pet_x", "pet_other", "other")] == \
        [True, True, False, False, True, False]


# ---------------------------------------------------------------- clinical values
def test_check_clinical_value_is_the_rule_of_check_clinical():
    from radgui.model.predict import check_clinical_value

    age = Predictor(name="age", source="clinical", unit="years", min=18, max=100, p01=30, p99=80)
    ecog = Predictor(name="ecog", source="clinical", type="categorical", categories=["0", "1", "2"])
    assert check_clinical_value(age, "67") == (67.0, [])
    value, warnings = check_clinical_value(age, " 90 ")
    assert value == 90.0 and len(warnings) == 1 and "age" in warnings[0]
    assert check_clinical_value(ecog, 1.0) == ("1", [])
    cases = [(age, None, "clinical value 'age' is missing (expected a number (allowed 18 to 100 years))"),
             (age, "", "clinical value 'age' is missing"),
             (age, "old", "clinical value 'age' = 'old' is not a number"),
             (age, "nan", "clinical value 'age' = 'nan' is not a finite number"),
             (age, "101", "clinical value 'age' = 101 years is out of range (allowed 18 to 100 years)"),
             (ecog, "3", "clinical value 'ecog' = '3' is not an allowed category (allowed: 0, 1, 2)")]
    for p, raw, msg in cases:
        with pytest.raises(ClinicalValueError) as info:
            check_clinical_value(p, raw)
        assert str(info.value).startswith(msg), (raw, str(info.value))


# ---------------------------------------------------------------- model card
def test_card_of_the_demo_bundle(demo):
    card = demo.card()
    assert card.cohort == "150 patients, 96 events"
    assert card.validation_auc == "0.86 (95% CI 0.75-0.97), stratified 30% holdout"
    assert card.feature_preset == "ct-original"
    assert card.predictors == "Radscore of 2 feature(s); ECOG PS, NLR"
    assert [k for k, _ in card.rows()] == ["Intended use", "Outcome", "Cohort", "Validation AUC", "Feature preset",
                                           "Predictors"]


def test_card_says_not_stated():
    b = ModelBundle.from_formula(0.1, {"original_firstorder_Mean": 0.2})
    card = b.card()
    assert (card.cohort, card.validation_auc, card.feature_preset) == ("not stated", "not stated", "not stated")
    b.provenance.update(n_patients=40, validation={"auc": 0.7, "ci": [0.6, 0.8]})
    assert (b.card().cohort, b.card().validation_auc) == ("40 patients", "0.70 (95% CI 0.60-0.80)")


# ---------------------------------------------------------------- train workflow
def test_summary_line_lives_in_the_engine():
    import radgui.cli.train
    import radgui.report.workflow

    assert radgui.cli.train.summary_line is radgui.report.workflow.summary_line


def test_apply_form_rules():
    from radgui.report.workflow import apply_form

    doc = {"split": {"method": "holdout", "test_fraction": 0.3, "features": "x.csv"},
           "steps": {"nzv": {}, "lasso": {"folds": 5}, "stepz": {}},
           "learner": {"name": "lasso", "n_estimators": 10}, "clinical": "c.csv", "center": "site"}
    out = apply_form(doc, {"name": " ", "features": "f.csv", "clinical": "", "outcome": "y", "positive": "-1",
                           "center": "", "split": "external", "test_fraction": 0.25,
                           "steps": {"nzv": False, "zscore": True, "lasso": True}, "learner": "lasso",
                           "lasso_rule": "min", "repeats": 0, "folds": 3, "bootstrap": 0, "n_jobs": 2, "seed": 7})
    assert out["name"] == "radiomics model" and "clinical" not in out and "center" not in out
    assert out["outcome"] == {"column": "y", "positive": -1}
    assert out["split"] == {"method": "external", "features": "x.csv"}  # test_fraction belongs to holdout
    assert out["steps"] == {"lasso": {"folds": 5, "rule": "min"}, "stepz": {}, "zscore": {}}
    assert out["learner"] == {"name": "lasso"}  # n_estimators is no lasso key
    assert out["validation"] == {"repeats": 0, "folds": 3, "bootstrap": 0, "n_jobs": 2} and out["seed"] == 7
    assert doc["split"]["method"] == "holdout"  # the input is not changed


def test_config_files_round_trip(tmp_path):
    from radgui.report.workflow import read_config_file, read_config_text, write_config_file

    path = write_config_file(tmp_path / "c.yaml", {"name": "m", "steps": {"zscore": {}}})
    assert read_config_file(path) == {"name": "m", "steps": {"zscore": {}}}
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="list.yaml: the config must be a mapping"):
        read_config_file(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="^the YAML editor must hold a mapping"):
        read_config_text("[1, 2]")
    with pytest.raises(UntrustedInputError):
        read_config_file(tmp_path / "missing.yaml")


# ---------------------------------------------------------------- import contracts
def _imports(path: Path) -> set[str]:
    mods = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module)
        elif isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
    return mods


@pytest.mark.parametrize("dock", ["predict_dock.py", "predict_widgets.py", "train_dock.py"])
def test_docks_import_no_cli_and_no_file_helpers(dock):
    mods = _imports(REPO / "radgui" / "gui" / dock)
    assert not [m for m in mods if m.startswith("radgui.cli")]
    assert not {"radgui.files", "radgui.untrusted", "yaml", "types"} & mods


def test_docks_are_thin():
    for dock in ("predict_dock.py", "train_dock.py"):
        n = len((REPO / "radgui" / "gui" / dock).read_text(encoding="utf-8").splitlines())
        assert n < 430, (dock, n)
