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
payload naming a type outside :data:`TRUSTED_TYPES`.

Schema versions and migration rules
-----------------------------------
``schema_version`` is an integer. Version 1 is the first. Rules:

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

import io
import json
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radgui.errors import BundleError

SCHEMA_VERSION = 1
FORMAT = "radgui-model"
SUFFIX = ".radgui-model"
MODEL_JSON = "model.json"
REFERENCE_CSV = "reference_cohort.csv"
ESTIMATOR_FILE = "estimator.skops"
_ALLOWED_MEMBERS = {MODEL_JSON, REFERENCE_CSV, ESTIMATOR_FILE}

#: Model kinds a bundle may hold.
MODEL_KINDS = ("logistic", "cox", "skops")

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
    zscore: dict | None = None          # {"features": [...], "mean": [...], "sd": [...]}
    combat: dict | None = None          # see radgui.model.steps.ComBat.to_dict
    radscore: dict | None = None        # {"intercept": a, "coefficients": {feature: b}}
    linear_model: LinearModel | None = None
    estimator_features: list[str] | None = None
    cutoff: dict | None = None          # {"value": v, "scale": "probability"|"linear_predictor", "method": str}
    nomogram: dict | None = None        # see nomogram_scales
    provenance: dict = field(default_factory=dict)
    reference_cohort: pd.DataFrame | None = None
    estimator: Any = None
    schema_version: int = SCHEMA_VERSION

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
            "preprocessing": {"combat": self.combat, "zscore": self.zscore},
            "radscore": self.radscore,
            "linear_model": None if self.linear_model is None else self.linear_model.to_dict(),
            "estimator": None if self.estimator is None else {
                "file": ESTIMATOR_FILE, "features": list(self.estimator_features or [])},
            "cutoff": self.cutoff,
            "nomogram": self.nomogram,
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
        """Write the bundle to ``path`` (``.radgui-model`` is appended if absent)."""
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        doc = self.to_dict()
        # Round-trip through the validator so a bundle that cannot be loaded is never written.
        _parse(json.loads(json.dumps(doc)), path, check_files=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MODEL_JSON, json.dumps(doc, indent=1, allow_nan=False))
            if self.reference_cohort is not None:
                zf.writestr(REFERENCE_CSV, self.reference_cohort.to_csv(index=False))
            if self.estimator is not None:
                import skops.io as sio

                zf.writestr(ESTIMATOR_FILE, sio.dumps(self.estimator))
        return path

    @classmethod
    def load(cls, path: str | Path) -> ModelBundle:
        """Read and validate a bundle; raise :class:`BundleError` naming the problem."""
        path = Path(path)
        if not path.is_file():
            raise BundleError("model bundle not found", path)
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
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
                head = zf.read(name)[:16]
                if head.startswith(_PICKLE_PREFIXES):
                    raise BundleError(f"refused: archive member '{name}' contains a pickle stream", path)
            if MODEL_JSON not in names:
                raise BundleError(f"not a radgui model bundle ({MODEL_JSON} missing)", path)
            try:
                doc = json.loads(zf.read(MODEL_JSON).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BundleError(f"{MODEL_JSON} is not valid JSON ({exc})", path) from None
            bundle = _parse(doc, path, check_files=False)
            ref = doc.get("reference_cohort")
            if ref is not None:
                if REFERENCE_CSV not in names:
                    raise BundleError(f"{REFERENCE_CSV} is announced in {MODEL_JSON} but missing", path)
                bundle.reference_cohort = _read_reference(zf.read(REFERENCE_CSV), path)
            if doc.get("estimator") is not None:
                if ESTIMATOR_FILE not in names:
                    raise BundleError(f"{ESTIMATOR_FILE} is announced in {MODEL_JSON} but missing", path)
                bundle.estimator = _load_skops(zf.read(ESTIMATOR_FILE), path)
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
    while version < SCHEMA_VERSION:  # pragma: no cover - no older version exists yet
        doc = MIGRATIONS[version](dict(doc))
        version += 1

    name = ck.get(doc, "name", "", str)
    kind = ck.get(doc, "model_kind", "", str)
    if kind not in MODEL_KINDS:
        ck.fail("model_kind", f"must be one of {MODEL_KINDS}, got {kind!r}")
    outcome = ck.get(doc, "outcome", "", dict)
    otype = ck.get(outcome, "type", "outcome", str)
    if otype not in ("binary", "survival"):
        ck.fail("outcome.type", f"must be 'binary' or 'survival', got {otype!r}")
    ck.get(outcome, "name", "outcome", str)
    if outcome.setdefault("direction", "adverse") not in ("adverse", "favourable"):  # optional; older bundles: adverse
        ck.fail("outcome.direction", f"must be 'adverse' or 'favourable', got {outcome['direction']!r}")
    intended = ck.get(doc, "intended_use", "", str)

    preds = []
    raw_preds = ck.get(doc, "predictors", "", list)
    if not raw_preds:
        ck.fail("predictors", "must list at least one predictor")
    seen = set()
    for i, p in enumerate(raw_preds):
        w = f"predictors[{i}]"
        pname = ck.get(p, "name", w, str)
        if pname in seen:
            ck.fail(f"{w}.name", f"repeats predictor {pname!r}")
        seen.add(pname)
        src = ck.get(p, "source", w, str)
        if src not in ("clinical", "radiomics"):
            ck.fail(f"{w}.source", f"must be 'clinical' or 'radiomics', got {src!r}")
        ptype = ck.get(p, "type", w, str)
        if ptype not in ("continuous", "categorical"):
            ck.fail(f"{w}.type", f"must be 'continuous' or 'categorical', got {ptype!r}")
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
        if pr.role not in ("predictor", "batch"):
            ck.fail(f"{w}.role", f"must be 'predictor' or 'batch', got {pr.role!r}")
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
        ck.number(radscore, "intercept", "radscore")
        coefs = ck.get(radscore, "coefficients", "radscore", dict)
        for f, c in coefs.items():
            if not isinstance(c, (int, float)) or isinstance(c, bool) or not math.isfinite(c):
                ck.fail(f"radscore.coefficients.{f}", "must be a finite number")
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
    if kind == "logistic" and lm.link != "logit":
        ck.fail("linear_model.link", "must be 'logit' for a logistic model")

    cutoff = ck.get(doc, "cutoff", "", dict, optional=True)
    if cutoff is not None:
        ck.number(cutoff, "value", "cutoff")
        scale = ck.get(cutoff, "scale", "cutoff", str)
        if scale not in ("probability", "linear_predictor"):
            ck.fail("cutoff.scale", f"must be 'probability' or 'linear_predictor', got {scale!r}")
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
    provenance = ck.get(doc, "provenance", "", dict)
    ref = ck.get(doc, "reference_cohort", "", dict, optional=True)
    if ref is not None and ck.get(ref, "file", "reference_cohort", str) != REFERENCE_CSV:
        ck.fail("reference_cohort.file", f"must be {REFERENCE_CSV!r}")

    return ModelBundle(
        name=name, model_kind=kind, outcome=dict(outcome), predictors=preds, intended_use=intended,
        zscore=zscore, combat=combat, radscore=radscore, linear_model=lm, estimator_features=est_features,
        cutoff=cutoff, nomogram=nomogram, provenance=dict(provenance),
    )


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
    link = ck.get(raw, "link", w, str)
    if link not in ("logit", "cox"):
        ck.fail(f"{w}.link", f"must be 'logit' or 'cox', got {link!r}")
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
                if not isinstance(c, (int, float)) or not math.isfinite(c):
                    ck.fail(f"{tw}.coefficients.{lvl}", "must be a finite number")
            terms.append(Term(name=name, type="categorical", reference=ref,
                              coefficients={k: float(v) for k, v in coefs.items()},
                              label=ck.get(t, "label", tw, str, optional=True, default="")))
        elif ttype == "continuous":
            if name != "radscore" and clinical[name].type != "continuous":
                ck.fail(f"{tw}.type", f"is continuous but predictor {name!r} is categorical")
            terms.append(Term(name=name, coefficient=ck.number(t, "coefficient", tw),
                              p01=ck.number(t, "p01", tw, optional=True), p99=ck.number(t, "p99", tw, optional=True),
                              label=ck.get(t, "label", tw, str, optional=True, default="")))
        else:
            ck.fail(f"{tw}.type", f"must be 'continuous' or 'categorical', got {ttype!r}")
    lm = LinearModel(link=link, intercept=ck.number(raw, "intercept", w), terms=terms,
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


def _load_skops(data: bytes, path):
    import skops.io as sio

    try:
        types = skops_types(data)
    except Exception as exc:  # noqa: BLE001
        raise BundleError(f"{ESTIMATOR_FILE} is not a valid skops payload ({exc})", path) from None
    refused = sorted(types - set(TRUSTED_TYPES))
    if refused:
        raise BundleError(f"refused: {ESTIMATOR_FILE} contains untrusted types {refused[:5]}", path)
    try:
        untrusted = sio.get_untrusted_types(data=data)
        return sio.loads(data, trusted=list(untrusted))
    except Exception as exc:  # noqa: BLE001
        raise BundleError(f"{ESTIMATOR_FILE} cannot be loaded ({exc})", path) from None


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


