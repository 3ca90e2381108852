"""``radgui model from-formula``: build a bundle from a published Radscore formula."""

from __future__ import annotations

import re

from radgui.cli._args import parse_pairs

NAME = "model"
HELP = "Build model bundles without training data (from-formula: a paper's logistic Radscore)."


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


def run(args) -> int:
    from radgui.errors import ConfigError
    from radgui.model.bundle import ModelBundle

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
