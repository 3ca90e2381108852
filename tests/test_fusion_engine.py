"""PET/CT fusion (radgui.io.petct.fuse) and four-VOI features (radgui.features.petct).

Expected values are computed by hand (the arithmetic is in the comments) or,
for the wavelet rule on random arrays, with PyWavelets' single-level
``dwtn``/``idwtn`` applied by the test itself, coefficient by coefficient.
"""

from __future__ import annotations

import numpy as np
import pytest
import pywt
import SimpleITK as sitk

from radgui.errors import EmptyMaskError, FusionError, GeometryMismatchError, RadguiError
from radgui.features.petct import (
    build_vois,
    column_prefix,
    extract_petct,
    split_column,
    voi_names,
)
from radgui.io import volume_from_array
from radgui.io.petct import fuse, fuse_region, fusion_kwargs, fusion_parameters, normalise


def _pair(ct_hu, pet_suv, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)):
    ct = volume_from_array(np.asarray(ct_hu, np.float32), spacing, origin, modality="CT", name="ct")
    pet = volume_from_array(np.asarray(pet_suv, np.float32), spacing, origin, modality="PT", name="pet")
    return ct, pet


def _one_line(exc):
    assert "\n" not in str(exc.value) and str(exc.value)


# ---------------------------------------------------------------- normalisation
def test_normalisation_clips_and_scales_to_unit_range():
    # CT window -1000..1000 HU: (HU + 1000) / 2000, clipped
    np.testing.assert_allclose(normalise([-2000, -1000, 0, 500, 1000, 3000], (-1000, 1000)),
                               [0, 0, 0.5, 0.75, 1, 1])
    # SUV 0..20: SUV / 20, clipped (a negative SUV from resampling noise becomes 0)
    np.testing.assert_allclose(normalise([-1, 0, 5, 20, 40], (0, 20)), [0, 0, 0.25, 1, 1])
    assert normalise([1, 2], (0, 4)).dtype == np.float32


def test_weighted_fusion_hand_computed_2x2x2():
    ct_hu = np.zeros((2, 2, 2))  # 0 HU -> C = 0.5 everywhere
    suv = np.array([0, 10, 20, 40, 5, 15, 2, 8], float).reshape(2, 2, 2)
    ct, pet = _pair(ct_hu, suv)
    f = fuse(ct, pet, "weighted", weight=0.25).array
    # F = 0.25 * P + 0.75 * 0.5 with P = min(SUV, 20) / 20
    p = np.array([0, 0.5, 1, 1, 0.25, 0.75, 0.1, 0.4]).reshape(2, 2, 2)
    np.testing.assert_allclose(f, 0.25 * p + 0.375, atol=1e-7)
    assert f[0, 0, 0] == pytest.approx(0.375) and f[0, 1, 0] == pytest.approx(0.625)
    # the two ends of the weight: CT alone, PET alone
    np.testing.assert_allclose(fuse(ct, pet, weight=0.0).array, 0.5)
    np.testing.assert_allclose(fuse(ct, pet, weight=1.0).array, p, atol=1e-7)


def test_weighted_fusion_custom_window_and_range():
    ct, pet = _pair([[[-160, 240]]] * 2, [[[0, 6]]] * 2)
    f = fuse(ct, pet, weight=0.5, ct_window_hu=(-160, 240), pet_range_suv=(0, 6)).array
    # C = (HU + 160) / 400 -> 0, 1 ; P = SUV / 6 -> 0, 1 ; F = (C + P) / 2
    np.testing.assert_allclose(f[0, 0], [0.0, 1.0])


def test_wavelet_fusion_keeps_the_larger_detail_of_each_image_hand_computed():
    # CT varies only along x (C = 0.25 | 0.75), PET only along y (P = 0.4 | 0.6).
    z, y, x = np.meshgrid(range(2), range(2), range(2), indexing="ij")
    ct_hu = np.where(x == 0, -500.0, 500.0)          # C = 0.25 / 0.75, mean 0.5
    suv = np.where(y == 0, 8.0, 12.0)                # P = 0.4 / 0.6, mean 0.5
    ct, pet = _pair(ct_hu, suv)
    f = fuse(ct, pet, "wavelet", weight=0.5).array
    # Haar, one level: the approximation is the block mean (0.5 for both, averaged: 0.5);
    # CT's only detail is along x (+-0.25), PET's only along y (+-0.1); max-abs keeps both:
    expected = 0.5 + np.where(x == 0, -0.25, 0.25) + np.where(y == 0, -0.1, 0.1)
    np.testing.assert_allclose(f, expected, atol=1e-6)
    # the weighted average halves both edges instead
    np.testing.assert_allclose(fuse(ct, pet).array, 0.5 + (expected - 0.5) / 2, atol=1e-6)


def test_wavelet_fusion_of_a_flat_pet_shifts_ct_by_half_the_mean_difference():
    rng = np.random.default_rng(1)
    ct_hu = rng.uniform(-900, 900, (2, 2, 2))
    ct, pet = _pair(ct_hu, np.full((2, 2, 2), 4.0))  # P = 0.2, no detail
    c = (ct_hu + 1000) / 2000
    # details all from CT; approximation w * 0.2 + (1 - w) * mean(C), w = 0.5
    expected = c + 0.5 * (0.2 - c.mean())
    np.testing.assert_allclose(fuse(ct, pet, "wavelet").array, expected, atol=1e-6)


@pytest.mark.parametrize("shape,wavelet,w", [((4, 4, 4), "db1", 0.5), ((3, 5, 7), "db1", 0.3),
                                             ((10, 12, 14), "coif1", 0.7)])
def test_wavelet_fusion_matches_pywt_applied_by_hand(shape, wavelet, w):
    rng = np.random.default_rng(7)
    ct_hu = rng.uniform(-1200, 1200, shape)
    suv = rng.uniform(-1, 25, shape)
    ct, pet = _pair(ct_hu, suv)
    f = fuse(ct, pet, "wavelet", weight=w, wavelet=wavelet).array
    c = np.clip(ct_hu, -1000, 1000) / 2000 + 0.5
    p = np.clip(suv, 0, 20) / 20
    cd, pd = pywt.dwtn(c, wavelet, mode="symmetric"), pywt.dwtn(p, wavelet, mode="symmetric")
    coeffs = {}
    for key in cd:
        if key == "aaa":
            coeffs[key] = w * pd[key] + (1 - w) * cd[key]
        else:
            coeffs[key] = np.where(np.abs(pd[key]) >= np.abs(cd[key]), pd[key], cd[key])
    ref = pywt.idwtn(coeffs, wavelet, mode="symmetric")[: shape[0], : shape[1], : shape[2]]
    assert f.shape == shape
    np.testing.assert_allclose(f, ref, atol=2e-5)


def test_fused_volume_has_ct_geometry_and_provenance():
    ct, pet = _pair(np.zeros((4, 4, 4)), np.ones((4, 4, 4)), spacing=(2.5, 0.8, 0.7), origin=(10, -5, 3))
    ct.warnings.append("ct warning")
    out = fuse(ct, pet, "wavelet", weight=0.4, wavelet="db1", level=2)
    assert out.spacing == ct.spacing and out.origin == ct.origin and out.modality == "OT"
    prov = out.meta["fusion"]
    assert prov["method"] == "wavelet" and prov["weight"] == 0.4 and prov["level"] == 2
    assert prov["ct_window_hu"] == [-1000.0, 1000.0] and prov["pet_range_suv"] == [0.0, 20.0]
    assert "absolute value" in prov["rule"] and prov["ct_sha256"] == ct.hash()
    assert "ct warning" in out.warnings
    # the recorded parameters rebuild the same image
    again = fuse(ct, pet, **fusion_kwargs(prov))
    np.testing.assert_array_equal(again.array, out.array)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,match", [
    ({"method": "average"}, "unknown fusion method"),
    ({"weight": 1.5}, r"lie in \[0, 1\]"),
    ({"weight": -0.1}, r"lie in \[0, 1\]"),
    ({"weight": "half"}, "must be a number"),
    ({"weight": float("nan")}, r"lie in \[0, 1\]"),
    ({"weight": True}, "must be a number"),
    ({"ct_window_hu": ("-1000", "1000")}, "two numbers"),
    ({"pet_range_suv": [0, 5, 10]}, "two numbers"),
    ({"ct_window_hu": (1000, -1000)}, "low < high"),
    ({"pet_range_suv": (0,)}, "two numbers"),
    ({"method": "wavelet", "wavelet": "nope"}, "unknown discrete wavelet"),
    ({"method": "wavelet", "level": 0}, "level must be"),
    ({"method": "wavelet", "level": 9}, "level must be"),
])
def test_bad_parameters_are_refused_in_one_line(kwargs, match):
    ct, pet = _pair(np.zeros((4, 4, 4)), np.ones((4, 4, 4)))
    with pytest.raises(FusionError, match=match) as exc:
        fuse(ct, pet, **kwargs)
    _one_line(exc)


def test_grids_that_differ_are_refused():
    ct, _ = _pair(np.zeros((4, 4, 4)), np.ones((4, 4, 4)))
    _, small = _pair(np.zeros((4, 4, 3)), np.ones((4, 4, 3)))
    with pytest.raises(FusionError, match="not on the CT grid") as exc:
        fuse(ct, small)
    _one_line(exc)
    _, shifted = _pair(np.zeros((4, 4, 4)), np.ones((4, 4, 4)), origin=(0, 0, 2.0))
    with pytest.raises(FusionError, match="differ by up to 2.000 mm"):
        fuse(ct, shifted)
    with pytest.raises(FusionError, match="must be a radgui Volume"):
        fuse(ct, np.ones((4, 4, 4)))


def test_nan_pet_and_tiny_image_are_refused():
    bad = np.ones((4, 4, 4))
    bad[0, 0, 0] = np.nan
    ct, pet = _pair(np.zeros((4, 4, 4)), bad)
    with pytest.raises(FusionError, match="1 voxel"):
        fuse(ct, pet)
    ct, pet = _pair(np.zeros((1, 4, 4)), np.ones((1, 4, 4)))
    with pytest.raises(FusionError, match="too small"):
        fuse(ct, pet, "wavelet")
    ct, pet = _pair(np.zeros((4, 4, 4)), np.ones((4, 4, 4)))
    with pytest.raises(FusionError, match="at most 0"):
        fuse(ct, pet, "wavelet", wavelet="coif1")


def test_fusion_kwargs_refuses_what_a_file_could_put_there():
    assert fusion_kwargs("wavelet")["method"] == "wavelet"
    assert fusion_kwargs({"method": "weighted", "weight": 0.2, "rule": "x", "evil": 1}) == {
        "method": "weighted", "weight": 0.2, "ct_window_hu": [-1000.0, 1000.0], "pet_range_suv": [0.0, 20.0]}
    with pytest.raises(FusionError, match="mapping"):
        fusion_kwargs(["weighted"])
    with pytest.raises(FusionError, match=r"\[0, 1\]"):
        fusion_kwargs({"weight": 3})
    assert fusion_parameters("wavelet")["wavelet"] == "db1"


# ---------------------------------------------------------------- the four VOIs
def _cube(n=11, lo=3, hi=8):
    m = np.zeros((n, n, n), bool)
    m[lo:hi, lo:hi, lo:hi] = True  # a 5x5x5 cube of 1 mm voxels
    return m


def test_four_vois_hand_counted_on_a_cube():
    vois = build_vois(_cube(), (1.0, 1.0, 1.0), ring_mm=1.0, core_depth_mm=1.0)
    assert list(vois) == ["tumour", "ring1mm", "core1mm", "tumour+ring1mm"]
    # Ring 1 mm: the face (D = 0.5), edge (D = sqrt2/2) and corner (D = sqrt3/2) neighbours,
    # not the second layer (D = 1.5): the 7^3 cube minus the tumour, 343 - 125 = 218 voxels.
    # Core 1 mm: the inner 3^3 (depth 1.5 mm); the outer layer is 0.5 mm deep.
    counts = {k: int(v.sum()) for k, v in vois.items()}
    assert counts == {"tumour": 125, "ring1mm": 218, "core1mm": 27, "tumour+ring1mm": 343}
    t, r, c, u = vois.values()
    assert not (t & r).any() and (c <= t).all() and np.array_equal(u, t | r)


def test_vois_bad_input():
    with pytest.raises(EmptyMaskError, match="empty") as exc:
        build_vois(np.zeros((5, 5, 5)), (1, 1, 1))
    _one_line(exc)
    with pytest.raises(EmptyMaskError, match="core at 5 mm depth is empty"):
        build_vois(_cube(), (1, 1, 1), ring_mm=1.0, core_depth_mm=5.0)


def test_column_naming():
    assert voi_names(6, 2.5) == {"tumour": "tumour", "ring": "ring6mm", "core": "core2.5mm",
                                 "tumour+ring": "tumour+ring6mm"}
    assert column_prefix("fused", "ring6mm") == "fused_ring6mm"
    assert split_column("fused_tumour+ring6mm__original_glcm_Imc1") == ("fused", "tumour+ring6mm",
                                                                        "original_glcm_Imc1")
    for bad in ("tumour__original_glcm_Imc1", "mr_tumour__x", "ct_tumour"):
        with pytest.raises(FusionError):
            split_column(bad)


# ---------------------------------------------------------------- four VOIs x three images
@pytest.fixture(scope="module")
def phantom():
    """A 1 mm phantom: CT -100 HU tumour in 40 HU tissue, PET SUV 8 tumour in SUV 1, with a texture."""
    rng = np.random.default_rng(3)
    tumour = _cube(21, 6, 15)  # 9x9x9
    ct_hu = np.where(tumour, -100.0, 40.0) + rng.normal(0, 30, tumour.shape)
    suv = np.where(tumour, 8.0, 1.0) + rng.uniform(0, 0.5, tumour.shape)
    ct, pet = _pair(ct_hu, suv)
    return ct, pet, tumour


def test_extract_petct_columns_and_values(phantom):
    ct, pet, tumour = phantom
    mask = sitk.GetImageFromArray(tumour.astype(np.uint8))
    mask.CopyInformation(ct.image)
    df = extract_petct(ct, pet, mask, fusion={"method": "weighted", "weight": 0.5}, ring_mm=2.0,
                       core_depth_mm=2.0, case_id="p1")
    assert df.index.tolist() == ["p1"] and df.index.name == "patient_id"
    prefixes = list(dict.fromkeys(c.split("__")[0] for c in df.columns))
    assert prefixes == [f"{i}_{v}" for i in ("ct", "pet", "fused")
                        for v in ("tumour", "ring2mm", "core2mm", "tumour+ring2mm")]
    per_prefix = {p: sum(c.startswith(p + "__") for c in df.columns) for p in prefixes}
    assert len(set(per_prefix.values())) == 1 and per_prefix["ct_tumour"] > 100  # 107 features each
    vois = build_vois(tumour, (1, 1, 1), 2.0, 2.0)
    c = np.clip(ct.array, -1000, 1000) / 2000 + 0.5
    p = np.clip(pet.array, 0, 20) / 20
    for voi, m in vois.items():
        # first-order means against numpy, independently of PyRadiomics and of fuse()
        assert df.at["p1", f"ct_{voi}__original_firstorder_Mean"] == pytest.approx(ct.array[m].mean(), rel=1e-5)
        assert df.at["p1", f"pet_{voi}__original_firstorder_Mean"] == pytest.approx(pet.array[m].mean(), rel=1e-5)
        assert df.at["p1", f"fused_{voi}__original_firstorder_Mean"] == pytest.approx(
            (0.5 * p + 0.5 * c)[m].mean(), rel=1e-5)
        assert df.at["p1", f"ct_{voi}__original_shape_VoxelVolume"] == pytest.approx(m.sum())
    prov = df.attrs["provenance"]
    assert prov["vois"]["tumour"] == 729 and prov["presets"] == {"ct": "ct-original", "pet": "pet-suv",
                                                                 "fused": "petct-fused"}
    assert prov["fusion"]["method"] == "weighted"
    assert prov["rois"]["fused_ring2mm"] == {"modality": "FUSED", "mask": "ring2mm", "preset": "petct-fused",
                                             "fusion": fusion_kwargs(prov["fusion"])}
    assert prov["rois"]["pet_core2mm"]["modality"] == "PT"


def test_extract_petct_fused_only_wavelet(phantom):
    ct, pet, tumour = phantom
    df = extract_petct(ct, pet, tumour, fusion="wavelet", images=("fused",), ring_mm=2.0, core_depth_mm=2.0)
    assert all(c.startswith("fused_") for c in df.columns)
    assert df.attrs["provenance"]["fusion"]["method"] == "wavelet"


@pytest.mark.parametrize("kwargs,error,match", [
    ({"fusion": "average"}, FusionError, "unknown fusion method"),
    ({"fusion": {"weight": 2}}, FusionError, r"\[0, 1\]"),
    ({"images": ("mr",)}, FusionError, "images must be"),
    ({"images": ()}, FusionError, "images must be"),
])
def test_extract_petct_bad_parameters(phantom, kwargs, error, match):
    ct, pet, tumour = phantom
    with pytest.raises(error, match=match) as exc:
        extract_petct(ct, pet, tumour, **kwargs)
    _one_line(exc)


def test_extract_petct_bad_masks_and_grids(phantom):
    ct, pet, tumour = phantom
    with pytest.raises(EmptyMaskError, match="tumour mask is empty") as exc:
        extract_petct(ct, pet, np.zeros_like(tumour))
    _one_line(exc)
    with pytest.raises(GeometryMismatchError, match="shape"):
        extract_petct(ct, pet, tumour[:, :, :10])
    _, other = _pair(np.zeros((21, 21, 20)), np.ones((21, 21, 20)))
    with pytest.raises(FusionError, match="not on the CT grid"):
        extract_petct(ct, other, tumour)
    with pytest.raises(RadguiError):
        extract_petct(ct, pet, tumour, ring_mm=-1)


# ---------------------------------------------------------------- fusion around the VOIs only
@pytest.mark.parametrize("fusion", [{"method": "weighted", "weight": 0.3},
                                    {"method": "wavelet", "wavelet": "db1", "level": 2},
                                    {"method": "wavelet", "wavelet": "coif1", "level": 1, "weight": 0.8}])
@pytest.mark.parametrize("box", [((10, 14, 20), (18, 30, 41)), ((0, 0, 0), (5, 7, 9)), ((30, 40, 50), (40, 52, 66))])
def test_fuse_region_equals_the_whole_image_fusion_bit_for_bit(fusion, box):
    rng = np.random.default_rng(4)
    shape = (40, 52, 66)
    ct, pet = _pair(rng.uniform(-1100, 1100, shape), rng.uniform(0, 22, shape), spacing=(2.0, 0.7, 0.8),
                    origin=(5.0, -3.0, 7.0))
    full = fuse(ct, pet, **fusion).array
    part = fuse_region(ct, pet, *box, **fusion)
    (s, e) = part.meta["fusion"]["region_index_zyx"]
    assert part.array.shape == tuple(b - a for a, b in zip(s, e))
    assert np.allclose(part.origin, ct.index_to_physical(s))  # the crop sits where it was
    lo, hi = box
    inner = tuple(slice(a - o, b - o) for a, b, o in zip(lo, hi, s))
    np.testing.assert_array_equal(part.array[inner], full[tuple(slice(a, b) for a, b in zip(lo, hi))])


def test_fuse_region_bad_box():
    ct, pet = _pair(np.zeros((4, 4, 4)), np.ones((4, 4, 4)))
    for lo, hi in (((0, 0, 0), (5, 4, 4)), ((2, 2, 2), (2, 3, 3)), ((-1, 0, 0), (2, 2, 2))):
        with pytest.raises(FusionError, match="is not a box inside the image"):
            fuse_region(ct, pet, lo, hi)


def test_four_voi_fused_features_are_those_of_the_whole_image_fusion(phantom):
    from radgui.features import extract

    ct, pet, tumour = phantom
    fusion = {"method": "wavelet", "weight": 0.4, "wavelet": "coif1"}
    df = extract_petct(ct, pet, tumour, fusion=fusion, images=("fused",), ring_mm=2.0, core_depth_mm=2.0)
    assert "region_index_zyx" in df.attrs["provenance"]["fusion"]
    vois = build_vois(tumour, ct.spacing, 2.0, 2.0)
    ref = extract(fuse(ct, pet, **fusion), vois, "petct-fused")
    for voi in vois:
        for col in ref.columns:
            assert df.at["case", f"fused_{voi}__{col}"] == pytest.approx(ref.at[voi, col], rel=1e-12, abs=1e-12), col


def test_a_preset_with_filters_fuses_the_whole_image(phantom):
    from radgui.features.petct import is_local

    assert is_local("petct-fused") and not is_local("ct-wavelet") and not is_local("ct-iso1mm")
    ct, pet, tumour = phantom
    df = extract_petct(ct, pet, tumour, images=("fused",), presets={"fused": "ct-wavelet"}, ring_mm=2.0,
                       core_depth_mm=2.0)
    assert "region_index_zyx" not in df.attrs["provenance"]["fusion"]


def test_petct_fused_preset_matches_stock_pyradiomics(phantom):
    # the fast path on the fused image against stock, uncropped PyRadiomics (the independent reference)
    from radgui.features.extract import extract, stock_extract

    ct, pet, tumour = phantom
    fused = fuse(ct, pet, "wavelet")
    mask = sitk.GetImageFromArray(tumour.astype(np.uint8))
    mask.CopyInformation(fused.image)
    ours = extract(fused, {"tumour": mask}, "petct-fused").loc["tumour"]
    ref = stock_extract(fused.image, mask, "petct-fused")
    assert len(ref) == 107 and set(ref) == set(ours.index)
    for name, value in ref.items():
        assert ours[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_progress_is_monotonic_and_ends_at_the_total(phantom):
    from radgui.features.petct import iter_extract_petct

    ct, pet, tumour = phantom
    steps = []
    gen = iter_extract_petct(ct, pet, tumour, ring_mm=2.0, core_depth_mm=2.0)
    while True:
        try:
            steps.append(next(gen))
        except StopIteration:
            break
    done = [s.done for s in steps]
    assert done == sorted(done) and {s.total for s in steps} == {steps[-1].total}
    assert steps[-1].done == steps[-1].total and len(steps) > 10


# ---------------------------------------------------------------- end to end on the PET SUV DRO
def test_dro_pet_fused_with_a_flat_ct_gives_the_reference_suv_mapped(pet_dro_dir):
    """DRO_0_0 (real DICOM PET in SUV; inside its mask SUV min/median/max = 0.20/1.00/4.00 by construction)
    with a flat 40 HU CT on the PET grid: the fused tumour values are 0.5 * SUV/20 + 0.5 * 0.52."""
    from radgui.io import load_volume
    from radgui.io.seg import read_rtstruct

    pet = load_volume(pet_dro_dir / "DRO_0_0" / "PT")
    mask = read_rtstruct(pet_dro_dir / "DRO_0_0" / "RS" / "RS_dro_0_0.dcm", pet)["region_1"]
    ct_img = sitk.Image(pet.image.GetSize(), sitk.sitkFloat32) + 40.0
    ct_img.CopyInformation(pet.image)
    from radgui.io.volume import Volume

    ct = Volume(ct_img, "CT", {"name": "flat CT"})
    arr = sitk.GetArrayFromImage(mask) > 0
    # the tumour is the DRO's region; ring and core are built from it (any size works for the check)
    first_order = {"imageType": {"Original": {}}, "featureClass": {"firstorder": []},
                   "setting": {"binWidth": 0.02}}  # the region is large (175k voxels): first order only
    df = extract_petct(ct, pet, mask, images=("pet", "fused"), ring_mm=float(max(ct.spacing)),
                       core_depth_mm=float(min(ct.spacing)) / 2,
                       presets={"pet": first_order, "fused": first_order})
    got = [df.at["case", f"pet_tumour__original_firstorder_{k}"] for k in ("Minimum", "Median", "Maximum")]
    assert [round(v, 2) for v in got] == [0.20, 1.00, 4.00]
    c = (40.0 + 1000.0) / 2000.0
    for k, suv in (("Minimum", 0.2), ("Median", 1.0), ("Maximum", 4.0)):
        assert df.at["case", f"fused_tumour__original_firstorder_{k}"] == pytest.approx(
            0.5 * suv / 20 + 0.5 * c, abs=0.5 * 0.005 / 20 + 1e-6)
    assert df.attrs["provenance"]["vois"]["tumour"] == int(arr.sum())
