"""Patient report (radgui report): pages, figures where the layout puts them, the GUI's probability,
no identity unless asked; the patient's predicted curve equals lifelines'; labels do not collide."""

from __future__ import annotations

import shutil
import subprocess
import numpy as np
import pytest
import SimpleITK as sitk

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
                                reason="needs poppler-utils (pdftoppm, pdftotext)")


def _demo_session(tmp_path):
    from radgui.cli.predict import load_bundle
    from radgui.demo import EXAMPLE_CLINICAL
    from radgui.demo.cohort import cohort_table, phantom_for
    from radgui.io import load_volume
    from radgui.model.patient import iter_predict
    from radgui.progress import run
    from radgui.session import Session, save_session

    img, msk = phantom_for(cohort_table(3).iloc[0]).to_sitk()
    sitk.WriteImage(img, str(tmp_path / "ct.nrrd"))
    vol = load_volume(tmp_path / "ct.nrrd", modality="CT")
    mask = sitk.Cast(msk > 0, sitk.sitkUInt8)
    mask.CopyInformation(vol.image)
    bundle = load_bundle("demo")
    pred = run(iter_predict(bundle, vol, {"tumour": mask}, EXAMPLE_CLINICAL))
    s = Session()
    s.add_image("CT", vol)
    s.set_roi("tumour", mask)
    s.update(model={"bundle": "demo", "name": bundle.name}, clinical=dict(EXAMPLE_CLINICAL), prediction=pred.to_dict())
    return save_session(s, tmp_path / "p.radgui"), bundle, pred, sitk.GetArrayFromImage(mask)


def _pages(pdf, tmp_path, dpi=60):
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(tmp_path / "pg")], check=True)
    from matplotlib.image import imread

    return [imread(p) for p in sorted(tmp_path.glob("pg-*.png"))]


def _text(pdf) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout


def _ink(page, box) -> float:
    h, w = page.shape[:2]
    x0, y0, x1, y1 = box
    region = page[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w), :3]
    return float((region.mean(axis=2) < 0.9).mean())


@pytest.mark.parametrize("paper,size", [("a4", (8.27, 11.69)), ("letter", (8.5, 11.0))])
def test_demo_report_pages_figures_and_probability(tmp_path, paper, size):
    from radgui.cli import main
    from radgui.report.patient_report import write_patient_report
    from radgui.session import open_session

    path, bundle, pred, mask = _demo_session(tmp_path)
    pdf = tmp_path / "r.pdf"
    assert main(["report", str(path), "-o", str(pdf), "--paper", paper, "--png", str(tmp_path / "png")]) == 0
    pages = _pages(pdf, tmp_path)
    assert len(pages) == 2
    h, w = pages[0].shape[:2]
    assert w / h == pytest.approx(size[0] / size[1], abs=0.01)
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["r-page1.png", "r-page2.png"]
    rep = write_patient_report(open_session(path), tmp_path / "again.pdf", paper=paper)
    assert set(rep.regions) == {"key_slice", "nomogram", "km_placement"}
    for name, (page, box) in rep.regions.items():
        assert _ink(pages[page - 1], box) > 0.02, name  # the figure is drawn where the layout puts it
    blank = (0.55, 0.45, 0.95, 0.52) if False else (0.05, 0.80, 0.95, 0.9)  # under the model card: empty
    assert _ink(pages[1], blank) < 0.01
    key = int(np.argmax((mask > 0).reshape(mask.shape[0], -1).sum(axis=1)))
    assert rep.key_slice == key
    text = _text(pdf)
    qtw = pytest.importorskip("radgui.gui.predict_widgets")
    shown = qtw.fmt_pct(pred.probability)  # what the Predict panel shows
    assert rep.probability_text == shown and shown in text
    assert f"higher than {pred.percentile:.0f}% of the reference cohort" in " ".join(text.split())
    assert "Research use only" in text and "Case " in text
    assert "Key slice" in text and "Nomogram" in text and "Model card" in text
    assert "105 patients of the reference cohort" in " ".join(text.split())


def test_other_slice_and_bad_slice(tmp_path):
    from radgui.cli import main
    from radgui.report.patient_report import write_patient_report
    from radgui.session import open_session

    path, *_ = _demo_session(tmp_path)
    rep = write_patient_report(open_session(path), tmp_path / "s.pdf", key_slice=2)
    assert rep.key_slice == 2 and "Key slice 3 of" in _text(tmp_path / "s.pdf")
    assert main(["report", str(path), "-o", str(tmp_path / "x.pdf"), "--slice", "999"]) == 2
    assert not (tmp_path / "x.pdf").exists()


def test_dicom_session_has_no_patient_name_unless_asked(tmp_path):
    from dicom_factory import write_ct_series

    from radgui.io import load_volume
    from radgui.report.patient_report import write_patient_report
    from radgui.session import open_session
    from radgui.session import Session, save_session

    def plant(ds, k):
        ds.PatientName = "Zebulon^Quixote"
        ds.PatientBirthDate = "19510417"
        ds.PatientID = "MRN-778899"

    write_ct_series(tmp_path / "dcm", extra=plant)
    vol = load_volume(tmp_path / "dcm")
    m = np.zeros(vol.shape, np.uint8)
    m[3:7, 15:30, 20:40] = 1
    s = Session()
    s.add_image("CT", vol)
    s.set_roi("tumour", m, like=vol)
    path = save_session(s, tmp_path / "d.radgui")
    write_patient_report(open_session(path), tmp_path / "d.pdf")
    text = _text(tmp_path / "d.pdf")
    for planted in ("Zebulon", "Quixote", "19510417", "1951", "MRN-778899", "778899"):
        assert planted not in text
    assert "Case " in text and "No model chosen" in text
    write_patient_report(open_session(path), tmp_path / "named.pdf", identify=True)
    named = _text(tmp_path / "named.pdf")
    assert "Zebulon^Quixote" in named and "19510417" in named and "MRN-778899" in named


def test_patient_curve_equals_lifelines(tmp_path):
    from lifelines import CoxPHFitter

    from radgui.cli.predict import load_bundle
    from radgui.plots.km_placement import patient_survival

    bundle = load_bundle("demo")
    ref = bundle.reference_cohort[["time", "event", "linear_predictor"]].astype(float)

    class P:
        linear_predictor = 0.37

    times = np.linspace(0, 30, 31)
    got = patient_survival(bundle, P(), times=times)
    want = CoxPHFitter().fit(ref, "time", "event").predict_survival_function(
        ref.iloc[:0].assign(linear_predictor=[0.37]) if False else __import__("pandas").DataFrame(
            {"linear_predictor": [0.37]}), times=times).to_numpy()[:, 0]
    np.testing.assert_allclose(got["survival"], want, rtol=1e-10, atol=1e-12)
    assert np.all(got["ci_low"] <= got["survival"] + 1e-12) and np.all(got["survival"] <= got["ci_high"] + 1e-12)
    assert got["ci_low"][-1] < got["survival"][-1] < got["ci_high"][-1]
    assert "fitted at load time from reference_cohort.csv" in got["source"]


def _boxes(fig, texts):
    r = fig.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(r)) for t in texts if t.get_visible() and t.get_text().strip()]


def _overlaps(boxes):
    bad = []
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i][1], boxes[j][1]
            if a.x0 < b.x1 - 0.5 and b.x0 < a.x1 - 0.5 and a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5:
                bad.append((boxes[i][0], boxes[j][0]))
    return bad


@pytest.mark.parametrize("radscore_shift", [0.0, 5.0])
def test_no_label_collisions_and_clipped_values(tmp_path, radscore_shift):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from radgui.cli.predict import load_bundle
    from radgui.plots.km_placement import KMPlacementDisplay
    from radgui.plots.nomogram import NomogramDisplay

    bundle = load_bundle("demo")
    _, _, pred, _ = _demo_session(tmp_path)
    if radscore_shift:
        pred.points["radscore"] = 100 + 40 * radscore_shift
        pred.linear_predictor = float(bundle.reference_cohort["linear_predictor"].max() + radscore_shift)
    fig = Figure(figsize=(9, 6.5))
    FigureCanvasAgg(fig)
    d = NomogramDisplay(bundle, pred).plot(ax=fig.add_subplot())
    fig.canvas.draw()
    assert _overlaps(_boxes(fig, d.ax_.texts)) == []
    assert ("Radscore" in d.clipped_) == bool(radscore_shift)
    fig2 = Figure(figsize=(9.0, 4.2))
    FigureCanvasAgg(fig2)
    k = KMPlacementDisplay(bundle, pred).plot(fig2)
    fig2.canvas.draw()
    r = fig2.canvas.get_renderer()
    legend = k.legend_.get_window_extent(r)
    ax_box = k.ax_km_.get_window_extent(r)
    assert legend.y0 >= ax_box.y1 - 1  # the legend sits above the curves, never on them
    title = k.ax_km_.title.get_window_extent(r)
    assert title.y0 >= legend.y1 - 1 and title.y1 <= fig2.bbox.y1 + 1
    dist = k.ax_dist_.get_window_extent(r)
    inside = _boxes(fig2, k.ax_dist_.texts)
    assert _overlaps(inside) == []
    for name, b in inside:  # nothing drawn outside the histogram (no clipped "cutoff", no label off the axis)
        assert dist.x0 - 1 <= b.x0 and b.x1 <= dist.x1 + 1 and dist.y0 - 1 <= b.y0 and b.y1 <= dist.y1 + 1, name
    assert k.patient_clipped_ == bool(radscore_shift)
    if radscore_shift:
        assert any("beyond the" in t for t, _ in inside)


def test_pet_session_reports_suv_metrics(tmp_path):
    from radgui.io import load_volume, volume_from_array
    from radgui.report.patient_report import write_patient_report
    from radgui.session import Session, open_session, save_session

    arr = np.full((6, 30, 30), 1.0, np.float32)
    arr[2:4, 10:20, 10:20] = 4.0
    arr[3, 14, 14] = 9.5
    v = volume_from_array(arr, spacing=(2.0, 2.0, 2.0))
    sitk.WriteImage(v.image, str(tmp_path / "pet.nrrd"))
    pet = load_volume(tmp_path / "pet.nrrd", modality="PT")
    m = (arr > 2).astype(np.uint8)
    s = Session()
    s.add_image("PT", pet)
    s.set_roi("tumour", m, like=pet)
    path = save_session(s, tmp_path / "pet.radgui")
    rep = write_patient_report(open_session(path), tmp_path / "pet.pdf")
    text = " ".join(_text(rep.pdf).split())
    assert rep.measurements["suv_max"] == pytest.approx(9.5)
    assert "SUVmax: 9.50" in text and "MTV: 1.6 mL" in text and "TLG:" in text and "SUVpeak:" in text
