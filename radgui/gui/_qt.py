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


def button(text: str, tip: str, slot=None, checkable: bool = False):
    """A QPushButton with its tooltip, connected to ``slot`` (clicked)."""
    from qtpy.QtWidgets import QPushButton

    b = QPushButton(text)
    b.setToolTip(tip)
    b.setCheckable(checkable)
    if slot is not None:
        b.clicked.connect(slot)
    return b


def run_cancel_row(layout, run_text: str, run_tip: str, on_run, cancel_tip: str, on_cancel):
    """A Run button (stretching) and a Cancel button side by side, added to ``layout``; returns both."""
    from qtpy.QtWidgets import QHBoxLayout

    row = QHBoxLayout()
    run_b, cancel_b = button(run_text, run_tip, on_run), button("Cancel", cancel_tip, on_cancel)
    row.addWidget(run_b, 1)
    row.addWidget(cancel_b)
    layout.addLayout(row)
    return run_b, cancel_b


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

    The one worker pattern of every dock. Each yielded
    :class:`~radgui.progress.Step` moves the bar (and goes to ``on_step``)
    and is a cancel point; the result goes to ``on_result``, an engine
    exception to ``on_failure`` (the exception object itself, with the bar
    reset; the dock decides: show it, or ask the user and start again), a
    cancel to ``on_cancelled``. Exceptions travel as results (see
    :func:`guarded`): napari's ``errored`` signal is never connected. A
    result that arrives after :meth:`cancel` is dropped as a cancel, so
    Cancel never writes anything.

    ``run_button``, ``cancel_button`` and ``progress`` may be None (a
    background refresh without controls); ``also_disable`` are more buttons
    disabled while the task runs.
    """

    def __init__(self, run_button, cancel_button, progress, *, on_result, on_failure, on_cancelled=None,
                 on_step=None, also_disable=()):
        self.run_button, self.cancel_button, self.progress = run_button, cancel_button, progress
        self.on_result, self.on_failure, self.on_cancelled = on_result, on_failure, on_cancelled
        self.on_step = on_step
        self.also_disable = tuple(also_disable)
        self.worker = None
        self._cancel_requested = False
        if cancel_button is not None:
            cancel_button.setEnabled(False)

    @property
    def busy(self) -> bool:
        """True while the task runs."""
        return self.worker is not None

    def _alive(self) -> bool:
        return all(w is None or is_alive(w) for w in (self.progress, self.run_button))

    def _buttons(self, running: bool) -> None:
        for b in (self.run_button, *self.also_disable):
            if b is not None and is_alive(b):
                b.setEnabled(not running)
        if self.cancel_button is not None and is_alive(self.cancel_button):
            self.cancel_button.setEnabled(running)

    def start(self, gen_fn, *args, **kwargs):
        """Run ``gen_fn(*args, **kwargs)`` in a napari worker thread; returns the worker (None while busy)."""
        from napari.qt.threading import create_worker

        if self.worker is not None:
            return None
        self._cancel_requested = False
        if self.progress is not None:
            self.progress.setValue(0)
        self._buttons(True)
        worker = create_worker(guarded, gen_fn, *args, **kwargs)
        # Bound to this worker: a callback may start the next task before this one's
        # finished signal arrives, and that signal must not end the next one.
        worker.yielded.connect(lambda step: self._on_step(worker, step))
        worker.returned.connect(lambda value: self._on_returned(worker, value))
        worker.aborted.connect(lambda: self._on_aborted(worker))
        worker.finished.connect(lambda: self._on_finished(worker))
        self.worker = worker
        worker.start()
        return worker

    def cancel(self) -> None:
        """Stop the task at its next step; a result already on its way is dropped."""
        if self.worker is not None:
            self._cancel_requested = True
            self.worker.quit()

    def _on_step(self, worker, step) -> None:
        if worker is not self.worker or not self._alive() or self._cancel_requested:
            return
        if self.progress is not None:
            if step.fraction is not None:
                self.progress.setValue(int(round(100 * step.fraction)))
            self.progress.setFormat(f"%p%  {step.message}"[:70])
        if self.on_step is not None:
            self.on_step(step)

    def _on_returned(self, worker, value) -> None:
        if worker is not self.worker:
            return
        self.worker = None  # done: the callbacks below may start the next task
        if not self._alive():
            return
        if self._cancel_requested:
            self._cancelled()
        elif isinstance(value, Failure):
            if self.progress is not None:
                self.progress.setValue(0)
            self.on_failure(value.error)
        else:
            if self.progress is not None:
                self.progress.setValue(100)
            self.on_result(value)
        if self.worker is None:
            self._buttons(False)

    def _on_aborted(self, worker) -> None:
        if worker is self.worker:
            self._cancelled()

    def _cancelled(self) -> None:
        if self._alive():
            if self.progress is not None:
                self.progress.setValue(0)
            if self.on_cancelled is not None:
                self.on_cancelled()

    def _on_finished(self, worker) -> None:
        if worker is self.worker:
            self.worker = None
        if self.worker is None:
            self._buttons(False)
