"""Autosave and crash recovery of a :class:`~radgui.session.Session`.

An :class:`Autosaver` writes the session to a recovery file in the per-user
recovery folder at most ``interval_s`` (30 s) after an edit, by the same
atomic write as Save session (temp file + fsync + rename), so a crash, a
``kill -9`` or a power cut leaves the previous complete autosave or the new
one, never a torn file. A clean close (:meth:`Autosaver.close`) removes it; on
the next start :func:`find_recoverable` lists what a crash left, each with the
time it was saved, for the GUI to offer; :func:`recover` reopens one and
:func:`discard` deletes it.

The folder is ``RADGUI_RECOVERY_DIR`` when set, else ``recovery`` under the
user's data folder (``platformdirs.user_data_dir("radgui")``).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from radgui.errors import RadguiError, SessionError
from radgui.session.session import SUFFIX, Session, open_session, write_session_file

#: Longest an edit waits before it is autosaved, in seconds.
AUTOSAVE_INTERVAL_S = 30.0
PREFIX = "autosave-"


def recovery_dir() -> Path:
    """The recovery folder (created): ``RADGUI_RECOVERY_DIR`` or ``<user data dir>/recovery``."""
    env = os.environ.get("RADGUI_RECOVERY_DIR")
    if env:
        folder = Path(env)
    else:
        try:
            from platformdirs import user_data_dir

            folder = Path(user_data_dir("radgui", appauthor=False)) / "recovery"
        except ImportError:  # pragma: no cover - platformdirs ships with pip's tooling
            folder = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "radgui" / "recovery"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from radgui.errors import OutputFileError
        from radgui.files import describe_os_error

        raise OutputFileError(f"cannot create the recovery folder ({describe_os_error(exc)})", folder) from None
    return folder


class Autosaver:
    """Keeps a recovery copy of a session at most ``interval_s`` behind its edits.

    Parameters
    ----------
    session : Session or callable returning one
        What to save (a callable lets a GUI build the session from its layers
        only when a save is due).
    folder : path, optional
        Recovery folder (default :func:`recovery_dir`).
    interval_s : float
        Longest an edit stays unsaved (30 s).
    clock : callable
        Seconds, monotonic (tests pass a fake clock).

    The GUI calls :meth:`mark_dirty` on every ROI edit (or relies on
    ``session.changes``), :meth:`maybe_save` from a timer (every few seconds),
    :meth:`flush` before risky work, and :meth:`close` on a clean close.
    """

    def __init__(self, session: Session | Callable[[], Session], folder: str | Path | None = None,
                 interval_s: float = AUTOSAVE_INTERVAL_S, clock: Callable[[], float] = time.monotonic):
        if not (interval_s > 0):
            raise SessionError(f"autosave interval must be positive, got {interval_s}")
        self._session = session
        self.folder = Path(folder) if folder is not None else recovery_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.interval_s = float(interval_s)
        self.clock = clock
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.path = self.folder / f"{PREFIX}{stamp}-{os.getpid()}-{secrets.token_hex(3)}{SUFFIX}"
        self._marked = False
        self._saved_changes: int | None = None
        self._last_save: float | None = None
        self.saves = 0

    def _get(self) -> Session:
        return self._session() if callable(self._session) else self._session

    @property
    def pending(self) -> bool:
        """True when an edit has not been autosaved yet."""
        return self._marked or self._saved_changes != self._get().changes

    def mark_dirty(self) -> None:
        """Record that something changed (an edit the session's counter may not see)."""
        self._marked = True

    def maybe_save(self, now: float | None = None) -> bool:
        """Autosave when an edit is pending and ``interval_s`` has passed since the last autosave."""
        now = self.clock() if now is None else now
        if not self.pending:
            return False
        if self._last_save is not None and now - self._last_save < self.interval_s:
            return False
        return self._save(now)

    def flush(self) -> bool:
        """Autosave now if anything is pending; returns whether it wrote."""
        return self._save(self.clock()) if self.pending else False

    def _save(self, now: float) -> bool:
        session = self._get()
        changes = session.changes
        write_session_file(session, self.path, extra={"recovery": {
            "pid": os.getpid(), "source": str(session.path) if session.path else None,
            "saved_at_local": datetime.now().astimezone().isoformat(timespec="seconds")}})
        self._saved_changes, self._marked, self._last_save = changes, False, now
        self.saves += 1
        return True

    def close(self) -> None:
        """Clean close: remove the recovery file (the work was saved or deliberately discarded)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            from radgui.errors import OutputFileError
            from radgui.files import describe_os_error

            raise OutputFileError(f"cannot remove the recovery file ({describe_os_error(exc)})", self.path) from None


@dataclass
class RecoveryEntry:
    """Unsaved work a crash left behind.

    Attributes
    ----------
    path : Path
    saved_at : datetime or None
        When the autosave was written (timezone-aware, UTC); None when unreadable.
    source : str or None
        The session file it belongs to, if it had been saved once.
    rois : list of str
    error : str or None
        Why the entry cannot be restored (the GUI shows it and offers discard only).
    """

    path: Path
    saved_at: datetime | None
    source: str | None
    rois: list[str]
    error: str | None = None

    def describe(self) -> str:
        """One line for the restore prompt: from when, and what."""
        if self.error:
            return f"unreadable recovery file {self.path.name}: {self.error}"
        when = self.saved_at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if self.saved_at else "unknown time"
        what = ", ".join(self.rois) or "no ROI"
        return f"unsaved work from {when} ({what})" + (f" of {self.source}" if self.source else "")


def find_recoverable(folder: str | Path | None = None) -> list[RecoveryEntry]:
    """Recovery files left by sessions that did not close cleanly, newest first."""
    from radgui.session._zip import BoundedZip
    from radgui.session.session import read_manifest

    folder = Path(folder) if folder is not None else recovery_dir()
    out = []
    for path in sorted(folder.glob(f"{PREFIX}*{SUFFIX}")):
        try:
            with BoundedZip(path, "recovery file") as zf:
                doc = read_manifest(zf, path)
            saved = datetime.fromisoformat(str(doc.get("saved_at")))
            rec = doc.get("recovery") if isinstance(doc.get("recovery"), dict) else {}
            rois = [str(r.get("name")) for r in doc.get("rois", []) if isinstance(r, dict)]
            source = rec.get("source") if isinstance(rec.get("source"), str) else None
            out.append(RecoveryEntry(path, saved, source, rois))
        except (RadguiError, ValueError, TypeError) as exc:
            out.append(RecoveryEntry(path, None, None, [], str(getattr(exc, "reason", exc))))
    out.sort(key=lambda e: e.saved_at.timestamp() if e.saved_at else 0.0, reverse=True)
    return out


def recover(entry: RecoveryEntry | str | Path, resolver=None) -> Session:
    """Reopen a recovery file as an unsaved session (``dirty``; ``path`` is the original session file)."""
    path = entry.path if isinstance(entry, RecoveryEntry) else Path(entry)
    session = open_session(path, resolver=resolver)
    source = entry.source if isinstance(entry, RecoveryEntry) else None
    session.path = Path(source) if source else None
    session.saved_changes = session.changes - 1  # restored work is unsaved until saved
    return session


def discard(entry: RecoveryEntry | str | Path) -> None:
    """Delete a recovery file (the user declined to restore it)."""
    path = entry.path if isinstance(entry, RecoveryEntry) else Path(entry)
    if not path.name.startswith(PREFIX) or not path.name.endswith(SUFFIX):
        raise SessionError("not a recovery file; refusing to delete it", path)
    try:
        path.unlink()
    except FileNotFoundError:
        pass
