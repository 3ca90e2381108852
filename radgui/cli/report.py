"""``radgui report SESSION [-o report.pdf] [--paper a4|letter] [--png DIR] [--slice Z] [--identify]``."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "report"
HELP = "Write the patient report of a session (.radgui): a PDF and PNG pages, pseudonymous by default."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", type=Path, metavar="SESSION", help="session file (*.radgui)")
    parser.add_argument("-o", "--output", type=Path, metavar="PDF",
                        help="the PDF to write (default: SESSION with the suffix -report.pdf)")
    parser.add_argument("--paper", choices=["a4", "letter"], default="a4", help="paper size (a4)")
    parser.add_argument("--png", type=Path, metavar="DIR", help="also write one PNG per page into DIR")
    parser.add_argument("--slice", type=int, metavar="Z",
                        help="key slice (1-based, as the viewer shows it; default: largest tumour area)")
    parser.add_argument("--model", metavar="BUNDLE",
                        help="the model bundle (default: the one the session names; 'demo' for the demo model)")
    parser.add_argument("--identify", action="store_true",
                        help="print the patient's name, birth date and ID from the DICOM header "
                             "(default: a pseudonym only)")


def run(args: argparse.Namespace) -> int:
    from radgui.report.patient_report import write_patient_report
    from radgui.session import open_session

    session = open_session(args.session)
    out = args.output or args.session.with_name(args.session.stem + "-report.pdf")
    rep = write_patient_report(session, out, paper=args.paper, png_dir=args.png,
                               key_slice=None if args.slice is None else args.slice - 1, identify=args.identify,
                               bundle=args.model)
    print(f"wrote {rep.pdf} ({rep.pages} pages)")
    for p in rep.pngs:
        print(f"wrote {p}")
    return 0
