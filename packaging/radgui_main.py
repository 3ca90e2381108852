"""Entry script of the desktop build: the ``radgui`` command, frozen.

``radgui`` alone opens the main window; every subcommand works as in a pip
install (``radgui demo --screenshot shot.png``, ``radgui extract ...``).
"""

import multiprocessing
import sys

if __name__ == "__main__":
    # skops bundles are probed in a child process: a frozen app must not re-run main() there.
    multiprocessing.freeze_support()
    from radgui.cli import main

    sys.exit(main())
