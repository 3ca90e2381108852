"""``radgui view PATH [--label MASK] [--screenshot PNG]``: open an image."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "view"
HELP = "Open an image (NRRD, NIfTI, MHA, DICOM folder) with an optional label map."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="image file or DICOM folder")
    parser.add_argument("--label", type=Path, metavar="MASK", help="label map on the same grid (tumour ROI)")
    parser.add_argument("--modality", choices=["CT", "MR", "PT", "OT"],
                        help="modality of a non-DICOM image (default: guessed from values)")
    from radgui.cli._args import add_image_options

    add_image_options(parser)
    add_screenshot_argument(parser)


def add_screenshot_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--screenshot", type=Path, metavar="PNG",
                        help="render the window, save it as PNG and exit (works under xvfb-run)")


def check_screenshot_path(path: Path | None) -> None:
    """Fail before any window opens when the screenshot cannot be written."""
    from radgui.errors import InputFileError

    if path is None:
        return
    if path.suffix.lower() != ".png":
        raise InputFileError("screenshot must be a .png file", path)
    if not path.resolve().parent.is_dir():
        raise InputFileError("the folder for the screenshot does not exist", path)


#: Qt platform plugins that need no display server.
HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")


def require_display(environ=None, platform: str | None = None) -> None:
    """Fail with one line (exit 2) when no window can open, instead of Qt aborting the process.

    On Linux/BSD Qt needs ``DISPLAY`` (X11) or ``WAYLAND_DISPLAY``, unless
    ``QT_QPA_PLATFORM`` names a platform that needs none; without one,
    ``QApplication`` calls ``abort()`` (SIGABRT). macOS and Windows always
    have a display for a logged-in user.

    Raises
    ------
    NoDisplayError
    """
    import os
    import sys

    from radgui.errors import NoDisplayError

    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith(("darwin", "win", "cygwin")):
        return
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if qpa in HEADLESS_PLATFORMS or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return
    raise NoDisplayError("no display to open a window on (DISPLAY is not set); run radgui on a desktop, "
                         "over ssh -X, or headless with: xvfb-run -a radgui view IMAGE --screenshot out.png")


def run(args: argparse.Namespace) -> int:
    from radgui.cli._args import image_kwargs
    from radgui.io import load_mask, load_volume

    check_screenshot_path(args.screenshot)
    # Load (and validate) everything before a window opens: bad input exits 2 fast, and a bad file is
    # named as such whether or not there is a display to open the window on.
    volume = load_volume(args.path, modality=args.modality, **image_kwargs(args))
    mask = load_mask(args.label, volume) if args.label else None
    require_display()
    return show(volume, {"tumour": mask} if mask is not None else {}, screenshot=args.screenshot)


def build_window(volume, rois: dict, show: bool = True, preset: str | None = None, viewer=None):
    """The main window on ``volume`` with ``rois`` as ROI layers; returns ``(viewer, docks)``.

    ``viewer``: an existing napari viewer to build the window in (see create_viewer).
    """
    from radgui.gui.app import create_viewer

    viewer, docks = create_viewer(show=show, viewer=viewer)
    add_case(viewer, docks, volume, rois, preset=preset)
    return viewer, docks


def add_case(viewer, docks, volume, rois: dict, preset: str | None = None) -> None:
    """Show ``volume`` and its ``rois`` in a radgui window: the largest ROI slice, the image selected."""
    from radgui.gui.app import center_on_roi
    from radgui.gui.layers import add_roi, add_volume

    image_layer = add_volume(viewer, volume)
    roi_layer = None
    for name, mask in rois.items():
        roi_layer = add_roi(viewer, mask, volume, name=name)
    if roi_layer is not None:
        center_on_roi(viewer, roi_layer)
    viewer.layers.selection.active = image_layer
    if preset is not None:
        docks["View"].set_preset(preset)


def show(volume, rois: dict, screenshot: Path | None = None, before_screenshot=None,
         preset: str | None = None) -> int:
    """Open the main window on ``volume`` with ``rois``; block until it closes.

    With ``screenshot``, render, save the whole window as PNG and return 0.
    ``before_screenshot(viewer, docks)`` runs after loading (e.g. press Predict).
    """
    splash = None if screenshot is not None else _splash()
    import napari

    viewer, docks = build_window(volume, rois, preset=preset)
    if screenshot is None:
        _close_splash(splash, docks)
        napari.run()
        return 0
    from radgui.gui.app import save_window_screenshot

    if before_screenshot is not None:
        before_screenshot(viewer, docks)
    save_window_screenshot(viewer, screenshot)
    viewer.close()
    return 0


def open_gui(args: argparse.Namespace | None = None) -> int:
    """Plain ``radgui``: the main window with no image."""
    require_display()
    splash = _splash()
    import napari

    from radgui.gui.app import create_viewer

    _viewer, docks = create_viewer(show=True)
    _close_splash(splash, docks)
    napari.run()
    return 0


def _splash():
    """The start-up splash (radgui.gui.splash), painted before napari's import; None when disabled.

    ``RADGUI_NO_SPLASH=1`` turns it off.
    """
    import os

    if os.environ.get("RADGUI_NO_SPLASH"):
        return None
    from radgui.gui.splash import show_splash

    return show_splash()


def _close_splash(splash, docks) -> None:
    if splash is None:
        return
    from radgui.gui.splash import close_splash, finish_app_setup

    finish_app_setup()
    close_splash(splash, docks["View"].window())
