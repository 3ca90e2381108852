"""The ROI dock's engine pieces, without a window: changed-voxel diff, crop merge, edits by name,
mL, ring set with progress, and the Qt-free RoiSession (seeds, preview, ring-set undo)."""

from __future__ import annotations

import numpy as np
import pytest

from radgui import roi
from radgui.errors import EmptyMaskError, GeometryMismatchError
from radgui.progress import Step, run

SP = (2.0, 1.0, 1.0)


def ball(shape=(20, 40, 40), centre=(10, 20, 20), r_mm=8.0, sp=SP):
    g = np.indices(shape).astype(float) * np.asarray(sp)[:, None, None, None]
    c = (np.asarray(centre) * sp)[:, None, None, None]
    return np.sqrt(((g - c) ** 2).sum(0)) <= r_mm


# --------------------------------------------------------------- mask_change
def test_mask_change_holds_only_the_changed_voxels():
    old = np.zeros((5, 6, 7), np.uint8)
    old[1, 2, 3] = old[1, 2, 4] = 1
    new = np.zeros((5, 6, 7), bool)
    new[1, 2, 4] = new[3, 3, 3] = True
    ch = roi.mask_change(old, new, label=2)
    assert ch.count == 2 and ch.values.dtype == np.uint8
    data = old.copy()
    data[ch.indices] = ch.values
    assert np.array_equal(data > 0, new)
    assert sorted(zip(*[a.tolist() for a in ch.indices], ch.values.tolist())) == [(1, 2, 3, 0), (3, 3, 3, 2)]
    assert roi.mask_change(old, old > 0).count == 0
    assert roi.mask_change(np.zeros((2, 2, 2)), np.zeros((2, 2, 2), bool)).count == 0
    with pytest.raises(GeometryMismatchError, match=r"\(2, 2, 2\)"):
        roi.mask_change(old, np.zeros((2, 2, 2), bool))


# ------------------------------------------------------------ crop merge / mL
def test_grow_result_added_to_merges_the_crop_box_only():
    img = np.where(ball(), 40.0, -800.0)
    res = roi.grow_region(img, SP, np.array([[10, 20, 20]]), preset="solid", opening_mm=0)
    current = np.zeros(img.shape, np.uint8)
    current[0, 0, 0] = 1
    merged = res.added_to(current)
    assert merged.dtype == bool and merged[0, 0, 0] and current.sum() == 1  # input untouched
    assert np.array_equal(merged, res.full() | (current > 0))
    assert np.array_equal(res.offset, [s.start for s in res.slices])
    with pytest.raises(GeometryMismatchError):
        res.added_to(np.zeros((3, 3, 3)))


def test_volume_ml_is_the_one_conversion():
    assert roi.volume_ml(1000, (2.0, 1.0, 0.5)) == pytest.approx(1.0)
    m = ball()
    assert roi.measure(m, np.zeros(m.shape), spacing=SP)["volume_ml"] == roi.volume_ml(m.sum(), SP)
    with pytest.raises(roi.RoiParameterError):
        roi.volume_ml(3, (1.0, 0.0, 1.0))


# ---------------------------------------------------------------- edits
@pytest.mark.parametrize("op, expected", [
    ("fill3d", lambda m, o: roi.fill_holes(m)),
    ("fill2d", lambda m, o: roi.fill_holes(m, per_slice=True)),
    ("largest", lambda m, o: roi.keep_largest(m)),
    ("islands", lambda m, o: roi.remove_islands(m, SP, 30.0)),
    ("smooth", lambda m, o: roi.smooth(m, SP, 1.5)),
    ("margin", lambda m, o: roi.margin(m, SP, -2.0)),
    ("interpolate", lambda m, o: roi.interpolate_slices(m, SP)),
    ("logical", lambda m, o: roi.logical(m, o, "subtract")),
])
def test_apply_edit_dispatches_to_the_named_function(op, expected):
    m = ball()
    m[10, 20, 20] = False
    m[0, 0, 0] = True
    other = np.zeros(m.shape, bool)
    other[:, :, :20] = True
    got = roi.apply_edit(op, m.astype(np.uint8), SP, island_mm3=30.0, sigma_mm=1.5, margin_mm=-2.0,
                         other=other, logical_op="subtract")
    assert np.array_equal(got, expected(m, other))
    assert op in roi.EDIT_OPS


def test_apply_edit_refuses_unknown_and_incomplete():
    with pytest.raises(roi.RoiParameterError, match="choose the second ROI"):
        roi.apply_edit("logical", ball(), SP)
    with pytest.raises(roi.RoiParameterError, match="unknown edit 'dilate'"):
        roi.apply_edit("dilate", ball(), SP)


# ------------------------------------------------------------- ring set
def test_iter_derived_vois_yields_steps_and_equals_derived_vois():
    m = ball(r_mm=5.0)
    gen = roi.iter_derived_vois(m, SP, (3, 6), core_depth_mm=1.0, unions=True)
    steps, out = [], None
    while True:
        try:
            steps.append(next(gen))
        except StopIteration as stop:
            out = stop.value
            break
    assert all(isinstance(s, Step) for s in steps) and len(steps) == 3 + 2 + 1
    assert [s.done for s in steps] == sorted(s.done for s in steps)
    ref = roi.derived_vois(m, SP, (3, 6), core_depth_mm=1.0, unions=True)
    assert list(out) == list(ref) == ["core1mm", "ring3mm", "ring6mm", "tumour+ring3mm", "tumour+ring6mm"]
    for k in ref:
        assert np.array_equal(out[k], ref[k]), k


def test_iter_ring_set_stops_when_closed_and_keeps_the_body_mask():
    m = ball(r_mm=5.0)
    image = np.where(m, 40.0, -800.0)
    image[:, :, :3] = -1000.0  # air outside the body
    gen = roi.iter_ring_set(m, SP, (3,), clip="body", image=image)
    first = next(gen)
    assert first.message == "body mask"
    gen.close()  # what a worker's quit does between steps: nothing more runs
    rs = run(roi.iter_ring_set(m, SP, (3,), clip="body", image=image))
    assert rs.body is not None and not rs.body[:, :, :3].any()
    assert set(rs.thickness) == {"ring3mm"}
    assert rs.thickness["ring3mm"] == roi.axis_thickness_mm(rs.vois["ring3mm"], m, SP)
    again = run(roi.iter_ring_set(m, SP, (3,), clip=rs.body, image=image))
    assert again.body is None and np.array_equal(again.vois["ring3mm"], rs.vois["ring3mm"])


def test_parse_distances_and_derived_names():
    assert roi.parse_distances("3, 6;9") == [3.0, 6.0, 9.0]
    with pytest.raises(roi.RoiParameterError, match="'3, six'"):
        roi.parse_distances("3, six")
    assert roi.derived_name("tumour", "ring3mm") == "ring3mm"
    assert roi.derived_name("tumour2", "ring3mm") == "tumour2 ring3mm"
    assert roi.derived_name("tumour2", "tumour+ring3mm") == "tumour2+ring3mm"


def test_iter_measure_many():
    m = ball()
    img = np.where(m, 40.0, -800.0)

    from radgui.io import volume_from_array

    vol = volume_from_array(img, SP, modality="CT")
    out = run(roi.iter_measure_many({"a": (m.astype(np.uint8), vol), "b": (np.zeros(m.shape), vol),
                                     "c": (np.zeros((2, 2, 2)) + 1, vol)}))
    assert out["a"]["voxel_count"] == m.sum() and out["a"]["mean"] == pytest.approx(40.0)
    assert out["b"] == {"volume_ml": 0.0, "voxel_count": 0}
    assert "shape" in out["c"]["error"]


# ------------------------------------------------------------- session
def test_session_seeds_preview_apply_clear():
    img = np.where(ball(), 40.0, -800.0)
    s = roi.RoiSession()
    key = object()
    assert s.preview(img, SP) is None  # no seed yet
    s.add_seed((10.2, 19.6, 20.4), img.shape, key)
    s.add_seed((10, 21, 20), img.shape, key, add=True)
    assert s.seeds == [(10, 20, 20), (10, 21, 20)]
    s.add_seed((10, 20, 20), img.shape, object(), add=True)  # another image: a new grow
    assert len(s.seeds) == 1
    with pytest.raises(roi.RoiParameterError, match="outside the image"):
        s.add_seed((10, 20, 40), img.shape, key)
    res = s.preview(img, SP, preset="solid", opening_mm=0)
    assert res is s.result and res.voxel_count == ball().sum() and s.last_preview_ms >= 0
    merged = s.apply_to(np.zeros(img.shape, np.uint8))
    assert np.array_equal(merged, ball()) and s.result is None and s.seeds == []
    assert s.apply_to(np.zeros(img.shape)) is None


class Layer:
    """A stand-in for a Labels layer: undo/redo history depths only."""

    def __init__(self, name, parent=None):
        self.name, self.parent, self.undo_n, self.redo_n = name, parent, 0, 0

    def write(self):
        self.undo_n += 1
        self.redo_n = 0

    def undo(self):
        self.undo_n, self.redo_n = self.undo_n - 1, self.redo_n + 1

    def redo(self):
        self.undo_n, self.redo_n = self.undo_n + 1, self.redo_n - 1


def depth(ly, which):
    return ly.undo_n if which == "undo" else ly.redo_n


def test_session_ring_set_undo_redo_as_a_whole():
    s = roi.RoiSession()
    rings = [Layer("ring3mm", "tumour"), Layer("ring6mm", "tumour")]
    for ly in rings:
        ly.write()
    assert s.record_group([], "tumour", depth) is None
    s.record_group(rings, "tumour", depth)
    tumour = Layer("tumour")
    assert not s.undo(tumour, None, depth, Layer.undo)  # the tumour is not part of the set
    assert s.undo(rings[1], "tumour", depth, Layer.undo)
    assert [ly.undo_n for ly in rings] == [0, 0] and s.groups[0].undone
    assert not s.undo(rings[0], "tumour", depth, Layer.undo)  # nothing left to undo as a set
    assert s.redo(rings[0], "tumour", depth, Layer.redo)
    assert [ly.undo_n for ly in rings] == [1, 1] and s.redo_stack == []
    # a later own step on one layer: the set is no longer on top, so it is not undone as a set
    rings[0].write()
    assert not s.undo(rings[1], "tumour", depth, Layer.undo)
    # a new ring layer of the same tumour (not in the group) still undoes the set by its parent
    rings[0].undo()
    other = Layer("ring9mm", "tumour")
    assert s.undo(other, "tumour", depth, Layer.undo)
    assert s.members() == rings


def test_session_body_mask_cache_is_per_image():
    s = roi.RoiSession()
    a, b = np.zeros(3), np.zeros(3)
    body = np.ones(3, bool)
    assert s.body_mask_for(a) is None
    s.keep_body_mask(a, body)
    assert s.body_mask_for(a) is body and s.body_mask_for(b) is None
    s.keep_body_mask(a, None)  # nothing computed this time: the cache stays
    assert s.body_mask_for(a) is body


def test_empty_tumour_refused_before_any_work():
    gen = roi.iter_ring_set(np.zeros((4, 4, 4)), SP, (3,))
    with pytest.raises(EmptyMaskError):
        next(gen)


def test_cli_rings_calls_the_same_engine_functions(tmp_path, monkeypatch, capsys):
    """``radgui roi rings`` computes through iter_ring_set and volume_ml, as the dock does."""
    import json

    from radgui.cli import main
    from radgui.io import save_mask, volume_from_array

    m = ball(r_mm=5.0)
    vol = volume_from_array(np.where(m, 40.0, -800.0).astype(np.float32), SP, modality="CT")
    import SimpleITK as sitk

    sitk.WriteImage(vol.image, str(tmp_path / "ct.nrrd"))
    save_mask(m.astype(np.uint8), tmp_path / "tumour.nrrd", like=vol)
    calls = []
    real = roi.iter_ring_set

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(roi, "iter_ring_set", spy)
    out = tmp_path / "voi"
    assert main(["roi", "rings", str(tmp_path / "ct.nrrd"), str(tmp_path / "tumour.nrrd"), "--distances", "3",
                 "-o", str(out)]) == 0
    assert len(calls) == 1
    report = json.loads((out / "rings.json").read_text())
    ring = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "ring3mm.nrrd"))) > 0
    assert report["vois"]["ring3mm"]["volume_ml"] == roi.volume_ml(ring.sum(), SP)
    assert report["vois"]["ring3mm"]["thickness_through_centroid"]["x"]["voxels"] == \
        roi.axis_thickness_mm(ring, m, SP)["x"][1]
