"""``python -m radgui``: same as the ``radgui`` command."""

import sys

from radgui.cli import main

sys.exit(main())
