"""Score one patient with a model bundle, from already computed features.

:func:`predict_from_features` is the engine behind the Predict panel and
``radgui predict``: features (radiomics) and clinical values in, a
:class:`Prediction` out, with a confidence interval, nomogram points, risk
group, reference-cohort percentile and out-of-range warnings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.special import expit, logit
from scipy.stats import norm

from radgui.errors import BundleError, ClinicalValueError, FeatureValueError
from radgui.model.bundle import ModelBundle, Predictor


@dataclass
class Prediction:
    """The result of scoring one patient.

    Attributes
    ----------
    probability : float
        Predicted probability of the outcome (binary) or of the event by the
        model's horizon (Cox).
    ci_low, ci_high : float
        Confidence interval of ``probability`` (``level``, default 95 %), NaN
        when the bundle carries neither a covariance matrix nor bootstrap
        coefficients.
    linear_predictor : float
        Logit (logistic) or log relative hazard (Cox).
    radscore : float or None
        The Radscore (NaN-free) when the model has one.
    points : dict
        Nomogram points per term (``radscore`` and clinical variables).
    total_points : float or None
    risk_group : str or None
        ``"high"`` when at or above the bundle's cutoff, else ``"low"``.
    percentile : float or None
        Percentile (0-100) of ``linear_predictor`` in the reference cohort.
    values : dict
        The value each model term took (Radscore, clinical values).
    warnings : list of str
        Predictors outside the training 1st-99th percentiles, missing CI, ...
    features : dict
        The radiomics values the model used, by predictor name (set by
        :func:`radgui.model.patient.iter_predict`; empty when the features
        were given).
    """

    probability: float
    ci_low: float
    ci_high: float
    linear_predictor: float
    radscore: float | None
    points: dict[str, float] = field(default_factory=dict)
    total_points: float | None = None
    risk_group: str | None = None
    percentile: float | None = None
    values: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    level: float = 0.95
    features: dict[str, float] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (NaN becomes None)."""
        def clean(v):
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list):
                return [clean(x) for x in v]
            if isinstance(v, (float, np.floating)):
                return float(v) if math.isfinite(v) else None
            return v
        doc = clean(asdict(self))
        doc.pop("features", None)  # radgui predict --json prints them under their own key
        return doc


def check_clinical(bundle: ModelBundle, clinical: Mapping[str, object], *,
                   strict: bool = False) -> tuple[dict, list[str]]:
    """Validate and convert the clinical values a bundle needs.

    With ``strict`` (what ``radgui predict`` uses), a name the model does not
    know is refused (``ECOG`` for ``ecog``) instead of ignored; without it,
    extra values (a whole clinical record) are ignored.

    Returns ``(values, warnings)``: continuous values as float, categorical as
    their level string. Raises :class:`ClinicalValueError` naming a value the
    model does not know (with the names it expects), every missing value at
    once, or the first non-numeric, unknown-level or out-of-range value.
    """
    values, warnings = {}, []
    clinical = {} if clinical is None else clinical
    expected = [p.name for p in bundle.clinical_predictors]
    unknown = [k for k in clinical if k not in expected] if strict else []
    if unknown:
        hints = []
        for k in unknown:
            close = [e for e in expected if e.lower() == str(k).lower()]
            hints.append(f"'{k}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        listed = ", ".join(f"{p.name} ({_expected_text(p)})" for p in bundle.clinical_predictors) or "none"
        raise ClinicalValueError(f"unknown clinical value{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; "
                                 f"the model's clinical predictors are: {listed}")
    missing = [p for p in bundle.clinical_predictors if _is_missing(clinical.get(p.name))]
    if len(missing) == 1:
        p = missing[0]
        raise ClinicalValueError(f"clinical value '{p.name}' is missing (expected {_expected_text(p)})")
    if missing:
        raise ClinicalValueError(f"clinical values {', '.join(repr(p.name) for p in missing)} are missing "
                                 f"(expected: {'; '.join(f'{p.name} {_expected_text(p)}' for p in missing)})")
    for p in bundle.clinical_predictors:
        values[p.name], warns = check_clinical_value(p, clinical.get(p.name))
        warnings += warns
    return values, warnings


def check_clinical_value(predictor: Predictor, raw) -> tuple[float | str, list[str]]:
    """Validate and convert one clinical value with the rules of :func:`check_clinical`.

    What the Predict dock checks as the user types a field.

    Returns ``(value, warnings)``: a float for a continuous predictor, the
    level string for a categorical one; warnings when the value lies outside
    the training 1st-99th percentiles.

    Raises
    ------
    ClinicalValueError
        Missing, non-numeric, non-finite, out-of-range or unknown-level value.

    Examples
    --------
    >>> from radgui.model.bundle import Predictor
    >>> age = Predictor(name="age", source="clinical", unit="years", min=18, max=100)
    >>> check_clinical_value(age, "67")
    (67.0, [])
    >>> check_clinical_value(age, "12")
    Traceback (most recent call last):
    ...
    radgui.errors.ClinicalValueError: clinical value 'age' = 12 years is out of range (allowed 18 to 100 years)
    """
    p = predictor
    if _is_missing(raw):
        raise ClinicalValueError(f"clinical value '{p.name}' is missing (expected {_expected_text(p)})")
    if p.type == "categorical":
        level = _level(raw, p.categories)
        if level is None:
            raise ClinicalValueError(f"clinical value '{p.name}' = {raw!r} is not an allowed category "
                                     f"(allowed: {', '.join(p.categories)})")
        return level, []
    unit = f" {p.unit}" if p.unit else ""
    try:
        x = float(raw)
    except (TypeError, ValueError):
        raise ClinicalValueError(f"clinical value '{p.name}' = {raw!r} is not a number") from None
    if not math.isfinite(x):
        raise ClinicalValueError(f"clinical value '{p.name}' = {raw!r} is not a finite number")
    if (p.min is not None and x < p.min) or (p.max is not None and x > p.max):
        raise ClinicalValueError(f"clinical value '{p.name}' = {x:g}{unit} is out of range"
                                 f"{_range_text(p)}")
    return x, _percentile_warning(p, x)


def _is_missing(raw) -> bool:
    return raw is None or (isinstance(raw, float) and math.isnan(raw)) or (isinstance(raw, str) and not raw.strip())


def _expected_text(p: Predictor) -> str:
    return f"one of {p.categories}" if p.type == "categorical" else f"a number{_range_text(p)}"


def _range_text(p: Predictor) -> str:
    unit = f" {p.unit}" if p.unit else ""
    if p.min is not None and p.max is not None:
        return f" (allowed {p.min:g} to {p.max:g}{unit})"
    if p.min is not None:
        return f" (allowed >= {p.min:g}{unit})"
    if p.max is not None:
        return f" (allowed <= {p.max:g}{unit})"
    return ""


def _level(raw, categories) -> str | None:
    s = str(raw).strip()
    if s in categories:
        return s
    try:  # 1 / 1.0 / "1.0" match level "1"
        f = float(s)
        for c in categories:
            try:
                if float(c) == f:
                    return c
            except ValueError:
                continue
    except ValueError:
        pass
    low = {c.lower(): c for c in categories}
    return low.get(s.lower())


def _percentile_warning(p: Predictor, x: float, label: str | None = None) -> list[str]:
    if p.p01 is None or p.p99 is None:
        return []
    if x < p.p01 or x > p.p99:
        return [f"{label or p.name} = {x:.4g} lies outside the training cohort's 1st-99th percentile "
                f"range [{p.p01:.4g}, {p.p99:.4g}]; the prediction is an extrapolation"]
    return []


def harmonised_features(bundle: ModelBundle, features: Mapping[str, float],
                        clinical_values: Mapping[str, object]) -> tuple[dict[str, float], list[str]]:
    """Radiomics values after the bundle's ComBat and z-score steps.

    Raises :class:`FeatureValueError` naming a missing or non-finite feature.
    """
    warnings: list[str] = []
    raw = {}
    for p in bundle.predictors:
        if p.source != "radiomics":
            continue
        if p.name not in features or features[p.name] is None:
            raise FeatureValueError(f"radiomics feature '{p.name}' needed by the model is missing "
                                    "from the extracted features")
        try:
            x = float(features[p.name])
        except (TypeError, ValueError):
            raise FeatureValueError(f"radiomics feature '{p.name}' = {features[p.name]!r} is not a number") from None
        if not math.isfinite(x):
            raise FeatureValueError(f"radiomics feature '{p.name}' is not a finite number ({x})")
        raw[p.name] = x
        warnings += _percentile_warning(p, x)
    out = dict(raw)
    # the training pipeline's fixed order: z-score, then ComBat (on z-scores)
    if bundle.zscore is not None:
        z = bundle.zscore
        for f, m, s in zip(z["features"], z["mean"], z["sd"]):
            out[f] = (out[f] - m) / s
    if bundle.combat is not None:
        from radgui.model.steps import combat_apply_one

        out.update(combat_apply_one(bundle.combat, out, clinical_values))
    return out, warnings


def predict_from_features(bundle: ModelBundle, features: Mapping[str, float],
                          clinical: Mapping[str, object] | None = None, *, level: float = 0.95) -> Prediction:
    """Score one patient.

    Parameters
    ----------
    bundle : ModelBundle
    features : mapping of str to float
        Radiomics feature values, keyed by the bundle's feature names
        (``bundle.radiomics_features``); extra keys are ignored.
    clinical : mapping of str to float or str
        Clinical values keyed by the bundle's clinical predictor names,
        including the center when the bundle was harmonised with ComBat.
    level : float
        Confidence level of the interval.

    Returns
    -------
    Prediction

    Raises
    ------
    ClinicalValueError
        A clinical value is missing, unparsable, or outside its allowed range.
    FeatureValueError
        A radiomics feature is missing or not finite.

    Notes
    -----
    The interval of a logistic model is the delta-method interval on the logit
    scale, ``lp +/- z * sqrt(x' V x)`` with ``V`` the stored covariance of the
    final model's coefficients (the Radscore treated as a fixed covariate),
    mapped through the inverse logit; with stored bootstrap coefficients it is
    their percentile interval instead.
    """
    clinical = dict(clinical or {})
    values, warnings = check_clinical(bundle, clinical)
    feats, w = harmonised_features(bundle, features, values)
    warnings += w

    radscore = None
    est_prob = None
    if bundle.radscore is not None:
        rs = bundle.radscore
        radscore = float(rs["intercept"] + sum(c * feats[f] for f, c in rs["coefficients"].items()))
    elif bundle.estimator is not None:
        import pandas as pd

        row = [[feats[f] if f in feats else float(values[f]) for f in bundle.estimator_features]]
        est_prob = float(bundle.estimator.predict_proba(pd.DataFrame(row, columns=bundle.estimator_features))[0, 1])
        radscore = float(logit(min(max(est_prob, 1e-6), 1 - 1e-6)))

    term_values = {}
    if bundle.linear_model is None:  # a tree/kernel model alone
        warnings.append("no confidence interval: the model is not a linear model")
        pred = Prediction(probability=est_prob, ci_low=math.nan, ci_high=math.nan, linear_predictor=radscore,
                          radscore=radscore, level=level)
    else:
        lm = bundle.linear_model
        x = [1.0] if lm.link == "logit" else []
        lp = lm.intercept
        for t in lm.terms:
            if t.type == "categorical":
                v = values[t.name]
                term_values[t.name] = v
                for lvl, c in t.coefficients.items():
                    x.append(1.0 if v == lvl else 0.0)
                    lp += c * x[-1]
            else:
                v = radscore if t.name == "radscore" else values[t.name]
                term_values[t.name] = v
                x.append(float(v))
                lp += t.coefficient * float(v)
                if t.name == "radscore" and t.p01 is not None and t.p99 is not None:
                    warnings += _percentile_warning(
                        Predictor(name="Radscore", source="radiomics", p01=t.p01, p99=t.p99), v)
        x = np.asarray(x)
        zq = norm.ppf(0.5 + level / 2)
        if lm.bootstrap is not None:
            lo_lp, hi_lp = np.quantile(lm.bootstrap @ x, [0.5 - level / 2, 0.5 + level / 2])
        elif lm.covariance is not None:
            se = math.sqrt(max(float(x @ lm.covariance @ x), 0.0))
            lo_lp, hi_lp = lp - zq * se, lp + zq * se
        else:
            lo_lp = hi_lp = math.nan
            warnings.append("no confidence interval: the bundle has no coefficient covariance "
                            "(e.g. a published formula)")
        to_p = _to_probability(lm)
        pred = Prediction(probability=to_p(lp), ci_low=to_p(lo_lp), ci_high=to_p(hi_lp),
                          linear_predictor=float(lp), radscore=radscore, level=level)
    _require_finite(pred)
    pred.values = term_values

    if bundle.nomogram is not None and bundle.linear_model is not None:
        pts = points_for(bundle, term_values)
        pred.points = pts
        pred.total_points = float(sum(pts.values()))
    if bundle.cutoff is not None:
        c = bundle.cutoff
        v = pred.probability if c["scale"] == "probability" else pred.linear_predictor
        pred.risk_group = "high" if v >= c["value"] else "low"
    ref = bundle.reference_cohort
    if ref is not None and len(ref):
        lps = np.asarray(ref["linear_predictor"], dtype=float)
        pred.percentile = float(100.0 * (np.sum(lps < pred.linear_predictor) + 0.5 * np.sum(lps == pred.linear_predictor)) / len(lps))
    pred.warnings = warnings
    return pred


def _require_finite(pred: Prediction) -> None:
    """A prediction whose probability or linear predictor is not finite is refused, never shown."""
    bad = [name for name, v in (("linear predictor", pred.linear_predictor), ("probability", pred.probability),
                                ("radscore", pred.radscore)) if v is not None and not math.isfinite(v)]
    if pred.probability is not None and math.isfinite(pred.probability) and not 0.0 <= pred.probability <= 1.0:
        bad.append(f"probability ({pred.probability:g}, outside 0-1)")
    if bad:
        raise BundleError(f"the model gives a non-finite or impossible {' and '.join(bad)} for these values "
                          "(its coefficients or the inputs overflow); no prediction is shown")


def _to_probability(lm):
    if lm.link == "logit":
        return lambda v: float(expit(v)) if math.isfinite(v) else math.nan
    s0, = (lm.baseline_survival,)

    def cox(v):
        if not math.isfinite(v):
            return math.nan
        try:
            return float(1.0 - s0 ** math.exp(v))
        except OverflowError:
            return math.nan
    return cox


def points_for(bundle: ModelBundle, term_values: Mapping[str, object]) -> dict[str, float]:
    """Nomogram points of each term for the given term values."""
    nomo = bundle.nomogram
    scale = nomo["points_per_lp"]
    terms = {t.name: t for t in bundle.linear_model.terms}
    out = {}
    for ax in nomo["axes"]:
        t = terms[ax["term"]]
        v = term_values[t.name]
        if t.type == "categorical":
            contrib = 0.0 if v == t.reference else t.coefficients[v]
        else:
            contrib = t.coefficient * float(v)
        out[t.name] = float((contrib - ax["min_contribution"]) * scale)
    return out


def total_points_to_lp(bundle: ModelBundle, total_points) -> np.ndarray:
    """Linear predictor implied by nomogram total points (inverse of the scales)."""
    nomo = bundle.nomogram
    return nomo["lp_at_zero_points"] + np.asarray(total_points, dtype=float) / nomo["points_per_lp"]


def lp_to_probability(bundle: ModelBundle, lp) -> np.ndarray:
    """Probability implied by a linear predictor under the bundle's link."""
    lm = bundle.linear_model
    lp = np.asarray(lp, dtype=float)
    if lm.link == "logit":
        return expit(lp)
    return 1.0 - lm.baseline_survival ** np.exp(lp)


def score_patients(bundle, features, clinical=None):
    """Score every patient of a cohort table with a bundle (``radgui evaluate``).

    ``features`` and ``clinical`` (pandas DataFrames) are indexed by patient id. Returns one row
    per patient: ``model`` (probability), ``linear_predictor``, ``radscore``,
    ``risk_group``. A patient whose values the bundle refuses raises the
    error with the patient id in front.
    """
    import pandas as pd

    from radgui.errors import RadguiError

    rows = []
    for pid in features.index:
        clin = {} if clinical is None else {k: v for k, v in clinical.loc[pid].items()}
        try:
            pred = predict_from_features(bundle, features.loc[pid].to_dict(), clin)
        except RadguiError as exc:
            raise type(exc)(f"patient {pid}: {exc.reason}", exc.path) from None
        rows.append({"model": pred.probability, "linear_predictor": pred.linear_predictor,
                     "radscore": pred.radscore, "risk_group": pred.risk_group})
    return pd.DataFrame(rows, index=features.index)
