"""``radgui demo``: open the demo lung CT with its tumour ROI."""

from __future__ import annotations

import argparse

from radgui.cli.view import add_screenshot_argument, check_screenshot_path, show

NAME = "demo"
HELP = "Open the embedded demo case (lung CT with its tumour ROI)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_screenshot_argument(parser)


def demo_paths():
    """Paths of the demo CT and its tumour label inside the installed package."""
    from radgui import RESOURCES

    return RESOURCES / "demo" / "lung1_ct.nrrd", RESOURCES / "demo" / "lung1_tumour.nrrd"


def load_demo():
    """The demo Volume and its tumour mask (SimpleITK label image)."""
    from radgui.io import load_mask, load_volume

    image, label = demo_paths()
    volume = load_volume(image, modality="CT")
    volume.meta["name"] = "demo lung CT"
    return volume, load_mask(label, volume)


def open_demo(show: bool = True):
    """Build the demo window without blocking; returns ``(viewer, docks)``."""
    from radgui.cli.view import build_window

    volume, mask = load_demo()
    return build_window(volume, {"tumour": mask}, show=show, preset="lung")


def run(args: argparse.Namespace) -> int:
    check_screenshot_path(args.screenshot)
    volume, mask = load_demo()
    return show(volume, {"tumour": mask}, screenshot=args.screenshot, preset="lung")
