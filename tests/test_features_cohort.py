"""Cohort extraction: manifest, failures, resume, processes, Dask, lesion aggregation, CLI, ICC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radgui.cli import main
from radgui.errors import FeatureExtractionError, InputFileError
from radgui.features import aggregate_lesions, extract, extract_cohort, read_manifest
from radgui.io import load_mask, load_volume

PRESET = {"imageType": {"Original": {}}, "featureClass": {"firstorder": None, "shape": None},
          "setting": {"binWidth": 25}}


def write_case(folder, name, seed, lesions=((3, 7, 8, 16, 8, 16),), empty=False):
    rng = np.random.default_rng(seed)
    arr = (rng.normal(0, 100, (10, 24, 24)) - 500).astype(np.int16)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.8, 0.8, 2.0))
    sitk.WriteImage(img, str(folder / f"{name}.nrrd"))
    lab = np.zeros(arr.shape, np.uint8)
    if not empty:
        for i, (z0, z1, y0, y1, x0, x1) in enumerate(lesions, start=1):
            lab[z0:z1, y0:y1, x0:x1] = i
    m = sitk.GetImageFromArray(lab)
    m.CopyInformation(img)
    sitk.WriteImage(m, str(folder / f"{name}_label.nrrd"))
    return f"{name}.nrrd", f"{name}_label.nrrd"


@pytest.fixture
def cohort(tmp_path):
    rows = []
    for i in range(4):
        img, lab = write_case(tmp_path, f"p{i}", i)
        rows.append({"patient_id": f"P{i}", "image": img, "mask": lab, "roi": "tumour"})
    img, lab = write_case(tmp_path, "bad", 9, empty=True)
    rows.append({"patient_id": "PBAD", "image": img, "mask": lab, "roi": "tumour"})
    rows.append({"patient_id": "PMISSING", "image": "nowhere.nrrd", "mask": "nowhere_label.nrrd", "roi": "tumour"})
    path = tmp_path / "cohort.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_cohort_logs_failures_and_resumes(cohort, tmp_path):
    out = tmp_path / "features.csv"
    steps = []
    summary = extract_cohort(cohort, out, PRESET, callback=steps.append)
    assert summary["done"] == 4 and summary["failed"] == 2
    reasons = {f["patient_id"]: f["reason"] for f in summary["failures"]}
    assert "empty" in reasons["PBAD"] and "no such file" in reasons["PMISSING"]
    assert "ETA" in steps[-1].message and steps[-1].done == steps[-1].total
    table = pd.read_csv(out)
    assert sorted(table["patient_id"]) == ["P0", "P1", "P2", "P3"]
    assert pd.read_csv(summary["failures_file"]).shape[0] == 2
    # values equal a direct extraction of the same case
    vol = load_volume(tmp_path / "p2.nrrd")
    direct = extract(vol, {"tumour": load_mask(tmp_path / "p2_label.nrrd", vol)}, PRESET)
    got = table.set_index("patient_id").loc["P2", "original_firstorder_Mean"]
    assert got == pytest.approx(direct.at["tumour", "original_firstorder_Mean"], rel=1e-12)
    # resume: nothing redone, failures retried
    again = extract_cohort(cohort, out, PRESET)
    assert again["done"] == 0 and again["skipped"] == 4 and again["failed"] == 2
    assert len(pd.read_csv(out)) == 4


def test_manifest_errors(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("patient,image\nA,a.nrrd\n")
    with pytest.raises(InputFileError, match="patient_id"):
        read_manifest(bad)
    dup = tmp_path / "d.csv"
    dup.write_text("patient_id,image,mask\nA,a.nrrd,a_label.nrrd\nA,a.nrrd,a_label.nrrd\n")
    with pytest.raises(InputFileError, match="lines 2, 3"):
        read_manifest(dup)
    with pytest.raises(InputFileError, match="not found"):
        read_manifest(tmp_path / "none.csv")


@pytest.mark.slow
def test_two_worker_processes_give_the_same_rows(cohort, tmp_path):
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    extract_cohort(cohort, one, PRESET, workers=1)
    s = extract_cohort(cohort, two, PRESET, workers=2)
    assert s["done"] == 4 and s["failed"] == 2
    a = pd.read_csv(one).set_index("patient_id").sort_index()
    b = pd.read_csv(two).set_index("patient_id").sort_index()[a.columns]
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow
def test_dask_local_cluster(cohort, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        s = extract_cohort(cohort, tmp_path / "dask.csv", PRESET, scheduler=cluster.scheduler_address)
    assert s["done"] == 4 and s["failed"] == 2
    ref = extract_cohort(cohort, tmp_path / "local.csv", PRESET)
    a = pd.read_csv(tmp_path / "dask.csv").set_index("patient_id").sort_index()
    b = pd.read_csv(tmp_path / "local.csv").set_index("patient_id").sort_index()[a.columns]
    pd.testing.assert_frame_equal(a, b)
    assert ref["done"] == 4


def test_unreachable_scheduler_is_a_clear_error(cohort, tmp_path):
    pytest.importorskip("distributed")
    with pytest.raises(FeatureExtractionError, match="Dask scheduler"):
        extract_cohort(cohort, tmp_path / "x.csv", PRESET, scheduler="tcp://127.0.0.1:9",
                       connect_timeout_s=1)


def test_multi_lesion_aggregation(tmp_path):
    img, _ = write_case(tmp_path, "multi", 3, lesions=((2, 5, 2, 6, 2, 6), (3, 8, 10, 20, 10, 20)))
    rows = [{"patient_id": "M", "image": img, "mask": "multi_label.nrrd", "label": str(k), "roi": f"lesion{k}"}
            for k in (1, 2)]
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    extract_cohort(tmp_path / "m.csv", tmp_path / "f.csv", PRESET)
    table = pd.read_csv(tmp_path / "f.csv", keep_default_na=False, na_values=[""])
    assert len(table) == 2
    mean = aggregate_lesions(table, "mean")
    assert len(mean) == 1 and mean.at[0, "n_lesions"] == 2
    assert mean.at[0, "original_firstorder_Mean"] == pytest.approx(table["original_firstorder_Mean"].mean())
    largest = aggregate_lesions(table, "largest")
    assert largest.at[0, "roi"] == "lesion2"
    with pytest.raises(FeatureExtractionError, match="mean"):
        aggregate_lesions(table, "median")


def test_cli_single_case_and_cohort(cohort, tmp_path, capsys):
    out = tmp_path / "one.csv"
    rc = main(["extract", "--image", str(tmp_path / "p0.nrrd"), "--mask", str(tmp_path / "p0_label.nrrd"),
               "--roi", f"again={tmp_path / 'p1_label.nrrd'}", "--preset", "ct-original", "-o", str(out),
               "--quiet"])
    assert rc == 0
    df = pd.read_csv(out, index_col="roi")
    assert list(df.index) == ["tumour", "again"] and "original_glcm_Imc1" in df.columns
    feats = tmp_path / "cohort_features.csv"
    rc = main(["extract", "--manifest", str(cohort), "-o", str(feats), "--preset", "ct-original"])
    err = capsys.readouterr().err
    assert rc == 1  # some cases failed
    assert "4 row(s) written" in err and "FAILED PBAD" in err and "ETA" in err
    rc = main(["extract", "--image", str(tmp_path / "bad.nrrd"), "--mask", str(tmp_path / "bad_label.nrrd")])
    assert rc == 2 and "empty" in capsys.readouterr().err
    rc = main(["extract", "--manifest", str(cohort), "-o", str(feats), "--preset", "nope"])
    assert rc == 2 and "unknown preset" in capsys.readouterr().err


def test_cli_icc_from_two_readers(tmp_path, capsys):
    rng = np.random.default_rng(0)
    truth = rng.normal(100, 20, 12)
    rows = []
    for reader, noise in (("A", 0.0), ("B", 1.0)):
        for i, t in enumerate(truth):
            rows.append({"patient_id": f"P{i}", "roi": "tumour", "reader": reader,
                         "good": t + rng.normal(0, noise), "noisy": rng.normal(0, 1)})
    pd.DataFrame(rows).to_csv(tmp_path / "f.csv", index=False)
    rc = main(["icc", str(tmp_path / "f.csv"), "--reader-column", "reader", "-o", str(tmp_path / "icc.csv")])
    assert rc == 0
    res = pd.read_csv(tmp_path / "icc.csv", index_col="feature")
    assert res.at["good", "icc"] > 0.95 and bool(res.at["good", "passes"])
    assert res.at["noisy", "icc"] < 0.75 and not bool(res.at["noisy", "passes"])
    # independent check with pingouin
    pg = pytest.importorskip("pingouin")
    long = pd.DataFrame(rows)
    ref = pg.intraclass_corr(long, targets="patient_id", raters="reader", ratings="good").set_index("Type")
    assert res.at["good", "icc"] == pytest.approx(ref.at["ICC(A,1)", "ICC"], rel=1e-9)
    rc = main(["icc", str(tmp_path / "f.csv"), "--reader-column", "who"])
    assert rc == 2 and "no reader column" in capsys.readouterr().err


def test_output_from_another_preset_fails_rows_not_the_batch(cohort, tmp_path):
    out = tmp_path / "mixed.csv"
    pd.DataFrame({"patient_id": ["X"], "roi": ["tumour"], "timepoint": [""], "reader": [""],
                  "original_firstorder_Mean": [1.0]}).to_csv(out, index=False)
    s = extract_cohort(cohort, out, PRESET)
    assert s["done"] == 0 and s["failed"] == 6
    assert any("another preset" in f["reason"] for f in s["failures"])
    assert len(pd.read_csv(out)) == 1  # the existing output is untouched
