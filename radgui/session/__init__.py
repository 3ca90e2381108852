"""Sessions: save and reopen work (``.radgui`` files), autosave and crash recovery (no Qt).

* :class:`Session`, :func:`save_session`, :func:`open_session`, :func:`relocate`:
  the ``.radgui`` file (a zip with a versioned manifest and one label map per ROI);
* :func:`export_rois`, :func:`export_dicom_seg`: Save ROI(s) as label maps or DICOM-SEG;
* :class:`Autosaver`, :func:`find_recoverable`, :func:`recover`, :func:`discard`:
  atomic autosave to the recovery folder and restore after a crash.

See ``docs/study.md``.
"""

from radgui.session.autosave import (
    AUTOSAVE_INTERVAL_S,
    Autosaver,
    RecoveryEntry,
    discard,
    find_recoverable,
    recover,
    recovery_dir,
)
from radgui.session.session import (
    MIGRATIONS,
    SCHEMA_VERSION,
    ImageRef,
    RoiLayer,
    Session,
    export_dicom_seg,
    export_rois,
    open_session,
    read_session_file,
    relocate,
    save_session,
)

__all__ = [
    "AUTOSAVE_INTERVAL_S", "Autosaver", "RecoveryEntry", "discard", "find_recoverable", "recover", "recovery_dir",
    "MIGRATIONS", "SCHEMA_VERSION", "ImageRef", "RoiLayer", "Session", "export_dicom_seg", "export_rois",
    "open_session", "read_session_file", "relocate", "save_session",
]
