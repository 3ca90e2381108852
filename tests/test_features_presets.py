"""Shipped presets are valid PyRadiomics parameter files, documented, and bad ones are refused."""

from __future__ import annotations

import pykwalify.core
import pytest
import yaml
from radiomics import getParameterValidationFiles
from radiomics.featureextractor import RadiomicsFeatureExtractor

from radgui.errors import PresetError
from radgui.features import load_preset, preset_from_text, presets
from radgui.features.presets import PRESET_DIR

SHIPPED = ["ct-iso1mm", "ct-log", "ct-original", "ct-wavelet", "pet-suv", "petct-fused"]


def test_the_five_presets_are_shipped():
    assert presets() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_preset_validates_against_pyradiomics_schema(name):
    # Independent of radgui's wrapper: pykwalify with PyRadiomics' own schema files,
    # as PyRadiomics' tests/test_exampleSettings.py does for its examples.
    schema, funcs = getParameterValidationFiles()
    core = pykwalify.core.Core(source_file=str(PRESET_DIR / f"{name}.yaml"), schema_files=[schema],
                               extensions=[funcs])
    core.validate(raise_exception=True)
    # and PyRadiomics accepts it as a parameter file
    RadiomicsFeatureExtractor(str(PRESET_DIR / f"{name}.yaml"))


def test_preset_settings_are_those_of_the_studies():
    wav = load_preset("ct-wavelet")
    assert set(wav.image_types) == {"Original", "Wavelet"}
    assert set(wav.feature_classes) == {"shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"}
    assert wav.settings["binWidth"] == 25
    log = load_preset("ct-log")
    assert log.image_types["LoG"]["sigma"] == [1.5, 3.0, 5.0]
    assert log.settings["binCount"] == 50 and log.settings["resampledPixelSpacing"] == [0.702, 0.702, 0]
    iso = load_preset("ct-iso1mm")
    assert iso.settings["resampledPixelSpacing"] == [1.0, 1.0, 1.0]
    assert iso.settings["resegmentRange"] == [-1000, 3000] and iso.settings["binWidth"] == 10
    assert load_preset("pet-suv").settings["binWidth"] == 0.25
    assert load_preset("ct-original").settings["binWidth"] == 25


@pytest.mark.parametrize("name", SHIPPED)
def test_readme_documents_each_preset(name):
    readme = (PRESET_DIR / "README.md").read_text()
    assert f"`{name}`" in readme


def test_hash_and_summary():
    p = load_preset("ct-log")
    assert len(p.sha256) == 64
    text = "\n".join(p.summary())
    assert "LoG (sigma 1.5, 3, 5 mm)" in text and "0.702 x 0.702 x kept" in text and "50 fixed bins" in text


def test_load_by_path_and_dict(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("imageType:\n  Original: {}\nsetting:\n  binWidth: 5\n")
    p = load_preset(path)
    assert p.name == "mine" and p.settings["binWidth"] == 5
    assert load_preset({"setting": {"binWidth": 3}}).settings["binWidth"] == 3


def test_unknown_key_is_refused_with_its_name():
    with pytest.raises(PresetError, match="binWidht"):
        preset_from_text("setting:\n  binWidht: 25\n", name="typo")


def test_unknown_image_type_and_bad_value_are_refused():
    with pytest.raises(PresetError, match="Wavlet"):
        preset_from_text("imageType:\n  Wavlet: {}\n")
    with pytest.raises(PresetError, match="typo"):
        preset_from_text("setting:\n  binWidth: -3\n", name="typo")
    with pytest.raises(PresetError, match="not valid YAML"):
        preset_from_text("setting: [unclosed\n")
    with pytest.raises(PresetError, match="mapping"):
        preset_from_text("- a\n- b\n")


def test_unknown_preset_name_lists_the_shipped_ones(tmp_path):
    with pytest.raises(PresetError, match="ct-wavelet"):
        load_preset("ct-wavlet")
    with pytest.raises(PresetError, match="not found"):
        load_preset(tmp_path / "missing.yaml")


def test_yaml_round_trip_keeps_params():
    p = load_preset("ct-wavelet")
    assert yaml.safe_load(p.text) == p.params


def test_a_preset_parsed_once_is_handed_out_as_independent_copies():
    from radgui.features.presets import _PARSED

    text = (PRESET_DIR / "ct-original.yaml").read_text()
    first = preset_from_text(text, name="ct-original")
    assert text in _PARSED  # parsed once ...
    first.params["setting"]["binWidth"] = 999  # ... and a caller editing its copy changes no other
    second = preset_from_text(text, name="ct-original")
    assert second.params["setting"]["binWidth"] == yaml.safe_load(text)["setting"]["binWidth"]
    assert second.params == load_preset("ct-original").params
    bad = "setting:\n  binWidth: -1\n"
    for _ in range(2):  # a refused text is refused every time, never cached
        with pytest.raises(PresetError):
            preset_from_text(bad, name="bad")
    assert bad not in _PARSED
