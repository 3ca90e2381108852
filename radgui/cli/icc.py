"""``radgui icc``: per-feature inter-reader ICC from a features CSV."""

from __future__ import annotations

import sys

NAME = "icc"
HELP = "Per-feature ICC between readers' segmentations from a features CSV (radgui extract --manifest)."


def add_arguments(parser) -> None:
    parser.add_argument("features", metavar="FEATURES.csv", help="features CSV with one row per target and reader")
    parser.add_argument("--reader-column", default="reader", help="column naming the reader (default: reader)")
    parser.add_argument("--form", default="ICC(2,1)",
                        help="ICC form: ICC(1,1), ICC(2,1) (default), ICC(3,1), ICC(1,k), ICC(2,k), ICC(3,k)")
    parser.add_argument("--threshold", type=float, default=0.75,
                        help="ICC at or above which a feature is reproducible (default 0.75, Koo & Li 2016)")
    parser.add_argument("-o", "--output", help="ICC table CSV (default: stdout)")


def run(args) -> int:
    from pathlib import Path

    import pandas as pd

    from radgui.errors import InputFileError
    from radgui.files import write_csv
    from radgui.features.reproducibility import feature_icc

    path = Path(args.features)
    if not path.is_file():
        raise InputFileError("features CSV not found", path)
    try:
        table = pd.read_csv(path, keep_default_na=False, na_values=[""],
                            dtype={c: str for c in ("patient_id", "roi", "timepoint", "reader", "center",
                                                    args.reader_column)})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read as CSV ({' '.join(str(exc).split())[:160]})", path) from None
    out = feature_icc(table, args.reader_column, form=args.form, threshold=args.threshold)
    if args.output:
        write_csv(args.output, out)
        n_ok = int(out["passes"].sum())
        print(f"radgui icc: {len(out)} features, {n_ok} with {args.form} >= {args.threshold:g} -> {args.output}",
              file=sys.stderr)
    else:
        out.to_csv(sys.stdout)
    return 0
