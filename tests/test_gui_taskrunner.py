"""The shared background-task runner of the docks: progress, result, failure, cancel."""

from __future__ import annotations

import threading

import pytest

from radgui.errors import EmptyMaskError
from radgui.progress import Step


@pytest.fixture
def runner(qtbot):
    from qtpy.QtWidgets import QProgressBar, QPushButton

    from radgui.gui._qt import TaskRunner

    run, cancel, bar = QPushButton("Run"), QPushButton("Cancel"), QProgressBar()
    for w in (run, cancel, bar):
        qtbot.addWidget(w)
    got = {}
    task = TaskRunner(run, cancel, bar, on_result=lambda v: got.setdefault("result", v),
                      on_failure=lambda e: got.setdefault("failure", e),
                      on_cancelled=lambda: got.setdefault("cancelled", True))
    return task, run, cancel, bar, got


def _count(n, fail_at=None, gate=None):
    for i in range(n):
        if gate is not None:
            gate.wait(5)
        if i == fail_at:
            raise EmptyMaskError("ROI 'tumour' has no voxel")
        yield Step(i + 1, n, f"step {i + 1}")
    return n * 10


def test_result_progress_and_buttons(runner, qtbot):
    task, run, cancel, bar, got = runner
    assert not cancel.isEnabled()
    task.start(_count, 4)
    assert task.busy and not run.isEnabled() and cancel.isEnabled()
    qtbot.waitUntil(lambda: not task.busy, timeout=5000)
    assert got == {"result": 40}
    assert bar.value() == 100 and run.isEnabled() and not cancel.isEnabled()


def test_engine_error_becomes_a_failure_not_a_crash(runner, qtbot):
    from radgui.gui._qt import error_text

    task, run, cancel, bar, got = runner
    task.start(_count, 4, fail_at=2)
    qtbot.waitUntil(lambda: not task.busy, timeout=5000)
    assert isinstance(got["failure"], EmptyMaskError) and "result" not in got
    assert error_text(got["failure"]) == "ROI 'tumour' has no voxel"
    assert error_text(KeyError("x")) == "unexpected error (KeyError): 'x'"
    assert bar.value() == 0 and run.isEnabled()


def test_cancel_stops_at_the_next_step(runner, qtbot):
    task, run, cancel, bar, got = runner
    gate = threading.Event()
    task.start(_count, 1000, gate=gate)
    task.cancel()
    gate.set()
    qtbot.waitUntil(lambda: not task.busy, timeout=5000)
    assert got == {"cancelled": True}
    assert bar.value() == 0 and run.isEnabled() and not cancel.isEnabled()
