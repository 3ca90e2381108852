"""``radgui study create|assign|status|export|icc``: reader studies from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "study"
HELP = "Reader studies: create a study folder, assign cases to readers, show status, export, reader agreement (ICC)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="study_command", metavar="ACTION", parser_class=type(parser))
    sub.required = True

    p = sub.add_parser("create", help="create a study from a folder of images, a manifest CSV or a DICOM tree",
                       description="Create a study folder (SQLite store + segmentations) from a folder of images "
                                   "(one case each), a manifest CSV (column image; optional case_id, series_uid, "
                                   "timepoint, centre; other columns are clinical data) or a DICOM tree.")
    p.add_argument("study", metavar="STUDY", help="new study folder")
    p.add_argument("source", metavar="SOURCE", help="folder of images, manifest .csv or DICOM folder")
    p.add_argument("--copy-images", action="store_true", help="copy image files into STUDY/images")
    p.add_argument("--json", action="store_true", help="print the cases as JSON")

    p = sub.add_parser("assign", help="assign cases to a reader (all, a seeded random subset, or a repeat)",
                       description="Assign cases to READER (created if new): all cases by default, or a seeded "
                                   "random subset (--count/--fraction, optionally --stratify centre); "
                                   "--round 2 --washout-days N repeats a subset of the reader's round 1.")
    p.add_argument("study", metavar="STUDY")
    p.add_argument("reader", metavar="READER")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--count", type=int, help="number of cases")
    g.add_argument("--fraction", type=float, help="fraction of cases, in (0, 1]")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--stratify", choices=["centre", "center", "timepoint"], help="sample each stratum in proportion")
    p.add_argument("--round", type=int, default=1, help="reading round (2+ for intra-reader repeats)")
    p.add_argument("--washout-days", type=float, default=0.0, help="repeat cases become available after N days")
    p.add_argument("--json", action="store_true", help="print the assigned case ids as JSON")

    p = sub.add_parser("status", help="cases, readers and progress",
                       description="Cases, readers and how many assigned cases each reader has segmented.")
    p.add_argument("study", metavar="STUDY")
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = sub.add_parser("export", help="segmentations as a manifest CSV for radgui extract --manifest",
                       description="Write one row per segmentation (patient_id, image, mask, roi, timepoint, "
                                   "reader, center; absolute paths) for `radgui extract --manifest`.")
    p.add_argument("study", metavar="STUDY")
    p.add_argument("-o", "--output", help="CSV file (default: stdout)")
    p.add_argument("--reader", help="only this reader's segmentations")

    p = sub.add_parser("icc", help="inter-/intra-reader agreement: feature ICCs, Dice, Jaccard, HD95",
                       description="Extract features of each reader's ROIs with one preset, compute per-feature "
                                   "ICCs (95%% CI; constant features 'not assessable') and per-case Dice, Jaccard, "
                                   "volume difference and HD95 (mm). Writes icc.csv, icc_table.csv (feature,icc: "
                                   "the icc_table of `radgui train`), kept_features.txt, overlap.csv, "
                                   "icc_histogram.png.")
    p.add_argument("study", metavar="STUDY")
    p.add_argument("-o", "--output", help="output folder (default: STUDY/runs/<n>)")
    p.add_argument("--preset", default="ct-original", help="feature preset (default ct-original)")
    p.add_argument("--form", default="ICC(2,1)", help="ICC form: ICC(2,1) (default, absolute agreement) or ICC(3,1)")
    p.add_argument("--threshold", type=float, default=0.75, help="ICC kept at or above (default 0.75)")
    p.add_argument("--reader", action="append", dest="readers", metavar="READER",
                   help="compare only these readers (repeat); default all")
    p.add_argument("--roi", help="only this ROI")
    p.add_argument("--repeat-reader", metavar="READER", help="intra-reader: compare READER's rounds")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


def _open(path):
    from radgui.study import Study

    return Study.open(path)


def run(args: argparse.Namespace) -> int:
    return {"create": _create, "assign": _assign, "status": _status, "export": _export,
            "icc": _icc}[args.study_command](args)


def _create(args) -> int:
    from radgui.study import create_study

    with create_study(args.study, args.source, copy_images=args.copy_images) as study:
        cases = study.cases()
        if args.json:
            print(json.dumps([{"case_id": c.case_id, "image": str(c.image), "series_uid": c.series_uid,
                               "timepoint": c.timepoint, "centre": c.centre} for c in cases], indent=1))
        else:
            print(f"radgui study: {len(cases)} cases -> {study.folder}", file=sys.stderr)
    return 0


def _assign(args) -> int:
    from radgui.study import assign

    with _open(args.study) as study:
        chosen = assign(study, args.reader, count=args.count, fraction=args.fraction, seed=args.seed,
                        stratify=args.stratify, round=args.round, washout_days=args.washout_days)
    if args.json:
        print(json.dumps({"reader": args.reader, "round": args.round, "cases": chosen}))
    else:
        print(f"radgui study: {len(chosen)} cases assigned to {args.reader} (round {args.round})", file=sys.stderr)
    return 0


def _status(args) -> int:
    with _open(args.study) as study:
        st = study.status()
    if args.json:
        print(json.dumps(st, indent=1))
        return 0
    print(f"study: {st['study']}\ncases: {st['cases']}")
    for name, r in st["readers"].items():
        print(f"reader {name}: {r['segmented']} of {r['assigned']} assigned cases segmented")
    return 0


def _export(args) -> int:
    from radgui.study import export_manifest, export_table

    with _open(args.study) as study:
        if args.output:
            export_manifest(study, args.output, args.reader)
            print(f"radgui study: manifest -> {args.output}", file=sys.stderr)
        else:
            export_table(study, args.reader).to_csv(sys.stdout, index=False)
    return 0


def _icc(args) -> int:
    from radgui.study import study_agreement

    with _open(args.study) as study:
        res = study_agreement(study, preset=args.preset, form=args.form, threshold=args.threshold,
                              readers=args.readers, roi=args.roi, repeat_reader=args.repeat_reader)
        if args.output:
            out = Path(args.output)
        else:
            runs = study.folder / "runs"
            n = 1 + max([int(p.name) for p in runs.glob("*") if p.name.isdigit()] or [0])
            out = runs / str(n)
        res.write(out)
        study.record_feature_run(res.preset, res.form, res.threshold, res.params, str(out))
    summary = {"output": str(out), "form": res.form, "threshold": res.threshold, "features": int(len(res.icc)),
               "kept": len(res.kept), "not_assessable": int((res.icc["status"] == "not assessable").sum()),
               "mean_dice": None if res.overlap.empty else float(res.overlap["dice"].mean())}
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"radgui study icc: {summary['features']} features, {summary['kept']} with {res.form} >= "
              f"{res.threshold:g} ({summary['not_assessable']} not assessable) -> {out}", file=sys.stderr)
    return 0
