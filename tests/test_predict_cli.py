"""``radgui predict``: the JSON keys, equal to the engine, one-line errors with exit 2."""

from __future__ import annotations

import json
import math

import pytest

from radgui.cli import main
from radgui.cli.demo import demo_paths
from radgui.model.bundle import ModelBundle

KEYS = {"probability", "ci_low", "ci_high", "linear_predictor", "radscore", "points", "total_points",
        "risk_group", "percentile", "values", "warnings", "model", "features"}


def _run(capsys, *argv):
    code = main(["predict", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_on_a_published_formula(tmp_path, capsys):
    image, mask = demo_paths()
    coefs = {"original_firstorder_Mean": 0.01, "original_shape_Sphericity": 2.0}
    path = ModelBundle.from_formula(-2.0, coefs, cutoff=0.5, cutoff_scale="probability",
                                    ranges={"original_firstorder_Mean": (-200, 100),
                                            "original_shape_Sphericity": (0.3, 1.0)}).save(tmp_path / "paper")
    code, out, err = _run(capsys, path, "--image", image, "--mask", mask, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert KEYS <= set(doc)
    lp = -2.0 + sum(c * doc["features"][f] for f, c in coefs.items())
    assert doc["linear_predictor"] == pytest.approx(lp, rel=1e-12)
    assert doc["probability"] == pytest.approx(1 / (1 + math.exp(-lp)), rel=1e-12)
    assert doc["ci_low"] is None and doc["risk_group"] == ("high" if doc["probability"] >= 0.5 else "low")
    assert doc["total_points"] == pytest.approx(sum(doc["points"].values()))


def test_demo_model_json_equals_engine(capsys):
    from radgui.cli.demo import load_demo
    from radgui.demo import demo_model_path
    from radgui.model.patient import predict

    image, mask = demo_paths()
    code, out, err = _run(capsys, "demo", "--image", image, "--mask", mask,
                          "--clinical", "ecog=1", "--clinical", "nlr=4.2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    volume, m = load_demo()
    pred = predict(ModelBundle.load(demo_model_path()), volume, {"tumour": m}, {"ecog": "1", "nlr": 4.2})
    assert doc["probability"] == pred.probability
    assert doc["ci_low"] < doc["probability"] < doc["ci_high"]
    assert set(doc["points"]) == {"radscore", "ecog", "nlr"}
    assert doc["risk_group"] in ("high", "low") and 0 <= doc["percentile"] <= 100


@pytest.mark.parametrize("clinical, message", [
    (["ecog=1"], "clinical value 'nlr' is missing"),
    (["ecog=1", "nlr=99"], "clinical value 'nlr' = 99 ratio is out of range (allowed 0.1 to 50 ratio)"),
    (["ecog=4", "nlr=3"], "clinical value 'ecog' = '4' is not an allowed category"),
    (["ecog=1", "nlr=abc"], "clinical value 'nlr' = 'abc' is not a number"),
])
def test_bad_clinical_value_exits_2_with_one_line(capsys, clinical, message):
    image, mask = demo_paths()
    argv = ["demo", "--image", image, "--mask", mask, "--json"]
    for c in clinical:
        argv += ["--clinical", c]
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_absent_roi_and_bad_bundle_exit_2(tmp_path, capsys):
    image, mask = demo_paths()
    path = ModelBundle.from_formula(0.0, {"ring3mm__original_firstorder_Mean": 0.1}).save(tmp_path / "ring")
    code, _, err = _run(capsys, path, "--image", image, "--mask", mask)
    assert code == 2 and "needs the ROI 'ring3mm'" in err and err.count("\n") == 1
    bad = tmp_path / "bad.radgui-model"
    bad.write_text("not a zip")
    code, _, err = _run(capsys, bad, "--image", image, "--mask", mask)
    assert code == 2 and "not a radgui model bundle" in err


def test_unknown_clinical_name_is_refused_with_the_expected_list(capsys):
    image, mask = demo_paths()
    code, out, err = _run(capsys, "demo", "--image", image, "--mask", mask,
                          "--clinical", "ECOG=1", "--clinical", "nlr=3")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "unknown clinical value 'ECOG' (did you mean 'ecog'?)" in err
    assert "ecog (one of ['0', '1', '2'])" in err and "nlr (a number (allowed 0.1 to 50 ratio))" in err


def test_every_missing_clinical_value_is_named_at_once(capsys):
    image, mask = demo_paths()
    code, out, err = _run(capsys, "demo", "--image", image, "--mask", mask)
    assert code == 2 and err.count("\n") == 1
    assert "clinical values 'ecog', 'nlr' are missing" in err


def test_model_info_lists_predictors(capsys):
    assert main(["model", "info", "demo"]) == 0
    out = capsys.readouterr().out
    assert "  ecog: categorical, one of 0, 1, 2 - ECOG PS" in out
    assert "  nlr: continuous, allowed 0.1 to 50 ratio (training 1st-99th percentile 1.212 to 8.537) - NLR" in out
    assert "preset ct-original" in out
    assert main(["model", "info", "demo", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["clinical"] == ["ecog", "nlr"] and len(doc["radiomics"]) == 2
    nlr = next(p for p in doc["predictors"] if p["name"] == "nlr")
    assert (nlr["unit"], nlr["min"], nlr["max"]) == ("ratio", 0.1, 50.0)


@pytest.mark.parametrize("direction, words", [
    ("adverse", {"high": "High risk", "low": "Low risk"}),
    ("favourable", {"high": "High probability of response", "low": "Low probability of response"}),
])
def test_text_output_names_the_group_by_the_outcome_direction(tmp_path, capsys, direction, words):
    image, mask = demo_paths()
    coefs = {"original_firstorder_Mean": 0.01, "original_shape_Sphericity": 2.0}
    bundle = ModelBundle.from_formula(-2.0, coefs, cutoff=0.5, cutoff_scale="probability",
                                      ranges={"original_firstorder_Mean": (-200, 100),
                                              "original_shape_Sphericity": (0.3, 1.0)})
    bundle.outcome.update(direction=direction, name="response")
    path = bundle.save(tmp_path / "paper")
    code, out, err = _run(capsys, path, "--image", image, "--mask", mask, "--json")
    group = json.loads(out)["risk_group"]
    code, out, err = _run(capsys, path, "--image", image, "--mask", mask)
    assert code == 0, err
    assert f"group: {words[group]} ({direction} outcome)" in out.splitlines()
    assert ("risk" in out.split("group:")[1].splitlines()[0]) == (direction == "adverse")
