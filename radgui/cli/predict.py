"""``radgui predict BUNDLE --image I --mask M [--clinical name=value ...] --json``: score one patient."""

from __future__ import annotations

import argparse
from pathlib import Path

from radgui.cli._args import add_image_options, image_kwargs, parse_pairs

NAME = "predict"
HELP = "Score one patient with a model bundle (probability, CI, nomogram points, risk group)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="BUNDLE",
                        help="model bundle (*.radgui-model), or 'demo' for the shipped synthetic demo model")
    parser.add_argument("--image", type=Path, required=True, metavar="I", help="image file or DICOM folder")
    parser.add_argument("--mask", type=Path, metavar="M", help="tumour ROI label map on the image's grid")
    parser.add_argument("--label", type=int, help="the ROI's label in the masks (default: each mask's only label)")
    add_image_options(parser)
    parser.add_argument("--roi", action="append", default=[], metavar="NAME=MASK",
                        help="another ROI (e.g. ring3mm=ring.nrrd); PET ROIs go on the --pet image's grid")
    parser.add_argument("--pet", type=Path, metavar="PET", help="PET image in SUV, for models with PET ROIs")
    parser.add_argument("--modality", choices=["CT", "MR", "PT", "OT"],
                        help="modality of a non-DICOM image (default: guessed from values)")
    parser.add_argument("--clinical", action="append", default=[], metavar="NAME=VALUE",
                        help="a clinical value the model needs (repeat); see the bundle's predictors")
    parser.add_argument("--level", type=float, default=0.95, help="confidence level of the interval (0.95)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def load_bundle(spec: str):
    """A bundle by path, or the shipped demo model for ``"demo"``."""
    from radgui.model.bundle import ModelBundle

    if spec == "demo":
        from radgui.demo import demo_model_path

        return ModelBundle.load(demo_model_path())
    return ModelBundle.load(spec)


def result_dict(bundle, prediction) -> dict:
    """The JSON document ``radgui predict --json`` prints."""
    doc = prediction.to_dict()
    doc["model"] = bundle.name
    doc["features"] = dict(prediction.features)
    return doc


def run(args: argparse.Namespace) -> int:
    import json

    from radgui.errors import RadguiError
    from radgui.io import load_mask, load_volume
    from radgui.model.patient import is_pet_roi, iter_predict, study_inputs
    from radgui.progress import run as run_steps

    if not 0 < args.level < 1:
        raise RadguiError(f"--level must lie between 0 and 1, got {args.level}")
    bundle = load_bundle(args.bundle)
    clinical = parse_pairs(args.clinical, "--clinical")
    extra = parse_pairs(args.roi, "--roi", "MASK")
    # Check the clinical values before loading any image: bad input fails fast.
    from radgui.model.predict import check_clinical

    check_clinical(bundle, clinical, strict=True)
    volume = load_volume(args.image, modality=args.modality, **image_kwargs(args))
    pet = load_volume(args.pet, modality="PT") if args.pet else None
    rois = {}
    if args.mask is not None:
        rois["tumour"] = load_mask(args.mask, volume, label=args.label)
    for name, path in extra.items():
        if is_pet_roi(bundle, name):
            if pet is None:
                raise RadguiError(f"ROI '{name}' is a PET ROI; give the PET image with --pet")
            rois[name] = (pet, load_mask(Path(path), pet, label=args.label))
        else:
            rois[name] = load_mask(Path(path), volume, label=args.label)
    volumes, rois = study_inputs(bundle, volume, pet, rois)
    pred = run_steps(iter_predict(bundle, volumes, rois, clinical, level=args.level))
    doc = result_dict(bundle, pred)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    pct = f"{100 * args.level:g}%"
    ci = ("" if doc["ci_low"] is None else f" ({pct} CI {doc['ci_low']:.3f}-{doc['ci_high']:.3f})")
    print(f"model: {bundle.name}")
    print(f"probability: {pred.probability:.3f}{ci}")
    print(f"linear predictor: {pred.linear_predictor:.3f}")
    if pred.radscore is not None:
        print(f"radscore: {pred.radscore:.3f}")
    if pred.risk_group is not None:
        from radgui.model.config import risk_group_label

        direction = bundle.outcome.get("direction", "adverse")
        print(f"group: {risk_group_label(pred.risk_group, direction, bundle.outcome.get('name', 'the outcome'))}"
              f" ({direction} outcome)")
    if pred.total_points is not None:
        pts = ", ".join(f"{k} {v:.1f}" for k, v in pred.points.items())
        print(f"nomogram points: {pts}; total {pred.total_points:.1f}")
    if pred.percentile is not None:
        print(f"reference-cohort percentile: {pred.percentile:.0f}")
    for w in pred.warnings:
        print(f"warning: {w}")
    return 0
