"""Argument parsing shared by the subcommands (private: not a subcommand)."""

from __future__ import annotations

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
