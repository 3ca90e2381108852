"""``radgui pacs echo|find|get|send``: talk to a configured PACS node (DIMSE or DICOMweb)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "pacs"
HELP = "PACS: C-ECHO/QIDO a node, find series, retrieve one into a local cache, send DICOM-SEG/SR/PDF back."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common(p):
        p.add_argument("--nodes", type=Path, metavar="FILE",
                       help="PACS settings (YAML/JSON; default $RADGUI_PACS_NODES or ~/.config/radgui/pacs.yaml)")
        p.add_argument("--node", metavar="NAME", help="the node to use (may be left out when only one is configured)")

    e = sub.add_parser("echo", help="check that a node answers (C-ECHO, or a minimal QIDO-RS query)")
    common(e)
    f = sub.add_parser("find", help="search series by patient ID, accession number, date range and modality")
    common(f)
    f.add_argument("--patient-id")
    f.add_argument("--accession")
    f.add_argument("--date-from", metavar="YYYYMMDD")
    f.add_argument("--date-to", metavar="YYYYMMDD")
    f.add_argument("--modality", metavar="CODE", help="CT, MR, PT, ...")
    f.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    g = sub.add_parser("get", help="retrieve a series into the cache (resumes an interrupted retrieve)")
    common(g)
    g.add_argument("--study-uid", required=True)
    g.add_argument("--series-uid", required=True)
    g.add_argument("--cache", type=Path, required=True, metavar="FOLDER",
                   help="cache folder; the series lands in FOLDER/<series UID>/")
    g.add_argument("--method", choices=["get", "move"], default="get", help="DIMSE: C-GET (default) or C-MOVE")
    s = sub.add_parser("send", help="store DICOM files (SEG, SR, ...) and optionally a PDF report on a node")
    common(s)
    s.add_argument("files", nargs="*", type=Path, help="DICOM files to send")
    s.add_argument("--pdf", type=Path, help="a PDF report to send as Encapsulated PDF (needs --source)")
    s.add_argument("--source", type=Path, metavar="FOLDER",
                   help="the source series folder the PDF references (its study, its images)")
    s.add_argument("--identifying", action="store_true",
                   help="keep the patient's identification in the Encapsulated PDF (default: de-identified)")


def _node(args):
    from radgui.io.pacs import get_node, load_nodes

    return get_node(load_nodes(args.nodes), args.node)


def _table(rows) -> str:
    from radgui.io.dicom import printable as p

    header = ["patient", "date", "modality", "accession", "n", "description", "study uid", "series uid"]
    lines = [[p(r["patient_id"]), p(r["study_date"]), p(r["modality"]), p(r["accession"]),
              "?" if r["n_instances"] is None else str(r["n_instances"]), p(r["description"]), r["study_uid"],
              r["series_uid"]] for r in rows]
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(x, widths)).rstrip() for x in [header, *lines])


def run(args: argparse.Namespace) -> int:
    from radgui.io import pacs

    node = _node(args)
    if args.action == "echo":
        pacs.echo(node)
        print(f"{node.describe()}: OK")
    elif args.action == "find":
        rows = pacs.find(node, patient_id=args.patient_id, accession=args.accession, date_from=args.date_from,
                         date_to=args.date_to, modality=args.modality)
        print(json.dumps(rows, indent=2) if args.json else _table(rows))
    elif args.action == "get":
        def progress(done, total):
            print(f"\r{done}/{total} instances", end="", file=sys.stderr, flush=True)

        folder = pacs.retrieve(node, args.study_uid, args.series_uid, args.cache, method=args.method,
                               progress=progress)
        print(file=sys.stderr)
        print(folder)
    else:
        files = list(args.files)
        if args.pdf is not None:
            from radgui.errors import RadguiError

            if args.source is None:
                raise RadguiError("--pdf needs --source (the series the report is about)")
            sources = sorted(p for p in args.source.iterdir() if p.suffix.lower() == ".dcm")
            out = args.pdf.with_suffix(".pdf.dcm")
            files.append(pacs.encapsulate_pdf(args.pdf, sources, out, identifying=args.identifying))
        n = pacs.send(node, files)
        print(f"{node.describe()}: stored {n} file(s)")
    return 0
