"""Hostile ``inputs`` (bundle schema 2) and model-card text: refused naming the field, or shown as text.

Each bundle is generated here from the shipped demo's model.json (no binary fixtures).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from radgui.errors import BundleError
from radgui.model.bundle import MODEL_JSON, ModelBundle

DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "demo.radgui-model"


def _v2_doc() -> dict:
    with zipfile.ZipFile(DEMO) as zf:
        doc = json.loads(zf.read(MODEL_JSON))
    doc["schema_version"] = 2
    doc["reference_cohort"] = None  # only model.json is written here
    doc["inputs"] = {"roi": "tumour", "rois": {}, "feature_preset": "ct-original", "time_unit": "months",
                     "example_clinical": {"age": 67}}
    return doc


def _write(tmp_path, doc) -> Path:
    path = tmp_path / "hostile.radgui-model"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(MODEL_JSON, json.dumps(doc))
    return path


def test_a_valid_v2_bundle_loads(tmp_path):
    b = ModelBundle.load(_write(tmp_path, _v2_doc()))
    assert b.inputs.roi == "tumour" and b.inputs.example_clinical == {"age": 67}


@pytest.mark.parametrize("inputs, message", [
    ({"rois": {"pet": {"modality": "MR"}}}, "field 'inputs.rois.pet.modality' must be 'CT', 'PT' or 'FUSED', got 'MR'"),
    ({"rois": {"pet": {}}}, "field 'inputs.rois.pet.modality' is missing"),
    ({"rois": ["pet"]}, "field 'inputs.rois' must be dict, got list"),
    ({"roi": ""}, "field 'inputs.roi' must name a ROI"),
    ({"roi": ["tumour"]}, "field 'inputs.roi' must be str, got list"),
    ({"example_clinical": {"age": True}}, "field 'inputs.example_clinical.age' must be a string or a finite number"),
    ({"example_clinical": {"age": {"$gt": 1}}}, "field 'inputs.example_clinical.age' must be a string"),
    ({"example_clinical": {"age": 1e308 * 10}}, "not valid JSON"),  # Infinity never parses
    ({"time_unit": 12}, "field 'inputs.time_unit' must be str, got int"),
    ({"feature_preset": {"name": "../../etc/passwd"}}, "field 'inputs.feature_preset' must be str, got dict"),
])
def test_hostile_inputs_are_refused_naming_the_field(tmp_path, inputs, message):
    doc = _v2_doc()
    doc["inputs"].update(inputs)
    path = _write(tmp_path, doc)
    with pytest.raises(BundleError, match=message.replace("(", r"\(").replace("$", r"\$")) as info:
        ModelBundle.load(path)
    assert str(info.value).startswith(str(path))


def test_a_v2_bundle_without_inputs_is_refused(tmp_path):
    doc = _v2_doc()
    del doc["inputs"]
    with pytest.raises(BundleError, match="field 'inputs' is missing"):
        ModelBundle.load(_write(tmp_path, doc))


def test_model_card_shows_bundle_text_as_text():
    pytest.importorskip("qtpy")
    from radgui.gui.predict_widgets import model_card_html

    b = ModelBundle.from_formula(0.0, {"original_firstorder_Mean": 0.1}, name="<img src='http://x/y.png'>",
                                 intended_use="<a href='file:///etc/passwd'>click</a>")
    html = model_card_html(b)
    assert "<img" not in html and "<a href" not in html
    assert "&lt;img src=&#x27;http://x/y.png&#x27;&gt;" in html and "&lt;a href=" in html
