"""Synthetic survival cohorts for tests/test_survcomp_*.py: a Radscore signal in the 6 mm ring, age and stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SIGNAL = ("ring6mm__original_glcm_F0", "ring6mm__original_firstorder_F1")


def survival_cohort(n: int = 150, seed: int = 0, strength: float = 0.9, age_effect: float = 0.05,
                    prefix: str = "P") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(features, clinical): exponential event times with log hazard ``strength * (F0 - F1) + age + stage``."""
    rng = np.random.default_rng(seed)
    cols = [f"{r}__original_{c}_F{i}" for r in ("tumour", "ring6mm") for c in ("firstorder", "glcm") for i in range(3)]
    X = rng.normal(size=(n, len(cols)))
    age = rng.normal(62, 9, n).round(1)
    stage = rng.choice(["III", "IV"], n)
    lin = strength * (X[:, cols.index(SIGNAL[0])] - X[:, cols.index(SIGNAL[1])]) + age_effect * (age - 62) \
        + 0.4 * (stage == "IV")
    t_event = rng.exponential(20 * np.exp(-lin))
    t_cens = rng.uniform(10, 60, n)
    time = np.minimum(t_event, t_cens).round(2) + 0.01
    event = (t_event <= t_cens).astype(int)
    ids = [f"{prefix}{i:03d}" for i in range(n)]
    f = pd.DataFrame(X, columns=cols)
    f.insert(0, "patient_id", ids)
    c = pd.DataFrame({"patient_id": ids, "os_months": time, "death": event, "age": age, "stage": stage})
    return f, c


def write_study(folder: Path, n: int = 150, n_external: int = 80) -> dict:
    """Training and external tables in ``folder``; returns a survival study config mapping (base: ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    f, c = survival_cohort(n, 0)
    f.to_csv(folder / "f.csv", index=False)
    c.to_csv(folder / "c.csv", index=False)
    f, c = survival_cohort(n_external, 1, prefix="E")
    f.to_csv(folder / "ef.csv", index=False)
    c.to_csv(folder / "ec.csv", index=False)
    return {"features": "f.csv", "clinical": "c.csv",
            "survival": {"time": "os_months", "event": "death", "horizon": 24, "unit": "months"},
            "clinical_variables": {"age": {"type": "continuous", "unit": "years"},
                                   "stage": {"type": "categorical", "categories": ["III", "IV"]}},
            "split": {"method": "holdout", "test_fraction": 0.3},
            "steps": {"zscore": {}, "lasso": {"folds": 3, "n_lambdas": 10, "min_ratio": 0.05}},
            "clinical_model": {"screen_p": 0.1},
            "validation": {"repeats": 1, "folds": 3, "bootstrap": 0, "n_jobs": 1}, "seed": 1,
            "models": [{"name": "tumour", "features": {"roi": ["tumour"]}},
                       {"name": "ring6", "features": {"roi": ["ring6mm"]}},
                       {"name": "clinical", "kind": "clinical"},
                       {"name": "combined", "features": {"roi": ["ring6mm"]}, "kind": "combined"}],
            "external": [{"name": "centre B", "features": "ef.csv", "clinical": "ec.csv"}]}
