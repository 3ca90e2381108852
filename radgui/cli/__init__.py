"""The ``radgui`` command.

Each subcommand lives in its own module ``radgui/cli/<name>.py`` that defines

* ``NAME`` (the subcommand, e.g. ``"extract"``) and ``HELP`` (one line),
* ``add_arguments(parser)`` to declare its options,
* ``run(args) -> int`` to do the work (imports heavy modules lazily, inside).

Modules are found automatically, so adding a subcommand never edits this file.
A :class:`radgui.errors.RadguiError` (or an ``OSError``) escaping ``run`` is
printed as one line ``radgui <cmd>: error: <message>`` and exits 2, without a
traceback. A closed standard output (``radgui extract ... | head``) ends the
command quietly with status 141 (128 + SIGPIPE), as Unix tools do. Plain
``radgui`` opens the GUI.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from radgui import RESEARCH_NOTICE, __version__
from radgui.errors import RadguiError

EXIT_BAD_INPUT = 2
#: Exit status when the reader of standard output went away (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141


def _subcommand_modules():
    pkg = sys.modules[__name__]
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            yield mod


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a single line on bad arguments."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="radgui",
        description="radgui: a desktop radiomics workstation on napari. "
        "Without a subcommand, opens the main window.",
        epilog=RESEARCH_NOTICE,
    )
    parser.add_argument("--version", action="version", version=f"radgui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for mod in _subcommand_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=f"{mod.HELP} {RESEARCH_NOTICE}")
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _prog=p.prog)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``radgui`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from radgui.cli.view import open_gui

        runner, prog = open_gui, "radgui"
    else:
        runner, prog = args._run, args._prog
    try:
        status = int(runner(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not in the interpreter's exit
        return status
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except RadguiError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        # File-system errors that escaped without a radgui message: still one line.
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _quiet_broken_pipe() -> int:
    """Standard output's reader is gone: exit without a traceback (see the Python docs' SIGPIPE note).

    Python flushes ``sys.stdout`` again at exit, which would fail once more and
    print "Exception ignored"; pointing the file descriptor at ``os.devnull``
    first makes that flush a no-op.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # pragma: no cover - stdout replaced or closed
        pass
    return EXIT_BROKEN_PIPE
