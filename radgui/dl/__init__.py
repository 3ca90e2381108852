"""Deep-learning features: a small 3D SE-ResNet trained on tumour-centred crops (optional extra ``radgui[dl]``).

The pipeline (see ``docs/dl.md``):

1. :func:`crop_roi` cuts a cube of fixed size **in mm** centred on the ROI's
   centroid, resampled with SimpleITK to a fixed spacing, and normalises it
   (CT window or z-score): a :class:`CropSpec`.
2. :func:`train` (generator twin :func:`iter_train`) fits a 3D SE-ResNet
   (:class:`ArchSpec`: MONAI's ``SEResNet50`` or a documented small variant
   built from MONAI's ``SEResNetBottleneck`` blocks) to a binary target
   (binary cross-entropy) or a survival target (Cox negative partial
   likelihood, Breslow ties: :func:`cox_nll`), with flips and small intensity
   augmentations, a seeded validation split and early stopping.
3. :func:`save_weights` writes the weights as data (safetensors) and a JSON
   manifest (architecture, crop spec, normalisation, versions, SHA-256);
   :func:`load_weights` refuses anything else.
4. :func:`extract_roi` / :func:`extract_cohort` give the penultimate layer
   (global average pool) as columns ``dl_0..dl_{n-1}``: a features table for
   ``radgui train`` (``pca`` step or LASSO-Cox learner).

``import radgui.dl`` is cheap and works without torch: torch and MONAI are
imported inside the functions that need them, which raise
:class:`~radgui.errors.MissingExtraError` ("install radgui[dl]") when they are
missing.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "require_torch": "radgui.dl._torch",
    "choose_device": "radgui.dl._torch",
    "CropSpec": "radgui.dl.crops",
    "crop_roi": "radgui.dl.crops",
    "roi_centroid_mm": "radgui.dl.crops",
    "iter_crop_cohort": "radgui.dl.crops",
    "crop_cohort": "radgui.dl.crops",
    "ArchSpec": "radgui.dl.net",
    "build_network": "radgui.dl.net",
    "TrainConfig": "radgui.dl.training",
    "TrainResult": "radgui.dl.training",
    "cox_nll": "radgui.dl.training",
    "iter_train": "radgui.dl.training",
    "train": "radgui.dl.training",
    "save_weights": "radgui.dl.weights",
    "load_weights": "radgui.dl.weights",
    "DLModel": "radgui.dl.weights",
    "embed": "radgui.dl.extract",
    "extract_roi": "radgui.dl.extract",
    "iter_extract_roi": "radgui.dl.extract",
    "iter_extract_cohort": "radgui.dl.extract",
    "extract_cohort": "radgui.dl.extract",
    "patient_table": "radgui.dl.extract",
    "synthetic_crops": "radgui.dl.synthetic",
    "write_synthetic_cohort": "radgui.dl.synthetic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'radgui.dl' has no attribute {name!r}")
