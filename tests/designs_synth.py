"""Synthetic cohorts for the study-design tests (tests/test_designs_*.py) and examples."""

from __future__ import annotations

import numpy as np
import pandas as pd

ROIS = ("tumour", "ring3mm", "ring6mm")
TYPES = ("original", "log-sigma-3-0-mm-3D", "wavelet-LLH")
CLASSES = ("firstorder", "glcm")


def columns(per: int = 2, rois=ROIS, types=TYPES, classes=CLASSES):
    return [f"{r}__{t}_{c}_F{i}" for r in rois for t in types for c in classes for i in range(per)]


def cohort(n=120, per=2, signal_roi="ring6mm", signal_type=None, strength=1.5, seed=0, group_rows=1,
           rois=ROIS, types=TYPES):
    """(features, clinical) frames: the outcome depends on the columns of ``signal_roi`` (and type)."""
    rng = np.random.default_rng(seed)
    cols = columns(per, rois, types)
    y = rng.permutation(np.r_[np.ones(n // 2, int), np.zeros(n - n // 2, int)])
    X = rng.normal(size=(n, len(cols)))
    for j, c in enumerate(cols):
        roi, rest = c.split("__")
        if roi == signal_roi and (signal_type is None or rest.startswith(signal_type + "_")):
            X[:, j] += strength * (y - 0.5)
    ids = [f"P{i:03d}" for i in range(n)]
    feats = pd.DataFrame(X, columns=cols)
    feats.insert(0, "patient_id", ids)
    clin = pd.DataFrame({"patient_id": ids, "response": y, "age": rng.normal(60, 8, n).round(1),
                         "ecog": rng.choice(["0", "1"], n)})
    if group_rows > 1:  # several rows (time points) per patient: rows r of patient k share y
        rows_f, rows_c = [], []
        for t in range(group_rows):
            f = feats.copy()
            f["patient_id"] = [f"{p}_t{t}" for p in ids]
            f["patient"] = ids
            f.iloc[:, 1:-1] += rng.normal(scale=0.3, size=(n, len(cols)))
            c = clin.copy()
            c["patient_id"] = f["patient_id"]
            c["patient"] = ids
            rows_f.append(f)
            rows_c.append(c)
        feats, clin = pd.concat(rows_f, ignore_index=True), pd.concat(rows_c, ignore_index=True)
    return feats, clin
