"""One-click patient report of a session: a PDF (A4 or Letter) and one PNG per page.

Page 1: a pseudonymous header (no name, birth date or patient ID unless
``identify=True``), the key slice (the slice of largest tumour area, or the
one asked for) with the ROI outline and its rings, the measurements (volume,
RECIST, 3-D diameter, SUV metrics on PET), the probability with its CI and
the risk group, and the nomogram with the patient's points. Page 2: the
Kaplan-Meier placement in the reference cohort, a model-card summary, the
software and preset versions. Every page carries the research-use notice.

The prediction is recomputed from the session's image, ROIs, clinical values
and model (the numbers stored in a session file are never printed as they
are). Files are written through :mod:`radgui.files` (the PDF only once every
page is drawn).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radgui.errors import RadguiError

#: Paper sizes in inches (width, height).
PAPER = {"a4": (8.27, 11.69), "letter": (8.5, 11.0)}
_ROI_COLOUR = "#ffd400"
_RING_COLOURS = ("#00c8ff", "#7cff6b", "#ff7ce5", "#ffffff")


@dataclass
class PatientReport:
    """What :func:`write_patient_report` wrote and showed.

    Attributes
    ----------
    pdf : Path
    pngs : list of Path
        One per page (empty when ``png_dir`` was None).
    pages : int
    key_slice : int
        The slice (z index) shown.
    probability_text : str
        The probability as the Predict panel prints it (e.g. ``"63.2%"``).
    prediction : Prediction or None
    measurements : dict
    regions : dict
        ``name -> (page, (x0, y0, x1, y1))`` of each figure in page fractions
        (origin top left), for checking a rendering.
    """

    pdf: Path
    pngs: list = field(default_factory=list)
    pages: int = 0
    key_slice: int = 0
    probability_text: str = ""
    prediction: object = None
    measurements: dict = field(default_factory=dict)
    regions: dict = field(default_factory=dict)


def _plain(text) -> str:
    """Text from a session or a bundle, drawn as it is: a ``$`` never starts matplotlib mathtext."""
    return str(text).replace("$", r"\$")


def key_slice_of(mask) -> int:
    """The z index of the largest ROI cross-section (the first such slice on ties)."""
    arr = np.asarray(mask) > 0
    if not arr.any():
        raise RadguiError("the tumour ROI is empty: there is no key slice to show")
    return int(np.argmax(arr.reshape(arr.shape[0], -1).sum(axis=1)))


def pseudonym(session) -> str:
    """A stable pseudonym of the study: ``"Case "`` + 8 hex digits of the images' content hashes."""
    h = hashlib.sha256()
    for key in sorted(session.images):
        h.update(str(session.images[key].hash or key).encode())
    return "Case " + h.hexdigest()[:8].upper()


def identity_of(volume) -> dict:
    """Name, birth date and patient ID from the first DICOM file of ``volume`` (empty when not DICOM)."""
    files = ((volume.meta or {}).get("dicom") or {}).get("files") or []
    if not files:
        return {}
    import pydicom

    try:
        ds = pydicom.dcmread(str(files[0]), stop_before_pixels=True, force=True)
    except (OSError, ValueError, TypeError, AttributeError) as exc:  # pragma: no cover - unreadable now
        raise RadguiError(f"{files[0]}: cannot read the patient's identity ({exc})") from exc
    return {"Name": str(ds.get("PatientName", "") or ""), "Birth date": str(ds.get("PatientBirthDate", "") or ""),
            "Patient ID": str(ds.get("PatientID", "") or "")}


def _load(session):
    from radgui.io import load_volume

    if session.missing_images:
        raise RadguiError(f"the session's image(s) {', '.join(session.missing_images)} were not found; "
                          "open the session in the GUI to locate them")
    if not session.rois:
        raise RadguiError("the session has no ROI to report")
    vols = {k: load_volume(session.image_path(k), modality=ref.modality) for k, ref in session.images.items()}
    return vols


def _tumour_name(session) -> str:
    names = list(session.rois)
    for n in ("tumour", "tumor", "lesion"):
        if n in names:
            return n
    plain = [n for n in names if not n.lower().startswith(("ring", "core", "peri"))]
    return (plain or names)[0]


def _bundle_of(session, bundle=None):
    """The model to report: ``bundle`` (a ModelBundle, a path or "demo"), else the session's."""
    def load_bundle(spec):
        from radgui.model.bundle import ModelBundle

        if spec == "demo":
            from radgui.demo import demo_model_path

            return ModelBundle.load(demo_model_path())
        return ModelBundle.load(spec)

    if bundle is not None:
        return load_bundle(str(bundle)) if isinstance(bundle, (str, Path)) else bundle
    model = session.model or {}
    if model.get("bundle"):
        return load_bundle(str(model["bundle"]))
    if model.get("name"):
        demo = load_bundle("demo")
        if model["name"] in (demo.name, "demo") or str(model["name"]).startswith(demo.name):
            return demo
        raise RadguiError(f"the session names the model {model['name']!r} but not its file; "
                          "give the bundle (radgui report SESSION --model BUNDLE)")
    return None


def _predict(session, vols, level, bundle=None):
    from radgui.model.patient import iter_predict, study_inputs
    from radgui.progress import run

    bundle = _bundle_of(session, bundle)
    if bundle is None:
        return None, None
    ct = next((v for v in vols.values() if v.modality != "PT"), None)
    pet = next((v for v in vols.values() if v.modality == "PT"), None)
    rois = {}
    for name, layer in session.rois.items():
        img = vols.get(layer.image) if layer.image else None
        rois[name] = (img, layer.mask) if img is not None else layer.mask
    volumes, rois = study_inputs(bundle, ct, pet, rois)
    return bundle, run(iter_predict(bundle, volumes, rois, dict(session.clinical or {}), level=level))


def _fmt(v, unit="", d=1):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:.{d}f}{unit}"


def _measure_lines(m: dict, modality: str) -> list[str]:
    lines = [f"Volume: {_fmt(m.get('volume_ml'), ' mL')}",
             f"RECIST long axis: {_fmt(m.get('recist_long_mm'), ' mm')}",
             f"Short axis: {_fmt(m.get('recist_short_mm'), ' mm')}",
             f"Max 3-D diameter: {_fmt(m.get('max_3d_diameter_mm'), ' mm')}"]
    if modality == "PT" or "suv_max" in m:
        lines += [f"SUVmax: {_fmt(m.get('suv_max'), d=2)}   SUVmean: {_fmt(m.get('suv_mean'), d=2)}",
                  f"SUVpeak: {_fmt(m.get('suv_peak'), d=2)}", f"MTV: {_fmt(m.get('mtv_ml'), ' mL')}   "
                  f"TLG: {_fmt(m.get('tlg'), d=1)}"]
    else:
        lines.append(f"Mean: {_fmt(m.get('mean'), d=1)} {'HU' if modality == 'CT' else ''}".rstrip())
    return lines


def prediction_lines(bundle, pred) -> list[str]:
    """The probability, its CI, the risk group and the percentile, worded as the Predict panel words them."""
    from radgui.plots.km_placement import percentile_text, probability_text

    name = bundle.outcome.get("name", "the outcome")
    lines = [f"Probability of {name}: {probability_text(pred.probability)}"]
    lvl = f"{100 * pred.level:g}%"
    if pred.ci_low is not None and math.isfinite(pred.ci_low):
        lines.append(f"{lvl} CI {probability_text(pred.ci_low)} - {probability_text(pred.ci_high)}")
    else:
        lines.append(f"{lvl} CI not available")
    if pred.risk_group is not None:
        from radgui.model.config import risk_group_label

        c = bundle.cutoff
        scale = "p" if c["scale"] == "probability" else "LP"
        lines.append(f"Risk group: {risk_group_label(pred.risk_group, bundle.outcome.get('direction', 'adverse'), name)}"
                     f" (cutoff {scale} >= {c['value']:.3g})")
    if pred.percentile is not None:
        lines.append(percentile_text(pred.percentile))
    return lines


def _contours(ax, sl, colour, lw):
    if sl.any():
        ax.contour(sl.astype(float), levels=[0.5], colors=[colour], linewidths=lw)


def _draw_slice(ax, session, vols, tumour, z):
    layer = session.rois[tumour]
    vol = vols.get(layer.image) or next(iter(vols.values()))
    img = vol.array[z]
    if vol.modality == "CT":
        lo, hi = -160.0, 240.0  # soft-tissue window
    else:
        lo, hi = np.percentile(img, [1, 99.5]) if img.size else (0, 1)
    sy, sx = vol.spacing[1], vol.spacing[2]
    ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, aspect=sy / sx, interpolation="nearest")
    _contours(ax, layer.array[z] > 0, _ROI_COLOUR, 1.4)
    ys, xs = np.nonzero(layer.array[z] > 0)
    if len(ys):  # zoom on the tumour with a margin of its own size (at least 40 mm)
        my = max(40.0 / sy, ys.max() - ys.min())
        mx = max(40.0 / sx, xs.max() - xs.min())
        ax.set_xlim(max(-0.5, xs.min() - mx), min(img.shape[1] - 0.5, xs.max() + mx))
        ax.set_ylim(min(img.shape[0] - 0.5, ys.max() + my), max(-0.5, ys.min() - my))
    handles = [(tumour, _ROI_COLOUR)]
    k = 0
    for name, other in session.rois.items():
        if name == tumour or other.image != layer.image or other.array.shape != layer.array.shape:
            continue
        col = _RING_COLOURS[k % len(_RING_COLOURS)]
        k += 1
        _contours(ax, other.array[z] > 0, col, 0.9)
        handles.append((name, col))
    from matplotlib.lines import Line2D

    ax.legend([Line2D([], [], color=c, lw=1.5) for _, c in handles], [_plain(n) for n, _ in handles],
              loc="upper left", bbox_to_anchor=(0.0, -0.01), ncol=min(4, len(handles)), fontsize=7, frameon=False)
    ax.set_title(f"Key slice {z + 1} of {vol.array.shape[0]} (largest tumour area)", fontsize=8.5, loc="left")
    ax.set_xticks([])
    ax.set_yticks([])
    return vol


def _versions(bundle) -> str:
    import radgui

    parts = [f"radgui {radgui.__version__}"]
    if bundle is not None:
        from radgui.model.patient import bundle_preset

        parts.append(f"model '{bundle.name}'")
        parts.append(f"feature preset {bundle_preset(bundle) or 'not stated'}")
        prov = bundle.provenance or {}
        for key in ("radgui_version", "pyradiomics_version"):
            if prov.get(key):
                parts.append(f"{key.replace('_version', '')} {prov[key]} (training)")
    return "; ".join(parts)


def _footer(fig, page, pages):
    from radgui import RESEARCH_NOTICE

    fig.text(0.5, 0.012, f"{RESEARCH_NOTICE}   Page {page} of {pages}", ha="center", va="bottom", fontsize=7.5,
             color="#b00020", fontweight="bold")


def _region(fig, ax):
    b = ax.get_position()
    return (float(b.x0), float(1 - b.y1), float(b.x1), float(1 - b.y0))


def write_patient_report(session, pdf_path, *, paper: str = "a4", png_dir=None, key_slice: int | None = None,
                         identify: bool = False, level: float = 0.95, dpi: int = 110,
                         bundle=None) -> PatientReport:
    """Write the patient report of ``session`` (a :class:`radgui.session.Session`, opened by the caller:
    the report layer sits below the session layer).

    Parameters
    ----------
    pdf_path : path
    paper : {"a4", "letter"}
    png_dir : path, optional
        Also write ``<pdf stem>-page<N>.png`` there.
    key_slice : int, optional
        z index (0-based) of the slice shown; default the slice of largest tumour area.
    identify : bool
        Print the patient's name, birth date and ID from the DICOM header (default: a pseudonym only).
    bundle : ModelBundle or path, optional
        The model (default: the session's ``model.bundle``, or the demo model when the session names it).

    Raises
    ------
    RadguiError
        Unknown paper, missing image, empty ROI, a slice outside the image, a prediction that fails.
    """
    from radgui.files import atomic_path
    from radgui.report.model_report import _pdf_pages
    from radgui.roi.measure import measure

    paper = str(paper).lower()
    if paper not in PAPER:
        raise RadguiError(f"paper must be one of {', '.join(PAPER)}, got {paper!r}")
    if isinstance(session, (str, Path)):
        raise RadguiError("write_patient_report takes an opened session (radgui.session.open_session(path))")
    vols = _load(session)
    tumour = _tumour_name(session)
    mask = session.rois[tumour].array
    z = key_slice_of(mask) if key_slice is None else int(key_slice)
    if not 0 <= z < mask.shape[0]:
        raise RadguiError(f"slice {z} is outside the image (0-{mask.shape[0] - 1})")
    bundle, pred = _predict(session, vols, level, bundle)
    layer = session.rois[tumour]
    vol = vols.get(layer.image) or next(iter(vols.values()))
    meas = measure(mask > 0, vol)
    pdf_path = Path(pdf_path)
    out = PatientReport(pdf=pdf_path, key_slice=z, prediction=pred, measurements=meas)
    size = PAPER[paper]
    figs = [_page1(session, vols, tumour, z, bundle, pred, meas, vol, size, identify, out),
            _page2(bundle, pred, size, out)]
    for i, fig in enumerate(figs, 1):
        _footer(fig, i, len(figs))
    with _pdf_pages(pdf_path) as pdf:
        for fig in figs:
            pdf.savefig(fig)
    if png_dir is not None:
        png_dir = Path(png_dir)
        png_dir.mkdir(parents=True, exist_ok=True)
        for i, fig in enumerate(figs, 1):
            target = png_dir / f"{pdf_path.stem}-page{i}.png"
            with atomic_path(target) as tmp:
                fig.savefig(tmp, dpi=dpi, format="png")
            out.pngs.append(target)
    out.pages = len(figs)
    return out


def _page1(session, vols, tumour, z, bundle, pred, meas, vol, size, identify, out):
    from matplotlib.figure import Figure

    from radgui.plots.km_placement import probability_text

    fig = Figure(figsize=size)
    w, h = size
    today = _dt.date.today().isoformat()
    fig.text(0.06, 0.975, "radgui patient report", fontsize=15, fontweight="bold", va="top")
    who = pseudonym(session)
    if identify:
        ident = identity_of(vol)
        who = "   ".join(f"{k}: {v}" for k, v in ident.items() if v) or who
    fig.text(0.06, 0.945, f"{_plain(who)}   |   {vol.modality}   |   report of {today}", fontsize=9, va="top")
    # key slice, top left
    ax_img = fig.add_axes((0.06, 0.55, 0.46, 0.36))
    _draw_slice(ax_img, session, vols, tumour, z)
    out.regions["key_slice"] = (1, _region(fig, ax_img))
    # text, top right
    lines = ["Measurements (" + _plain(tumour) + ")"] + _measure_lines(meas, vol.modality)
    fig.text(0.56, 0.905, "\n".join(lines), fontsize=8.5, va="top", linespacing=1.45)
    if pred is not None:
        out.probability_text = probability_text(pred.probability)
        fig.text(0.56, 0.73, out.probability_text, fontsize=26, fontweight="bold", va="top")
        fig.text(0.56, 0.675, _plain("\n".join(prediction_lines(bundle, pred))), fontsize=8, va="top", linespacing=1.45,
                 wrap=True)
        if pred.warnings:
            fig.text(0.56, 0.575, _plain("\n".join(f"! {t}" for t in pred.warnings[:4])), fontsize=6.5, va="top",
                     color="#b35900", wrap=True)
    else:
        fig.text(0.56, 0.73, "No model chosen in this session: no prediction.", fontsize=9, va="top")
    # nomogram, bottom
    if bundle is not None and bundle.nomogram is not None and bundle.linear_model is not None:
        from radgui.plots.nomogram import NomogramDisplay

        ax_nomo = fig.add_axes((0.04, 0.05, 0.93, 0.44))
        NomogramDisplay(bundle, pred).plot(ax=ax_nomo, fontsize=7)
        ax_nomo.set_title("Nomogram with this patient's points", fontsize=9, loc="left")
        out.regions["nomogram"] = (1, _region(fig, ax_nomo))
    return fig


def _page2(bundle, pred, size, out):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    fig.text(0.06, 0.975, "Placement in the reference cohort and model card", fontsize=13, fontweight="bold",
             va="top")
    if bundle is not None and bundle.reference_cohort is not None and len(bundle.reference_cohort):
        from radgui.plots.km_placement import KMPlacementDisplay

        sub = fig.add_subfigure(fig.add_gridspec(100, 1)[5:55, 0])
        d = KMPlacementDisplay(bundle, pred).plot(sub, fontsize=7.5)
        boxes = [a for a in (d.ax_km_, d.ax_dist_) if a is not None]
        fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
        x0 = min(a.get_position().x0 for a in boxes)
        x1 = max(a.get_position().x1 for a in boxes)
        y0 = min(a.get_position().y0 for a in boxes)
        y1 = max(a.get_position().y1 for a in boxes)
        # subfigure axes positions are in subfigure fractions: map to the page
        sb = sub.bbox.transformed(fig.transFigure.inverted())
        out.regions["km_placement"] = (2, (float(sb.x0 + x0 * sb.width), float(1 - (sb.y0 + y1 * sb.height)),
                                           float(sb.x0 + x1 * sb.width), float(1 - (sb.y0 + y0 * sb.height))))
    lines = []
    if bundle is not None:
        from radgui.plots.km_placement import reference_cohort_text

        for k, v in bundle.card().rows():
            lines.append(f"{k}: {v}")
        lines.append(f"Curves and percentile: {reference_cohort_text(bundle)}")
    lines.append(f"Software: {_versions(bundle)}")
    import textwrap

    wrapped = "\n".join(textwrap.fill(t, 105, subsequent_indent="    ") for t in lines)
    fig.text(0.06, 0.40, "Model card", fontsize=11, fontweight="bold", va="top")
    fig.text(0.06, 0.37, _plain(wrapped), fontsize=7.5, va="top", linespacing=1.5)
    return fig
