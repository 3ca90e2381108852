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
