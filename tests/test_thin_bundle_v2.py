"""Bundle schema 2: typed inputs and records, closed sets, and the 1 -> 2 migration on the shipped demo bundle."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from radgui.errors import BundleError
from radgui.model import bundle as B
from radgui.model.bundle import ModelBundle

DEMO = Path(__file__).resolve().parents[1] / "resources" / "models" / "demo.radgui-model"


def _demo_doc() -> dict:
    with zipfile.ZipFile(DEMO) as zf:
        return json.loads(zf.read(B.MODEL_JSON))


def test_shipped_demo_is_v1_and_migrates_to_v2():
    doc = _demo_doc()
    assert doc["schema_version"] == 1 and "inputs" not in doc  # the demo bundle is not rebuilt
    new = B._migrate_1_to_2(doc)
    assert new["schema_version"] == 2 and doc["schema_version"] == 1  # the input is not changed
    assert new["inputs"] == {"roi": "tumour", "rois": {}, "feature_preset": "ct-original", "time_unit": "months",
                             "example_clinical": {"age": 67, "ecog": "1", "nlr": 4.2}}
    assert {k: v for k, v in new.items() if k not in ("schema_version", "inputs")} == \
        {k: v for k, v in doc.items() if k != "schema_version"}
    assert B.MIGRATIONS[1] is B._migrate_1_to_2 and B.SCHEMA_VERSION == 2


def test_loading_v1_gives_the_typed_bundle_and_saving_writes_v2(tmp_path):
    b = ModelBundle.load(DEMO)
    assert b.schema_version == 2
    assert isinstance(b.inputs, B.ModelInputs) and b.inputs.roi == "tumour" and b.inputs.time_unit == "months"
    assert isinstance(b.cutoff, B.Cutoff) and b.cutoff.scale == "probability"
    assert isinstance(b.zscore, B.ZScore) and isinstance(b.radscore, B.RadscoreFormula)
    assert isinstance(b.nomogram, B.Nomogram) and all(isinstance(a, B.NomogramAxis) for a in b.nomogram.axes)
    # the records read like the version-1 dicts
    raw = _demo_doc()
    assert b.cutoff == raw["cutoff"] and b.cutoff["value"] == raw["cutoff"]["value"]
    assert b.radscore == raw["radscore"] and b.zscore == raw["preprocessing"]["zscore"]
    assert b.nomogram["axes"][0]["term"] == "radscore" and b.nomogram.to_dict()["axes"] == raw["nomogram"]["axes"]
    path = b.save(tmp_path / "v2")
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read(B.MODEL_JSON))
    assert doc["schema_version"] == 2 and doc["inputs"] == b.inputs.to_dict()
    again = ModelBundle.load(path)
    assert again.inputs == b.inputs and again.cutoff == b.cutoff and again.nomogram == b.nomogram


def test_builders_hand_dicts_that_become_records():
    b = ModelBundle.from_formula(0.5, {"original_firstorder_Mean": 0.1}, cutoff=0.2, cutoff_scale="probability",
                                 zscore={"original_firstorder_Mean": (1.0, 2.0)})
    assert isinstance(b.cutoff, B.Cutoff) and b.cutoff.to_dict() == {"value": 0.2, "scale": "probability",
                                                                     "method": "published"}
    assert isinstance(b.zscore, B.ZScore) and b.zscore.sd == [2.0]
    b.cutoff = {"value": 0.0, "scale": "linear_predictor", "method": "m"}
    assert isinstance(b.cutoff, B.Cutoff) and b.cutoff.value == 0.0
    assert b.inputs == B.ModelInputs()  # a published formula names nothing


def test_closed_sets_are_literal_types_checked_in_one_place():
    from typing import get_args

    assert B.MODEL_KINDS == get_args(B.ModelKind) == ("logistic", "cox", "skops")
    assert B.CUTOFF_SCALES == ("probability", "linear_predictor") and B.OUTCOME_TYPES == ("binary", "survival")
    ck = B._Checker("x.radgui-model")
    assert ck.choice("cox", "model_kind", B.ModelKind) == "cox"
    with pytest.raises(BundleError) as info:
        ck.choice("tree", "model_kind", B.ModelKind)
    assert str(info.value) == ("x.radgui-model: model.json: field 'model_kind' must be 'logistic', 'cox' or "
                               "'skops', got 'tree'")


@pytest.mark.parametrize("field, value, message", [
    ("model_kind", "tree", "field 'model_kind' must be 'logistic', 'cox' or 'skops', got 'tree'"),
    ("cutoff.scale", "odds", "field 'cutoff.scale' must be 'probability' or 'linear_predictor', got 'odds'"),
    ("outcome.type", "count", "field 'outcome.type' must be 'binary' or 'survival', got 'count'"),
])
def test_closed_set_errors_name_the_field(field, value, message):
    doc = B._migrate_1_to_2(_demo_doc())
    part, _, key = field.rpartition(".")
    (doc[part] if part else doc)[key] = value
    with pytest.raises(BundleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ModelBundle.from_dict(doc)


def test_inputs_of_a_built_bundle_follow_provenance_edits_until_saved(tmp_path):
    """A build script that adds provenance keys after training (packaging/build_demo_model.py) still gets them."""
    b = ModelBundle.from_formula(0.5, {"original_firstorder_Mean": 0.1})
    b.provenance.update(roi="gtv", example_clinical={"age": 60}, reference_cohort={"time_unit": "days"})
    loaded = ModelBundle.load(b.save(tmp_path / "edited"))
    assert (loaded.inputs.roi, loaded.inputs.example_clinical, loaded.inputs.time_unit) == \
        ("gtv", {"age": 60}, "days")
    loaded.provenance["roi"] = "other"  # a loaded bundle's inputs are its own field: provenance is history
    again = ModelBundle.load(loaded.save(tmp_path / "again"))
    assert again.inputs.roi == "gtv"
    b.inputs = B.ModelInputs(roi="set")  # set explicitly: kept
    assert ModelBundle.load(b.save(tmp_path / "explicit")).inputs.roi == "set"
