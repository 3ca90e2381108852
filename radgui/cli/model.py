"""``radgui model from-formula``: build a bundle from a published Radscore formula;
``radgui model info BUNDLE [--json]``: what a bundle needs (predictors, types, units, ranges)."""

from __future__ import annotations

import re

from radgui.cli._args import parse_pairs

NAME = "model"
HELP = ("Build model bundles without training data (from-formula: a paper's logistic Radscore); "
        "show what a bundle needs (info).")


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("from-formula", help="bundle a published logistic Radscore formula",
                       description="Radscore = intercept + sum(coef * feature); probability = 1/(1+exp(-Radscore)). "
                                   "Example: radgui model from-formula --formula \"-1.2 + 0.8*original_shape_Sphericity "
                                   "- 0.3*original_glcm_Idm\" --cutoff -0.4 --out paper.radgui-model")
    p.add_argument("--formula", help="e.g. \"-1.2 + 0.8*featureA - 0.3*featureB\" (a leading 'Radscore =' is allowed)")
    p.add_argument("--intercept", type=float, help="intercept (instead of --formula)")
    p.add_argument("--coef", action="append", default=[], metavar="FEATURE=VALUE", help="one coefficient (repeatable)")
    p.add_argument("--cutoff", type=float, help="published cutoff")
    p.add_argument("--cutoff-scale", choices=["radscore", "probability"], default="radscore")
    p.add_argument("--zscore", action="append", default=[], metavar="FEATURE=MEAN:SD",
                   help="normalisation the paper applied before the formula (repeatable)")
    p.add_argument("--range", action="append", default=[], metavar="FEATURE=LOW:HIGH",
                   help="plausible feature range, for warnings and the nomogram (repeatable)")
    p.add_argument("--name", default="published Radscore")
    p.add_argument("--source", default="", help="citation of the paper")
    p.add_argument("--intended-use", default="Research use only, not for clinical decisions.")
    p.add_argument("--out", required=True, help="output bundle file")
    i = sub.add_parser("info", help="list a bundle's predictors with types, units and allowed ranges",
                       description="Lists what 'radgui predict' needs: the clinical values (--clinical NAME=VALUE) "
                                   "with their types, units, allowed ranges or levels, and the radiomics features "
                                   "computed from the image.")
    i.add_argument("bundle", metavar="BUNDLE", help="model bundle (*.radgui-model), or 'demo'")
    i.add_argument("--json", action="store_true", help="print the description as JSON")


_NUM = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
# PyRadiomics names may hold hyphens ("log-sigma-3-0-mm-3D_glcm_Idm"); a hyphen ends the
# name only when a coefficient follows it ("a-0.3*b").
_NAME = r"[A-Za-z_](?:[\w.]|-(?!" + _NUM + r"\*))*"
_TERM = re.compile(r"([+-]?)(" + _NUM + r")(?:\*(" + _NAME + r"))?")


def parse_formula(text: str) -> tuple[float, dict[str, float]]:
    """``"-1.2 + 0.8*a - 0.3*b"`` -> ``(-1.2, {"a": 0.8, "b": -0.3})``.

    Terms are ``[sign]number*feature``; a term without a feature is the intercept.
    """
    from radgui.errors import ConfigError

    body = text.split("=", 1)[1] if "=" in text else text
    body = "".join(body.split()).replace("\u2212", "-").replace("\u00d7", "*")
    coefs: dict[str, float] = {}
    intercept, pos = 0.0, 0
    for m in _TERM.finditer(body):
        if m.start() != pos:
            break
        value = float(m.group(2)) * (-1.0 if m.group(1) == "-" else 1.0)
        if m.group(3):
            coefs[m.group(3)] = coefs.get(m.group(3), 0.0) + value
        else:
            intercept += value
        pos = m.end()
    if pos != len(body):
        raise ConfigError(f"formula: cannot read '{body[pos:pos + 30]}' (terms must look like +0.8*feature)")
    if not coefs:
        raise ConfigError("formula: no 'coefficient*feature' term found")
    return intercept, coefs


def _pairs(items, what, two=False):
    from radgui.errors import ConfigError

    out = {}
    for k, v in parse_pairs(items, f"--{what}", "A:B" if two else "VALUE").items():
        item = f"{k}={v}"
        try:
            out[k] = tuple(float(x) for x in v.split(":")) if two else float(v)
        except ValueError:
            raise ConfigError(f"--{what} '{item}': '{v}' is not a number{' pair A:B' if two else ''}") from None
        if two and len(out[k]) != 2:
            raise ConfigError(f"--{what} '{item}' must give two numbers A:B")
    return out


def info_dict(bundle) -> dict:
    """The JSON document ``radgui model info --json`` prints."""
    from radgui.model.patient import bundle_preset

    lm = bundle.linear_model
    return {
        "name": bundle.name, "model_kind": bundle.model_kind, "outcome": dict(bundle.outcome),
        "intended_use": bundle.intended_use, "schema_version": bundle.schema_version,
        "predictors": [p.to_dict() for p in bundle.predictors],
        "clinical": [p.name for p in bundle.clinical_predictors],
        "radiomics": list(bundle.radiomics_features),
        "feature_preset": bundle_preset(bundle),
        "cutoff": None if bundle.cutoff is None else bundle.cutoff.to_dict(),
        "horizon": None if lm is None else lm.horizon,
        "has_confidence_interval": lm is not None and (lm.covariance is not None or lm.bootstrap is not None),
        "reference_cohort": None if bundle.reference_cohort is None else int(len(bundle.reference_cohort)),
    }


def _describe(p) -> str:
    unit = f" {p.unit}" if p.unit else ""
    if p.type == "categorical":
        text = f"categorical, one of {', '.join(p.categories or [])}"
    elif p.source == "radiomics":
        text = "continuous"
        if p.min is not None and p.max is not None:
            text += f", training range {p.min:.6g} to {p.max:.6g}"
    else:
        if p.min is not None and p.max is not None:
            rng = f"allowed {p.min:g} to {p.max:g}{unit}"
        elif p.min is not None:
            rng = f"allowed >= {p.min:g}{unit}"
        elif p.max is not None:
            rng = f"allowed <= {p.max:g}{unit}"
        else:
            rng = f"any number{unit}" if unit else "any number"
        text = f"continuous, {rng}"
    if p.p01 is not None and p.p99 is not None:
        text += f" (training 1st-99th percentile {p.p01:.4g} to {p.p99:.4g})"
    if p.role == "batch":
        text += " [center/scanner for ComBat]"
    return text + (f" - {p.label}" if p.label and p.label != p.name else "")


def run_info(args) -> int:
    import json

    from radgui.cli.predict import load_bundle

    bundle = load_bundle(args.bundle)
    doc = info_dict(bundle)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    out = bundle.outcome
    print(f"model: {bundle.name}")
    print(f"kind: {bundle.model_kind} ({out.get('type')} outcome '{out.get('name')}')"
          + (f", probability by {doc['horizon']:g}" if doc["horizon"] is not None else ""))
    print(f"intended use: {bundle.intended_use}")
    clinical = bundle.clinical_predictors
    print(f"clinical values ({len(clinical)}; give each with --clinical NAME=VALUE):")
    for p in clinical:
        print(f"  {p.name}: {_describe(p)}")
    feats = [p for p in bundle.predictors if p.source == "radiomics"]
    print(f"radiomics features ({len(feats)}; computed from the image and ROI"
          + (f", preset {doc['feature_preset']}" if doc["feature_preset"] else "") + "):")
    for p in feats:
        print(f"  {p.name}: {_describe(p)}")
    if bundle.cutoff:
        c = bundle.cutoff
        print(f"risk cutoff: {c['value']:.4g} on the {c['scale'].replace('_', ' ')} scale ({c['method']})")
    return 0


def run(args) -> int:
    from radgui.errors import ConfigError
    from radgui.model.bundle import ModelBundle

    if args.action == "info":
        return run_info(args)
    if args.formula:
        intercept, coefs = parse_formula(args.formula)
    else:
        if args.intercept is None or not args.coef:
            raise ConfigError("give --formula, or --intercept with at least one --coef FEATURE=VALUE")
        intercept, coefs = args.intercept, _pairs(args.coef, "coef")
    bundle = ModelBundle.from_formula(
        intercept, coefs, name=args.name, cutoff=args.cutoff,
        cutoff_scale="linear_predictor" if args.cutoff_scale == "radscore" else "probability",
        zscore=_pairs(args.zscore, "zscore", two=True) or None, ranges=_pairs(args.range, "range", two=True),
        intended_use=args.intended_use, source=args.source)
    path = bundle.save(args.out)
    terms = " ".join(f"{c:+g}*{f}" for f, c in coefs.items())
    print(f"Radscore = {intercept:g} {terms}")
    print(f"wrote {path}")
    return 0
