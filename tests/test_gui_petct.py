"""GUI for DICOM: series picker, SUV values dialog, resample question, PET/CT dock.

Widgets are driven like a user (clicks, typed values) on napari's Qt-free
ViewerModel; one test (marked ``gui``) renders a real viewer under Xvfb and
checks the screenshot's colours.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QDialogButtonBox

from radgui.gui import opening
from radgui.gui.layers import add_roi, image_layers
from dicom_factory import write_ct_series, write_pet_series



@pytest.fixture
def viewer():
    from napari.components import ViewerModel

    return ViewerModel()


@pytest.fixture
def study(tmp_path):
    ct = write_ct_series(tmp_path / "CT", rows=48, cols=64, description="thorax CT")
    write_pet_series(tmp_path / "PT", study_uid=ct["study_uid"], for_uid=ct["for_uid"])
    return tmp_path


def test_series_picker_dialog_is_clickable(qtbot, study):
    from radgui.io.dicom import list_series

    series = list_series(study)
    dlg = opening.SeriesPickerDialog(series)
    qtbot.addWidget(dlg)
    assert dlg.list.count() == 2
    pet_row = next(k for k, s in enumerate(series) if s.modality == "PT")
    rect = dlg.list.visualItemRect(dlg.list.item(pet_row))
    qtbot.mouseClick(dlg.list.viewport(), Qt.LeftButton, pos=rect.center())
    assert dlg.selected().modality == "PT"


def test_open_folder_with_two_series_uses_the_picker(qtbot, viewer, study, monkeypatch):
    shown = []

    def pick(series, parent=None):
        dlg = opening.SeriesPickerDialog(series, parent)
        qtbot.addWidget(dlg)
        shown.append([s.modality for s in series])
        dlg.list.setCurrentRow(next(k for k, s in enumerate(series) if s.modality == "CT"))
        dlg.buttons.button(QDialogButtonBox.Ok).click()
        return dlg.selected()

    monkeypatch.setattr(opening, "choose_series_dialog", pick)
    layers = opening.open_path(viewer, study)
    assert sorted(shown[0]) == ["CT", "PT"]
    assert len(layers) == 1 and layers[0].metadata["volume"].modality == "CT"
    assert layers[0].name == "thorax CT"
    monkeypatch.setattr(opening, "choose_series_dialog", lambda s, p=None: None)  # user cancels
    assert opening.open_path(viewer, study) == []


def test_pet_without_suv_tags_asks_for_values(qtbot, viewer, tmp_path, monkeypatch):
    truth = write_pet_series(tmp_path, drop=("PatientWeight", "RadionuclideTotalDose"))
    asked = []

    def ask(missing, header=None, parent=None, keys=None):
        dlg = opening.SuvValuesDialog(missing, header, parent, keys=keys)
        qtbot.addWidget(dlg)
        asked.append(missing)
        assert keys == ["weight_kg", "dose_bq"]  # what to ask comes from SuvError.keys, not from the words
        dlg.weight.setValue(75.0)
        dlg.dose.setValue(370.0)
        dlg.buttons.button(QDialogButtonBox.Ok).click()
        return dlg.values()

    monkeypatch.setattr(opening, "ask_suv_values", ask)
    layers = opening.open_path(viewer, tmp_path)
    vol = layers[0].metadata["volume"]
    assert any("PatientWeight" in m for m in asked[0])
    assert vol.meta["suv"]["user_entered"] == {"weight_kg": 75.0, "dose_bq": 370e6}
    np.testing.assert_allclose(vol.array, truth["suv"], rtol=2e-4, atol=2e-4)


def test_missing_slice_asks_before_resampling(viewer, tmp_path, monkeypatch):
    write_ct_series(tmp_path, positions=[[0.0, 0.0, 2.5 * k] for k in range(8) if k != 3])
    monkeypatch.setattr(opening, "ask_resample", lambda msg, parent=None: False)
    from radgui.errors import SliceSpacingError

    with pytest.raises(SliceSpacingError):
        opening.open_path(viewer, tmp_path)
    monkeypatch.setattr(opening, "ask_resample", lambda msg, parent=None: "missing slice" in msg)
    vol = opening.open_path(viewer, tmp_path)[0].metadata["volume"]
    assert vol.shape[0] == 8 and any("resampled on request" in w for w in vol.warnings)


def test_petct_dock_load_fuse_window_toggle_and_transfer(qtbot, viewer, study):
    from radgui.gui.petct_dock import PetCtDock

    dock = PetCtDock(viewer)
    qtbot.addWidget(dock)
    dock.show()
    qtbot.waitExposed(dock)
    dock.load_folder(study, blocking=True)
    names = [ly.name for ly in viewer.layers]
    assert len(names) == 3
    ct, pet, fused = dock.ct_layer, dock.pet_layer, dock.fused_layer
    assert fused.data.shape == ct.data.shape and fused.colormap.name == "hot"
    assert pet.data.shape == pet.metadata["volume"].shape and not pet.visible
    assert fused.blending == "additive"
    # SUV window and opacity, typed like a user
    dock.suv_max.setValue(6.0)
    dock.opacity.setValue(70)
    assert fused.contrast_limits == [0.0, 6.0] and fused.opacity == pytest.approx(0.7)
    qtbot.mouseClick(dock.pet_alone, Qt.LeftButton, pos=dock.pet_alone.rect().center())
    assert dock.pet_alone.isChecked() and pet.visible and not ct.visible and not fused.visible
    qtbot.mouseClick(dock.pet_alone, Qt.LeftButton, pos=dock.pet_alone.rect().center())
    assert not pet.visible and ct.visible and fused.visible
    # a ROI drawn on CT goes to the PET grid and back
    ct_vol = ct.metadata["volume"]
    mask = np.zeros(ct_vol.shape, np.uint8)
    mask[3:7, 10:40, 10:50] = 1
    add_roi(viewer, mask, ct_vol, name="tumour")
    dock.roi_combo.setCurrentText("tumour")
    qtbot.mouseClick(dock.to_pet_button, Qt.LeftButton)
    on_pet = viewer.layers["tumour@PET"]
    assert on_pet.data.shape == pet.metadata["volume"].shape and on_pet.metadata["volume"] is pet.metadata["volume"]
    assert on_pet.data.any()
    dock.roi_combo.setCurrentText("tumour@PET")
    qtbot.mouseClick(dock.to_ct_button, Qt.LeftButton)
    assert viewer.layers["tumour@PET@CT"].data.shape == ct_vol.shape


def test_petct_dock_worker_thread(qtbot, viewer, study):
    from radgui.gui.petct_dock import PetCtDock

    dock = PetCtDock(viewer)
    qtbot.addWidget(dock)
    worker = dock.load_folder(study)
    assert not dock.load_button.isEnabled() and dock.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dock.fused_layer is not None and not dock.busy, timeout=30000)
    assert len(image_layers(viewer)) == 3 and dock.load_button.isEnabled()
    del worker


def test_petct_dock_frame_of_reference_consent(qtbot, viewer, tmp_path, monkeypatch):
    from radgui.gui import petct_dock

    ct = write_ct_series(tmp_path / "CT")
    write_pet_series(tmp_path / "PT", study_uid=ct["study_uid"])  # different FrameOfReferenceUID
    dock = petct_dock.PetCtDock(viewer)
    qtbot.addWidget(dock)
    monkeypatch.setattr(petct_dock, "ask_consent", lambda msg, parent=None: False)
    dock.load_folder(tmp_path, blocking=True)
    assert len(viewer.layers) == 0 and "not fused" in dock.status.text()
    monkeypatch.setattr(petct_dock, "ask_consent", lambda msg, parent=None: True)
    dock.load_folder(tmp_path, blocking=True)
    assert dock.fused_layer is not None
    assert any("explicit consent" in w for w in dock.fused_layer.metadata["volume"].warnings)


def test_petct_fuse_open_layers(qtbot, viewer, study):
    from radgui.gui.layers import add_volume
    from radgui.gui.petct_dock import PetCtDock
    from radgui.io import load_volume

    dock = PetCtDock(viewer)
    qtbot.addWidget(dock)
    add_volume(viewer, load_volume(study / "CT"))
    add_volume(viewer, load_volume(study / "PT"))
    assert dock.ct_combo.count() == 1 and dock.pet_combo.count() == 1
    qtbot.mouseClick(dock.fuse_button, Qt.LeftButton)
    assert dock.fused_layer is not None and dock.fused_layer.data.shape == dock.ct_layer.data.shape


@pytest.mark.gui
def test_petct_in_real_viewer_screenshot(make_napari_viewer, qtbot, study, tmp_path):
    from radgui.gui.petct_dock import PetCtDock

    viewer = make_napari_viewer(show=True)
    dock = PetCtDock(viewer)
    viewer.window.add_dock_widget(dock, name="PET/CT", area="right")
    dock.load_folder(study, blocking=True)
    dock.ct_layer.contrast_limits = (-650.0, -250.0)  # the phantom's HU range at this slice
    dock.suv_min.setValue(1.5)  # background SUV 1 adds nothing: the CT shows grey around the sphere
    dock.suv_max.setValue(5.0)
    dock.opacity.setValue(100)
    viewer.reset_view()
    viewer.dims.set_point(0, 20.0)  # slice through the hot sphere (z = 20 mm)
    shot = viewer.screenshot(str(tmp_path / "petct.png"), canvas_only=True, flash=False)
    rgb = np.asarray(shot)[..., :3].astype(int)
    hot = (rgb[..., 0] - rgb[..., 2] > 80)  # red/yellow of the hot colormap
    grey = (np.abs(rgb[..., 0] - rgb[..., 2]) < 12) & (np.abs(rgb[..., 1] - rgb[..., 2]) < 12) & (rgb[..., 0] > 40)
    assert hot.sum() > 50, "the hot PET sphere is not visible"
    assert grey.sum() > 50, "the grey CT is not visible"
    dock.grab().save(str(tmp_path / "petct_dock.png"))


def test_open_folder_adds_the_rtstruct_that_references_the_series(viewer, tmp_path):
    from dicom_factory import write_rtstruct

    truth = write_ct_series(tmp_path / "CT")
    z = truth["positions"][4][2]
    square = np.array([[-15.0, -25.0, z], [-5.0, -25.0, z], [-5.0, -15.0, z], [-15.0, -15.0, z]])
    write_rtstruct(tmp_path / "RS" / "rs.dcm", truth, {"GTV": [square]})
    layers = opening.open_path(viewer, tmp_path)
    assert [ly.name for ly in layers][1:] == ["GTV"]
    roi = layers[1]
    assert roi.metadata["roi"] and roi.data[4].sum() > 100 and roi.data.sum() == roi.data[4].sum()


def test_open_dro_folder_with_its_rtstruct(viewer, pet_dro_dir):
    layers = opening.open_path(viewer, pet_dro_dir / "DRO_3_4")
    pet, roi = layers[0].metadata["volume"], layers[1]
    values = np.asarray(pet.array)[roi.data > 0]
    assert pet.meta["units"] == "SUV" and round(float(values.max()), 2) == 4.0


def test_save_dicom_seg_from_the_dock(qtbot, viewer, study, tmp_path, monkeypatch):
    import pydicom

    from radgui.gui import petct_dock
    from radgui.io.seg import read_seg

    dock = petct_dock.PetCtDock(viewer)
    qtbot.addWidget(dock)
    dock.load_folder(study, blocking=True)
    ct_vol = dock.ct_layer.metadata["volume"]
    mask = np.zeros(ct_vol.shape, np.uint8)
    mask[2:5, 5:20, 30:60] = 1
    add_roi(viewer, mask, ct_vol, name="tumour")
    dock.roi_combo.setCurrentText("tumour")
    out = tmp_path / "out.dcm"
    monkeypatch.setattr(petct_dock.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    qtbot.mouseClick(dock.save_seg_button, Qt.LeftButton)
    assert out.exists() and str(pydicom.dcmread(out).PatientName) == ""
    back = read_seg(out, ct_vol)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back["tumour"]), mask)


def test_picker_greys_out_refused_series_but_offers_resampling(qtbot, viewer, tmp_path, monkeypatch):
    write_ct_series(tmp_path / "ok", description="good", name="ok")
    write_ct_series(tmp_path / "gap", description="gappy", name="gap",
                    positions=[[0.0, 0.0, 2.5 * k] for k in range(8) if k != 3])
    write_ct_series(tmp_path / "bad", description="no spacing", name="bad",
                    extra=lambda ds, k: delattr(ds, "PixelSpacing"))
    from radgui.io.dicom import list_series

    series = list_series(tmp_path)
    dlg = opening.SeriesPickerDialog(series)
    qtbot.addWidget(dlg)
    enabled = {s.description: bool(dlg.list.item(k).flags() & Qt.ItemIsEnabled) for k, s in enumerate(series)}
    assert enabled == {"good": True, "gappy": True, "no spacing": False}
    assert "PixelSpacing" in dlg.list.item(
        next(k for k, s in enumerate(series) if s.description == "no spacing")).toolTip()

    def pick_gappy(series, parent=None):
        return next(s for s in series if s.description == "gappy")

    monkeypatch.setattr(opening, "choose_series_dialog", pick_gappy)
    monkeypatch.setattr(opening, "ask_resample", lambda msg, parent=None: True)
    vol = opening.open_path(viewer, tmp_path)[0].metadata["volume"]
    assert vol.name == "gappy" and vol.shape[0] == 8


def test_suv_dialog_prefills_from_the_header_and_returns_typed_values(qtbot, tmp_path):
    from radgui.io.dicom import list_series

    write_pet_series(tmp_path, drop=("RadiopharmaceuticalStartDateTime", "PatientWeight"))
    header = list_series(tmp_path)[0].header
    dlg = opening.SuvValuesDialog(["PatientWeight (0010,1030) [weight_kg]",
                                   "RadiopharmaceuticalStartDateTime (0018,1078) [injection_datetime]"], header,
                                  keys=["weight_kg", "injection_datetime"])
    qtbot.addWidget(dlg)
    assert dlg.injection.dateTime().toString("yyyy-MM-dd HH:mm:ss") == "2024-03-01 10:00:00"
    assert dlg.dose.value() == pytest.approx(370.0)
    dlg.weight.setValue(80.0)
    values = dlg.values()
    assert values["weight_kg"] == 80.0 and values["injection_datetime"].hour == 10
    assert "dose_bq" not in values  # the header's dose was not missing


def test_petct_dock_suv_type(qtbot, viewer, study):
    from radgui.gui.petct_dock import PetCtDock

    dock = PetCtDock(viewer)
    qtbot.addWidget(dock)
    dock.suv_type.setCurrentIndex(dock.suv_type.findData("lbm_janma"))
    dock.load_folder(study, blocking=True)
    suv = dock.pet_layer.metadata["volume"].meta["suv"]
    assert suv["suv_type"] == "lbm_janma"
    janma = 9270 * 75 / (6680 + 216 * (75 / 1.8**2))  # the factory's 75 kg, 1.80 m male
    assert np.nanmax(dock.pet_layer.data) == pytest.approx(4.0 * janma / 75, rel=1e-3)


def test_petct_dock_cancel_adds_nothing(qtbot, viewer, study):
    from radgui.gui.petct_dock import PetCtDock

    dock = PetCtDock(viewer)
    qtbot.addWidget(dock)
    worker = dock.load_folder(study)
    with qtbot.waitSignal(worker.finished, timeout=30000):
        qtbot.mouseClick(dock.cancel_button, Qt.LeftButton)
    assert len(viewer.layers) == 0 and dock.status.text() == "cancelled"
    assert dock.load_button.isEnabled()


def test_label_map_on_another_grid_asks_before_resampling(viewer, tmp_path, monkeypatch):
    from radgui.io import load_volume

    write_ct_series(tmp_path / "ct")
    vol = load_volume(tmp_path / "ct")
    mask = sitk.GetImageFromArray(np.ones((4, 10, 10), np.uint8))
    mask.SetOrigin(vol.image.GetOrigin())
    mask.SetSpacing((2.0, 2.0, 2.5))
    sitk.WriteImage(mask, str(tmp_path / "roi.nrrd"))
    questions = []
    monkeypatch.setattr(opening, "ask_resample_mask", lambda msg, parent=None: questions.append(msg) or False)
    layers = opening.open_path(viewer, tmp_path / "ct", label=tmp_path / "roi.nrrd")
    assert len(layers) == 1 and "size" in questions[0]
    monkeypatch.setattr(opening, "ask_resample_mask", lambda msg, parent=None: True)
    layers = opening.open_path(viewer, tmp_path / "ct", label=tmp_path / "roi.nrrd")
    roi = layers[1]
    assert roi.name == "roi" and roi.data.shape == vol.shape and roi.data.any()
    assert any("nearest neighbour" in w for w in layers[0].metadata["volume"].warnings)
