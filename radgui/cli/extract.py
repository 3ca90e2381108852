"""``radgui extract``: PyRadiomics features of one case or of a cohort manifest.

Single case::

    radgui extract --image ct.nrrd --mask tumour.nrrd [--roi ring=ring.nrrd ...] \
        --preset ct-wavelet -o features.csv

Cohort::

    radgui extract --manifest cohort.csv -o features.csv --preset ct-wavelet \
        --workers 4 [--scheduler tcp://host:8786] [--aggregate mean|largest]
"""

from __future__ import annotations

import sys
import time

from radgui.cli._args import add_image_options, image_kwargs, parse_pairs

NAME = "extract"
HELP = "Extract PyRadiomics features (one case, or a cohort manifest in parallel)."


def add_arguments(parser) -> None:
    one = parser.add_argument_group("single case")
    one.add_argument("--image", help="image file or DICOM folder")
    one.add_argument("--mask", help="mask of the main ROI (named by --name, default 'tumour'): a label map "
                                    "(.nrrd/.nii.gz/.mha), a Slicer .seg.nrrd, a DICOM-SEG or RTSTRUCT; choose a "
                                    "segment by name with FILE#NAME, e.g. RS.dcm#GTV")
    one.add_argument("--name", default="tumour", help="name of the --mask ROI (default: tumour)")
    one.add_argument("--roi", action="append", default=[], metavar="NAME=MASK",
                     help="another ROI of the same image, e.g. ring6mm=ring.nrrd or node=RS.dcm#node1 (repeatable)")
    one.add_argument("--label-names", metavar="FILE", default=None,
                     help="ITK-SNAP label description file naming the labels of the masks (then FILE#NAME works)")
    one.add_argument("--label", type=int, default=None, help="the ROI's label in the masks (default: each mask's only label)")
    add_image_options(one)
    one.add_argument("--modality", default=None, help="CT, MR, PT or OT (default: guessed)")
    one.add_argument("--wide", action="store_true",
                     help="write one row with <roi>__<feature> columns instead of one row per ROI")
    many = parser.add_argument_group("cohort")
    many.add_argument("--manifest", help="CSV with patient_id,image,mask[,label,roi,timepoint,reader,center]")
    many.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    many.add_argument("--scheduler", default=None, metavar="ADDRESS",
                      help="run on a Dask distributed scheduler, e.g. tcp://10.0.0.5:8786 (radgui[cluster])")
    many.add_argument("--aggregate", choices=("mean", "largest"), default=None,
                      help="also write one row per patient from several lesions (<output>.per-patient.csv)")
    parser.add_argument("--preset", default="ct-original",
                        help="preset name (ct-original, ct-wavelet, ct-log, ct-iso1mm, pet-suv) or PyRadiomics YAML")
    parser.add_argument("--list-presets", action="store_true", help="list the shipped presets and exit")
    parser.add_argument("-o", "--output", help="features CSV (single case: default stdout); beside it "
                                               "<output>.provenance.json and <output>.ibsi.csv")
    parser.add_argument("--format", choices=("radgui", "pyradiomics"), default="radgui",
                        help="pyradiomics: the columns and values of the `pyradiomics` command line's batch CSV "
                             "(Image, Mask, diagnostics_*, features; one row per ROI)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


class _Bar:
    """A one-line text progress bar on stderr."""

    def __init__(self, enabled: bool = True, width: int = 30):
        self.enabled = enabled and sys.stderr is not None
        self.width = width
        self.t0 = time.monotonic()

    def __call__(self, step) -> None:
        if not self.enabled:
            return
        frac = step.fraction or 0.0
        fill = int(round(frac * self.width))
        line = f"\r[{'#' * fill}{'.' * (self.width - fill)}] {frac * 100:5.1f}% {step.message}"
        sys.stderr.write(line[:160].ljust(100))
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def run(args) -> int:
    from radgui.errors import RadguiError
    from radgui.files import write_csv
    from radgui.features.presets import load_preset, presets

    if args.list_presets:
        for name in presets():
            p = load_preset(name)
            print(name)
            for line in p.summary():
                print(f"    {line}")
        return 0
    preset = load_preset(args.preset)  # fail fast on a bad preset
    bar = _Bar(not args.quiet)
    if args.format == "pyradiomics":
        return _run_pyradiomics_format(args, preset)
    if args.manifest:
        if args.image or args.mask:
            raise RadguiError("give either --manifest or --image/--mask, not both")
        if not args.output:
            raise RadguiError("--manifest needs -o/--output (the features CSV, resumable)")
        from radgui.features.cohort import aggregate_lesions, extract_cohort

        try:
            summary = extract_cohort(args.manifest, args.output, preset, workers=args.workers,
                                     scheduler=args.scheduler, callback=bar)
        finally:
            bar.close()
        print(f"radgui extract: {summary['done']} row(s) written, {summary['skipped']} already done, "
              f"{summary['failed']} failed in {summary['seconds']:.1f} s -> {summary['output']}", file=sys.stderr)
        for f in summary["failures"]:
            print(f"  FAILED {f['patient_id']} {f['roi']}: {f['reason']}", file=sys.stderr)
        if summary["failures_file"]:
            print(f"  failures listed in {summary['failures_file']}", file=sys.stderr)
        _sidecars(args.output, preset, {"manifest": args.manifest}, summary=summary)
        if args.aggregate:
            import pandas as pd
            from pathlib import Path

            out = Path(args.output)
            table = pd.read_csv(out, keep_default_na=False, na_values=[""],
                                dtype={c: str for c in ("patient_id", "roi", "timepoint", "reader", "center")})
            agg = aggregate_lesions(table, args.aggregate)
            per_patient = out.with_name(out.stem + ".per-patient.csv")
            write_csv(per_patient, agg, index=False)
            print(f"  one row per patient ({args.aggregate}) -> {per_patient}", file=sys.stderr)
        return 1 if summary["failed"] else 0

    if not args.image or not args.mask:
        raise RadguiError("give --image and --mask (single case) or --manifest (cohort)")
    if args.output:
        from pathlib import Path

        from radgui.files import check_writable

        check_writable(Path(args.output).absolute().parent)  # before the extraction, not after it
    from radgui.features.extract import flatten, iter_extract
    from radgui.io.volume import load_mask, load_volume
    from radgui.progress import run as run_steps

    volume = load_volume(args.image, modality=args.modality, **image_kwargs(args))
    paths = {args.name: args.mask, **parse_pairs(args.roi, "--roi", "MASK")}
    masks = {name: load_mask(path, volume, label=args.label, label_names=args.label_names)
             for name, path in paths.items()}
    try:
        df = run_steps(iter_extract(volume, masks, preset, label=args.label), bar)
    finally:
        bar.close()
    table = flatten(df).to_frame().T if args.wide else df
    if args.output:
        write_csv(args.output, table, index=not args.wide)
        _sidecars(args.output, preset, {"image": args.image, **{f"mask:{k}": v for k, v in paths.items()}},
                  columns=list(table.columns), warnings=volume.warnings, image_sha256=volume.hash())
        print(f"radgui extract: {len(df)} ROI(s) x {df.shape[1]} features -> {args.output}", file=sys.stderr)
    else:
        table.to_csv(sys.stdout, index=not args.wide)
    return 0


def _sidecars(output, preset, inputs: dict, columns=None, summary=None, warnings=None, image_sha256=None) -> None:
    """The provenance JSON and the IBSI code table beside a features CSV."""
    from radgui.features.ibsi import ibsi_table, write_provenance
    from radgui.files import write_csv
    from pathlib import Path

    out = Path(output)
    if columns is None and out.is_file():
        with open(out, encoding="utf-8") as fh:
            columns = fh.readline().rstrip("\n").split(",")
    ibsi = out.with_name(out.name + ".ibsi.csv")
    write_csv(ibsi, ibsi_table(columns or []), index=False)
    extra = {"ibsi_codes": ibsi.name}
    if summary is not None:
        extra["summary"] = {k: summary[k] for k in ("done", "skipped", "failed") if k in summary}
    if image_sha256:
        extra["image_sha256"] = image_sha256
    write_provenance(out, command="radgui extract", inputs=inputs, preset=preset, extra=extra, warnings=warnings)


def _run_pyradiomics_format(args, preset) -> int:
    """``--format pyradiomics``: the `pyradiomics` CLI's batch CSV, one row per (image, mask)."""
    import csv
    from pathlib import Path

    from radgui.errors import RadguiError
    from radgui.features.ibsi import pyradiomics_case, write_pyradiomics_csv
    from radgui.io.volume import load_mask, load_volume

    if args.wide or args.aggregate:
        raise RadguiError("--format pyradiomics writes one row per case; drop --wide/--aggregate")
    cases = []
    if args.manifest:
        from radgui.features.cohort import read_manifest

        manifest = read_manifest(args.manifest)
        with open(args.manifest, newline="", encoding="utf-8") as fh:
            raw = list(csv.DictReader(fh))
        for row, given in zip(manifest.to_dict("records"), raw):
            case = {"Image": row["image"], "Mask": row["mask"],
                    **{k.strip(): v for k, v in given.items() if k and k.strip() not in ("Image", "Mask")}}
            label = int(row["label"]) if str(row.get("label", "")).strip() else args.label
            cases.append((case, row["image"], row["mask"], label, row.get("modality") or args.modality))
    else:
        if not args.image or not args.mask:
            raise RadguiError("give --image and --mask (single case) or --manifest (cohort)")
        from radgui.cli._args import parse_pairs

        masks = [args.mask, *parse_pairs(args.roi, "--roi", "MASK").values()]
        for m in masks:
            cases.append(({"Image": str(Path(args.image).absolute()), "Mask": str(Path(m).absolute())},
                          args.image, m, args.label, args.modality))
    if args.output:
        from radgui.files import check_writable

        check_writable(Path(args.output).absolute().parent)
    rows = []
    loaded = {}
    for case, image, mask_path, label, modality in cases:
        if image not in loaded:
            loaded = {image: load_volume(image, modality=modality, **image_kwargs(args))}
        volume = loaded[image]
        mask = load_mask(mask_path, volume, label=label, label_names=args.label_names)
        import SimpleITK as sitk

        values = sitk.GetArrayViewFromImage(mask)
        chosen = int(values.max()) if values.size and values.max() > 0 else 1
        rows.append(pyradiomics_case(case, volume.image, mask, preset, label=chosen))
    if args.output:
        write_pyradiomics_csv(args.output, rows)
        _sidecars(args.output, preset, {"image": [c[1] for c in cases], "mask": [c[2] for c in cases]})
        print(f"radgui extract: {len(rows)} case(s) in the pyradiomics CLI's format -> {args.output}",
              file=sys.stderr)
    else:
        write_pyradiomics_csv(sys.stdout, rows)
    return 0
