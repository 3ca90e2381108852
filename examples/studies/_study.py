"""Shared helpers of the seed-study examples: a synthetic cohort with a study's shape, and one run.

Not an example itself (the leading underscore keeps it out of the example runs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def synthetic(n: int, blocks: dict[str, int], signal: dict[str, float], *, seed: int = 0, centres=None,
              clinical_signal: float = 0.6, features_per=("firstorder_Mean", "firstorder_Entropy", "glcm_Idmn",
                                                            "glcm_Contrast", "glszm_ZoneEntropy", "shape_Sphericity")):
    """(features, clinical, y): ``blocks`` maps a column prefix (``"ring6mm__original"``) to its count.

    Each column is ``<prefix>_<class>_<name>``; the outcome shifts the first
    columns of each prefix in ``signal`` by ``signal[prefix]`` SDs, and age
    and a stage variable by ``clinical_signal``. ``centres`` (a list of names)
    adds a ``centre`` column with a centre-specific offset on every feature
    (what ComBat removes).
    """
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.45).astype(int)
    cols, data = [], []
    for prefix, k in blocks.items():
        for i in range(k):
            name = features_per[i % len(features_per)] + (f"{i // len(features_per)}" if i >= len(features_per) else "")
            x = rng.normal(size=n)
            if prefix in signal and i < 3:
                x += signal[prefix] * (y - y.mean()) * (1 if i % 2 == 0 else -1)
            cols.append(f"{prefix}_{name}")
            data.append(x)
    X = pd.DataFrame(np.column_stack(data), columns=cols)
    ids = [f"P{i:04d}" for i in range(n)]
    clin = pd.DataFrame({"patient_id": ids, "outcome": y,
                         "age": (62 + 8 * rng.normal(size=n) + 4 * clinical_signal * y).round(1),
                         "stage": np.where(rng.random(n) < 0.35 + 0.3 * clinical_signal * y, "IV", "III")})
    if centres:
        c = rng.choice(centres, n)
        offset = {name: rng.normal(scale=0.8) for name in centres}
        X = X + np.array([offset[v] for v in c])[:, None]
        clin["centre"] = c
    X.insert(0, "patient_id", ids)
    return X, clin


def run_study(outdir: Path, config_text: str, quick: bool) -> dict:
    """Write ``config.yaml`` beside the tables in ``outdir``, train, write the report set; return metrics."""
    from radgui.model.config import load_config
    from radgui.model.train import train
    from radgui.report.model_report import report_from_training

    cfg_path = outdir / "config.yaml"
    cfg_path.write_text(config_text)
    cfg = load_config(cfg_path)
    if quick:  # the CI run: fewer resamples, same design
        cfg.validation.update(repeats=1, folds=3, bootstrap=0)
        for m in cfg.models:
            if m["steps"] and "lasso" in m["steps"]:
                m["steps"]["lasso"]["folds"] = 3
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(cfg)
        report_from_training(result, outdir / "out")
    comp = result.metrics["comparison"]
    print(f"final     {comp['final']} ({comp['final_reason']})")
    key = "c_index" if "horizon" in comp else "auc"  # a survival-only study compares C-indices
    for c, cm in comp["cohorts"].items():
        aucs = ", ".join(f"{m} {e[key]:.2f}" for m, e in cm["models"].items())
        print(f"{c:<16} {aucs}  [{cm['prediction']}]")
    print(f"wrote     {outdir / 'out' / 'report.pdf'}")
    return result.metrics


def args():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else Path("study-out")
    out.mkdir(parents=True, exist_ok=True)
    return out, "--quick" in sys.argv
