"""Study agreement: ICCs equal Shrout & Fleiss (1979) through the study path; Dice/HD95 on analytic spheres."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radgui.errors import GeometryMismatchError, StudyError
from radgui.io import volume_from_array
from radgui.roi.agreement import dice, hausdorff95_mm, hausdorff_mm, jaccard, overlap_metrics, volume_difference_ml
from radgui.study import IccHistogramDisplay, assign, create_study, study_agreement

# Shrout & Fleiss 1979, Table 2 (6 targets x 4 judges) and their Table 4 / psych::ICC intervals
SF = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)
PUBLISHED = {"ICC(1,1)": (0.17, -0.13, 0.72), "ICC(2,1)": (0.29, 0.019, 0.76), "ICC(3,1)": (0.71, 0.34, 0.95)}
SHAPE = (8, 16, 24)


def _block(rating: float) -> np.ndarray:
    """A 2 x 5 x rating block: 10 x rating voxels of 1 mm^3 (the ICC is scale-free)."""
    m = np.zeros(SHAPE, np.uint8)
    m[3:5, 5:10, 2:2 + int(rating)] = 1
    return m


@pytest.fixture(scope="module")
def sf_study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sf")
    (tmp / "imgs").mkdir()
    for i in range(6):
        v = volume_from_array(np.random.default_rng(i).normal(40, 20, SHAPE).astype(np.float32))
        sitk.WriteImage(v.image, str(tmp / "imgs" / f"case{i}.nrrd"))
    study = create_study(tmp / "study", tmp / "imgs")
    for j, reader in enumerate(["J1", "J2", "J3", "J4"]):
        assign(study, reader)
        with study.reader_session(reader) as rs:
            for c in rs.cases():
                v = rs.load_image(c.case_id)
                rs.save_segmentation(c.case_id, "tumour", _block(SF[int(c.case_id[1:]) - 1, j]), like=v)
    yield study
    study.close()


def _count(volume, mask, roi):
    n = float(sitk.GetArrayViewFromImage(mask).astype(bool).sum())
    return {"count": n, "constant": 7.0, "same_for_all_readers": float(volume.array.mean())}


@pytest.mark.parametrize("form", list(PUBLISHED))
def test_shrout_fleiss_through_the_study(sf_study, form):
    res = study_agreement(sf_study, form=form, extractor=_count, threshold=0.5)
    row = res.icc.loc["count"]
    val, lo, hi = PUBLISHED[form]
    assert round(row["icc"], 2) == val
    assert round(row["ci_low"], 3 if abs(lo) < 0.1 else 2) == lo and round(row["ci_high"], 2) == hi
    assert (row["n_targets"], row["n_readers"]) == (6, 4)
    assert res.icc.loc["constant", "status"] == "not assessable" and not res.icc.loc["constant", "passes"]
    assert np.isnan(res.icc.loc["constant", "icc"])
    assert res.icc.loc["same_for_all_readers", "icc"] == pytest.approx(1.0)
    assert "constant" not in res.kept and "same_for_all_readers" in res.kept
    assert ("count" in res.kept) == (val >= 0.5)
    assert len(res.overlap) == 6 * 6  # 6 cases x C(4, 2) reader pairs
    first = res.overlap.iloc[0]
    a, b = _block(SF[0, 0]), _block(SF[0, 1])
    assert (first["case_id"], first["reader_a"], first["reader_b"]) == ("S0001", "J1", "J2")
    assert first["dice"] == pytest.approx(dice(a, b)) == pytest.approx(2 * 20 / (90 + 20))


def test_real_features_and_outputs_train_can_read(sf_study, tmp_path):
    res = study_agreement(sf_study, preset="ct-original", form="ICC(2,1)")
    # the block volume is 10 x rating mm^3: its ICC is Shrout & Fleiss' ICC(2,1)
    assert round(res.icc.loc["original_shape_VoxelVolume", "icc"], 2) == 0.29
    assert res.icc.loc["original_shape_VoxelVolume", "status"] == "not reproducible"
    files = res.write(tmp_path / "run")
    from radgui.files import verify_manifest
    from radgui.model.train import _read_icc

    assert verify_manifest(tmp_path / "run") == []
    icc = _read_icc(files["icc_table"])
    assert set(icc) == set(res.icc.index) and icc["original_shape_VoxelVolume"] == pytest.approx(
        res.icc.loc["original_shape_VoxelVolume", "icc"])
    kept = (tmp_path / "run" / "kept_features.txt").read_text().split()
    assert kept == res.kept and all(icc[f] >= 0.75 for f in kept)
    table = pd.read_csv(files["icc"], index_col=0)
    assert {"icc", "ci_low", "ci_high", "status"} <= set(table.columns)
    assert (tmp_path / "run" / "icc_histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sf_study.record_feature_run(res.preset, res.form, res.threshold, res.params, str(tmp_path / "run"))
    assert sf_study._conn.execute("SELECT preset, form FROM feature_runs").fetchall()[-1] == ("ct-original",
                                                                                             "ICC(2,1)")


def test_icc_histogram_draws_into_the_given_axes():
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    d = IccHistogramDisplay([0.1, 0.8, 0.9, float("nan")], threshold=0.75, form="ICC(3,1)").plot(ax=ax)
    assert d.ax_ is ax and ax.get_xlabel() == "ICC(3,1)"
    assert ax.get_title() == "2 of 4 features kept, 1 not assessable"
    assert d.line_.get_xdata()[0] == 0.75


def test_agreement_refuses_bad_requests(sf_study):
    with pytest.raises(StudyError, match="unknown reader 'X'"):
        study_agreement(sf_study, readers=["J1", "X"], extractor=_count)
    with pytest.raises(StudyError, match=r"at least 2 readers; found \['J1'\]"):
        study_agreement(sf_study, readers=["J1"], extractor=_count)
    with pytest.raises(StudyError, match=r"unknown ICC form 'ICC\(9,9\)'"):
        study_agreement(sf_study, form="ICC(9,9)", extractor=_count)
    with pytest.raises(StudyError, match="at least 2 rounds of reader 'J1'"):
        study_agreement(sf_study, repeat_reader="J1", extractor=_count)


def _sphere(shape, spacing, centre_mm, r_mm):
    grids = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing)], indexing="ij")
    return sum((g - c) ** 2 for g, c in zip(grids, centre_mm)) <= r_mm**2


def _analytic_hd95(r, d):
    # A point of one sphere's surface at polar angle t from the offset axis lies
    # |sqrt(r^2 + d^2 - 2 r d cos t) - r| from the other's surface; cos t is uniform on
    # [-1, 1] over the surface (Archimedes), and both directions have the same law.
    c = np.linspace(-1, 1, 2_000_001)
    return float(np.percentile(np.abs(np.sqrt(r * r + d * d - 2 * r * d * c) - r), 95))


@pytest.mark.parametrize("d", [3.0, 8.0])
def test_dice_and_hd95_on_offset_spheres(d):
    r, spacing = 10.0, (1.0, 0.5, 0.6)
    shape = (36, 80, 70)
    c = np.array([18.0, 18.0, 20.0])
    a = _sphere(shape, spacing, c, r)
    b = _sphere(shape, spacing, c + [0, d, 0], r)
    lens = math.pi * (4 * r + d) * (2 * r - d) ** 2 / 12  # volume of the overlap of two spheres
    v = 4 / 3 * math.pi * r**3
    assert dice(a, b) == pytest.approx(lens / v, abs=0.01)
    assert jaccard(a, b) == pytest.approx(lens / (2 * v - lens), abs=0.01)
    assert abs(hausdorff95_mm(a, b, spacing) - _analytic_hd95(r, d)) <= max(spacing)
    assert abs(hausdorff_mm(a, b, spacing) - d) <= max(spacing)
    assert volume_difference_ml(a, b, spacing) == pytest.approx(0.0, abs=0.05)
    m = overlap_metrics(a, b, spacing)
    assert m["volume_a_ml"] == pytest.approx(v / 1000, rel=0.02) and m["dice"] == dice(a, b)


def test_overlap_edge_cases():
    a = np.zeros((4, 5, 6), bool)
    a[1:3, 1:4, 1:5] = True
    assert dice(a, a) == 1.0 and jaccard(a, a) == 1.0 and hausdorff95_mm(a, a, (1, 1, 1)) == 0.0
    empty = np.zeros_like(a)
    m = overlap_metrics(a, empty, (2.0, 1.0, 1.0))
    assert m["dice"] == 0.0 and math.isnan(m["hd95_mm"]) and m["volume_difference_ml"] == pytest.approx(-0.048)
    assert dice(empty, empty) == 1.0
    with pytest.raises(GeometryMismatchError, match="different shapes"):
        dice(a, a[:, :, :3])
    with pytest.raises(GeometryMismatchError, match="spacing_mm must be 3 finite positive numbers"):
        hausdorff95_mm(a, a, (1, 0, 1))


def test_intra_reader_repeats(tmp_path):
    (tmp_path / "imgs").mkdir()
    for i in range(4):
        v = volume_from_array(np.zeros(SHAPE, np.float32))
        sitk.WriteImage(v.image, str(tmp_path / "imgs" / f"c{i}.nrrd"))
    study = create_study(tmp_path / "study", tmp_path / "imgs")
    assign(study, "A")
    assign(study, "A", round=2, washout_days=0)
    assign(study, "B")
    with study.reader_session("A") as rs:
        for c in rs.cases():
            v = rs.load_image(c.case_id, round=c.round)
            k = int(c.case_id[1:])
            rs.save_segmentation(c.case_id, "tumour", _block(k + (c.round == 2)), round=c.round, like=v)
    res = study_agreement(study, repeat_reader="A", extractor=_count)
    assert res.params["raters"] == ["A/r1", "A/r2"]
    assert list(res.overlap[["reader_a", "reader_b"]].drop_duplicates().itertuples(index=False, name=None)) == [
        ("A/r1", "A/r2")]
    table = np.array([[k, k + 1] for k in range(1, 5)], float)
    from radgui.stats.icc import icc

    assert res.icc.loc["count", "icc"] == pytest.approx(icc(table, "ICC(2,1)").icc)
    with pytest.raises(StudyError, match=r"at least 2 readers; found \['A'\]"):
        study_agreement(study, extractor=_count)  # B has segmented nothing
    study.close()


def test_cli_study_icc(sf_study, tmp_path, capsys):
    import json

    from radgui.cli import main

    out = tmp_path / "cli-run"
    assert main(["study", "icc", str(sf_study.folder), "-o", str(out), "--form", "ICC(3,1)", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["output"] == str(out) and doc["form"] == "ICC(3,1)" and doc["features"] > 50
    table = pd.read_csv(out / "icc_table.csv")
    assert list(table.columns) == ["feature", "icc"]
    assert round(float(table.set_index("feature").loc["original_shape_VoxelVolume", "icc"]), 2) == 0.71
    assert (out / "kept_features.txt").exists() and (out / "overlap.csv").exists()
    rel = sf_study._conn.execute("SELECT output FROM feature_runs ORDER BY id DESC").fetchone()[0]
    assert (sf_study.folder / rel).resolve() == out.resolve() and not rel.startswith("/")
