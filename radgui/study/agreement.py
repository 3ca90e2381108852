"""Inter- and intra-reader agreement of a study: feature ICCs and spatial overlap.

:func:`iter_study_agreement` (blocking twin :func:`study_agreement`) loads each
reader's segmentations (hash-checked), extracts features with one preset,
computes per-feature ICCs with :func:`radgui.features.reproducibility.feature_icc`
(which calls :func:`radgui.stats.icc.icc`) and, per case and pair of readers,
Dice, Jaccard, volume difference and HD95 (:mod:`radgui.roi.agreement`).

A constant feature (no variance across targets and readers) has no ICC: it
is reported ``not assessable`` and is never kept as reproducible.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from radgui.errors import RadguiError, StudyError
from radgui.progress import Step, run
from radgui.study.store import Study

STATUS_KEPT = "reproducible"
STATUS_DROPPED = "not reproducible"
STATUS_NA = "not assessable"


@dataclass
class AgreementResult:
    """Outputs of :func:`study_agreement`.

    Attributes
    ----------
    icc : DataFrame
        Indexed by feature: ``icc, ci_low, ci_high, f, p_value, n_targets, n_readers, passes, status``.
    overlap : DataFrame
        One row per (case, roi, reader_a, reader_b): ``dice, jaccard, volume_a_ml, volume_b_ml,
        volume_difference_ml, hd95_mm``.
    features : DataFrame
        The long table the ICCs came from (``patient_id, roi, reader`` + features).
    kept : list of str
        Features with ICC >= threshold.
    """

    icc: pd.DataFrame
    overlap: pd.DataFrame
    features: pd.DataFrame
    form: str
    threshold: float
    level: float
    preset: str
    params: dict = field(default_factory=dict)

    @property
    def kept(self) -> list[str]:
        return [str(f) for f in self.icc.index[self.icc["status"] == STATUS_KEPT]]

    def icc_table(self) -> pd.DataFrame:
        """The ``feature, icc`` table ``radgui train`` takes as ``icc_table`` (NaN for not assessable)."""
        return pd.DataFrame({"feature": self.icc.index.astype(str), "icc": self.icc["icc"].to_numpy(float)})

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write ``icc.csv``, ``icc_table.csv``, ``kept_features.txt``, ``overlap.csv``,
        ``features.csv``, ``icc_histogram.png`` and ``manifest.json`` (hashes), atomically."""
        from radgui.files import atomic_path, write_csv, write_json, write_manifest, write_text

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = {
            "icc": write_csv(folder / "icc.csv", self.icc),
            "icc_table": write_csv(folder / "icc_table.csv", self.icc_table(), index=False),
            "kept": write_text(folder / "kept_features.txt", "".join(f"{f}\n" for f in self.kept)),
            "overlap": write_csv(folder / "overlap.csv", self.overlap, index=False),
            "features": write_csv(folder / "features.csv", self.features, index=False),
            "params": write_json(folder / "agreement.json", {
                "form": self.form, "threshold": self.threshold, "level": self.level, "preset": self.preset,
                "n_features": int(len(self.icc)), "n_kept": len(self.kept),
                "n_not_assessable": int((self.icc["status"] == STATUS_NA).sum()), **self.params}, indent=1),
        }
        display = IccHistogramDisplay.from_result(self)
        with atomic_path(folder / "icc_histogram.png") as tmp:
            display.figure_.savefig(tmp, dpi=120)
        out["histogram"] = folder / "icc_histogram.png"
        write_manifest(folder, [p.name for p in out.values()])
        return out


class IccHistogramDisplay:
    """Histogram of per-feature ICCs with the threshold marked (draws into a given Axes, no pyplot).

    Parameters
    ----------
    icc : array-like
        ICC values (NaN for not-assessable features: counted in the title, not drawn).
    threshold : float
    form : str
    """

    def __init__(self, icc, threshold: float = 0.75, form: str = "ICC(2,1)"):
        self.icc = np.asarray(icc, float)
        self.threshold = float(threshold)
        self.form = form

    @classmethod
    def from_result(cls, result: AgreementResult, ax=None) -> IccHistogramDisplay:
        return cls(result.icc["icc"].to_numpy(float), result.threshold, result.form).plot(ax=ax)

    def plot(self, ax=None, bins: int = 20):
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(5.0, 3.5), layout="constrained").add_subplot()
        vals = self.icc[np.isfinite(self.icc)]
        n_na = int((~np.isfinite(self.icc)).sum())
        lo = min(0.0, float(vals.min())) if len(vals) else 0.0
        self.bars_ = ax.hist(vals, bins=np.linspace(lo, 1.0, bins + 1), color="0.55", edgecolor="white")
        self.line_ = ax.axvline(self.threshold, color="C3", linestyle="--", label=f"threshold {self.threshold:g}")
        kept = int((vals >= self.threshold).sum())
        ax.set(xlabel=self.form, ylabel="features",
               title=f"{kept} of {len(self.icc)} features kept" + (f", {n_na} not assessable" if n_na else ""))
        ax.legend(loc="upper left", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _default_extractor(preset) -> Callable:
    from radgui.features import extract

    def extractor(volume, mask, roi: str) -> dict[str, float]:
        df = extract(volume, {roi: mask}, preset)
        return {k: float(v) for k, v in df.loc[roi].items() if isinstance(v, (int, float, np.floating, np.integer))}

    return extractor


def iter_study_agreement(study: Study, *, preset: str = "ct-original", form: str = "ICC(2,1)",
                         threshold: float = 0.75, level: float = 0.95, readers: list[str] | None = None,
                         roi: str | None = None, repeat_reader: str | None = None,
                         extractor: Callable | None = None) -> Generator[Step, None, AgreementResult]:
    """Agreement between readers (or between a reader's rounds), yielding progress.

    Parameters
    ----------
    study : Study
    preset : str
        Feature preset (``radgui.features.presets()``).
    form : str
        ``"ICC(2,1)"`` (default, absolute agreement) or ``"ICC(3,1)"`` (consistency), or any form
        :func:`radgui.stats.icc.icc` knows.
    threshold : float
        ICC at or above which a feature is kept.
    readers : list of str, optional
        Readers to compare (default: all with round-1 segmentations).
    roi : str, optional
        Only this ROI.
    repeat_reader : str, optional
        Intra-reader mode: compare this reader's rounds (raters ``reader/r1``, ``reader/r2``...).
    extractor : callable, optional
        ``extractor(volume, mask, roi) -> {feature: value}``; default PyRadiomics with ``preset``.

    Raises
    ------
    StudyError
        Unknown reader, fewer than 2 readers/rounds, fewer than 2 cases segmented by all.
    """
    if not (0 < level < 1):
        raise StudyError(f"confidence level must lie in (0, 1), got {level}")
    if not math.isfinite(threshold):
        raise StudyError(f"ICC threshold must be a number, got {threshold}")
    from radgui.stats.icc import _canonical

    try:
        form = _canonical(form)
    except RadguiError as exc:
        raise StudyError(exc.reason) from None
    segs = study.segmentations()
    if repeat_reader is not None:
        study._reader_id(repeat_reader)
        segs = [s for s in segs if s.reader == repeat_reader]
        rater = {id(s): f"{s.reader}/r{s.round}" for s in segs}
    else:
        for r in readers or []:
            study._reader_id(r)
        segs = [s for s in segs if s.round == 1 and (readers is None or s.reader in readers)]
        rater = {id(s): s.reader for s in segs}
    if roi is not None:
        segs = [s for s in segs if s.roi == roi]
    raters = sorted(set(rater.values()))
    if len(raters) < 2:
        what = f"rounds of reader {repeat_reader!r}" if repeat_reader else "readers"
        raise StudyError(f"agreement needs segmentations by at least 2 {what}; found {raters or 'none'}")
    by_case: dict[str, list] = {}
    for s in segs:
        by_case.setdefault(s.case_id, []).append(s)
    extractor = extractor or _default_extractor(preset)
    rows, overlap = [], []
    total = len(segs)
    done = 0
    from radgui.io import load_volume

    for case_id in sorted(by_case):
        case = study.case(case_id)
        kwargs = {"series_uid": case.series_uid} if case.series_uid else {}
        yield Step(done, total, f"case {case_id}: loading the image")
        volume = load_volume(case.image, **kwargs)
        masks: dict[tuple[str, str], np.ndarray] = {}
        for s in by_case[case_id]:
            yield Step(done, total, f"case {case_id}: {rater[id(s)]} {s.roi}")
            mask = study.load_segmentation(s, volume)
            feats = extractor(volume, mask, s.roi)
            rows.append({"patient_id": case_id, "roi": s.roi, "reader": rater[id(s)], **feats})
            import SimpleITK as sitk

            masks[(s.roi, rater[id(s)])] = sitk.GetArrayFromImage(mask) > 0
            done += 1
        from radgui.roi.agreement import overlap_metrics

        for r_name in sorted({k[0] for k in masks}):
            here = sorted(k[1] for k in masks if k[0] == r_name)
            for a, b in itertools.combinations(here, 2):
                overlap.append({"case_id": case_id, "roi": r_name, "reader_a": a, "reader_b": b,
                                **overlap_metrics(masks[(r_name, a)], masks[(r_name, b)], volume.spacing)})
    features = pd.DataFrame(rows)
    from radgui.features.reproducibility import feature_icc

    try:
        table = feature_icc(features, "reader", form=form, level=level, threshold=threshold)
    except RadguiError as exc:
        raise StudyError(exc.reason) from None
    status = np.where(~np.isfinite(table["icc"].to_numpy(float)), STATUS_NA,
                      np.where(table["passes"].to_numpy(bool), STATUS_KEPT, STATUS_DROPPED))
    table["status"] = status
    table.loc[table["status"] == STATUS_NA, "passes"] = False
    yield Step(total, total, "agreement computed")
    cols = ["case_id", "roi", "reader_a", "reader_b", "dice", "jaccard", "volume_a_ml", "volume_b_ml",
            "volume_difference_ml", "hd95_mm"]
    return AgreementResult(table, pd.DataFrame(overlap, columns=cols), features, form, float(threshold),
                           float(level), str(preset), {"raters": raters, "repeat_reader": repeat_reader})


def study_agreement(study: Study, **kwargs) -> AgreementResult:
    """Blocking twin of :func:`iter_study_agreement`."""
    return run(iter_study_agreement(study, **kwargs))
