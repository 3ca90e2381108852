"""Model training, validation, the model bundle and prediction.

Public entry points (imported lazily so ``import radgui.model`` stays light):

* :class:`ModelBundle` (``load``/``save``/``from_formula``) - the ``*.radgui-model`` file;
* :func:`predict_from_features` -> :class:`Prediction` - score one patient;
* :func:`iter_train` (and ``radgui.model.train.train``, its blocking twin; the
  name ``radgui.model.train`` is the submodule) - run a training config end to end;
* :func:`load_config` - read and validate a training YAML.
"""

from __future__ import annotations

_EXPORTS = {
    "ModelBundle": "radgui.model.bundle",
    "Predictor": "radgui.model.bundle",
    "SCHEMA_VERSION": "radgui.model.bundle",
    "predict_from_features": "radgui.model.predict",
    "Prediction": "radgui.model.predict",
    "iter_train": "radgui.model.train",
    "TrainResult": "radgui.model.train",
    "load_config": "radgui.model.config",
    "TrainConfig": "radgui.model.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'radgui.model' has no attribute {name!r}")


# ``radgui.model.predict`` is the patient-level function (issue 8) *and* the name of the
# submodule holding predict_from_features: load the submodule first, so that loading it
# later cannot rebind the name to the module.
import radgui.model.predict as _predict_module  # noqa: E402,F401
from radgui.model.patient import iter_predict, predict  # noqa: E402,F401
