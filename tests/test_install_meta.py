"""LICENSE, CHANGELOG.md, CITATION.cff and the project metadata in pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_license_is_bsd3_with_the_copyright_line():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License\n\nCopyright (c) 2026, radgui developers\n")
    assert "3. Neither the name of the copyright holder nor the names of its" in text
    assert PYPROJECT["project"]["license"] == "BSD-3-Clause"


def test_citation_cff_is_valid_yaml_matching_the_project():
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert {"message", "title", "authors", "version", "license"} <= set(cff)
    assert str(cff["version"]) == PYPROJECT["project"]["version"]
    assert cff["license"] == "BSD-3-Clause"
    assert all("name" in a or "family-names" in a for a in cff["authors"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(cff["date-released"]))
    pyradiomics = cff["references"][0]
    assert pyradiomics["doi"] == "10.1158/0008-5472.CAN-17-0339"


def test_changelog_keeps_a_changelog_with_unreleased_and_0_1_0():
    text = (REPO / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert headings[:2] == ["Unreleased", "0.1.0"]
    assert f"## [{PYPROJECT['project']['version']}] - " in text
    unreleased = text.split("## [Unreleased]")[1].split("## [0.1.0]")[0]
    for item in ["skops", "child process", "PS3.15", "atomic-write", "bounded", "LASSO-Cox",
                 "scikit-survival", "survival", "out-of-fold", "grouped", "direction", "Reader-study store"]:
        assert item in unreleased, item
    assert "[Unreleased]: " in text and "[0.1.0]: " in text


def test_project_urls_and_extras():
    project = PYPROJECT["project"]
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(project["urls"])
    extras = project["optional-dependencies"]
    assert any(d.startswith("mkdocs-material") for d in extras["docs"])
    assert any(d.startswith("mkdocstrings[python]") for d in extras["docs"])
    assert any(d.startswith("pyinstaller") for d in extras["package"])
    assert "test" in extras and "cluster" in extras


def test_readme_names_the_pyradiomics_fork_and_why():
    text = (REPO / "README.md").read_text()
    assert "pyradiomics-cuda" in text and "no longer builds" in text
    assert any(d.startswith("pyradiomics-cuda") for d in PYPROJECT["project"]["dependencies"])
