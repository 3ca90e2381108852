"""The reader-study store: a folder with a SQLite database and the segmentation files.

Layout::

    STUDY/
      study.sqlite            cases, readers, assignments, segmentations, feature runs, audit log
      segmentations/<reader>/<case>__<roi>__r<round>__<token>.nrrd
      images/                 (optional) images copied in by ``create(copy_images=True)``
      runs/<n>/               outputs of agreement runs

Every path in the database is relative to the study folder (images outside
it as ``../...``), so the folder can be moved or shared. The database runs in
WAL mode with a busy timeout; every write is one short ``BEGIN IMMEDIATE``
transaction, and segmentation files are written atomically under unique names
before the row pointing at them is committed, so two readers working on one
study at once never corrupt it or each other's work.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from radgui.errors import StudyError

#: Schema of the study database this radgui writes; a newer one is refused.
SCHEMA_VERSION = 1
DB_NAME = "study.sqlite"
BUSY_TIMEOUT_MS = 30_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL UNIQUE,          -- pseudonymous id
    image TEXT NOT NULL,                   -- path relative to the study folder
    series_uid TEXT NOT NULL DEFAULT '',
    study_uid TEXT NOT NULL DEFAULT '',
    timepoint TEXT NOT NULL DEFAULT '',
    centre TEXT NOT NULL DEFAULT '',
    clinical TEXT NOT NULL DEFAULT '{}'    -- JSON: clinical and outcome data (never shown to blinded readers)
);
CREATE TABLE readers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created TEXT NOT NULL);
CREATE TABLE assignments (
    id INTEGER PRIMARY KEY,
    reader_id INTEGER NOT NULL REFERENCES readers(id),
    case_id INTEGER NOT NULL REFERENCES cases(id),
    round INTEGER NOT NULL DEFAULT 1,
    available_from TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (reader_id, case_id, round)
);
CREATE TABLE segmentations (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    reader_id INTEGER NOT NULL REFERENCES readers(id),
    round INTEGER NOT NULL DEFAULT 1,
    roi TEXT NOT NULL,
    file TEXT NOT NULL,                    -- relative to the study folder
    sha256 TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    UNIQUE (case_id, reader_id, round, roi)
);
CREATE TABLE feature_runs (
    id INTEGER PRIMARY KEY, created TEXT NOT NULL, preset TEXT NOT NULL, form TEXT NOT NULL,
    threshold REAL NOT NULL, params TEXT NOT NULL, output TEXT NOT NULL
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL
);
"""


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_name(name: str, what: str = "reader") -> str:
    """A reader or ROI name: letters, digits, ``_ . -``, at most 64 characters."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise StudyError(f"{what} name {str(name)[:80]!r} must be 1-64 letters, digits, '_', '.' or '-' "
                         "(starting with a letter or digit)")
    return name


@dataclass(frozen=True)
class Case:
    """A case as the study coordinator sees it (blinded readers see :class:`radgui.study.ReaderCase`)."""

    case_id: str
    image: Path
    series_uid: str
    study_uid: str
    timepoint: str
    centre: str
    clinical: dict


@dataclass(frozen=True)
class Segmentation:
    case_id: str
    reader: str
    round: int
    roi: str
    file: Path
    sha256: str
    created: str
    modified: str


class Study:
    """An open reader study. Use :meth:`open` / :func:`radgui.study.create_study`.

    Methods here see everything (the coordinator's view); a reader gets a
    :class:`radgui.study.ReaderSession` (:meth:`reader_session`), whose
    methods cannot return other readers' work nor clinical data.
    """

    def __init__(self, folder: Path, conn: sqlite3.Connection, actor: str = "coordinator"):
        self.folder = folder
        self._conn = conn
        self.actor = actor

    # -- opening ---------------------------------------------------------
    @staticmethod
    def _connect(db: Path) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(db, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA trusted_schema = OFF")  # a shared database's schema cannot call side-effect functions
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            raise StudyError(f"not a readable study database ({exc})", db) from None
        if str(mode).lower() != "wal":  # pragma: no cover - file systems without shared memory
            conn.close()
            raise StudyError(f"the study database cannot run in WAL mode here (journal mode {mode})", db)
        return conn

    @classmethod
    def open(cls, folder: str | Path, actor: str = "coordinator") -> Study:
        """Open an existing study folder.

        Raises
        ------
        StudyError
            No database, not a radgui study, a database from a newer radgui, damaged database.
        """
        folder = Path(folder)
        db = folder / DB_NAME
        if not folder.is_dir():
            raise StudyError("study folder not found", folder)
        if not db.is_file():
            raise StudyError(f"not a radgui study (no {DB_NAME})", folder)
        conn = cls._connect(db)
        try:
            rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StudyError(f"not a radgui study database ({' '.join(str(exc).split())[:100]})", db) from None
        extra = conn.execute("SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view')").fetchall()
        if extra:
            conn.close()
            raise StudyError(f"study database holds a {extra[0][0]} {extra[0][1]!r} radgui never creates; refused",
                             db)
        if rows.get("format") != "radgui-study":
            conn.close()
            raise StudyError("not a radgui study database (no radgui-study format mark)", db)
        try:
            version = int(rows.get("schema_version", ""))
        except ValueError:
            conn.close()
            raise StudyError(f"study schema version {rows.get('schema_version')!r} is not a number", db) from None
        if version > SCHEMA_VERSION:
            conn.close()
            raise StudyError(f"study database schema {version} is from a newer radgui (this one reads up to "
                             f"{SCHEMA_VERSION}); update radgui to open it", db)
        return cls(folder.resolve(), conn, actor)

    @classmethod
    def initialise(cls, folder: str | Path, actor: str = "coordinator") -> Study:
        """Create an empty study in ``folder`` (new or empty)."""
        from radgui.files import check_writable

        folder = Path(folder)
        if (folder / DB_NAME).exists():
            raise StudyError(f"a study already exists here ({DB_NAME})", folder)
        if folder.exists() and any(p for p in folder.iterdir() if p.name != "images"):
            raise StudyError("study folder exists and is not empty; choose a new folder", folder)
        folder.mkdir(parents=True, exist_ok=True)
        check_writable(folder)
        conn = cls._connect(folder / DB_NAME)
        study = cls(folder.resolve(), conn, actor)
        with study.transaction() as cur:
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    cur.execute(stmt)
            from radgui import __version__

            cur.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
                ("format", "radgui-study"), ("schema_version", str(SCHEMA_VERSION)), ("created", now_utc()),
                ("radgui_version", __version__), ("study_id", secrets.token_hex(8))])
            study._audit(cur, "create", {})
        (folder / "segmentations").mkdir(exist_ok=True)
        return study

    def close(self) -> None:
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- plumbing ----------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One short write transaction (``BEGIN IMMEDIATE``: writers queue on the busy timeout)."""
        cur = self._conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StudyError(f"the study database is busy or locked ({exc})", self.folder / DB_NAME) from None
        try:
            yield cur
        except BaseException:
            self._conn.rollback()
            raise
        else:
            cur.execute("COMMIT")

    def _audit(self, cur, action: str, detail: dict, actor: str | None = None) -> None:
        cur.execute("INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)",
                    (now_utc(), actor or self.actor, action, json.dumps(detail, sort_keys=True)))

    def _rel(self, path: Path) -> str:
        return Path(os.path.relpath(Path(path).resolve(), self.folder)).as_posix()

    def _abs(self, rel: str) -> Path:
        return (self.folder / rel).resolve() if not Path(rel).is_absolute() else Path(rel)

    def meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` (``"ok"`` when sound)."""
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0]

    # -- cases -------------------------------------------------------------
    def add_case(self, image: str | Path, case_id: str | None = None, *, series_uid: str = "", study_uid: str = "",
                 timepoint: str = "", centre: str = "", clinical: dict | None = None, cur=None) -> str:
        """Add one case; ``case_id`` defaults to the next pseudonymous ``S0001``, ``S0002``, ..."""
        def do(c):
            cid = case_id
            if cid is None:
                n = c.execute("SELECT COUNT(*) FROM cases").fetchone()[0] + 1
                cid = f"S{n:04d}"
                while c.execute("SELECT 1 FROM cases WHERE case_id = ?", (cid,)).fetchone():
                    n += 1
                    cid = f"S{n:04d}"
            check_name(cid, "case")
            if c.execute("SELECT 1 FROM cases WHERE case_id = ?", (cid,)).fetchone():
                raise StudyError(f"case {cid!r} is already in the study")
            c.execute("INSERT INTO cases (case_id, image, series_uid, study_uid, timepoint, centre, clinical) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (cid, self._rel(Path(image)), series_uid, study_uid, str(timepoint), str(centre),
                       json.dumps(clinical or {}, sort_keys=True, allow_nan=False)))
            return cid

        if cur is not None:
            return do(cur)
        with self.transaction() as c:
            cid = do(c)
            self._audit(c, "add_case", {"case": cid})
        return cid

    def _case_row(self, row) -> Case:
        return Case(row[0], self._abs(row[1]), row[2], row[3], row[4], row[5], json.loads(row[6]))

    def cases(self) -> list[Case]:
        rows = self._conn.execute("SELECT case_id, image, series_uid, study_uid, timepoint, centre, clinical "
                                  "FROM cases ORDER BY case_id").fetchall()
        return [self._case_row(r) for r in rows]

    def case(self, case_id: str) -> Case:
        row = self._conn.execute("SELECT case_id, image, series_uid, study_uid, timepoint, centre, clinical "
                                 "FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        if row is None:
            raise StudyError(f"unknown case {case_id!r}")
        return self._case_row(row)

    # -- readers -------------------------------------------------------------
    def readers(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT name FROM readers ORDER BY name")]

    def add_reader(self, name: str) -> str:
        check_name(name)
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM readers WHERE name = ?", (name,)).fetchone():
                raise StudyError(f"reader {name!r} is already in the study")
            c.execute("INSERT INTO readers (name, created) VALUES (?, ?)", (name, now_utc()))
            self._audit(c, "add_reader", {"reader": name})
        return name

    def _reader_id(self, name: str, c=None) -> int:
        row = (c or self._conn).execute("SELECT id FROM readers WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.readers()) or "none yet"
            raise StudyError(f"unknown reader {name!r} (readers: {known})")
        return int(row[0])

    def reader_session(self, reader: str, blinded: bool = True):
        """The study as reader ``reader`` sees it (see :class:`radgui.study.ReaderSession`)."""
        from radgui.study.reader import ReaderSession

        self._reader_id(reader)
        conn = self._connect(self.folder / DB_NAME)
        return ReaderSession(Study(self.folder, conn, actor=reader), reader, blinded)

    # -- assignments -----------------------------------------------------------
    def assignments(self, reader: str | None = None) -> list[tuple[str, str, int, str]]:
        """``(reader, case_id, round, available_from)`` rows."""
        sql = ("SELECT r.name, c.case_id, a.round, a.available_from FROM assignments a "
               "JOIN readers r ON r.id = a.reader_id JOIN cases c ON c.id = a.case_id")
        args: tuple = ()
        if reader is not None:
            self._reader_id(reader)
            sql += " WHERE r.name = ?"
            args = (reader,)
        return [tuple(r) for r in self._conn.execute(sql + " ORDER BY r.name, a.round, c.case_id", args)]

    # -- segmentations -----------------------------------------------------------
    def _segmentation_rows(self, where: str = "", args: tuple = ()) -> list[Segmentation]:
        sql = ("SELECT c.case_id, r.name, s.round, s.roi, s.file, s.sha256, s.created, s.modified "
               "FROM segmentations s JOIN cases c ON c.id = s.case_id JOIN readers r ON r.id = s.reader_id")
        rows = self._conn.execute(sql + (" WHERE " + where if where else "") +
                                  " ORDER BY c.case_id, r.name, s.round, s.roi", args).fetchall()
        return [Segmentation(r[0], r[1], int(r[2]), r[3], self._abs(r[4]), r[5], r[6], r[7]) for r in rows]

    def segmentations(self, reader: str | None = None) -> list[Segmentation]:
        """All segmentations (the coordinator's view), or one reader's."""
        if reader is None:
            return self._segmentation_rows()
        self._reader_id(reader)
        return self._segmentation_rows("r.name = ?", (reader,))

    def save_segmentation(self, reader: str, case_id: str, roi: str, mask, round: int = 1, like=None) -> Segmentation:
        """Write a reader's ROI for a case (atomically, a new unique file) and record it.

        The reader must be assigned the case in that round. A re-save writes a
        new file and points the row at it (the old file stays until
        :meth:`prune`), so a concurrent reader of the old row never sees a
        half-written file.
        """
        from radgui.files import sha256_file
        from radgui.io import save_mask

        check_name(roi, "ROI")
        rid = self._reader_id(reader)
        row = self._conn.execute("SELECT id FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        if row is None:
            raise StudyError(f"unknown case {case_id!r}")
        cid = int(row[0])
        if not self._conn.execute("SELECT 1 FROM assignments WHERE reader_id = ? AND case_id = ? AND round = ?",
                                  (rid, cid, round)).fetchone():
            raise StudyError(f"case {case_id!r} is not assigned to reader {reader!r} in round {round}")
        folder = self.folder / "segmentations" / reader
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{case_id}__{roi}__r{round}__{secrets.token_hex(6)}.nrrd"
        save_mask(mask, path, like=like)
        digest = sha256_file(path)
        stamp = now_utc()
        rel = self._rel(path)
        with self.transaction() as c:
            old = c.execute("SELECT created FROM segmentations WHERE case_id = ? AND reader_id = ? AND round = ? "
                            "AND roi = ?", (cid, rid, round, roi)).fetchone()
            if old is None:
                c.execute("INSERT INTO segmentations (case_id, reader_id, round, roi, file, sha256, created, "
                          "modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (cid, rid, round, roi, rel, digest, stamp,
                                                                       stamp))
            else:
                c.execute("UPDATE segmentations SET file = ?, sha256 = ?, modified = ? WHERE case_id = ? AND "
                          "reader_id = ? AND round = ? AND roi = ?", (rel, digest, stamp, cid, rid, round, roi))
            self._audit(c, "save_segmentation", {"case": case_id, "roi": roi, "round": round, "file": rel,
                                                 "sha256": digest}, actor=reader)
        return Segmentation(case_id, reader, round, roi, path, digest, old[0] if old else stamp, stamp)

    def load_segmentation(self, seg: Segmentation, like):
        """A segmentation's label map on ``like``'s grid, its hash checked first."""
        from radgui.files import sha256_file
        from radgui.io import load_mask

        if not seg.file.is_file():
            raise StudyError("segmentation file is missing from the study folder", seg.file)
        if sha256_file(seg.file) != seg.sha256:
            raise StudyError("segmentation file does not match the hash recorded in the study (changed outside "
                             "radgui?)", seg.file)
        return load_mask(seg.file, like)

    def audit_log(self) -> list[tuple[str, str, str, dict]]:
        return [(r[0], r[1], r[2], json.loads(r[3])) for r in
                self._conn.execute("SELECT at, actor, action, detail FROM audit ORDER BY id")]

    def record_feature_run(self, preset: str, form: str, threshold: float, params: dict, output: str | Path) -> int:
        """Record an agreement run; ``output`` is stored relative to the study folder."""
        output = self._rel(Path(output))
        with self.transaction() as c:
            c.execute("INSERT INTO feature_runs (created, preset, form, threshold, params, output) VALUES "
                      "(?, ?, ?, ?, ?, ?)", (now_utc(), preset, form, float(threshold),
                                             json.dumps(params, sort_keys=True), output))
            run_id = int(c.lastrowid)
            self._audit(c, "feature_run", {"run": run_id, "preset": preset, "form": form, "output": output})
        return run_id

    def status(self) -> dict:
        """Counts per reader: assigned, segmented (and cases, readers)."""
        out = {"study": str(self.folder), "cases": len(self.cases()), "readers": {}}
        for name in self.readers():
            rid = self._reader_id(name)
            assigned = self._conn.execute("SELECT COUNT(*) FROM assignments WHERE reader_id = ?", (rid,)).fetchone()[0]
            done = self._conn.execute(
                "SELECT COUNT(*) FROM assignments a WHERE a.reader_id = ? AND EXISTS (SELECT 1 FROM segmentations s "
                "WHERE s.reader_id = a.reader_id AND s.case_id = a.case_id AND s.round = a.round)", (rid,)).fetchone()[0]
            out["readers"][name] = {"assigned": int(assigned), "segmented": int(done)}
        return out
