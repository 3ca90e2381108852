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
    one.add_argument("--mask", help="label map of the main ROI (named by --name, default 'tumour')")
    one.add_argument("--name", default="tumour", help="name of the --mask ROI (default: tumour)")
    one.add_argument("--roi", action="append", default=[], metavar="NAME=MASK",
                     help="another ROI of the same image, e.g. ring6mm=ring.nrrd (repeatable)")
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
    parser.add_argument("-o", "--output", help="features CSV (single case: default stdout)")
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
    masks = {name: load_mask(path, volume, label=args.label) for name, path in paths.items()}
    try:
        df = run_steps(iter_extract(volume, masks, preset, label=args.label), bar)
    finally:
        bar.close()
    table = flatten(df).to_frame().T if args.wide else df
    if args.output:
        write_csv(args.output, table, index=not args.wide)
        print(f"radgui extract: {len(df)} ROI(s) x {df.shape[1]} features -> {args.output}", file=sys.stderr)
    else:
        table.to_csv(sys.stdout, index=not args.wide)
    return 0
