"""Assigning cases to readers: all, a seeded random subset (optionally stratified), repeats after a washout."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np

from radgui.errors import StudyError
from radgui.study.store import Study, check_name, now_utc


def _allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Largest-remainder allocation of ``n`` over strata proportional to their sizes."""
    total = sum(sizes.values())
    exact = {k: n * v / total for k, v in sizes.items()}
    out = {k: int(math.floor(x)) for k, x in exact.items()}
    rest = n - sum(out.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - out[k]), k))[:rest]:
        out[k] += 1
    return out


def choose_cases(case_ids, strata=None, *, count: int | None = None, fraction: float | None = None,
                 seed: int = 0) -> list[str]:
    """A seeded random subset of ``case_ids`` (sorted), optionally stratified.

    Parameters
    ----------
    case_ids : sequence of str
    strata : sequence of str, optional
        Stratum of each case (e.g. centre): each stratum contributes in
        proportion to its size (largest remainder).
    count, fraction :
        How many: a number of cases, or a fraction in (0, 1] (rounded to the
        nearest whole case, at least 1). Neither: all cases.
    seed : int
        The same seed and cases give the same subset.
    """
    ids = [str(c) for c in case_ids]
    n_all = len(ids)
    if count is not None and fraction is not None:
        raise StudyError("give a count or a fraction of cases, not both")
    if count is None and fraction is None:
        return sorted(ids)
    if fraction is not None:
        if not (0 < fraction <= 1):
            raise StudyError(f"fraction must lie in (0, 1], got {fraction}")
        count = max(1, int(round(fraction * n_all)))
    if count is None or isinstance(count, bool) or int(count) != count or count < 1:
        raise StudyError(f"count must be a positive whole number, got {count!r}")
    count = int(count)
    if count > n_all:
        raise StudyError(f"cannot assign {count} cases: the pool holds only {n_all}")
    rng = np.random.default_rng(seed)
    if strata is None:
        order = sorted(ids)
        pick = rng.choice(n_all, size=count, replace=False)
        return sorted(order[i] for i in pick)
    groups: dict[str, list[str]] = {}
    for cid, s in zip(ids, strata):
        groups.setdefault(str(s), []).append(cid)
    alloc = _allocate({k: len(v) for k, v in groups.items()}, count)
    out = []
    for k in sorted(groups):
        members = sorted(groups[k])
        if alloc[k]:
            out += [members[i] for i in rng.choice(len(members), size=alloc[k], replace=False)]
    return sorted(out)


def assign(study: Study, reader: str, *, count: int | None = None, fraction: float | None = None,
           seed: int = 0, stratify: str | None = None, round: int = 1, washout_days: float = 0.0,
           repeat_of: int | None = None, now: datetime | None = None) -> list[str]:
    """Assign cases to ``reader`` (created if new); returns the case ids assigned.

    * all cases: no ``count``/``fraction`` (reader A);
    * a seeded random subset: ``count=`` or ``fraction=``, ``stratify="centre"``
      to sample each centre in proportion (reader B);
    * an intra-reader repeat: ``round=2`` (``repeat_of=1`` by default then),
      drawn from the cases the reader had in ``repeat_of``, available only
      ``washout_days`` after now.

    Raises
    ------
    StudyError
        More cases than the pool, a bad fraction, an unknown stratify column,
        cases already assigned in that round, a repeat with nothing to repeat.
    """
    check_name(reader)
    if isinstance(round, bool) or int(round) != round or round < 1:
        raise StudyError(f"round must be a positive whole number, got {round!r}")
    if not (washout_days >= 0) or not math.isfinite(washout_days):
        raise StudyError(f"washout must be a non-negative number of days, got {washout_days}")
    if stratify not in (None, "centre", "center", "timepoint"):
        raise StudyError(f"cannot stratify by {stratify!r}; use centre or timepoint")
    cases = {c.case_id: c for c in study.cases()}
    if not cases:
        raise StudyError("the study has no case to assign")
    if round > 1 and repeat_of is None:
        repeat_of = 1
    pool = sorted(cases)
    if repeat_of is not None:
        if repeat_of >= round:
            raise StudyError(f"round {round} cannot repeat round {repeat_of}; a repeat comes later")
        if reader not in study.readers():
            raise StudyError(f"unknown reader {reader!r}: a repeat needs the reader's earlier round")
        pool = sorted(c for r, c, rnd, _ in study.assignments(reader) if rnd == repeat_of)
        if not pool:
            raise StudyError(f"reader {reader!r} has no case in round {repeat_of} to repeat")
    strata = None
    if stratify:
        key = "centre" if stratify in ("centre", "center") else "timepoint"
        strata = [getattr(cases[c], key) for c in pool]
    chosen = choose_cases(pool, strata, count=count, fraction=fraction, seed=seed)
    start = (now or datetime.now(timezone.utc)) + timedelta(days=float(washout_days))
    available = start.isoformat(timespec="seconds")
    with study.transaction() as cur:
        row = cur.execute("SELECT id FROM readers WHERE name = ?", (reader,)).fetchone()
        if row is None:
            cur.execute("INSERT INTO readers (name, created) VALUES (?, ?)", (reader, now_utc()))
            rid = int(cur.lastrowid)
            study._audit(cur, "add_reader", {"reader": reader})
        else:
            rid = int(row[0])
        ids = dict(cur.execute("SELECT case_id, id FROM cases").fetchall())
        taken = {r[0] for r in cur.execute("SELECT c.case_id FROM assignments a JOIN cases c ON c.id = a.case_id "
                                           "WHERE a.reader_id = ? AND a.round = ?", (rid, round))}
        clash = sorted(set(chosen) & taken)
        if clash:
            raise StudyError(f"reader {reader!r} already has {len(clash)} of these cases in round {round} "
                             f"(e.g. {clash[0]}); use another round")
        stamp = now_utc()
        cur.executemany("INSERT INTO assignments (reader_id, case_id, round, available_from, created) "
                        "VALUES (?, ?, ?, ?, ?)", [(rid, ids[c], round, available, stamp) for c in chosen])
        study._audit(cur, "assign", {"reader": reader, "round": round, "count": len(chosen), "seed": seed,
                                     "stratify": stratify, "washout_days": washout_days,
                                     "fraction": fraction, "requested": count})
    return chosen
