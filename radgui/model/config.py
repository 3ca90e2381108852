"""The training configuration: one YAML file, validated key by key.

Example (``examples/train/config.yaml``)::

    schema_version: 1
    name: Response to therapy (synthetic demo)
    features: features.csv          # patient_id + PyRadiomics-named columns
    clinical: clinical.csv          # patient_id + clinical columns
    id_column: patient_id
    outcome: {column: response, positive: 1, direction: favourable}  # direction: adverse (default) | favourable
    group: patient                  # optional: patient column when a patient has several rows
    survival: {time: pfs_months, event: progression, horizon: 24, unit: months}
    center: center                  # optional: ComBat batch
    icc_table: icc.csv              # optional: columns feature, icc
    clinical_variables:
      age: {type: continuous, unit: years, min: 18, max: 100}
      ecog: {type: categorical, categories: ["0", "1", "2"]}
    feature_preset: {name: ct-default, hash: ""}
    split: {method: holdout, test_fraction: 0.3}
    steps:
      zscore: {}
      correlation: {threshold: 0.9}
      univariate: {test: mannwhitney, alpha: 0.05}
      lasso: {folds: 10, rule: 1se}
    learner: {name: lasso}
    clinical_model: {screen_p: 0.1, direction: both}
    validation: {repeats: 10, folds: 5, bootstrap: 100, n_jobs: 1}
    seed: 42
    intended_use: Research use only, not for clinical decisions.

Relative paths are resolved against the config file's folder. Every key is
checked; an unknown or mistyped key is an error naming it, so a typo never
silently turns a step off.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radgui.errors import ConfigError, UntrustedInputError
from radgui.model.learners import LEARNERS, STEP_ORDER, check_step_order, check_step_params
from radgui.untrusted import load_yaml_file

CONFIG_VERSION = 1

_TOP = {"schema_version", "name", "features", "clinical", "id_column", "outcome", "survival", "center",
        "icc_table", "clinical_variables", "feature_preset", "split", "steps", "learner", "clinical_model",
        "validation", "seed", "intended_use", "combat_covariates", "group",
        "models", "grid", "external", "comparison",  # study designs: see radgui.model.designs
        "timepoints"}  # dynamic studies: paired Radscore change between two time points
OUTCOME_DIRECTIONS = ("adverse", "favourable")
LEARNER_KEYS = {"lasso": set(), "logistic": set(), "svm": {"tune"}, "rf": {"tune"}, "xgboost": {"tune"},
                 "stacking": {"tune", "meta", "stack_folds"}}
MAX_SEED = 2**32 - 1
_STEP_KEYS = {
    "icc": {"threshold"}, "nzv": {"freq_cut", "unique_cut"}, "zscore": set(),
    "combat": {"parametric", "mean_only", "eps"},
    "correlation": {"threshold", "method"}, "univariate": {"test", "alpha", "min_features"},
    "mrmr": {"k", "scheme", "bins"}, "lasso": {"folds", "rule", "n_lambdas", "min_ratio", "exact"},
    "relief": {"method", "k", "n_neighbors"}, "pca": {"n_components"},
    "stability": {"n_bootstrap", "top_k", "threshold", "sample_fraction", "folds", "resample"},
    "rfe": {"n_features", "step", "estimator"},
}
# Survival-only models (``survival`` without a binary ``outcome``): the steps they run and the keys each uses.
# 'lasso' is then LASSO-Cox (radgui.model.survival.LassoCox), which has no 'exact' polish (its solver is exact).
_SURVIVAL_STEP_KEYS = {**{k: _STEP_KEYS[k] for k in ("icc", "nzv", "zscore", "combat")},
                       "lasso": {"folds", "rule", "n_lambdas", "min_ratio", "score"}}
_SURVIVAL_NEEDS = {  # why a binary-outcome step cannot run on a survival model
    "correlation": "it keeps the feature of a correlated pair more associated with the binary outcome",
    "univariate": "it tests each feature between the two classes of the binary outcome",
    "mrmr": "it ranks features by mutual information with the binary outcome",
    "stability": "it refits LASSO logistic regression of the binary outcome on bootstrap samples",
    "rfe": "it eliminates features by logistic regression of the binary outcome",
    "relief": "it weighs features by their nearest neighbours of the other binary outcome class",
}


def risk_group_label(group: str, direction: str = "adverse", outcome: str = "the outcome") -> str:
    """Words for a predicted group (``"high"``/``"low"`` probability of the modelled outcome).

    For an adverse outcome (progression, malignancy): ``"High risk"`` /
    ``"Low risk"``. For a favourable one (response): ``"High probability of
    response"`` / ``"Low probability of response"``, never "risk".
    """
    group = str(group).lower()
    if direction == "favourable":
        return f"{group.capitalize()} probability of {outcome}"
    return f"{group.capitalize()} risk"


def is_worse_group(group: str, direction: str = "adverse") -> bool:
    """True for the group with the worse prognosis (drawn in the warning colour)."""
    return (str(group).lower() == "high") != (direction == "favourable")


#: Defaults of the optional top-level keys: the one place config validation, :class:`TrainConfig`
#: and the Train dock's new config read them from. Step defaults live in the steps themselves
#: (:func:`radgui.model.learners.step_parameters`).
DEFAULTS: dict[str, Any] = {
    "name": "radiomics model",
    "id_column": "patient_id",
    "split": {"method": "holdout", "test_fraction": 0.3},
    "split_balance": {"max_smd": 0.1, "tries": 100},
    "steps": {"zscore": {}, "lasso": {}},
    "learner": {"name": "lasso"},
    "clinical_model": {"screen_p": 0.1, "direction": "both", "select": True},
    "validation": {"repeats": 10, "folds": 5, "bootstrap": 100, "n_jobs": 1},
    "seed": 42,
    "intended_use": "Research use only, not for clinical decisions.",
}


def default(key: str) -> Any:
    """A fresh copy of :data:`DEFAULTS` ``[key]`` (safe to modify)."""
    return copy.deepcopy(DEFAULTS[key])


@dataclass
class TrainConfig:
    """A validated training configuration (see the module docstring for the keys)."""

    features: Path
    outcome: dict | None
    name: str = DEFAULTS["name"]
    clinical: Path | None = None
    id_column: str = DEFAULTS["id_column"]
    group: str | None = None
    survival: dict | None = None
    center: str | None = None
    combat_covariates: list[str] = field(default_factory=list)
    icc_table: Path | None = None
    clinical_variables: dict = field(default_factory=dict)
    feature_preset: dict = field(default_factory=lambda: {"name": "", "hash": ""})
    split: dict = field(default_factory=lambda: default("split"))
    steps: dict = field(default_factory=lambda: default("steps"))
    learner: dict = field(default_factory=lambda: default("learner"))
    clinical_model: dict = field(default_factory=lambda: default("clinical_model"))
    validation: dict = field(default_factory=lambda: default("validation"))
    seed: int = DEFAULTS["seed"]
    intended_use: str = DEFAULTS["intended_use"]
    source: Path | None = None
    raw: dict = field(default_factory=dict)
    models: list = field(default_factory=list)         # several models in one run (radgui.model.designs)
    comparison: dict = field(default_factory=dict)
    external: list = field(default_factory=list)       # external cohorts: [{name, features, clinical}]
    feature_columns: list | None = None                # the model's columns (a subset of the feature table)
    model_variables: list | None = None                # the clinical variables the models use (default: all)
    endpoints: list = field(default_factory=list)      # every survival endpoint; endpoints[0] is ``survival``
    timepoints: dict | None = None                     # {column, baseline, followup}: paired Radscore change

    def to_dict(self) -> dict:
        """The config as written (paths as given), for provenance and the GUI."""
        return copy.deepcopy(self.raw)


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a training YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("training config not found", path)
    try:
        doc = load_yaml_file(path)
    except UntrustedInputError as exc:
        raise ConfigError(exc.reason, path) from None
    return config_from_dict(doc, base=path.parent, source=path)


def config_from_dict(doc: Any, base: str | Path = ".", source: str | Path | None = None) -> TrainConfig:
    """Validate a config mapping; relative paths are resolved against ``base``."""
    where = source

    def fail(msg):
        raise ConfigError(msg, where)

    if not isinstance(doc, dict):
        fail("the config must be a mapping of keys to values")
    unknown = sorted(set(doc) - _TOP)
    if unknown:
        fail(f"unknown key(s) {unknown} (known: {', '.join(sorted(_TOP))})")
    version = doc.get("schema_version", CONFIG_VERSION)
    if version != CONFIG_VERSION:
        fail(f"schema_version {version!r} is not supported (this radgui reads version {CONFIG_VERSION})")
    base = Path(base)

    def path_of(key, value, required=False):
        if value is None:
            if required:
                fail(f"key '{key}' is required (a CSV file)")
            return None
        if not isinstance(value, str):
            fail(f"key '{key}' must be a file path")
        p = Path(value)
        return p if p.is_absolute() else base / p

    def mapping(key, value, allowed, required=()):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            fail(f"key '{key}' must be a mapping")
        bad = sorted(set(value) - set(allowed))
        if bad:
            fail(f"unknown key(s) {bad} under '{key}' (known: {', '.join(sorted(allowed))})")
        for r in required:
            if r not in value:
                fail(f"key '{key}.{r}' is required")
        return dict(value)

    if doc.get("outcome") is None and doc.get("survival") is None:
        fail("key 'outcome' is required ({column: ..., positive: ...}), or 'survival' for a survival model")
    outcome = None
    if doc.get("outcome") is not None:
        outcome = mapping("outcome", doc["outcome"], {"column", "positive", "label", "direction"}, ("column",))
        outcome.setdefault("direction", "adverse")
        if outcome["direction"] not in OUTCOME_DIRECTIONS:
            fail(f"outcome.direction must be 'adverse' (the outcome is bad: progression, malignancy) or "
                 f"'favourable' (response, survival), got {outcome['direction']!r}")
    survival, endpoints = None, []
    if doc.get("survival") is not None:
        endpoints = _parse_endpoints(doc["survival"], mapping, fail)
        survival = endpoints[0]
    timepoints = None
    if doc.get("timepoints") is not None:
        timepoints = mapping("timepoints", doc["timepoints"], {"column", "baseline", "followup"},
                             ("column", "baseline", "followup"))
        for k in ("column", "baseline", "followup"):
            v = timepoints[k]
            if not isinstance(v, (str, int)) or isinstance(v, bool) or str(v) == "":
                fail(f"timepoints.{k} must be a non-empty name or value, got {v!r}")
            timepoints[k] = str(v)
        if timepoints["baseline"] == timepoints["followup"]:
            fail(f"timepoints.baseline and timepoints.followup are both {timepoints['baseline']!r}: "
                 "name two different time points")
        if not doc.get("group"):
            fail("'timepoints' pairs each patient's baseline and follow-up rows: set 'group: <patient column>'")
    steps_doc = doc.get("steps", {"zscore": {}, "lasso": {}})
    if isinstance(steps_doc, dict):
        for name in steps_doc:
            if name not in _STEP_KEYS and name != "order":
                fail(f"unknown step {name!r} under 'steps' (known, in their fixed order: {', '.join(STEP_ORDER)})")
    if outcome is None:
        if survival.get("horizon") is None:
            fail("a survival model needs 'survival.horizon' (the time at which risk is predicted)")
        _check_survival_keys(doc, fail)
    cv = {}
    for name, spec in (doc.get("clinical_variables") or {}).items():
        spec = mapping(f"clinical_variables.{name}", spec, {"type", "unit", "min", "max", "categories", "label"})
        spec.setdefault("type", "continuous")
        if spec["type"] not in ("continuous", "categorical"):
            fail(f"clinical_variables.{name}.type must be 'continuous' or 'categorical', got {spec['type']!r}")
        if spec["type"] == "categorical":
            cats = spec.get("categories")
            if not isinstance(cats, list) or len(cats) < 2:
                fail(f"clinical_variables.{name}.categories must list at least two levels")
            spec["categories"] = [str(c) for c in cats]
        for k in ("min", "max"):
            if k in spec and not isinstance(spec[k], (int, float)):
                fail(f"clinical_variables.{name}.{k} must be a number")
        cv[str(name)] = spec
    if doc.get("clinical_variables") and not doc.get("clinical"):
        fail("'clinical_variables' are listed but no 'clinical' table is given")

    split = mapping("split", doc.get("split", default("split")),
                    {"method", "test_fraction", "features", "clinical", "balance", "seed"})
    method = split.setdefault("method", DEFAULTS["split"]["method"])
    used = {"holdout": {"method", "test_fraction", "balance", "seed"}, "external": {"method", "features", "clinical"},
            "none": {"method"}}.get(method)
    if used is not None and set(split) - used:
        fail(f"key(s) {sorted(set(split) - used)} under 'split' are not used by split.method {method!r} "
             f"(it uses: {', '.join(sorted(used))})")
    if method == "holdout":
        tf = split.setdefault("test_fraction", DEFAULTS["split"]["test_fraction"])
        if not isinstance(tf, (int, float)) or not 0 < tf < 1:
            fail(f"split.test_fraction must be between 0 and 1, got {tf!r}")
        if "seed" in split and (not isinstance(split["seed"], int) or isinstance(split["seed"], bool)
                                or not 0 <= split["seed"] <= MAX_SEED):
            fail(f"split.seed must be an integer from 0 to {MAX_SEED}, got {split['seed']!r}")
        if split.get("balance") is not None:
            bal = mapping("split.balance", split["balance"], {"max_smd", "tries"})
            for k, v in DEFAULTS["split_balance"].items():
                bal.setdefault(k, v)
            if not isinstance(bal["max_smd"], (int, float)) or isinstance(bal["max_smd"], bool) \
                    or not bal["max_smd"] > 0:
                fail(f"split.balance.max_smd must be a positive number, got {bal['max_smd']!r}")
            if not isinstance(bal["tries"], int) or isinstance(bal["tries"], bool) or not 1 <= bal["tries"] <= 10000:
                fail(f"split.balance.tries must be an integer from 1 to 10000, got {bal['tries']!r}")
            if not doc.get("clinical_variables"):
                fail("split.balance compares the clinical variables of the two cohorts: list "
                     "'clinical_variables'")
            split["balance"] = bal
    elif method == "external":
        split["features"] = path_of("split.features", split.get("features"), required=True)
        split["clinical"] = path_of("split.clinical", split.get("clinical"))
    elif method != "none":
        fail(f"split.method must be 'holdout', 'external' or 'none', got {method!r}")

    steps_raw = doc.get("steps", default("steps"))
    if not isinstance(steps_raw, dict):
        fail("key 'steps' must be a mapping of step name to settings")
    steps = {}
    for name, params in steps_raw.items():
        if name == "order":  # a user step order, checked below
            continue
        if name not in _STEP_KEYS:
            fail(f"unknown step {name!r} under 'steps' (known, in their fixed order: {', '.join(STEP_ORDER)})")
        if params is False:
            continue
        keys = _SURVIVAL_STEP_KEYS[name] if outcome is None else _STEP_KEYS[name]
        steps[name] = mapping(f"steps.{name}", params if isinstance(params, dict) else {}, keys)
        if check_step_params(name, steps[name]):
            fail(check_step_params(name, steps[name]))
    if "order" in steps_raw:  # user order: every configured step once, in an order that can work
        try:
            steps["order"] = list(check_step_order(steps_raw["order"], steps))
        except ConfigError as exc:
            fail(exc.reason)
    if "pca" in steps and (doc.get("learner") if isinstance(doc.get("learner"), dict) else {}).get(
            "name", "lasso") not in ("lasso", "logistic"):
        fail("step 'pca' needs a linear learner (lasso or logistic): the bundle stores the Radscore folded back "
             "from the components onto the features, which a tree or kernel model cannot be")
    learner = mapping("learner", doc.get("learner", default("learner")), {"name", "tune", "meta", "stack_folds"})
    learner.setdefault("name", DEFAULTS["learner"]["name"])
    if learner["name"] not in LEARNERS:
        fail(f"learner.name {learner['name']!r} is not one of {', '.join(LEARNERS)}")
    unused = sorted(set(learner) - {"name"} - LEARNER_KEYS[learner["name"]])
    if unused:
        fail(f"key(s) {unused} under 'learner' are not used by learner {learner['name']!r}"
             + (f" (it uses: {', '.join(sorted(LEARNER_KEYS[learner['name']]))})"
                if LEARNER_KEYS[learner["name"]] else " (it takes no setting besides 'name')"))
    if "tune" in learner:
        mapping("learner.tune", learner["tune"], {"n_iter", "folds", "method"})
    if learner.get("meta", "logistic") not in ("logistic", "mlp"):
        fail(f"learner.meta must be 'logistic' or 'mlp', got {learner['meta']!r}")
    if outcome is None and learner["name"] != "lasso":
        fail("a survival model (no 'outcome') uses the LASSO-Cox Radscore: set learner.name to 'lasso'")
    if learner["name"] in ("lasso", "logistic") and "zscore" not in steps:
        fail(f"learner '{learner['name']}' needs the 'zscore' step (glmnet-style standardisation)")
    if "combat" in steps and not doc.get("center"):
        fail("step 'combat' needs 'center:' (the column naming each patient's center)")
    if "icc" in steps and not doc.get("icc_table"):
        fail("step 'icc' needs 'icc_table:' (a CSV with columns feature, icc)")
    clinical_model = mapping("clinical_model", doc.get("clinical_model", {}), {"screen_p", "direction", "select"})
    for k in ("screen_p", "direction"):
        clinical_model.setdefault(k, DEFAULTS["clinical_model"][k])
    if not isinstance(clinical_model.setdefault("select", DEFAULTS["clinical_model"]["select"]), bool):  # False: fixed variables, no stepwise
        fail(f"clinical_model.select must be true (screening + stepwise AIC) or false (every clinical variable, "
             f"fixed), got {clinical_model['select']!r}")
    validation = mapping("validation", doc.get("validation", {}), {"repeats", "folds", "bootstrap", "n_jobs"})
    for k, lowest in (("repeats", 0), ("folds", 2), ("bootstrap", 0), ("n_jobs", -1)):
        v = validation.setdefault(k, DEFAULTS["validation"][k])
        if not isinstance(v, int) or isinstance(v, bool) or v < lowest or (k == "n_jobs" and v == 0):
            fail(f"validation.{k} must be an integer >= {lowest}{' and not 0' if k == 'n_jobs' else ''}, got {v!r}")
    preset = mapping("feature_preset", doc.get("feature_preset", {}), {"name", "hash"})
    seed = doc.get("seed", DEFAULTS["seed"])
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        fail(f"seed must be an integer from 0 to 2**32 - 1 = {MAX_SEED} (numpy's seed range), got {seed!r}")
    covs = doc.get("combat_covariates") or []
    if not isinstance(covs, list) or any(c not in cv or cv[c]["type"] != "continuous" for c in covs):
        fail("combat_covariates must list continuous clinical_variables")
    if covs and "combat" not in steps:
        fail("combat_covariates are only used by the 'combat' step, which is not in 'steps'")
    group = doc.get("group")
    if group is not None and (not isinstance(group, str) or not group):
        fail(f"group must name the patient column (a string), got {group!r}")

    models, comparison, external = [], {}, []
    if doc.get("models") is not None or doc.get("grid") is not None or doc.get("comparison") is not None:
        from radgui.model.designs import parse_study

        if outcome is None and (doc.get("grid") is not None or doc.get("comparison") is not None):
            fail("'grid:'/'comparison:' compare binary-outcome classifiers; a survival-only config (no 'outcome') "
                 "compares LASSO-Cox models listed under 'models:'")

        def validate_model(m_steps, m_learner, where):
            sub = {k: v for k, v in doc.items() if k not in ("models", "grid", "comparison", "external")}
            sub["steps"], sub["learner"] = m_steps, m_learner
            try:
                c = config_from_dict(sub, base=base, source=source)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc.reason}", where_path) from None
            return c.steps, c.learner

        where_path = where
        models, comparison = parse_study(doc, fail, validate_model)
        if outcome is None:
            for m in models:
                if m["scout"]:
                    fail(f"{m['source']}: a survival-only config compares Cox models (kind: radiomics, clinical "
                         "or combined); scout models are binary-outcome classifiers")
            if all(m["kind"] == "clinical" for m in models):
                fail("a survival study needs at least one radiomics or combined model to bundle (every model "
                     "listed is kind: clinical)")
        if doc.get("comparison") is not None and not models:
            fail("'comparison' settings need 'models:' or 'grid:'")
    if doc.get("external") is not None:
        from radgui.model.designs import check_externals

        if outcome is None and doc.get("models") is None:
            fail("'external:' cohorts of a survival-only config are read by 'models:' (a study); a single "
                 "survival model uses split.method: external")
        external = check_externals(doc.get("external"), fail, path_of)

    return TrainConfig(
        models=models, comparison=comparison, external=external, endpoints=endpoints, timepoints=timepoints,
        features=path_of("features", doc.get("features"), required=True),
        clinical=path_of("clinical", doc.get("clinical")),
        outcome=outcome, name=str(doc.get("name", DEFAULTS["name"])),
        id_column=str(doc.get("id_column", DEFAULTS["id_column"])), group=group, survival=survival,
        center=doc.get("center"), combat_covariates=list(covs),
        icc_table=path_of("icc_table", doc.get("icc_table")),
        clinical_variables=cv, feature_preset={"name": str(preset.get("name", "")), "hash": str(preset.get("hash", ""))},
        split=split, steps=steps, learner=learner, clinical_model=clinical_model, validation=validation,
        seed=seed, intended_use=str(doc.get("intended_use", DEFAULTS["intended_use"])),
        source=None if source is None else Path(source), raw=copy.deepcopy(doc),
    )


MAX_ENDPOINTS = 16


def _parse_endpoints(value: Any, mapping, fail) -> list[dict]:
    """``survival:`` as one mapping (one endpoint) or a list of endpoints, the first the primary one.

    Each endpoint is ``{name, time, event, horizon, unit, label}``; ``name`` is
    required in a list (it titles the report pages and keys ``metrics.json``
    ``endpoints``) and defaults to ``label`` or the event column for a single
    mapping. Names and time/event column pairs must be unique.
    """
    keys = {"name", "time", "event", "horizon", "unit", "label"}
    if isinstance(value, dict):
        items, listed = [("survival", value)], False
    elif isinstance(value, list):
        if not value:
            fail("key 'survival' is an empty list: give one endpoint mapping or a list of them")
        if len(value) > MAX_ENDPOINTS:
            fail(f"key 'survival' lists {len(value)} endpoints; at most {MAX_ENDPOINTS} are allowed")
        items, listed = [(f"survival[{i}]", v) for i, v in enumerate(value)], True
    else:
        fail("key 'survival' must be a mapping {time, event, horizon, ...} or a list of such mappings "
             f"(one per endpoint), got {type(value).__name__}")
    out, seen_names, seen_cols = [], {}, {}
    for where, item in items:
        ep = mapping(where, item, keys, ("name", "time", "event") if listed else ("time", "event"))
        for k in ("time", "event", "name", "unit", "label"):
            if k in ep and (not isinstance(ep[k], str) or not ep[k].strip()):
                fail(f"{where}.{k} must be a non-empty string, got {ep[k]!r}")
        h = ep.get("horizon")
        if h is not None and (not isinstance(h, (int, float)) or isinstance(h, bool) or not 0 < h < float("inf")):
            fail(f"{where}.horizon must be a positive number, got {h!r}")
        if ep["time"] == ep["event"]:
            fail(f"{where}: time and event are the same column {ep['time']!r}")
        ep.setdefault("name", str(ep.get("label") or ep["event"]))
        if ep["name"] in seen_names:
            fail(f"{where}.name {ep['name']!r} is also the name of {seen_names[ep['name']]}: endpoint names "
                 "must be unique")
        pair = (ep["time"], ep["event"])
        if pair in seen_cols:
            fail(f"{where} uses the same time/event columns {list(pair)} as {seen_cols[pair]}")
        seen_names[ep["name"]], seen_cols[pair] = where, where
        out.append(ep)
    return out


def _check_survival_keys(doc: dict, fail) -> None:
    """A survival-only config: every step and key must be one the survival model uses (else an error naming it)."""
    allowed = ", ".join(_SURVIVAL_STEP_KEYS)
    steps = doc.get("steps") or {}
    if not isinstance(steps, dict):
        return  # the generic check names this
    for name, params in steps.items():
        if name in _SURVIVAL_STEP_KEYS or name not in _STEP_KEYS or params is False:
            continue
        if name in _SURVIVAL_NEEDS:
            fail(f"step '{name}' needs a binary outcome ('outcome: {{column: ...}}'): {_SURVIVAL_NEEDS[name]}; a "
                 f"survival model (no 'outcome') runs only the steps {allowed}")
        fail(f"step '{name}' is not implemented for survival models (no 'outcome'); they run only the steps "
             f"{allowed}")
    lasso = steps.get("lasso")
    if isinstance(lasso, dict):
        keys = _SURVIVAL_STEP_KEYS["lasso"]
        bad = sorted(set(lasso) - keys)
        if bad:
            fail(f"steps.lasso key(s) {bad} are not used by LASSO-Cox (a survival model); its keys are "
                 f"{', '.join(sorted(keys))}")
        from radgui.model.survival import RULES, SCORES

        for k, lowest, highest in (("folds", 2, 100), ("n_lambdas", 2, 1000)):
            v = lasso.get(k)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not lowest <= v <= highest):
                fail(f"steps.lasso.{k} must be an integer from {lowest} to {highest}, got {v!r}")
        r = lasso.get("min_ratio")
        if r is not None and (not isinstance(r, (int, float)) or isinstance(r, bool) or not 0 < r < 1):
            fail(f"steps.lasso.min_ratio must be a number between 0 and 1 (exclusive), got {r!r}")
        for k, options in (("rule", RULES), ("score", SCORES)):
            if k in lasso and lasso[k] not in options:
                fail(f"steps.lasso.{k} must be one of {', '.join(options)} for LASSO-Cox, got {lasso[k]!r}")
    learner = doc.get("learner")
    if isinstance(learner, dict) and set(learner) - {"name"}:
        fail(f"learner key(s) {sorted(set(learner) - {'name'})} are not used by a survival model (its learner is "
             "the LASSO-Cox Radscore; only 'learner.name: lasso' is accepted)")
    cm = doc.get("clinical_model")
    if isinstance(cm, dict) and set(cm) - {"screen_p"}:
        fail(f"clinical_model key(s) {sorted(set(cm) - {'screen_p'})} are not used by a survival model (clinical "
             "variables are screened by univariate Cox regression, without a stepwise step); its key is screen_p")
    val = doc.get("validation")
    if isinstance(val, dict) and val.get("bootstrap") not in (None, 0):
        fail(f"validation.bootstrap {val['bootstrap']!r} is not used by a survival model (it is validated by "
             "repeated cross-validation and the held-out C-index; no bootstrap optimism correction): set it to 0 "
             "or remove it")
