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
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from radgui.errors import ConfigError, InputFileError
from radgui.model.bundle import LinearModel, ModelBundle, Predictor, Term, _software, nomogram_scales
from radgui.model.clinical import ClinicalLogistic, CombinedModel, radscore_of
from radgui.model.config import TrainConfig, load_config
from radgui.model.learners import build_pipeline, set_seed
from radgui.model.validation import holdout_split, iter_bootstrap_optimism, iter_repeated_cv, score
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

    def subset(self, idx) -> Cohort:
        return Cohort(self.features.iloc[idx], self.clinical.iloc[idx], self.y[idx],
                      None if self.time is None else self.time[idx], None if self.event is None else self.event[idx])

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


# ------------------------------------------------------------------ loading
def _read_csv(path: Path, what: str) -> pd.DataFrame:
    if path is None or not Path(path).is_file():
        raise InputFileError(f"{what} table not found", path)
    try:
        return pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001
        raise InputFileError(f"{what} table cannot be read as CSV ({exc})", path) from None


def load_cohort(config: TrainConfig, features_path: Path, clinical_path: Path | None,
                feature_columns: list[str] | None = None) -> Cohort:
    """Read and join one cohort's tables; every problem names the file and column."""
    idc = config.id_column
    feats = _read_csv(features_path, "feature")
    if idc not in feats.columns:
        raise ConfigError(f"id column '{idc}' is not a column of the feature table", features_path)
    feats[idc] = feats[idc].astype(str)
    if feats[idc].duplicated().any():
        dup = feats.loc[feats[idc].duplicated(), idc].tolist()[:5]
        raise ConfigError(f"patient id(s) {dup} appear more than once", features_path)
    feats = feats.set_index(idc)
    clin = pd.DataFrame(index=feats.index)
    if clinical_path is not None:
        clin = _read_csv(clinical_path, "clinical")
        if idc not in clin.columns:
            raise ConfigError(f"id column '{idc}' is not a column of the clinical table", clinical_path)
        clin[idc] = clin[idc].astype(str)
        clin = clin.set_index(idc)
        missing = [p for p in feats.index if p not in clin.index]
        if missing:
            raise ConfigError(f"patient(s) {missing[:5]} of the feature table have no clinical row", clinical_path)
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
    time = event = None
    if config.survival:
        time = pd.to_numeric(column(config.survival["time"], "survival time"), errors="coerce").to_numpy(float)
        event = pd.to_numeric(column(config.survival["event"], "event"), errors="coerce").to_numpy(float)
        if np.isnan(time).any() or np.isnan(event).any():
            raise ConfigError("survival time or event has missing or non-numeric values", clinical_path)
        event = event.astype(int)
        if set(np.unique(event)) - {0, 1}:
            raise ConfigError(f"event column '{config.survival['event']}' must hold 0/1", clinical_path)
    if config.outcome is None:
        y = event  # survival-only: the event stratifies the splits

    skip = {(config.outcome or {}).get("column", ""), *(config.survival or {}).get("time", "").split(),
            *(config.survival or {}).get("event", "").split(), *config.clinical_variables}
    if config.center:
        skip.add(config.center)
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
            if C[v].isna().any():
                raise ConfigError(f"clinical variable '{v}' has non-numeric values", clinical_path)
    # index levels carry the center and ComBat covariates (see radgui.model.steps)
    arrays, names = [X.index.to_numpy()], ["patient_id"]
    if config.center:
        arrays.append(C[config.center].map(_level_str).to_numpy())
        names.append("batch")
    for cov in config.combat_covariates:
        arrays.append(C[cov].to_numpy(float))
        names.append(f"cov:{cov}")
    X.index = pd.MultiIndex.from_arrays(arrays, names=names)
    C.index = X.index
    return Cohort(X, C, y, time, event)


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
    seed = config.seed
    yield Step(0, None, "reading tables")
    cohort = load_cohort(config, config.features, config.clinical)
    if config.outcome is None:  # survival-only: enough events and a horizon within follow-up, before splitting
        from radgui.model.train_survival import check_survival_cohort

        check_survival_cohort(config, cohort.time, cohort.event, "cohort", config.clinical or config.features)
    icc = _read_icc(config.icc_table) if config.icc_table else None
    if "icc" in config.steps and icc is None:
        raise ConfigError("step 'icc' needs 'icc_table'")

    method = config.split["method"]
    if method == "holdout":
        tr, te = holdout_split(cohort.y, config.split["test_fraction"], seed=seed)
        train_c, test_c, test_name = cohort.subset(np.sort(tr)), cohort.subset(np.sort(te)), "test"
    elif method == "external":
        train_c = cohort
        test_c = load_cohort(config, config.split["features"], config.split.get("clinical"),
                             feature_columns=list(cohort.features.columns))
        test_name = "external"
    else:
        train_c, test_c, test_name = cohort, None, None
    if config.outcome is None:
        from radgui.model.train_survival import iter_train_survival

        return (yield from iter_train_survival(config, cohort, train_c, test_c, test_name, icc))
    if min(np.bincount(train_c.y, minlength=2)) < config.validation["folds"]:
        raise ConfigError(f"the training cohort has too few patients of one outcome class for "
                          f"{config.validation['folds']}-fold cross-validation")

    variables = config.clinical_variables
    rad = build_pipeline(config.steps, config.learner, icc=icc, seed=seed)
    models = {"radiomics": (rad, lambda c: c.features)}
    if variables:
        models["clinical"] = (ClinicalLogistic(variables, config.clinical_model["screen_p"],
                                               config.clinical_model["direction"]), lambda c: c.clinical)
    combined = CombinedModel(rad, list(cohort.features.columns), variables,
                             config.clinical_model["screen_p"], config.clinical_model["direction"])
    models["combined"] = (combined, lambda c: c.both)

    val = config.validation
    repeats, folds, n_boot, n_jobs = val["repeats"], val["folds"], val["bootstrap"], val["n_jobs"]
    total = len(models) * repeats * folds + n_boot + 1 + len(models) + 3
    done = 0
    metrics: dict = {"cross_validation": {}, "models": {}}
    cv_pred = {}
    if repeats > 0:
        for name, (est, view) in models.items():
            gen = iter_repeated_cv(est, view(train_c), train_c.y, repeats=repeats, folds=folds, seed=seed,
                                   n_jobs=n_jobs)
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
        fitted[name] = set_seed(_clone(est), seed).fit(view(train_c), train_c.y)
        done += 1
        yield Step(done, total, f"fitted the {MODEL_NAMES[name].lower()} model")
    final = fitted["combined"]

    if n_boot > 0:
        gen = iter_bootstrap_optimism(combined, train_c.both, train_c.y, n_boot=n_boot, seed=seed,
                                      n_jobs=n_jobs, fitted=final)
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
    if cv_pred:
        frame = preds["train"][["y"] + (["time", "event"] if train_c.time is not None else [])].copy()
        for name, p in cv_pred.items():
            frame[name] = p
        preds["cross-validated"] = frame
    from radgui.stats import youden_cutoff

    cut = youden_cutoff(train_c.y, preds["train"]["combined"].to_numpy())
    cutoff = float(cut.threshold)
    for cohort_name, frame in preds.items():
        metrics["models"][cohort_name] = _cohort_metrics(frame, list(models), cutoff)
    if config.survival:
        metrics["survival"] = {k: _survival_metrics(f, cutoff) for k, f in preds.items() if k != "cross-validated"}

    bundle = _make_bundle(config, fitted, train_c, preds["train"], cutoff, metrics, test_name)
    metrics["cutoff"] = {"value": cutoff, "scale": "probability", "method": "youden (training, combined model)",
                         "sensitivity": cut.sensitivity, "specificity": cut.specificity, "j": cut.j}
    metrics["selected_features"] = bundle.radscore["coefficients"] if bundle.radscore else \
        {f: None for f in (bundle.estimator_features or [])}
    lm = bundle.linear_model
    metrics["final_model"] = {"intercept": lm.intercept, "terms": [t.to_dict() for t in lm.terms],
                              "clinical_screening": _screening(fitted)}
    metrics["cohort"] = {"n_train": int(len(train_c.y)), "events_train": int(train_c.y.sum()),
                         "n_test": None if test_c is None else int(len(test_c.y)),
                         "events_test": None if test_c is None else int(test_c.y.sum()),
                         "n_features": int(cohort.features.shape[1]), "test_cohort": test_name}
    tables = {"train": cohort_table(train_c, variables)}
    if test_c is not None:
        tables[test_name] = cohort_table(test_c, variables)
    metrics["cohort_tables"] = {k: t.to_dict(orient="records") for k, t in tables.items()}
    result = TrainResult(config=config, bundle=bundle, metrics=metrics, predictions=preds,
                         radiomics=fitted["radiomics"], combined=final, clinical=fitted.get("clinical"),
                         cohort_tables=tables)
    result.methods = methods_paragraph(result)
    metrics["methods"] = result.methods
    yield Step(total, total, "done")
    return result


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


def _cohort_metrics(frame, names, cutoff, final: str = "combined") -> dict:
    from radgui.stats import binary_metrics, calibration, decision_curve, delong_test, hosmer_lemeshow, roc_auc

    y = frame["y"].to_numpy()
    out = {"n": int(len(y)), "events": int(y.sum())}
    for name in names:
        p = frame[name].to_numpy()
        r = roc_auc(y, p)
        m = {"auc": r.auc, "auc_ci_low": r.ci_low, "auc_ci_high": r.ci_high, "auc_se": r.se}
        try:
            hl = hosmer_lemeshow(y, p)
            m["hosmer_lemeshow"] = {"statistic": hl.statistic, "df": hl.df, "p_value": hl.p_value}
        except Exception as exc:  # noqa: BLE001 - too few distinct risks
            m["hosmer_lemeshow"] = {"error": str(exc)}
        cal = calibration(y, p)
        m["calibration"] = {"slope": cal.slope, "intercept": cal.intercept, "brier": cal.brier}
        if name == final:
            bm = binary_metrics(y, p, cutoff)
            m["at_cutoff"] = {k: v for k, v in bm.as_dict().items() if not k.endswith("_ci") and k != "level"}
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


def _survival_metrics(frame, cutoff, final: str = "combined") -> dict:
    from radgui.stats import concordance_index, cox, kaplan_meier, logrank

    t, e = frame["time"].to_numpy(float), frame["event"].to_numpy(int)
    high = (frame[final].to_numpy() >= cutoff).astype(int)
    out = {"c_index_linear_predictor": concordance_index(t, e, frame["linear_predictor"].to_numpy())}
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
        radscore = last.radscore_formula()
        feats = list(radscore["coefficients"])
        if not feats:  # intercept-only LASSO: keep the strongest feature with a zero weight
            feats = list(last.selected_)
            radscore["coefficients"] = {feats[0]: 0.0}
    elif last.__class__.__name__ == "LogisticRegression":
        feats = [str(f) for f in last.feature_names_in_]
        radscore = {"intercept": float(last.intercept_[0]),
                    "coefficients": {f: float(c) for f, c in zip(feats, last.coef_[0])}}
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
    n_test = metrics["models"].get(test_name, {}).get("n") if test_name else None
    validation = {"cohort": test_name,
                  "method": f"{test_name} cohort (n={n_test}), DeLong 95% CI" if test_name else
                  "apparent (no held-out cohort)",
                  "auc": test_metrics.get("auc"), "auc_ci_low": test_metrics.get("auc_ci_low"),
                  "auc_ci_high": test_metrics.get("auc_ci_high"),
                  "cv_auc": cvm.get("auc_of_mean_prediction"), "cv": f"{cvm.get('repeats')} x {cvm.get('folds')}-fold"
                  if cvm else None,
                  "optimism_corrected_auc": metrics.get("bootstrap_optimism", {}).get("optimism_corrected_auc")}
    if validation["auc"] is None and cvm:
        validation.update(auc=cvm.get("auc_of_mean_prediction"),
                          method=f"{cvm.get('repeats')} x {cvm.get('folds')}-fold nested CV (mean out-of-fold prediction)")
    outcome = {"name": config.outcome.get("label", config.outcome["column"]), "type": "binary",
               "positive": str(config.outcome.get("positive", 1))}
    provenance = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **_software(),
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
        cutoff={"value": cutoff, "scale": "probability", "method": "youden"},
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
        "icc": lambda p: f"features with ICC >= {p.get('threshold', 0.75)} kept",
        "nzv": lambda p: "near-zero-variance features removed",
        "zscore": lambda p: "z-score standardisation (training mean and population SD)",
        "combat": lambda p: f"ComBat harmonisation by {cfg.center} ({'parametric' if p.get('parametric', True) else 'non-parametric'} empirical Bayes)",
        "correlation": lambda p: f"correlation filter (|r| > {p.get('threshold', 0.9)}, keeping the feature more associated with the outcome)",
        "univariate": lambda p: f"univariate {p.get('test', 'mannwhitney')} filter (p < {p.get('alpha', 0.05)})",
        "mrmr": lambda p: f"mRMR ({p.get('k', 20)} features)",
        "lasso": lambda p: f"LASSO logistic regression with {p.get('folds', 10)}-fold cross-validation (lambda.{p.get('rule', '1se')})",
        "stability": lambda p: f"bootstrap LASSO stability selection (top {p.get('top_k', 10)})",
        "rfe": lambda p: f"recursive feature elimination to {p.get('n_features', 5)} features",
    }
    from radgui.model.learners import STEP_ORDER

    steps = [step_text[s](cfg.steps[s]) for s in STEP_ORDER if s in cfg.steps]
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
        f"Clinical candidates ({', '.join(cfg.clinical_variables) or 'none'}) were screened by univariate logistic "
        f"regression (p < {cfg.clinical_model['screen_p']}) and selected by {cfg.clinical_model['direction']} stepwise "
        f"AIC; the combined model is a logistic regression of the outcome on the Radscore"
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
    parts.append(f"The risk cutoff ({_f(m['cutoff']['value'], 3) if 'cutoff' in m else 'Youden'}) maximises Youden's J "
                 "in the training cohort. Reporting follows TRIPOD (Collins et al., 2015).")
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
    from radgui.errors import RadguiError
    from radgui.model.predict import predict_from_features

    rows = []
    for pid in features.index:
        clin = {} if clinical is None else {k: v for k, v in clinical.loc[pid].items()}
        try:
            pred = predict_from_features(bundle, features.loc[pid].to_dict(), clin)
        except RadguiError as exc:
            raise type(exc)(f"patient {pid}: {exc.reason}", exc.path) from None
        rows.append({"model": pred.probability, "linear_predictor": pred.linear_predictor,
                     "radscore": pred.radscore, "risk_group": pred.risk_group})
    frame = pd.DataFrame(rows, index=features.index)
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
        metrics["survival"] = {"external": _survival_metrics(frame, cutoff, final="model")}
    return frame, metrics


def lp_to_prob(bundle, lp):
    from radgui.model.predict import lp_to_probability

    return lp_to_probability(bundle, lp)
