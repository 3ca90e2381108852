"""Opening images from the GUI: files, DICOM folders, drag and drop.

:func:`open_path` is what File > Open, the View dock's Open button and the
drag-and-drop reader call. For DICOM it adds what a dialog-free loader cannot:

* a folder with several series shows a **series picker** (modality,
  description, slices, size, spacing; refused series are listed greyed with
  the reason as a tooltip);
* missing slices / uneven spacing ask whether to **resample** to an even
  spacing (the result is labelled in its warnings);
* a PET that lacks SUV tags opens a **SUV values** dialog (weight, dose,
  injection time, half-life, height, sex); typed values are recorded as
  user-entered in ``meta["suv"]["user_entered"]``;
* every loader warning is shown as a napari notification and stays in the
  Volume's ``meta["warnings"]``.

Scanning and decoding run with a progress dialog that has a Cancel button;
the dialog helpers are module functions so tests (and scripts) can replace
them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from qtpy.QtCore import QDateTime, Qt
from qtpy.QtWidgets import (
    QApplication,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressDialog,
    QVBoxLayout,
)

from radgui.errors import CancelledError, SliceSpacingError, SuvError


def _is_dicom_path(path: Path) -> bool:
    return path.is_dir() or path.name.upper() == "DICOMDIR" or path.suffix.lower() == ".dcm"


# --------------------------------------------------------------------------
# Dialogs
# --------------------------------------------------------------------------
class SeriesPickerDialog(QDialog):
    """Pick one series of a DICOM folder; refused series are shown but cannot be picked."""

    def __init__(self, series, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Choose a DICOM series")
        self.series = list(series)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"This folder holds {len(self.series)} series. Pick one to open:"))
        self.list = QListWidget()
        self.list.setObjectName("radgui_series_list")
        first = None
        for k, s in enumerate(self.series):
            text = s.label()
            if _refused(s):
                text += "  \N{EM DASH} refused"
            elif s.problem:
                text += "  \N{EM DASH} uneven slices (can be resampled)"
            item = QListWidgetItem(text)
            tips = [f"UID {s.uid}"] + ([f"Problem: {s.problem}"] if s.problem else []) + \
                   [f"Warning: {w}" for w in s.warnings]
            item.setToolTip("\n".join(tips))
            if _refused(s):
                item.setFlags(item.flags() & ~Qt.ItemIsEnabled)
            elif first is None:
                first = k
            self.list.addItem(item)
        if first is not None:
            self.list.setCurrentRow(first)
        self.list.itemDoubleClicked.connect(lambda *_: self.accept())
        layout.addWidget(self.list)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.resize(640, 320)

    def selected(self):
        """The chosen :class:`~radgui.io.dicom.SeriesInfo` (None when nothing loadable is selected)."""
        row = self.list.currentRow()
        if row < 0 or _refused(self.series[row]):
            return None
        return self.series[row]


def _refused(series) -> bool:
    """True when a series cannot be loaded at all (uneven spacing can still be resampled)."""
    return bool(series.problem) and not series.resamplable


class SuvValuesDialog(QDialog):
    """Type the values a PET header lacks for SUV; they are recorded as user-entered."""

    def __init__(self, missing: list[str], header=None, parent=None, keys=None):
        super().__init__(parent)
        from radgui.io.suv import _answers

        #: the suv_user_values keys asked for (SuvError.keys); from the exact missing labels when not given
        self.keys = list(keys) if keys is not None else _answers(missing)
        self.setWindowTitle("PET: values needed for SUV")
        layout = QVBoxLayout(self)
        msg = QLabel("The PET header lacks what SUV needs:\n  " + "\n  ".join(missing)
                     + "\n\nType the values (they will be recorded as user-entered).")
        msg.setWordWrap(True)
        layout.addWidget(msg)
        form = QFormLayout()
        h = header if header is not None else {}
        rp = (h.get("RadiopharmaceuticalInformationSequence") or [{}])[0]

        def num(v, default):
            try:
                return float(v)
            except (TypeError, ValueError):
                return default

        self.weight = QDoubleSpinBox(minimum=0.0, maximum=500.0, decimals=1, suffix=" kg")
        self.weight.setValue(num(h.get("PatientWeight"), 0.0))
        self.weight.setToolTip("Patient weight at the time of the scan")
        self.dose = QDoubleSpinBox(minimum=0.0, maximum=20000.0, decimals=2, suffix=" MBq")
        dose = num(rp.get("RadionuclideTotalDose"), 0.0)
        self.dose.setValue(dose / 1e6 if dose > 1e5 else dose)
        self.dose.setToolTip("Injected activity (total dose) at the injection time")
        self.injection = QDateTimeEdit()
        self.injection.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        self.injection.setCalendarPopup(True)
        self.injection.setDateTime(self._header_injection(h, rp) or QDateTime.currentDateTime())
        self.injection.setToolTip("Date and time of the injection")
        self.half_life = QDoubleSpinBox(minimum=0.0, maximum=1e7, decimals=1, suffix=" s")
        self.half_life.setValue(num(rp.get("RadionuclideHalfLife"), 6586.2))
        self.half_life.setToolTip("Radionuclide half-life (F-18: 6586.2 s)")
        self.height = QDoubleSpinBox(minimum=0.0, maximum=2.5, decimals=2, suffix=" m")
        self.height.setValue(num(h.get("PatientSize"), 0.0))
        self.sex = QComboBox()
        self.sex.addItems(["", "M", "F", "O"])
        self.sex.setCurrentText(str(h.get("PatientSex", "") or ""))
        form.addRow("Weight", self.weight)
        form.addRow("Injected dose", self.dose)
        form.addRow("Injection time", self.injection)
        form.addRow("Half-life", self.half_life)
        form.addRow("Height (LBM, BSA, IBW)", self.height)
        form.addRow("Sex (LBM, IBW)", self.sex)
        layout.addLayout(form)
        self.missing = missing
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    @staticmethod
    def _header_injection(h, rp):
        """The injection time the header suggests (time on the series date), as a QDateTime."""
        from radgui.io.suv import parse_datetime

        t = parse_datetime(rp.get("RadiopharmaceuticalStartDateTime")) if rp else None
        if t is None:
            date = str(h.get("SeriesDate", "") or h.get("StudyDate", "") or "")
            time = str((rp.get("RadiopharmaceuticalStartTime") if rp else "") or "")
            t = parse_datetime(date + (time or "000000")) if date else None
        if t is None:
            return None
        return QDateTime(t.year, t.month, t.day, t.hour, t.minute, t.second)

    def values(self) -> dict:
        """``suv_user_values`` for the loader: only the fields that answer a missing tag or were set."""
        out = {}
        keys = set(self.keys)
        if self.weight.value() > 0 and "weight_kg" in keys:
            out["weight_kg"] = self.weight.value()
        if self.dose.value() > 0 and "dose_bq" in keys:
            out["dose_bq"] = self.dose.value() * 1e6
        if "injection_datetime" in keys:
            qdt = self.injection.dateTime()
            out["injection_datetime"] = datetime(qdt.date().year(), qdt.date().month(), qdt.date().day(),
                                                 qdt.time().hour(), qdt.time().minute(), qdt.time().second())
        if self.half_life.value() > 0 and "half_life_s" in keys:
            out["half_life_s"] = self.half_life.value()
        if self.height.value() > 0 and "height_m" in keys:
            out["height_m"] = self.height.value()
        if self.sex.currentText() and "sex" in keys:
            out["sex"] = self.sex.currentText()
        return out


def choose_series_dialog(series, parent=None):
    """Show :class:`SeriesPickerDialog`; return the chosen series or None."""
    dlg = SeriesPickerDialog(series, parent)
    return dlg.selected() if dlg.exec() == QDialog.Accepted else None


def ask_suv_values(missing, header=None, parent=None, keys=None) -> dict | None:
    """Show :class:`SuvValuesDialog`; return the typed values or None (cancelled)."""
    dlg = SuvValuesDialog(missing, header, parent, keys=keys)
    return dlg.values() if dlg.exec() == QDialog.Accepted else None


def ask_resample(message: str, parent=None) -> bool:
    """Ask whether to resample an unevenly spaced stack (default: No)."""
    answer = QMessageBox.question(
        parent, "Uneven slice spacing", message.split(";")[0]
        + ".\n\nResample to an even spacing (linear interpolation along the slice axis)? "
        "The image will be labelled as resampled.", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


def run_with_progress(gen, parent=None, title: str = "Loading DICOM"):
    """Run an ``iter_*`` generator with a progress dialog and a Cancel button; return its result.

    Qt events are processed between steps, so the window stays responsive.

    Raises
    ------
    CancelledError
        When the user presses Cancel.
    """
    app = QApplication.instance()
    dlg = None
    if app is not None:
        dlg = QProgressDialog(title, "Cancel", 0, 100, parent)
        dlg.setWindowTitle(title)
        dlg.setMinimumDuration(400)
        dlg.setWindowModality(Qt.WindowModal)
    try:
        while True:
            try:
                step = next(gen)
            except StopIteration as stop:
                return stop.value
            if dlg is not None:
                if dlg.wasCanceled():
                    gen.close()
                    raise CancelledError("loading cancelled; nothing was opened")
                if step.total:
                    dlg.setMaximum(int(step.total))
                    dlg.setValue(int(step.done))
                dlg.setLabelText(step.message)
                app.processEvents()
    finally:
        if dlg is not None:
            dlg.close()


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------
def load_dicom_interactive(path: str | Path, parent_widget=None, **load_kwargs):
    """Scan ``path``, let the user pick a series and answer questions; return a Volume or None."""
    from radgui.io.dicom import iter_load_series, iter_scan_dicom

    path = Path(path)
    if path.is_file() and path.name.upper() != "DICOMDIR":
        scan_root = path.parent
    else:
        scan_root = path
    scan = run_with_progress(iter_scan_dicom(scan_root), parent_widget, "Reading DICOM headers")
    series = scan.series
    if path.is_file() and path.name.upper() != "DICOMDIR":
        series = [s for s in series if any(f.path == path for f in s.frames)] or series
    if not series:
        from radgui.io.dicom import choose_series

        choose_series(scan)  # raises with the count of skipped files
    loadable = [s for s in series if not _refused(s)]
    if len(series) == 1 and loadable:
        chosen = series[0]
    elif len(loadable) == 0 and len(series) == 1:
        chosen = series[0]  # its refusal becomes the error message
    else:
        chosen = choose_series_dialog(series, parent_widget)
        if chosen is None:
            return None
    kwargs = dict(load_kwargs)
    for _attempt in range(3):
        try:
            volume = run_with_progress(iter_load_series(chosen, **kwargs), parent_widget,
                                       f"Loading {chosen.description or chosen.modality}")
            volume.meta["scan_skipped"] = dict(scan.skipped)
            volume.meta["mask_objects"] = [str(m.path) for m in scan.masks
                                           if m.referenced_series_uid == chosen.series_uid]
            return volume
        except SliceSpacingError as exc:
            if kwargs.get("resample_spacing") or not ask_resample(exc.reason, parent_widget):
                raise
            kwargs["resample_spacing"] = True
        except SuvError as exc:
            if not exc.missing or kwargs.get("suv_user_values"):
                raise
            values = ask_suv_values(exc.missing, chosen.header, parent_widget, keys=exc.keys)
            if values is None:
                return None
            kwargs["suv_user_values"] = values
    return None  # pragma: no cover


def show_warnings(volume) -> None:
    """Show the Volume's loader warnings as one napari notification."""
    if not volume.warnings:
        return
    from napari.utils.notifications import show_warning

    show_warning(f"{volume.name}: " + "; ".join(volume.warnings))


def open_path(viewer, path: str | Path, parent_widget=None, label: str | Path | None = None) -> list:
    """Load an image file or DICOM folder into ``viewer``; return the new layers.

    DICOM folders go through the series picker and the resample / SUV
    questions (see the module docstring); returns ``[]`` when the user
    cancels. Raises :class:`~radgui.errors.RadguiError` on bad input (the
    caller shows it).
    """
    path = Path(path)
    if not _is_dicom_path(path) or not path.exists():
        from radgui.gui.app import open_paths

        layer, roi = open_paths(viewer, path, label)
        return [ly for ly in (layer, roi) if ly is not None]
    from radgui.gui.layers import add_roi, add_volume

    try:
        volume = load_dicom_interactive(path, parent_widget)
    except CancelledError:
        return []
    if volume is None:
        return []
    layers = [add_volume(viewer, volume)]
    if label is not None:
        mask = load_mask_interactive(label, volume, parent_widget)
        if mask is not None:
            layers.append(add_roi(viewer, mask, volume, name=Path(label).name.split(".")[0]))
    layers.extend(add_dicom_masks(viewer, volume))
    show_warnings(volume)
    return layers


def ask_resample_mask(message: str, parent=None) -> bool:
    """Ask whether to resample a label map whose grid differs from the image (default: No)."""
    answer = QMessageBox.question(
        parent, "Mask geometry differs", message + "\n\nResample the mask onto the image with nearest "
        "neighbour?", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


def load_mask_interactive(path, volume, parent_widget=None):
    """:func:`radgui.io.load_mask`; on a grid mismatch, ask before resampling (nearest neighbour).

    Returns the mask, or None when the user declines. A resampled mask is
    recorded in the volume's warnings.
    """
    from radgui.errors import GeometryMismatchError
    from radgui.io import load_mask

    try:
        return load_mask(path, volume)
    except GeometryMismatchError as exc:
        if not ask_resample_mask(exc.reason, parent_widget):
            return None
        mask = load_mask(path, volume, resample=True)
        volume.warnings.append(f"mask {Path(path).name} resampled onto the image grid (nearest neighbour): "
                               f"{exc.reason.split(';')[0]}")
        return mask


def add_dicom_masks(viewer, volume) -> list:
    """Add the SEG/RTSTRUCT objects found next to the series (and referencing it) as ROI layers."""
    from radgui.errors import RadguiError
    from radgui.gui.layers import add_roi
    from radgui.io.seg import read_dicom_masks

    layers = []
    for path in volume.meta.get("mask_objects", []):
        try:
            masks = read_dicom_masks(path, volume)
        except RadguiError as exc:
            volume.warnings.append(f"segmentation {Path(path).name} not loaded: {exc.reason}")
            continue
        for name, mask in masks.items():
            layers.append(add_roi(viewer, mask, volume, name=name))
    return layers
