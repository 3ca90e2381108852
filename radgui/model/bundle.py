"""The model bundle: one ``*.radgui-model`` file a new patient can be scored with.

A bundle is a zip archive holding

``model.json``
    Everything needed to score a patient, as plain JSON: schema version, model
    kind, outcome, predictors (name, source ``clinical``/``radiomics``, unit,
    allowed ``min``/``max`` or ``categories``, training 1st-99th percentiles),
    preprocessing (z-score means and SDs, then ComBat estimates per center,
    applied in that order as in the training pipeline),
    the Radscore formula, the final linear model (coefficients, covariance
    matrix for delta-method intervals, optional bootstrap coefficient draws),
    the risk cutoff, nomogram scales, intended use and provenance.
``reference_cohort.csv`` (optional)
    The training cohort, de-identified: ``linear_predictor``, ``risk_group``
    and, for survival outcomes, ``time`` and ``event``. The K-M placement panel
    draws it.
``estimator.skops`` (optional)
    Tree and kernel models (random forest, SVM, XGBoost, stacking) through
    :mod:`skops.io`, loaded only with the explicit trusted-type list
    :data:`TRUSTED_TYPES` kept in this module (never in the file itself).

No pickle, ever: loading refuses any archive member that is not one of the
three names above, any member that starts with a pickle opcode, and any skops
payload with a node outside radgui's allowlist (see :func:`_check_skops_schema`:
node kinds in :data:`_SKOPS_NODE_TYPES`, object types in :data:`TRUSTED_TYPES`,
dict key types in :data:`_KEY_TYPES`, no function/method/partial nodes, only
the skops protocol radgui writes). Sizes are checked before anything is read
(:data:`MAX_MEMBER_BYTES`, :data:`MAX_TOTAL_BYTES`, :data:`MAX_RATIO`), and a
skops payload is first loaded and probed in a child process (once per payload
hash), so a corrupt native payload (XGBoost booster, tree arrays) can crash
only that child, never the GUI.

Schema versions and migration rules
-----------------------------------
``schema_version`` is an integer. Version 1 is the first; version 2 adds the
``inputs`` object (:class:`ModelInputs`: the ROI the unprefixed features come
from, each ROI's modality, the feature preset's name, the time unit and the
example clinical values), which version 1 kept as loose ``provenance`` keys;
:func:`_migrate_1_to_2` derives it from them. Rules:

1. Saving always writes :data:`SCHEMA_VERSION`.
2. A change that only adds an *optional* field does not bump the version;
   readers ignore unknown optional fields inside ``provenance`` only.
3. Any other change bumps the version and adds a function
   ``_migrate_<N>_to_<N+1>(doc) -> doc`` to :data:`MIGRATIONS`; loading an
   older bundle applies the chain in order, then validates the result as the
   current version.
4. A bundle newer than this radgui (``schema_version > SCHEMA_VERSION``) is
   refused with a message asking for a newer radgui; it is never guessed at.

Linear models
-------------
Radscore (as the papers publish it) is ``a + sum_i b_i * z_i`` where ``z_i``
is feature *i* after z-scoring and ComBat (if any). When the radiomics model
is a tree or kernel model (``estimator.skops``), the Radscore is the logit of
its predicted probability. The final model's linear
predictor is ``b0 + sum_j c_j * v_j`` over its terms ``v_j`` (the Radscore and
clinical variables; categorical variables as treatment-coded dummies against a
reference level). For ``logistic`` models the probability is
``1 / (1 + exp(-lp))``; for ``cox`` models it is the probability of the event
by the horizon, ``1 - S0(h) ** exp(lp)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from radgui.errors import BundleError, UntrustedInputError

SCHEMA_VERSION = 2
FORMAT = "radgui-model"
SUFFIX = ".radgui-model"
MODEL_JSON = "model.json"
REFERENCE_CSV = "reference_cohort.csv"
ESTIMATOR_FILE = "estimator.skops"
_ALLOWED_MEMBERS = {MODEL_JSON, REFERENCE_CSV, ESTIMATOR_FILE}

# The closed sets of model.json, checked in one place (:func:`_choice`).
ModelKind = Literal["logistic", "cox", "skops"]
OutcomeType = Literal["binary", "survival"]
Direction = Literal["adverse", "favourable"]
CutoffScale = Literal["probability", "linear_predictor"]
Source = Literal["clinical", "radiomics"]
ValueType = Literal["continuous", "categorical"]
Role = Literal["predictor", "batch"]
Link = Literal["logit", "cox"]
#: The image a ROI's features come from: CT, PET (SUV), or the fused PET/CT image
#: (:func:`radgui.io.petct.fuse`, parameters in ``inputs.rois.<roi>.fusion``).
Modality = Literal["CT", "PT", "FUSED"]

#: Model kinds a bundle may hold.
MODEL_KINDS: tuple[str, ...] = get_args(ModelKind)
OUTCOME_TYPES: tuple[str, ...] = get_args(OutcomeType)
DIRECTIONS: tuple[str, ...] = get_args(Direction)
CUTOFF_SCALES: tuple[str, ...] = get_args(CutoffScale)

#: Every type a skops payload may contain (each node of its ``schema.json``
#: is checked, including types skops itself would trust by default). This is
#: exactly what radgui's tree/kernel learners produce; anything else is refused.
TRUSTED_TYPES: tuple[str, ...] = (
    "builtins.bytearray", "builtins.bytes", "builtins.dict", "builtins.list", "builtins.str",
    "builtins.tuple", "builtins.int", "builtins.float", "builtins.bool", "builtins.NoneType",
    "numpy.float64", "numpy.int64", "numpy.ndarray", "numpy.random.mtrand.RandomState",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._stacking.StackingClassifier",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.svm._classes.SVC",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
)

# Pickle streams start with PROTO (0x80) and a protocol number 2..5, or with a
# protocol-0/1 opcode followed by a module path; both are refused.
_PICKLE_PREFIXES = tuple(bytes([0x80, p]) for p in range(2, 6)) + (b"(dp0", b"(lp0", b"ccopy_reg", b"c__builtin__")

#: Migration functions keyed by the version they upgrade *from* (rule 3 above).
MIGRATIONS: dict[int, Any] = {}

_MiB = 1024 * 1024
#: Largest uncompressed size of each archive member (checked on the zip directory, before reading).
MAX_MEMBER_BYTES = {MODEL_JSON: 8 * _MiB, REFERENCE_CSV: 32 * _MiB, ESTIMATOR_FILE: 256 * _MiB}
#: Largest uncompressed size of all members together.
MAX_TOTAL_BYTES = 296 * _MiB
#: Largest compression ratio of a member over 1 MiB (deflate bombs reach ~1000).
MAX_RATIO = 100
#: Limits on the zip archive inside ``estimator.skops``.
SKOPS_MAX_MEMBERS = 100_000
SKOPS_SCHEMA_MAX_BYTES = 128 * _MiB
SKOPS_SCHEMA_MAX_DEPTH = 200
#: Other bounds on ``model.json`` content.
MAX_PREDICTORS = 5_000
MAX_BOOTSTRAP_ROWS = 20_000
#: Largest magnitude of an intercept or coefficient (a 1e308 intercept overflows the link).
MAX_COEFFICIENT = 1e6
#: Seconds the child process may take to load and probe a skops payload.
PROBE_TIMEOUT_S = 300

#: The skops node kinds a radgui payload may contain, with the types each may claim.
#: FunctionNode, MethodNode, PartialNode, OperatorFuncNode, ReduceNode, ... are not
#: listed, so they are refused whatever type they claim to be.
_SKOPS_NODE_TYPES: dict[str, tuple[str, ...] | None] = {
    "DictNode": ("builtins.dict", "sklearn.utils._bunch.Bunch"),
    "ListNode": ("builtins.list",),
    "TupleNode": ("builtins.tuple",),
    "JsonNode": ("builtins.str", "builtins.int", "builtins.float", "builtins.bool", "builtins.NoneType",
                 "builtins.list", "builtins.dict"),
    "TypeNode": ("builtins.str", "builtins.int", "builtins.float", "builtins.bool", "builtins.NoneType",
                 "numpy.float64", "numpy.float32", "numpy.int64", "numpy.int32"),
    "NdArrayNode": ("numpy.ndarray", "numpy.float64", "numpy.float32", "numpy.int64", "numpy.int32",
                    "numpy.bool_", "numpy.bool"),
    "BytesNode": ("builtins.bytes",),
    "BytearrayNode": ("builtins.bytearray",),
    "RandomStateNode": ("numpy.random.mtrand.RandomState",),
    "TreeNode": ("sklearn.tree._tree.Tree",),
    "ObjectNode": None,  # any type of TRUSTED_TYPES that is an estimator/object class
    "CachedNode": None,  # a reference to a node already checked (by __id__)
}
#: Types a skops dict may name for its keys (skops *calls* the key type with the key).
_KEY_TYPES = ("builtins.str", "builtins.int", "builtins.float", "builtins.bool",
              "numpy.int64", "numpy.int32", "numpy.float64")
#: Functions a payload may reference (FunctionNode). radgui's learners need none.
TRUSTED_FUNCTIONS: tuple[str, ...] = ()
_OBJECT_TYPES = tuple(t for t in TRUSTED_TYPES if not t.startswith("builtins.") and t not in (
    "numpy.float64", "numpy.int64", "numpy.ndarray", "numpy.random.mtrand.RandomState", "sklearn.tree._tree.Tree"))


# --------------------------------------------------------------------------
# small validation helpers: each names the field and the problem
# --------------------------------------------------------------------------

class _Checker:
    """Field access that raises :class:`BundleError` naming the field."""

    def __init__(self, path: str | Path | None):
        self.path = path

    def fail(self, where: str, problem: str):
        raise BundleError(f"{MODEL_JSON}: field '{where}' {problem}", self.path)

    def get(self, doc: Mapping, key: str, where: str, types, *, optional: bool = False, default=None):
        full = f"{where}.{key}" if where else key
        if not isinstance(doc, Mapping):
            self.fail(where or "(root)", "must be an object")
        if key not in doc:
            if optional:
                return default
            self.fail(full, "is missing")
        value = doc[key]
        if value is None and optional:
            return default
        if not isinstance(value, types) or isinstance(value, bool) and bool not in _as_tuple(types):
            names = "/".join(t.__name__ for t in _as_tuple(types))
            self.fail(full, f"must be {names}, got {type(value).__name__}")
        return value

    def choice(self, value, where: str, kind) -> str:
        """``value`` if it is one of the ``Literal`` type ``kind``'s values, else a BundleError naming ``where``."""
        allowed = get_args(kind)
        if value not in allowed:
            self.fail(where, f"must be {_one_of(allowed)}, got {value!r}")
        return value

    def number(self, doc, key, where, *, optional=False, default=None):
        value = self.get(doc, key, where, (int, float), optional=optional, default=default)
        if value is not None and not math.isfinite(value):
            self.fail(f"{where}.{key}" if where else key, "must be a finite number")
        return None if value is None else float(value)

    def numbers(self, doc, key, where, n: int | None = None, *, optional=False):
        value = self.get(doc, key, where, list, optional=optional)
        if value is None:
            return None
        full = f"{where}.{key}" if where else key
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            self.fail(full, "must be a list of numbers")
        if not np.all(np.isfinite(arr)):
            self.fail(full, "must hold finite numbers only")
        if n is not None and arr.shape[0] != n:
            self.fail(full, f"must have {n} entries, has {arr.shape[0]}")
        return arr


def _one_of(allowed) -> str:
    quoted = [repr(a) for a in allowed]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)


# --------------------------------------------------------------------------
# parts of a bundle
# --------------------------------------------------------------------------

@dataclass
class Predictor:
    """One input the model needs from the user or the feature engine.

    Parameters
    ----------
    name : str
        Clinical variable name, or radiomics feature column name (PyRadiomics
        naming, prefixed ``<roi>__`` when several ROIs were extracted).
    source : {"clinical", "radiomics"}
    type : {"continuous", "categorical"}
    unit : str
    min, max : float, optional
        Allowed range of a continuous clinical value; outside it, prediction is
        refused. For radiomics features these are the training range
        (informational only).
    categories : list of str, optional
        Allowed levels of a categorical variable.
    p01, p99 : float, optional
        Training 1st and 99th percentiles; a value outside gives a warning.
    role : {"predictor", "batch"}
        ``batch`` marks the center/scanner variable ComBat needs.
    label : str
        Human-readable name for forms and the nomogram.
    """

    name: str
    source: str
    type: str = "continuous"
    unit: str = ""
    min: float | None = None
    max: float | None = None
    categories: list[str] | None = None
    p01: float | None = None
    p99: float | None = None
    role: str = "predictor"
    label: str = ""

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in
                ("name", "source", "type", "unit", "min", "max", "categories", "p01", "p99", "role", "label")}


@dataclass
class Term:
    """One term of the final linear model (``radscore`` or a clinical variable)."""

    name: str
    type: str = "continuous"
    coefficient: float | None = None
    reference: str | None = None
    coefficients: dict[str, float] | None = None
    p01: float | None = None
    p99: float | None = None
    label: str = ""

    def parameter_names(self) -> list[str]:
        """Names of this term's entries in the covariance matrix."""
        if self.type == "categorical":
            return [f"{self.name}={lvl}" for lvl in self.coefficients]
        return [self.name]

    def to_dict(self) -> dict:
        d = {"name": self.name, "type": self.type, "label": self.label}
        if self.type == "categorical":
            d.update(reference=self.reference, coefficients=dict(self.coefficients))
        else:
            d.update(coefficient=self.coefficient, p01=self.p01, p99=self.p99)
        return d


@dataclass
class LinearModel:
    """Final model: ``lp = intercept + sum(terms)``; link ``logit`` or ``cox``."""

    link: str
    intercept: float
    terms: list[Term]
    covariance: np.ndarray | None = None
    bootstrap: np.ndarray | None = None
    baseline_survival: float | None = None
    horizon: float | None = None

    def parameter_names(self) -> list[str]:
        names = ["intercept"] if self.link == "logit" else []
        for t in self.terms:
            names += t.parameter_names()
        return names

    def to_dict(self) -> dict:
        return {
            "link": self.link,
            "intercept": self.intercept,
            "terms": [t.to_dict() for t in self.terms],
            "parameters": self.parameter_names(),
            "covariance": None if self.covariance is None else self.covariance.tolist(),
            "bootstrap_coefficients": None if self.bootstrap is None else self.bootstrap.tolist(),
            "baseline_survival": self.baseline_survival,
            "horizon": self.horizon,
        }


class _Record(Mapping):
    """A typed part of a bundle that still reads like the ``model.json`` object it came from.

    ``record["key"]``, ``record.get("key")``, ``dict(record)`` and equality
    with a plain dict work as for the version-1 dicts (the engine, plots and
    reports index them); :meth:`to_dict` gives the JSON object.
    """

    def __getitem__(self, key):
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __eq__(self, other):
        if isinstance(other, Mapping):
            return self.to_dict() == {k: _plain(v) for k, v in other.items()}
        return NotImplemented

    __hash__ = None

    def _names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self))

    def to_dict(self) -> dict:
        """The JSON object (plain dicts and lists)."""
        return {k: _plain(getattr(self, k)) for k in self._names()}

    @classmethod
    def coerce(cls, value):
        """``value`` as this record (a dict from a builder is converted; None stays None)."""
        if value is None or isinstance(value, cls):
            return value
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(value).items() if k in names})


def _plain(v):
    if isinstance(v, _Record):
        return v.to_dict()
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


@dataclass(eq=False)
class ZScore(_Record):
    """``preprocessing.zscore``: ``z = (x - mean) / sd`` per feature, in the training pipeline's order."""

    features: list[str]
    mean: list[float]
    sd: list[float]


@dataclass(eq=False)
class CenterEstimate(_Record):
    """ComBat's location (``gamma``) and scale (``delta``) estimates of one center, per feature."""

    gamma: list[float]
    delta: list[float]


@dataclass(eq=False)
class ComBatParams(_Record):
    """``preprocessing.combat``: the estimates of :meth:`radgui.model.steps.ComBat.to_dict`."""

    batch: str
    features: list[str]
    grand_mean: list[float]
    var_pooled: list[float]
    covariates: list[str]
    covariate_beta: list[list[float]]
    batches: dict[str, CenterEstimate]
    parametric: bool = True

    def __post_init__(self):
        self.batches = {str(k): CenterEstimate.coerce(v) for k, v in dict(self.batches).items()}


@dataclass(eq=False)
class RadscoreFormula(_Record):
    """``radscore``: ``intercept + sum(coefficients[f] * z_f)``."""

    intercept: float
    coefficients: dict[str, float]


@dataclass(eq=False)
class Cutoff(_Record):
    """``cutoff``: the risk-group threshold on ``scale``; ``method`` says how it was chosen."""

    value: float
    scale: CutoffScale
    method: str = ""


@dataclass(eq=False)
class NomogramAxis(_Record):
    """One nomogram axis: a continuous term (``low``/``high``/``ticks``) or a categorical one (``levels``)."""

    term: str
    label: str
    type: ValueType
    min_contribution: float
    low: float | None = None
    high: float | None = None
    ticks: list[float] | None = None
    levels: list[str] | None = None

    def to_dict(self) -> dict:
        keep = ("low", "high", "ticks") if self.type == "continuous" else ("levels",)
        return {k: _plain(getattr(self, k)) for k in ("term", "label", "type", "min_contribution") + keep}

    def _names(self) -> tuple[str, ...]:
        return tuple(self.to_dict())


@dataclass(eq=False)
class Nomogram(_Record):
    """``nomogram``: points scales (see :func:`nomogram_scales`)."""

    points_per_lp: float
    lp_at_zero_points: float
    axes: list[NomogramAxis]
    max_total_points: float

    def __post_init__(self):
        self.axes = [NomogramAxis.coerce(a) for a in self.axes]


@dataclass(eq=False)
class RoiRole(_Record):
    """What a ROI is to the model: the image its features are computed on.

    Attributes
    ----------
    modality : {"CT", "PT", "FUSED"}
        ``FUSED``: the fused PET/CT image on the CT grid, made with
        ``fusion`` (the keywords of :func:`radgui.io.petct.fuse`).
    mask : str, optional
        The study ROI (drawn on the CT grid) whose mask this ROI uses, e.g.
        ``"ring6mm"`` for ``fused_ring6mm`` (the columns of
        :func:`radgui.features.petct.extract_petct`); a PT ROI with a
        ``mask`` is computed on the PET resampled onto the CT grid, as
        there. Default: the study ROI of the ROI's own name, on its own grid.
    fusion : dict, optional
        Required for ``FUSED``, refused otherwise. Optional fields added
        without a schema bump: a radgui that predates them refuses
        ``FUSED`` (not one of its modalities) rather than computing another image.
    """

    modality: Modality
    mask: str | None = None
    fusion: dict | None = None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"modality": self.modality}
        if self.mask is not None:
            out["mask"] = self.mask
        if self.fusion is not None:
            out["fusion"] = _plain(self.fusion)
        return out

    def _names(self) -> tuple[str, ...]:
        return tuple(self.to_dict())


@dataclass(eq=False)
class ModelInputs(_Record):
    """``inputs`` (schema 2): what the model needs from the study, as validated fields.

    Parameters
    ----------
    roi : str or None
        The ROI the unprefixed (single-ROI) features come from (None: the
        only ROI, else ``tumour``).
    rois : dict of str to RoiRole
        Each ROI the model names and its modality (``CT`` or ``PT``).
    feature_preset : str or None
        Name of the feature preset the model was trained with (the preset
        itself, validated, stays in ``provenance.feature_preset``).
    time_unit : str
        Unit of follow-up times (K-M panel, horizon).
    example_clinical : dict
        Example clinical values (the demo fills its form with them).
    """

    roi: str | None = None
    rois: dict[str, RoiRole] = field(default_factory=dict)
    feature_preset: str | None = None
    time_unit: str = ""
    example_clinical: dict[str, str | float] = field(default_factory=dict)

    def __post_init__(self):
        self.rois = {str(k): RoiRole.coerce(v) for k, v in dict(self.rois).items()}

    def modality(self, roi: str) -> str:
        """``PT``, ``CT`` or ``FUSED`` for ``roi``; a ROI the model does not list is PET when named ``pet...``."""
        if roi in self.rois:
            return self.rois[roi].modality
        return "PT" if roi.lower().startswith("pet") else "CT"

    def role(self, roi: str) -> RoiRole:
        """The :class:`RoiRole` of ``roi`` (derived from its name when the model does not list it)."""
        return self.rois.get(roi) or RoiRole(self.modality(roi))

    @classmethod
    def from_provenance(cls, provenance: Mapping, predictor_names=()) -> ModelInputs:
        """The inputs a version-1 bundle implied with its provenance keys (the migration's rule).

        ``roi``; ``rois[<roi>].modality`` (``PT``/``PET``/other), else ``PT``
        for a ROI whose name starts with ``pet``; ``feature_preset`` (or
        ``preset``, or ``features.preset``: a name or ``{"name": ...}``);
        ``reference_cohort.time_unit``; ``example_clinical``. Values of the
        wrong type are left out, as version 1 ignored them.
        """
        prov = provenance if isinstance(provenance, Mapping) else {}
        roi = prov.get("roi") if isinstance(prov.get("roi"), str) and prov.get("roi") else None
        raw_rois = prov.get("rois") if isinstance(prov.get("rois"), Mapping) else {}
        names = {n.split(ROI_PREFIX_SEP, 1)[0] for n in predictor_names if ROI_PREFIX_SEP in n}
        names |= {str(k) for k in raw_rois}
        rois = {}
        for name in sorted(names):
            spec = raw_rois.get(name) if isinstance(raw_rois.get(name), Mapping) else {}
            mod = str(spec.get("modality", "")).upper()
            pet = mod in ("PT", "PET") if mod else name.lower().startswith("pet")
            mask = spec.get("mask") if isinstance(spec.get("mask"), str) and spec.get("mask") else None
            if mod == "FUSED" and isinstance(spec.get("fusion"), Mapping):
                rois[name] = RoiRole("FUSED", mask, dict(spec["fusion"]))
            else:
                rois[name] = RoiRole("PT" if pet else "CT", mask)
        preset = None
        for value in (prov.get("feature_preset"), prov.get("preset"),
                      (prov.get("features") or {}).get("preset") if isinstance(prov.get("features"), Mapping)
                      else None):
            name = value.get("name") if isinstance(value, Mapping) else value
            if isinstance(name, str) and name:
                preset = name
                break
        ref = prov.get("reference_cohort") if isinstance(prov.get("reference_cohort"), Mapping) else {}
        unit = ref.get("time_unit") if isinstance(ref.get("time_unit"), str) else ""
        ex = prov.get("example_clinical") if isinstance(prov.get("example_clinical"), Mapping) else {}
        example = {str(k): v for k, v in ex.items()
                   if isinstance(v, str) or isinstance(v, (int, float)) and not isinstance(v, bool)}
        return cls(roi=roi, rois=rois, feature_preset=preset, time_unit=unit, example_clinical=example)


#: Separator of a ROI name and a feature name in a predictor name (radgui.features.ROI_SEP).
ROI_PREFIX_SEP = "__"


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class ModelCard:
    """What the Predict dock shows about a model (see :meth:`ModelBundle.card`); plain text fields."""

    name: str
    intended_use: str
    outcome: str
    cohort: str
    validation_auc: str
    feature_preset: str
    predictors: str

    def rows(self) -> list[tuple[str, str]]:
        """``(label, text)`` rows in display order."""
        return [("Intended use", self.intended_use), ("Outcome", self.outcome), ("Cohort", self.cohort),
                ("Validation AUC", self.validation_auc), ("Feature preset", self.feature_preset),
                ("Predictors", self.predictors)]


@dataclass
class ModelBundle:
    """A trained or published model, ready to score a new patient.

    Build one with :func:`radgui.model.train.train`, :meth:`from_formula`, or
    :meth:`load`. Attributes mirror ``model.json`` (see the module docstring).
    """

    name: str
    model_kind: str
    outcome: dict
    predictors: list[Predictor]
    intended_use: str = "Research use only, not for clinical decisions."
    zscore: ZScore | None = None
    combat: ComBatParams | None = None
    radscore: RadscoreFormula | None = None
    linear_model: LinearModel | None = None
    estimator_features: list[str] | None = None
    cutoff: Cutoff | None = None
    nomogram: Nomogram | None = None
    provenance: dict = field(default_factory=dict)
    reference_cohort: pd.DataFrame | None = None
    estimator: Any = None
    schema_version: int = SCHEMA_VERSION
    inputs: ModelInputs | None = None

    def __setattr__(self, name, value):
        # builders (training, scripts) hand plain dicts: each becomes its typed record here
        record = _RECORD_FIELDS.get(name)
        if record is not None:
            value = record.coerce(value)
        if name == "inputs":
            super().__setattr__("_inputs_from_provenance", False)
        super().__setattr__(name, value)

    def __post_init__(self):
        if self.inputs is None:  # a bundle built in memory: its provenance says what it needs
            self.inputs = self._derived_inputs()
            # derived again when saved, so provenance edits after building (roi, example values) count
            super().__setattr__("_inputs_from_provenance", True)

    def _derived_inputs(self) -> ModelInputs:
        return ModelInputs.from_provenance(self.provenance, [p.name for p in self.predictors])

    # ---------------------------------------------------------------- access
    def predictor(self, name: str) -> Predictor:
        for p in self.predictors:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def clinical_predictors(self) -> list[Predictor]:
        return [p for p in self.predictors if p.source == "clinical"]

    @property
    def radiomics_features(self) -> list[str]:
        """Feature columns the feature engine must compute for this model."""
        return [p.name for p in self.predictors if p.source == "radiomics"]

    def card(self) -> ModelCard:
        """The model card: intended use, outcome, cohort, validation AUC, feature preset, predictors.

        Reads the provenance a training run records (``cohort`` or
        ``n_patients``/``n_events``; ``validation`` or ``metrics`` for the
        AUC and its CI); what a bundle does not say is "not stated".
        """
        from radgui.model.patient import bundle_preset

        prov = self.provenance or {}
        cohort = prov.get("cohort") if isinstance(prov.get("cohort"), Mapping) else {}
        n = cohort.get("n", prov.get("n_patients", prov.get("n")))
        events = cohort.get("events", prov.get("n_events", prov.get("events")))
        val = prov.get("validation") if isinstance(prov.get("validation"), Mapping) else {}
        metrics = prov.get("metrics") if isinstance(prov.get("metrics"), Mapping) else {}
        auc = val.get("auc", metrics.get("auc"))
        ci = val.get("ci") if isinstance(val.get("ci"), list) and len(val.get("ci")) == 2 else [None, None]
        lo, hi = val.get("auc_ci_low", ci[0]), val.get("auc_ci_high", ci[1])
        if _is_number(auc):
            auc_txt = f"{auc:.2f}" + (f" (95% CI {lo:.2f}-{hi:.2f})" if _is_number(lo) and _is_number(hi) else "")
            if val.get("method"):
                auc_txt += f", {val['method']}"
        else:
            auc_txt = "not stated"
        cohort_txt = "not stated" if n is None else f"{n} patients" + (f", {events} events" if events is not None
                                                                       else "")
        terms = ", ".join(p.label or p.name for p in self.clinical_predictors)
        return ModelCard(
            name=self.name, intended_use=self.intended_use, outcome=str(self.outcome.get("name", "")),
            cohort=cohort_txt, validation_auc=auc_txt, feature_preset=bundle_preset(self) or "not stated",
            predictors=f"Radscore of {len(self.radiomics_features)} feature(s)" + (f"; {terms}" if terms else ""))

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "model_kind": self.model_kind,
            "outcome": dict(self.outcome),
            "intended_use": self.intended_use,
            "predictors": [p.to_dict() for p in self.predictors],
            "inputs": (self._derived_inputs() if getattr(self, "_inputs_from_provenance", False)
                       else self.inputs).to_dict(),
            "preprocessing": {"combat": _plain(self.combat), "zscore": _plain(self.zscore)},
            "radscore": _plain(self.radscore),
            "linear_model": None if self.linear_model is None else self.linear_model.to_dict(),
            "estimator": None if self.estimator is None else {
                "file": ESTIMATOR_FILE, "features": list(self.estimator_features or [])},
            "cutoff": _plain(self.cutoff),
            "nomogram": _plain(self.nomogram),
            "provenance": _jsonable(self.provenance),
            "reference_cohort": None if self.reference_cohort is None else {
                "file": REFERENCE_CSV, "n": int(len(self.reference_cohort))},
        }

    @classmethod
    def from_dict(cls, doc: Mapping, path: str | Path | None = None) -> ModelBundle:
        """Validate a ``model.json`` document (every field) and build the bundle."""
        return _parse(doc, path)

    # ---------------------------------------------------------------- files
    def save(self, path: str | Path) -> Path:
        """Write the bundle to ``path`` (``.radgui-model`` is appended if absent).

        The archive is written beside ``path`` and renamed over it only when
        complete (:func:`radgui.files.atomic_path`), so an interrupted save
        never destroys a previous bundle of that name.
        """
        from radgui.files import atomic_path

        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        doc = self.to_dict()
        doc["provenance"] = _embed_preset(doc["provenance"])
        # Round-trip through the validator so a bundle that cannot be loaded is never written.
        bundle = _parse(json.loads(json.dumps(doc)), path, check_files=False)
        if self.reference_cohort is not None:
            _check_reference(bundle, self.reference_cohort, path)
        estimator = None
        if self.estimator is not None:
            import skops.io as sio

            estimator = sio.dumps(self.estimator)
            _check_skops_payload(estimator, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(MODEL_JSON, json.dumps(doc, indent=1, allow_nan=False))
                if self.reference_cohort is not None:
                    zf.writestr(REFERENCE_CSV, self.reference_cohort.to_csv(index=False))
                if estimator is not None:
                    zf.writestr(ESTIMATOR_FILE, estimator)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ModelBundle:
        """Read and validate a bundle; raise :class:`BundleError` naming the problem.

        Member sizes and compression ratios are checked on the zip directory
        before anything is decompressed; ``model.json`` is parsed with
        :func:`radgui.untrusted.load_json`'s bounds; a skops payload is checked
        against radgui's allowlist, then loaded and probed in a child process
        before it is loaded here.
        """
        from radgui.untrusted import load_json

        path = Path(path)
        if not path.is_file():
            raise BundleError("model bundle not found", path)
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise BundleError(f"not a radgui model bundle (not a zip archive: {exc})", path) from None
        with zf:
            names = zf.namelist()
            for name in names:
                low = name.lower()
                if low.endswith((".pkl", ".pickle", ".joblib", ".p", ".dill")):
                    raise BundleError(f"refused: archive member '{name}' is a pickle; bundles never hold pickles", path)
                if name not in _ALLOWED_MEMBERS:
                    raise BundleError(f"refused: unexpected archive member '{name}' "
                                      f"(a bundle holds only {sorted(_ALLOWED_MEMBERS)})", path)
            _check_zip_directory(zf, path, "the bundle", MAX_MEMBER_BYTES, 0, MAX_TOTAL_BYTES, len(_ALLOWED_MEMBERS))
            for name in names:
                if _read_member(zf, name, path, 16).startswith(_PICKLE_PREFIXES):
                    raise BundleError(f"refused: archive member '{name}' contains a pickle stream", path)
            if MODEL_JSON not in names:
                raise BundleError(f"not a radgui model bundle ({MODEL_JSON} missing)", path)
            try:
                doc = load_json(_read_member(zf, MODEL_JSON, path), MODEL_JSON,
                                max_bytes=MAX_MEMBER_BYTES[MODEL_JSON])
            except UntrustedInputError as exc:
                raise BundleError(f"{MODEL_JSON} is not valid JSON ({exc.reason})", path) from None
            bundle = _parse(doc, path, check_files=False)
            ref = doc.get("reference_cohort")
            if ref is not None:
                if REFERENCE_CSV not in names:
                    raise BundleError(f"{REFERENCE_CSV} is announced in {MODEL_JSON} but missing", path)
                bundle.reference_cohort = _read_reference(_read_member(zf, REFERENCE_CSV, path), path)
                _check_reference(bundle, bundle.reference_cohort, path)
            if doc.get("estimator") is not None:
                if ESTIMATOR_FILE not in names:
                    raise BundleError(f"{ESTIMATOR_FILE} is announced in {MODEL_JSON} but missing", path)
                bundle.estimator = _load_skops(_read_member(zf, ESTIMATOR_FILE, path), path,
                                               bundle.estimator_features)
        return bundle

    # ---------------------------------------------------------------- builders
    @classmethod
    def from_formula(cls, intercept: float, coefficients: Mapping[str, float], *,
                     name: str = "published Radscore", cutoff: float | None = None,
                     cutoff_scale: str = "linear_predictor", zscore: Mapping[str, tuple[float, float]] | None = None,
                     ranges: Mapping[str, tuple[float, float]] | None = None,
                     intended_use: str = "Research use only, not for clinical decisions.",
                     source: str = "") -> ModelBundle:
        """Build a bundle from a published logistic Radscore formula.

        ``Radscore = intercept + sum(coef * feature)``; the probability is
        ``1 / (1 + exp(-Radscore))``. No covariance is known, so prediction
        intervals are not available (a warning says so).

        Parameters
        ----------
        intercept : float
        coefficients : mapping feature name -> coefficient
        cutoff : float, optional
            Published cutoff, on ``cutoff_scale`` (``linear_predictor`` i.e.
            Radscore, or ``probability``).
        zscore : mapping feature -> (mean, sd), optional
            Normalisation the paper applied before the formula.
        ranges : mapping feature -> (low, high), optional
            Plausible ranges (e.g. the paper's training range), used for
            warnings and the nomogram axes.
        source : str
            Citation of the paper.
        """
        if not coefficients:
            raise BundleError("a formula needs at least one feature coefficient")
        ranges = dict(ranges or {})
        preds = []
        for f in coefficients:
            lo, hi = ranges.get(f, (None, None))
            preds.append(Predictor(name=f, source="radiomics", p01=lo, p99=hi, min=lo, max=hi))
        z = None
        if zscore:
            missing = [f for f in coefficients if f not in zscore]
            if missing:
                raise BundleError(f"z-score parameters missing for feature(s) {missing}")
            feats = list(coefficients)
            z = {"features": feats, "mean": [float(zscore[f][0]) for f in feats],
                 "sd": [float(zscore[f][1]) for f in feats]}
        terms = [Term(name="radscore", coefficient=1.0, label="Radscore")]
        lm = LinearModel(link="logit", intercept=0.0, terms=terms)
        bundle = cls(
            name=name, model_kind="logistic",
            outcome={"name": "outcome", "type": "binary", "positive": "1"},
            predictors=preds, intended_use=intended_use, zscore=z,
            radscore={"intercept": float(intercept), "coefficients": {k: float(v) for k, v in coefficients.items()}},
            linear_model=lm,
            cutoff=None if cutoff is None else {"value": float(cutoff), "scale": cutoff_scale, "method": "published"},
            provenance={"origin": "published formula", "source": source, **_software()},
        )
        if all(f in ranges for f in coefficients):
            lo, hi = _radscore_range(bundle, ranges)
            terms[0].p01, terms[0].p99 = lo, hi
            bundle.nomogram = nomogram_scales(lm, {"radscore": (lo, hi)})
        return bundle


#: ModelBundle fields held as typed records (plain dicts given to the constructor are converted).
_RECORD_FIELDS: dict[str, type[_Record]] = {"zscore": ZScore, "combat": ComBatParams, "radscore": RadscoreFormula,
                                           "cutoff": Cutoff, "nomogram": Nomogram, "inputs": ModelInputs}


# --------------------------------------------------------------------------
# nomogram scales (rms::nomogram convention)
# --------------------------------------------------------------------------

def nomogram_scales(lm: LinearModel, ranges: Mapping[str, tuple[float, float]], *,
                    labels: Mapping[str, str] | None = None) -> dict:
    """Points scales of an rms-style nomogram for a linear model.

    Each continuous term ``c * v`` spans ``[low, high]``; a categorical term
    spans its level coefficients (reference = 0). The term with the widest span
    of linear-predictor contribution gets 0-100 points, the others
    proportionally: ``points = (contribution - min_contribution) * scale``
    with ``scale = 100 / widest_span``. Then
    ``lp = lp_at_zero_points + total_points / scale``.

    References
    ----------
    Harrell FE. Regression Modeling Strategies, 2nd ed., Springer 2015,
    section 10.8 (``rms::nomogram``).
    """
    labels = dict(labels or {})
    axes, spans, offset = [], [], lm.intercept
    for t in lm.terms:
        if t.type == "categorical":
            contrib = {t.reference: 0.0, **{k: float(v) for k, v in t.coefficients.items()}}
            lo_c, hi_c = min(contrib.values()), max(contrib.values())
            axes.append({"term": t.name, "label": labels.get(t.name, t.label or t.name), "type": "categorical",
                         "levels": list(contrib), "min_contribution": lo_c})
        else:
            if t.name not in ranges:
                raise BundleError(f"nomogram: no value range for term '{t.name}'")
            lo, hi = map(float, ranges[t.name])
            c = float(t.coefficient)
            lo_c, hi_c = sorted((c * lo, c * hi))
            axes.append({"term": t.name, "label": labels.get(t.name, t.label or t.name), "type": "continuous",
                         "low": lo, "high": hi, "min_contribution": lo_c, "ticks": _nice_ticks(lo, hi)})
        spans.append(hi_c - lo_c)
        offset += lo_c
    widest = max(spans) if spans else 0.0
    if not widest > 0:
        raise BundleError("nomogram: every term has zero span (all coefficients zero?)")
    scale = 100.0 / widest
    return {"points_per_lp": scale, "lp_at_zero_points": offset, "axes": axes,
            "max_total_points": float(sum(spans) * scale)}


def _nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10)), key=lambda s: abs(s - raw))
    first = math.ceil(lo / step) * step
    ticks = list(np.round(np.arange(first, hi + step * 1e-9, step), 10))
    return [float(t) for t in ticks]


def _radscore_range(bundle: ModelBundle, ranges) -> tuple[float, float]:
    lo = hi = bundle.radscore["intercept"]
    for f, c in bundle.radscore["coefficients"].items():
        a, b = ranges[f]
        if bundle.zscore:
            i = bundle.zscore["features"].index(f)
            m, s = bundle.zscore["mean"][i], bundle.zscore["sd"][i]
            a, b = (a - m) / s, (b - m) / s
        lo += min(c * a, c * b)
        hi += max(c * a, c * b)
    return float(lo), float(hi)


# --------------------------------------------------------------------------
# parsing and validation
# --------------------------------------------------------------------------

def _parse(doc: Any, path, check_files: bool = True) -> ModelBundle:
    ck = _Checker(path)
    if not isinstance(doc, Mapping):
        raise BundleError(f"{MODEL_JSON} must hold a JSON object", path)
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise BundleError(f"{MODEL_JSON}: not a radgui model (format is {fmt!r}, expected {FORMAT!r})", path)
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BundleError(f"{MODEL_JSON}: field 'schema_version' is missing or not an integer", path)
    if version > SCHEMA_VERSION:
        raise BundleError(f"schema version {version} is newer than this radgui understands "
                          f"(up to {SCHEMA_VERSION}); update radgui", path)
    if version < 1:
        raise BundleError(f"schema version {version} is not a valid radgui model schema version", path)
    while version < SCHEMA_VERSION:
        doc = MIGRATIONS[version](dict(doc))
        version += 1

    name = ck.get(doc, "name", "", str)
    kind = ck.choice(ck.get(doc, "model_kind", "", str), "model_kind", ModelKind)
    outcome = ck.get(doc, "outcome", "", dict)
    ck.choice(ck.get(outcome, "type", "outcome", str), "outcome.type", OutcomeType)
    ck.get(outcome, "name", "outcome", str)
    ck.choice(outcome.setdefault("direction", "adverse"), "outcome.direction", Direction)  # optional; default adverse
    intended = ck.get(doc, "intended_use", "", str)

    preds = []
    raw_preds = ck.get(doc, "predictors", "", list)
    if not raw_preds:
        ck.fail("predictors", "must list at least one predictor")
    if len(raw_preds) > MAX_PREDICTORS:
        ck.fail("predictors", f"lists {len(raw_preds):,} predictors (limit {MAX_PREDICTORS:,})")
    seen = set()
    for i, p in enumerate(raw_preds):
        w = f"predictors[{i}]"
        pname = ck.get(p, "name", w, str)
        if pname in seen:
            ck.fail(f"{w}.name", f"repeats predictor {pname!r}")
        seen.add(pname)
        src = ck.choice(ck.get(p, "source", w, str), f"{w}.source", Source)
        ptype = ck.choice(ck.get(p, "type", w, str), f"{w}.type", ValueType)
        cats = ck.get(p, "categories", w, list, optional=True)
        if ptype == "categorical":
            if not cats or not all(isinstance(c, str) for c in cats):
                ck.fail(f"{w}.categories", "must list the allowed levels (strings) of a categorical predictor")
        pr = Predictor(
            name=pname, source=src, type=ptype, unit=ck.get(p, "unit", w, str),
            min=ck.number(p, "min", w, optional=True), max=ck.number(p, "max", w, optional=True),
            categories=cats, p01=ck.number(p, "p01", w, optional=True), p99=ck.number(p, "p99", w, optional=True),
            role=ck.get(p, "role", w, str, optional=True, default="predictor"),
            label=ck.get(p, "label", w, str, optional=True, default=""),
        )
        ck.choice(pr.role, f"{w}.role", Role)
        if pr.min is not None and pr.max is not None and pr.min > pr.max:
            ck.fail(f"{w}.min", f"({pr.min}) exceeds max ({pr.max})")
        preds.append(pr)
    radiomics = [p.name for p in preds if p.source == "radiomics"]

    prep = ck.get(doc, "preprocessing", "", dict)
    zscore = ck.get(prep, "zscore", "preprocessing", dict, optional=True)
    if zscore is not None:
        feats = ck.get(zscore, "features", "preprocessing.zscore", list)
        ck.numbers(zscore, "mean", "preprocessing.zscore", len(feats))
        sd = ck.numbers(zscore, "sd", "preprocessing.zscore", len(feats))
        if np.any(sd <= 0):
            ck.fail("preprocessing.zscore.sd", "must be positive")
        _known(ck, feats, radiomics, "preprocessing.zscore.features")
    combat = ck.get(prep, "combat", "preprocessing", dict, optional=True)
    if combat is not None:
        _check_combat(ck, combat, preds, radiomics)

    radscore = ck.get(doc, "radscore", "", dict, optional=True)
    if radscore is not None:
        _bounded(ck, ck.number(radscore, "intercept", "radscore"), "radscore.intercept")
        coefs = ck.get(radscore, "coefficients", "radscore", dict)
        for f, c in coefs.items():
            if not isinstance(c, (int, float)) or isinstance(c, bool) or not math.isfinite(c):
                ck.fail(f"radscore.coefficients.{f}", "must be a finite number")
            _bounded(ck, c, f"radscore.coefficients.{f}")
        _known(ck, list(coefs), radiomics, "radscore.coefficients")

    lm = None
    estimator = ck.get(doc, "estimator", "", dict, optional=True)
    raw_lm = ck.get(doc, "linear_model", "", dict, optional=True)
    if raw_lm is not None:
        lm = _parse_linear_model(ck, raw_lm, preds, radscore if radscore is not None else estimator)
    est_features = None
    if estimator is not None:
        if ck.get(estimator, "file", "estimator", str) != ESTIMATOR_FILE:
            ck.fail("estimator.file", f"must be {ESTIMATOR_FILE!r}")
        est_features = ck.get(estimator, "features", "estimator", list)
        _known(ck, est_features, [p.name for p in preds], "estimator.features")
    if kind in ("logistic", "cox") and lm is None:
        ck.fail("linear_model", f"is missing (required for a {kind} model)")
    if kind == "skops" and estimator is None:
        ck.fail("estimator", "is missing (required for a skops model)")
    if kind == "cox":
        if lm.link != "cox":
            ck.fail("linear_model.link", "must be 'cox' for a cox model")
        if lm.baseline_survival is None or lm.horizon is None:
            ck.fail("linear_model.baseline_survival", "and 'horizon' are required for a cox model")
        if not 0.0 < lm.baseline_survival < 1.0:
            ck.fail("linear_model.baseline_survival", f"must lie strictly between 0 and 1 (a survival "
                    f"probability), got {lm.baseline_survival:g}")
        if not lm.horizon > 0:
            ck.fail("linear_model.horizon", f"must be a positive time, got {lm.horizon:g}")
    if kind == "logistic" and lm.link != "logit":
        ck.fail("linear_model.link", "must be 'logit' for a logistic model")

    cutoff = ck.get(doc, "cutoff", "", dict, optional=True)
    if cutoff is not None:
        value = ck.number(cutoff, "value", "cutoff")
        scale = ck.choice(ck.get(cutoff, "scale", "cutoff", str), "cutoff.scale", CutoffScale)
        if scale == "probability" and not 0.0 < value < 1.0:
            ck.fail("cutoff.value", f"is {value:g} on the probability scale; it must lie strictly between 0 and 1")
        if scale == "linear_predictor":
            _bounded(ck, value, "cutoff.value")
        ck.get(cutoff, "method", "cutoff", str)
    nomogram = ck.get(doc, "nomogram", "", dict, optional=True)
    if nomogram is not None:
        ck.number(nomogram, "points_per_lp", "nomogram")
        ck.number(nomogram, "lp_at_zero_points", "nomogram")
        ck.number(nomogram, "max_total_points", "nomogram")
        axes = ck.get(nomogram, "axes", "nomogram", list)
        terms = {t.name for t in lm.terms} if lm else set()
        for i, ax in enumerate(axes):
            w = f"nomogram.axes[{i}]"
            if ck.get(ax, "term", w, str) not in terms:
                ck.fail(f"{w}.term", f"names {ax['term']!r}, which is not a term of the linear model")
            ck.number(ax, "min_contribution", w)
            if ck.get(ax, "type", w, str) == "continuous":
                ck.number(ax, "low", w)
                ck.number(ax, "high", w)
                ck.numbers(ax, "ticks", w)
            else:
                ck.get(ax, "levels", w, list)
        _check_nomogram(ck, nomogram, lm)
    provenance = ck.get(doc, "provenance", "", dict)
    _check_feature_preset(ck, provenance, radiomics)
    inputs = _parse_inputs(ck, ck.get(doc, "inputs", "", dict))
    ref = ck.get(doc, "reference_cohort", "", dict, optional=True)
    if ref is not None and ck.get(ref, "file", "reference_cohort", str) != REFERENCE_CSV:
        ck.fail("reference_cohort.file", f"must be {REFERENCE_CSV!r}")

    return ModelBundle(
        name=name, model_kind=kind, outcome=dict(outcome), predictors=preds, intended_use=intended,
        zscore=zscore, combat=combat, radscore=radscore, linear_model=lm, estimator_features=est_features,
        cutoff=cutoff, nomogram=nomogram, provenance=dict(provenance), inputs=inputs,
    )


def _parse_inputs(ck, raw: Mapping) -> ModelInputs:
    """Validate ``inputs`` (schema 2) into :class:`ModelInputs`."""
    w = "inputs"
    roi = ck.get(raw, "roi", w, str, optional=True)
    if roi is not None and not roi:
        ck.fail(f"{w}.roi", "must name a ROI (or be null)")
    rois = {}
    for name, spec in ck.get(raw, "rois", w, dict, optional=True, default={}).items():
        where = f"{w}.rois.{name}"
        modality = ck.choice(ck.get(spec, "modality", where, str), f"{where}.modality", Modality)
        mask = ck.get(spec, "mask", where, str, optional=True)
        if mask is not None and not mask.strip():
            ck.fail(f"{where}.mask", "must name a study ROI (or be absent)")
        fusion = ck.get(spec, "fusion", where, dict, optional=True)
        if modality == "FUSED":
            if fusion is None:
                ck.fail(f"{where}.fusion", "is missing (a FUSED ROI must record its fusion parameters)")
            from radgui.errors import FusionError
            from radgui.io.petct import fusion_kwargs

            try:
                fusion = fusion_kwargs(fusion)
            except FusionError as exc:
                ck.fail(f"{where}.fusion", f"is invalid: {exc}")
        elif fusion is not None:
            ck.fail(f"{where}.fusion", f"is only for FUSED ROIs, not {modality}")
        rois[name] = RoiRole(modality, mask, fusion)
    example = ck.get(raw, "example_clinical", w, dict, optional=True, default={})
    for name, value in example.items():
        if not (isinstance(value, str) or isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value)):
            ck.fail(f"{w}.example_clinical.{name}", "must be a string or a finite number")
    return ModelInputs(roi=roi, rois=rois, feature_preset=ck.get(raw, "feature_preset", w, str, optional=True),
                       time_unit=ck.get(raw, "time_unit", w, str, optional=True, default=""),
                       example_clinical=dict(example))


def _migrate_1_to_2(doc: dict) -> dict:
    """Schema 1 -> 2: the ``inputs`` object, derived from version 1's provenance keys.

    The rules are :meth:`ModelInputs.from_provenance` (ROI roles from
    ``provenance.rois[<roi>].modality`` or a ``pet`` name prefix, the preset's
    name, ``reference_cohort.time_unit``, ``example_clinical``); everything
    else is unchanged, and the provenance is kept as it was.
    """
    preds = doc.get("predictors")
    names = [p["name"] for p in preds if isinstance(p, Mapping) and isinstance(p.get("name"), str)] \
        if isinstance(preds, list) else []
    inputs = ModelInputs.from_provenance(doc.get("provenance"), names)
    return {**doc, "schema_version": 2, "inputs": inputs.to_dict()}


MIGRATIONS[1] = _migrate_1_to_2


def _bounded(ck, value, where):
    if value is not None and abs(value) > MAX_COEFFICIENT:
        ck.fail(where, f"is {value:g}, beyond the +/-{MAX_COEFFICIENT:g} radgui accepts for a model coefficient")
    return value


def _check_nomogram(ck, nomogram, lm) -> None:
    """The stored scales must be the ones :func:`nomogram_scales` gives for the linear model."""
    if lm is None:
        ck.fail("nomogram", "is present but the bundle has no linear model")
    axes = nomogram["axes"]
    names = [ax["term"] for ax in axes]
    if names != [t.name for t in lm.terms]:
        ck.fail("nomogram.axes", f"must list the linear model's terms {[t.name for t in lm.terms]} in order, "
                f"got {names}")
    ranges = {}
    for ax, t in zip(axes, lm.terms):
        if (ax["type"] == "categorical") != (t.type == "categorical"):
            ck.fail(f"nomogram.axes[{names.index(t.name)}].type", f"does not match term '{t.name}'")
        if t.type != "categorical":
            if not ax["low"] <= ax["high"]:
                ck.fail(f"nomogram.axes[{names.index(t.name)}].low", "exceeds 'high'")
            ranges[t.name] = (ax["low"], ax["high"])
    try:
        want = nomogram_scales(lm, ranges)
    except BundleError as exc:
        ck.fail("nomogram", f"cannot be rebuilt from the linear model ({exc.reason})")
    for key in ("points_per_lp", "lp_at_zero_points", "max_total_points"):
        if not math.isclose(nomogram[key], want[key], rel_tol=1e-6, abs_tol=1e-9):
            ck.fail(f"nomogram.{key}", f"is {nomogram[key]:g} but the linear model gives {want[key]:g}")
    for i, (ax, wx) in enumerate(zip(axes, want["axes"])):
        if not math.isclose(ax["min_contribution"], wx["min_contribution"], rel_tol=1e-6, abs_tol=1e-9):
            ck.fail(f"nomogram.axes[{i}].min_contribution",
                    f"is {ax['min_contribution']:g} but the linear model gives {wx['min_contribution']:g}")
        if ax["type"] == "categorical" and sorted(ax["levels"]) != sorted(wx["levels"]):
            ck.fail(f"nomogram.axes[{i}].levels", f"must be {wx['levels']}")


def _check_feature_preset(ck, provenance, radiomics) -> None:
    """``provenance.feature_preset``: a shipped preset's name, or the preset itself inline; never a path."""
    from radgui.errors import PresetError

    from radgui.model.patient import bundle_feature_preset, check_feature_demand

    try:
        bundle_feature_preset(provenance)
    except PresetError as exc:
        ck.fail("provenance.feature_preset", f"is refused: {exc.reason}")
    try:
        check_feature_demand(radiomics)
    except PresetError as exc:
        ck.fail("predictors", f"are refused: {exc.reason}")


def _embed_preset(provenance: dict) -> dict:
    """Carry a shipped feature preset inline (``yaml`` + its ``hash``), so the bundle names no file.

    Only when the bundle names a shipped preset and its recorded hash is empty or
    is the shipped file's (a different hash means another version of the preset
    was used; then nothing is guessed).
    """
    fp = provenance.get("feature_preset")
    if not isinstance(fp, dict) or fp.get("yaml") is not None or fp.get("params") is not None:
        return provenance
    from radgui.features.presets import PRESET_DIR, presets

    name = fp.get("name")
    if not isinstance(name, str) or name not in presets():
        return provenance
    text = (PRESET_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if fp.get("hash") not in (None, "", digest):
        return provenance
    return {**provenance, "feature_preset": {**fp, "hash": digest, "yaml": text}}


def _check_reference(bundle: ModelBundle, ref: pd.DataFrame, path) -> None:
    """A Cox horizon must lie within the reference cohort's follow-up (when it has times)."""
    lm = bundle.linear_model
    if lm is None or lm.link != "cox" or "time" not in ref.columns:
        return
    times = pd.to_numeric(ref["time"], errors="coerce").to_numpy(dtype=float)
    times = times[np.isfinite(times)]
    if times.size and lm.horizon > times.max():
        raise BundleError(f"{MODEL_JSON}: field 'linear_model.horizon' ({lm.horizon:g}) lies beyond the "
                          f"reference cohort's longest follow-up ({times.max():g}); the model cannot "
                          "predict that far", path)


def _known(ck, names, allowed, where):
    unknown = [n for n in names if n not in allowed]
    if unknown:
        ck.fail(where, f"names {unknown[:5]} that are not listed in 'predictors'")


def _check_combat(ck, combat, preds, radiomics):
    w = "preprocessing.combat"
    batch = ck.get(combat, "batch", w, str)
    bp = [p for p in preds if p.name == batch]
    if not bp or bp[0].source != "clinical" or bp[0].type != "categorical":
        ck.fail(f"{w}.batch", f"names {batch!r}, which must be a categorical clinical predictor")
    feats = ck.get(combat, "features", w, list)
    _known(ck, feats, radiomics, f"{w}.features")
    n = len(feats)
    ck.numbers(combat, "grand_mean", w, n)
    vp = ck.numbers(combat, "var_pooled", w, n)
    if np.any(vp <= 0):
        ck.fail(f"{w}.var_pooled", "must be positive")
    covs = ck.get(combat, "covariates", w, list)
    beta = ck.get(combat, "covariate_beta", w, list)
    if len(beta) != len(covs):
        ck.fail(f"{w}.covariate_beta", f"must have one row per covariate ({len(covs)})")
    for i, row in enumerate(beta):
        ck.numbers({"r": row}, "r", f"{w}.covariate_beta[{i}]", n)
    batches = ck.get(combat, "batches", w, dict)
    if not batches:
        ck.fail(f"{w}.batches", "must hold at least one batch")
    for b, est in batches.items():
        ck.numbers(est, "gamma", f"{w}.batches.{b}", n)
        d = ck.numbers(est, "delta", f"{w}.batches.{b}", n)
        if np.any(d <= 0):
            ck.fail(f"{w}.batches.{b}.delta", "must be positive")


def _parse_linear_model(ck, raw, preds, radscore) -> LinearModel:
    w = "linear_model"
    link = ck.choice(ck.get(raw, "link", w, str), f"{w}.link", Link)
    terms = []
    clinical = {p.name: p for p in preds if p.source == "clinical"}
    raw_terms = ck.get(raw, "terms", w, list)
    if not raw_terms:
        ck.fail(f"{w}.terms", "must list at least one term")
    for i, t in enumerate(raw_terms):
        tw = f"{w}.terms[{i}]"
        name = ck.get(t, "name", tw, str)
        ttype = ck.get(t, "type", tw, str)
        if name == "radscore":
            if radscore is None:
                ck.fail(f"{tw}.name", "is 'radscore' but the bundle has neither a 'radscore' formula "
                        "nor an estimator")
        elif name not in clinical:
            ck.fail(f"{tw}.name", f"names {name!r}, which is not a clinical predictor")
        if ttype == "categorical":
            if name == "radscore" or clinical[name].type != "categorical":
                ck.fail(f"{tw}.type", f"is categorical but predictor {name!r} is not")
            ref = ck.get(t, "reference", tw, str)
            coefs = ck.get(t, "coefficients", tw, dict)
            levels = set(clinical[name].categories)
            bad = [lvl for lvl in [ref, *coefs] if lvl not in levels]
            if bad:
                ck.fail(f"{tw}.coefficients", f"names level(s) {bad} not among the predictor's categories")
            for lvl, c in coefs.items():
                if not isinstance(c, (int, float)) or isinstance(c, bool) or not math.isfinite(c):
                    ck.fail(f"{tw}.coefficients.{lvl}", "must be a finite number")
                _bounded(ck, c, f"{tw}.coefficients.{lvl}")
            terms.append(Term(name=name, type="categorical", reference=ref,
                              coefficients={k: float(v) for k, v in coefs.items()},
                              label=ck.get(t, "label", tw, str, optional=True, default="")))
        elif ttype == "continuous":
            if name != "radscore" and clinical[name].type != "continuous":
                ck.fail(f"{tw}.type", f"is continuous but predictor {name!r} is categorical")
            terms.append(Term(name=name, coefficient=_bounded(ck, ck.number(t, "coefficient", tw), f"{tw}.coefficient"),
                              p01=ck.number(t, "p01", tw, optional=True), p99=ck.number(t, "p99", tw, optional=True),
                              label=ck.get(t, "label", tw, str, optional=True, default="")))
        else:
            ck.choice(ttype, f"{tw}.type", ValueType)
    lm = LinearModel(link=link, intercept=_bounded(ck, ck.number(raw, "intercept", w), f"{w}.intercept"), terms=terms,
                     baseline_survival=ck.number(raw, "baseline_survival", w, optional=True),
                     horizon=ck.number(raw, "horizon", w, optional=True))
    names = lm.parameter_names()
    params = ck.get(raw, "parameters", w, list)
    if params != names:
        ck.fail(f"{w}.parameters", f"must be {names}, got {params}")
    k = len(names)
    cov = ck.get(raw, "covariance", w, list, optional=True)
    if cov is not None:
        try:
            m = np.asarray(cov, dtype=float)
        except (TypeError, ValueError):
            ck.fail(f"{w}.covariance", "must be a square matrix of numbers")
        if m.shape != (k, k) or not np.all(np.isfinite(m)):
            ck.fail(f"{w}.covariance", f"must be a finite {k}x{k} matrix (parameters {names})")
        if not np.allclose(m, m.T, rtol=1e-6, atol=1e-10) or np.any(np.diag(m) < 0):
            ck.fail(f"{w}.covariance", "must be symmetric with a non-negative diagonal")
        lm.covariance = m
    boot = ck.get(raw, "bootstrap_coefficients", w, list, optional=True)
    if boot is not None:
        try:
            b = np.asarray(boot, dtype=float)
        except (TypeError, ValueError):
            ck.fail(f"{w}.bootstrap_coefficients", "must be a matrix of numbers")
        if b.ndim != 2 or b.shape[1] != k or not np.all(np.isfinite(b)):
            ck.fail(f"{w}.bootstrap_coefficients", f"must be a finite matrix with {k} columns")
        if b.shape[0] > MAX_BOOTSTRAP_ROWS:
            ck.fail(f"{w}.bootstrap_coefficients", f"has {b.shape[0]:,} rows (limit {MAX_BOOTSTRAP_ROWS:,})")
        if np.any(np.abs(b) > MAX_COEFFICIENT):
            ck.fail(f"{w}.bootstrap_coefficients", f"holds a value beyond +/-{MAX_COEFFICIENT:g}")
        lm.bootstrap = b
    return lm


def _read_reference(data: bytes, path) -> pd.DataFrame:
    try:
        ref = pd.read_csv(io.BytesIO(data), float_precision="round_trip")
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad bundle
        raise BundleError(f"{REFERENCE_CSV} cannot be read ({exc})", path) from None
    for col in ("linear_predictor", "risk_group"):
        if col not in ref.columns:
            raise BundleError(f"{REFERENCE_CSV}: column '{col}' is missing", path)
    if not np.all(np.isfinite(pd.to_numeric(ref["linear_predictor"], errors="coerce"))):
        raise BundleError(f"{REFERENCE_CSV}: column 'linear_predictor' must hold finite numbers", path)
    return ref


def skops_types(data: bytes) -> set[str]:
    """Every ``module.class`` named anywhere in a skops payload's ``schema.json``."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        schema = json.loads(zf.read("schema.json"))
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node and "__module__" in node:
                found.add(f"{node['__module__']}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _skops_fail(path, problem: str):
    raise BundleError(f"refused: {ESTIMATOR_FILE} {problem}", path)


def _check_skops_schema(schema: Any, path) -> None:
    """Check every node of a skops ``schema.json`` against radgui's allowlist.

    The checks are on what skops *does* with a node, not only on what it claims
    to be: the node kind (``__loader__``) must be one of
    :data:`_SKOPS_NODE_TYPES` and its claimed type one of that kind's types
    (objects: :data:`TRUSTED_TYPES`); function, method, partial, operator and
    reduce nodes are refused (their target is not their claimed type); a dict's
    key types must be :data:`_KEY_TYPES` type nodes; the protocol must be the
    one radgui writes (older protocols use other, older node loaders).
    """
    from skops.io._protocol import PROTOCOL

    if not isinstance(schema, dict):
        _skops_fail(path, "has no valid schema.json")
    protocol = schema.get("protocol")
    if not isinstance(protocol, int) or isinstance(protocol, bool) or protocol != PROTOCOL:
        _skops_fail(path, f"uses skops protocol {protocol!r}; radgui reads only protocol {PROTOCOL}, "
                          "the one it writes (retrain or re-save the model with this radgui)")
    stack: list = [(schema, "root")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, list):
            stack.extend((v, where) for v in node)
            continue
        if not isinstance(node, dict):
            continue
        if "__loader__" not in node:
            # plain mapping (a DictNode's content, a TreeNode's __reduce__), or a reference
            # to an already-built node by its __id__ (which is checked where it is defined)
            stack.extend((v, where) for v in node.values())
            continue
        loader = node.get("__loader__")
        cls, mod = node.get("__class__"), node.get("__module__")
        if not isinstance(loader, str) or not isinstance(cls, str) or not isinstance(mod, str):
            _skops_fail(path, f"has a malformed node at {where}")
        name = f"{mod}.{cls}"
        if loader == "FunctionNode" and name in TRUSTED_FUNCTIONS and "content" not in node:
            continue
        if loader not in _SKOPS_NODE_TYPES:
            _skops_fail(path, f"contains a {loader} (claiming {name}); radgui bundles never hold "
                              "function, method, partial or reduce nodes")
        allowed = _SKOPS_NODE_TYPES[loader]
        if loader == "ObjectNode":
            allowed = _OBJECT_TYPES
        if allowed is not None and name not in allowed:
            _skops_fail(path, f"contains untrusted types ['{name}'] (as {loader})")
        # Object ids repeat in genuine payloads (skops memoises by id(), and ephemeral objects
        # share ids), so a node may resolve to an earlier node with its id. That is harmless
        # here: every node anywhere is checked, and the only callables an allowed node can
        # build are the allowed TypeNode types.
        node_id = node.get("__id__")
        if loader == "CachedNode":
            if node_id is None:
                _skops_fail(path, "has a cached node without an id")
            continue
        if loader == "DictNode":
            kt = node.get("key_types")
            if not (isinstance(kt, dict) and kt.get("__loader__") == "ListNode"
                    and isinstance(kt.get("content"), list)):
                _skops_fail(path, f"has a dict without a plain list of key types at {where}")
            for t in kt["content"]:
                tname = f"{t.get('__module__')}.{t.get('__class__')}" if isinstance(t, dict) else repr(t)
                if not (isinstance(t, dict) and t.get("__loader__") == "TypeNode" and tname in _KEY_TYPES
                        and set(t) <= {"__class__", "__module__", "__loader__", "__id__"}):
                    _skops_fail(path, f"has a dict key type {tname} outside {list(_KEY_TYPES)}")
            content = node.get("content")
            if not isinstance(content, dict) or len(content) != len(kt["content"]):
                _skops_fail(path, f"has a dict whose keys and key types disagree at {where}")
            stack.extend((v, f"{where}.{k}") for k, v in content.items())
            continue
        if loader == "NdArrayNode" and node.get("type") not in ("numpy", "json"):
            _skops_fail(path, f"has an array of unknown storage {node.get('type')!r}")
        if loader in ("TypeNode", "JsonNode", "BytesNode", "BytearrayNode"):
            continue
        for key, value in node.items():
            if key not in ("__class__", "__module__", "__loader__", "__id__", "protocol", "_skops_version",
                           "type", "file", "is_json"):
                stack.append((value, f"{where}.{key}" if loader != "ListNode" else where))


def _check_zip_directory(zf: zipfile.ZipFile, path, what: str, caps: Mapping[str, int] | None,
                         default_cap: int, total_cap: int, max_members: int) -> list[zipfile.ZipInfo]:
    """Refuse encrypted/odd members, duplicates and oversize or bomb-like members, before reading."""
    infos = zf.infolist()
    if len(infos) > max_members:
        raise BundleError(f"refused: {what} has {len(infos):,} members (limit {max_members:,})", path)
    seen, total = set(), 0
    for info in infos:
        name = info.filename
        if name in seen:
            raise BundleError(f"refused: {what} holds member '{name}' twice", path)
        seen.add(name)
        if info.flag_bits & 0x1:
            raise BundleError(f"refused: {what} member '{name}' is encrypted", path)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise BundleError(f"refused: {what} member '{name}' uses an unsupported compression "
                              f"(method {info.compress_type}); only stored or deflated members are read", path)
        cap = (caps or {}).get(name, default_cap)
        if info.file_size > cap:
            raise BundleError(f"refused: {what} member '{name}' declares {info.file_size:,} bytes "
                              f"(limit {cap:,})", path)
        if info.file_size > _MiB and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise BundleError(f"refused: {what} member '{name}' inflates {ratio:.0f} times "
                              f"(limit {MAX_RATIO}); a compression bomb", path)
        total += info.file_size
        if total > total_cap:
            raise BundleError(f"refused: {what} members declare more than {total_cap:,} bytes in total", path)
    return infos


_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError,
               ValueError, KeyError)


def _read_member(zf: zipfile.ZipFile, name: str, path, limit: int | None = None) -> bytes:
    """Read one member (at most ``limit`` bytes); CRC and decompression errors become BundleError."""
    try:
        with zf.open(name) as fh:
            return fh.read() if limit is None else fh.read(limit)
    except _ZIP_ERRORS as exc:
        raise BundleError(f"archive member '{name}' cannot be read ({' '.join(str(exc).split())[:200]})",
                          path) from None


def _check_skops_payload(data: bytes, path) -> dict:
    """All static checks of an ``estimator.skops`` payload; returns its schema."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BundleError(f"{ESTIMATOR_FILE} is not a valid skops payload ({exc})", path) from None
    with zf:
        _check_zip_directory(zf, path, ESTIMATOR_FILE, {"schema.json": SKOPS_SCHEMA_MAX_BYTES},
                             MAX_MEMBER_BYTES[ESTIMATOR_FILE], MAX_MEMBER_BYTES[ESTIMATOR_FILE], SKOPS_MAX_MEMBERS)
        if "schema.json" not in zf.namelist():
            raise BundleError(f"{ESTIMATOR_FILE} is not a valid skops payload (schema.json missing)", path)
        raw = _read_member(zf, "schema.json", path)
        for info in zf.infolist():
            if info.filename == "schema.json":
                continue
            if _read_member(zf, info.filename, path, 16).startswith(_PICKLE_PREFIXES):
                raise BundleError(f"refused: {ESTIMATOR_FILE} member '{info.filename}' contains a pickle stream", path)
    from radgui.untrusted import load_json

    try:
        schema = load_json(raw, f"{ESTIMATOR_FILE}/schema.json", max_bytes=SKOPS_SCHEMA_MAX_BYTES,
                           max_depth=SKOPS_SCHEMA_MAX_DEPTH)
    except UntrustedInputError as exc:
        raise BundleError(f"{ESTIMATOR_FILE}: schema.json {exc.reason}", path) from None
    _check_skops_schema(schema, path)
    return schema


def _construct_skops(data: bytes):
    """Build the estimator of a payload that passed :func:`_check_skops_payload` (trusted list: ours only)."""
    import skops.io as sio

    est = sio.loads(data, trusted=list(TRUSTED_TYPES))
    _check_native(est)
    return est


def _check_native(est) -> None:
    """Structural checks of what native code will index without bounds checks (tree node arrays)."""
    from sklearn.tree._tree import Tree

    if not hasattr(est, "predict_proba"):
        raise ValueError(f"the stored object ({type(est).__name__}) is not a classifier with predict_proba")
    seen: set[int] = set()
    stack = [est]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Tree):
            _check_tree(obj)
        elif type(obj).__module__ == "xgboost.core" and type(obj).__name__ == "Booster":
            _check_booster(obj)
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif type(obj).__module__.startswith(("sklearn.", "xgboost.")) and hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())


def _check_tree(tree) -> None:
    n = int(tree.node_count)
    left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
    feature, value = np.asarray(tree.feature), np.asarray(tree.value)
    if n < 1 or left.shape != (n,) or right.shape != (n,) or feature.shape != (n,) or value.shape[0] != n:
        raise ValueError("a decision tree has inconsistent node arrays")
    idx = np.arange(n)
    leaf = left == -1
    if np.any(leaf != (right == -1)):
        raise ValueError("a decision tree node has only one child")
    inner = ~leaf
    # children come after their parent (how scikit-learn builds trees): no cycles, no out-of-range index
    if np.any((left[inner] <= idx[inner]) | (left[inner] >= n) | (right[inner] <= idx[inner]) | (right[inner] >= n)):
        raise ValueError("a decision tree has child indices out of range")
    if np.any((feature[inner] < 0) | (feature[inner] >= int(tree.n_features))):
        raise ValueError("a decision tree splits on a feature index out of range")


def _check_booster(booster) -> None:
    """XGBoost accepts trees whose child or feature indices are out of range; prediction then reads
    outside its arrays. Check every tree of the booster's own JSON dump (children in range, each node
    reached once from the root, split features < num_feature, no categorical splits)."""
    doc = json.loads(bytes(booster.save_raw("json")))
    learner = doc["learner"]
    nfeat = int(learner["learner_model_param"]["num_feature"])
    gb = learner["gradient_booster"]
    gb = gb.get("gbtree", gb)
    trees = gb["model"]["trees"]
    for k, t in enumerate(trees):
        n = int(t["tree_param"]["num_nodes"])
        left, right, feat = t["left_children"], t["right_children"], t["split_indices"]
        if n < 1 or len(left) != n or len(right) != n or len(feat) != n:
            raise ValueError(f"XGBoost tree {k} has inconsistent node arrays")
        if t.get("categories_nodes"):
            raise ValueError(f"XGBoost tree {k} has categorical splits, which radgui never trains")
        seen, stack = set(), [0]
        while stack:
            i = stack.pop()
            if i in seen:
                raise ValueError(f"XGBoost tree {k} reaches node {i} twice (a cycle)")
            seen.add(i)
            lc, rc = left[i], right[i]
            if lc == -1 and rc == -1:
                continue
            if not (0 < lc < n and 0 < rc < n):
                raise ValueError(f"XGBoost tree {k} node {i} has child indices out of range")
            if not 0 <= feat[i] < nfeat:
                raise ValueError(f"XGBoost tree {k} node {i} splits on feature {feat[i]} of {nfeat}")
            stack += [lc, rc]


#: Payload hashes already loaded and probed in a child: hash -> None (fine) or the refusal.
_PROBED: dict[str, str | None] = {}

_CHILD_CODE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
features = json.loads(sys.argv[2])
data = sys.stdin.buffer.read()
try:
    import numpy as np
    from radgui.model.bundle import _check_skops_payload, _construct_skops
    _check_skops_payload(data, None)
    est = _construct_skops(data)
    if features:
        import pandas as pd
        rows = np.zeros((3, len(features)))
        rows[1], rows[2] = 1.0, -1.0
        p = np.asarray(est.predict_proba(pd.DataFrame(rows, columns=features)), dtype=float)
        if p.ndim != 2 or p.shape[0] != 3 or not np.all(np.isfinite(p)):
            raise ValueError("predict_proba does not give finite probabilities")
except Exception as exc:
    sys.stderr.write(" ".join(str(exc).split())[:300])
    sys.exit(3)
"""


def _probe_in_child(data: bytes, features, path) -> None:
    """Load and probe the payload in a separate Python process (once per payload hash).

    A payload whose native part is corrupt (XGBoost booster bytes, ...) may
    crash the process that unserialises it; that process is a child, and its
    death becomes a :class:`BundleError` here.
    """
    digest = hashlib.sha256(data).hexdigest()
    if digest not in _PROBED:
        root = str(Path(__file__).resolve().parents[2])
        try:
            proc = subprocess.run([sys.executable, "-c", _CHILD_CODE, root, json.dumps(list(features or []))],
                                  input=data, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            _PROBED[digest] = f"took more than {PROBE_TIMEOUT_S} s to load"
        except OSError as exc:
            raise BundleError(f"{ESTIMATOR_FILE} cannot be checked (cannot start a Python process: {exc})",
                              path) from None
        else:
            err = " ".join(proc.stderr.decode("utf-8", "replace").split())[-300:]
            if proc.returncode < 0:
                _PROBED[digest] = (f"crashed the model loader (signal {-proc.returncode}); "
                                   "the file is corrupt or hostile")
            elif proc.returncode != 0:
                _PROBED[digest] = f"cannot be loaded ({err or 'exit status ' + str(proc.returncode)})"
            else:
                _PROBED[digest] = None
    problem = _PROBED[digest]
    if problem is not None:
        raise BundleError(f"{ESTIMATOR_FILE} {problem}", path)


def _load_skops(data: bytes, path, features=None, *, isolate: bool = True):
    """Check, probe in a child process, then build a skops payload; any failure is a BundleError."""
    _check_skops_payload(data, path)
    if isolate:
        _probe_in_child(data, features, path)
    try:
        return _construct_skops(data)
    except Exception as exc:  # noqa: BLE001
        msg = " ".join(str(exc).split())[:300]
        raise BundleError(f"{ESTIMATOR_FILE} cannot be loaded ({msg})", path) from None


def iter_load(path):
    """:meth:`ModelBundle.load` as a progress generator (one step), for a GUI worker.

    Loading checks a skops payload in a child process, which takes seconds
    the first time; a dock runs this in its worker so the window stays live.
    """
    from radgui.progress import Step

    yield Step(0, None, f"checking {Path(path).name}")
    return ModelBundle.load(path)


def _software() -> dict:
    import platform

    import sklearn

    import radgui

    return {"software": {"radgui": radgui.__version__, "python": platform.python_version(),
                         "numpy": np.__version__, "pandas": pd.__version__, "scikit-learn": sklearn.__version__}}


def _jsonable(obj):
    """Convert numpy scalars/arrays (and NaN) inside provenance into plain JSON."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


