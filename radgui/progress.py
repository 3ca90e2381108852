"""Progress steps for long engine work.

Long work in the engine is a generator named ``iter_*`` that yields
:class:`Step` objects and *returns* its result (``return value`` inside the
generator). Each ``yield`` is a progress tick and a cancel point: the GUI runs
the generator in a napari worker thread and quits it between steps, scripts
call the blocking twin, which is :func:`run` over the generator.

Examples
--------
>>> def iter_count(n):
...     for i in range(n):
...         yield Step(i, n, f"item {i}")
...     return n
>>> run(iter_count(3))
3
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Step:
    """One progress tick: ``done`` of ``total`` units, with a short message.

    ``total`` is None when the amount of work is unknown.
    """

    done: int
    total: int | None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        """Fraction done in [0, 1], or None when the total is unknown."""
        if not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))


def run(gen: Generator[Step, Any, T], callback: Callable[[Step], Any] | None = None) -> T:
    """Exhaust a progress generator and return its result.

    Parameters
    ----------
    gen : generator
        An ``iter_*`` generator yielding :class:`Step`.
    callback : callable, optional
        Called with every step (the CLI prints a progress bar with it).
    """
    while True:
        try:
            step = next(gen)
        except StopIteration as stop:
            return stop.value
        if callback is not None:
            callback(step)


def scaled(gen: Generator[Step, Any, T], start: float, span: float, total: int,
           prefix: str = "") -> Generator[Step, None, T]:
    """Re-yield ``gen``'s steps as the part ``[start, start + span]`` of a bar of ``total`` units; return its result.

    For one stage of a longer job: ``df = yield from scaled(iter_extract(...), 10, 45, 100, "CT: ")``.
    A step of unknown total counts as the stage's start.

    Examples
    --------
    >>> def stage():
    ...     yield Step(1, 2, "half")
    ...     return "done"
    >>> outer = scaled(stage(), 50, 20, 100, "b: ")
    >>> next(outer)
    Step(done=60, total=100, message='b: half')
    >>> run(scaled(stage(), 0, 10, 10))
    'done'
    """
    while True:
        try:
            step = next(gen)
        except StopIteration as stop:
            return stop.value
        yield Step(int(start + span * (step.fraction or 0.0)), total, prefix + step.message)
