"""Small Qt helpers shared by the docks."""

from __future__ import annotations


def is_alive(obj) -> bool:
    """False once the C++ side of a Qt object is deleted (e.g. the window closed).

    Worker results and napari layer events can arrive after a dock's widgets
    are gone; touching them then raises ``RuntimeError``.
    """
    try:
        from shiboken6 import isValid
    except ImportError:  # pragma: no cover - PyQt builds
        return True
    return isValid(obj)


class Failure:
    """An engine exception handed back as a worker's result (see :func:`guarded`)."""

    def __init__(self, error: BaseException):
        self.error = error


def guarded(gen_fn, *args, **kwargs):
    """Run an ``iter_*`` generator; return its exception as a :class:`Failure` instead of raising.

    napari's worker bookkeeping mis-handles the ``errored`` signal (its slot
    takes one argument too few), so errors travel as results.
    """
    try:
        result = yield from gen_fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every engine error becomes a message in the dock
        return Failure(exc)
    return result


def error_text(exc: BaseException) -> str:
    """What a dock shows for an engine error: a RadguiError's own message, else its type too."""
    from radgui.errors import RadguiError

    return str(exc) if isinstance(exc, RadguiError) else f"unexpected error ({type(exc).__name__}): {exc}"


class TaskRunner:
    """One background ``iter_*`` task at a time, driving a Run and a Cancel button and a progress bar.

    Each yielded :class:`~radgui.progress.Step` moves the bar and is a cancel
    point; the result goes to ``on_result``, an engine exception to
    ``on_failure`` (with the bar reset), a cancel to ``on_cancelled``.
    """

    def __init__(self, run_button, cancel_button, progress, *, on_result, on_failure, on_cancelled=None):
        self.run_button, self.cancel_button, self.progress = run_button, cancel_button, progress
        self.on_result, self.on_failure, self.on_cancelled = on_result, on_failure, on_cancelled
        self.worker = None
        cancel_button.setEnabled(False)

    @property
    def busy(self) -> bool:
        """True while the task runs."""
        return self.worker is not None

    def start(self, gen_fn, *args, **kwargs) -> None:
        """Run ``gen_fn(*args, **kwargs)`` in a napari worker thread (ignored while busy)."""
        from napari.qt.threading import create_worker

        if self.worker is not None:
            return
        self.progress.setValue(0)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        worker = create_worker(guarded, gen_fn, *args, **kwargs)
        worker.yielded.connect(self._on_step)
        worker.returned.connect(self._on_returned)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        worker.start()

    def cancel(self) -> None:
        """Stop the task at its next step."""
        if self.worker is not None:
            self.worker.quit()

    def _on_step(self, step) -> None:
        if not is_alive(self.progress):
            return
        if step.fraction is not None:
            self.progress.setValue(int(round(100 * step.fraction)))
        self.progress.setFormat(f"%p%  {step.message}"[:70])

    def _on_returned(self, value) -> None:
        if not is_alive(self.progress):
            return
        if isinstance(value, Failure):
            self.progress.setValue(0)
            self.on_failure(value.error)
            return
        self.progress.setValue(100)
        self.on_result(value)

    def _on_aborted(self) -> None:
        if is_alive(self.progress):
            self.progress.setValue(0)
            if self.on_cancelled is not None:
                self.on_cancelled()

    def _on_finished(self) -> None:
        self.worker = None
        if is_alive(self.run_button):
            self.run_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
