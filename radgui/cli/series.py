"""``radgui series PATH [--json]``: list the DICOM series in a folder or DICOMDIR."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "series"
HELP = "List the DICOM series in a folder (recursively) or DICOMDIR: modality, description, slices, warnings."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="folder of DICOM files, a DICOMDIR or one .dcm file")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")


def _table(scan) -> str:
    from radgui.io.dicom import printable as p

    header = ["#", "modality", "description", "date", "slices", "size", "spacing z,y,x (mm)", "uid"]
    rows = []
    for k, s in enumerate(scan.series, 1):
        spacing = "-" if s.spacing_mm is None else ",".join(f"{v:.3g}" for v in s.spacing_mm)
        rows.append([str(k), p(s.modality), p(s.description) or "-", p(s.date) or "-", str(s.n_slices),
                     f"{s.rows}x{s.cols}", spacing, p(s.uid)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths)).rstrip()]
    for s, r in zip(scan.series, rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if s.problem:
            lines.append(f"    REFUSED: {p(s.problem)}")
        for w in s.warnings:
            lines.append(f"    warning: {p(w)}")
    for m in scan.masks:
        lines.append(p(f"mask object: {m.modality} {m.description or ''} {m.path} "
                       f"(references series {m.referenced_series_uid or '?'})"))
    if scan.skipped:
        lines.append(p("skipped: " + ", ".join(f"{n} {what}" for what, n in sorted(scan.skipped.items()))))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from radgui.errors import DicomError
    from radgui.io.dicom import scan_dicom

    scan = scan_dicom(args.path)
    if args.json:
        print(json.dumps({
            "path": str(args.path),
            "series": [s.to_dict() for s in scan.series],
            "masks": [{"path": str(m.path), "modality": m.modality, "sop_instance_uid": m.sop_uid,
                       "referenced_series_uid": m.referenced_series_uid, "description": m.description}
                      for m in scan.masks],
            "skipped": dict(scan.skipped),
        }, indent=2))
    else:
        print(_table(scan))
    if not scan.series and not scan.masks:
        raise DicomError("no DICOM series found", args.path)
    return 0
