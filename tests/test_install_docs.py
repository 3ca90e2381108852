"""The documentation site: mkdocs config, nav, API pages, and one CLI page per command from argparse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from radgui.cli import _docs, build_parser

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
ENGINE = ["io", "roi", "features", "stats", "model", "plots", "report", "files", "untrusted", "errors"]


def _config() -> dict:
    return yaml.safe_load((REPO / "mkdocs.yml").read_text())


def _nav_paths(nav) -> list[str]:
    out = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        out += _nav_paths(value) if isinstance(value, list) else [value]
    return out


def _subcommand_names() -> list[str]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return list(action.choices)


def test_every_subcommand_has_a_page_holding_its_help_text(monkeypatch):
    monkeypatch.setenv("COLUMNS", str(_docs.WIDTH))
    pages = _docs.pages()
    names = _subcommand_names()
    assert len(names) >= 10 and {"demo", "extract", "predict", "roi", "train"} <= set(names)
    assert set(pages) == {"cli/index.md"} | {f"cli/{n}.md" for n in names}
    parser = build_parser()
    subs = _docs._subparsers(parser)
    for name in names:
        page = pages[f"cli/{name}.md"]
        assert page.startswith(f"# radgui {name}\n")
        help_text = subs[name][1].format_help().rstrip()
        assert help_text in page, name
        assert f"[`radgui {name}`]({name}.md)" in pages["cli/index.md"]
        for sub_name, (_, sub_parser) in _docs._subparsers(subs[name][1]).items():  # roi grow, model info ...
            assert f"## radgui {name} {sub_name}" in page
            assert sub_parser.format_help().rstrip() in page
    assert "## radgui roi grow" in pages["cli/roi.md"] and "--seed" in pages["cli/roi.md"]


def test_help_width_does_not_depend_on_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    narrow = _docs.pages()
    monkeypatch.setenv("COLUMNS", "200")
    assert _docs.pages() == narrow
    assert max(len(line) for line in narrow["cli/extract.md"].splitlines()) <= _docs.WIDTH + 10


def test_nav_hook_lists_every_command():
    config = {"nav": [{"Home": "index.md"}, {"Command line": "cli/index.md"}, {"API": [{"x": "api/io.md"}]}]}
    nav = _docs.on_config(config)["nav"]
    section = nav[1]["Command line"]
    assert section[0] == {"Overview": "cli/index.md"}
    assert [next(iter(d.values())) for d in section[1:]] == [f"cli/{n}.md" for n in _subcommand_names()]
    assert nav[0] == {"Home": "index.md"} and nav[2] == {"API": [{"x": "api/io.md"}]}


def test_write_pages_to_a_folder(tmp_path):
    assert _docs.main([str(tmp_path)]) == 0
    assert (tmp_path / "cli" / "roi.md").read_text() == _docs.pages()["cli/roi.md"]


def test_mkdocs_config_builds_offline_with_numpydoc_and_strict():
    config = _config()
    assert config["strict"] is True
    assert config["theme"]["name"] == "material" and config["theme"]["font"] is False
    plugins = {next(iter(p)) if isinstance(p, dict) else p for p in config["plugins"]}
    assert plugins == {"search", "mkdocstrings"}  # no social cards, no analytics, nothing online
    assert "analytics" not in config.get("extra", {}) and "google_analytics" not in config
    python = next(p for p in config["plugins"] if isinstance(p, dict))["mkdocstrings"]["handlers"]["python"]
    assert python["options"]["docstring_style"] == "numpy"
    assert config["hooks"] == ["radgui/cli/_docs.py"]


def test_nav_pages_exist_or_are_written_by_others():
    paths = _nav_paths(_config()["nav"])
    # study.md and security.md are written on other branches; everything else is here.
    missing = [p for p in paths if not (DOCS / p).exists() and p not in {"cli/index.md", "study.md", "security.md"}]
    assert missing == []
    for page in ["quickstart.md", "roi.md", "features.md", "study.md", "model.md", "predict.md", "dicom.md",
                 "security.md", "install.md", "stats.md"]:
        assert page in paths
    # every committed page is in the nav (no orphan pages)
    committed = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert committed - set(paths) == set()


@pytest.mark.parametrize("package", ENGINE)
def test_api_page_per_engine_package(package):
    page = (DOCS / "api" / f"{package}.md").read_text()
    assert re.search(rf"^::: radgui\.{package}\b", page, re.M)
    assert f"api/{package}.md" in _nav_paths(_config()["nav"])


def test_quick_start_shows_the_screenshots():
    text = (DOCS / "quickstart.md").read_text()
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (DOCS / image).is_file(), image
    assert "images/demo.png" in text and "images/predict.png" in text


def test_ci_builds_the_docs_but_not_the_package():
    run = (REPO / ".ci" / "run").read_text().splitlines()
    commands = [line.strip() for line in run if line.strip() and not line.lstrip().startswith("#")]
    # the docs build first, so that the test runner's summary line is the last thing CI prints
    assert commands.index("make docs") < commands.index("make test") == len(commands) - 1
    assert not any("package" in c for c in commands)
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^docs: .*\n(\t.*\n)*\t.*\$\(PY\) -m mkdocs build --strict", makefile, re.M)
    assert re.search(r"^\$\(VENV\)/\.installed-docs:.*\n\t\$\(PIP\) install --quiet -e \"\.\[docs\]\"", makefile, re.M)
