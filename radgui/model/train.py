"""Train a model from a config: validate it, fit it, and build its bundle.

:func:`iter_train` is the engine of ``radgui train`` and the Train dock: it
loads the feature and clinical tables, splits the cohort, runs repeated
nested cross-validation and the bootstrap optimism correction on the
training set, fits the radiomics, clinical and combined models, evaluates
them on the held-out or external cohort with :mod:`radgui.stats`, and builds
the :class:`~radgui.model.bundle.ModelBundle` of the combined (nomogram)
model. It yields :class:`~radgui.progress.Step` objects and returns a
:class:`TrainResult`; :func:`train` is its blocking twin.

The final model is always the *combined* logistic model: Radscore plus the
clinical variables that survive univariate screening and stepwise AIC (when
no clinical variable is configured or survives, it is the logistic model on
the Radscore alone). Its coefficient covariance is stored for delta-method
intervals.
"""

from __future__ import annotations

import datetime as _dt
import math
import warnings
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from radgui.errors import ConfigError, InputFileError
from radgui.model.bundle import LinearModel, ModelBundle, Predictor, Term, _software, nomogram_scales
from radgui.model.clinical import ClinicalLogistic, CombinedModel
from radgui.model.config import TrainConfig, load_config
from radgui.model.learners import build_pipeline, bundle_radscore, compute_provenance, set_seed
from radgui.model.steps import GROUP_LEVEL, groups_of
from radgui.model.validation import iter_bootstrap_optimism, iter_repeated_cv, score
from radgui.progress import Step, run

MODEL_NAMES = {"radiomics": "Radiomics", "clinical": "Clinical", "combined": "Combined"}


@dataclass
class Cohort:
    """One cohort's model inputs: features (MultiIndex rows), clinical table, outcome, survival."""

    features: pd.DataFrame
    clinical: pd.DataFrame
    y: np.ndarray
    time: np.ndarray | None = None
    event: np.ndarray | None = None
    endpoints: dict = field(default_factory=dict)   # secondary endpoint name -> (time, event) arrays
    timepoint: np.ndarray | None = None             # the row's time point (``timepoints.column``), as str

    def subset(self, idx) -> Cohort:
        return Cohort(self.features.iloc[idx], self.clinical.iloc[idx], self.y[idx],
                      None if self.time is None else self.time[idx], None if self.event is None else self.event[idx],
                      {k: (t[idx], e[idx]) for k, (t, e) in self.endpoints.items()},
                      None if self.timepoint is None else self.timepoint[idx])

    @property
    def groups(self) -> np.ndarray | None:
        """Patient of each row (``group:`` in the config), or None when every row is its own patient."""
        return groups_of(self.features)

    @property
    def both(self) -> pd.DataFrame:
        clin = self.clinical.copy()
        clin.index = self.features.index
        return pd.concat([self.features, clin], axis=1)


@dataclass
class TrainResult:
    """Everything ``radgui train`` writes: the bundle, the metrics, and figure data."""

    config: TrainConfig
    bundle: ModelBundle
    metrics: dict
    predictions: dict = field(default_factory=dict)   # cohort -> DataFrame (y, time, event, one column per model)
    radiomics: object = None                          # the fitted radiomics pipeline
    combined: object = None
    clinical: object = None
    cohort_tables: dict = field(default_factory=dict)  # cohort -> DataFrame
    methods: str = ""
    prediction_table: pd.DataFrame | None = None      # predictions.csv: one row per patient and cohort
    comparison: dict = field(default_factory=dict)    # multi-model run: cohort -> every model's predictions
    study_models: list = field(default_factory=list)  # multi-model run: radgui.model.designs.StudyModel
    endpoint_frames: dict = field(default_factory=dict)  # secondary endpoint -> cohort -> predictions (its time/event)


# ------------------------------------------------------------------ loading
def _read_csv(path: Path, what: str) -> pd.DataFrame:
    if path is None or not Path(path).is_file():
        raise InputFileError(f"{what} table not found", path)
    try:
        table = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise InputFileError(f"{what} table is empty (no header, no rows)", path) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise InputFileError(f"{what} table cannot be read as CSV ({reason})", path) from None
    if not len(table):
        raise InputFileError(f"{what} table has a header but no patient rows", path)
    return table


def load_cohort(config: TrainConfig, features_path: Path, clinical_path: Path | None,
                feature_columns: list[str] | None = None) -> Cohort:
    """Read and join one cohort's tables; every problem names the file and column.

    With ``config.group`` (the patient column when a patient has several rows:
    delta-radiomics scans, several lesions) the rows carry a ``group`` index
    level that every split, fold and bootstrap of :mod:`radgui.model.validation`
    keeps together. Without it, a repeated id is refused.
    """
    idc = config.id_column
    group_col = getattr(config, "group", None)
    feats = _read_csv(features_path, "feature")
    if idc not in feats.columns:
        raise ConfigError(f"id column '{idc}' is not a column of the feature table", features_path)
    feats[idc] = feats[idc].astype(str)
    if feats[idc].duplicated().any() and group_col != idc:
        dup = list(dict.fromkeys(feats.loc[feats[idc].duplicated(), idc].tolist()))[:5]
        hint = ("; if a patient has several rows (follow-up scans, several lesions), set 'group: <patient "
                "column>' in the config so that no split puts one patient on both sides" if group_col is None
                else f"; rows are grouped by '{group_col}', but '{idc}' must still name each row once")
        raise ConfigError(f"id(s) {dup} appear more than once in column '{idc}'{hint}", features_path)
    feats = feats.set_index(idc)
    clin = pd.DataFrame(index=feats.index)
    if clinical_path is not None:
        clin = _read_csv(clinical_path, "clinical")
        if idc not in clin.columns:
            raise ConfigError(f"id column '{idc}' is not a column of the clinical table", clinical_path)
        clin[idc] = clin[idc].astype(str)
        if clin[idc].duplicated().any():
            dup = list(dict.fromkeys(clin.loc[clin[idc].duplicated(), idc].tolist()))[:5]
            raise ConfigError(f"patient id(s) {dup} have more than one row in the clinical table "
                              "(which row holds the patient's values is ambiguous)", clinical_path)
        clin = clin.set_index(idc)
        missing = [p for p in feats.index if p not in clin.index]
        if missing:
            raise ConfigError(f"patient(s) {list(dict.fromkeys(missing))[:5]} of the feature table have no "
                              "clinical row", clinical_path)
        clin = clin.loc[feats.index]
    # outcome and survival may live in either table
    def column(name, what):
        for table, path in ((clin, clinical_path), (feats, features_path)):
            if name in table.columns:
                return table[name]
        raise ConfigError(f"{what} column '{name}' is in neither the clinical nor the feature table",
                          clinical_path or features_path)

    if config.outcome is not None:
        y = _binary_outcome(column(config.outcome["column"], "outcome"), config, clinical_path or features_path)
    def endpoint(ep, secondary):
        what = f"endpoint '{ep.get('name', ep['event'])}': " if secondary else ""
        t = pd.to_numeric(column(ep["time"], f"{what}survival time"), errors="coerce").to_numpy(float)
        e = pd.to_numeric(column(ep["event"], f"{what}event"), errors="coerce").to_numpy(float)
        if np.isnan(t).any() or np.isnan(e).any():
            raise ConfigError(f"{what}survival time or event has missing or non-numeric values"
                              + (f" (columns '{ep['time']}', '{ep['event']}')" if secondary else ""), clinical_path)
        if secondary and ((t < 0).any() or not np.isfinite(t).all()):
            raise ConfigError(f"{what}survival time '{ep['time']}' has negative or infinite values", clinical_path)
        e = e.astype(int)
        if set(np.unique(e)) - {0, 1}:
            raise ConfigError(f"{what}event column '{ep['event']}' must hold 0/1", clinical_path)
        return t, e

    time = event = None
    secondary = {}
    if config.survival:
        time, event = endpoint(config.survival, False)
        for ep in list(getattr(config, "endpoints", None) or [])[1:]:
            secondary[ep["name"]] = endpoint(ep, True)
    if config.outcome is None:
        y = event  # survival-only: the event stratifies the splits

    timepoint = None
    tp = getattr(config, "timepoints", None)
    if tp:
        tcol = column(tp["column"], "time-point")
        if tcol.isna().any():
            raise ConfigError(f"time-point column '{tp['column']}' is empty for row(s) "
                              f"{tcol.index[tcol.isna().to_numpy()].tolist()[:5]}", clinical_path or features_path)
        timepoint = tcol.map(_level_str).to_numpy(dtype=object)
        present = set(timepoint)
        absent = [v for v in (tp["baseline"], tp["followup"]) if v not in present]
        if absent:
            raise ConfigError(f"time-point column '{tp['column']}' has no row at {absent} (it holds "
                              f"{sorted(present)[:10]})", clinical_path or features_path)

    skip = {(config.outcome or {}).get("column", ""), *config.clinical_variables}
    if tp:
        skip.add(tp["column"])
    for ep in (getattr(config, "endpoints", None) or ([config.survival] if config.survival else [])):
        skip.update((ep["time"], ep["event"]))
    if config.center:
        skip.add(config.center)
    if group_col:
        skip.add(group_col)
    if feature_columns is None:
        feature_columns = [c for c in feats.columns if c not in skip and not c.startswith("diagnostics_")]
        non_numeric = [c for c in feature_columns if not pd.api.types.is_numeric_dtype(feats[c])]
        if non_numeric:
            raise ConfigError(f"feature column(s) {non_numeric[:5]} are not numeric", features_path)
    else:
        absent = [c for c in feature_columns if c not in feats.columns]
        if absent:
            raise ConfigError(f"feature column(s) {absent[:5]} of the training cohort are missing", features_path)
    X = feats[feature_columns].astype(float)
    nan_cols = X.columns[X.isna().any()].tolist()
    if nan_cols:
        raise ConfigError(f"feature column(s) {nan_cols[:5]} have missing values", features_path)
    inf = ~np.isfinite(X.to_numpy())
    if inf.any():
        r, c = np.argwhere(inf)[0]
        raise ConfigError(f"feature column(s) {X.columns[inf.any(axis=0)].tolist()[:5]} have infinite values "
                          f"(first: patient {X.index[r]}, {X.columns[c]} = {X.iat[r, c]})", features_path)
    if not len(feature_columns):
        raise ConfigError("the feature table has no feature column", features_path)

    need = list(config.clinical_variables) + ([config.center] if config.center else [])
    for v in need:
        if v not in clin.columns and v not in feats.columns:
            raise ConfigError(f"clinical variable '{v}' is not a column of the clinical table", clinical_path)
    C = pd.DataFrame({v: (clin[v] if v in clin.columns else feats[v]) for v in need}, index=feats.index)
    for v, spec in config.clinical_variables.items():
        if C[v].isna().any():
            raise ConfigError(f"clinical variable '{v}' is missing for patient(s) "
                              f"{C.index[C[v].isna()].tolist()[:5]}", clinical_path)
        if spec["type"] == "continuous":
            C[v] = pd.to_numeric(C[v], errors="coerce")
            if C[v].isna().any() or not np.isfinite(C[v].to_numpy(float)).all():
                raise ConfigError(f"clinical variable '{v}' has non-numeric or infinite values", clinical_path)
            for bound, bad in (("min", C[v] < spec.get("min", -np.inf)), ("max", C[v] > spec.get("max", np.inf))):
                if bad.any():
                    pid = C.index[bad.to_numpy()][0]
                    raise ConfigError(f"clinical variable '{v}' of patient {pid} is {C[v][bad].iloc[0]:g}, "
                                      f"outside its allowed range ({bound}: {spec[bound]} in "
                                      f"clinical_variables.{v}); {int(bad.sum())} patient(s) in all",
                                      clinical_path)
    # index levels carry the center and ComBat covariates (see radgui.model.steps)
    arrays, names = [X.index.to_numpy()], ["patient_id"]
    if config.center:
        arrays.append(C[config.center].map(_level_str).to_numpy())
        names.append("batch")
    for cov in config.combat_covariates:
        arrays.append(C[cov].to_numpy(float))
        names.append(f"cov:{cov}")
    if group_col is not None:
        if group_col == idc:
            g = X.index.to_numpy()
        elif group_col in feats.columns:
            g = feats[group_col]
        elif group_col in clin.columns:
            g = clin[group_col]
        else:
            raise ConfigError(f"group column '{group_col}' is in neither the feature nor the clinical table",
                              clinical_path or features_path)
        g = pd.Series(np.asarray(g)).map(_level_str)
        if g.isna().any():
            raise ConfigError(f"group column '{group_col}' is empty for some rows", clinical_path or features_path)
        arrays.append(g.to_numpy(dtype=object))
        names.append(GROUP_LEVEL)
    X.index = pd.MultiIndex.from_arrays(arrays, names=names)
    C.index = X.index
    if timepoint is not None:  # one row per patient and time point: the pairs must be unambiguous
        tg = pd.Series(X.index.get_level_values(GROUP_LEVEL) if group_col is not None else X.index.get_level_values(0))
        dup = pd.DataFrame({"g": tg.to_numpy(), "t": timepoint}).duplicated()
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise ConfigError(f"patient {tg.iloc[i]} has more than one row at time point {timepoint[i]!r} "
                              f"(column '{config.timepoints['column']}'): the baseline/follow-up pair is ambiguous",
                              clinical_path or features_path)
    return Cohort(X, C, y, time, event, secondary, timepoint)


def _binary_outcome(out: pd.Series, config, where) -> np.ndarray:
    name = config.outcome["column"]
    if out.isna().any():
        raise ConfigError(f"outcome '{name}' is missing for patient(s) {out.index[out.isna()].tolist()[:5]}", where)
    positive = config.outcome.get("positive", 1)
    levels = sorted(map(str, out.unique()))
    if len(levels) != 2:
        raise ConfigError(f"outcome '{name}' must have two values, found {levels}", where)
    norm = out.map(_level_str)
    if str(positive) not in levels:
        raise ConfigError(f"outcome.positive {positive!r} is not one of the outcome values {levels}")
    return (norm == str(positive)).to_numpy().astype(int)


def _level_str(v):
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _read_icc(path) -> dict[str, float]:
    table = _read_csv(path, "ICC")
    for col in ("feature", "icc"):
        if col not in table.columns:
            raise ConfigError(f"ICC table needs columns 'feature' and 'icc' (missing '{col}')", path)
    return dict(zip(table["feature"].astype(str), pd.to_numeric(table["icc"], errors="coerce")))


# ------------------------------------------------------------------ training
def iter_train(config: TrainConfig | str | Path) -> Generator[Step, None, TrainResult]:
    """Run a training config end to end (see module docstring); yields progress steps."""
    if not isinstance(config, TrainConfig):
        config = load_config(config)
    if config.models:  # several models in one run: radgui.model.designs
        from radgui.model.designs import iter_study

        return (yield from iter_study(config))
    seed = config.seed
    yield Step(0, None, "reading tables")
    cohort = load_cohort(config, config.features, config.clinical, feature_columns=config.feature_columns)
    if config.outcome is None:  # survival-only: enough events and a horizon within follow-up, before splitting
        from radgui.model.train_survival import check_survival_cohort

        check_survival_cohort(config, cohort.time, cohort.event, "cohort", config.clinical or config.features)
    icc = _read_icc(config.icc_table) if config.icc_table else None
    if "icc" in config.steps and icc is None:
        raise ConfigError("step 'icc' needs 'icc_table'")

    train_c, test_c, test_name, externals, split_info = split_cohorts(config, cohort)
    if config.outcome is None:
        from radgui.model.train_survival import iter_train_survival

        return (yield from iter_train_survival(config, cohort, train_c, test_c, test_name, icc))
    counts = _class_counts(train_c)
    if min(counts) < config.validation["folds"]:
        raise ConfigError(f"the training cohort has {counts[1]} events and {counts[0]} non-events "
                          f"{'(patients)' if train_c.groups is not None else ''}; "
                          f"{config.validation['folds']}-fold cross-validation needs at least "
                          f"{config.validation['folds']} of each (lower validation.folds or add patients)")

    all_variables = config.clinical_variables
    variables = all_variables if config.model_variables is None else \
        {v: all_variables[v] for v in config.model_variables}
    rad = build_pipeline(config.steps, config.learner, icc=icc, seed=seed)
    models = {"radiomics": (rad, lambda c: c.features)}
    if variables:
        models["clinical"] = (ClinicalLogistic(variables, config.clinical_model["screen_p"],
                                               config.clinical_model["direction"],
                                               select=config.clinical_model.get("select", True)), lambda c: c.clinical)
    combined = CombinedModel(rad, list(cohort.features.columns), variables,
                             config.clinical_model["screen_p"], config.clinical_model["direction"],
                             random_state=seed, select=config.clinical_model.get("select", True))
    models["combined"] = (combined, lambda c: c.both)

    val = config.validation
    repeats, folds, n_boot, n_jobs = val["repeats"], val["folds"], val["bootstrap"], val["n_jobs"]
    total = len(models) * repeats * folds + n_boot + 1 + len(models) + 3
    done = 0
    metrics: dict = {"cross_validation": {}, "models": {}}
    warn: list[str] = []
    cv_pred = {}
    if repeats > 0:
        for name, (est, view) in models.items():
            gen = iter_repeated_cv(est, view(train_c), train_c.y, repeats=repeats, folds=folds, seed=seed,
                                   n_jobs=n_jobs, scheduler=val.get("scheduler"))
            while True:
                try:
                    s = next(gen)
                except StopIteration as stop:
                    res = stop.value
                    break
                if s.done:
                    done += 1
                yield Step(done, total, f"{MODEL_NAMES[name]} model, {s.message}")
            metrics["cross_validation"][name] = res.summary()
            cv_pred[name] = res.prediction

    yield Step(done, total, "fitting the final models")
    fitted = {}
    for name, (est, view) in models.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitted[name] = set_seed(_clone(est), seed).fit(view(train_c), train_c.y)
        warn += _fit_warnings(name, fitted[name], train_c, caught)
        done += 1
        yield Step(done, total, f"fitted the {MODEL_NAMES[name].lower()} model")
    final = fitted["combined"]

    if n_boot > 0:
        gen = iter_bootstrap_optimism(combined, train_c.both, train_c.y, n_boot=n_boot, seed=seed,
                                      n_jobs=n_jobs, fitted=final, scheduler=val.get("scheduler"))
        while True:
            try:
                s = next(gen)
            except StopIteration as stop:
                metrics["bootstrap_optimism"] = stop.value.summary()
                break
            done = min(done + (1 if s.done else 0), total)
            yield Step(done, total, f"Combined model, {s.message}")

    yield Step(done, total, "computing validation statistics")
    preds = {"train": _predictions(fitted, models, train_c)}
    if test_c is not None:
        preds[test_name] = _predictions(fitted, models, test_c)
    for ename, ec in externals.items():
        preds[ename] = _predictions(fitted, models, ec)
    if cv_pred:
        frame = preds["train"][["y"] + (["time", "event"] if train_c.time is not None else [])].copy()
        for name, p in cv_pred.items():
            frame[name] = p
        # the combined model's out-of-fold probability on the logit scale, for K-M and C-index
        frame["linear_predictor"] = _logit(frame["combined"].to_numpy())
        preds["cross-validated"] = frame
    from radgui.stats import youden_cutoff

    # the cutoff comes from validated (out-of-fold) predictions whenever the design has them
    if "cross-validated" in preds:
        cut_source, cut_p = "nested cross-validation (mean out-of-fold prediction)", preds["cross-validated"]["combined"]
    elif final.radscore_source_ == "out-of-fold":
        cut_source, cut_p = "cross-fitted training predictions (out-of-fold Radscore)", final.train_prediction_
    else:
        cut_source, cut_p = "apparent training predictions", preds["train"]["combined"]
        warn.append("cutoff: chosen on apparent (training) predictions because no cross-validation ran "
                    "(validation.repeats: 0); it is optimistic")
    cut = youden_cutoff(train_c.y, np.asarray(cut_p, dtype=float))
    cutoff = float(cut.threshold)
    metrics["cutoff_source"] = cut_source
    direction = config.outcome.get("direction", "adverse")
    for cohort_name, frame in preds.items():
        groups = train_c.groups if cohort_name in ("train", "cross-validated") else \
            externals[cohort_name].groups if cohort_name in externals else \
            (test_c.groups if test_c is not None else None)
        metrics["models"][cohort_name] = _cohort_metrics(frame, list(models), cutoff, groups=groups, seed=seed)
        for mname in models:
            for key in ("hosmer_lemeshow", "calibration"):
                err = metrics["models"][cohort_name][mname].get(key, {}).get("error")
                if err and cohort_name != "train" and mname == "combined":
                    warn.append(f"{cohort_name} cohort, {MODEL_NAMES[mname].lower()} model: {err}")
    if config.survival:
        oname = config.outcome.get("label", config.outcome["column"])
        metrics["survival"] = {k: _survival_metrics(f, cutoff, direction=direction, outcome_name=oname)
                               for k, f in preds.items()}
        by_cohort = {"train": train_c, "cross-validated": train_c, **externals}
        if test_c is not None:
            by_cohort[test_name] = test_c
        endpoint_frames = secondary_endpoint_frames(config, preds, by_cohort)
        metrics["endpoints"] = endpoint_metrics(config, preds, endpoint_frames, cutoff, final="combined",
                                                direction=direction, outcome_name=oname)
    else:
        endpoint_frames = {}
    if getattr(config, "timepoints", None):
        tp_cohorts = {"train": train_c, **externals}
        if test_c is not None:
            tp_cohorts[test_name] = test_c
        metrics["paired_change"] = paired_change_metrics(config, preds, tp_cohorts)
    metrics["headline"] = _headline(metrics, test_name)
    metrics["warnings"] = list(dict.fromkeys(warn))
    metrics["radscore_source"] = final.radscore_source_

    bundle = _make_bundle(config, fitted, train_c, preds["train"], cutoff, metrics, test_name)
    metrics["cutoff"] = {"value": cutoff, "scale": "probability",
                         "method": f"youden (combined model, {cut_source})", "source": cut_source,
                         "sensitivity": cut.sensitivity, "specificity": cut.specificity, "j": cut.j}
    metrics["selected_features"] = bundle.radscore["coefficients"] if bundle.radscore else \
        {f: None for f in (bundle.estimator_features or [])}
    lm = bundle.linear_model
    metrics["final_model"] = {"intercept": lm.intercept, "terms": [t.to_dict() for t in lm.terms],
                              "clinical_screening": _screening(fitted)}
    metrics["cohort"] = {"n_train": int(len(train_c.y)), "events_train": int(train_c.y.sum()),
                         "n_test": None if test_c is None else int(len(test_c.y)),
                         "events_test": None if test_c is None else int(test_c.y.sum()),
                         "n_features": int(cohort.features.shape[1]), "test_cohort": test_name,
                         "external_cohorts": {k: {"n": int(len(c.y)), "events": int(c.y.sum())}
                                              for k, c in externals.items()}}
    metrics["split"] = split_info
    tables = {"train": cohort_table(train_c, all_variables)}
    if test_c is not None:
        tables[test_name] = cohort_table(test_c, all_variables)
    for ename, ec in externals.items():
        tables[ename] = cohort_table(ec, all_variables)
    metrics["cohort_tables"] = {k: t.to_dict(orient="records") for k, t in tables.items()}
    result = TrainResult(config=config, bundle=bundle, metrics=metrics, predictions=preds,
                         radiomics=fitted["radiomics"], combined=final, clinical=fitted.get("clinical"),
                         cohort_tables=tables, prediction_table=_prediction_table(
                             preds, test_name, cutoff, direction, config.outcome.get("label", config.outcome["column"]),
                             externals=list(externals)))
    result.endpoint_frames = endpoint_frames
    result.methods = methods_paragraph(result)
    metrics["methods"] = result.methods
    yield Step(total, total, "done")
    return result


def split_cohorts(config: TrainConfig, cohort: Cohort):
    """``(train, test, test_name, externals, split_info)``: the configured split and the ``external:`` cohorts.

    A holdout split is re-drawn until the clinical table is balanced when
    ``split.balance`` asks for it (:func:`radgui.model.designs.balanced_holdout`);
    ``split_info`` records the split seed used (and the SMDs).
    """
    method = config.split["method"]
    _check_sizes(config, cohort)
    split_info: dict = {"method": method}
    if method == "holdout":
        from radgui.model.designs import balanced_holdout

        tr, te, info = balanced_holdout(cohort, config, config.seed)
        split_info.update(info)
        train_c, test_c, test_name = cohort.subset(np.sort(tr)), cohort.subset(np.sort(te)), "test"
        _check_test_cohort(config, test_c)
    elif method == "external":
        train_c = cohort
        test_c = load_cohort(config, config.split["features"], config.split.get("clinical"),
                             feature_columns=list(cohort.features.columns))
        test_name = "external"
    else:
        train_c, test_c, test_name = cohort, None, None
    externals = {}
    for e in getattr(config, "external", None) or []:
        externals[e["name"]] = load_cohort(config, e["features"], e["clinical"],
                                           feature_columns=list(cohort.features.columns))
        _, n1, n0 = _units(externals[e["name"]])
        if min(n1, n0) < 1:
            raise ConfigError(f"external cohort '{e['name']}' has {n1} positive and {n0} negative outcomes; "
                              "both are needed", e["features"])
    return train_c, test_c, test_name, externals, split_info


def train(config: TrainConfig | str | Path, callback=None) -> TrainResult:
    """Blocking twin of :func:`iter_train`."""
    return run(iter_train(config), callback)


def _clone(est):
    from sklearn.base import clone

    return clone(est)


def _predictions(fitted, models, c: Cohort) -> pd.DataFrame:
    frame = pd.DataFrame({"y": c.y}, index=c.features.index.get_level_values("patient_id"))
    if c.time is not None:
        frame["time"], frame["event"] = c.time, c.event
    for name, (_, view) in models.items():
        frame[name] = score(fitted[name], view(c))
    frame["radscore"] = fitted["combined"].radscore(c.both)
    frame["linear_predictor"] = fitted["combined"].decision_function(c.both)
    return frame


#: Bootstrap resamples for the CIs of AUC and of the metrics at the cutoff.
N_BOOT_CI = 500


def _auc_fast(y, p):
    """Mann-Whitney AUC (ties count 1/2); NaN with one class."""
    from scipy.stats import rankdata

    y = np.asarray(y)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    r = rankdata(p)
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _at_cutoff_metric(name, cutoff):
    def metric(y, p):
        y = np.asarray(y).astype(int)
        pos = np.asarray(p) >= cutoff
        tp, fp = int(np.sum(pos & (y == 1))), int(np.sum(pos & (y == 0)))
        fn, tn = int(np.sum(~pos & (y == 1))), int(np.sum(~pos & (y == 0)))
        num, den = {"accuracy": (tp + tn, y.size), "sensitivity": (tp, tp + fn), "specificity": (tn, tn + fp),
                    "ppv": (tp, tp + fp), "npv": (tn, tn + fn), "f1": (2 * tp, 2 * tp + fp + fn)}[name]
        return num / den if den else math.nan
    return metric


def bootstrap_metric_cis(y, p, cutoff, *, groups=None, n_boot: int = N_BOOT_CI, seed=0, level: float = 0.95) -> dict:
    """Percentile bootstrap CIs of AUC and accuracy/sensitivity/specificity/PPV/NPV/F1 at ``cutoff``.

    Resampling is stratified on the outcome and, with ``groups``, draws whole
    patients (their rows together). Returns ``{metric: {estimate, ci_low,
    ci_high, n_boot, stratified, grouped}}``.
    """
    from radgui.stats import bootstrap_cis

    fns = {"auc": _auc_fast, **{k: _at_cutoff_metric(k, cutoff)
                                for k in ("accuracy", "sensitivity", "specificity", "ppv", "npv", "f1")}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = bootstrap_cis(fns, np.asarray(y).astype(int), np.asarray(p, dtype=float), n_boot=n_boot, level=level,
                            seed=seed, groups=groups)
    return {k: {"estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high, "n_boot": r.n_boot,
                "n_failed": r.n_failed, "level": r.level, "stratified": r.stratified, "grouped": r.grouped}
            for k, r in res.items()}


def _cohort_metrics(frame, names, cutoff, final: str = "combined", groups=None, seed=0) -> dict:
    from radgui.errors import StatsInputError
    from radgui.stats import binary_metrics, calibration, decision_curve, delong_test, hosmer_lemeshow, roc_auc

    y = frame["y"].to_numpy()
    out = {"n": int(len(y)), "events": int(y.sum())}
    if groups is not None:
        out["n_patients"] = int(len(np.unique(groups)))
    for name in names:
        p = frame[name].to_numpy()
        r = roc_auc(y, p)
        m = {"auc": r.auc, "auc_ci_low": r.ci_low, "auc_ci_high": r.ci_high, "auc_se": r.se}
        try:
            hl = hosmer_lemeshow(y, p)
            m["hosmer_lemeshow"] = {"statistic": hl.statistic, "df": hl.df, "p_value": hl.p_value}
        except StatsInputError as exc:  # degenerate probabilities, too few distinct risks
            m["hosmer_lemeshow"] = {"error": exc.reason}
        try:
            cal = calibration(y, p)
            m["calibration"] = {"slope": cal.slope, "intercept": cal.intercept, "brier": cal.brier}
        except StatsInputError as exc:
            m["calibration"] = {"error": exc.reason, "brier": float(np.mean((p - y) ** 2))}
        if name == final:
            bm = binary_metrics(y, p, cutoff)
            m["at_cutoff"] = {k: v for k, v in bm.as_dict().items() if not k.endswith("_ci") and k != "level"}
            m["bootstrap_ci"] = bootstrap_metric_cis(y, p, cutoff, groups=groups, seed=seed)
            dca = decision_curve(y, p, np.arange(0.05, 0.96, 0.05))
            m["decision_curve"] = dca[["threshold", "net_benefit", "net_benefit_all"]].round(6).to_dict("list")
        out[name] = m
    pairs = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = delong_test(y, frame[a].to_numpy(), frame[b].to_numpy())
            pairs[f"{a} vs {b}"] = {"auc_a": d.auc_a, "auc_b": d.auc_b, "z": d.z, "p_value": d.p_value,
                                    "diff_ci_low": d.diff_ci_low, "diff_ci_high": d.diff_ci_high}
    out["delong"] = pairs
    return out


def _survival_metrics(frame, cutoff, final: str = "combined", direction: str = "adverse",
                      outcome_name: str = "the outcome") -> dict:
    """K-M by predicted group, log-rank, Cox HR high vs low, and Harrell's C of the linear predictor.

    ``direction`` is the binary outcome's (``config.outcome.direction``): for
    a *favourable* outcome (response) a higher linear predictor means a
    better prognosis, so the C-index is computed on ``-linear_predictor``
    (risk = low probability of the favourable outcome).
    """
    from radgui.model.config import risk_group_label
    from radgui.stats import concordance_index, cox, kaplan_meier, logrank

    t, e = frame["time"].to_numpy(float), frame["event"].to_numpy(int)
    high = (frame[final].to_numpy() >= cutoff).astype(int)
    lp = frame["linear_predictor"].to_numpy(float)
    sign = -1.0 if direction == "favourable" else 1.0
    out = {"c_index_linear_predictor": concordance_index(t, e, sign * lp),
           "c_index_risk": "-linear_predictor (favourable outcome: a higher predicted probability means "
                           "a lower risk of the event)" if direction == "favourable" else "linear_predictor",
           "direction": direction,
           "group_labels": {g: risk_group_label(g, direction, outcome_name) for g in ("high", "low")}}
    for g, label in ((0, "low"), (1, "high")):
        if (high == g).any():
            km = kaplan_meier(t[high == g], e[high == g])
            out[f"median_{label}"] = km.median
            out[f"median_{label}_ci"] = [km.median_ci_low, km.median_ci_high]
            out[f"n_{label}"], out[f"events_{label}"] = km.n, km.n_events
    if 0 < high.sum() < len(high):
        lr = logrank(t, e, np.where(high == 1, "high", "low"))
        out["logrank"] = {"statistic": lr.statistic, "df": lr.df, "p_value": lr.p_value}
        res = cox(pd.DataFrame({"time": t, "event": e, "high_risk": high}), "time", "event", ["high_risk"])
        term = res["high_risk"]
        out["cox_hr_high_vs_low"] = {"hr": term.hr, "ci_low": term.ci_low, "ci_high": term.ci_high,
                                     "p_value": term.p_value}
    return out


def secondary_endpoint_frames(config, preds: dict, cohorts: dict) -> dict:
    """Per secondary endpoint (``survival:`` entries after the first), each cohort's prediction frame with that
    endpoint's ``time``/``event`` in place of the primary one's (same rows, same scores)."""
    out = {}
    for ep in list(getattr(config, "endpoints", None) or [])[1:]:
        frames = {}
        for k, f in preds.items():
            c = cohorts.get(k)
            if c is None or ep["name"] not in c.endpoints:
                continue
            t, e = c.endpoints[ep["name"]]
            frames[k] = f.assign(time=np.asarray(t, float), event=np.asarray(e, int))
        out[ep["name"]] = frames
    return out


def endpoint_metrics(config, preds: dict, secondary: dict, cutoff: float, final: str = "combined",
                     direction: str = "adverse", outcome_name: str = "the outcome") -> dict:
    """``metrics["endpoints"]``: per endpoint (the primary first, ``role: primary``; the others ``secondary``)
    the columns, and per cohort the C-index of the linear predictor and K-M by the predicted group
    (:func:`_survival_metrics`). Cohort ``train`` is apparent; ``cross-validated`` is out-of-fold, validated."""
    out = {}
    for i, ep in enumerate(getattr(config, "endpoints", None) or []):
        frames = preds if i == 0 else secondary.get(ep["name"], {})
        per = {}
        for k, f in frames.items():
            if {"time", "event", "linear_predictor", final} <= set(f.columns):
                per[k] = _survival_metrics(f, cutoff, final=final, direction=direction, outcome_name=outcome_name)
                per[k]["validation"] = "apparent" if k == "train" else \
                    "out-of-fold (validated)" if k == "cross-validated" else "held-out (validated)"
                per[k]["n"], per[k]["events"] = int(len(f)), int(f["event"].sum())
        out[ep["name"]] = {"role": "primary" if i == 0 else "secondary", "time": ep["time"], "event": ep["event"],
                           "horizon": ep.get("horizon"), "unit": ep.get("unit", ""), "cohorts": per}
    return out


def paired_change_metrics(config, preds: dict, cohorts: dict, score: str = "radscore") -> dict:
    """``metrics["paired_change"]``: per cohort, the paired Wilcoxon test of ``score`` between
    ``timepoints.baseline`` and ``timepoints.followup`` (:func:`radgui.stats.paired_change`, pairing by the
    ``group:`` patient). Patients with only one of the two time points are listed in ``unpaired`` and left out;
    rows at other time points are counted in ``other_rows``. ``train`` is apparent (the model was fitted on those
    rows); a held-out cohort is validated."""
    from radgui.errors import StatsInputError
    from radgui.stats import paired_change

    tp = getattr(config, "timepoints", None)
    if not tp:
        return {}
    out = {}
    for k, f in preds.items():
        c = cohorts.get(k)
        if k == "cross-validated" or c is None or c.timepoint is None or score not in f.columns:
            continue
        patient = c.groups if c.groups is not None else f.index.to_numpy()
        frame = pd.DataFrame({"patient": np.asarray(patient, dtype=object).astype(str),
                              "timepoint": c.timepoint, "score": f[score].to_numpy(float)})
        b = frame[frame.timepoint == tp["baseline"]].set_index("patient")["score"]
        a = frame[frame.timepoint == tp["followup"]].set_index("patient")["score"]
        unpaired = sorted(set(b.index) ^ set(a.index))
        entry = {"score": score, "baseline": tp["baseline"], "followup": tp["followup"], "test": "paired Wilcoxon "
                 "signed-rank (scipy.stats.wilcoxon, two-sided), after - before",
                 "validation": "apparent" if k == "train" else "held-out (validated)",
                 "unpaired": unpaired,
                 "other_rows": int((~frame.timepoint.isin([tp["baseline"], tp["followup"]])).sum())}
        try:
            r = paired_change(b, a)
            entry.update(statistic=r.statistic, p_value=r.p_value, n_pairs=r.n_pairs, median_change=r.median_change,
                         pairs={str(p): [float(x), float(y)] for p, x, y in
                                zip(r.table.index, r.table["before"], r.table["after"])})
        except StatsInputError as exc:
            entry.update(error=exc.reason, n_pairs=int(len(set(b.index) & set(a.index))))
        out[k] = entry
    return out


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def _units(c: Cohort) -> tuple[int, int, int]:
    """(patients, events, non-events); with groups, a patient counts as an event if any of its rows is one."""
    g = c.groups
    if g is None:
        n1 = int(c.y.sum())
        return len(c.y), n1, len(c.y) - n1
    label = pd.Series(c.y).groupby(np.asarray(g)).max()
    return int(len(label)), int(label.sum()), int(len(label) - label.sum())


def _class_counts(c: Cohort) -> tuple[int, int]:
    _, n1, n0 = _units(c)
    return n0, n1


#: Fewest patients, and fewest patients of each outcome class, radgui trains on.
MIN_PATIENTS = 10
MIN_PER_CLASS = 3
#: Fewest patients of each class in a holdout test cohort (AUC, DeLong).
MIN_TEST_PER_CLASS = 2


def _check_sizes(config, cohort: Cohort) -> None:
    """Refuse cohorts too small to train and validate on, naming the minimum."""
    n, n1, n0 = _units(cohort)
    what = "events" if config.outcome is None else "positive outcomes"
    unit = "patients" if cohort.groups is None else f"patients (groups of '{config.group}')"
    if n < MIN_PATIENTS:
        raise ConfigError(f"the cohort has {n} {unit}; training needs at least {MIN_PATIENTS}", config.features)
    folds = config.validation["folds"]
    need = max(MIN_PER_CLASS, folds)
    if min(n1, n0) < need:
        raise ConfigError(f"the cohort has {n1} {what} and {n0} patients without; training with "
                          f"{folds}-fold cross-validation needs at least {need} of each", config.features)
    if config.split["method"] == "holdout":
        tf = float(config.split["test_fraction"])
        tf_min = MIN_TEST_PER_CLASS / min(n1, n0)
        tf_max = 1 - need / min(n1, n0)
        if tf * min(n1, n0) < MIN_TEST_PER_CLASS:
            raise ConfigError(f"split.test_fraction {tf:g} of {n} {unit} ({n1} {what}) leaves about "
                              f"{tf * min(n1, n0):.1f} of the rarer class in the test cohort; it needs at least "
                              f"{MIN_TEST_PER_CLASS}: use test_fraction >= {math.ceil(tf_min * 100) / 100:g}",
                              config.source)
        if (1 - tf) * min(n1, n0) < need:
            raise ConfigError(f"split.test_fraction {tf:g} leaves too few patients for training ({need} of each "
                              f"class needed): use test_fraction <= {math.floor(max(tf_max, 0) * 100) / 100:g}",
                              config.source)


def _check_test_cohort(config, test_c: Cohort) -> None:
    _, n1, n0 = _units(test_c)
    if min(n1, n0) < 1:
        raise ConfigError(f"the test cohort has {n1} positive and {n0} negative outcomes; both are needed "
                          "(raise split.test_fraction)", config.source)


def _fit_warnings(name: str, model, c: Cohort, caught) -> list[str]:
    """Separation and convergence warnings of one fitted model (prefixed by the model's name)."""
    from radgui.model.clinical import separation_diagnostics

    label = f"{MODEL_NAMES[name]} model"
    msgs = []
    if name == "radiomics":
        solver = [f"{w.category.__name__}: {w.message}" for w in caught]
        last = model[-1] if hasattr(model, "steps") else model
        if hasattr(last, "radscore_formula") or last.__class__.__name__ == "LogisticRegression":
            z = np.asarray(model.decision_function(c.features), dtype=float)
            coef = np.ravel(last.coef_)
            names = [str(f) for f in last.feature_names_in_]
            msgs = separation_diagnostics(c.y, z, coefficients={f: float(b) for f, b in zip(names, coef) if b != 0},
                                          converged=True, solver_warnings=solver)
            n_kept = int(np.sum(coef != 0))
            if n_kept > max(1, int(c.y.sum()), int(len(c.y) - c.y.sum())) / 10 and msgs:
                msgs.append(f"{n_kept} features for {int(min(c.y.sum(), len(c.y) - c.y.sum()))} patients of the "
                            "rarer class (more than one per 10 events)")
        else:
            msgs = [m for m in separation_diagnostics(c.y, np.full(len(c.y), 0.5), solver_warnings=solver)]
    elif name == "clinical":
        msgs = list(model.fit_warnings_)
    else:
        msgs = list(model.clinical_.fit_warnings_)
    return [f"{label}: {m}" for m in msgs]


def _headline(metrics: dict, test_name) -> dict:
    """The validated AUC of the combined model (held-out/external, else nested CV, else bootstrap-corrected).

    The apparent (training) AUC is given beside it, labelled as such.
    """
    train = metrics["models"]["train"]["combined"]
    out = {"apparent_auc": train["auc"], "apparent_ci_low": train["auc_ci_low"],
           "apparent_ci_high": train["auc_ci_high"]}
    cv = metrics.get("cross_validation", {}).get("combined")
    boot = metrics.get("bootstrap_optimism")
    if test_name:
        m = metrics["models"][test_name]["combined"]
        out.update(auc=m["auc"], ci_low=m["auc_ci_low"], ci_high=m["auc_ci_high"], validated=True,
                   method=f"{test_name} cohort (n={metrics['models'][test_name]['n']}), DeLong 95% CI",
                   source=test_name, label=test_name)
    elif cv:
        m = metrics["models"]["cross-validated"]["combined"]
        out.update(auc=m["auc"], ci_low=m["auc_ci_low"], ci_high=m["auc_ci_high"], validated=True,
                   method=f"{cv['repeats']} x {cv['folds']}-fold nested cross-validation (mean out-of-fold "
                          "prediction), DeLong 95% CI", source="cross-validated",
                   label=f"{cv['repeats']} x {cv['folds']}-fold nested CV")
    elif boot:
        shift = boot["optimism"]
        out.update(auc=boot["optimism_corrected_auc"], ci_low=train["auc_ci_low"] - shift,
                   ci_high=train["auc_ci_high"] - shift, validated=True,
                   method=f"bootstrap optimism-corrected ({boot['n_boot']} resamples; CI = apparent DeLong CI "
                          "shifted by the optimism)", source="bootstrap", label="bootstrap optimism-corrected")
    else:
        out.update(auc=train["auc"], ci_low=train["auc_ci_low"], ci_high=train["auc_ci_high"], validated=False,
                   method="apparent (training) only: no held-out cohort, cross-validation or bootstrap was run",
                   source="train", label="training, apparent")
    return out


def _prediction_table(preds: dict, test_name, cutoff: float, direction: str, outcome: str = "the outcome",
                      externals=()) -> pd.DataFrame:
    """``predictions.csv``: one row per patient (row) and cohort, apparent and out-of-fold predictions."""
    from radgui.model.config import risk_group_label

    def group(p):
        return np.where(np.asarray(p) >= cutoff, "high", "low")

    frames = []
    for name, kind in (("train", "apparent (training)"), (test_name, "held-out" if test_name == "test" else
                                                         "external"), *((e, "external") for e in externals)):
        if name is None or name not in preds:
            continue
        f = preds[name]
        t = pd.DataFrame({"id": f.index.astype(str), "cohort": name, "y": f["y"].to_numpy(),
                          "probability": f["combined"].to_numpy(), "linear_predictor": f["linear_predictor"].to_numpy(),
                          "radscore": f["radscore"].to_numpy(), "prediction": kind})
        t["risk_group"] = group(t["probability"])
        if name == "train" and "cross-validated" in preds:
            oof = preds["cross-validated"]["combined"].to_numpy()
            t["probability_oof"] = oof
            t["linear_predictor_oof"] = _logit(oof)
            t["risk_group_oof"] = group(oof)
        for col in ("time", "event"):
            if col in f.columns:
                t[col] = f[col].to_numpy()
        frames.append(t)
    table = pd.concat(frames, ignore_index=True)
    table["risk_group_label"] = [risk_group_label(g, direction, outcome) for g in table["risk_group"]]
    return table


def _screening(fitted) -> dict:
    clin = fitted.get("clinical")
    if clin is None or clin.screening_.empty:
        return {}
    return {v: float(p) for v, p in clin.screening_["p_value"].items()}


def _pct(values, q):
    return float(np.percentile(np.asarray(values, dtype=float), q))


def _make_bundle(config: TrainConfig, fitted, train_c: Cohort, train_pred: pd.DataFrame, cutoff: float,
                 metrics: dict, test_name) -> ModelBundle:
    comb = fitted["combined"]
    pipe = comb.radiomics_
    last = pipe[-1]
    radscore = estimator = None
    est_features = None
    if hasattr(last, "radscore_formula"):
        radscore = bundle_radscore(pipe, last.radscore_formula())  # a PCA step is folded back onto the features
        feats = list(radscore["coefficients"])
        if not feats:  # intercept-only LASSO: keep the strongest feature with a zero weight
            feats = list(last.selected_)
            radscore["coefficients"] = {feats[0]: 0.0}
    elif last.__class__.__name__ == "LogisticRegression":
        radscore = bundle_radscore(pipe, {"intercept": float(last.intercept_[0]),  # PCA folded back as above
                                          "coefficients": {str(f): float(c)
                                                           for f, c in zip(last.feature_names_in_, last.coef_[0])}})
        feats = list(radscore["coefficients"])
    else:
        from radgui.model.learners import deployable

        estimator = deployable(last)
        feats = [str(f) for f in last.feature_names_in_]
        est_features = feats
    raw = train_c.features
    preds = [Predictor(name=f, source="radiomics", min=float(raw[f].min()), max=float(raw[f].max()),
                       p01=_pct(raw[f], 1), p99=_pct(raw[f], 99)) for f in feats]
    zscore = pipe.named_steps["zscore"].to_dict(feats) if "zscore" in pipe.named_steps else None
    combat = pipe.named_steps["combat"].to_dict(feats, config.center) if "combat" in pipe.named_steps else None

    clin = comb.clinical_
    res = clin.result_
    kept = [v for v in clin.selected_ if v != "radscore"]
    rs_train = train_pred["radscore"].to_numpy()
    terms = [Term("radscore", coefficient=float(res.params["radscore"]), label="Radscore",
                  p01=_pct(rs_train, 1), p99=_pct(rs_train, 99))]
    ranges = {"radscore": (_pct(rs_train, 1), _pct(rs_train, 99))}
    C = train_c.clinical
    need_clin = list(dict.fromkeys(kept + list(config.combat_covariates if combat else [])))
    for v in need_clin:
        spec = config.clinical_variables[v]
        label = spec.get("label") or (f"{v} ({spec['unit']})" if spec.get("unit") else v)
        if spec["type"] == "categorical":
            preds.append(Predictor(name=v, source="clinical", type="categorical", categories=spec["categories"],
                                   unit=spec.get("unit", ""), label=label))
            if v in kept:
                terms.append(Term(v, type="categorical", reference=spec["categories"][0], label=label,
                                  coefficients={lvl: float(res.params[f"{v}={lvl}"]) for lvl in spec["categories"][1:]}))
        else:
            col = C[v].to_numpy(float)
            preds.append(Predictor(name=v, source="clinical", unit=spec.get("unit", ""), min=spec.get("min"),
                                   max=spec.get("max"), p01=_pct(col, 1), p99=_pct(col, 99), label=label))
            if v in kept:
                terms.append(Term(v, coefficient=float(res.params[v]), label=label))
                ranges[v] = (float(col.min()), float(col.max()))
    if combat:
        levels = list(combat["batches"])
        preds.append(Predictor(name=config.center, source="clinical", type="categorical", categories=levels,
                               role="batch", label=f"{config.center} (for ComBat)"))
    order = ["const"] + [c for v in clin.selected_ for c in clin.groups_[v]]
    cov = res.cov_params().loc[order, order].to_numpy()
    lm = LinearModel(link="logit", intercept=float(res.params["const"]), terms=terms, covariance=cov)
    high = train_pred["combined"].to_numpy() >= cutoff
    ref = pd.DataFrame({"linear_predictor": train_pred["linear_predictor"].to_numpy(),
                        "risk_group": np.where(high, "high", "low")})
    if train_c.time is not None:
        ref["time"], ref["event"] = train_c.time, train_c.event
    test_metrics = metrics["models"].get(test_name, {}).get("combined", {}) if test_name else {}
    cvm = metrics.get("cross_validation", {}).get("combined", {})
    head = metrics.get("headline", {})
    validation = {"cohort": test_name,
                  "method": head.get("method", "apparent (no held-out cohort)"),
                  "validated": head.get("validated", False),
                  "auc": head.get("auc"), "auc_ci_low": head.get("ci_low"), "auc_ci_high": head.get("ci_high"),
                  "apparent_auc": head.get("apparent_auc"),
                  "test_auc": test_metrics.get("auc"),
                  "cv_auc": cvm.get("auc_of_mean_prediction"), "cv": f"{cvm.get('repeats')} x {cvm.get('folds')}-fold"
                  if cvm else None,
                  "optimism_corrected_auc": metrics.get("bootstrap_optimism", {}).get("optimism_corrected_auc"),
                  "radscore_source": comb.radscore_source_,
                  "warnings": list(metrics.get("warnings", []))}
    outcome = {"name": config.outcome.get("label", config.outcome["column"]), "type": "binary",
               "positive": str(config.outcome.get("positive", 1)),
               "direction": config.outcome.get("direction", "adverse")}
    provenance = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **_software(),
        **compute_provenance(config.learner),
        "feature_preset": dict(config.feature_preset),
        "n_patients": int(len(train_c.y)), "n_events": int(train_c.y.sum()),
        "validation": validation,
        "learner": config.learner.get("name"), "steps": list(config.steps),
        "config": config.to_dict(),
        "reference_cohort": {"time_unit": (config.survival or {}).get("unit", ""),
                             "landmark": (config.survival or {}).get("horizon")},
    }
    bundle = ModelBundle(
        name=config.name, model_kind="skops" if estimator is not None else "logistic", outcome=outcome,
        predictors=preds, intended_use=config.intended_use, zscore=zscore, combat=combat,
        radscore=radscore, linear_model=lm, estimator_features=est_features,
        cutoff={"value": cutoff, "scale": "probability",
                "method": f"youden ({metrics.get('cutoff_source', 'training')})"},
        nomogram=nomogram_scales(lm, ranges), provenance=provenance, reference_cohort=ref, estimator=estimator)
    return bundle


# ------------------------------------------------------------------ report text and tables
def cohort_table(c: Cohort, variables: dict) -> pd.DataFrame:
    """Baseline characteristics by outcome with t-test/Mann-Whitney/chi-square p-values."""
    from scipy import stats

    rows = []
    y = c.y
    rows.append({"variable": "Patients, n", "outcome 0": str(int((y == 0).sum())),
                 "outcome 1": str(int((y == 1).sum())), "test": "", "p_value": math.nan})
    for v, spec in variables.items():
        col = c.clinical[v]
        if spec["type"] == "categorical":
            levels = spec["categories"]
            vals = col.map(_level_str)
            table = np.array([[int(((vals == lvl) & (y == k)).sum()) for k in (0, 1)] for lvl in levels])
            keep = table.sum(axis=1) > 0
            p = stats.chi2_contingency(table[keep])[1] if keep.sum() > 1 else math.nan
            for i, lvl in enumerate(levels):
                n0, n1 = table[i]
                rows.append({"variable": f"{v} = {lvl}, n (%)",
                             "outcome 0": f"{n0} ({100 * n0 / max((y == 0).sum(), 1):.0f}%)",
                             "outcome 1": f"{n1} ({100 * n1 / max((y == 1).sum(), 1):.0f}%)",
                             "test": "chi-square" if i == 0 else "", "p_value": p if i == 0 else math.nan})
        else:
            a, b = col[y == 0].to_numpy(float), col[y == 1].to_numpy(float)
            t = stats.ttest_ind(a, b, equal_var=False).pvalue
            u = stats.mannwhitneyu(a, b).pvalue
            rows.append({"variable": f"{v}, mean (SD)", "outcome 0": f"{a.mean():.1f} ({a.std(ddof=1):.1f})",
                         "outcome 1": f"{b.mean():.1f} ({b.std(ddof=1):.1f})", "test": "Welch t", "p_value": t})
            rows.append({"variable": f"{v}, median [IQR]",
                         "outcome 0": f"{np.median(a):.1f} [{np.percentile(a, 25):.1f}-{np.percentile(a, 75):.1f}]",
                         "outcome 1": f"{np.median(b):.1f} [{np.percentile(b, 25):.1f}-{np.percentile(b, 75):.1f}]",
                         "test": "Mann-Whitney", "p_value": u})
    return pd.DataFrame(rows)


def _f(v, d=2):
    return "NA" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{d}f}"


def methods_paragraph(result: TrainResult) -> str:
    """A TRIPOD-style methods paragraph written from the config and results (Collins 2015)."""
    cfg, m = result.config, result.metrics
    coh = m["cohort"]
    step_text = {
        "icc": lambda p: f"features with ICC >= {p['threshold']} kept",
        "nzv": lambda p: "near-zero-variance features removed",
        "zscore": lambda p: "z-score standardisation (training mean and population SD)",
        "combat": lambda p: f"ComBat harmonisation by {cfg.center} ({'parametric' if p['parametric'] else 'non-parametric'} empirical Bayes)",
        "correlation": lambda p: f"correlation filter (|r| > {p['threshold']}, keeping the feature more associated with the outcome)",
        "univariate": lambda p: f"univariate {p['test']} filter (p < {p['alpha']})",
        "mrmr": lambda p: f"mRMR ({p['k']} features)",
        "relief": lambda p: f"{p['method']} Relief selection ({p['k']} features)",
        "pca": lambda p: f"PCA fitted in each training fold ({p['n_components']} components/variance)",
        "lasso": lambda p: f"LASSO logistic regression with {p['folds']}-fold cross-validation (lambda.{p['rule']})",
        "stability": lambda p: f"bootstrap LASSO stability selection (top {p['top_k']})",
        "rfe": lambda p: f"recursive feature elimination to {p['n_features']} features",
    }
    from radgui.model.learners import STEP_ORDER, step_parameters

    steps = [step_text[s](step_parameters(s, cfg.steps[s])) for s in (cfg.steps.get("order") or STEP_ORDER)
             if s in cfg.steps]
    learner = {"lasso": "the LASSO logistic model, whose linear predictor is the Radscore",
               "logistic": "unpenalised logistic regression on the selected features",
               "svm": "an RBF support-vector machine tuned by inner-CV random search",
               "rf": "a random forest tuned by inner-CV random search",
               "xgboost": "gradient-boosted trees (XGBoost) tuned by inner-CV random search",
               "stacking": "a stacking ensemble (SVM, random forest, XGBoost; logistic/MLP meta-learner)"}[cfg.learner["name"]]
    split = cfg.split["method"]
    split_text = {"holdout": f"randomly split, stratified by outcome, into a training ({coh['n_train']} patients, "
                             f"{coh['events_train']} events) and a test cohort ({coh['n_test']} patients, {coh['events_test']} events)",
                  "external": f"a development cohort ({coh['n_train']} patients, {coh['events_train']} events) and an external "
                              f"validation cohort ({coh['n_test']} patients, {coh['events_test']} events)",
                  "none": f"one development cohort ({coh['n_train']} patients, {coh['events_train']} events)"}[split]
    kept = [t["name"] for t in m["final_model"]["terms"] if t["name"] != "radscore"]
    cv = m.get("cross_validation", {}).get("combined")
    boot = m.get("bootstrap_optimism")
    test = m["models"].get(coh["test_cohort"] or "", {}).get("combined")
    parts = [
        f"Patients were {split_text}. {coh['n_features']} radiomic features"
        f"{' (preset ' + cfg.feature_preset['name'] + ')' if cfg.feature_preset.get('name') else ''} were processed by "
        f"{'; '.join(steps) if steps else 'no preprocessing'}, followed by {learner}. Every selection and tuning step "
        "was fitted on training data only and repeated inside each resampling fold.",
        (f"Clinical candidates ({', '.join(cfg.clinical_variables) or 'none'}) were screened by univariate logistic "
         f"regression (p < {cfg.clinical_model['screen_p']}) and selected by {cfg.clinical_model['direction']} stepwise "
         "AIC" if cfg.clinical_model.get("select", True) else f"The clinical variables "
         f"({', '.join(cfg.clinical_variables) or 'none'}) were fixed in advance (no screening or stepwise selection)")
        + "; the combined model is a logistic regression of the outcome on the Radscore"
        f"{' and ' + ', '.join(kept) if kept else ''}, presented as a nomogram.",
    ]
    if cv:
        parts.append(f"Internal validation used {cv['repeats']} x {cv['folds']}-fold repeated nested cross-validation "
                     f"(AUC of the mean out-of-fold prediction {_f(cv['auc_of_mean_prediction'])})"
                     + (f" and {boot['n_boot']} bootstrap resamples (Harrell's optimism-corrected AUC "
                        f"{_f(boot['optimism_corrected_auc'])}, optimism {_f(boot['optimism'], 3)})" if boot else "") + ".")
    if test:
        parts.append(f"In the {coh['test_cohort']} cohort the combined model reached AUC {_f(test['auc'])} "
                     f"(95% CI {_f(test['auc_ci_low'])}-{_f(test['auc_ci_high'])}, DeLong). Discrimination was assessed by "
                     "ROC AUC with DeLong intervals and compared by DeLong's test, calibration by calibration slope, "
                     "intercept, Brier score and the Hosmer-Lemeshow test, and clinical utility by decision curves.")
    if m.get("radscore_source") == "out-of-fold":
        parts.append(f"Because the {cfg.learner['name']} learner's in-sample predictions are optimistic, the Radscore "
                     "that entered the combined logistic model was the out-of-fold Radscore of the training patients "
                     "(5-fold cross-fitting: each patient scored by a pipeline fitted without them); new patients are "
                     "scored by the pipeline fitted on all training patients.")
    else:
        parts.append("The Radscore that entered the combined model was the LASSO linear predictor of the training "
                     "patients, as published radiomics nomograms do.")
    if cfg.group:
        parts.append(f"Patients contributed several rows (grouped by '{cfg.group}'); every split, cross-validation "
                     "fold, bootstrap resample and stacking fold kept a patient's rows together.")
    src = m.get("cutoff", {}).get("source", "the training cohort")
    parts.append(f"The cutoff ({_f(m['cutoff']['value'], 3) if 'cutoff' in m else 'Youden'}) maximises Youden's J "
                 f"on the {src}. Accuracy, sensitivity, specificity, PPV, NPV and F1 at the cutoff and the AUC are "
                 f"given with {N_BOOT_CI}-resample stratified{' (patient-grouped)' if cfg.group else ''} percentile "
                 "bootstrap 95% CIs. Figures are drawn from validated (held-out, external or out-of-fold) "
                 "predictions where the design has them. Reporting follows TRIPOD (Collins et al., 2015).")
    return " ".join(parts)


# ------------------------------------------------------------------ evaluating a bundle on a new cohort
def evaluate_bundle(bundle: ModelBundle, features: pd.DataFrame, clinical: pd.DataFrame | None, y,
                    time=None, event=None) -> tuple[pd.DataFrame, dict]:
    """Score every patient of a cohort with a bundle and compute the validation metrics.

    ``features`` and ``clinical`` are indexed by patient id. Returns the
    per-patient frame (``y``, ``model`` probability, ``linear_predictor``,
    ``radscore``, ``risk_group``, optional ``time``/``event``) and the
    metrics in the layout of ``metrics.json`` (cohort name ``external``).
    A patient whose values the bundle refuses raises the error with the
    patient id in front.
    """
    from radgui.model.predict import score_patients

    frame = score_patients(bundle, features, clinical)
    frame.insert(0, "y", np.asarray(y, dtype=int))
    if time is not None:
        frame["time"], frame["event"] = np.asarray(time, float), np.asarray(event, int)
    cut = bundle.cutoff
    cutoff = cut["value"] if cut and cut["scale"] == "probability" else \
        float(lp_to_prob(bundle, cut["value"])) if cut else 0.5
    metrics = {"models": {"external": _cohort_metrics(frame, ["model"], cutoff, final="model")},
               "cutoff": {"value": cutoff, "scale": "probability", "method": (cut or {}).get("method", "0.5")},
               "bundle": {"name": bundle.name, "model_kind": bundle.model_kind,
                          "provenance_validation": bundle.provenance.get("validation")},
               "cohort": {"n_test": int(len(frame)), "events_test": int(frame["y"].sum()), "test_cohort": "external"}}
    if time is not None:
        outcome = bundle.outcome or {}
        metrics["survival"] = {"external": _survival_metrics(frame, cutoff, final="model",
                                                              direction=outcome.get("direction", "adverse"),
                                                              outcome_name=outcome.get("name", "the outcome"))}
    return frame, metrics


def lp_to_prob(bundle, lp):
    from radgui.model.predict import lp_to_probability

    return lp_to_probability(bundle, lp)
