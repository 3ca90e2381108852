"""Input validation shared by the statistics functions.

Every check raises :class:`radgui.errors.StatsInputError` (a ``ValueError``)
with a message that names the argument and the problem.
"""

from __future__ import annotations

import numpy as np

from radgui.errors import StatsInputError


def as_float(x, name: str, *, allow_nan: bool = False) -> np.ndarray:
    """1-D float array; refuses NaN/inf unless ``allow_nan``."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise StatsInputError(f"{name} must be numeric ({exc})") from None
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
    if arr.ndim != 1:
        raise StatsInputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise StatsInputError(f"{name} is empty")
    if not allow_nan and not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise StatsInputError(f"{name} has {bad} missing or infinite value(s); drop or impute them first")
    return arr


def as_binary(y, name: str = "y", *, need_both: bool = True) -> np.ndarray:
    """0/1 integer array from 0/1, bool or two-level numeric labels."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
    if arr.ndim != 1 or arr.size == 0:
        raise StatsInputError(f"{name} must be a non-empty one-dimensional array of 0/1 outcomes")
    if arr.dtype == bool:
        out = arr.astype(np.int8)
    else:
        try:
            f = arr.astype(float)
        except (TypeError, ValueError):
            raise StatsInputError(f"{name} must hold 0/1 outcomes, got values like {arr[:3].tolist()}") from None
        if not np.all(np.isfinite(f)):
            raise StatsInputError(f"{name} has missing outcome values")
        levels = np.unique(f)
        if not set(levels.tolist()) <= {0.0, 1.0}:
            raise StatsInputError(
                f"{name} must hold 0/1 outcomes (1 = event/positive), got levels {levels[:5].tolist()}"
            )
        out = f.astype(np.int8)
    if need_both:
        n1 = int(out.sum())
        if n1 == 0 or n1 == out.size:
            raise StatsInputError(
                f"{name} has only one class ({'all events' if n1 else 'no events'} in {out.size} cases); "
                "both outcomes are needed"
            )
    return out


def same_length(**arrays) -> int:
    """Common length of the given 1-D arrays or raise naming the mismatch."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise StatsInputError(f"arrays must have the same length, got {desc}")
    return next(iter(lengths.values()))


def probabilities(p, name: str = "prob") -> np.ndarray:
    """Float array of probabilities in [0, 1]."""
    arr = as_float(p, name)
    if arr.min() < 0 or arr.max() > 1:
        raise StatsInputError(
            f"{name} must be probabilities in [0, 1], got range [{arr.min():.4g}, {arr.max():.4g}]"
        )
    return arr


def check_level(level: float) -> float:
    level = float(level)
    if not 0 < level < 1:
        raise StatsInputError(f"level must be in (0, 1), e.g. 0.95, got {level}")
    return level
