"""The lung1 fixture falls back to the packaged copy when ../shared is absent (a fresh clone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import conftest
from radgui.io import load_mask, load_volume, mask_to_array

REPO = Path(__file__).resolve().parents[1]


def test_without_shared_data_lung1_is_the_packaged_copy(tmp_path):
    image, label = conftest.lung1_paths(tmp_path / "nonexistent" / "data" / "cases")
    assert (image, label) == (REPO / "resources" / "demo" / "lung1_ct.nrrd",
                              REPO / "resources" / "demo" / "lung1_tumour.nrrd")
    vol = load_volume(image)
    assert vol.shape == (48, 392, 512)
    assert int((mask_to_array(load_mask(label, vol)) > 0).sum()) == 837


def test_shared_copy_wins_when_present(tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "lung1_image.nrrd").write_bytes(b"")
    assert conftest.lung1_paths(cases) == conftest.PACKAGED_LUNG1  # the label is missing: not the shared copy
    (cases / "lung1_label.nrrd").write_bytes(b"")
    assert conftest.lung1_paths(cases) == (cases / "lung1_image.nrrd", cases / "lung1_label.nrrd")


def test_the_fixture_never_skips(lung1):
    assert all(Path(p).is_file() for p in lung1)


def test_packaged_copy_is_the_shared_case_cropped(cases_dir):
    """Same spacing and slices as the shared lung1 (needs ../shared, like brain1/breast1 tests)."""
    shared = cases_dir / "lung1_image.nrrd"
    full, cropped = load_volume(shared), load_volume(conftest.PACKAGED_LUNG1[0])
    np.testing.assert_allclose(full.spacing, cropped.spacing)
    assert cropped.shape[0] == full.shape[0] and cropped.shape[2] == full.shape[2]
