"""One documentation page per ``radgui`` subcommand, generated from argparse.

Used in two ways:

* as an mkdocs hook (``hooks: [radgui/cli/_docs.py]`` in ``mkdocs.yml``): at build
  time the pages ``cli/index.md`` and ``cli/<command>.md`` are added to the site
  and listed under the nav entry ``Command line``, so they never go stale and
  nothing generated is committed;
* ``python -m radgui.cli._docs OUTDIR`` writes the same pages to a folder.

Each page holds the command's one-line help and its ``--help`` text (and that of
nested subcommands such as ``radgui roi grow``), rendered at a fixed width of
88 columns so the pages do not depend on the terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

WIDTH = 88
NAV_TITLE = "Command line"
CLI_DIR = "cli"


def _help_text(parser: argparse.ArgumentParser) -> str:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)
    try:
        return parser.format_help().rstrip() + "\n"
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, tuple[str, argparse.ArgumentParser]]:
    """{name: (one-line help, parser)} of a parser's subcommands, in declaration order."""
    out: dict[str, tuple[str, argparse.ArgumentParser]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                out[name] = (helps.get(name, ""), sub)
    return out


def commands() -> dict[str, tuple[str, argparse.ArgumentParser]]:
    """Every ``radgui`` subcommand: {name: (one-line help, its parser)}."""
    from radgui.cli import build_parser

    return _subparsers(build_parser())


def _fence(text: str) -> str:
    return "```text\n" + text + "```\n"


def command_page(name: str, summary: str, parser: argparse.ArgumentParser) -> str:
    """The markdown page of one subcommand (and its nested subcommands)."""
    parts = [f"# radgui {name}\n", f"{summary}\n", "```bash\n" f"radgui {name} --help\n" "```\n",
             _fence(_help_text(parser))]
    for sub_name, (sub_summary, sub_parser) in _subparsers(parser).items():
        parts += [f"## radgui {name} {sub_name}\n", f"{sub_summary}\n", _fence(_help_text(sub_parser))]
    parts.append("*This page is generated from the command's argparse definition when the docs are built.*\n")
    return "\n".join(parts)


def index_page(cmds: dict[str, tuple[str, argparse.ArgumentParser]]) -> str:
    """The ``cli/index.md`` overview: the top-level help and a table of commands."""
    from radgui.cli import build_parser

    rows = "\n".join(f"| [`radgui {name}`]({name}.md) | {summary} |" for name, (summary, _) in cmds.items())
    return (
        "# Command line\n\n"
        "`radgui` alone opens the main window; `python -m radgui` is the same command. "
        "On bad input every command prints one line naming the file and the problem and "
        "exits with status 2.\n\n"
        "| command | what it does |\n|---|---|\n" + rows + "\n\n" + _fence(_help_text(build_parser()))
    )


def pages() -> dict[str, str]:
    """{path relative to the docs folder: markdown} of every generated page."""
    cmds = commands()
    out = {f"{CLI_DIR}/index.md": index_page(cmds)}
    for name, (summary, parser) in cmds.items():
        out[f"{CLI_DIR}/{name}.md"] = command_page(name, summary, parser)
    return out


# ---- mkdocs hook -----------------------------------------------------------------------

def on_config(config, **kwargs):
    """Replace the ``Command line`` nav entry by the overview and one page per command."""
    nav = config.get("nav") or []
    section = [{"Overview": f"{CLI_DIR}/index.md"}] + [{f"radgui {name}": f"{CLI_DIR}/{name}.md"} for name in commands()]
    for i, item in enumerate(nav):
        if isinstance(item, dict) and NAV_TITLE in item:
            nav[i] = {NAV_TITLE: section}
    return config


def on_files(files, config, **kwargs):
    """Add the generated pages to the site (in memory; nothing is written to docs/)."""
    from mkdocs.structure.files import File

    for path, text in pages().items():
        files.append(File.generated(config, path, content=text))
    return files


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "build/cli-pages")
    for path, text in pages().items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        from radgui.files import write_text

        write_text(target, text)
    print(f"wrote {len(pages())} pages under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
