"""What one reader sees of a study: :class:`ReaderSession`.

Blinding is a property of the API, not of a flag checked by the GUI: a
ReaderSession's methods only ever query the reader's own assignments and
segmentations, and its case records (:class:`ReaderCase`) have no field for
the centre, clinical or outcome data. There is no method that takes another
reader's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from radgui.errors import StudyError


@dataclass(frozen=True)
class ReaderCase:
    """A case as a blinded reader sees it: its pseudonymous id, image and time point, nothing else."""

    case_id: str
    image: Path
    series_uid: str
    timepoint: str
    round: int


@dataclass(frozen=True)
class ReaderSegmentation:
    """One of the reader's own segmentations."""

    case_id: str
    roi: str
    round: int
    file: Path
    sha256: str
    modified: str


class ReaderSession:
    """A study opened for one reader (``Study.reader_session(name)``).

    Parameters
    ----------
    store : Study
        A private connection to the study (not exposed).
    reader : str
    blinded : bool
        Blinded mode (default). The methods return the same things either
        way (never other readers' work); ``blinded=False`` adds
        :meth:`clinical` for unblinded protocols.
    """

    def __init__(self, store, reader: str, blinded: bool = True):
        self.__store = store
        self.reader = reader
        self.blinded = bool(blinded)

    def close(self) -> None:
        self.__store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"ReaderSession(reader={self.reader!r}, blinded={self.blinded})"

    def _rows(self, now: datetime | None):
        stamp = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        s = self.__store
        return s._conn.execute(
            "SELECT c.case_id, c.image, c.series_uid, c.timepoint, a.round FROM assignments a "
            "JOIN cases c ON c.id = a.case_id JOIN readers r ON r.id = a.reader_id "
            "WHERE r.name = ? AND a.available_from <= ? ORDER BY a.round, c.case_id",
            (self.reader, stamp)).fetchall()

    def cases(self, now: datetime | None = None) -> list[ReaderCase]:
        """The reader's assigned cases available now (repeats appear after their washout)."""
        return [ReaderCase(r[0], self.__store._abs(r[1]), r[2], r[3], int(r[4])) for r in self._rows(now)]

    def todo(self, now: datetime | None = None) -> list[ReaderCase]:
        """Assigned cases without any segmentation of the reader yet."""
        done = {(s.case_id, s.round) for s in self.segmentations()}
        return [c for c in self.cases(now) if (c.case_id, c.round) not in done]

    def _check_assigned(self, case_id: str, round: int) -> None:
        if not any(c.case_id == case_id and c.round == round for c in self.cases()):
            raise StudyError(f"case {case_id!r} round {round} is not assigned to reader {self.reader!r} (or its "
                             "washout has not ended)")

    def load_image(self, case_id: str, round: int = 1, **kwargs):
        """The case's image as a :class:`radgui.io.Volume`."""
        from radgui.io import load_volume

        self._check_assigned(case_id, round)
        case = next(c for c in self.cases() if c.case_id == case_id and c.round == round)
        if case.series_uid:
            kwargs.setdefault("series_uid", case.series_uid)
        return load_volume(case.image, **kwargs)

    def save_segmentation(self, case_id: str, roi: str, mask, round: int = 1, like=None) -> ReaderSegmentation:
        """Save the reader's ROI for an assigned case (atomic file, then one short transaction)."""
        self._check_assigned(case_id, round)
        s = self.__store.save_segmentation(self.reader, case_id, roi, mask, round=round, like=like)
        return ReaderSegmentation(s.case_id, s.roi, s.round, s.file, s.sha256, s.modified)

    def segmentations(self) -> list[ReaderSegmentation]:
        """The reader's own segmentations (never anyone else's)."""
        return [ReaderSegmentation(s.case_id, s.roi, s.round, s.file, s.sha256, s.modified)
                for s in self.__store._segmentation_rows("r.name = ?", (self.reader,))]

    def load_segmentation(self, case_id: str, roi: str, like, round: int = 1):
        """The reader's own label map for a case, its hash checked."""
        from radgui.study.store import Segmentation

        for s in self.segmentations():
            if (s.case_id, s.roi, s.round) == (case_id, roi, round):
                seg = Segmentation(case_id, self.reader, round, roi, s.file, s.sha256, "", s.modified)
                return self.__store.load_segmentation(seg, like)
        raise StudyError(f"reader {self.reader!r} has no segmentation {roi!r} of case {case_id!r} round {round}")

    def clinical(self, case_id: str) -> dict:
        """Clinical data of an assigned case: refused in blinded mode."""
        if self.blinded:
            raise StudyError("blinded mode: clinical and outcome data are not available to readers")
        self._check_assigned(case_id, 1)
        return dict(self.__store.case(case_id).clinical)
