"""Reader studies (no Qt): a folder with a SQLite store and the segmentation files.

* :func:`create_study`, :meth:`Study.open`: the store (WAL, relative paths, audit log);
* :func:`assign`: all cases, a seeded random (stratified) subset, repeats after a washout;
* :meth:`Study.reader_session` -> :class:`ReaderSession`: one reader's blinded view;
* :func:`study_agreement` / :func:`iter_study_agreement`: feature ICCs, Dice,
  Jaccard, volume difference, HD95, with :class:`IccHistogramDisplay`;
* :func:`export_manifest`: the segmentations as a ``radgui extract --manifest`` CSV.

See ``docs/study.md``.
"""

from radgui.study.agreement import (
    STATUS_DROPPED,
    STATUS_KEPT,
    STATUS_NA,
    AgreementResult,
    IccHistogramDisplay,
    iter_study_agreement,
    study_agreement,
)
from radgui.study.assign import assign, choose_cases
from radgui.study.create import create_study
from radgui.study.export import export_manifest, export_table
from radgui.study.reader import ReaderCase, ReaderSegmentation, ReaderSession
from radgui.study.store import SCHEMA_VERSION, Case, Segmentation, Study

open_study = Study.open

__all__ = [
    "STATUS_DROPPED", "STATUS_KEPT", "STATUS_NA", "AgreementResult", "IccHistogramDisplay", "iter_study_agreement",
    "study_agreement", "assign", "choose_cases", "create_study", "export_manifest", "export_table", "ReaderCase",
    "ReaderSegmentation", "ReaderSession", "SCHEMA_VERSION", "Case", "Segmentation", "Study", "open_study",
]
