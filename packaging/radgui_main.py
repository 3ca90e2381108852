"""Entry script of the desktop build: the ``radgui`` command, frozen.

``radgui`` alone opens the main window; every subcommand works as in a pip
install (``radgui demo --screenshot shot.png``, ``radgui extract ...``).

In a frozen app ``sys.executable`` is this program, not a Python interpreter.
radgui starts helper processes the way a pip install does
(``[sys.executable, "-c", CODE, ...]``: the skops bundle probe of
:mod:`radgui.model.bundle`), so ``radgui -c CODE ARGS...`` runs CODE like
``python -c`` would (``sys.argv == ["-c", *ARGS]``). ``multiprocessing`` workers
(cohort extraction) are handled by ``freeze_support``.
"""

import multiprocessing
import sys


def _run_code(argv):
    """``python -c CODE ARGS...``: run CODE as ``__main__`` with ``sys.argv = ["-c", *ARGS]``."""
    code = argv[2] if len(argv) > 2 else ""
    sys.argv = ["-c", *argv[3:]]
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    exec(compile(code, "<string>", "exec"), namespace)  # noqa: S102 - same contract as python -c
    return 0


if __name__ == "__main__":
    multiprocessing.freeze_support()
    if len(sys.argv) > 1 and sys.argv[1] == "-c":
        sys.exit(_run_code(sys.argv))
    from radgui.cli import main

    sys.exit(main())
