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
from sklearn.model_selection import StratifiedKFold

from radgui.errors import ConfigError
from radgui.model.bundle import LinearModel, ModelBundle, Predictor, Term, _software, nomogram_scales
from radgui.model.clinical import encode
from radgui.model.learners import build_pipeline, set_seed
from radgui.model.survival import LassoCox, cox_linear_model
from radgui.progress import Step


def _split_y(y):
    y = np.asarray(y, dtype=float)
    return y[:, 0], y[:, 1].astype(int)


class CoxRadscore(BaseEstimator):
    """LASSO-Cox as the last pipeline step; ``y`` is an (n, 2) array of (time, event).

    ``decision_function`` is the Radscore ``sum(b_i z_i)`` over the selected
    features (higher = shorter survival).
    """

    def __init__(self, penalizers=(0.3, 0.1, 0.05, 0.02), folds: int = 5, random_state: int | None = None):
        self.penalizers = penalizers
        self.folds = folds
        self.random_state = random_state

    def fit(self, X, y):
        time, event = _split_y(y)
        X = pd.DataFrame(X)
        self.lasso_ = LassoCox(self.penalizers, self.folds, random_state=self.random_state).fit(X, time, event)
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
    """Radscore pipeline + univariate-Cox-screened clinical variables, Cox regression."""

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
        design["radscore"] = self.radiomics_.decision_function(X[list(self.radiomics_columns)])
        return design, groups

    def fit(self, X, y):
        from radgui.stats import cox

        time, event = _split_y(y)
        self.radiomics_ = clone(self.radiomics).fit(X[list(self.radiomics_columns)], y)
        design, groups = self._frame(X)
        frame = design.assign(__time=time, __event=event)
        self.screening_ = {}
        kept = []
        for v, cols in groups.items():
            try:
                res = cox(frame[["__time", "__event", *cols]], "__time", "__event", cols)
                p = float(min(res[c].p_value for c in cols))
            except Exception:  # noqa: BLE001 - a degenerate variable is simply not kept
                p = 1.0
            self.screening_[v] = p
            if p < self.screen_p:
                kept.append(v)
        self.selected_ = ["radscore", *kept]
        self.groups_ = {"radscore": ["radscore"], **{v: groups[v] for v in kept}}
        self.columns_ = [c for v in self.selected_ for c in self.groups_[v]]
        self.result_, self.params_, self.cov_, self.s0_ = cox_linear_model(
            frame.rename(columns={"__time": "time_", "__event": "event_"}), "time_", "event_", self.columns_,
            self.horizon)
        return self

    def decision_function(self, X):
        design, _ = self._frame(X)
        return design[self.columns_].to_numpy(float) @ self.params_[self.columns_].to_numpy()

    def radscore(self, X):
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
        cv = StratifiedKFold(folds, shuffle=True, random_state=split_seeds[r])
        for k, (tr, te) in enumerate(cv.split(np.zeros(n), event)):
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


def iter_train_survival(config, cohort, train_c, test_c, test_name, icc) -> Generator[Step, None, object]:
    """The survival-only branch of :func:`radgui.model.train.iter_train`; returns a TrainResult."""
    from radgui.model.train import TrainResult, _pct, _survival_metrics

    seed, horizon = config.seed, float(config.survival["horizon"])
    if int(train_c.event.sum()) < 10:
        raise ConfigError(f"the training cohort has {int(train_c.event.sum())} events; a Cox model needs at least 10")
    steps = {k: v for k, v in config.steps.items() if k != "lasso"}
    lasso = dict(config.steps.get("lasso") or {})
    pipe = build_pipeline(steps, {"name": "logistic"}, icc=icc, seed=seed)
    pipe.steps[-1] = ("learner", CoxRadscore(folds=int(lasso.get("folds", 5)), random_state=seed))
    model = CoxCombined(pipe, list(cohort.features.columns), config.clinical_variables,
                        config.clinical_model["screen_p"], horizon)
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
    metrics["cutoff"] = {"value": cutoff, "scale": "linear_predictor", "method": "median training linear predictor"}
    res = fitted.result_
    metrics["final_model"] = {"terms": {k: {"hr": float(np.exp(v)), "coef": float(v)} for k, v in fitted.params_.items()},
                              "clinical_screening": fitted.screening_, "concordance_train": res.concordance}
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
                         radiomics=pipe_f, combined=fitted)
    result.methods = _methods(config, metrics, kept)
    metrics["methods"] = result.methods
    yield Step(total, total, "done")
    return result


def _methods(config, m, kept) -> str:
    coh = m["cohort"]
    cv = m["cross_validation"].get("cox")
    test = m["survival"].get(coh["test_cohort"] or "", {})
    parts = [f"Survival model for {config.survival['event']} ({coh['n_train']} training patients, "
             f"{coh['events_train']} events"
             + (f"; {coh['test_cohort']} cohort {coh['n_test']} patients, {coh['events_test']} events" if coh["n_test"]
                else "") + ").",
             f"{coh['n_features']} radiomic features were processed by {', '.join(config.steps) or 'no step'} and a "
             "LASSO-penalised Cox regression (penalty chosen by cross-validated C-index); its linear predictor is "
             "the Radscore. Clinical candidates were screened by univariate Cox regression "
             f"(p < {config.clinical_model['screen_p']}); the final Cox model (Efron ties) includes the Radscore"
             + (f" and {', '.join(kept)}" if kept else "") + ". Every step was refitted inside each resampling fold."]
    if cv:
        parts.append(f"{cv['repeats']} x {cv['folds']}-fold repeated cross-validation gave a C-index of "
                     f"{cv['c_index_of_mean_prediction']:.2f}.")
    if test:
        parts.append(f"In the {coh['test_cohort']} cohort the C-index was {test['c_index_linear_predictor']:.2f}; "
                     "patients were split at the median training linear predictor into low- and high-risk groups "
                     "compared by Kaplan-Meier curves, the log-rank test and Cox regression.")
    parts.append("Reporting follows TRIPOD (Collins et al., 2015).")
    return " ".join(parts)
