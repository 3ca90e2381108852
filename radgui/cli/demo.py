"""``radgui demo``: open the demo lung CT with its tumour ROI."""

from __future__ import annotations

import argparse

from radgui.cli.view import add_screenshot_argument, check_screenshot_path, show

NAME = "demo"
HELP = "Open the embedded demo case (lung CT with its tumour ROI)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_screenshot_argument(parser)
    parser.add_argument("--predict", action="store_true",
                        help="press Predict with the demo model and its example clinical values "
                             "(with --screenshot: wait for the result, then save the window)")


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


def open_demo(show: bool = True, viewer=None):
    """Build the demo window without blocking; returns ``(viewer, docks)``.

    ``viewer``: an existing napari viewer to build it in (tests).
    """
    from radgui.cli.view import build_window

    volume, mask = load_demo()
    viewer, docks = build_window(volume, {"tumour": mask}, show=show, preset="lung", viewer=viewer)
    prepare_predict(docks, lazily=True)
    return viewer, docks


def prepare_predict(docks, lazily: bool = False) -> None:
    """Select the demo model in the Predict dock and fill its example clinical values.

    ``lazily``: do it when the Predict dock is built (its tab first shown),
    not now (building it loads scikit-learn and matplotlib).
    """
    def fill(dock) -> None:
        if dock is not None and dock.bundle is not None:
            dock.fill_example()

    if lazily and hasattr(docks, "on_build"):
        docks.on_build("Predict", fill)
    else:
        fill(docks.get("Predict"))


def press_predict(viewer, docks, timeout_s: float = 120.0) -> None:
    """Bring the Predict dock to the front, click Predict and wait for the result.

    Raises
    ------
    RadguiError
        When the prediction fails (its message) or does not finish in time.
    """
    import time

    from qtpy.QtWidgets import QApplication

    from radgui.errors import RadguiError
    from radgui.gui.predict_dock import show_predict_dock

    dock = docks.get("Predict")
    if dock is None:
        raise RadguiError("the Predict dock is not available")
    prepare_predict(docks)
    # Give the window its screenshot size first, so the Predict dock's width survives it.
    import inspect

    from radgui.gui.app import save_window_screenshot

    size = inspect.signature(save_window_screenshot).parameters["size"].default
    viewer.window._qt_window.resize(*size)
    QApplication.processEvents()
    show_predict_dock(viewer)
    dock.predict_button.click()
    end = time.monotonic() + timeout_s
    while dock.busy and time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)
    if dock.busy:
        dock.cancel()
        raise RadguiError(f"the demo prediction did not finish within {timeout_s:g} s")
    if dock.prediction is None:
        raise RadguiError(f"the demo prediction failed: {dock.message.text()}")
    for _ in range(10):
        QApplication.processEvents()


def run(args: argparse.Namespace) -> int:
    from radgui.cli.view import require_display

    check_screenshot_path(args.screenshot)
    require_display()
    if args.screenshot is not None:
        volume, mask = load_demo()

        def before(viewer, docks):
            if args.predict:
                press_predict(viewer, docks)
            else:  # the Predict dock is not in the picture: not built for it
                prepare_predict(docks, lazily=True)

        return show(volume, {"tumour": mask}, screenshot=args.screenshot, preset="lung",
                    before_screenshot=before)
    from radgui.cli.view import _close_splash, _splash

    splash = _splash()
    import napari

    _viewer, docks = start_demo(predict=args.predict)
    _close_splash(splash, docks)
    napari.run()
    return 0


#: The status bar text while the demo case loads.
LOADING = "Loading the demo case\N{HORIZONTAL ELLIPSIS}"


def start_demo(predict: bool = False, viewer=None):
    """The demo window, empty and painted first; the case loads from the event loop right after.

    Returns ``(viewer, docks)`` at once (no layers yet; the status bar says
    :data:`LOADING`). ``predict``: then bring the Predict dock to the front and
    press Predict. A case that fails to load is reported in the status bar and
    as a notification; the window stays open.
    """
    from radgui.cli.view import add_case
    from radgui.gui.app import after_first_paint, create_viewer

    viewer, docks = create_viewer(show=True, viewer=viewer)
    viewer.status = LOADING

    def load() -> None:
        from qtpy.QtCore import QTimer

        from radgui.errors import RadguiError
        from radgui.gui._qt import error_text

        try:
            volume, mask = load_demo()
        except RadguiError as exc:
            from napari.utils.notifications import show_error

            viewer.status = f"the demo case did not open: {error_text(exc)}"
            show_error(viewer.status)
            return
        add_case(viewer, docks, volume, {"tumour": mask}, preset="lung")
        prepare_predict(docks, lazily=True)
        viewer.status = "Demo case loaded"
        if predict and "Predict" in docks:  # otherwise the window stays on the View dock
            from radgui.gui.predict_dock import show_predict_dock

            show_predict_dock(viewer)
            QTimer.singleShot(500, docks["Predict"].predict)

    after_first_paint(docks["View"].window(), load)
    return viewer, docks
