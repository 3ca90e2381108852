# Runtime hook of the desktop build: runs before radgui is imported.
import os

# qtpy (napari's Qt shim) must pick the only binding that is bundled.
os.environ.setdefault("QT_API", "pyside6")
