"""Generate the small synthetic cohort used by ``examples/train/config.yaml``.

Generative model (documented so results can be checked against the truth)
-------------------------------------------------------------------------
* ``n`` patients (default 160) in two centers A and B (60 % / 40 %).
* 60 radiomic features named like PyRadiomics columns. They come in 20
  groups of 3 correlated features (within-group r ~ 0.8), each feature
  ``10 + 3 * z`` with ``z`` standard normal, plus a center effect on center
  B (location +0.5 SD, scale x1.3) that ComBat can remove.
* Three features carry signal: ``original_shape_Sphericity`` (group 0),
  ``original_firstorder_Entropy`` (group 5) and
  ``original_glcm_Correlation`` (group 10).
* Clinical: age ~ U(35, 85) years; ECOG in {0, 1, 2} with probabilities
  0.5/0.35/0.15; sex in {F, M}; NLR ~ lognormal(1, 0.4) (no effect).
* Outcome (response, 1 = yes):
  ``logit P = -0.4 + 1.3 z_sph - 1.1 z_ent + 0.9 z_corr + 0.03 (age - 60) - 0.6 [ECOG=1] - 1.2 [ECOG=2]``
  with ``z`` the *unharmonised latent* (pre-center-effect) standardised value.
* Survival: progression-free time exponential with hazard
  ``0.05 * exp(0.9 * (logit P - mean))`` months, censored uniformly in
  [12, 48] months.

Run: ``python examples/train/make_cohort.py [--n 160] [--seed 0] [--out DIR]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

CLASSES = ["shape", "firstorder", "glcm", "glrlm", "glszm"]
SIGNAL = {"original_shape_Sphericity": 1.3, "original_firstorder_Entropy": -1.1, "original_glcm_Correlation": 0.9}


def feature_names() -> list[str]:
    names = []
    special = {0: "original_shape_Sphericity", 15: "original_firstorder_Entropy", 30: "original_glcm_Correlation"}
    for g in range(20):
        for k in range(3):
            i = 3 * g + k
            names.append(special.get(i, f"original_{CLASSES[g % len(CLASSES)]}_Feature{i:02d}"))
    return names


def make(n: int = 160, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    names = feature_names()
    group = rng.normal(size=(n, 20))
    latent = np.repeat(group, 3, axis=1) * np.sqrt(0.8) + rng.normal(size=(n, 60)) * np.sqrt(0.2)
    center = np.where(rng.random(n) < 0.6, "A", "B")
    observed = latent.copy()
    b = center == "B"
    observed[b] = observed[b] * 1.3 + 0.5
    feats = pd.DataFrame((10 + 3 * observed).round(4), columns=names)
    ids = [f"P{i:04d}" for i in range(n)]
    feats.insert(0, "patient_id", ids)

    age = rng.uniform(35, 85, n).round(0)
    ecog = rng.choice([0, 1, 2], n, p=[0.5, 0.35, 0.15])
    sex = rng.choice(["F", "M"], n)
    nlr = np.exp(rng.normal(1, 0.4, n)).round(2)
    lp = -0.4 + 0.03 * (age - 60) - 0.6 * (ecog == 1) - 1.2 * (ecog == 2)
    for name, beta in SIGNAL.items():
        lp = lp + beta * latent[:, names.index(name)]
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    hazard = 0.05 * np.exp(-0.9 * (lp - lp.mean()))   # responders progress later
    t_event = rng.exponential(1 / hazard)
    t_cens = rng.uniform(12, 48, n)
    clin = pd.DataFrame({"patient_id": ids, "response": y, "age": age, "ecog": ecog, "sex": sex, "nlr": nlr,
                         "center": center, "pfs_months": np.minimum(t_event, t_cens).round(2),
                         "progression": (t_event <= t_cens).astype(int)})
    return feats, clin


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=160)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    args = parser.parse_args(argv)
    feats, clin = make(args.n, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    feats.to_csv(args.out / "features.csv", index=False)
    clin.to_csv(args.out / "clinical.csv", index=False)
    print(f"wrote {len(feats)} patients ({clin['response'].sum()} responders) to {args.out}")


if __name__ == "__main__":
    main()
