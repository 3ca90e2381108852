"""Argument parsing shared by the subcommands (private: not a subcommand)."""

from __future__ import annotations

import argparse

from radgui.errors import RadguiError


def parse_pairs(items, option: str, value: str = "VALUE") -> dict[str, str]:
    """``NAME=VALUE`` options (``--roi``, ``--clinical``, ``--coef`` ...) as a dict.

    Names and values are stripped; a later repeat of a name wins. A missing
    ``=`` or an empty name raises :class:`~radgui.errors.RadguiError` naming the
    option and the item, so the CLI exits 2 with one line.
    """
    out = {}
    for item in items or ():
        if "=" not in item:
            raise RadguiError(f"{option} '{item}' must look like NAME={value}")
        name, val = item.split("=", 1)
        if not name.strip():
            raise RadguiError(f"{option} '{item}' has no name")
        out[name.strip()] = val.strip()
    return out


def add_image_options(parser) -> None:
    """``--series-uid`` and ``--resample-spacing``: how a DICOM folder is loaded (ignored for image files)."""
    parser.add_argument("--series-uid", metavar="UID",
                        help="DICOM: the series to load when the folder holds several (see `radgui series`)")
    parser.add_argument("--resample-spacing", action="store_true",
                        help="DICOM: load a stack with missing slices or uneven spacing interpolated onto an even "
                             "grid (linear; recorded in the warnings) instead of refusing it")


def image_kwargs(args) -> dict:
    """The :func:`radgui.io.load_volume` keywords of :func:`add_image_options`'s options."""
    out = {}
    if getattr(args, "series_uid", None):
        out["series_uid"] = args.series_uid
    if getattr(args, "resample_spacing", False):
        out["resample_spacing"] = True
    return out


def float_tuple(n: int, what: str):
    """An argparse ``type`` for ``n`` comma-separated numbers (``what`` names them in the error, e.g.
    ``"three numbers z,y,x"``)."""
    def parse(text: str) -> tuple[float, ...]:
        try:
            vals = tuple(float(v) for v in text.replace(" ", "").split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if len(vals) != n:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return vals

    return parse
