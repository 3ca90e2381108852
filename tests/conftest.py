"""Shared fixtures: paths to the shared sample data, skipping cleanly when absent.

``lung1`` never skips: without ``../shared`` (a fresh clone) it falls back to the
copy of the same case that ships inside the package (``resources/demo``, cropped
in front of the chest, same physical geometry). brain1, breast1 and the PET DRO
are only in ``../shared`` and their tests keep skipping without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RADGUI_SHARED", REPO.parent / "shared"))
CASES = SHARED / "data" / "cases"
PET_DRO = SHARED / "data" / "pet-suv-dro"
PACKAGED_LUNG1 = (REPO / "resources" / "demo" / "lung1_ct.nrrd", REPO / "resources" / "demo" / "lung1_tumour.nrrd")


def lung1_paths(cases: Path = CASES) -> tuple[Path, Path]:
    """(image, label) of lung1: the shared copy when present, else the packaged one."""
    shared = (cases / "lung1_image.nrrd", cases / "lung1_label.nrrd")
    if all(p.exists() for p in shared):
        return shared
    return PACKAGED_LUNG1


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared sample data not found at {path} (set RADGUI_SHARED)")
    return path


def case_paths(request, name: str) -> tuple[Path, Path]:
    """(image, label) of a sample case: lung1 never skips (packaged copy), the others need ../shared."""
    if name == "lung1":
        return request.getfixturevalue("lung1")
    cases = request.getfixturevalue("cases_dir")
    return cases / f"{name}_image.nrrd", cases / f"{name}_label.nrrd"


@pytest.fixture(scope="session")
def cases_dir() -> Path:
    """Folder of the real sample cases (lung1, brain1, breast1)."""
    return _need(CASES)


@pytest.fixture(scope="session")
def pet_dro_dir() -> Path:
    """Folder of the 17 PET SUV digital reference objects."""
    return _need(PET_DRO)


@pytest.fixture(scope="session")
def lung1():
    """(image path, label path) of the lung CT case (shared copy, else the packaged one)."""
    return lung1_paths()


@pytest.fixture(scope="session")
def brain1(cases_dir):
    """(image path, label path) of the brain MR case (flipped y direction)."""
    return cases_dir / "brain1_image.nrrd", cases_dir / "brain1_label.nrrd"

