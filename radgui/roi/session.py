"""The ROI tools' session model (no Qt, no napari): seeds and grow preview, ring-set undo.

The ROI dock only turns clicks into calls on a :class:`RoiSession` and writes
what it returns into layers, in the style of napari-animation's
``Animation`` model behind its widget. A script or a test drives the same
object without a window.

* Grow: :meth:`RoiSession.add_seed` (one seed, or one more with
  ``add=True``), :meth:`RoiSession.preview` (grows from the seeds and keeps
  the :class:`~radgui.roi.GrowResult`), :meth:`RoiSession.apply_to` (the ROI
  plus the preview, then the seeds are dropped), :meth:`RoiSession.clear`.
* Writes: :func:`mask_change` gives the indices and values that turn one ROI
  into another (only the changed voxels), what an undo step stores.
* Ring sets: several layers written by one operation form a group that is
  undone and redone as a whole (:meth:`RoiSession.record_group`,
  :meth:`RoiSession.undo`, :meth:`RoiSession.redo`). The session never
  touches the layers: the caller passes how deep each member's undo/redo
  history is and how to undo/redo one member.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from radgui.roi._common import RoiParameterError, bbox
from radgui.roi.grow import GrowResult, grow_region


@dataclass(frozen=True)
class MaskChange:
    """The voxels that change between two ROIs: ``data[indices] = values`` turns one into the other."""

    indices: tuple[np.ndarray, np.ndarray, np.ndarray]
    values: np.ndarray

    @property
    def count(self) -> int:
        """Number of changed voxels (0: nothing to write)."""
        return int(self.values.size)


def mask_change(old, new, label: int = 1) -> MaskChange:
    """What turns ROI ``old`` (voxels > 0) into ROI ``new``: only the changed voxels.

    Voxels entering the ROI get ``label``, voxels leaving it get 0; the
    values have ``old``'s dtype. Changes are looked for only inside the
    bounding box of both ROIs.
    """
    data = np.asarray(old)
    was = data > 0
    now = np.asarray(new, bool)
    if was.shape != now.shape:
        from radgui.errors import GeometryMismatchError

        raise GeometryMismatchError(f"the new ROI has shape {now.shape} but the layer has {was.shape} (z, y, x)")
    either = [m for m in (was, now) if m.any()]
    empty = tuple(np.zeros(0, np.intp) for _ in range(data.ndim))
    if not either:
        return MaskChange(empty, np.zeros(0, data.dtype))
    boxes = [bbox(m) for m in either]
    lo = np.min([b[0] for b in boxes], axis=0)
    hi = np.max([b[1] for b in boxes], axis=0)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    o, n = was[box], now[box]
    add = np.nonzero(n & ~o)
    rem = np.nonzero(o & ~n)
    indices = tuple(np.concatenate([a, r]) + off for a, r, off in zip(add, rem, lo))
    values = np.concatenate([np.full(add[0].size, label), np.zeros(rem[0].size)]).astype(data.dtype)
    return MaskChange(indices, values)


def derived_name(parent: str, name: str) -> str:
    """Layer name of a derived VOI: ``ring3mm`` for ``tumour``, ``tumour2 ring3mm`` for others."""
    if parent == "tumour":
        return name
    if name.startswith("tumour+"):
        return parent + name[len("tumour"):]
    return f"{parent} {name}"


def parse_distances(text: str) -> list[float]:
    """Ring distances typed as ``"3, 6, 9"`` (commas or semicolons), in mm."""
    try:
        return [float(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise RoiParameterError(
            f"ring distances must be numbers of mm separated by commas, got '{text}'") from None


@dataclass
class RingSetGroup:
    """Members written by one operation (a ring set): undone and redone together.

    ``depths`` maps ``id(member)`` to the depth of its undo history right
    after the write (or of its redo history right after an undo): the group
    is intact while nothing else was pushed on top.
    """

    members: list
    parent: str = ""
    depths: dict = field(default_factory=dict)
    undone: bool = False

    def matches(self, member, member_parent: str | None = None) -> bool:
        """Whether undo/redo on ``member`` (whose parent ROI is ``member_parent``) concerns this group."""
        return any(m is member for m in self.members) or (bool(self.parent) and member_parent == self.parent)

    def intact(self, depth: Callable[[Any, str], int], which: str) -> bool:
        """True when this group's items are still on top of each member's ``which`` history."""
        return all(depth(m, which) == self.depths[id(m)] for m in self.members)


#: ``depth(member, which)``: length of the member's ``"undo"`` or ``"redo"`` history.
Depth = Callable[[Any, str], int]


class RoiSession:
    """State of the ROI tools between clicks (Qt-free).

    Attributes
    ----------
    seeds : list of (int, int, int)
        Seeds of the grow in progress, (z, y, x) voxel indices.
    image_key : object
        The image the seeds are on (compared by identity).
    result : GrowResult or None
        The latest preview.
    last_preview_ms : float or None
        How long the latest preview took.
    groups : list of RingSetGroup
        Ring sets written, oldest first.
    """

    def __init__(self):
        self.seeds: list[tuple[int, int, int]] = []
        self.image_key = None
        self.result: GrowResult | None = None
        self.last_preview_ms: float | None = None
        self.groups: list[RingSetGroup] = []
        self.redo_stack: list[RingSetGroup] = []
        self._body: tuple[int, np.ndarray] | None = None

    # ---------------------------------------------------------------- grow
    def add_seed(self, index, shape, image_key=None, add: bool = False) -> tuple[int, int, int]:
        """Drop a seed at a (continuous) voxel index; a new grow unless ``add`` on the same image.

        Raises :class:`~radgui.roi.RoiParameterError` when the point is outside ``shape``.
        """
        idx = np.round(np.asarray(index, float)[-3:]).astype(int)
        if np.any(idx < 0) or np.any(idx >= np.asarray(shape)[-3:]):
            raise RoiParameterError("The click is outside the image.")
        if not add or self.image_key is not image_key:
            self.seeds = []
        self.image_key = image_key
        seed = tuple(int(v) for v in idx)
        self.seeds.append(seed)
        return seed

    def preview(self, image, spacing, **params) -> GrowResult | None:
        """Grow from the seeds (:func:`~radgui.roi.grow_region` with ``params``) and keep the result."""
        if not self.seeds:
            return None
        t0 = time.perf_counter()
        res = grow_region(image, spacing, np.array(self.seeds), **params)
        self.last_preview_ms = (time.perf_counter() - t0) * 1000
        self.result = res
        return res

    def apply_to(self, mask) -> np.ndarray | None:
        """``mask`` plus the preview (a new array), then the grow is over; None without a preview."""
        res = self.result
        if res is None or not res.mask.any():
            return None
        out = res.added_to(mask)
        self.clear()
        return out

    def clear(self) -> None:
        """Drop the seeds and the preview."""
        self.seeds = []
        self.result = None

    # ------------------------------------------------------------- rings
    def body_mask_for(self, image) -> np.ndarray | None:
        """The body mask computed before for this image (identity), else None."""
        if self._body is not None and self._body[0] == id(image):
            return self._body[1]
        return None

    def keep_body_mask(self, image, body) -> None:
        """Remember ``body`` as the body mask of ``image`` (one image at a time)."""
        if body is not None:
            self._body = (id(image), body)

    def record_group(self, members: list, parent: str, depth: Depth) -> RingSetGroup | None:
        """Record the members one ring set wrote as one undo group (none written: no group)."""
        if not members:
            return None
        group = RingSetGroup(list(members), parent, {id(m): depth(m, "undo") for m in members})
        self.groups.append(group)
        self.redo_stack.clear()
        return group

    def undo(self, member, member_parent: str | None, depth: Depth, undo_one: Callable[[Any], None]) -> bool:
        """Undo the latest ring set concerning ``member`` as a whole, if it is still on top.

        Returns False when no intact group applies (the caller then undoes
        ``member``'s own last step).
        """
        live = [g for g in self.groups if not g.undone and g.matches(member, member_parent)]
        return self._step(live, depth, "undo", "redo", undo_one)

    def redo(self, member, member_parent: str | None, depth: Depth, redo_one: Callable[[Any], None]) -> bool:
        """Redo the ring set undone last concerning ``member`` as a whole; False when none applies."""
        undone = [g for g in self.redo_stack if g.matches(member, member_parent)]
        return self._step(undone, depth, "redo", "undo", redo_one)

    def _step(self, candidates, depth: Depth, which: str, other: str, apply_one) -> bool:
        if not candidates or not candidates[-1].intact(depth, which):
            return False
        g = candidates[-1]
        for m in g.members:
            apply_one(m)
        g.undone = which == "undo"
        g.depths = {id(m): depth(m, other) for m in g.members}
        if g.undone:
            self.redo_stack.append(g)
        else:
            self.redo_stack.remove(g)
        return True

    def members(self) -> list:
        """Every member of every recorded group."""
        return [m for g in self.groups for m in g.members]
