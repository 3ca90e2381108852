"""Survival-only training: LASSO-Cox Radscore, then Cox on Radscore + clinical variables.

Used by :func:`radgui.model.train.iter_train` when the config has
``survival`` but no binary ``outcome``:

1. the radiomics pipeline (ICC, near-zero variance, z-score, ComBat) ends in
   :class:`CoxRadscore`, a LASSO-Cox whose linear predictor is the Radscore;
2. clinical variables are screened by univariate Cox regression
   (Wald p < ``clinical_model.screen_p``); the final model is a Cox regression
   on the Radscore and the screened variables (lifelines, Efron ties), whose
   baseline survival at ``survival.horizon`` turns the linear predictor into
   the probability of an event by the horizon;
3. validation: repeated k-fold CV of the whole procedure (C-index of each
   patient's mean out-of-fold linear predictor), the held-out or external
   cohort's C-index, and Kaplan-Meier curves by risk group (median training
   linear predictor) with log-rank p and Cox HR.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Generator

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from radgui.errors import ConfigError, StatsInputError
from radgui.model.bundle import LinearModel, ModelBundle, Predictor, Term, _software, nomogram_scales
from radgui.model.clinical import encode
from radgui.model.learners import STEP_ORDER, build_pipeline, set_seed
from radgui.model.steps import GroupedStratifiedKFold
from radgui.model.survival import LassoCox, cox_linear_model
from radgui.progress import Step


def _split_y(y):
    y = np.asarray(y, dtype=float)
    return y[:, 0], y[:, 1].astype(int)


class CoxRadscore(BaseEstimator):
    """LASSO-Cox (:class:`~radgui.model.survival.LassoCox`) as the last pipeline step; ``y`` is (n, 2) (time, event).

    ``decision_function`` is the Radscore ``sum(b_i z_i)`` over the selected
    features (higher = shorter survival). The parameters are the
    ``steps.lasso`` keys of a survival config.
    """

    def __init__(self, folds: int = 10, rule: str = "1se", n_lambdas: int = 50, min_ratio: float | None = None,
                 score: str = "deviance", random_state: int | None = None):
        self.folds = folds
        self.rule = rule
        self.n_lambdas = n_lambdas
        self.min_ratio = min_ratio
        self.score = score
        self.random_state = random_state

    def fit(self, X, y):
        time, event = _split_y(y)
        X = pd.DataFrame(X)
        self.lasso_ = LassoCox(folds=self.folds, rule=self.rule, n_lambdas=self.n_lambdas, min_ratio=self.min_ratio,
                               score=self.score, random_state=self.random_state).fit(X, time, event)
        coef = self.lasso_.coef_
        self.coefficients_ = {str(f): float(coef[f]) for f in self.lasso_.selected_}
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def decision_function(self, X):
        X = pd.DataFrame(X)
        return X[list(self.coefficients_)].to_numpy(float) @ np.array(list(self.coefficients_.values()))

    def radscore_formula(self) -> dict:
        return {"intercept": 0.0, "coefficients": dict(self.coefficients_)}


class CoxCombined(BaseEstimator):
    """Radscore pipeline + univariate-Cox-screened clinical variables, Cox regression.

    With ``radiomics=None`` it is the clinical-only Cox model of a survival
    study (``kind: clinical``): the variables screened the same way (Wald
    p < ``screen_p``), and when none passes, the one with the smallest finite
    p is kept (a clinical model needs a term), which ``screening_fallback_``
    records.
    """

    def __init__(self, radiomics=None, radiomics_columns=(), variables=None, screen_p: float = 0.1,
                 horizon: float = 12.0):
        self.radiomics = radiomics
        self.radiomics_columns = radiomics_columns
        self.variables = variables
        self.screen_p = screen_p
        self.horizon = horizon

    def _frame(self, X):
        design, groups = encode(X, dict(self.variables or {}))
        design = design.copy()
        if self.radiomics_ is not None:
            design["radscore"] = self.radiomics_.decision_function(X[list(self.radiomics_columns)])
        return design, groups

    def fit(self, X, y):
        from radgui.stats import cox

        time, event = _split_y(y)
        self.radiomics_ = None if self.radiomics is None else \
            clone(self.radiomics).fit(X[list(self.radiomics_columns)], y)
        design, groups = self._frame(X)
        frame = design.assign(__time=time, __event=event)
        self.screening_ = {}
        self.screening_failures_ = {}
        kept = []
        for v, cols in groups.items():
            try:
                res = cox(frame[["__time", "__event", *cols]], "__time", "__event", cols)
                p = float(min(res[c].p_value for c in cols))
            except StatsInputError as exc:  # a degenerate variable (constant, no convergence) is not kept, and said so
                p = float("nan")
                self.screening_failures_[v] = exc.reason
            self.screening_[v] = p
            if p < self.screen_p:
                kept.append(v)
        self.screening_fallback_ = None
        if self.radiomics_ is None and not kept:  # clinical-only: keep the best variable rather than no term
            finite = {v: p for v, p in self.screening_.items() if np.isfinite(p)}
            if not finite:
                raise StatsInputError(f"no clinical variable ({', '.join(groups) or 'none'}) could be fitted by "
                                      "univariate Cox regression: a clinical-only Cox model has no term")
            kept = [min(finite, key=finite.get)]
            self.screening_fallback_ = kept[0]
        rad = [] if self.radiomics_ is None else ["radscore"]
        self.selected_ = [*rad, *kept]
        self.groups_ = {**({"radscore": ["radscore"]} if rad else {}), **{v: groups[v] for v in kept}}
        self.columns_ = [c for v in self.selected_ for c in self.groups_[v]]
        self.result_, self.params_, self.cov_, self.s0_ = cox_linear_model(
            frame.rename(columns={"__time": "time_", "__event": "event_"}), "time_", "event_", self.columns_,
            self.horizon)
        return self

    def decision_function(self, X):
        design, _ = self._frame(X)
        return design[self.columns_].to_numpy(float) @ self.params_[self.columns_].to_numpy()

    def radscore(self, X):
        if self.radiomics_ is None:
            raise ConfigError("a clinical-only Cox model has no Radscore")
        return self.radiomics_.decision_function(X[list(self.radiomics_columns)])


def _surv_y(c):
    return np.column_stack([c.time, c.event])


def _fit_predict(est, X, y, tr, te, seed):
    m = set_seed(clone(est), seed).fit(X.iloc[tr], y[tr])
    return te, m.decision_function(X.iloc[te])


def iter_survival_cv(estimator, X, y, *, repeats, folds, seed, n_jobs=1) -> Generator[Step, None, dict]:
    """Repeated k-fold CV (stratified by event) of a survival estimator; C-index of mean OOF lp."""
    from joblib import Parallel, delayed

    from radgui.model.validation import _seeds
    from radgui.stats import concordance_index

    time, event = _split_y(y)
    n = len(time)
    tasks = []
    split_seeds, fit_seeds = _seeds(seed, repeats), _seeds(seed + 1, repeats * folds)
    for r in range(repeats):
        cv = GroupedStratifiedKFold(folds, shuffle=True, random_state=split_seeds[r])  # a patient's rows together
        for k, (tr, te) in enumerate(cv.split(X, event)):
            tasks.append((r, tr, te, fit_seeds[r * folds + k]))
    preds = np.full((repeats, n), np.nan)
    yield Step(0, len(tasks), f"cross-validation: {repeats} x {folds}-fold")
    runner = (Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_fit_predict)(estimator, X, y, tr, te, s)
                                                              for _, tr, te, s in tasks) if n_jobs != 1 else
              (_fit_predict(estimator, X, y, tr, te, s) for _, tr, te, s in tasks))
    for done, ((r, *_), (te, p)) in enumerate(zip(tasks, runner), 1):
        preds[r, te] = p
        yield Step(done, len(tasks), f"cross-validation: fold {done} of {len(tasks)}")
    per = [concordance_index(time, event, preds[r]) for r in range(repeats)]
    mean = np.nanmean(preds, axis=0)
    return {"c_index_of_mean_prediction": concordance_index(time, event, mean), "c_index_mean": float(np.mean(per)),
            "c_index_sd": float(np.std(per, ddof=1)) if repeats > 1 else 0.0, "repeats": repeats, "folds": folds,
            "prediction": mean}


MIN_EVENTS = 10  # a Cox model on a Radscore + clinical variables: the usual ~10 events per parameter, at least


def lasso_params(config) -> dict:
    """``steps.lasso`` of a survival config as :class:`CoxRadscore` parameters (defaults: 10-fold, 1se, 50)."""
    lasso = dict(config.steps.get("lasso") or {})
    return {"folds": int(lasso.get("folds", 10)), "rule": str(lasso.get("rule", "1se")),
            "n_lambdas": int(lasso.get("n_lambdas", 50)),
            "min_ratio": None if lasso.get("min_ratio") is None else float(lasso["min_ratio"]),
            "score": str(lasso.get("score", "deviance"))}


def events_needed(config) -> int:
    """Fewest training events for which every LASSO-Cox CV fold, inside every outer CV fold, has an event."""
    inner = lasso_params(config)["folds"]
    outer = config.validation["folds"] if config.validation["repeats"] > 0 else 0
    need = max(MIN_EVENTS, inner, outer)
    while outer and need - -(-need // outer) < inner:   # an outer training part keeps d - ceil(d / k) events
        need += 1
    return need


def check_survival_cohort(config, time, event, what: str = "cohort", where=None) -> None:
    """Refuse too few events, or a horizon outside the follow-up, naming the minimum / the maximum follow-up."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=int)
    unit = config.survival.get("unit", "")
    u = f" {unit}" if unit else ""
    if (time < 0).any():
        raise ConfigError(f"survival time '{config.survival['time']}' is negative for {int((time < 0).sum())} "
                          f"patient(s) (minimum {time.min():g}{u}); follow-up must be >= 0", where)
    d, need = int(event.sum()), events_needed(config)
    if what != "training cohort" and config.split["method"] == "holdout":
        need = int(np.ceil(need / (1 - config.split["test_fraction"])))
    if d < need:
        detail = f"{config.split['test_fraction']:g} held out, " if what != "training cohort" and \
            config.split["method"] == "holdout" else ""
        raise ConfigError(f"the {what} has {d} event{'s' if d != 1 else ''} ('{config.survival['event']}' = 1); "
                          f"this survival model needs at least {need} ({detail}at least {MIN_EVENTS} to fit the Cox "
                          f"model and one per fold of the {lasso_params(config)['folds']}-fold LASSO-Cox "
                          "cross-validation)", where)
    h = float(config.survival["horizon"])
    longest = float(time.max())
    if not 0 < h <= longest:
        raise ConfigError(f"survival.horizon {h:g}{u} is outside the {what}'s follow-up: the longest follow-up "
                          f"('{config.survival['time']}') is {longest:g}{u}; choose a horizon above 0 and at most "
                          f"{longest:g}{u}", where)


def final_terms(res, radscore_train) -> dict:
    """Per term of the final Cox model: HR per unit with Wald CI and p; for the Radscore also HR per SD.

    The Radscore's unit is arbitrary (it is a sum of LASSO-Cox coefficients
    times z-scores), so its HR per unit can be huge or tiny; the HR per
    standard deviation of the training cohort's Radscore is the comparable one.
    """
    out = {}
    for name, row in res.summary.iterrows():
        term = {"hr": float(row["hr"]), "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
                "p_value": float(row["p_value"]), "coef": float(row["coef"]), "se": float(row["se"]),
                "hr_scale": "per unit"}
        if name == "radscore":
            sd = float(np.std(np.asarray(radscore_train, float), ddof=1))
            z = float(np.log(row["ci_high"] / row["hr"]) / row["se"]) if row["se"] > 0 else 1.959963984540054
            term.update(hr_scale="per 1 Radscore unit", radscore_sd=sd, hr_per_sd=float(np.exp(row["coef"] * sd)),
                        hr_per_sd_ci_low=float(np.exp((row["coef"] - z * row["se"]) * sd)),
                        hr_per_sd_ci_high=float(np.exp((row["coef"] + z * row["se"]) * sd)))
        out[str(name)] = term
    return out


def iter_train_survival(config, cohort, train_c, test_c, test_name, icc) -> Generator[Step, None, object]:
    """The survival-only branch of :func:`radgui.model.train.iter_train`; returns a TrainResult."""
    from radgui.model.train import (TrainResult, _pct, _survival_metrics, endpoint_metrics,
                                    paired_change_metrics, secondary_endpoint_frames)

    seed, horizon = config.seed, float(config.survival["horizon"])
    check_survival_cohort(config, train_c.time, train_c.event, "training cohort")
    steps = {k: v for k, v in config.steps.items() if k != "lasso"}
    pipe = build_pipeline(steps, {"name": "logistic"}, icc=icc, seed=seed)
    pipe.steps[-1] = ("learner", CoxRadscore(**lasso_params(config), random_state=seed))
    mv = getattr(config, "model_variables", None)  # a study's final model: its own variables (None: all)
    variables = config.clinical_variables if mv is None else {v: config.clinical_variables[v] for v in mv}
    model = CoxCombined(pipe, list(cohort.features.columns), variables, config.clinical_model["screen_p"], horizon)
    val = config.validation
    metrics: dict = {"cross_validation": {}, "models": {}}
    total = val["repeats"] * val["folds"] + 3
    done = 0
    if val["repeats"] > 0:
        gen = iter_survival_cv(model, train_c.both, _surv_y(train_c), repeats=val["repeats"], folds=val["folds"],
                               seed=seed, n_jobs=val["n_jobs"])
        while True:
            try:
                s = next(gen)
            except StopIteration as stop:
                cv = stop.value
                break
            done = s.done
            yield Step(done, total, f"Cox model, {s.message}")
        cv.pop("prediction")
        metrics["cross_validation"]["cox"] = cv
    yield Step(done, total, "fitting the final model")
    fitted = set_seed(clone(model), seed).fit(train_c.both, _surv_y(train_c))
    preds = {}
    for name, c in (("train", train_c), (test_name, test_c)):
        if c is None:
            continue
        lp = fitted.decision_function(c.both)
        preds[name] = pd.DataFrame({"y": c.event, "time": c.time, "event": c.event, "cox": lp,
                                    "linear_predictor": lp, "radscore": fitted.radscore(c.both)},
                                   index=c.features.index.get_level_values("patient_id"))
    cutoff = float(np.median(preds["train"]["linear_predictor"]))
    metrics["survival"] = {k: _survival_metrics(f, cutoff, final="cox") for k, f in preds.items()}
    for k, f in preds.items():  # at the horizon: time-dependent AUC, Uno's C, Brier, calibration (censoring: training)
        lp, t, e = f["linear_predictor"].to_numpy(float), f["time"].to_numpy(float), f["event"].to_numpy(int)
        prob = 1 - fitted.s0_ ** np.exp(lp)
        metrics["survival"][k]["time_dependent"] = {"horizon": horizon, **_time_dependent(
            (train_c.time, train_c.event), t, e, lp, prob, horizon)}
        metrics["survival"][k]["calibration_at_horizon"] = calibration_at_horizon(t, e, prob, horizon)
    metrics["cutoff"] = {"value": cutoff, "scale": "linear_predictor", "method": "median training linear predictor"}
    # secondary endpoints (survival: [primary, ...]): the same Radscore/Cox model, C-index and K-M by group
    endpoint_frames = secondary_endpoint_frames(config, preds, {"train": train_c, test_name: test_c})
    metrics["endpoints"] = endpoint_metrics(config, preds, endpoint_frames, cutoff, final="cox")
    if getattr(config, "timepoints", None):  # dynamic study: paired Radscore change between the time points
        metrics["paired_change"] = paired_change_metrics(config, preds, {"train": train_c, test_name: test_c})
    res = fitted.result_
    metrics["final_model"] = {"terms": final_terms(res, preds["train"]["radscore"].to_numpy()),
                              "clinical_screening": fitted.screening_,
                              "clinical_screening_failures": fitted.screening_failures_,
                              "concordance_train": res.concordance}
    metrics.setdefault("warnings", []).extend(
        f"clinical variable {v!r} could not be screened by univariate Cox and was not kept ({why})"
        for v, why in fitted.screening_failures_.items())
    metrics["lasso_cox"] = fitted.radiomics_[-1].lasso_.summary()
    metrics["selected_features"] = fitted.radiomics_[-1].coefficients_
    metrics["cohort"] = {"n_train": int(len(train_c.event)), "events_train": int(train_c.event.sum()),
                         "n_test": None if test_c is None else int(len(test_c.event)),
                         "events_test": None if test_c is None else int(test_c.event.sum()),
                         "n_features": int(cohort.features.shape[1]), "test_cohort": test_name}

    # bundle
    pipe_f = fitted.radiomics_
    feats = list(pipe_f[-1].coefficients_)
    raw = train_c.features
    preds_list = [Predictor(name=f, source="radiomics", min=float(raw[f].min()), max=float(raw[f].max()),
                            p01=_pct(raw[f], 1), p99=_pct(raw[f], 99)) for f in feats]
    zscore = pipe_f.named_steps["zscore"].to_dict(feats) if "zscore" in pipe_f.named_steps else None
    combat = pipe_f.named_steps["combat"].to_dict(feats, config.center) if "combat" in pipe_f.named_steps else None
    rs = preds["train"]["radscore"].to_numpy()
    terms = [Term("radscore", coefficient=float(fitted.params_["radscore"]), label="Radscore",
                  p01=_pct(rs, 1), p99=_pct(rs, 99))]
    ranges = {"radscore": (_pct(rs, 1), _pct(rs, 99))}
    kept = [v for v in fitted.selected_ if v != "radscore"]
    for v in dict.fromkeys(kept + list(config.combat_covariates if combat else [])):
        spec = config.clinical_variables[v]
        label = spec.get("label") or (f"{v} ({spec['unit']})" if spec.get("unit") else v)
        if spec["type"] == "categorical":
            preds_list.append(Predictor(name=v, source="clinical", type="categorical", categories=spec["categories"],
                                        label=label))
            if v in kept:
                terms.append(Term(v, type="categorical", reference=spec["categories"][0], label=label,
                                  coefficients={lvl: float(fitted.params_[f"{v}={lvl}"])
                                                for lvl in spec["categories"][1:]}))
        else:
            col = train_c.clinical[v].to_numpy(float)
            preds_list.append(Predictor(name=v, source="clinical", unit=spec.get("unit", ""), min=spec.get("min"),
                                        max=spec.get("max"), p01=_pct(col, 1), p99=_pct(col, 99), label=label))
            if v in kept:
                terms.append(Term(v, coefficient=float(fitted.params_[v]), label=label))
                ranges[v] = (float(col.min()), float(col.max()))
    if combat:
        preds_list.append(Predictor(name=config.center, source="clinical", type="categorical",
                                    categories=list(combat["batches"]), role="batch"))
    order = [c for v in fitted.selected_ for c in fitted.groups_[v]]
    lm = LinearModel(link="cox", intercept=0.0, terms=terms, covariance=fitted.cov_,
                     baseline_survival=float(fitted.s0_), horizon=horizon)
    assert order == lm.parameter_names()
    train_f = preds["train"]
    ref = pd.DataFrame({"linear_predictor": train_f["linear_predictor"].to_numpy(),
                        "risk_group": np.where(train_f["linear_predictor"] >= cutoff, "high", "low"),
                        "time": train_c.time, "event": train_c.event})
    test_s = metrics["survival"].get(test_name, {}) if test_name else {}
    cvm = metrics["cross_validation"].get("cox", {})
    unit = config.survival.get("unit", "")
    bundle = ModelBundle(
        name=config.name, model_kind="cox",
        outcome={"name": config.survival.get("label", config.survival["event"]), "type": "survival",
                 "time_unit": unit},
        predictors=preds_list, intended_use=config.intended_use, zscore=zscore, combat=combat,
        radscore=pipe_f[-1].radscore_formula(), linear_model=lm,
        cutoff={"value": cutoff, "scale": "linear_predictor", "method": "median"},
        nomogram=nomogram_scales(lm, ranges), reference_cohort=ref,
        provenance={"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **_software(),
                    "feature_preset": dict(config.feature_preset), "n_patients": int(len(train_c.event)),
                    "n_events": int(train_c.event.sum()),
                    "validation": {"cohort": test_name, "c_index": test_s.get("c_index_linear_predictor"),
                                   "cv_c_index": cvm.get("c_index_of_mean_prediction"),
                                   "method": f"{test_name} cohort C-index" if test_name else "nested CV C-index"},
                    "config": config.to_dict(), "reference_cohort": {"time_unit": unit, "landmark": horizon}})
    result = TrainResult(config=config, bundle=bundle, metrics=metrics, predictions=preds,
                         radiomics=pipe_f, combined=fitted, endpoint_frames=endpoint_frames)
    result.methods = _methods(config, metrics, kept)
    metrics["methods"] = result.methods
    yield Step(total, total, "done")
    return result


def _methods(config, m, kept) -> str:
    coh = m["cohort"]
    cv = m["cross_validation"].get("cox")
    lasso = m["lasso_cox"]
    prep = ", ".join(s for s in STEP_ORDER if s in config.steps and s != "lasso")
    test = m["survival"].get(coh["test_cohort"] or "", {})
    parts = [f"Survival model for {config.survival['event']} ({coh['n_train']} training patients, "
             f"{coh['events_train']} events"
             + (f"; {coh['test_cohort']} cohort {coh['n_test']} patients, {coh['events_test']} events" if coh["n_test"]
                else "") + ").",
             f"{coh['n_features']} radiomic features were processed by {prep or 'no step'} and a LASSO-penalised Cox "
             f"regression (coordinate descent over a path of {lasso['n_lambdas']} penalties, scikit-survival "
             f"Coxnet; lambda.{lasso['rule']} by {lasso['folds']}-fold cross-validated "
             f"{'partial-likelihood deviance' if lasso['score'] == 'deviance' else 'C-index'}; "
             f"{lasso['n_selected']} features selected); its linear predictor is the Radscore. Clinical candidates "
             f"were screened by univariate Cox regression (p < {config.clinical_model['screen_p']}); the final Cox "
             "model (Efron ties) includes the Radscore" + (f" and {', '.join(kept)}" if kept else "")
             + ". Every step was refitted inside each resampling fold."]
    rs = m["final_model"]["terms"].get("radscore")
    if rs:
        parts.append(f"The hazard ratio of the Radscore was {rs['hr_per_sd']:.2f} per standard deviation "
                     f"(95% CI {rs['hr_per_sd_ci_low']:.2f}-{rs['hr_per_sd_ci_high']:.2f}; SD {rs['radscore_sd']:.3g} "
                     f"in the training cohort), {rs['hr']:.3g} per Radscore unit.")
    if cv:
        parts.append(f"{cv['repeats']} x {cv['folds']}-fold repeated cross-validation gave a C-index of "
                     f"{cv['c_index_of_mean_prediction']:.2f}.")
    if test:
        parts.append(f"In the {coh['test_cohort']} cohort the C-index was {test['c_index_linear_predictor']:.2f}; "
                     "patients were split at the median training linear predictor into low- and high-risk groups "
                     "compared by Kaplan-Meier curves, the log-rank test and Cox regression.")
    parts.append("Reporting follows TRIPOD (Collins et al., 2015).")
    return " ".join(parts)


# ------------------------------------------------------------------ evaluating a Cox bundle on a new cohort


def calibration_at_horizon(time, event, risk, horizon: float, groups: int = 5) -> dict:
    """Predicted vs Kaplan-Meier observed risk of an event by ``horizon``, overall and by risk group.

    Patients are split into ``groups`` groups of equal size by predicted risk
    (fewer when there are fewer than 10 patients per group); in each the
    observed risk is ``1 - KM(horizon)`` with its log-log 95% CI, so censoring
    is respected. ``observed_expected`` is the overall observed / mean
    predicted risk (1 = calibrated in the large).
    """
    from radgui.stats import kaplan_meier

    t, e, p = np.asarray(time, float), np.asarray(event, int), np.asarray(risk, float)
    groups = int(max(1, min(groups, len(t) // 10)))
    order = np.argsort(p, kind="stable")
    rows = []
    for idx in np.array_split(order, groups):
        km = kaplan_meier(t[idx], e[idx])
        lo, hi = km.ci_at(horizon)
        rows.append({"n": int(idx.size), "events": int(e[idx].sum()), "predicted": float(p[idx].mean()),
                     "observed": float(1 - km.survival_at(horizon)), "observed_ci_low": float(1 - hi),
                     "observed_ci_high": float(1 - lo), "at_risk_at_horizon": int(km.n_at_risk(horizon))})
    km = kaplan_meier(t, e)
    observed = float(1 - km.survival_at(horizon))
    return {"horizon": float(horizon), "groups": rows, "observed": observed, "mean_predicted": float(p.mean()),
            "observed_expected": observed / float(p.mean()) if p.mean() > 0 else float("nan"),
            "method": "1 - Kaplan-Meier at the horizon per group of predicted risk (log-log 95% CI)"}


def _time_dependent(ref, t, e, lp, prob, horizon: float) -> dict:
    """Time-dependent AUC, Uno's C and IPCW Brier score at the horizon (scikit-survival).

    The censoring distribution is estimated on ``ref`` (the bundle's training
    cohort when it has survival data, else the validation cohort itself).
    """
    from sksurv.metrics import brier_score, concordance_index_ipcw, cumulative_dynamic_auc

    from radgui.model.survival import _surv

    train, test = _surv(ref[0], ref[1]), _surv(t, e)
    out: dict = {}
    try:
        auc, _ = cumulative_dynamic_auc(train, test, lp, [horizon])
        out["auc"] = float(np.ravel(auc)[0])
    except ValueError as exc:
        out["auc"] = None
        out["auc_error"] = str(exc).splitlines()[0]
    try:
        out["uno_c"] = float(concordance_index_ipcw(train, test, lp, tau=horizon)[0])
    except ValueError as exc:
        out["uno_c"] = None
        out["uno_c_error"] = str(exc).splitlines()[0]
    try:
        _, bs = brier_score(train, test, (1 - np.asarray(prob, float))[:, None], [horizon])
        out["brier"] = float(np.ravel(bs)[0])
    except ValueError as exc:
        out["brier"] = None
        out["brier_error"] = str(exc).splitlines()[0]
    return out


def evaluate_survival_bundle(bundle, features: pd.DataFrame, clinical: pd.DataFrame | None, time, event,
                             where=None) -> tuple[pd.DataFrame, dict]:
    """Score a cohort with a Cox bundle and compute survival validation metrics, respecting censoring.

    Returns the per-patient frame (``time``, ``event``, ``model`` = predicted
    probability of an event by the bundle's horizon, ``linear_predictor``,
    ``radscore``, ``risk_group``) and the metrics: Harrell's C of the linear
    predictor (lifelines), Uno's C, time-dependent (cumulative/dynamic) AUC
    and IPCW Brier score at the horizon (scikit-survival), the calibration
    slope (Cox regression of the new outcome on the linear predictor; 1 is
    ideal), calibration at the horizon by risk group (:func:`calibration_at_horizon`),
    and Kaplan-Meier curves by the bundle's risk groups with log-rank p and HR.
    """
    from radgui.model.train import _survival_metrics
    from radgui.stats import cox

    if bundle.model_kind != "cox" or bundle.linear_model is None or bundle.linear_model.horizon is None:
        raise ConfigError(f"bundle '{bundle.name}' is a {bundle.model_kind} model, not a Cox survival model")
    t = pd.to_numeric(pd.Series(np.asarray(time, dtype=object)), errors="coerce").to_numpy(float)
    e = pd.to_numeric(pd.Series(np.asarray(event, dtype=object)), errors="coerce").to_numpy(float)
    if np.isnan(t).any() or np.isnan(e).any():
        raise ConfigError("the survival time or event has missing or non-numeric values", where)
    if (t < 0).any():
        raise ConfigError(f"the survival time has negative values (minimum {t.min():g})", where)
    if set(np.unique(e)) - {0, 1}:
        raise ConfigError("the event column must hold 0 (censored) or 1 (event)", where)
    e = e.astype(int)
    if e.sum() < 2:
        raise ConfigError(f"the validation cohort has {int(e.sum())} event(s); a survival evaluation needs at "
                          "least 2", where)
    horizon = float(bundle.linear_model.horizon)
    from radgui.model.predict import score_patients

    frame = score_patients(bundle, features, clinical)
    frame.insert(0, "time", t)
    frame.insert(1, "event", e)
    frame.insert(0, "y", e)   # the report's Kaplan-Meier helpers expect y; for a Cox bundle it is the event
    cut = bundle.cutoff or {"value": float(np.median(frame["linear_predictor"])), "scale": "linear_predictor",
                            "method": "median of this cohort (the bundle has no cutoff)"}
    if cut["scale"] == "linear_predictor":
        cutoff_lp = float(cut["value"])
    else:  # probability cutoff: the same risk group on the linear-predictor scale
        s0 = bundle.linear_model.baseline_survival
        cutoff_lp = float(np.log(np.log(1 - cut["value"]) / np.log(s0)))
    surv = _survival_metrics(frame, cutoff_lp, final="linear_predictor")
    lp = frame["linear_predictor"].to_numpy(float)
    ref = bundle.reference_cohort
    if ref is not None and {"time", "event"} <= set(ref.columns):
        ref_te, censoring = (ref["time"].to_numpy(float), ref["event"].to_numpy(int)), "training cohort (bundle)"
    else:
        ref_te, censoring = (t, e), "validation cohort (the bundle has no training survival data)"
    longest = float(t.max())
    unit = (bundle.outcome or {}).get("time_unit", "") or \
        bundle.provenance.get("reference_cohort", {}).get("time_unit", "")
    td = _time_dependent(ref_te, t, e, lp, frame["model"].to_numpy(float), horizon)
    td["censoring_distribution"] = censoring
    slope = cox(pd.DataFrame({"time": t, "event": e, "lp": lp}), "time", "event", ["lp"])["lp"]
    cal = calibration_at_horizon(t, e, frame["model"].to_numpy(float), horizon)
    cal["slope"] = {"value": slope.coef, "ci_low": float(np.log(slope.ci_low)), "ci_high": float(np.log(slope.ci_high)),
                    "method": "Cox regression of the validation outcome on the bundle's linear predictor (1 = ideal)"}
    notes = []
    if horizon > longest:
        notes.append(f"the horizon ({horizon:g} {unit}) is beyond this cohort's longest follow-up ({longest:g} "
                     f"{unit}): observed risks at the horizon are carried forward from the last follow-up")
    for key, what in (("auc_error", "time-dependent AUC"), ("uno_c_error", "Uno's C"), ("brier_error", "Brier score")):
        if key in td:
            notes.append(f"{what} at the horizon is not defined for this cohort ({td[key]})")
    metrics = {
        "survival": {"external": surv},
        "c_index": {"harrell": surv["c_index_linear_predictor"], "uno": td.get("uno_c"),
                    "method": "Harrell's C of the linear predictor (lifelines); Uno's C truncated at the horizon "
                              "(scikit-survival, IPCW)"},
        "time_dependent": {"horizon": horizon, "time_unit": unit, **td,
                           "method": "cumulative/dynamic AUC and IPCW Brier score at the horizon (scikit-survival)"},
        "calibration_at_horizon": cal,
        "cutoff": {"value": cutoff_lp, "scale": "linear_predictor", "method": cut.get("method", "")},
        "bundle": {"name": bundle.name, "model_kind": bundle.model_kind,
                   "provenance_validation": bundle.provenance.get("validation")},
        "cohort": {"n_test": int(len(frame)), "events_test": int(e.sum()), "test_cohort": "external",
                   "longest_follow_up": longest},
        "notes": notes,
    }
    return frame, metrics
