"""Region growing on a noisy phantom with a vessel bridge, and PET modes."""

from __future__ import annotations

import numpy as np
import pytest

from radgui.roi import PRESETS, RoiParameterError, grow, grow_region

SPACING = (2.0, 0.8, 0.8)


def dice(a, b):
    return 2.0 * (a & b).sum() / (a.sum() + b.sum())


@pytest.fixture(scope="module")
def phantom():
    """A 10 mm solid nodule in lung, joined by a 2.4 mm vessel to a large vessel/mediastinum slab."""
    rng = np.random.default_rng(4)
    sp = np.asarray(SPACING)
    shape = (40, 110, 110)
    g = np.indices(shape).astype(float) * sp[:, None, None, None]
    centre = np.array([20, 40, 40]) * sp
    r = np.sqrt(((g - centre[:, None, None, None]) ** 2).sum(0))
    nodule = r <= 10.0
    # vessel along +x from the nodule to the slab, radius 1.2 mm
    vessel = ((g[0] - centre[0]) ** 2 + (g[1] - centre[1]) ** 2 <= 1.2**2) & (g[2] > centre[2])
    slab = g[2] >= centre[2] + 25.0
    img = rng.normal(-850, 40, shape)
    img[vessel | slab] = rng.normal(40, 25, (vessel | slab).sum())
    img[nodule] = rng.normal(40, 25, nodule.sum())
    seed = (20, 40, 40)
    return img.astype(np.int16), nodule, seed


def test_guard_recovers_nodule_and_no_guard_leaks(phantom):
    img, nodule, seed = phantom
    before = img.copy()
    guarded = grow(img, SPACING, seed, preset="solid", max_radius_mm=40, opening_mm=2.0)
    assert dice(guarded, nodule) >= 0.95
    leaked = grow(img, SPACING, seed, preset="solid", max_radius_mm=80, opening_mm=0.0)
    assert leaked.sum() > 3 * nodule.sum()  # into the vessel and the slab
    assert dice(leaked, nodule) < 0.6
    assert np.array_equal(img, before)


def test_radius_guard_alone_bounds_the_leak(phantom):
    img, nodule, seed = phantom
    res = grow_region(img, SPACING, seed, preset="solid", max_radius_mm=15, opening_mm=0)
    zz, yy, xx = np.nonzero(res.full())
    d = np.sqrt((((np.stack([zz, yy, xx]).T - seed) * SPACING) ** 2).sum(1))
    assert d.max() <= 15.0
    # the crop box is the seed +- radius, not the image
    assert res.mask.shape == (2 * 8 + 1, 2 * 19 + 1, 2 * 19 + 1)
    assert res.interval == PRESETS["solid"][:2]


def test_adaptive_mode(phantom):
    img, nodule, seed = phantom
    res = grow_region(img, SPACING, seed, mode="adaptive", max_radius_mm=40, opening_mm=2.0)
    assert dice(res.full(), nodule) >= 0.9
    lo, hi = res.interval
    assert lo < 40 < hi and hi - lo < 400


def test_interval_and_seed_outside_interval(phantom):
    img, nodule, seed = phantom
    out = grow(img, SPACING, [seed, (20, 40, 45)], lower=-300, upper=300, opening_mm=2.0)
    assert dice(out, nodule) >= 0.95
    empty = grow(img, SPACING, (20, 40, 5), preset="solid")  # a seed in lung: nothing solid there
    assert not empty.any()


def test_pet_modes():
    rng = np.random.default_rng(1)
    sp = (3.0, 2.0, 2.0)
    shape = (30, 60, 60)
    g = np.indices(shape).astype(float) * np.asarray(sp)[:, None, None, None]
    c = np.array([15, 30, 30]) * np.asarray(sp)
    hot = np.sqrt(((g - c[:, None, None, None]) ** 2).sum(0)) <= 15.0
    suv = rng.normal(1.0, 0.1, shape)
    suv[hot] = rng.normal(10.0, 0.5, hot.sum())
    far = (15, 30, 58)
    suv[15, 30, 55:] = 20.0  # a hotter spot outside the 25 mm sphere must not set SUVmax
    res = grow_region(suv, sp, (15, 30, 30), mode="pet_fraction", max_radius_mm=25)
    assert dice(res.full(), hot) >= 0.95
    assert res.interval[0] == pytest.approx(0.41 * res.params["suvmax"])
    assert res.params["suvmax"] < 15
    fixed = grow(suv, sp, (15, 30, 30), mode="pet_fixed", suv_threshold=2.5, max_radius_mm=25)
    assert dice(fixed, hot) >= 0.95
    assert not fixed[far]


@pytest.mark.parametrize("kwargs, match", [
    (dict(seeds=(100, 0, 0)), "outside the image"),
    (dict(seeds=(1, 2)), "seeds must be"),
    (dict(preset="bone-ish"), "unknown preset"),
    (dict(lower=100, upper=-100), "above upper"),
    (dict(mode="magic"), "unknown growing mode"),
    (dict(max_radius_mm=-1), "positive"),
    (dict(opening_mm=-1), "opening"),
    (dict(mode="pet_fraction", fraction=1.5), "fraction"),
])
def test_bad_parameters(kwargs, match):
    img = np.zeros((10, 10, 10))
    kw = dict(seeds=(5, 5, 5))
    kw.update(kwargs)
    seeds = kw.pop("seeds")
    with pytest.raises(RoiParameterError, match=match):
        grow(img, (1, 1, 1), seeds, **kw)
