"""Study designs: feature subsets, several models in one run, scout models, and their comparison.

A published radiomics study rarely trains one model: it compares regions
(intratumoral vs peritumoral rings), images (PET vs CT), time points
(delta radiomics), selector x classifier grids, and clinical vs radiomics vs
combined models, on a training, an internal test and external cohorts. A
training config with a ``models:`` list (or a ``grid:``) does all of that in
one run::

    models:
      - {name: tumour, features: {roi: [tumour]}, kind: radiomics}
      - {name: ring6, features: {roi: [ring6mm], image_types: [original, log]}}
      - {name: scouted, features: {roi: [tumour]}, scout: {by: image_type, threshold: 0.6}}
      - {name: clinical, kind: clinical}
      - {name: nomogram, features: {roi: [tumour]}, kind: combined, final: true}
    grid: {selectors: [anova, kruskal, rfe], classifiers: [svm, logistic], features: {roi: [tumour]}}

Every model shares the split and the cross-validation folds (one fold plan,
drawn once; with ``group:`` a patient's rows stay in one fold), and each is
refitted, selection and tuning included, inside every fold, so that no
choice leaks. Scout models choose their image types (or ROIs) inside each
fold too (:class:`GroupScout`). The comparison (:func:`compare_models`) is
computed on validated predictions only: out-of-fold for the training
cohort, held-out and external otherwise (the apparent training predictions
are listed, labelled as such, and never used for a choice).

The bundle of the run is the model marked ``final: true``, or, when none is
marked, the radiomics or combined model with the best validated AUC (the
test cohort's when the design has one, else the out-of-fold one), and the
report and ``metrics.json`` say which.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from radgui.errors import ConfigError, RadguiError
from radgui.progress import Step

ROI_SEP = "__"  # as radgui.features.extract.ROI_SEP: "<roi>__<image type>_<class>_<feature>"
SUBSET_KEYS = ("prefix", "roi", "image_types", "feature_classes", "regex", "exclude", "columns")
MODEL_KEYS = {"name", "kind", "features", "clinical", "steps", "learner", "final", "scout"}
MODEL_KINDS = ("radiomics", "clinical", "combined")
SCOUT_KEYS = {"by", "threshold", "folds"}
SCOUT_BY = ("image_type", "roi")
GRID_KEYS = {"selectors", "classifiers", "features", "steps", "kind", "clinical"}
#: Grid selector names and the step (with settings) each stands for; any step name is accepted too.
GRID_SELECTORS = {
    "anova": ("univariate", {"test": "anova"}), "ttest": ("univariate", {"test": "ttest"}),
    "kruskal": ("univariate", {"test": "kruskal"}), "mannwhitney": ("univariate", {"test": "mannwhitney"}),
    "mrmr": ("mrmr", {}), "lasso": ("lasso", {}), "rfe": ("rfe", {}), "stability": ("stability", {}),
}
COMPARISON_KEYS = {"nri_cutoffs"}
RESERVED_COHORTS = ("train", "test", "cross-validated")
MAX_MODELS = 64
MAX_REGEX = 200


# ------------------------------------------------------------------ feature subsets
def parse_column(name: str) -> tuple[str, str, str, str]:
    """``(roi, image_type, feature_class, feature)`` of a PyRadiomics-named column.

    ``ring6mm__log-sigma-3-0-mm-3D_glcm_Idmn`` -> ``("ring6mm",
    "log-sigma-3-0-mm-3D", "glcm", "Idmn")``; without the ``<roi>__`` prefix
    the ROI is ``""``; a name that is not ``<type>_<class>_<feature>`` has
    empty type and class.
    """
    roi, rest = name.split(ROI_SEP, 1) if ROI_SEP in name else ("", name)
    parts = rest.split("_", 2)
    if len(parts) < 3:
        return roi, "", "", rest
    return roi, parts[0], parts[1], parts[2]


def _image_type_matches(have: str, want: str) -> bool:
    """``wavelet`` matches ``wavelet-LLH``, ``log`` matches ``log-sigma-3-0-mm-3D``; otherwise exact."""
    return have == want or have.startswith(want + "-")


def check_subset(spec, fail, where: str) -> dict:
    """Validate a subset mapping (keys, list values, regexes); returns it with lists of strings."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        fail(f"{where} must be a mapping of {', '.join(SUBSET_KEYS)} to lists")
    bad = sorted(set(spec) - set(SUBSET_KEYS))
    if bad:
        fail(f"unknown subset key(s) {bad} under {where} (known: {', '.join(SUBSET_KEYS)})")
    out = {}
    for k, v in spec.items():
        v = [v] if isinstance(v, str) else v
        if not isinstance(v, list) or not v or not all(isinstance(s, str) and (s or k == "roi") for s in v):
            fail(f"{where}.{k} must be a non-empty list of strings, got {v!r}")
        if k in ("regex", "exclude"):
            for s in v:
                if len(s) > MAX_REGEX:
                    fail(f"{where}.{k}: a pattern longer than {MAX_REGEX} characters is refused")
                try:
                    re.compile(s)
                except re.error as exc:
                    fail(f"{where}.{k}: {s!r} is not a regular expression ({exc})")
        out[k] = list(v)
    return out


def resolve_subset(spec: dict | None, columns, where: str = "features") -> list[str]:
    """The columns a subset selects, in table order.

    Keys combine with AND, the values of one key with OR: ``prefix`` (the
    column starts with it), ``roi`` (the ``<roi>__`` prefix; ``""`` for
    columns without one), ``image_types`` (``original``, ``log-sigma-3-0-mm-3D``,
    or a family such as ``log``/``wavelet``), ``feature_classes``
    (``firstorder``, ``glcm``, ``shape``...), ``regex`` (``re.search``),
    ``exclude`` (regexes that drop a column) and ``columns`` (exact names).
    An empty or absent subset is every column. A subset that matches no
    column is a :class:`ConfigError` naming what the table has.
    """
    columns = [str(c) for c in columns]
    if not spec:
        return columns
    keep = []
    for c in columns:
        roi, itype, fclass, _ = parse_column(c)
        ok = (("prefix" not in spec or any(c.startswith(p) for p in spec["prefix"]))
              and ("roi" not in spec or roi in spec["roi"])
              and ("image_types" not in spec or any(_image_type_matches(itype, t) for t in spec["image_types"]))
              and ("feature_classes" not in spec or fclass in spec["feature_classes"])
              and ("regex" not in spec or any(re.search(r, c) for r in spec["regex"]))
              and ("columns" not in spec or c in spec["columns"])
              and not any(re.search(r, c) for r in spec.get("exclude", ())))
        if ok:
            keep.append(c)
    if "columns" in spec:
        absent = [c for c in spec["columns"] if c not in columns]
        if absent:
            raise ConfigError(f"{where}.columns {absent[:5]} are not columns of the feature table")
    if not keep:
        parsed = [parse_column(c) for c in columns]
        have = {"roi": sorted({p[0] for p in parsed})[:10], "image_types": sorted({p[1] for p in parsed})[:10],
                "feature_classes": sorted({p[2] for p in parsed})[:10]}
        hint = "; ".join(f"{k} present: {v}" for k, v in have.items() if k in spec)
        raise ConfigError(f"{where} {_brief(spec)} matches no column of the feature table"
                          + (f" ({hint})" if hint else ""))
    return keep


def _brief(spec) -> str:
    return "{" + ", ".join(f"{k}: [{', '.join(map(str, v))}]" for k, v in spec.items()) + "}"


# ------------------------------------------------------------------ config: models, grid, comparison
def parse_study(doc: dict, fail, validate_model) -> tuple[list[dict], dict]:
    """The ``models:`` list (with ``grid:`` expanded) and ``comparison:`` settings of a config mapping.

    ``validate_model(steps, learner, where)`` validates one model's steps and
    learner as the single-model config would (returns them normalised).
    """
    models_doc = doc.get("models")
    grid = doc.get("grid")
    entries = []
    if models_doc is not None:
        if not isinstance(models_doc, list) or not models_doc:
            fail("key 'models' must be a non-empty list of model mappings")
        entries += [("models", i, m) for i, m in enumerate(models_doc)]
    if grid is not None:
        entries += [("grid", i, m) for i, m in enumerate(_expand_grid(grid, fail))]
    if len(entries) > MAX_MODELS:
        fail(f"{len(entries)} models in one run; at most {MAX_MODELS}")
    variables = list(doc.get("clinical_variables") or {})
    out, seen = [], {}
    for src, i, m in entries:
        where = f"{src}[{i}]"
        if not isinstance(m, dict):
            fail(f"{where} must be a mapping with keys {', '.join(sorted(MODEL_KEYS))}")
        bad = sorted(set(m) - MODEL_KEYS)
        if bad:
            fail(f"unknown key(s) {bad} under {where} (known: {', '.join(sorted(MODEL_KEYS))})")
        name = m.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 80:
            fail(f"{where}.name must be a non-empty string of at most 80 characters, got {name!r}")
        if name in seen:
            fail(f"duplicate model name {name!r} ({seen[name]} and {where}); every model needs its own name")
        seen[name] = where
        where = f"{where} '{name}'"
        kind = m.get("kind", "radiomics")
        if kind not in MODEL_KINDS:
            fail(f"{where}.kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
        clin = m.get("clinical")
        if clin is None:
            clin = variables if kind != "radiomics" else []
        if not isinstance(clin, list) or any(c not in variables for c in clin):
            fail(f"{where}.clinical must list clinical_variables of the config ({', '.join(variables) or 'none'})"
                 f", got {clin!r}")
        if kind == "radiomics" and clin:
            fail(f"{where}: a radiomics model uses no clinical variables (use kind: combined)")
        if kind in ("clinical", "combined") and not clin:
            fail(f"{where}: a {kind} model needs clinical variables ('clinical_variables' in the config)")
        final = m.get("final", False)
        if not isinstance(final, bool):
            fail(f"{where}.final must be true or false")
        if final and kind == "clinical":
            fail(f"{where}: a clinical-only model cannot be the final (bundled) model; mark a radiomics or "
                 "combined model final: true")
        subset = check_subset(m.get("features"), fail, f"{where}.features")
        if kind == "clinical" and subset:
            fail(f"{where}: a clinical model uses no radiomic features (remove 'features')")
        steps, learner = (None, None) if kind == "clinical" else validate_model(
            m.get("steps", doc.get("steps", {"zscore": {}, "lasso": {}})),
            m.get("learner", doc.get("learner", {"name": "lasso"})), where)
        scout = None
        if m.get("scout") is not None:
            scout = m["scout"]
            if not isinstance(scout, dict):
                fail(f"{where}.scout must be a mapping ({', '.join(sorted(SCOUT_KEYS))})")
            bad = sorted(set(scout) - SCOUT_KEYS)
            if bad:
                fail(f"unknown key(s) {bad} under {where}.scout (known: {', '.join(sorted(SCOUT_KEYS))})")
            scout = {"by": scout.get("by", "image_type"), "threshold": scout.get("threshold", 0.6),
                     "folds": scout.get("folds", 3)}
            if scout["by"] not in SCOUT_BY:
                fail(f"{where}.scout.by must be one of {', '.join(SCOUT_BY)}, got {scout['by']!r}")
            t = scout["threshold"]
            if not isinstance(t, (int, float)) or isinstance(t, bool) or not 0 < t < 1:
                fail(f"{where}.scout.threshold must be an AUC between 0 and 1, got {t!r}")
            f = scout["folds"]
            if not isinstance(f, int) or isinstance(f, bool) or not 2 <= f <= 20:
                fail(f"{where}.scout.folds must be an integer from 2 to 20, got {f!r}")
            if kind != "radiomics":
                fail(f"{where}: scout models are radiomics models (kind: radiomics)")
        out.append({"name": name, "kind": kind, "features": subset, "clinical": list(clin), "steps": steps,
                    "learner": learner, "final": final, "scout": scout, "source": where})
    if sum(m["final"] for m in out) > 1:
        fail(f"more than one model is marked final: true ({', '.join(m['name'] for m in out if m['final'])})")
    comp = doc.get("comparison") or {}
    if not isinstance(comp, dict) or set(comp) - COMPARISON_KEYS:
        fail(f"key 'comparison' must be a mapping with key(s) {', '.join(sorted(COMPARISON_KEYS))}")
    cuts = comp.get("nri_cutoffs")
    if cuts is not None and (not isinstance(cuts, list) or not cuts or not all(
            isinstance(c, (int, float)) and not isinstance(c, bool) and 0 < c < 1 for c in cuts)):
        fail(f"comparison.nri_cutoffs must list risks strictly between 0 and 1, got {cuts!r}")
    return out, {"nri_cutoffs": None if cuts is None else sorted(float(c) for c in cuts)}


def _expand_grid(grid, fail) -> list[dict]:
    from radgui.model.config import _STEP_KEYS
    from radgui.model.learners import LEARNERS

    if not isinstance(grid, dict):
        fail(f"key 'grid' must be a mapping with keys {', '.join(sorted(GRID_KEYS))}")
    bad = sorted(set(grid) - GRID_KEYS)
    if bad:
        fail(f"unknown key(s) {bad} under 'grid' (known: {', '.join(sorted(GRID_KEYS))})")

    def named(key, known, what):
        v = grid.get(key)
        if isinstance(v, list) and all(isinstance(s, str) for s in v):
            v = {s: {} for s in v}
        if not isinstance(v, dict) or not v or not all(isinstance(p, dict) or p is None for p in v.values()):
            fail(f"grid.{key} must be a non-empty list of {what} names (or a mapping name -> settings)")
        unknown = [s for s in v if s not in known]
        if unknown:
            fail(f"grid.{key}: unknown {what} {unknown[0]!r} (known: {', '.join(known)})")
        return {s: dict(p or {}) for s, p in v.items()}

    selectors = named("selectors", list(dict.fromkeys([*GRID_SELECTORS, *_STEP_KEYS])), "selector")
    classifiers = named("classifiers", list(LEARNERS), "classifier")
    base = dict(grid.get("steps") or {"zscore": {}})
    if not isinstance(base, dict):
        fail("grid.steps must be a mapping of step name to settings")
    out = []
    for sel, sparams in selectors.items():
        step, defaults = GRID_SELECTORS.get(sel, (sel, {}))
        for clf, cparams in classifiers.items():
            m = {"name": f"{sel}+{clf}", "steps": {**copy.deepcopy(base), step: {**defaults, **sparams}},
                 "learner": {"name": clf, **cparams}, "kind": grid.get("kind", "radiomics")}
            for k in ("features", "clinical"):
                if k in grid:
                    m[k] = copy.deepcopy(grid[k])
            out.append(m)
    return out


def check_externals(value, fail, path_of) -> list[dict]:
    """``external:``: one or more external cohorts, each ``{name, features, clinical}`` (paths)."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        fail("key 'external' must be a list of {name, features, clinical} mappings")
    out, names = [], set()
    for i, e in enumerate(value):
        if not isinstance(e, dict) or set(e) - {"name", "features", "clinical"} or "features" not in e:
            fail(f"external[{i}] must be a mapping with 'features' (and optional 'name', 'clinical')")
        name = e.get("name", "external" if len(value) == 1 else f"external{i + 1}")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}", name):
            fail(f"external[{i}].name must be 1-40 letters, digits, spaces, '_', '.', '-', got {name!r}")
        if name in RESERVED_COHORTS or name in names:
            fail(f"external[{i}].name {name!r} is {'reserved' if name in RESERVED_COHORTS else 'used twice'}")
        names.add(name)
        out.append({"name": name, "features": path_of(f"external[{i}].features", e["features"], True),
                    "clinical": path_of(f"external[{i}].clinical", e.get("clinical"))})
    return out


# ------------------------------------------------------------------ balanced split
def smd_table(train_clin: pd.DataFrame, test_clin: pd.DataFrame, variables: dict) -> dict[str, float]:
    """Absolute standardised mean difference of each clinical variable between two cohorts.

    Continuous: ``|m1 - m2| / sqrt((s1^2 + s2^2) / 2)``; categorical: the
    largest over levels of the same on the level's proportion (Austin 2009).
    """
    out = {}
    for v, spec in variables.items():
        if spec["type"] == "categorical":
            a, b = train_clin[v].astype(str), test_clin[v].astype(str)
            vals = []
            for lvl in spec["categories"]:
                p1, p2 = float((a == lvl).mean()), float((b == lvl).mean())
                den = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
                vals.append(abs(p1 - p2) / den if den > 0 else 0.0)
            out[v] = float(max(vals)) if vals else 0.0
        else:
            a, b = train_clin[v].to_numpy(float), test_clin[v].to_numpy(float)
            den = math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2) if len(a) > 1 and len(b) > 1 else 0.0
            out[v] = float(abs(a.mean() - b.mean()) / den) if den > 0 else 0.0
    return out


def balanced_holdout(cohort, config, seed: int):
    """Holdout indices, re-drawn until every clinical variable's SMD <= ``split.balance.max_smd``.

    Tries split seeds ``seed, seed + 1, ...`` (``split.balance.tries`` of
    them). Returns ``(train_idx, test_idx, info)``; ``info`` records the seed
    used, the number of tries, the SMDs and whether the target was met (if
    not, the most balanced split is used and ``info["balanced"]`` is False).
    """
    from radgui.model.validation import holdout_split

    bal = config.split.get("balance")
    tf = config.split["test_fraction"]
    base = int(config.split.get("seed", seed))
    if not bal:
        tr, te = holdout_split(cohort.y, tf, seed=base, groups=cohort.groups)
        return tr, te, {"seed": base}
    best = None
    for k in range(bal["tries"]):
        s = (base + k) % (2**32)
        tr, te = holdout_split(cohort.y, tf, seed=s, groups=cohort.groups)
        smd = smd_table(cohort.clinical.iloc[tr], cohort.clinical.iloc[te], config.clinical_variables)
        worst = max(smd.values()) if smd else 0.0
        if best is None or worst < best[3]:
            best = (tr, te, s, worst, smd, k + 1)
        if worst <= bal["max_smd"]:
            break
    tr, te, s, worst, smd, _ = best
    return tr, te, {"seed": s, "tries": k + 1, "max_smd": worst, "target_max_smd": bal["max_smd"],
                    "smd": smd, "balanced": bool(worst <= bal["max_smd"])}


# ------------------------------------------------------------------ scout models
class GroupScout(ClassifierMixin, BaseEstimator):
    """Keep the column groups (image types or ROIs) whose own CV AUC reaches a threshold, then fit on them.

    Inside :meth:`fit` each group's columns are scored by ``folds``-fold
    cross-validation of ``estimator`` on the training rows only (patients
    grouped, as everywhere); groups with AUC >= ``threshold`` are kept (the
    best one when none reaches it) and ``estimator`` is refitted on their
    columns. Placed in an outer cross-validation, the choice is made again in
    every fold, so it never sees the held-out patients.
    """

    def __init__(self, estimator=None, column_groups=None, threshold: float = 0.6, folds: int = 3,
                 random_state=None):
        self.estimator = estimator
        self.column_groups = column_groups
        self.threshold = threshold
        self.folds = folds
        self.random_state = random_state

    def fit(self, X, y):
        from sklearn.metrics import roc_auc_score

        from radgui.model.learners import set_seed
        from radgui.model.steps import GroupedStratifiedKFold
        from radgui.model.validation import score

        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.scores_ = {}
        cv = GroupedStratifiedKFold(self.folds, shuffle=True, random_state=self.random_state)
        splits = list(cv.split(X, y))
        for g, cols in self.column_groups.items():
            Xg = X[list(cols)]
            oof = np.full(len(y), np.nan)
            for tr, te in splits:
                est = set_seed(clone(self.estimator), self.random_state).fit(Xg.iloc[tr], y[tr])
                oof[te] = score(est, Xg.iloc[te])
            self.scores_[g] = float(roc_auc_score(y, oof))
        kept = [g for g, a in self.scores_.items() if a >= self.threshold]
        self.kept_ = kept or [max(self.scores_, key=self.scores_.get)]
        self.columns_ = [c for g in self.kept_ for c in self.column_groups[g]]
        self.estimator_ = set_seed(clone(self.estimator), self.random_state).fit(X[self.columns_], y)
        return self

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X[self.columns_])

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


def column_groups(columns, by: str) -> dict[str, list[str]]:
    """Columns grouped by base image type (``log-sigma-3-0-mm-3D`` -> ``log``) or by ROI."""
    groups: dict[str, list[str]] = {}
    for c in columns:
        roi, itype, _, _ = parse_column(c)
        key = roi if by == "roi" else (itype.split("-")[0] if itype else "")
        groups.setdefault(key or "(none)", []).append(c)
    return groups


# ------------------------------------------------------------------ the multi-model run
@dataclass
class StudyModel:
    """One model of a study: its resolved columns and variables, estimator, and predictions."""

    spec: dict
    columns: list[str]
    variables: dict
    estimator: object = None
    cv: object = None
    fitted: object = None
    cutoff: float = math.nan
    cutoff_source: str = ""
    predictions: dict = field(default_factory=dict)  # cohort -> probability array

    @property
    def name(self) -> str:
        return self.spec["name"]

    def view(self, c):
        if self.spec["kind"] == "radiomics":
            return c.features[self.columns]
        if self.spec["kind"] == "clinical":
            return c.clinical[list(self.variables)]
        clin = c.clinical[list(self.variables)].copy()
        clin.index = c.features.index
        return pd.concat([c.features[self.columns], clin], axis=1)


def _estimator(model: StudyModel, config, icc, seed):
    from radgui.model.clinical import ClinicalLogistic, CombinedModel
    from radgui.model.learners import build_pipeline

    spec, cm = model.spec, config.clinical_model
    if spec["kind"] == "clinical":
        return ClinicalLogistic(model.variables, cm["screen_p"], cm["direction"])
    rad = build_pipeline(spec["steps"], spec["learner"], icc=icc, seed=seed)
    if spec["kind"] == "combined":
        return CombinedModel(rad, list(model.columns), model.variables, cm["screen_p"], cm["direction"],
                             random_state=seed)
    if spec["scout"]:
        sc = spec["scout"]
        return GroupScout(rad, column_groups(model.columns, sc["by"]), sc["threshold"], sc["folds"],
                          random_state=seed)
    return rad


@dataclass
class Comparison:
    """What :func:`iter_compare` returns: the models, their comparison, and per-cohort prediction frames."""

    models: list
    metrics: dict
    frames: dict
    final: StudyModel
    reason: str
    split: dict


def iter_study(config) -> Generator[Step, None, object]:
    """Run every model of a ``models:``/``grid:`` config on one split and one fold plan; returns a TrainResult.

    The returned :class:`~radgui.model.train.TrainResult` is the final
    model's single-model result (bundle, its own report pages) with
    ``metrics["comparison"]`` (see :func:`compare_models`) and
    ``result.comparison`` (per cohort, a frame of every model's validated
    predictions) added.
    """
    from radgui.model.train import iter_train

    if config.outcome is None:  # survival-only: LASSO-Cox models compared by C-index
        return (yield from iter_survival_study(config))
    cmp = yield from iter_compare(config)
    final, reason, split_info, comparison, models = cmp.final, cmp.reason, cmp.split, cmp.metrics, cmp.models
    yield Step(0, None, f"building the final model ({final.name})")
    final_cfg = final_config(config, final, split_info)
    result = yield from iter_train(final_cfg)
    result.config = config
    result.metrics["comparison"] = comparison
    result.metrics["study"] = {"final": final.name, "final_reason": reason, "n_models": len(models)}
    result.comparison = cmp.frames
    result.study_models = models
    return result


def iter_compare(config) -> Generator[Step, None, Comparison]:
    """The comparison stage of :func:`iter_study`: every model's nested CV on one fold plan, fits, comparison."""
    from radgui.model.learners import set_seed
    from radgui.model.train import _class_counts, _read_icc, load_cohort, split_cohorts
    from radgui.model.validation import fold_plan, iter_repeated_cv, score
    from radgui.stats import youden_cutoff

    seed = config.seed
    yield Step(0, None, "reading tables")
    cohort = load_cohort(config, config.features, config.clinical)
    all_columns = list(cohort.features.columns)
    models = []
    for spec in config.models:
        cols = [] if spec["kind"] == "clinical" else resolve_subset(spec["features"], all_columns,
                                                                     f"{spec['source']}.features")
        models.append(StudyModel(spec, cols, {v: config.clinical_variables[v] for v in spec["clinical"]}))
    icc = _read_icc(config.icc_table) if config.icc_table else None
    train_c, test_c, test_name, externals, split_info = split_cohorts(config, cohort)
    counts = _class_counts(train_c)
    val = config.validation
    repeats, folds, n_jobs = val["repeats"], val["folds"], val["n_jobs"]
    if min(counts) < folds:
        raise ConfigError(f"the training cohort has {counts[1]} events and {counts[0]} non-events; "
                          f"{folds}-fold cross-validation needs at least {folds} of each", config.source)
    plan = fold_plan(train_c.y, train_c.groups, repeats, folds, seed) if repeats > 0 else None
    cohorts = {"train": train_c}
    if test_c is not None:
        cohorts[test_name] = test_c
    cohorts.update(externals)
    total = len(models) * (max(repeats, 0) * folds + 1) + 2
    done = 0
    for m in models:
        m.estimator = _estimator(m, config, icc, seed)
        if plan is not None:
            gen = iter_repeated_cv(m.estimator, m.view(train_c), train_c.y, repeats=repeats, folds=folds,
                                   seed=seed, n_jobs=n_jobs, plan=plan, scheduler=val.get("scheduler"))
            while True:
                try:
                    s = next(gen)
                except StopIteration as stop:
                    m.cv = stop.value
                    break
                if s.done:
                    done += 1
                yield Step(done, total, f"model {m.name}: {s.message}")
        m.fitted = set_seed(clone(m.estimator), seed).fit(m.view(train_c), train_c.y)
        done += 1
        yield Step(done, total, f"model {m.name}: fitted on the training cohort")
        for cname, c in cohorts.items():
            m.predictions[cname] = score(m.fitted, m.view(c))
        if m.cv is not None:
            m.predictions["cross-validated"] = m.cv.prediction
            m.cutoff_source = "nested cross-validation (mean out-of-fold prediction)"
            cut_p = m.cv.prediction
        else:
            m.cutoff_source = "apparent training predictions (no cross-validation ran)"
            cut_p = m.predictions["train"]
        m.cutoff = float(youden_cutoff(train_c.y, np.asarray(cut_p, float)).threshold)

    yield Step(done, total, "comparing the models")
    frames = {}
    order = ["cross-validated"] if plan is not None else []
    order += [c for c in cohorts if c != "train"] + ["train"]
    for cname in order:
        c = train_c if cname in ("train", "cross-validated") else cohorts[cname]
        f = pd.DataFrame({"y": c.y}, index=c.features.index.get_level_values("patient_id"))
        for m in models:
            f[m.name] = m.predictions[cname]
        frames[cname] = f
    cuts = config.comparison.get("nri_cutoffs") or [round(float(train_c.y.mean()), 4)]
    comparison = compare_models(frames, {m.name: m.cutoff for m in models}, nri_cutoffs=cuts,
                                groups={k: (train_c if k in ("train", "cross-validated") else cohorts[k]).groups
                                        for k in frames})
    final, reason = choose_final(models, comparison, test_name)
    comparison["models"] = [_model_entry(m, final) for m in models]
    comparison["final"] = final.name
    comparison["final_reason"] = reason
    comparison["folds"] = {"repeats": repeats, "folds": folds, "shared": True,
                           "grouped": train_c.groups is not None, "seed": seed}
    comparison["split"] = split_info
    comparison["nri_cutoffs"] = cuts

    return Comparison(models, comparison, frames, final, reason, split_info)


def final_config(config, final: StudyModel, split_info: dict):
    """The single-model config of the final model: its columns, steps, learner, variables; the same split."""
    cfg = copy.copy(config)
    cfg.models = []
    cfg.feature_columns = list(final.fitted.columns_ if final.spec["scout"] else final.columns)
    cfg.steps = dict(final.spec["steps"])
    cfg.learner = dict(final.spec["learner"])
    cfg.model_variables = list(final.variables)
    split = dict(config.split)
    split.pop("balance", None)
    split["seed"] = split_info.get("seed", split.get("seed", config.seed))
    cfg.split = split
    return cfg


def choose_final(models, comparison, test_name) -> tuple[StudyModel, str]:
    """The model marked ``final: true``, else the radiomics/combined model with the best validated AUC."""
    for m in models:
        if m.spec["final"]:
            return m, "marked final: true in the config"
    cand = [m for m in models if m.spec["kind"] != "clinical"]
    source = "cross-validated" if "cross-validated" in comparison["cohorts"] else test_name
    if source is None:
        source = "train"
    aucs = {m.name: comparison["cohorts"][source]["models"][m.name]["auc"] for m in cand}
    best = max(cand, key=lambda m: (aucs[m.name] if math.isfinite(aucs[m.name]) else -1))
    what = {"cross-validated": "nested cross-validation (out-of-fold)", "train": "training (apparent!)"}.get(
        source, f"{source} cohort")
    caveat = "" if source == "cross-validated" else (
        f"; no cross-validation ran, so the {what} AUC both chose the model and validates it: it is optimistic")
    return best, (f"no model was marked final: true; {best.name} has the best {what} AUC "
                  f"({aucs[best.name]:.3f}) of the radiomics and combined models{caveat}")


def _model_entry(m: StudyModel, final) -> dict:
    e = {"name": m.name, "kind": m.spec["kind"], "final": m is final, "subset": m.spec["features"],
         "n_features": len(m.columns), "features": list(m.columns), "clinical": list(m.variables),
         "steps": m.spec["steps"], "learner": m.spec["learner"],
         "cutoff": {"value": m.cutoff, "source": m.cutoff_source}}
    if m.cv is not None:
        e["cross_validation"] = m.cv.summary()
    if m.spec["scout"]:
        e["scout"] = {**m.spec["scout"], "kept_on_training": list(m.fitted.kept_),
                      "auc_on_training": dict(m.fitted.scores_),
                      "note": "types chosen again inside every outer fold; the final model uses the types kept "
                              "on the whole training cohort"}
    return e


#: How each cohort's predictions were obtained (comparison tables).
PREDICTION_KIND = {"cross-validated": "out-of-fold (nested cross-validation), validated",
                   "test": "held-out test cohort, validated", "train": "apparent (training patients), optimistic"}


def compare_models(frames: dict, cutoffs: dict, nri_cutoffs=None, groups=None) -> dict:
    """Every model per cohort and every pair of models, from each cohort's predictions.

    Parameters
    ----------
    frames : dict cohort -> DataFrame
        Column ``y`` and one probability column per model.
    cutoffs : dict model -> float
        Each model's training cutoff (Youden on its out-of-fold predictions).
    nri_cutoffs : list of float
        Risk categories of the categorical NRI.

    Returns
    -------
    dict
        ``{"cohorts": {cohort: {"prediction", "validated", "n", "events",
        "models": {model: {auc, auc_ci_low, auc_ci_high, pr_auc, pr_auc_ci_low,
        pr_auc_ci_high, cutoff, accuracy, sensitivity, specificity, ppv, npv,
        calibration}}, "pairs": {"B vs A": {old, new, delong, nri_continuous,
        nri_categorical, idi}}}}}``. NRI and IDI are those of the second
        named (``new``) over the first (``old``) as :func:`radgui.stats.nri`
        and :func:`radgui.stats.idi` compute them.
    """
    from radgui.errors import StatsInputError
    from radgui.stats import binary_metrics, calibration, delong_test, idi, nri, pr_auc, roc_auc

    def rec(r):
        return {"value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value,
                "events": r.events, "nonevents": r.nonevents}

    out = {}
    for cname, f in frames.items():
        y = f["y"].to_numpy(int)
        names = [c for c in f.columns if c != "y"]
        ms = {}
        for n in names:
            p = f[n].to_numpy(float)
            r = roc_auc(y, p)
            pr = pr_auc(y, p, n_boot=200, seed=0)
            bm = binary_metrics(y, p, cutoffs[n])
            e = {"auc": r.auc, "auc_ci_low": r.ci_low, "auc_ci_high": r.ci_high, "pr_auc": pr.auc,
                 "pr_auc_ci_low": pr.ci_low, "pr_auc_ci_high": pr.ci_high, "cutoff": cutoffs[n],
                 **{k: getattr(bm, k) for k in ("accuracy", "sensitivity", "specificity", "ppv", "npv")}}
            try:
                cal = calibration(y, p)
                e["calibration"] = {"slope": cal.slope, "intercept": cal.intercept, "brier": cal.brier}
            except StatsInputError as exc:
                e["calibration"] = {"error": exc.reason, "brier": float(np.mean((p - y) ** 2))}
            ms[n] = e
        pairs = {}
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                pa, pb = f[a].to_numpy(float), f[b].to_numpy(float)
                d = delong_test(y, pb, pa)  # difference new - old
                pairs[f"{b} vs {a}"] = {
                    "old": a, "new": b,
                    "delong": {"auc_old": d.auc_b, "auc_new": d.auc_a, "diff": d.auc_a - d.auc_b, "z": d.z,
                               "p_value": d.p_value, "diff_ci_low": d.diff_ci_low, "diff_ci_high": d.diff_ci_high},
                    "nri_continuous": rec(nri(y, pa, pb)),
                    "nri_categorical": {**rec(nri(y, pa, pb, cutoffs=nri_cutoffs)), "cutoffs": list(nri_cutoffs)}
                    if nri_cutoffs else None,
                    "idi": rec(idi(y, pa, pb))}
        g = None if groups is None else groups.get(cname)
        out[cname] = {"prediction": PREDICTION_KIND.get(cname, f"external cohort '{cname}', validated"),
                      "validated": cname != "train", "n": int(len(y)), "events": int(y.sum()),
                      "n_patients": int(len(np.unique(g))) if g is not None else int(len(y)),
                      "models": ms, "pairs": pairs}
    return {"cohorts": out}


# ------------------------------------------------------------------ survival models (survival-only configs)
#: Bootstrap replicates of the C-index (and time-dependent AUC) CIs and paired differences of the survival comparison.
N_BOOT_C = 500
#: Fewest events an external survival cohort must have (as ``radgui evaluate`` of a Cox bundle).
MIN_EXTERNAL_EVENTS = 2
#: How each cohort's predictions were obtained (survival comparison tables).
SURVIVAL_PREDICTION_KIND = {"cross-validated": "out-of-fold (repeated cross-validation, mean prediction), validated",
                            "train": "apparent (training patients), optimistic"}
EXTERNAL_KIND = "external cohort, validated"


def _c_index_ci(time, event, risk, groups=None, seed: int = 0) -> dict:
    """Harrell's C of ``risk`` with a percentile bootstrap CI (patients resampled whole when ``groups``)."""
    from radgui.stats import bootstrap_ci, concordance_index

    t, e, r = np.asarray(time, float), np.asarray(event, int), np.asarray(risk, float)
    try:
        c = concordance_index(t, e, r)
    except (RadguiError, ValueError):  # no usable pair: undefined, said by NaN (the caller records why)
        return {"c_index": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    try:
        ci = bootstrap_ci(lambda ev, tt, rr: concordance_index(tt, ev, rr), e, t, r, n_boot=N_BOOT_C,
                          seed=seed, groups=groups)
        low, high = float(ci.ci_low), float(ci.ci_high)
    except (RadguiError, ValueError):
        low = high = math.nan
    return {"c_index": float(c), "ci_low": low, "ci_high": high}


def _survival_estimator(m: StudyModel, config, icc, seed: int, horizon: float):
    """The Cox model of one survival study model: Radscore (radiomics), clinical variables, or both (combined).

    Every kind is a :class:`~radgui.model.train_survival.CoxCombined`: a
    LASSO-Cox Radscore on the model's columns (not for ``clinical``) and the
    model's clinical variables screened by univariate Cox (not for
    ``radiomics``), then one Cox regression; the bundled model of the run is
    the same procedure.
    """
    from radgui.model.learners import build_pipeline
    from radgui.model.train_survival import CoxCombined, CoxRadscore, lasso_params

    screen_p = config.clinical_model["screen_p"]
    if m.spec["kind"] == "clinical":
        return CoxCombined(None, [], dict(m.variables), screen_p, horizon)
    sub = copy.copy(config)
    sub.steps = dict(m.spec["steps"])
    pipe = build_pipeline({k: v for k, v in sub.steps.items() if k != "lasso"}, {"name": "logistic"},
                          icc=icc, seed=seed)
    pipe.steps[-1] = ("learner", CoxRadscore(**lasso_params(sub), random_state=seed))
    return CoxCombined(pipe, list(m.columns), dict(m.variables) if m.spec["kind"] == "combined" else {},
                       screen_p, horizon)


def load_survival_externals(config, feature_columns, taken) -> dict:
    """The ``external:`` cohorts of a survival study, each checked: survival times >= 0 and enough events.

    ``taken`` are the cohort names already used (``train``, the test cohort's).
    """
    from radgui.model.train import load_cohort

    out = {}
    for e in getattr(config, "external", None) or []:
        name = e["name"]
        if name in taken:
            raise ConfigError(f"external cohort name '{name}' is also the name of the {name} cohort of "
                              "split.method; give the external cohort another name", config.source)
        c = load_cohort(config, e["features"], e["clinical"], feature_columns=list(feature_columns))
        where = e["clinical"] or e["features"]
        if (c.time < 0).any():
            raise ConfigError(f"external cohort '{name}': survival time '{config.survival['time']}' is negative for "
                              f"{int((c.time < 0).sum())} patient(s)", where)
        d = int(c.event.sum())
        if d < MIN_EXTERNAL_EVENTS:
            raise ConfigError(f"external cohort '{name}' has {d} event{'s' if d != 1 else ''} "
                              f"('{config.survival['event']}' = 1); validating a survival model needs at least "
                              f"{MIN_EXTERNAL_EVENTS}", where)
        out[name] = c
    return out


def _ipcw(ref, time, event) -> np.ndarray:
    """Inverse-probability-of-censoring weights of a cohort's rows, censoring estimated on ``ref`` (scikit-survival)."""
    from sksurv.nonparametric import CensoringDistributionEstimator

    from radgui.model.survival import _surv

    return CensoringDistributionEstimator().fit(_surv(ref[0], ref[1])).predict_ipcw(_surv(time, event))


def _auc_at(horizon: float, tied_tol: float = 1e-8):
    """``metric(event, risk, time, ipcw)``: the cumulative/dynamic AUC at ``horizon``.

    The computation of :func:`sksurv.metrics.cumulative_dynamic_auc` at one
    time (cases: an event by the horizon, weighted by their IPCW; controls:
    still event-free after it; the trapezoidal area under the weighted ROC,
    tied risks as one threshold), with the weights computed once per cohort
    (:func:`_ipcw`: a row's weight depends only on its own time and the
    training censoring), so that a bootstrap replicate costs a sort instead
    of a censoring fit. A horizon outside ``[min, max)`` of a replicate's
    times raises ``ValueError`` as scikit-survival does.
    """
    h = float(horizon)

    def metric(e, r, t, w):
        e, r, t, w = np.asarray(e, bool), np.asarray(r, float), np.asarray(t, float), np.asarray(w, float)
        if h >= t.max() or h < t.min():
            raise ValueError(f"all times must be within follow-up time of test data: [{t.min()}; {t.max()}[")
        o = np.argsort(-r)
        r, t, e, w = r[o], t[o], e[o], w[o]
        case, control = (t <= h) & e, t > h
        tp, fp = np.cumsum(case * w), np.cumsum(control)
        if tp[-1] <= 0 or fp[-1] == 0:
            raise ValueError("no case or no control at the horizon")
        tied = np.abs(np.diff(np.r_[np.inf, r])) <= tied_tol
        keep = np.ones(r.size, bool)
        keep[np.flatnonzero(tied) - 1] = False  # the last of tied risks only
        tpr, fpr = np.r_[0, tp[keep] / tp[-1]], np.r_[0, fp[keep] / fp[-1]]
        return float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2))

    return metric


def survival_pairwise(time, event, lps: dict, ref, horizon: float, *, groups=None, seed: int = 0,
                      n_boot: int | None = None) -> tuple[dict, dict]:
    """Every model's C-index and AUC at the horizon with CIs, and every pair's paired differences, on one cohort.

    Parameters
    ----------
    time, event : array-like
        The cohort's follow-up and event indicator.
    lps : dict model -> array-like
        Each model's linear predictor on the cohort's rows (validated: out-of-fold, held-out or external).
    ref : (time, event)
        The training cohort, whose censoring distribution the time-dependent AUC uses.
    horizon : float
    groups : array-like, optional
        Patient of each row: whole patients are resampled.
    seed : int
        One seed, one set of replicates (:func:`radgui.stats.paired_bootstrap`) for every model, both metrics
        and every pair.
    n_boot : int, optional
        Replicates (default :data:`N_BOOT_C`).

    Returns
    -------
    (per_model, pairs)
        ``per_model[m] = {c_index, ci_low, ci_high, auc_at_horizon, auc_ci_low, auc_ci_high}`` and
        ``pairs["B vs A"] = {old, new, c_index: {value_old, value_new, diff, ci_low, ci_high, p_value, ...},
        auc_at_horizon: {...} or {"error": ...}}`` (differences are B minus A).
    """
    from radgui.stats import paired_bootstrap, paired_c_index

    n_boot = N_BOOT_C if n_boot is None else int(n_boot)
    t, e = np.asarray(time, float), np.asarray(event, int)
    names = list(lps)
    try:
        c = paired_c_index(t, e, lps, n_boot=n_boot, seed=seed, groups=groups)
    except (RadguiError, ValueError) as exc:  # e.g. no usable pair in the replicates: say so, do not stop the study
        why = str(exc).splitlines()[0]
        per = {m: _c_index_ci(t, e, lp, groups=groups, seed=seed) for m, lp in lps.items()}
        pairs = {f"{b} vs {a}": {"old": a, "new": b, "c_index": {"error": why}, "auc_at_horizon": {"error": why}}
                 for i, a in enumerate(names) for b in names[i + 1:]}
        return per, pairs
    per = {m: {"c_index": c.estimates[m], "ci_low": c.intervals[m][0], "ci_high": c.intervals[m][1]} for m in names}
    auc, auc_error = None, None
    try:
        auc = paired_bootstrap(_auc_at(horizon), e, lps, t, _ipcw(ref, t, e), n_boot=n_boot, seed=seed,
                               groups=groups)
    except (RadguiError, ValueError) as exc:
        auc_error = str(exc).splitlines()[0]
    for m in names:
        if auc is not None:
            per[m].update(auc_at_horizon=auc.estimates[m], auc_ci_low=auc.intervals[m][0],
                          auc_ci_high=auc.intervals[m][1])
    pairs = {}
    for key, d in c.pairs.items():
        entry = {"old": d.old, "new": d.new, "c_index": d.to_dict()}
        if auc is not None and key in auc.pairs:
            entry["auc_at_horizon"] = auc.pairs[key].to_dict()
        else:
            entry["auc_at_horizon"] = {"error": auc_error or "the time-dependent AUC is undefined on this cohort"}
        pairs[key] = entry
    return per, pairs


def iter_survival_study(config) -> Generator[Step, None, object]:
    """``models:`` of a survival-only config: Cox models compared on one split and one fold plan.

    Each model is a Cox regression (:func:`_survival_estimator`): ``kind:
    radiomics`` on a LASSO-Cox Radscore of its feature subset, ``kind:
    clinical`` on its univariate-Cox-screened clinical variables, ``kind:
    combined`` on both. They are compared per cohort by Harrell's C (bootstrap
    CI) and the time-dependent AUC at the horizon, on validated predictions:
    out-of-fold (repeated CV, the same folds for every model), held-out test,
    and every ``external:`` cohort (labelled "external cohort, validated");
    the training cohort's apparent numbers are listed, labelled, and never
    used for a choice. Every pair of models is compared on every validated
    cohort by the paired bootstrap difference in C-index and in AUC at the
    horizon (the same replicates for both models, patients resampled whole
    when grouped; :func:`survival_pairwise`), in
    ``metrics["comparison"]["pairwise"]``.

    The final model (``final: true``, else the radiomics or combined model
    with the best out-of-fold C-index, the test cohort's without CV) is then
    trained and bundled by the single-model survival path: the same
    procedure, so its bundle has the same linear predictor as its row of
    the comparison.
    """
    from radgui.model.learners import set_seed
    from radgui.model.train import _read_icc, iter_train, load_cohort, split_cohorts
    from radgui.model.train_survival import _surv_y, _time_dependent, check_survival_cohort, iter_survival_cv

    seed, horizon = config.seed, float(config.survival["horizon"])
    yield Step(0, None, "reading tables")
    cohort = load_cohort(config, config.features, config.clinical)
    check_survival_cohort(config, cohort.time, cohort.event, "cohort", config.clinical or config.features)
    all_columns = list(cohort.features.columns)
    icc = _read_icc(config.icc_table) if config.icc_table else None
    plain = copy.copy(config)
    plain.external = []  # external survival cohorts are read and checked here (events, not two classes)
    train_c, test_c, test_name, _, split_info = split_cohorts(plain, cohort)
    check_survival_cohort(config, train_c.time, train_c.event, "training cohort")
    val = config.validation
    cohorts = {"train": train_c} | ({test_name: test_c} if test_c is not None else {})
    externals = load_survival_externals(config, all_columns, set(cohorts) | {"cross-validated"})
    cohorts.update(externals)
    models = []
    total, done = len(config.models) * (val["repeats"] * val["folds"] + 1) + 1, 0
    for spec in config.models:
        cols = [] if spec["kind"] == "clinical" else resolve_subset(spec["features"], all_columns,
                                                                     f"{spec['source']}.features")
        m = StudyModel(spec, cols, {v: config.clinical_variables[v] for v in spec["clinical"]})
        m.estimator = _survival_estimator(m, config, icc, seed, horizon)
        if val["repeats"] > 0:  # the same seed, events and groups: every model gets the same folds
            gen = iter_survival_cv(m.estimator, train_c.both, _surv_y(train_c), repeats=val["repeats"],
                                   folds=val["folds"], seed=seed, n_jobs=val["n_jobs"])
            while True:
                try:
                    s = next(gen)
                except StopIteration as stop:
                    m.cv = stop.value
                    break
                yield Step(done + s.done, total, f"model {m.name}: {s.message}")
            done += val["repeats"] * val["folds"]
            m.predictions["cross-validated"] = m.cv.pop("prediction")
        m.fitted = set_seed(clone(m.estimator), seed).fit(train_c.both, _surv_y(train_c))
        done += 1
        yield Step(done, total, f"model {m.name}: fitted on the training cohort")
        for cname, c in cohorts.items():
            m.predictions[cname] = m.fitted.decision_function(c.both)
        models.append(m)

    yield Step(done, total, "comparing the survival models")
    order = (["cross-validated"] if val["repeats"] > 0 else []) + [c for c in cohorts if c != "train"] + ["train"]
    kind = {**SURVIVAL_PREDICTION_KIND, **({test_name: "held-out test cohort, validated"} if test_name else {})}
    ref = (train_c.time, train_c.event)
    table, pairwise = {}, {}
    for cname in order:
        c = train_c if cname in ("train", "cross-validated") else cohorts[cname]
        lps = {m.name: np.asarray(m.predictions[cname], float) for m in models}
        if cname == "train":  # apparent: each model's C with its CI, no pairwise test on optimistic numbers
            rows = {n: _c_index_ci(c.time, c.event, lp, groups=c.groups, seed=seed) for n, lp in lps.items()}
        else:
            rows, pairwise[cname] = survival_pairwise(c.time, c.event, lps, ref, horizon, groups=c.groups, seed=seed)
        for n, lp in lps.items():  # the point values of scikit-survival (as the single-model path reports them)
            td = _time_dependent(ref, c.time, c.event, lp, np.full(len(lp), 0.5), horizon)  # prob unused here
            rows[n]["auc_at_horizon"], rows[n]["uno_c"] = td.get("auc"), td.get("uno_c")
            if td.get("auc_error"):
                rows[n]["auc_error"] = td["auc_error"]
        table[cname] = {"prediction": EXTERNAL_KIND if cname in externals else kind.get(cname, f"{cname} cohort"),
                        "validated": cname != "train", "external": cname in externals, "n": int(len(c.time)),
                        "events": int(np.sum(c.event)),
                        "n_patients": int(len(np.unique(c.groups))) if c.groups is not None else int(len(c.time)),
                        "longest_follow_up": float(np.max(c.time)), "models": rows}
    final, reason = _choose_survival_final(models, table, test_name)
    comparison = {"endpoint": config.survival.get("name"), "horizon": horizon, "cohorts": table,
                  "pairwise": pairwise,
                  "models": [_survival_model_entry(m, final) for m in models],
                  "final": final.name, "final_reason": reason,
                  "folds": {"repeats": val["repeats"], "folds": val["folds"], "shared": True,
                            "grouped": train_c.groups is not None, "seed": seed},
                  "split": split_info, "externals": list(externals),
                  "c_index_ci": f"percentile bootstrap, {N_BOOT_C} replicates"
                  + (", patients resampled whole" if train_c.groups is not None else ""),
                  "pairwise_method": f"paired bootstrap ({N_BOOT_C} replicates, stratified on the event"
                  + (", patients resampled whole" if train_c.groups is not None else "") + "; the same replicates "
                  "for both models): difference (new - old) in Harrell's C and in the AUC at the horizon, "
                  "percentile 95% CI, two-sided p = min(1, 2(k + 1)/(B + 1)); validated cohorts only",
                  "auc_at_horizon": "cumulative/dynamic AUC at the horizon (IPCW, censoring of the training cohort)"}
    yield Step(0, None, f"building the final model ({final.name})")
    cfg = copy.copy(config)
    cfg.models = []
    cfg.external = []
    cfg.feature_columns = list(final.columns)
    cfg.steps = dict(final.spec["steps"])
    cfg.model_variables = list(final.variables)  # the bundle is the compared model: a radiomics one adds no variable
    split = dict(config.split)
    split.pop("balance", None)
    split["seed"] = split_info.get("seed", split.get("seed", config.seed)) if config.split["method"] == "holdout" \
        else split.get("seed")
    if split["seed"] is None:
        split.pop("seed")
    cfg.split = split
    result = yield from iter_train(cfg)
    result.config = config
    result.metrics["comparison"] = comparison
    result.metrics["study"] = {"final": final.name, "final_reason": reason, "n_models": len(models)}
    result.study_models = models
    for name, c in externals.items():  # the bundled model's own external validation (K-M, calibration pages)
        _validate_external(result, name, c, ref, horizon)
    if result.prediction_table is None:
        result.prediction_table = _survival_prediction_table(result, models, test_name, externals)
    return result


def _validate_external(result, name: str, c, ref, horizon: float) -> None:
    """The bundled Cox model on one external cohort, as ``metrics["survival"][name]`` and ``predictions[name]``.

    The same numbers as the training and test cohorts get (Harrell's C, K-M by
    the training median cutoff with log-rank and HR, time-dependent AUC, Uno's
    C and Brier at the horizon, calibration at the horizon), so the report's
    Kaplan-Meier and discrimination pages list the external cohort too.
    """
    from radgui.model.train import _survival_metrics
    from radgui.model.train_survival import _time_dependent, calibration_at_horizon

    fitted, cutoff = result.combined, result.metrics["cutoff"]["value"]
    lp = fitted.decision_function(c.both)
    frame = pd.DataFrame({"y": c.event, "time": c.time, "event": c.event, "cox": lp, "linear_predictor": lp,
                          "radscore": fitted.radscore(c.both)}, index=c.features.index.get_level_values("patient_id"))
    try:
        s = _survival_metrics(frame, cutoff, final="cox")
    except RadguiError as exc:
        result.metrics.setdefault("warnings", []).append(
            f"external cohort '{name}': the final model's survival metrics are undefined ({exc.reason})")
        return
    prob = 1 - fitted.s0_ ** np.exp(lp)
    s["time_dependent"] = {"horizon": horizon, **_time_dependent(ref, c.time, c.event, lp, prob, horizon)}
    s["calibration_at_horizon"] = calibration_at_horizon(c.time, c.event, prob, horizon)
    s["prediction"] = EXTERNAL_KIND
    longest = float(np.max(c.time))
    if horizon > longest:
        s["note"] = (f"the horizon ({horizon:g}) is beyond this cohort's longest follow-up ({longest:g}): "
                     "observed risks at the horizon are carried forward from the last follow-up")
    result.metrics["survival"][name] = s
    result.predictions[name] = frame


def _choose_survival_final(models, table, test_name) -> tuple[StudyModel, str]:
    """``final: true``, else the radiomics/combined model with the best out-of-fold (else test) C-index."""
    final = next((m for m in models if m.spec["final"]), None)
    if final is not None:
        return final, "marked final: true in the config"
    source = "cross-validated" if "cross-validated" in table else (test_name or "train")
    cand = [m for m in models if m.spec["kind"] != "clinical"]
    score = {m.name: table[source]["models"][m.name]["c_index"] for m in cand}
    final = max(cand, key=lambda m: score[m.name] if math.isfinite(score[m.name]) else -1)
    what = {"cross-validated": "out-of-fold", "train": "training (apparent!)"}.get(source, f"{source} cohort")
    caveat = "" if source == "cross-validated" else (
        "; no cross-validation ran, so this choice is optimistic" if source == "train" else
        f"; no cross-validation ran, so the {source} C-index both chose the model and validates it: it is optimistic")
    return final, (f"no model was marked final: true; {final.name} has the best {what} C-index "
                   f"({score[final.name]:.3f}) of the radiomics and combined models{caveat}")


def _survival_model_entry(m: StudyModel, final) -> dict:
    f = m.fitted
    e = {"name": m.name, "kind": m.spec["kind"], "final": m is final, "subset": m.spec["features"],
         "n_features": len(m.columns), "features": list(m.columns), "clinical": list(m.variables),
         "steps": m.spec["steps"] if m.spec["kind"] != "clinical" else None,
         "terms": [v for v in f.selected_],
         "radscore_features": list(f.radiomics_[-1].coefficients_) if f.radiomics_ is not None else [],
         "clinical_screening": dict(f.screening_)}
    if f.screening_fallback_:
        e["clinical_screening_fallback"] = (f"no variable reached p < {f.screen_p:g}; {f.screening_fallback_} "
                                            "(smallest p) was kept")
    if m.cv is not None:
        e["cross_validation"] = m.cv
    return e


def _survival_prediction_table(result, models, test_name, externals=None) -> pd.DataFrame:
    """``predictions.csv`` of a survival study: per patient and cohort the bundled model's linear predictor,
    Radscore and risk group (cutoff: median training linear predictor), and each compared model's linear predictor
    (``lp:<model>``; ``lp_oof:<model>`` out-of-fold on the training rows); external cohorts' rows too."""
    cutoff = result.metrics.get("cutoff", {}).get("value")
    frames = []
    for name, kind in (("train", "apparent (training)"), (test_name, "held-out")):
        if name is None or name not in result.predictions:
            continue
        f = result.predictions[name]
        t = pd.DataFrame({"id": f.index.astype(str), "cohort": name, "time": f["time"].to_numpy(),
                          "event": f["event"].to_numpy(), "linear_predictor": f["linear_predictor"].to_numpy(),
                          "radscore": f["radscore"].to_numpy(), "prediction": kind})
        if cutoff is not None:
            t["risk_group"] = np.where(t["linear_predictor"] >= cutoff, "high", "low")
        for m in models:
            t[f"lp:{m.name}"] = np.asarray(m.predictions[name], float)
            if name == "train" and "cross-validated" in m.predictions:
                t[f"lp_oof:{m.name}"] = np.asarray(m.predictions["cross-validated"], float)
        frames.append(t)
    for name, c in (externals or {}).items():
        fitted = result.combined
        lp = fitted.decision_function(c.both)
        t = pd.DataFrame({"id": c.features.index.get_level_values("patient_id").astype(str), "cohort": name,
                          "time": c.time, "event": c.event, "linear_predictor": lp,
                          "radscore": fitted.radscore(c.both), "prediction": "external, validated"})
        if cutoff is not None:
            t["risk_group"] = np.where(lp >= cutoff, "high", "low")
        for m in models:
            t[f"lp:{m.name}"] = np.asarray(m.predictions[name], float)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)
