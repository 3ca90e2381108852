"""Penultimate-layer features per ROI: columns ``dl_0..dl_{n-1}`` of a features table.

The table has the cohort extraction's key columns (``patient_id, roi,
timepoint, reader, center, label``) then ``dl_*``: the same shape as
``radgui extract --manifest``'s output, so it joins the radiomics table on the
key columns. :func:`patient_table` keeps ``patient_id`` and ``dl_*`` (one ROI
per patient): the ``features:`` file of ``radgui train``, which reduces the
``dl_*`` columns with its ``pca`` step or lets the LASSO / LASSO-Cox learner
select them (``docs/dl.md``).
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import numpy as np

from radgui.dl.crops import crop_roi, iter_crop_cohort
from radgui.progress import Step, run


def _model(model, device: str = "auto"):
    from radgui.dl.weights import DLModel, load_weights

    return model if isinstance(model, DLModel) else load_weights(model, device=device)


def embed(model, crops):
    """``dl_*`` features of normalised crops as a DataFrame (one row per crop)."""
    import pandas as pd

    model = _model(model)
    return pd.DataFrame(model.embed(crops), columns=model.feature_names)


def iter_extract_roi(model, volume, mask, device: str = "auto") -> Generator[Step, None, "object"]:
    """Features of one ROI (a pandas Series ``dl_0..``); steps: load weights, crop, network.

    ``model`` is a :class:`~radgui.dl.DLModel` or a weights path. Each step is
    a cancel point for the GUI.
    """
    import pandas as pd

    yield Step(0, 3, "loading the weights")
    model = _model(model, device)
    yield Step(1, 3, f"cropping {model.crop.size_mm:g} mm around the ROI")
    cube = crop_roi(volume, mask, model.crop)
    yield Step(2, 3, f"running the network on {model.device}")
    values = model.embed(cube[None])[0]
    yield Step(3, 3, f"{len(values)} deep features")
    out = pd.Series(values, index=model.feature_names, name="dl")
    out.attrs["model"] = {"architecture": model.arch.name, "target": model.target.get("kind"),
                          "crop": f"{model.crop.size_mm:g} mm at {model.crop.spacing_mm:g} mm", "device": model.device}
    return out


def extract_roi(model, volume, mask, device: str = "auto"):
    """Blocking twin of :func:`iter_extract_roi`."""
    return run(iter_extract_roi(model, volume, mask, device))


def iter_extract_cohort(model, manifest, output=None, device: str = "auto") -> Generator[Step, None, "object"]:
    """Features of every row of a cohort manifest; writes ``output`` (CSV, atomic) when given.

    Returns the DataFrame (key columns, then ``dl_*``).
    """
    import pandas as pd

    from radgui.files import check_writable, write_csv

    if output is not None:
        check_writable(Path(output).resolve().parent)
    model = _model(model, device)
    keys, crops = yield from iter_crop_cohort(manifest, model.crop)
    n = len(crops)
    feats, bs = [], 16
    for i in range(0, n, bs):
        yield Step(i, n, f"network on {model.device}: {i}/{n} ROIs")
        feats.append(model.embed(crops[i:i + bs]))
    values = np.concatenate(feats) if feats else np.zeros((0, model.arch.feature_dim))
    table = pd.concat([keys.reset_index(drop=True), pd.DataFrame(values, columns=model.feature_names)], axis=1)
    if output is not None:
        write_csv(output, table, index=False)
    yield Step(n, n, f"{n} ROIs x {model.arch.feature_dim} deep features")
    return table


def extract_cohort(model, manifest, output=None, device: str = "auto"):
    """Blocking twin of :func:`iter_extract_cohort`."""
    return run(iter_extract_cohort(model, manifest, output, device))


def patient_table(table):
    """``patient_id`` + ``dl_*`` columns, one row per patient: the ``features:`` table of ``radgui train``.

    Raises
    ------
    DLInputError
        A patient has several rows (several ROIs, time points or readers):
        choose one in the manifest first.
    """
    from radgui.errors import DLInputError

    dup = table["patient_id"].duplicated(keep=False)
    if dup.any():
        raise DLInputError(f"patient {table['patient_id'][dup].iloc[0]} has {int(dup.sum())} rows; a patient table "
                           "needs one ROI per patient (filter the manifest)")
    cols = [c for c in table.columns if str(c).startswith("dl_")]
    return table[["patient_id", *cols]].reset_index(drop=True)
